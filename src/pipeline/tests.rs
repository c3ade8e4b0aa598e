//! The pipeline reads each message once: one view per message, and hickory parses a message
//! only on the general path, at most once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Edns, Message, OpCode, Query};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::transfer::TransferPolicy;
use super::tsig::tests::keyring;
use super::{Outcome, Pipeline, Policy, StartUpWait, Transport};
use crate::core::model::{Entry, PortSpan, Protocol, Source, Status};
use crate::core::names::parse_domain;
use crate::core::table::{Extras, Table};
use crate::core::zone::Zone;
use crate::metrics::Metrics;
use crate::wire::request::counts;

/// `ports.test` with one use of 443/tcp, keys configured, transfers allowed from loopback.
fn pipeline() -> (Pipeline, hickory_proto::rr::TSigner) {
    let (zone, table, policy, client) = parts();
    let metrics = Arc::new(Metrics::new());
    (Pipeline::new(zone, table, 10, policy, metrics), client)
}

/// What [`pipeline`] is made of, and the client's TSIG signer.
pub(super) fn parts() -> (Zone, Table, Policy, hickory_proto::rr::TSigner) {
    let (zone, table) = one_use();
    let (keys, client) = keyring();
    let policy = Policy {
        keys,
        transfer: TransferPolicy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            ..TransferPolicy::default()
        },
        ..Policy::default()
    };
    (zone, table, policy, client)
}

/// `ports.test` and a table with one use, 443/tcp.
pub(crate) fn one_use() -> (Zone, Table) {
    let zone = Zone::new(
        parse_domain("ports.test").unwrap(),
        parse_domain("ns.ports.test").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
        60,
    );
    let table = Table::new(vec![Entry {
        ports: PortSpan::parse("443").unwrap(),
        protocol: Protocol::Tcp,
        status: Status::Yes,
        service: Some("https".into()),
        description: "HTTP over TLS".to_owned(),
        aliases: Vec::new(),
        sources: Source::Iana.bit(),
        registry: None,
    }]);
    (zone, table)
}

/// While the start-up digest is computed, the serving loops hold back exactly the requests
/// whose answer writes the ZONEMD record: the record itself, AXFR and IXFR. ANY at the apex
/// answers the SOA alone (RFC 8482) and goes on, as everything does once the digest is there.
#[test]
fn only_zonemd_and_transfers_wait_for_the_start_up_digest() {
    let (zone, table, policy, _) = parts();
    let served = super::ServedZone {
        zone,
        serial: 10,
        allow_transfer: None,
    };
    let (pipeline, digest) =
        Pipeline::digest_pending(vec![served], table, policy, Arc::new(Metrics::new()));
    let asked = |qtype| {
        let request = query("ports.test.", qtype).to_vec().unwrap();
        pipeline.start_up_pending_for(&request).is_some()
    };
    let carrying = [
        crate::wire::types::ZONEMD,
        RecordType::AXFR,
        RecordType::IXFR,
    ];
    let others = [
        RecordType::SOA,
        RecordType::TXT,
        RecordType::ANY,
        RecordType::NS,
    ];
    assert!(carrying.iter().all(|&t| asked(t)));
    assert!(!others.iter().any(|&t| asked(t)));
    let (_, _, answered) = reads(
        &pipeline,
        &query("ports.test.", RecordType::ANY).to_vec().unwrap(),
        Transport::Udp,
    );
    assert!(answered, "ANY at the apex is answered before the digest");
    drop(digest.run());
    assert!(!carrying.iter().any(|&t| asked(t)));
}

/// `one_use`'s table with its search index left to build ([`Table::build_search_later`]), as
/// `serve` starts with it.
pub(crate) fn search_later(table: &Table) -> Table {
    Table::build_search_later(table.entries().to_vec(), &[], Extras::default())
}

