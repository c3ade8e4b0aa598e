//! The UDP fast path's wire format: a strict parser for plain queries and an encoder that turns
//! an [`Answer`] into the exact bytes hickory-server's encoder produces for the same response.
//!
//! The parser accepts only the common shape (one question, no compression in it, class IN,
//! at most one well-formed OPT record with version 0 and no options, nothing trailing); it
//! returns `None` for anything else and the caller hands the packet to the general hickory
//! path, which owns every error answer. The encoder mirrors hickory's name compression (each
//! label sequence written is remembered byte for byte, case included, up to hickory's limits),
//! so both paths agree to the byte; a test checks that over many names.

use smallvec::SmallVec;

use crate::core::answer::{Answer, Owner, Rdata, Record};
use crate::core::names::SEARCH_LABEL;
use crate::core::zone::{SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Zone, rtype};

/// The largest UDP payload portsd sends (DNS Flag Day 2020), whatever the client offers.
pub(crate) const MAX_UDP_PAYLOAD: u16 = 1232;
/// The limit for clients that do not use EDNS (RFC 1035 4.2.1).
pub(crate) const PLAIN_UDP_PAYLOAD: u16 = 512;
/// The most labels a 255-octet name can have.
pub(crate) const MAX_LABELS: usize = 127;
/// The most labels a query name may have on the fast path. Every name in the zone has far fewer
/// (a port, a protocol, a few zone labels); longer names take the general path, which keeps the
/// per-query label array small.
pub(crate) const FAST_PATH_LABELS: usize = 24;

/// hickory's cap on remembered compression targets per message.
const COMPRESSION_CANDIDATES: usize = 64;
/// hickory's cap on names it tries to compress per message.
const COMPRESSED_NAMES: usize = 120;

/// The EDNS(0) facts of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edns {
    /// The client's UDP payload size.
    pub(crate) payload: u16,
    /// The DNSSEC OK bit, copied into the response (RFC 3225).
    pub(crate) dnssec_ok: bool,
}

/// A plain query as the fast path understands it, borrowing from the packet.
#[derive(Debug)]
pub(crate) struct Query<'p> {
    /// The message ID.
    pub(crate) id: u16,
    /// Recursion desired, echoed.
    pub(crate) recursion_desired: bool,
    /// Checking disabled, echoed.
    pub(crate) checking_disabled: bool,
    /// The question section as received (name, type, class), echoed byte for byte.
    pub(crate) question: &'p [u8],
    labels: [&'p [u8]; FAST_PATH_LABELS],
    label_count: usize,
    /// The query type.
    pub(crate) qtype: u16,
    /// The query class.
    pub(crate) qclass: u16,
    /// The OPT record, when the client sent one.
    pub(crate) edns: Option<Edns>,
}

impl<'p> Query<'p> {
    /// The query name's labels, leftmost first, as received.
    pub(crate) fn labels(&self) -> &[&'p [u8]] {
        &self.labels[..self.label_count]
    }

    /// The most bytes a UDP response may take: min(client's size, 1232), 512 without EDNS.
    pub(crate) fn udp_limit(&self) -> usize {
        usize::from(udp_limit(self.edns.map(|e| e.payload)))
    }
}

/// The UDP size limit for a client offering `payload` (None: no EDNS).
pub(crate) fn udp_limit(payload: Option<u16>) -> u16 {
    payload.map_or(PLAIN_UDP_PAYLOAD, |p| {
        p.clamp(PLAIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
    })
}

fn read_u16(packet: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]))
}

/// Parses a plain query; `None` means "not the common shape, use the general path".
pub(crate) fn parse_query(packet: &[u8]) -> Option<Query<'_>> {
    let flags = read_u16(packet, 2)?;
    let qr = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xF;
    let counts = [
        read_u16(packet, 4)?,
        read_u16(packet, 6)?,
        read_u16(packet, 8)?,
        read_u16(packet, 10)?,
    ];
    if qr || opcode != 0 || counts[0] != 1 || counts[1] != 0 || counts[2] != 0 || counts[3] > 1 {
        return None;
    }
    let mut labels: [&[u8]; FAST_PATH_LABELS] = [&[]; FAST_PATH_LABELS];
    let mut label_count = 0;
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        // Compression pointers and extended label types go to the general path.
        if len > 63 || label_count == FAST_PATH_LABELS {
            return None;
        }
        labels[label_count] = packet.get(at + 1..at + 1 + len)?;
        label_count += 1;
        at += 1 + len;
    }
    if at - 12 > 255 {
        return None;
    }
    let qtype = read_u16(packet, at)?;
    let qclass = read_u16(packet, at + 2)?;
    let question = &packet[12..at + 4];
    at += 4;
    let edns = if counts[3] == 1 {
        // Root owner, type OPT, payload, extended RCODE 0, version 0, no options.
        let opt = packet.get(at..at + 11)?;
        let ttl = u32::from_be_bytes([opt[5], opt[6], opt[7], opt[8]]);
        if opt[0] != 0 || read_u16(opt, 1)? != rtype::OPT || ttl & 0xFFFF_0000 != 0 {
            return None;
        }
        if read_u16(opt, 9)? != 0 {
            return None;
        }
        at += 11;
        Some(Edns {
            payload: read_u16(opt, 3)?,
            dnssec_ok: ttl & 0x8000 != 0,
        })
    } else {
        None
    };
    if at != packet.len() || qclass != crate::core::zone::CLASS_IN {
        return None;
    }
    Some(Query {
        id: read_u16(packet, 0)?,
        recursion_desired: flags & 0x0100 != 0,
        checking_disabled: flags & 0x0010 != 0,
        question,
        labels,
        label_count,
        qtype,
        qclass,
        edns,
    })
}

