//! The text of a TXT answer and its wire encoding as character-strings.
//!
//! One record per use, one logical string per record, fields in a fixed order separated by
//! ` | ` (the convention of data-over-DNS services such as Team Cymru's):
//!
//! ```text
//! PORT | PROTOCOL | STATUS | SERVICE | DESCRIPTION
//! 443 | tcp | Yes | https | Hypertext Transfer Protocol Secure (HTTPS) ...
//! ```
//!
//! `PORT` is the port or the range the use covers (`6881-6887`), `SERVICE` is the use's service
//! name followed by the other names the system's services database gives the port (separated by
//! spaces: `nicname whois`), or `-`, and `DESCRIPTION` is the rest of the string: it may itself contain `|`, so split
//! at most four times. A string longer than 255 octets is carried as several character-strings
//! of one record (RFC 1035 3.3.14), cut only at UTF-8 character boundaries; joining them gives
//! the text back byte for byte.

use std::fmt::{self, Write};
use std::sync::OnceLock;

use crate::core::model::{Entry, PORT_RANGES, Protocol, Status, port_range};

/// The longest character-string RFC 1035 allows.
pub(crate) const MAX_STRING: usize = 255;

/// The one-line text of an entry's TXT record.
pub fn entry_text(entry: &Entry) -> String {
    let mut text = String::with_capacity(32 + entry.description.len());
    let _ = write!(
        text,
        "{} | {} | {} | {} | {}",
        entry.ports,
        entry.protocol,
        entry.status,
        ServiceNames(entry),
        if entry.description.is_empty() {
            "-"
        } else {
            &entry.description
        },
    );
    text
}

/// The SERVICE field: the service name, then the aliases, space-separated; `-` for none.
struct ServiceNames<'a>(&'a Entry);

impl fmt::Display for ServiceNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = self.0.service.iter().chain(&self.0.aliases);
        match names.next() {
            None => f.write_str("-"),
            Some(first) => {
                f.write_str(first)?;
                names.try_for_each(|name| write!(f, " {name}"))
            }
        }
    }
}

/// Appends the text of an entry's `index`th registry fact (nothing when it has no such fact):
/// `PORT | PROTOCOL | SERVICE | FIELD | VALUE`, the record of its `registry` name.
pub(crate) fn fact_text(entry: &Entry, index: usize, out: &mut Vec<u8>) {
    let Some((field, value)) = entry.registry.as_ref().and_then(|r| r.fields().nth(index)) else {
        return;
    };
    let _ = std::io::Write::write_fmt(
        out,
        format_args!(
            "{} | {} | {} | {field} | {value}",
            entry.ports,
            entry.protocol,
            entry.service.as_deref().unwrap_or("-")
        ),
    );
}

/// The text answered for a port nobody lists on `protocol` (`None`: on no protocol at all).
/// Rendered when written, so the hot path can put it straight into a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnassignedText {
    /// The port asked about.
    pub(crate) port: u16,
    /// The protocol asked about, `None` for all of them.
    pub(crate) protocol: Option<Protocol>,
}

impl UnassignedText {
    /// Appends the text to `out` without `fmt`: a zone transfer writes it for most of the
    /// zone's records. Everything after the port number is one of fifteen strings (five
    /// protocol labels, three ranges), spelled once.
    pub(crate) fn write_text(&self, out: &mut Vec<u8>) {
        static TAILS: OnceLock<Vec<Box<[u8]>>> = OnceLock::new();
        let tails = TAILS.get_or_init(|| {
            let protocols = Protocol::ALL.into_iter().map(Some).chain([None]);
            protocols
                .flat_map(|protocol| {
                    PORT_RANGES.map(|(_, range)| {
                        let tail = format!(
                            " | {} | {} | - | no known use; {range} (RFC 6335)",
                            protocol.map_or("any", Protocol::label),
                            Status::Unassigned.word(),
                        );
                        tail.into_bytes().into_boxed_slice()
                    })
                })
                .collect()
        });
        let protocol = self.protocol.map_or(Protocol::ALL.len(), Protocol::index);
        let range = port_range(self.port);
        out.extend_from_slice(decimal(self.port, &mut [0; 5]));
        out.extend_from_slice(&tails[protocol * PORT_RANGES.len() + range]);
    }
}

impl fmt::Display for UnassignedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::with_capacity(100);
        self.write_text(&mut text);
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// `number` in decimal, written into `digits` (no allocation, no `fmt`: zone transfers spell
/// every port of the zone in names and texts).
pub(crate) fn decimal(number: u16, digits: &mut [u8; 5]) -> &[u8] {
    let mut rest = number;
    let mut first = digits.len();
    loop {
        first -= 1;
        digits[first] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            return &digits[first..];
        }
    }
}