/// While the start-up search index is not built, the serving loops hold back the requests
/// whose answer asks it (searches and `help`, whatever their type) and only those; a search
/// answered meanwhile, on whatever thread, is the answer of the built index, and once the
/// start-up job has run nothing waits.
#[test]
fn searches_wait_for_the_start_up_index_and_get_its_answers() {
    let (zone, table, policy, _) = parts();
    let served = super::ServedZone {
        zone: zone.clone(),
        serial: 10,
        allow_transfer: None,
    };
    let (pipeline, job) = Pipeline::digest_pending(
        vec![served],
        search_later(&table),
        policy.clone(),
        Arc::new(Metrics::new()),
    );
    let built = Pipeline::new(zone, table, 10, policy, Arc::new(Metrics::new()));
    let pending = |name: &str, qtype| {
        let request = query(name, qtype).to_vec().unwrap();
        pipeline.start_up_pending_for(&request)
    };
    for (name, qtype) in [
        ("tls.search.ports.test.", RecordType::TXT),
        ("tls.search.ports.test.", RecordType::ANY),
        ("help.ports.test.", RecordType::TXT),
    ] {
        assert!(
            matches!(pending(name, qtype), Some(StartUpWait::Search(_))),
            "{name} {qtype} waits for the index"
        );
    }
    assert!(pending("443.tcp.ports.test.", RecordType::TXT).is_none());
    assert!(pending("https.ports.test.", RecordType::TXT).is_none());
    assert!(!pipeline.snapshot().table.search_is_built());
    let answer = |pipeline: &Pipeline, name: &str| {
        let client: SocketAddr = ([127, 0, 0, 1], 5353).into();
        let request = query(name, RecordType::TXT).to_vec().unwrap();
        let mut out = Vec::new();
        let outcome = pipeline.handle(&request, client, Transport::Udp, Instant::now(), &mut out);
        assert!(matches!(outcome, Outcome::Reply));
        out
    };
    for name in ["tls.search.ports.test.", "help.ports.test."] {
        assert_eq!(answer(&pipeline, name), answer(&built, name), "{name}");
    }
    let found = Message::from_vec(&answer(&pipeline, "tls.search.ports.test.")).unwrap();
    assert_eq!(
        found.answers.len(),
        1,
        "the one use, found by its description"
    );
    // The index is built now (by those answers): searches go on, while what the rest of the
    // start-up work makes still waits for it.
    assert!(pending("tls.search.ports.test.", RecordType::TXT).is_none());
    assert!(matches!(
        pending("ports.test.", crate::wire::types::ZONEMD),
        Some(StartUpWait::Started(_))
    ));
    drop(job.run());
    assert!(pending("tls.search.ports.test.", RecordType::TXT).is_none());
    assert!(pending("help.ports.test.", RecordType::TXT).is_none());
}

pub(super) fn query(name: &str, qtype: RecordType) -> Message {
    query_for(Name::from_ascii(name).unwrap(), qtype)
}

fn query_for(name: Name, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.id = 77;
    message.add_query(Query::query(name, qtype));
    message
}

pub(super) fn signed(mut message: Message, signer: &hickory_proto::rr::TSigner) -> Vec<u8> {
    let (tsig, _) = signer.sign_message(&message, super::tsig::now()).unwrap();
    message.signature = Some(tsig);
    message.to_vec().unwrap()
}

/// (views made, hickory parses) for one message through the pipeline's entry, and whether a
/// response or transfer came out.
fn reads(pipeline: &Pipeline, message: &[u8], transport: Transport) -> (usize, usize, bool) {
    let client: SocketAddr = ([127, 0, 0, 1], 5353).into();
    let (views, parses) = counts::now();
    let mut out = Vec::new();
    let answered = match pipeline.handle(message, client, transport, Instant::now(), &mut out) {
        Outcome::Silence => false,
        Outcome::Reply => true,
        Outcome::Transfer(mut transfer) => {
            while transfer.next_message(&mut out) {}
            true
        }
    };
    let (views_after, parses_after) = counts::now();
    (views_after - views, parses_after - parses, answered)
}

#[test]
fn every_kind_of_message_is_read_once_and_parsed_by_hickory_at_most_once() {
    let (pipeline, client) = pipeline();
    let plain = query("443.tcp.ports.test.", RecordType::TXT)
        .to_vec()
        .unwrap();
    let mut with_options = query("443.tcp.ports.test.", RecordType::TXT);
    let mut edns = Edns::new();
    edns.options_mut()
        .insert(EdnsOption::Unknown(3, Vec::new()));
    with_options.set_edns(edns);
    let mut notify = query("ports.test.", RecordType::SOA);
    notify.metadata.op_code = OpCode::Notify;
    let mut ixfr = query("ports.test.", RecordType::IXFR);
    ixfr.add_authority(Record::from_rdata(
        Name::from_ascii("ports.test.").unwrap(),
        60,
        RData::SOA(SOA::new(Name::root(), Name::root(), 9, 1, 1, 1, 1)),
    ));
    let mut bad_mac = signed(query("ports.test.", RecordType::SOA), &client);
    let inside_mac = bad_mac.len() - 10;
    bad_mac[inside_mac] ^= 1;
    // (what, message, transport, hickory parses expected)
    let cases: Vec<(&str, Vec<u8>, Transport, usize)> = vec![
        ("plain query", plain.clone(), Transport::Udp, 0),
        ("plain query over TCP", plain.clone(), Transport::Tcp, 0),
        (
            "query with an EDNS option",
            with_options.to_vec().unwrap(),
            Transport::Udp,
            1,
        ),
        (
            "signed query",
            signed(query("ports.test.", RecordType::SOA), &client),
            Transport::Udp,
            1,
        ),
        (
            "signed AXFR",
            signed(query("ports.test.", RecordType::AXFR), &client),
            Transport::Tcp,
            0,
        ),
        (
            "signed IXFR over UDP",
            signed(ixfr, &client),
            Transport::Udp,
            0,
        ),
        (
            "unsigned AXFR, refused",
            query("ports.test.", RecordType::AXFR).to_vec().unwrap(),
            Transport::Tcp,
            0,
        ),
        ("bad signature", bad_mac, Transport::Udp, 0),
        ("NOTIFY", notify.to_vec().unwrap(), Transport::Udp, 0),
        ("signed NOTIFY", signed(notify, &client), Transport::Udp, 0),
        (
            "malformed",
            plain[..plain.len() - 2].to_vec(),
            Transport::Udp,
            1,
        ),
        (
            "shorter than a header",
            plain[..5].to_vec(),
            Transport::Udp,
            0,
        ),
    ];
    for (what, message, transport, parses) in cases {
        let (views, hickory, answered) = reads(&pipeline, &message, transport);
        assert_eq!(views, 1, "{what}: read once");
        assert_eq!(hickory, parses, "{what}: hickory parses");
        assert_eq!(
            answered,
            what != "shorter than a header",
            "{what}: answered"
        );
    }
}