/// Writes a response the way hickory's `BinEncoder` does, compression included. The
/// bookkeeping lives in inline buffers sized for ordinary answers, so encoding does not
/// allocate unless an answer carries unusually many names.
struct Writer<'b> {
    out: &'b mut Vec<u8>,
    /// Remembered label sequences: (offset in `out`, start and end in `seen`).
    targets: SmallVec<[(u16, u16, u16); 16]>,
    /// Copies of the remembered label sequences.
    seen: SmallVec<[u8; 512]>,
    names_compressed: usize,
    /// The longest the message has been: hickory writes a name in full before it replaces
    /// its tail with a pointer, so a name needs room for its whole length even when it ends
    /// up compressed, and a message whose peak passes the size limit is truncated.
    peak: usize,
}

impl Writer<'_> {
    fn remember(&mut self, start: usize, end: usize) {
        // Offsets stay below 0x3FFF, and at most 64 sequences of at most 259 bytes (a name,
        // or the question's name, type and class) are kept: every number here fits 16 bits.
        if self.out.len() < 0x3FFF && self.targets.len() < COMPRESSION_CANDIDATES {
            let from = self.seen.len() as u16;
            self.seen.extend_from_slice(&self.out[start..end]);
            self.targets
                .push((start as u16, from, self.seen.len() as u16));
        }
    }

    fn find(&self, start: usize, end: usize) -> Option<u16> {
        let wanted = &self.out[start..end];
        self.targets
            .iter()
            .find(|&&(_, from, to)| &self.seen[usize::from(from)..usize::from(to)] == wanted)
            .map(|&(offset, _, _)| offset)
    }

    fn u16(&mut self, value: u16) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn name<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>) {
        let mut starts = [0u16; MAX_LABELS];
        let mut count = 0;
        for label in labels {
            if count < MAX_LABELS {
                starts[count] = self.out.len() as u16;
                count += 1;
            }
            self.out.push(label.len() as u8);
            self.out.extend_from_slice(label);
        }
        let end = self.out.len();
        self.peak = self.peak.max(end);
        if self.names_compressed < COMPRESSED_NAMES {
            self.names_compressed += 1;
            for start in starts[..count].iter().map(|&s| usize::from(s)) {
                match self.find(start, end) {
                    Some(offset) if offset & 0xC000 == 0 => {
                        self.out.truncate(start);
                        self.u16(0xC000 | offset);
                        return;
                    }
                    _ => self.remember(start, end),
                }
            }
        } else {
            for start in starts[..count].iter().map(|&s| usize::from(s)) {
                self.remember(start, end);
            }
        }
        self.out.push(0);
    }
}

/// Encodes a full response into `out` (cleared first).
///
/// When the answer does not fit in `limit` bytes, the response is sent with TC set, the
/// question and the OPT record only: the client retries over TCP and gets everything.
pub(crate) fn encode_response(
    query: &Query<'_>,
    zone: &Zone,
    answer: &Answer<'_>,
    limit: usize,
    out: &mut Vec<u8>,
) {
    let peak = write_response(query, zone, answer, false, out);
    if peak.max(out.len()) > limit {
        let empty = Answer {
            extended_error: answer.extended_error,
            ..Answer::empty(answer.rcode, answer.authoritative)
        };
        write_response(query, zone, &empty, true, out);
    }
}

