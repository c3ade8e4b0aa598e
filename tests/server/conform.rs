//! Where portsd answers as NSD and Knot do on the same zone, over real loopback
//! sockets: names are label sequences, RRsets hold no duplicates, unimplemented EDNS options
//! are ignored, ANY gets one RRset, CHAOS identity and NSID, Extended DNS Error 20 outside
//! the zone. Checked with raw packets, hickory's client, `dig` and `kdig`.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::common::*;
use hickory_net::client::ClientHandle;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use portsd::config::ZoneArgs;
use portsd::core::table::Table;
use portsd::core::zone::Snapshot;
use portsd::pipeline::Policy;
use portsd::pipeline::identity::Identity;
use portsd::serve::{DataLocation, Settings};

const TXT: u16 = 16;
const ANY: u16 = 255;

/// A raw query: `labels` as given (a label may hold a dot), class `qclass`, and an OPT record
/// with EDNS `version` and `options` when `edns` is set.
fn raw_query(labels: &[&[u8]], qtype: u16, qclass: u16, edns: Option<(u8, &[u8])>) -> Vec<u8> {
    let mut p = vec![0x4a, 0x11, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0];
    p.push(u8::from(edns.is_some()));
    for label in labels {
        p.push(label.len() as u8);
        p.extend_from_slice(label);
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&qclass.to_be_bytes());
    if let Some((version, options)) = edns {
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, version, 0, 0]);
        p.extend_from_slice(&(options.len() as u16).to_be_bytes());
        p.extend_from_slice(options);
    }
    p
}

/// Asks over UDP and over TCP; both answers.
fn both_ways(addr: SocketAddr, packet: &[u8]) -> [Message; 2] {
    [
        parse(&udp_exchange(addr, packet).expect("a UDP answer")),
        parse(&tcp_exchange(addr, packet)),
    ]
}

/// The Extended DNS Error INFO-CODE in a response's OPT record, if any.
fn extended_error(response: &[u8]) -> Option<u16> {
    let message = parse(response);
    let edns = message.edns.as_ref()?;
    edns.options().as_ref().iter().find_map(|(code, option)| {
        let data: Vec<u8> = option.try_into().ok()?;
        (u16::from(*code) == 15 && data.len() >= 2).then(|| u16::from_be_bytes([data[0], data[1]]))
    })
}

#[tokio::test]
async fn a_label_holding_a_dot_is_one_label_and_that_name_does_not_exist() {
    let addr = SHARED.addr;
    let labels: &[&[u8]] = &[b"z39.50", b"tcp", b"ports", b"local"];
    // No EDNS takes the fast path; an unknown option the general one.
    for edns in [None, Some((0, &[0u8, 12, 0, 0][..]))] {
        for reply in both_ways(addr, &raw_query(labels, TXT, 1, edns)) {
            assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
            assert!(reply.answers.is_empty(), "{reply:?}");
        }
    }
    for tcp in [false, true] {
        let mut client = hickory(addr, tcp).await;
        let ask = |name: &str| Name::from_ascii(name).unwrap();
        let escaped = client
            .query(
                ask("z39\\.50.tcp.ports.local."),
                DNSClass::IN,
                RecordType::TXT,
            )
            .await
            .unwrap();
        assert_eq!(escaped.metadata.response_code, ResponseCode::NXDomain);
        let two_labels = client
            .query(
                ask("z39.50.tcp.ports.local."),
                DNSClass::IN,
                RecordType::TXT,
            )
            .await
            .unwrap();
        assert_eq!(two_labels.metadata.response_code, ResponseCode::NoError);
        assert_eq!(txt_answers(&two_labels).len(), 1);
    }
    for (tool, transport) in [("dig", "+notcp"), ("dig", "+tcp"), ("kdig", "+tcp")] {
        let out = run_tool(tool, addr, &[transport, "TXT", "z39\\.50.tcp.ports.local"]);
        assert!(out.contains("status: NXDOMAIN"), "{tool}: {out}");
    }
}

/// Every (owner, type, data) of a master file, failing on the first seen twice.
fn assert_no_duplicates(zone_file: &str) -> usize {
    let mut seen = HashSet::new();
    for line in zone_file.lines().filter(|l| !l.starts_with([';', '$'])) {
        let mut fields = line.splitn(4, ' ');
        let owner = fields.next().unwrap().to_ascii_lowercase();
        let (_ttl, rest) = (fields.next(), fields.nth(1).unwrap_or_default());
        assert!(seen.insert((owner, rest.to_owned())), "twice: {line}");
    }
    seen.len()
}

