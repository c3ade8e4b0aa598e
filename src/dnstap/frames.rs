//! Frame Streams, the framing dnstap travels in: data frames (a 32-bit big-endian length, then
//! the payload) and control frames (a zero "escape" length, the control frame's length, its
//! type, then fields), with the bidirectional handshake a writer opens a connection with:
//! READY (naming the content type) → ACCEPT from the collector → START; and STOP → FINISH at
//! the end. Only bytes here; the writer task moves them.

/// The content type portsd writes, which the collector must accept.
pub(crate) const CONTENT_TYPE: &str = "protobuf:dnstap.Dnstap";

/// The longest control frame read from a collector: a few content types fit with room to
/// spare; anything longer is not a collector speaking Frame Streams.
pub(crate) const MAX_CONTROL: usize = 512;

/// Control frame types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    Accept = 1,
    Start = 2,
    Stop = 3,
    Ready = 4,
    Finish = 5,
}

/// The field type of a content type in a control frame.
const FIELD_CONTENT_TYPE: u32 = 1;

fn put(value: usize, out: &mut Vec<u8>) {
    // Frames and fields are far below 4 GiB: an event is two DNS messages.
    out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_be_bytes());
}

/// Appends the length that opens a data frame of `len` bytes (the payload follows).
pub(crate) fn data_header(len: usize, out: &mut Vec<u8>) {
    put(len, out);
}

/// A control frame of `kind`, naming portsd's content type (READY and START do; STOP does
/// not).
pub(crate) fn control(kind: Control) -> Vec<u8> {
    let mut body = Vec::new();
    put(kind as usize, &mut body);
    if matches!(kind, Control::Ready | Control::Start) {
        put(FIELD_CONTENT_TYPE as usize, &mut body);
        put(CONTENT_TYPE.len(), &mut body);
        body.extend_from_slice(CONTENT_TYPE.as_bytes());
    }
    let mut frame = Vec::with_capacity(8 + body.len());
    put(0, &mut frame);
    put(body.len(), &mut frame);
    frame.extend_from_slice(&body);
    frame
}

/// Reads a control frame's body (what follows the escape and the length): its type and the
/// content types it names.
pub(crate) fn parse_control(body: &[u8]) -> Result<(u32, Vec<&[u8]>), String> {
    let word = |at: usize| -> Result<u32, String> {
        body.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "a control frame cut short".to_owned())
    };
    let kind = word(0)?;
    let mut types = Vec::new();
    let mut at = 4;
    while at < body.len() {
        let (field, len) = (word(at)?, word(at + 4)? as usize);
        let value = body
            .get(at + 8..at + 8 + len)
            .ok_or_else(|| "a control field cut short".to_owned())?;
        if field == FIELD_CONTENT_TYPE {
            types.push(value);
        }
        at += 8 + len;
    }
    Ok((kind, types))
}

/// Whether a collector's ACCEPT (`kind` with content `types`) takes portsd's content type:
/// an ACCEPT naming it, or naming none (any type).
pub(crate) fn accepts(kind: u32, types: &[&[u8]]) -> bool {
    kind == Control::Accept as u32
        && (types.is_empty() || types.iter().any(|t| *t == CONTENT_TYPE.as_bytes()))
}