fn write_response(
    query: &Query<'_>,
    zone: &Zone,
    answer: &Answer<'_>,
    truncated: bool,
    out: &mut Vec<u8>,
) -> usize {
    out.clear();
    let mut flags: u16 = 0x8000 | u16::from(answer.rcode.value());
    if answer.authoritative {
        flags |= 0x0400;
    }
    if truncated {
        flags |= 0x0200;
    }
    if query.recursion_desired {
        flags |= 0x0100;
    }
    if query.checking_disabled {
        flags |= 0x0010;
    }
    let additional = answer.additional.len() + usize::from(query.edns.is_some());
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for count in [1, answer.answers.len(), answer.authority.len(), additional] {
        out.extend_from_slice(&(count as u16).to_be_bytes());
    }
    out.extend_from_slice(query.question);
    let mut writer = Writer {
        out,
        targets: SmallVec::new(),
        seen: SmallVec::new(),
        names_compressed: 0,
        peak: 0,
    };
    // hickory remembers the whole question (name, type and class) as one target.
    writer.remember(12, 12 + query.question.len());
    let sections = [&answer.answers[..], &answer.authority, &answer.additional];
    for record in sections.into_iter().flatten() {
        write_record(&mut writer, query, zone, record);
    }
    if let Some(edns) = query.edns {
        writer.name(std::iter::empty());
        writer.u16(rtype::OPT);
        writer.u16(MAX_UDP_PAYLOAD);
        writer.u32(if edns.dnssec_ok { 0x8000 } else { 0 });
        match answer.extended_error {
            Some(code) => {
                writer.u16(6);
                writer.u16(super::edns::EXTENDED_ERROR);
                writer.u16(2);
                writer.u16(code);
            }
            None => writer.u16(0),
        }
    }
    writer.peak
}

fn write_record(writer: &mut Writer<'_>, query: &Query<'_>, zone: &Zone, record: &Record<'_>) {
    let zone_labels = zone.name.labels().iter().map(|l| &l[..]);
    match record.owner {
        Owner::Query => writer.name(query.labels().iter().copied()),
        Owner::Apex => writer.name(zone_labels),
        Owner::NameServer => writer.name(zone.ns_name.iter().map(|l| &l[..])),
        Owner::SearchApex => writer.name(std::iter::once(SEARCH_LABEL).chain(zone_labels)),
    }
    writer.u16(record.data.rtype());
    writer.u16(crate::core::zone::CLASS_IN);
    writer.u32(zone.ttl);
    let length_at = writer.out.len();
    writer.u16(0);
    match &record.data {
        Rdata::Txt(_) | Rdata::Unassigned(_) => record.data.append_txt(writer.out),
        Rdata::Soa(serial) => {
            writer.name(zone.ns_name.iter().map(|l| &l[..]));
            writer.name(zone.rname.iter().map(|l| &l[..]));
            for value in [*serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, zone.ttl] {
                writer.u32(value);
            }
        }
        Rdata::Ns => writer.name(zone.ns_name.iter().map(|l| &l[..])),
        Rdata::Address(std::net::IpAddr::V4(ip)) => writer.out.extend_from_slice(&ip.octets()),
        Rdata::Address(std::net::IpAddr::V6(ip)) => writer.out.extend_from_slice(&ip.octets()),
    }
    let length = (writer.out.len() - length_at - 2) as u16;
    writer.out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
}

/// The query type and response code of a response as sent: the type from its question (`None`
/// when it has none), the code with the extended bits of its OPT record (most often the last
/// 11 bytes, an OPT record without options; else found by walking the records).
pub(crate) fn response_summary(response: &[u8]) -> (Option<u16>, u16) {
    let mut rcode = u16::from(response.get(3).map_or(0, |b| b & 0x0F));
    let additional = read_u16(response, 10).unwrap_or(0);
    if additional > 0 {
        let tail = (response.len() >= 23).then(|| &response[response.len() - 11..]);
        match tail {
            Some(opt)
                if opt[0] == 0 && read_u16(opt, 1) == Some(rtype::OPT) && opt[9..] == [0, 0] =>
            {
                rcode |= u16::from(opt[5]) << 4;
            }
            _ => {
                if let Some(opt) = super::edns::find_opt(response) {
                    rcode |= u16::from(opt.extended_rcode(response)) << 4;
                }
            }
        }
    }
    (
        question_end(response).and_then(|end| read_u16(response, end - 4)),
        rcode,
    )
}

/// Where the question section of a one-question message ends (after QTYPE and QCLASS).
fn question_end(message: &[u8]) -> Option<usize> {
    if read_u16(message, 4)? != 1 {
        return None;
    }
    let mut at = 12;
    loop {
        let len = *message.get(at)?;
        match len {
            0 => break Some(at + 5).filter(|&end| end <= message.len()),
            1..=63 => at += 1 + usize::from(len),
            // A compressed question name ends with its pointer.
            0xC0..=0xFF => break Some(at + 6).filter(|&end| end <= message.len()),
            _ => return None,
        }
    }
}