fn exported(zone: &portsd::core::zone::Zone, table: Table) -> String {
    let snapshot = Snapshot::new(table, 1, zone);
    let mut out = Vec::new();
    portsd::core::present::write_zone(zone, &snapshot, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn no_rrset_of_the_compiled_in_zone_holds_a_record_twice() {
    let text = exported(&test_zone(), builtin_table());
    assert!(assert_no_duplicates(&text) > 360_000, "the whole zone");
    // ANY answers one RRset, but the zone's contents keep every type.
    for apex in ["IN SOA ", "IN NS ", "IN TXT \"portsd"] {
        assert!(
            text.contains(&format!("ports.local. 3600 {apex}")),
            "{apex}"
        );
    }
}

#[test]
fn sources_repeating_a_use_and_addresses_given_twice_give_one_record() {
    let mut entries = builtin_table().entries().to_vec();
    let https = entries
        .iter()
        .position(|e| e.service.as_deref() == Some("https") && e.ports.to_string() == "443")
        .unwrap();
    let mut again = entries[https].clone();
    again.sources = entries.iter().map(|e| e.sources).max().unwrap();
    entries.push(again);
    entries.push(entries[https].clone());
    let twice = "192.0.2.1".parse().unwrap();
    let args = ZoneArgs {
        ns_address: vec![twice, "2001:db8::1".parse().unwrap(), twice],
        ..ZoneArgs::default()
    };
    let (zone, _) = args.resolve_one(&[]).unwrap();
    assert_no_duplicates(&exported(&zone, Table::new(entries.clone())));
    let server = TestServer::start_with(
        zone,
        Table::new(entries),
        DataLocation::Builtin,
        Default::default(),
    );
    let ask = |name: &[&[u8]], qtype: u16| {
        let [udp, tcp] = both_ways(server.addr, &raw_query(name, qtype, 1, Some((0, &[]))));
        assert_eq!(udp.answers, tcp.answers);
        let records: Vec<String> = tcp.answers.iter().map(|r| r.to_string()).collect();
        let distinct: HashSet<&String> = records.iter().collect();
        assert_eq!(distinct.len(), records.len(), "{records:#?}");
        records.len()
    };
    let https_on = |protocol: &'static [u8]| [b"https", protocol, b"ports", b"local"];
    assert_eq!(ask(&[b"443", b"tcp", b"ports", b"local"], TXT), 1);
    assert_eq!(ask(&https_on(b"tcp"), TXT), 1);
    assert!(ask(&[b"443", b"ports", b"local"], TXT) >= 3);
    assert_eq!(ask(&[b"ns", b"ports", b"local"], 1), 1, "one A record");
}

#[test]
fn unimplemented_edns_options_are_ignored_however_malformed() {
    let name: &[&[u8]] = &[b"443", b"tcp", b"ports", b"local"];
    let malformed: [&[u8]; 4] = [
        // Client Subnet: IPv4 with a 33-bit prefix; family 99; too short to hold a family.
        &[0, 8, 0, 8, 0, 1, 33, 0, 10, 0, 0, 1],
        &[0, 8, 0, 7, 0, 99, 24, 0, 10, 0, 0],
        &[0, 8, 0, 1, 0],
        // An unknown option beside a malformed subnet.
        &[0, 99, 0, 1, 7, 0, 8, 0, 2, 0, 1],
    ];
    for options in malformed {
        for reply in both_ways(SHARED.addr, &raw_query(name, TXT, 1, Some((0, options)))) {
            assert_eq!(
                reply.metadata.response_code,
                ResponseCode::NoError,
                "{options:?}"
            );
            assert_eq!(reply.queries.len(), 1);
            assert_eq!(txt_answers(&reply).len(), 1);
            let edns = reply.edns.as_ref().expect("OPT in the answer");
            assert!(edns.options().as_ref().is_empty(), "nothing echoed");
        }
        for reply in both_ways(SHARED.addr, &raw_query(name, TXT, 1, Some((1, options)))) {
            assert_eq!(u16::from(reply.metadata.response_code), 16, "BADVERS");
            assert_eq!(reply.queries.len(), 1);
            assert_eq!(reply.edns.as_ref().map(|e| e.version()), Some(0));
        }
    }
    let subnet = "+ednsopt=8:000121000a000001";
    let out = run_tool("dig", SHARED.addr, &[subnet, "TXT", "443.tcp.ports.local"]);
    assert!(
        out.contains("status: NOERROR") && out.contains("EDNS: version: 0"),
        "{out}"
    );
    let old = [
        "+edns=1",
        "+noednsneg",
        subnet,
        "TXT",
        "443.tcp.ports.local",
    ];
    let out = run_tool("dig", SHARED.addr, &old);
    assert!(
        out.contains("status: BADVERS") && out.contains("EDNS: version: 0"),
        "{out}"
    );
}

#[tokio::test]
async fn any_gets_one_rrset_over_udp_and_tcp() {
    for tcp in [false, true] {
        let mut client = hickory(SHARED.addr, tcp).await;
        for (name, only) in [
            ("ports.local.", RecordType::SOA),
            ("ns.ports.local.", RecordType::A),
        ] {
            let reply = client
                .query(
                    Name::from_ascii(name).unwrap(),
                    DNSClass::IN,
                    RecordType::ANY,
                )
                .await
                .unwrap();
            let types: Vec<RecordType> = reply.answers.iter().map(|r| r.record_type()).collect();
            assert_eq!(types, [only], "{name} over tcp: {tcp}");
        }
    }
    // A name holding one RRset keeps all of it; a fast-path ANY agrees.
    let port = [&b"443"[..], b"ports", b"local"];
    for reply in both_ways(SHARED.addr, &raw_query(&port, ANY, 1, Some((0, &[])))) {
        assert!(txt_answers(&reply).len() >= 3);
    }
    let out = run_tool("dig", SHARED.addr, &["ANY", "ports.local"]);
    assert!(
        out.contains("ANSWER: 1,") && out.contains("\tSOA\t"),
        "{out}"
    );
}

#[test]
fn names_outside_the_zone_carry_extended_error_20_when_the_query_has_edns() {
    let outside: &[&[u8]] = &[b"example", b"com"];
    // Plain OPT (fast path) and an option besides (general path).
    for edns in [Some((0, &[][..])), Some((0, &[0u8, 12, 0, 0][..]))] {
        let packet = raw_query(outside, 1, 1, edns);
        for reply in [
            udp_exchange(SHARED.addr, &packet).unwrap(),
            tcp_exchange(SHARED.addr, &packet),
        ] {
            assert_eq!(parse(&reply).metadata.response_code, ResponseCode::Refused);
            assert_eq!(extended_error(&reply), Some(20));
        }
    }
    let plain = udp_exchange(SHARED.addr, &raw_query(outside, 1, 1, None)).unwrap();
    assert!(parse(&plain).edns.is_none(), "no OPT without EDNS");
    let inside = raw_query(
        &[b"443", b"tcp", b"ports", b"local"],
        TXT,
        1,
        Some((0, &[])),
    );
    assert_eq!(
        extended_error(&udp_exchange(SHARED.addr, &inside).unwrap()),
        None
    );
    for tool in ["dig", "kdig"] {
        let out = run_tool(tool, SHARED.addr, &["+edns", "A", "example.com"]);
        assert!(out.contains("EDE: 20 (Not Authoritative)"), "{tool}: {out}");
    }
}

fn identity_server(identity: Identity) -> TestServer {
    let settings = Settings {
        policy: Policy {
            identity,
            ..Policy::default()
        },
        ..Settings::new(DataLocation::Builtin)
    };
    TestServer::start_settings(test_zone(), builtin_table(), settings)
}

#[test]
fn chaos_names_give_identity_and_version_and_nsid_comes_when_asked() {
    let server = identity_server(Identity {
        identity: Some("ns-test-7".into()),
        version: Some("portsd test".into()),
        nsid: Some(b"instance-7".to_vec()),
    });
    for (name, want) in [
        ("id.server", "\"ns-test-7\""),
        ("HOSTNAME.bind", "\"ns-test-7\""),
        ("version.bind", "\"portsd test\""),
        ("version.server", "\"portsd test\""),
    ] {
        for transport in ["+notcp", "+tcp"] {
            let out = run_tool("dig", server.addr, &[transport, "CH", "TXT", name]);
            assert!(out.contains("status: NOERROR"), "{out}");
            assert!(
                out.contains(&format!("0\tCH\tTXT\t{want}")),
                "{name}: {out}"
            );
            assert!(out.contains("flags: qr rd;"), "not authoritative: {out}");
        }
    }
    for refused in [
        &["CH", "A", "id.server"][..],
        &["CH", "TXT", "authors.bind"],
        &["CH", "TXT", "ports.local"],
    ] {
        let out = run_tool("dig", server.addr, refused);
        assert!(out.contains("status: REFUSED"), "{refused:?}: {out}");
    }
    let nsid = run_tool("dig", server.addr, &["+nsid", "TXT", "443.tcp.ports.local"]);
    assert!(
        nsid.contains("NSID: 69 6e 73 74 61 6e 63 65 2d 37 (\"instance-7\")"),
        "{nsid}"
    );
    let out = run_tool("kdig", server.addr, &["+nsid", "CH", "TXT", "id.server"]);
    assert!(
        out.contains("NSID: 696E7374616E63652D37 \"instance-7\""),
        "{out}"
    );
    assert!(out.contains("\"ns-test-7\""), "{out}");
    let out = run_tool(
        "dig",
        server.addr,
        &["+nsid", "+edns=1", "+noednsneg", "TXT", "ports.local"],
    );
    assert!(
        out.contains("status: BADVERS") && out.contains("(\"instance-7\")"),
        "{out}"
    );
    let unasked = run_tool("dig", server.addr, &["TXT", "443.tcp.ports.local"]);
    assert!(unasked.contains("status: NOERROR"), "{unasked}");
    assert!(!unasked.contains("NSID"), "{unasked}");
}

#[test]
fn hidden_chaos_names_are_refused_and_nsid_is_off_by_default() {
    let server = identity_server(Identity {
        identity: None,
        version: None,
        nsid: None,
    });
    for name in [
        "id.server",
        "hostname.bind",
        "version.bind",
        "version.server",
    ] {
        let out = run_tool("dig", server.addr, &["CH", "TXT", name]);
        assert!(out.contains("status: REFUSED"), "{name}: {out}");
        assert!(out.contains("EDE: 18 (Prohibited)"), "{name}: {out}");
    }
    let out = run_tool("dig", SHARED.addr, &["+nsid", "CH", "TXT", "id.server"]);
    let host = portsd::pipeline::identity::host_name();
    assert!(
        out.contains(&format!("TXT\t\"{host}\"")),
        "the host name by default: {out}"
    );
    assert!(!out.contains("NSID"), "{out}");
    let version = run_tool("kdig", SHARED.addr, &["CH", "TXT", "version.bind"]);
    let want = format!("\"portsd {}\"", env!("CARGO_PKG_VERSION"));
    assert!(version.contains(&want), "{version}");
}

#[test]
fn qclass_any_is_answered_from_the_zone_and_refused_transfers_carry_no_aa() {
    let addr = SHARED.addr;
    let labels: &[&[u8]] = &[b"443", b"tcp", b"ports", b"local"];
    for reply in both_ways(addr, &raw_query(labels, TXT, ANY, None)) {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(
            reply.metadata.authoritative,
            "one class served: complete, as Knot"
        );
        assert_eq!(txt_answers(&reply).len(), 1, "{reply:?}");
        assert_eq!(reply.answers[0].dns_class, DNSClass::IN);
    }
    // No --allow-transfer: AXFR over UDP is NOTIMP all the same, IXFR REFUSED; neither AA.
    let apex: &[&[u8]] = &[b"ports", b"local"];
    let udp_axfr = parse(&udp_exchange(addr, &raw_query(apex, 252, 1, None)).unwrap());
    assert_eq!(udp_axfr.metadata.response_code, ResponseCode::NotImp);
    for qtype in [252, 251] {
        let reply = parse(&tcp_exchange(addr, &raw_query(apex, qtype, 1, None)));
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
        assert!(
            !reply.metadata.authoritative,
            "refused transfers carry no AA"
        );
    }
}

#[test]
fn formerr_for_a_broken_opt_record_echoes_the_question() {
    let labels: &[&[u8]] = &[b"443", b"tcp", b"ports", b"local"];
    // An option header cut short, and an option longer than the OPT record.
    for options in [&[0u8, 3, 0][..], &[0, 3, 0, 9, 1]] {
        for reply in both_ways(SHARED.addr, &raw_query(labels, TXT, 1, Some((0, options)))) {
            assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
            assert_eq!(
                reply.queries.len(),
                1,
                "the question is echoed, as Knot does"
            );
            assert!(
                reply.edns.is_none(),
                "an OPT record portsd could not read is not echoed"
            );
        }
    }
}