/// Appends the TXT RDATA of the text `write` appends to a buffer. Text that fits one
/// character-string (every generated text does) is written in place, without a temporary
/// string.
pub(crate) fn append_rdata(write: impl FnOnce(&mut Vec<u8>), out: &mut Vec<u8>) {
    let start = out.len();
    out.push(0);
    write(out);
    let len = out.len() - start - 1;
    if let Ok(len) = u8::try_from(len) {
        out[start] = len;
        return;
    }
    let long = String::from_utf8_lossy(&out[start + 1..]).into_owned();
    out.truncate(start);
    out.extend_from_slice(&encode_strings(&long));
}

/// Encodes text as TXT RDATA: length-prefixed character-strings of at most 255 octets, each
/// ending on a UTF-8 character boundary. Empty text is one empty string.
pub(crate) fn encode_strings(text: &str) -> Box<[u8]> {
    let mut out = Vec::with_capacity(text.len() + text.len() / MAX_STRING + 1);
    for chunk in split_strings(text) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk.as_bytes());
    }
    out.into_boxed_slice()
}

/// The contents of the character-strings in TXT RDATA, in order: the inverse of
/// [`encode_strings`]. A length running past the end yields what is there.
pub(crate) fn character_strings(mut rdata: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (&len, rest) = rdata.split_first()?;
        let (string, tail) = rest.split_at(usize::from(len).min(rest.len()));
        rdata = tail;
        Some(string)
    })
}

/// Splits text into pieces of at most 255 octets, never inside a UTF-8 character.
pub(crate) fn split_strings(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    loop {
        if rest.len() <= MAX_STRING {
            pieces.push(rest);
            return pieces;
        }
        let mut cut = MAX_STRING;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{PortSpan, Source};

    fn decode(rdata: &[u8]) -> Vec<Vec<u8>> {
        character_strings(rdata).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn entry_text_has_fixed_fields() {
        let entry = Entry {
            ports: PortSpan::parse("6881-6887").unwrap(),
            protocol: Protocol::Udp,
            status: Status::Unofficial,
            service: None,
            aliases: Vec::new(),
            description: "BitTorrent".into(),
            sources: Source::PortList.bit(),
            registry: None,
        };
        assert_eq!(
            entry_text(&entry),
            "6881-6887 | udp | Unofficial | - | BitTorrent"
        );
        let named = Entry {
            service: Some("nicname".into()),
            aliases: vec!["whois".into()],
            ..entry
        };
        assert_eq!(
            entry_text(&named),
            "6881-6887 | udp | Unofficial | nicname whois | BitTorrent"
        );
    }

    #[test]
    fn unassigned_text_names_the_range() {
        let text = |port, protocol| UnassignedText { port, protocol }.to_string();
        assert_eq!(
            text(51820, Some(Protocol::Dccp)),
            "51820 | dccp | Unassigned | - | no known use; dynamic/private port range 49152-65535 (RFC 6335)"
        );
        assert!(text(3000, None).starts_with("3000 | any | Unassigned"));
        let protocols = Protocol::ALL.into_iter().map(Some).chain([None]);
        for protocol in protocols {
            for port in [0, 1023, 1024, 49151, 49152, 65535] {
                let expected = format!(
                    "{port} | {} | Unassigned | - | no known use; {} (RFC 6335)",
                    protocol.map_or("any", Protocol::label),
                    PORT_RANGES[port_range(port)].1
                );
                assert_eq!(text(port, protocol), expected);
            }
        }
    }

    /// Encoding text as RDATA, whole or appended in place, round-trips; the appended form
    /// leaves what was before it alone.
    #[test]
    fn long_text_splits_into_strings_and_joins_back() {
        for text in [
            "",
            "short",
            &"x".repeat(255),
            &"y".repeat(256),
            &"z".repeat(700),
        ] {
            let rdata = encode_strings(text);
            let strings = decode(&rdata);
            assert!(strings.iter().all(|s| s.len() <= 255));
            assert_eq!(strings.concat(), text.as_bytes());
            assert_eq!(strings.len(), text.len().div_ceil(255).max(1));
            let mut appended = b"prefix".to_vec();
            append_rdata(|out| out.extend_from_slice(text.as_bytes()), &mut appended);
            assert_eq!(appended[..6], *b"prefix");
            assert_eq!(appended[6..], rdata[..], "text of {} bytes", text.len());
        }
    }

    #[test]
    fn ports_are_spelled_in_decimal() {
        for port in [0, 7, 10, 443, 9999, 10000, 65535] {
            assert_eq!(decimal(port, &mut [0; 5]), port.to_string().as_bytes());
        }
    }

    #[test]
    fn splits_never_cut_a_utf8_character() {
        let text = format!("{}—{}", "a".repeat(254), "é".repeat(200));
        for piece in split_strings(&text) {
            assert!(piece.len() <= 255);
            assert!(std::str::from_utf8(piece.as_bytes()).is_ok());
        }
        assert_eq!(split_strings(&text).concat(), text);
    }
}
