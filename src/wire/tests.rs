//! The hand-written wire format held against hickory's reading and writing of the same bytes.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, signed_bitmessage_to_buf};
use hickory_proto::rr::{Name as HickoryName, RData, Record, RecordType, TSigner};
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};

use super::tsig::TsigRecord;
use super::*;

fn query(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.id = 0x4321;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(HickoryName::from_ascii(name).unwrap(), qtype));
    message
}

fn with_edns(mut message: Message, options: &[(EdnsCode, &[u8])]) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(4000);
    edns.set_dnssec_ok(true);
    for &(code, data) in options {
        edns.options_mut()
            .insert(EdnsOption::Unknown(u16::from(code), data.to_vec()));
    }
    message.set_edns(edns);
    message
}

fn bytes(message: &Message) -> Vec<u8> {
    message.to_vec().unwrap()
}

#[test]
fn the_view_reads_what_hickory_reads() {
    let cookie = [7u8; 8];
    let mut ixfr = with_edns(
        query("Ports.Local.", RecordType::IXFR),
        &[
            (option::NSID, &[]),
            (option::COOKIE, &cookie),
            (option::PADDING, &[0; 5]),
        ],
    );
    let soa = SOA::new(
        HickoryName::from_ascii("ns.ports.local.").unwrap(),
        HickoryName::from_ascii("hostmaster.ports.local.").unwrap(),
        2024,
        1,
        2,
        3,
        4,
    );
    ixfr.add_authority(Record::from_rdata(
        HickoryName::from_ascii("ports.local.").unwrap(),
        60,
        RData::SOA(soa),
    ));
    let wire = bytes(&ixfr);
    let view = Request::read(&wire).unwrap();
    let parsed = Message::from_vec(&wire).unwrap();
    assert!(view.complete);
    assert_eq!(view.header.id, parsed.metadata.id);
    assert_eq!(view.counts, [1, 0, 1, 1]);
    let question = view.question().unwrap();
    assert_eq!(question.qtype, RecordType::IXFR);
    let labels: Vec<&[u8]> = question.name().collect();
    assert_eq!(labels, [&b"Ports"[..], b"Local"], "case kept");
    assert_eq!(view.authority_serial, Some(2024));
    let opt = view.opt.as_ref().unwrap();
    let edns = parsed.edns.unwrap();
    assert_eq!(
        (opt.payload, opt.dnssec_ok, opt.version),
        (edns.max_payload(), true, 0)
    );
    assert!(opt.options.well_formed && opt.options.nsid && opt.options.padding);
    assert_eq!(&wire[opt.options.cookie.clone().unwrap()], &cookie);
    assert!(!opt.options.expire && opt.options.client_subnet.is_none());
    assert_eq!(view.tsig, None);
    assert!(
        view.plain_query().is_none(),
        "an IXFR with records is no plain query"
    );

    let plain = bytes(&query("443.tcp.ports.local.", RecordType::TXT));
    let view = Request::read(&plain).unwrap();
    assert!(view.plain_query().is_some());
    assert_eq!(view.questions, Some(12..plain.len()));
    for cut in 12..plain.len() {
        let view = Request::read(&plain[..cut]).unwrap();
        assert!(
            !view.complete && view.plain_query().is_none(),
            "cut at {cut}"
        );
    }
    assert!(
        Request::read(&plain[..11]).is_none(),
        "shorter than a header"
    );
}

#[test]
fn a_signed_request_is_covered_as_hickory_covers_it() {
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let key_name = HickoryName::from_ascii("Xfr-Key.").unwrap();
    let signer = TSigner::new(secret, TsigAlgorithm::HmacSha256, key_name, 300).unwrap();
    let mut message = with_edns(query("ports.local.", RecordType::AXFR), &[]);
    message.finalize(&signer, 1_700_000_000).unwrap();
    let wire = bytes(&message);
    let view = Request::read(&wire).unwrap();
    assert!(view.complete);
    let tsig = TsigRecord::read(&view).expect("the TSIG record is read");
    assert_eq!(tsig.key_name, b"\x07xfr-key\x00", "lower-case wire form");
    assert_eq!(tsig.time, 1_700_000_000);
    assert_eq!(tsig.fudge, 300);
    assert_eq!(tsig.mac.len(), 32);
    let (hickory_covered, _) = signed_bitmessage_to_buf(&wire, None, true).unwrap();
    assert_eq!(tsig.covered(&view), hickory_covered);
}

