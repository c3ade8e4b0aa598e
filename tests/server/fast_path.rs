//! The fast path (the request's view alone) answers byte for byte what the general path
//! (hickory's parse of the same message) answers, both written by portsd's one response
//! writer, and hickory reads every answer back; over a large
//! sample of names, types, EDNS sizes, case variations, truncation and error answers, on both
//! transports, for several shapes of zone: the default, a name server outside the zone, several
//! glue addresses of both families, a zone name so long that port names come near 255 octets,
//! and another TTL.

use std::net::SocketAddr;

use std::sync::Arc;

use crate::common::{SAMPLE_SERVICES, table_with_services};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use portsd::config::ZoneArgs;
use portsd::core::table::Table;
use portsd::core::zone::Zone;
use portsd::metrics::Metrics;
use portsd::pipeline::{Pipeline, Policy};
use portsd::transport::Transport;

/// A small deterministic generator (xorshift), so the sample is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mixed_case(name: &str, rng: &mut Rng) -> String {
    name.chars()
        .map(|c| {
            if rng.below(2) == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn packet(id: u16, name: &str, rtype: RecordType, edns: Option<(u16, bool)>) -> Option<Vec<u8>> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = id.is_multiple_of(2);
    message.metadata.checking_disabled = id.is_multiple_of(5);
    let mut query = Query::query(Name::from_ascii(name).ok()?, rtype);
    query.set_query_class(DNSClass::IN);
    message.add_query(query);
    if let Some((size, dnssec_ok)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(dnssec_ok);
        message.edns = Some(e);
    }
    message.to_vec().ok()
}

/// The names asked in `zone` (written `apex`, with its trailing dot): the apex and its special
/// names, errors, a third of the service names, thousands of random ports, and every port whose
/// answer on all protocols is large enough to be truncated over UDP.
fn sample_names(table: &Table, apex: &str, rng: &mut Rng) -> Vec<String> {
    let mut names: Vec<String> = [
        "",
        "ns.",
        "tcp.",
        "dccp.",
        "x.443.tcp.",
        "nosuch.",
        "99999.udp.",
        "0443.tcp.",
        "z39.50.tcp.",
    ]
    .iter()
    .map(|prefix| format!("{prefix}{apex}"))
    .collect();
    names.extend(["example.com.".to_owned(), "local.".to_owned()]);
    // The help, search and services-database names, each asked many times (so with many
    // types and EDNS sizes).
    for prefix in [
        "help.",
        "search.",
        "minecraft.search.",
        "postgres.search.",
        "java.minecraft.search.",
        "http.search.",
        "server.search.",
        "nosuchword.search.",
        "a.nosuchword.search.",
        "search.tcp.",
        "whois.tcp.",
        "whois.",
        "x11-1.tcp.",
        "kdc.",
        "sip-tls.",
    ] {
        names.extend(std::iter::repeat_n(format!("{prefix}{apex}"), 12));
    }
    let mut services: Vec<String> = table
        .service_names()
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
        .map(str::to_owned)
        .collect();
    services.sort();
    for service in services.iter().step_by(3) {
        names.push(format!("{service}.{apex}"));
        names.push(format!(
            "{service}.{}.{apex}",
            ["tcp", "udp", "sctp", "dccp"][rng.below(4)]
        ));
    }
    for _ in 0..6000 {
        let port = if rng.below(3) == 0 {
            rng.below(1024)
        } else {
            rng.below(65536)
        };
        match rng.below(5) {
            0 => names.push(format!("{port}.{apex}")),
            n => names.push(format!(
                "{port}.{}.{apex}",
                ["tcp", "udp", "sctp", "dccp"][n - 1]
            )),
        }
    }
    for port in 0..=u16::MAX {
        let mut ids = Vec::new();
        for protocol in portsd::core::model::Protocol::ALL {
            table.port_entries(protocol, port, &mut ids);
        }
        if ids.iter().map(|&id| table.rdata(id).len()).sum::<usize>() > 450 {
            names.push(format!("{port}.{apex}"));
        }
    }
    names
}

/// Asks every sample name of `zone` over both transports and compares the two paths. Returns
/// how many answers were compared and how many of them were truncated.
fn compare_paths(args: ZoneArgs) -> (usize, usize) {
    let zone: Zone = args.resolve_one(&[]).expect("a valid zone").0;
    let apex = format!("{}.", zone.display_name());
    let table = table_with_services(SAMPLE_SERVICES);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let names = sample_names(&table, &apex, &mut rng);
    let types = [
        RecordType::TXT,
        RecordType::TXT,
        RecordType::TXT,
        RecordType::A,
        RecordType::AAAA,
        RecordType::SOA,
        RecordType::NS,
        RecordType::ANY,
        RecordType::MX,
        RecordType::AXFR,
    ];
    let edns = [
        None,
        Some((512, false)),
        Some((1232, false)),
        Some((4096, true)),
        Some((700, false)),
        Some((100, false)),
    ];
    let pipeline = Pipeline::new(zone, table, 7, Policy::default(), Arc::new(Metrics::new()));
    let client: SocketAddr = "127.0.0.1:5555".parse().unwrap();
    let (mut compared, mut truncated) = (0, 0);
    // The apex's ZONEMD (type 63, which hickory 0.26 does not know) at every EDNS size, then
    // the random sample.
    let apex_digests = edns
        .iter()
        .map(|&e| (apex.clone(), RecordType::Unknown(63), e));
    let sample = names.iter().map(|name| {
        let name = mixed_case(name, &mut rng);
        let rtype = types[rng.below(types.len())];
        (name, rtype, edns[rng.below(edns.len())])
    });
    let questions: Vec<_> = apex_digests.chain(sample).collect();
    for (i, (name, rtype, edns)) in questions.into_iter().enumerate() {
        // Names past 255 octets (with a long zone) cannot be asked at all.
        let Some(query) = packet(i as u16, &name, rtype, edns) else {
            continue;
        };
        for transport in [Transport::Udp, Transport::Tcp] {
            let mut fast = Vec::new();
            assert!(
                pipeline.fast_response(&query, transport, &mut fast),
                "{name} {rtype} takes the fast path"
            );
            let general = pipeline
                .general_response(&query, client, transport)
                .unwrap_or_else(|| panic!("{name} {rtype} {transport:?}: no general answer"));
            assert_eq!(
                fast, general,
                "{name} {rtype} {transport:?}: fast {fast:02x?} general {general:02x?}"
            );
            let read = Message::from_vec(&fast)
                .unwrap_or_else(|e| panic!("{name} {rtype} {transport:?}: hickory: {e}"));
            assert_eq!(read.metadata.id, i as u16, "{name} {rtype}");
            compared += 1;
            truncated += usize::from(read.metadata.truncation);
        }
    }
    (compared, truncated)
}

#[test]
fn fast_path_matches_the_general_path_in_the_default_zone() {
    let (compared, truncated) = compare_paths(ZoneArgs::default());
    assert!(compared > 14_000, "{compared} compared");
    assert!(
        truncated > 10,
        "the sample includes truncation ({truncated})"
    );
}

#[test]
fn fast_path_matches_with_the_name_server_outside_the_zone() {
    let (compared, _) = compare_paths(ZoneArgs {
        zone: Some(vec!["ports.internal".into()]),
        ns_name: Some("ns1.example.net".into()),
        ns_address: vec!["192.0.2.53".parse().unwrap()],
        ..ZoneArgs::default()
    });
    assert!(compared > 14_000, "{compared} compared");
}

#[test]
fn fast_path_matches_with_several_glue_addresses_and_another_ttl() {
    let (compared, _) = compare_paths(ZoneArgs {
        zone: Some(vec!["Ports.Example.ORG".into()]),
        ttl: Some(86_399),
        ns_address: [
            "192.0.2.1",
            "2001:db8::53",
            "198.51.100.7",
            "2001:db8::1:53",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect(),
        ..ZoneArgs::default()
    });
    assert!(compared > 14_000, "{compared} compared");
}

#[test]
fn fast_path_matches_when_names_come_near_255_octets() {
    // 3 labels of 63 and one of 31: 224 octets with the root, so `65535.dccp.` reaches 235
    // and long service names pass 255 (those cannot be asked, and are skipped).
    let long = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(31));
    let (compared, truncated) = compare_paths(ZoneArgs {
        zone: Some(vec![long]),
        ..ZoneArgs::default()
    });
    assert!(compared > 14_000, "{compared} compared");
    assert!(truncated > 10, "long names truncate sooner ({truncated})");
}
