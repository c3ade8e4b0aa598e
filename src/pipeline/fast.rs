//! The UDP fast path: plain queries (the shape [`Request::plain_query`] accepts) answered
//! without hickory's message types, into the exact bytes hickory-server's encoder produces
//! for the same response. Names are compressed as hickory compresses them
//! ([`crate::wire::compress`]), so both paths agree to the byte; a test and the fuzzer check
//! that over many names.

use crate::core::answer::{Answer, Owner, Record};
use crate::core::names::SEARCH_LABEL;
use crate::core::zone::Zone;
use crate::wire::compress::Writer;
use crate::wire::request::{Opt, Question};
use crate::wire::{Flags, Names, Request, write_opt, write_record_data};

/// The largest UDP payload portsd sends (DNS Flag Day 2020), whatever the client offers.
pub(crate) const MAX_UDP_PAYLOAD: u16 = 1232;
/// The limit for clients that do not use EDNS (RFC 1035 4.2.1).
pub(crate) const PLAIN_UDP_PAYLOAD: u16 = 512;

/// The UDP size limit for a client offering `payload` (None: no EDNS).
pub(crate) fn udp_limit(payload: Option<u16>) -> u16 {
    payload.map_or(PLAIN_UDP_PAYLOAD, |p| {
        p.clamp(PLAIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
    })
}

/// A plain query as the fast path answers it, borrowing from the request's view.
pub(crate) struct Query<'v, 'p> {
    request: &'v Request<'p>,
    question: &'v Question<'p>,
    labels: &'v [&'p [u8]],
    opt: Option<&'v Opt>,
}

impl<'v, 'p> Query<'v, 'p> {
    /// The query, when the request has the plain shape.
    pub(crate) fn of(request: &'v Request<'p>) -> Option<Query<'v, 'p>> {
        let (question, opt) = request.plain_query()?;
        let labels = question.labels()?;
        Some(Query {
            request,
            question,
            labels,
            opt,
        })
    }

    /// The question's labels, leftmost first, as received.
    pub(crate) fn labels(&self) -> &'v [&'p [u8]] {
        self.labels
    }

    /// The query type.
    pub(crate) fn qtype(&self) -> u16 {
        self.question.qtype
    }

    /// The query class.
    pub(crate) fn qclass(&self) -> u16 {
        self.question.qclass
    }

    /// The most bytes a UDP response may take: min(client's size, 1232), 512 without EDNS.
    pub(crate) fn udp_limit(&self) -> usize {
        usize::from(udp_limit(self.opt.map(|e| e.payload)))
    }
}

/// Encodes a full response into `out` (cleared first).
///
/// When the answer does not fit in `limit` bytes, the response is sent with TC set, the
/// question and the OPT record only: the client retries over TCP and gets everything.
pub(crate) fn encode_response(
    query: &Query<'_, '_>,
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
    query: &Query<'_, '_>,
    zone: &Zone,
    answer: &Answer<'_>,
    truncated: bool,
    out: &mut Vec<u8>,
) -> usize {
    out.clear();
    let flags = Flags::NONE
        .with_if(Flags::AA, answer.authoritative)
        .with_if(Flags::TC, truncated);
    let header = query
        .request
        .response_header()
        .with(flags)
        .rcode(answer.rcode);
    let additional = answer.additional.len() + usize::from(query.opt.is_some());
    let counts = [1, answer.answers.len(), answer.authority.len(), additional];
    header.write(counts.map(|n| n as u16), out);
    out.extend_from_slice(query.question.bytes);
    let mut writer = Writer::new(out);
    // hickory remembers the whole question (name, type and class) as one target.
    writer.remember(12, 12 + query.question.bytes.len());
    let sections = [&answer.answers[..], &answer.authority, &answer.additional];
    for record in sections.into_iter().flatten() {
        write_record(&mut writer, query, zone, record);
    }
    if let Some(edns) = query.opt {
        write_opt(
            &mut writer,
            MAX_UDP_PAYLOAD,
            edns.dnssec_ok,
            answer.extended_error,
            None,
        );
    }
    writer.peak()
}

fn write_record(writer: &mut Writer<'_>, query: &Query<'_, '_>, zone: &Zone, record: &Record<'_>) {
    let zone_labels = zone.name.labels().iter().map(|l| &l[..]);
    match record.owner {
        Owner::Query => writer.name(query.labels().iter().copied()),
        Owner::Apex => writer.name(zone_labels),
        Owner::NameServer => writer.name(zone.ns_name.iter().map(|l| &l[..])),
        Owner::SearchApex => writer.name(std::iter::once(SEARCH_LABEL).chain(zone_labels)),
    }
    write_record_data(writer, zone, &record.data);
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
        let request = Request::read(&packet).unwrap();
        let q = Query::of(&request).unwrap();
        assert_eq!(request.header.id, 0x1234);
        assert!(request.recursion_desired());
        assert_eq!(q.labels(), [&b"443"[..], b"TCP", b"ports", b"local"]);
        assert_eq!((q.qtype(), q.qclass()), (16, 1));
        let opt = q.opt.unwrap();
        assert_eq!((opt.payload, opt.dnssec_ok), (4096, true));
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
            let request = Request::read(&packet);
            assert!(request.as_ref().and_then(Query::of).is_none(), "{what}");
        }
    }

    #[test]
    fn udp_limits_follow_edns() {
        assert_eq!(udp_limit(None), 512);
        assert_eq!(udp_limit(Some(100)), 512);
        assert_eq!(udp_limit(Some(1000)), 1000);
        assert_eq!(udp_limit(Some(4096)), 1232);
    }
}