/// hickory-server's error answer for `packet`, as the general path used to build it.
fn hickory_error(packet: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    let mut decoder = BinDecoder::new(packet);
    let header = hickory_proto::op::Header::read(&mut decoder).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let queries = Queries::read(&mut decoder, usize::from(header.counts.queries))
        .unwrap_or_else(|_| Queries::read(&mut BinDecoder::new(&[]), 0).unwrap());
    let mut out = Vec::new();
    MessageResponseBuilder::new(&queries, None)
        .error_msg(&header.metadata, code)
        .destructive_emit(&mut BinEncoder::new(&mut out))
        .ok()?;
    Some(out)
}

#[test]
fn error_answers_are_the_bytes_hickory_writes() {
    let plain = bytes(&query("443.tcp.ports.local.", RecordType::TXT));
    let mut two = query("a.example.", RecordType::A);
    two.add_query(Query::query(
        HickoryName::from_ascii("b.example.").unwrap(),
        RecordType::AAAA,
    ));
    let mut notify = query("ports.local.", RecordType::SOA);
    notify.metadata.op_code = OpCode::Notify;
    notify.metadata.checking_disabled = true;
    let mut cases = vec![
        plain.clone(),
        bytes(&two),
        bytes(&notify),
        bytes(&with_edns(
            query("x.", RecordType::NS),
            &[(option::COOKIE, &[1; 8])],
        )),
        plain[..plain.len() - 1].to_vec(),
        plain[..12].to_vec(),
    ];
    let mut odd_opcode = plain.clone();
    odd_opcode[2] = 0x38 | 0x01;
    cases.push(odd_opcode);
    let mut response = plain.clone();
    response[2] |= 0x80;
    cases.push(response);
    for packet in &cases {
        for code in [
            ResponseCode::FormErr,
            ResponseCode::NotImp,
            ResponseCode::Refused,
        ] {
            let view = Request::read(packet).unwrap();
            let mut out = Vec::new();
            let written = error_answer(&view, code, &mut out).then_some(out);
            assert_eq!(written, hickory_error(packet, code), "{packet:?} {code}");
        }
    }
}

#[test]
fn names_are_read_through_pointers_that_lead_back() {
    let message = b"\x00\x00\x03abc\x07example\x00\x03www\xc0\x02\x03bad\xc0\x1a";
    let mut name = Vec::new();
    assert_eq!(read_name_lowercase(message, 2, &mut name), Some(15));
    assert_eq!(name, b"\x03abc\x07example\x00");
    assert_eq!(read_name_lowercase(message, 15, &mut name), Some(21));
    assert_eq!(name, b"\x03www\x03abc\x07example\x00");
    assert_eq!(
        read_name_lowercase(message, 21, &mut name),
        None,
        "a pointer forward"
    );
    assert_eq!(skip_name(message, 15), Some(21));
}

