//! Transfers: AXFR, IXFR and the journal, checked on small tables.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fixtures::{snapshot, zone};
use super::*;
use crate::wire::DNSClass;
use hickory_proto::op::Message;
use hickory_proto::rr::RData;

/// The question section of `ports.test. IN AXFR`.
fn question(qtype: RecordType) -> Vec<u8> {
    let mut q = b"\x05ports\x04test\x00".to_vec();
    q.extend_from_slice(&u16::from(qtype).to_be_bytes());
    q.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    q
}

fn messages(mut transfer: Transfer) -> Vec<Message> {
    let mut out = Vec::new();
    let mut messages = Vec::new();
    while transfer.next_message(&mut out) {
        assert!(out.len() <= MESSAGE_BYTES, "{} bytes", out.len());
        messages.push(Message::from_vec(&out).expect("every message parses"));
    }
    messages
}

fn records(messages: &[Message]) -> Vec<hickory_proto::rr::Record> {
    messages.iter().flat_map(|m| m.answers.clone()).collect()
}

#[test]
fn axfr_streams_the_whole_zone_between_two_soas() {
    let zone = zone();
    let snapshot = snapshot(&zone, 42, &[("443", "web")]);
    let transfer = Transfer::new(
        &zone,
        snapshot.clone(),
        &Journal::default(),
        Kind::Axfr,
        7,
        false,
        &question(RecordType::AXFR),
    );
    let messages = messages(transfer);
    assert!(messages.len() > 100, "{} messages", messages.len());
    assert_eq!(messages[0].queries.len(), 1);
    assert!(messages[1..].iter().all(|m| m.queries.is_empty()));
    assert!(messages.iter().all(|m| m.id == 7 && m.authoritative));
    let all = records(&messages);
    let soas: Vec<usize> = (0..all.len())
        .filter(|&i| all[i].record_type() == RecordType::SOA)
        .collect();
    assert_eq!(soas, [0, all.len() - 1], "SOA first and last only");
    // Apex NS and TXT, the glue, the 10 help records, the search delegation's NS, 5 × 65,536
    // port names.
    assert_eq!(all.len(), 2 + 3 + 10 + 1 + 5 * 65_536);
    let mut names: Vec<String> = all[1..all.len() - 1]
        .iter()
        .map(|r| format!("{} {}", r.name, r.record_type()))
        .collect();
    // Each RRset comes in one run of records (help.<zone> has several TXT records), and
    // no RRset comes twice.
    names.dedup();
    let runs = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), runs, "every RRset once");
    let https = all
        .iter()
        .find(|r| r.name.to_ascii() == "443.tcp.ports.test.")
        .expect("443.tcp is in the transfer");
    match &https.data {
        RData::TXT(txt) => assert!(txt.to_string().contains("web")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn messages_are_about_16_kib_and_compressed() {
    let zone = zone();
    let snapshot = snapshot(&zone, 42, &[]);
    let mut transfer = Transfer::new(
        &zone,
        snapshot,
        &Journal::default(),
        Kind::Axfr,
        1,
        false,
        &question(RecordType::AXFR),
    );
    let mut out = Vec::new();
    transfer.next_message(&mut out);
    transfer.next_message(&mut out);
    // Full up to the last record that fits (each is well under 1 KiB).
    assert!(
        (MESSAGE_BYTES - 1024..=MESSAGE_BYTES).contains(&out.len()),
        "{}",
        out.len()
    );
    let message = Message::from_vec(&out).unwrap();
    // A name like 1234.tcp.ports.test costs its first label and a pointer.
    let per_record = out.len() / message.answers.len();
    assert!(per_record < 110, "{per_record} bytes per record");
}

#[test]
fn ixfr_from_the_current_serial_or_newer_is_the_soa_alone() {
    let zone = zone();
    let snapshot = snapshot(&zone, 42, &[]);
    for client in [42, 43, 42 + 0x7000_0000] {
        let transfer = Transfer::new(
            &zone,
            snapshot.clone(),
            &Journal::default(),
            Kind::Ixfr(client),
            1,
            false,
            &question(RecordType::IXFR),
        );
        let all = records(&messages(transfer));
        assert_eq!(all.len(), 1, "client at {client}");
        assert_eq!(all[0].record_type(), RecordType::SOA);
    }
}

#[test]
fn ixfr_sends_the_differences_from_a_known_serial() {
    let zone = zone();
    let first = snapshot(&zone, 10, &[("443", "web")]);
    let second = snapshot(&zone, 11, &[("443", "web, new text"), ("8080", "proxy")]);
    let third = snapshot(&zone, 12, &[("443", "web, new text")]);
    let journal = Journal::default()
        .after_reload(&zone, &first, &second, u64::MAX)
        .after_reload(&zone, &second, &third, u64::MAX);
    assert_eq!(journal.differences().count(), 2);
    let ixfr = |from| {
        let transfer = Transfer::new(
            &zone,
            third.clone(),
            &journal,
            Kind::Ixfr(from),
            1,
            false,
            &question(RecordType::IXFR),
        );
        records(&messages(transfer))
    };
    let texts = |records: &[hickory_proto::rr::Record]| -> Vec<String> {
        records
            .iter()
            .map(|r| match &r.data {
                RData::SOA(soa) => format!("SOA {}", soa.serial),
                RData::TXT(txt) => format!("{} {}", r.name, txt),
                other => format!("{} {other}", r.name),
            })
            .collect()
    };
    let from_11 = texts(&ixfr(11));
    assert_eq!(from_11[0], "SOA 12");
    assert_eq!(from_11[1], "SOA 11");
    assert_eq!(from_11.last().unwrap(), "SOA 12");
    let soa_12 = from_11.iter().position(|t| t == "SOA 12").unwrap();
    assert_eq!(soa_12, 0);
    // 8080 is unassigned again: its two names change text; the apex TXT changes too.
    let deleted: Vec<&String> = from_11[2..]
        .iter()
        .take_while(|t| !t.starts_with("SOA"))
        .collect();
    assert!(
        deleted
            .iter()
            .any(|t| t.starts_with("8080.tcp.ports.test.") && t.contains("proxy")),
        "{deleted:?}"
    );
    assert!(
        deleted
            .iter()
            .any(|t| t.starts_with("ports.test.") && t.contains("serial 11")),
        "{deleted:?}"
    );
    assert_eq!(
        deleted.len(),
        3,
        "8080.tcp, 8080 and the apex TXT: {deleted:?}"
    );
    let from_10 = texts(&ixfr(10));
    let soas: Vec<&String> = from_10.iter().filter(|t| t.starts_with("SOA")).collect();
    assert_eq!(
        soas,
        ["SOA 12", "SOA 10", "SOA 11", "SOA 11", "SOA 12", "SOA 12"]
    );
    // An unknown serial gets the whole zone in AXFR form.
    let unknown = ixfr(9);
    assert_eq!(unknown.len(), 2 + 3 + 10 + 1 + 5 * 65_536);
}

#[test]
fn transfers_past_the_cap_get_no_slot_until_one_ends() {
    let running = Arc::new(AtomicUsize::new(0));
    let first = Slot::take(&running, 2).expect("a slot");
    let second = Slot::take(&running, 2).expect("a slot");
    assert!(Slot::take(&running, 2).is_none(), "the cap");
    drop(first);
    assert!(Slot::take(&running, 2).is_some(), "given back");
    drop(second);
    assert_eq!(running.load(Ordering::Acquire), 0);
}

#[test]
fn only_allowed_networks_transfer_and_keys_require_a_signature() {
    let policy = TransferPolicy {
        allow: vec!["192.0.2.0/24".parse().unwrap()],
        ..TransferPolicy::default()
    };
    let inside: IpAddr = "192.0.2.9".parse().unwrap();
    let outside: IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(policy.check(None, inside, false), Ok(()));
    assert_eq!(policy.check(None, outside, true), Err(Refusal::NotAllowed));
    assert_eq!(
        TransferPolicy::default().check(None, inside, true),
        Err(Refusal::NotAllowed),
        "nobody by default"
    );
    // A zone's own list replaces the policy's, an empty one letting nobody in.
    let own = ["198.51.100.0/24".parse().unwrap()];
    assert_eq!(policy.check(Some(&own), outside, false), Ok(()));
    assert_eq!(
        policy.check(Some(&own), inside, false),
        Err(Refusal::NotAllowed)
    );
    assert_eq!(
        policy.check(Some(&[]), inside, false),
        Err(Refusal::NotAllowed)
    );
    let signed = TransferPolicy {
        require_signature: true,
        ..policy
    };
    assert_eq!(signed.check(None, inside, false), Err(Refusal::Unsigned));
    assert_eq!(signed.check(None, inside, true), Ok(()));
}

#[test]
fn transfer_requests_are_read_from_the_view() {
    let zone = zone();
    let mut request = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    request.extend_from_slice(&question(RecordType::AXFR));
    let read = |bytes: &[u8]| {
        crate::wire::Request::read(bytes)
            .and_then(|view| TransferRequest::read(&view, &zone).map(|t| t.kind))
    };
    assert_eq!(read(&request), Some(Kind::Axfr));
    let ixfr = [&request[..12], &question(RecordType::IXFR)].concat();
    assert_eq!(read(&ixfr), None, "an IXFR without the client's SOA");
    let soa = [&request[..12], &question(RecordType::SOA)].concat();
    assert_eq!(read(&soa), None);
    assert_eq!(read(&request[..20]), None, "cut short");
    assert_eq!(read(&[0; 11]), None);
}

#[test]
fn a_broken_chain_empties_the_journal() {
    let zone = zone();
    let a = snapshot(&zone, 10, &[("1", "a")]);
    let b = snapshot(&zone, 11, &[("1", "b")]);
    let c = snapshot(&zone, 20, &[("1", "c")]);
    let d = snapshot(&zone, 21, &[("1", "d")]);
    let journal = Journal::default()
        .after_reload(&zone, &a, &b, u64::MAX)
        .after_reload(&zone, &c, &d, u64::MAX);
    let serials: Vec<(u32, u32)> = journal.differences().map(Difference::serials).collect();
    assert_eq!(serials, [(20, 21)]);
}

/// Serial 11 served after serial 10, with a difference from 10 of a hundred long records: far
/// more than one UDP message holds.
fn too_large_for_udp(zone: &Zone) -> (Arc<Snapshot>, Journal) {
    let first = snapshot(zone, 10, &[]);
    let many: Vec<(String, String)> = (1000..1100)
        .map(|p| (p.to_string(), "x".repeat(100)))
        .collect();
    let uses: Vec<(&str, &str)> = many.iter().map(|(p, d)| (p.as_str(), d.as_str())).collect();
    let second = snapshot(zone, 11, &uses);
    let journal = Journal::default().after_reload(zone, &first, &second, u64::MAX);
    (second, journal)
}

#[test]
fn an_ixfr_too_large_for_udp_is_the_soa_alone() {
    let zone = zone();
    let (second, journal) = too_large_for_udp(&zone);
    let udp = |from| {
        let transfer = Transfer::new(
            &zone,
            second.clone(),
            &journal,
            Kind::Ixfr(from),
            1,
            false,
            &question(RecordType::IXFR),
        );
        let mut out = Vec::new();
        transfer.single_message(1232, &mut out);
        assert!(out.len() <= 1232);
        Message::from_vec(&out).unwrap().answers.len()
    };
    assert_eq!(udp(10), 1, "does not fit: SOA alone");
    let small = snapshot(&zone, 20, &[("1000", "a")]);
    let changed = snapshot(&zone, 21, &[]);
    let journal = Journal::default().after_reload(&zone, &small, &changed, u64::MAX);
    let transfer = Transfer::new(
        &zone,
        changed,
        &journal,
        Kind::Ixfr(20),
        1,
        false,
        &question(RecordType::IXFR),
    );
    let mut out = Vec::new();
    transfer.single_message(1232, &mut out);
    let answers = Message::from_vec(&out).unwrap().answers.len();
    assert!(answers > 4, "a small change fits: {answers} records");
}

#[test]
fn a_signed_udp_ixfr_that_falls_back_to_the_soa_is_signed_as_the_first_message() {
    use crate::pipeline::tsig::{self, tests::keyring, tests::signed_query};

    let zone = zone();
    let (second, journal) = too_large_for_udp(&zone);
    let (keys, client) = keyring();
    let now = tsig::now();
    let request = signed_query(&client, now);
    let request_mac = Message::from_vec(&request)
        .unwrap()
        .signature
        .unwrap()
        .data
        .mac;
    // The response answers that request (its ID 4321).
    let tsig::Check::Signed(signer) =
        tsig::check(&keys, &crate::wire::Request::read(&request).unwrap(), now)
    else {
        panic!("a good signature");
    };
    let running = Arc::new(AtomicUsize::new(0));
    // The difference is tried first and does not fit; only the SOA that is sent is signed.
    let transfer = Transfer::new(
        &zone,
        second,
        &journal,
        Kind::Ixfr(10),
        4321,
        false,
        &question(RecordType::IXFR),
    )
    .holding(Slot::take(&running, 1).unwrap(), Some(signer));
    let mut out = Vec::new();
    transfer.single_message(1232, &mut out);
    assert!(out.len() <= 1232);
    assert_eq!(Message::from_vec(&out).unwrap().answers.len(), 1);
    client
        .verify_message_byte(&out, Some(&request_mac), true)
        .expect("signed over the request's MAC, as a response's first message");
}

/// Four versions of a table, each a change of one entry from the one before.
fn four_versions(zone: &Zone) -> [Arc<Snapshot>; 4] {
    [
        snapshot(zone, 10, &[("443", "web")]),
        snapshot(zone, 11, &[("443", "web, new text"), ("8080", "proxy")]),
        snapshot(zone, 12, &[("443", "web, new text")]),
        snapshot(zone, 13, &[("443", "web, newer text")]),
    ]
}

/// The journal after reloads through `versions`, kept within `max_bytes`.
fn reloaded(zone: &Zone, versions: &[Arc<Snapshot>], max_bytes: u64) -> Journal {
    versions
        .windows(2)
        .fold(Journal::default(), |journal, pair| {
            journal.after_reload(zone, &pair[0], &pair[1], max_bytes)
        })
}

/// Three reloads' differences, each a change of one entry.
fn three_changes(zone: &Zone) -> Journal {
    reloaded(zone, &four_versions(zone), u64::MAX)
}

#[test]
fn a_journal_reads_back_from_its_bytes_as_it_was() {
    let zone = zone();
    let journal = three_changes(&zone);
    let bytes = journal.to_bytes();
    let read = Journal::from_bytes(&bytes).expect("reads back");
    assert!(journal.differences().eq(read.differences()));
    assert_eq!(read.last_serial(), Some(13));
    let empty = Journal::from_bytes(&Journal::default().to_bytes()).expect("reads back");
    assert_eq!(empty.last_serial(), None);
}

#[test]
fn a_journal_cut_short_altered_or_foreign_is_refused() {
    let bytes = three_changes(&zone()).to_bytes();
    for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(Journal::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    for at in [20, bytes.len() / 2, bytes.len() - 1] {
        let mut altered = bytes.clone();
        altered[at] ^= 0x40;
        assert_eq!(
            Journal::from_bytes(&altered).err(),
            Some(journal::JournalError::Digest),
            "byte {at} changed"
        );
    }
    assert_eq!(
        Journal::from_bytes(b"some other file").err(),
        Some(journal::JournalError::Format)
    );
}

#[test]
fn the_journal_drops_its_oldest_differences_past_its_size() {
    let zone = zone();
    let chain = four_versions(&zone);
    // The bytes the newest difference takes: its journal less the first line (17 bytes), the
    // count (4) and the digest (32).
    let newest = Journal::default()
        .after_reload(&zone, &chain[2], &chain[3], u64::MAX)
        .to_bytes()
        .len() as u64
        - 17
        - 4
        - 32;
    let journal = reloaded(&zone, &chain, newest);
    let kept: Vec<(u32, u32)> = journal.differences().map(Difference::serials).collect();
    assert_eq!(kept, [(12, 13)], "room for the newest alone");
    assert_eq!(three_changes(&zone).differences().count(), 3);
    let none = journal.after_reload(&zone, &chain[3], &chain[0], 10);
    assert_eq!(none.differences().count(), 0, "not even the newest fits");
}