/// Turns a response into the rate limiter's "slip": the header and question only, with TC set,
/// so a genuine client retries over TCP while a spoofed victim receives a small packet.
pub(crate) fn truncate_for_slip(response: &mut Vec<u8>) {
    if response.len() < 12 {
        return;
    }
    let end = question_end(response).unwrap_or(12);
    response.truncate(end);
    response[2] |= 0x02;
    let questions = if end > 12 { 1u16 } else { 0 };
    response[4..6].copy_from_slice(&questions.to_be_bytes());
    response[6..12].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_bytes(name: &str, qtype: u16, edns: Option<(u16, u32, &[u8])>) -> Vec<u8> {
        let mut p = vec![
            0x12,
            0x34,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            u8::from(edns.is_some()),
        ];
        for label in name.split('.').filter(|l| !l.is_empty()) {
            p.push(label.len() as u8);
            p.extend_from_slice(label.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        if let Some((payload, ttl, options)) = edns {
            p.push(0);
            p.extend_from_slice(&41u16.to_be_bytes());
            p.extend_from_slice(&payload.to_be_bytes());
            p.extend_from_slice(&ttl.to_be_bytes());
            p.extend_from_slice(&(options.len() as u16).to_be_bytes());
            p.extend_from_slice(options);
        }
        p
    }

    #[test]
    fn plain_queries_parse() {
        let packet = query_bytes("443.TCP.ports.local", 16, Some((4096, 0x8000, &[])));
        let q = parse_query(&packet).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.recursion_desired);
        assert_eq!(q.labels(), [&b"443"[..], b"TCP", b"ports", b"local"]);
        assert_eq!((q.qtype, q.qclass), (16, 1));
        assert_eq!(
            q.edns,
            Some(Edns {
                payload: 4096,
                dnssec_ok: true
            })
        );
        assert_eq!(q.udp_limit(), 1232);
    }

    #[test]
    fn unusual_shapes_go_to_the_general_path() {
        let plain = query_bytes("a.b", 16, None);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("short header", plain[..11].to_vec()),
            ("truncated question", plain[..plain.len() - 1].to_vec()),
            ("trailing byte", [plain.clone(), vec![0]].concat()),
            (
                "edns version 1",
                query_bytes("a.b", 16, Some((1232, 0x0001_0000, &[]))),
            ),
            (
                "edns option",
                query_bytes("a.b", 16, Some((1232, 0, &[0, 10, 0, 0]))),
            ),
        ];
        let mut response = plain.clone();
        response[2] |= 0x80;
        cases.push(("response", response));
        let mut two = plain.clone();
        two[5] = 2;
        cases.push(("qdcount 2", two));
        let mut notify = plain.clone();
        notify[2] = 4 << 3;
        cases.push(("opcode notify", notify));
        let mut chaos = plain.clone();
        let n = chaos.len();
        chaos[n - 1] = 3;
        cases.push(("class CH", chaos));
        let mut pointer = plain[..12].to_vec();
        pointer.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1]);
        cases.push(("pointer loop", pointer));
        for (what, packet) in cases {
            assert!(parse_query(&packet).is_none(), "{what}");
        }
    }

    #[test]
    fn summaries_read_type_and_extended_rcode() {
        let mut response = query_bytes("a.b", 16, Some((1232, 0x0100_0000, &[])));
        response[2] |= 0x80;
        assert_eq!(
            response_summary(&response),
            (Some(16), 16),
            "BADVERS in the OPT"
        );
        let plain = query_bytes("a.b", 28, None);
        assert_eq!(response_summary(&plain), (Some(28), 0));
        assert_eq!(response_summary(&plain[..12]), (None, 0));
        assert_eq!(response_summary(b"\x00"), (None, 0));
    }

    #[test]
    fn slips_keep_header_and_question_only() {
        let mut response = query_bytes("a.b", 16, Some((1232, 0, &[])));
        let question_end = response.len() - 11;
        truncate_for_slip(&mut response);
        assert_eq!(response.len(), question_end);
        assert_eq!(response[2] & 0x02, 0x02, "TC set");
        assert_eq!(&response[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        let mut header_only = vec![0u8; 12];
        truncate_for_slip(&mut header_only);
        assert_eq!(header_only.len(), 12);
    }

    #[test]
    fn udp_limits_follow_edns() {
        assert_eq!(udp_limit(None), 512);
        assert_eq!(udp_limit(Some(100)), 512);
        assert_eq!(udp_limit(Some(1000)), 1000);
        assert_eq!(udp_limit(Some(4096)), 1232);
    }
}