#[test]
fn slips_keep_header_and_question_only() {
    let mut response = bytes(&with_edns(query("a.b.", RecordType::TXT), &[]));
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
fn names_print_as_hickory_prints_them() {
    let wire = b"\x03443\x03tcp\x05ports\x05local\x00";
    assert_eq!(
        presentation(Name::uncompressed(wire)),
        "443.tcp.ports.local."
    );
    assert_eq!(presentation(Name::uncompressed(b"\x00")), ".");
}

/// A response whose last record is its OPT is padded to a multiple of 468 octets with a
/// Padding option hickory reads back; one without an OPT, or with another record after it,
/// is left alone.
#[test]
fn responses_are_padded_to_the_block_only_when_the_opt_comes_last() {
    let mut response = with_edns(query("443.tcp.ports.local.", RecordType::TXT), &[])
        .to_vec()
        .unwrap();
    let unpadded = response.len();
    assert!(pad_response(&mut response));
    assert_eq!(response.len() % PADDING_BLOCK, 0);
    assert!(response.len() > unpadded);
    let read = Message::from_vec(&response).expect("hickory reads the padded message");
    let edns = read.edns.as_ref().expect("the OPT record is kept");
    let padding = hickory_proto::rr::rdata::opt::EdnsCode::Padding;
    assert!(edns.options().get(padding).is_some(), "{edns:?}");
    let mut plain = query("443.tcp.ports.local.", RecordType::TXT)
        .to_vec()
        .unwrap();
    let before = plain.clone();
    assert!(!pad_response(&mut plain));
    assert_eq!(plain, before);
    let mut signed_like = with_edns(query("443.tcp.ports.local.", RecordType::TXT), &[])
        .to_vec()
        .unwrap();
    // A record after the OPT (where TSIG goes): an A record of the root.
    signed_like.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
    signed_like[11] += 1;
    let before = signed_like.clone();
    assert!(!pad_response(&mut signed_like));
    assert_eq!(signed_like, before);
}

#[test]
fn freshness_is_the_smallest_answer_ttl_or_the_negative_caching_time() {
    let owner = HickoryName::from_ascii("443.tcp.ports.local.").unwrap();
    let txt = |ttl| {
        let data = hickory_proto::rr::rdata::TXT::new(vec!["x".to_owned()]);
        Record::from_rdata(owner.clone(), ttl, RData::TXT(data))
    };
    let soa = |ttl, minimum| {
        let zone = HickoryName::from_ascii("ports.local.").unwrap();
        let data = SOA::new(zone.clone(), zone.clone(), 1, 2, 3, 4, minimum);
        Record::from_rdata(zone, ttl, RData::SOA(data))
    };
    let mut answered = query("443.tcp.ports.local.", RecordType::TXT);
    answered.add_answer(txt(600)).add_answer(txt(300));
    answered.add_authority(soa(5, 5));
    assert_eq!(freshness(&bytes(&answered)), Some(300));
    let mut negative = query("nosuch.ports.local.", RecordType::TXT);
    negative.add_authority(soa(900, 120));
    assert_eq!(freshness(&bytes(&negative)), Some(120));
    let mut negative = with_edns(query("nosuch.ports.local.", RecordType::TXT), &[]);
    negative.add_authority(soa(60, 120));
    assert_eq!(freshness(&bytes(&negative)), Some(60));
    let empty = query("443.tcp.ports.local.", RecordType::TXT);
    assert_eq!(freshness(&bytes(&empty)), None);
    let mut cut = bytes(&answered);
    cut.pop();
    assert_eq!(freshness(&cut), None);
}

#[test]
fn a_question_pointing_into_the_header_is_not_echoed() {
    // Found by the fuzzer: the name ends in a pointer to offset 0, into the header, which a
    // response does not copy. Echoed as it came, hickory could not read the answer.
    let mut packet = vec![0x23, 0x56, 0x78, 0xf8, 0, 1, 0, 0, 0, 0, 0, 0];
    packet.extend_from_slice(&[
        8, 4, 0x36, 0x38, 0x60, 0x30, 3, 0x74, 0, 0xc0, 0, 0, 2, 0, 0,
    ]);
    packet.extend_from_slice(&[0; 15]);
    packet.extend_from_slice(&[1, 1]);
    let view = Request::read(&packet).unwrap();
    assert_eq!(view.questions, None);
    let mut out = Vec::new();
    assert!(error_answer(&view, ResponseCode::NotImp, &mut out));
    hickory_proto::op::Message::from_vec(&out).unwrap();
}
