//! The fast path: plain queries (the shape [`Request::plain_query`] accepts) answered from the
//! request's view alone, without hickory parsing them, and written by the one response writer
//! ([`crate::wire::response`]) the general path writes with too; a test and the fuzzer hold
//! both paths' answers to the same bytes over many names.

use crate::core::answer::Answer;
use crate::core::zone::Zone;
use crate::wire::request::{Opt, Question};
pub(crate) use crate::wire::response::udp_limit;
use crate::wire::response::{self, Echo};
use crate::wire::{DNSClass, RecordType, Request};

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
    pub(crate) fn qtype(&self) -> RecordType {
        self.question.qtype
    }

    /// The query class.
    pub(crate) fn qclass(&self) -> DNSClass {
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
    let echo = Echo {
        header: query.request.response_header(),
        questions: (query.question.bytes, 1),
        labels: query.labels,
        opt: query.opt.map(|opt| response::Opt {
            dnssec_ok: opt.dnssec_ok,
            ..response::Opt::default()
        }),
    };
    // The question and OPT alone always fit 512 bytes: the truncated answer is always sent.
    let _fits = response::write_answer(&echo, zone, answer, limit, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Flags;

    fn query_bytes(name: &str, qtype: RecordType, edns: Option<(u16, u32, &[u8])>) -> Vec<u8> {
        let mut p = Vec::new();
        let header = crate::wire::Header::new(0x1234, crate::wire::OpCode::Query, Flags::RD);
        header.write([1, 0, 0, u16::from(edns.is_some())], &mut p);
        for label in name.split('.').filter(|l| !l.is_empty()) {
            p.push(label.len() as u8);
            p.extend_from_slice(label.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&u16::from(qtype).to_be_bytes());
        p.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        if let Some((payload, ttl, options)) = edns {
            p.push(0);
            p.extend_from_slice(&u16::from(RecordType::OPT).to_be_bytes());
            p.extend_from_slice(&payload.to_be_bytes());
            p.extend_from_slice(&ttl.to_be_bytes());
            p.extend_from_slice(&(options.len() as u16).to_be_bytes());
            p.extend_from_slice(options);
        }
        p
    }

    #[test]
    fn plain_queries_parse() {
        let packet = query_bytes(
            "443.TCP.ports.local",
            RecordType::TXT,
            Some((4096, 0x8000, &[])),
        );
        let request = Request::read(&packet).unwrap();
        let q = Query::of(&request).unwrap();
        assert_eq!(request.header.id, 0x1234);
        assert!(request.recursion_desired());
        assert_eq!(q.labels(), [&b"443"[..], b"TCP", b"ports", b"local"]);
        assert_eq!((q.qtype(), q.qclass()), (RecordType::TXT, DNSClass::IN));
        let opt = q.opt.unwrap();
        assert_eq!((opt.payload, opt.dnssec_ok), (4096, true));
        assert_eq!(q.udp_limit(), 1232);
    }

    #[test]
    fn unusual_shapes_go_to_the_general_path() {
        let plain = query_bytes("a.b", RecordType::TXT, None);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("short header", plain[..11].to_vec()),
            ("truncated question", plain[..plain.len() - 1].to_vec()),
            ("trailing byte", [plain.clone(), vec![0]].concat()),
            (
                "edns version 1",
                query_bytes("a.b", RecordType::TXT, Some((1232, 0x0001_0000, &[]))),
            ),
            (
                "edns option",
                query_bytes("a.b", RecordType::TXT, Some((1232, 0, &[0, 10, 0, 0]))),
            ),
        ];
        let mut response = plain.clone();
        crate::wire::header::set_flags(&mut response, Flags::QR);
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