/// hickory decodes messages in one place of the request path; a second place would parse
/// some message twice (the runtime count above sees only the parses that place reports).
#[test]
fn hickory_decodes_messages_in_one_place_of_the_request_path() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut found = Vec::new();
    for folder in ["pipeline", "wire"] {
        visit(&std::path::Path::new(root).join(folder), &mut found);
    }
    assert_eq!(
        found,
        [format!("{root}/pipeline/general.rs: Request::from_bytes(")],
        "hickory's decoders in the request path"
    );
}

/// Collects every call of a hickory decoder in the non-test code of the files below `dir`.
fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            visit(&path, found);
            continue;
        }
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for decoder in [
            "Request::from_bytes(",
            "Message::from_vec(",
            "Message::from_bytes(",
            "Message::read(",
            "Header::read(",
            "Queries::read(",
            "BinDecoder::new(",
            "signed_bitmessage_to_buf(",
        ] {
            for _ in code.matches(decoder) {
                found.push(format!("{}: {decoder}", path.display()));
            }
        }
    }
}

/// A full AXFR of the built-in table: every message is read by hickory, the SOA opens and
/// closes it and nowhere else, it carries one record for each of export-zone's, and each RRset
/// is exactly what the general path answers for that name and type.
#[test]
fn every_message_of_a_full_axfr_is_read_by_hickory_and_carries_the_zone() {
    use std::collections::BTreeMap;

    let (zone, data) = crate::config::ZoneArgs::default().resolve_one(&[]).unwrap();
    let table = Table::new(data.location.load().unwrap().entries);
    let policy = Policy {
        transfer: TransferPolicy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            ..TransferPolicy::default()
        },
        ..Policy::default()
    };
    let pipeline = Pipeline::new(zone.clone(), table, 7, policy, Arc::new(Metrics::new()));
    let client: SocketAddr = ([127, 0, 0, 1], 5353).into();
    let apex = Name::from_labels(zone.name.labels().iter().map(|l| &l[..])).unwrap();
    let request = query_for(apex, RecordType::AXFR).to_vec().unwrap();
    let mut out = Vec::new();
    let Outcome::Transfer(mut transfer) =
        pipeline.handle(&request, client, Transport::Tcp, Instant::now(), &mut out)
    else {
        panic!("the transfer is admitted");
    };
    let mut records = Vec::new();
    while transfer.next_message(&mut out) {
        let message = Message::from_vec(&out).expect("hickory reads every message");
        assert_eq!(message.metadata.id, 77);
        records.extend(message.answers);
    }
    let soas: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].record_type() == RecordType::SOA)
        .collect();
    assert_eq!(
        soas,
        [0, records.len() - 1],
        "the SOA opens and closes the transfer"
    );

    let mut exported = Vec::new();
    crate::core::present::write_zone(&zone, &pipeline.snapshot(), &mut exported).unwrap();
    let exported = String::from_utf8(exported).unwrap();
    let lines = exported
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(';') && !l.starts_with('$'))
        .count();
    assert_eq!(
        records.len() - 1,
        lines,
        "one record for each of export-zone's"
    );

    let mut rrsets: BTreeMap<(Name, RecordType), Vec<Record>> = BTreeMap::new();
    for record in &records[1..] {
        let key = (record.name.clone(), record.record_type());
        rrsets.entry(key).or_default().push(record.clone());
    }
    let sort = |records: &mut Vec<Record>| records.sort_by_key(|r| r.data.to_string());
    for ((name, rtype), mut transferred) in rrsets {
        let question = query_for(name.clone(), rtype).to_vec().unwrap();
        let answer = pipeline
            .general_response(&question, client, Transport::Tcp)
            .expect("answered");
        let mut answered = Message::from_vec(&answer).unwrap().answers;
        sort(&mut transferred);
        sort(&mut answered);
        assert_eq!(transferred, answered, "{name} {rtype}");
    }
}
