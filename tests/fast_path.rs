//! The UDP fast path answers byte for byte what the general hickory path answers, over a large
//! sample of names, types, EDNS sizes, case variations, truncation and error answers.

mod common;

use std::net::SocketAddr;

use common::{SAMPLE_SERVICES, table_with_services, test_zone};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::net::xfer::Protocol;
use portsd::serve::{DataLocation, Server, Settings};

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

#[tokio::test]
async fn fast_path_matches_the_general_path_byte_for_byte() {
    let table = table_with_services(SAMPLE_SERVICES);
    let mut names: Vec<String> = vec![
        "ports.local.".into(),
        "ns.ports.local.".into(),
        "tcp.ports.local.".into(),
        "dccp.ports.local.".into(),
        "x.443.tcp.ports.local.".into(),
        "nosuch.ports.local.".into(),
        "99999.udp.ports.local.".into(),
        "0443.tcp.ports.local.".into(),
        "example.com.".into(),
        "local.".into(),
        "z39.50.tcp.ports.local.".into(),
    ];
    // The help, search and services-database names, each asked with many types.
    for name in [
        "help.ports.local.",
        "search.ports.local.",
        "minecraft.search.ports.local.",
        "postgres.search.ports.local.",
        "java.minecraft.search.ports.local.",
        "http.search.ports.local.",
        "server.search.ports.local.",
        "nosuchword.search.ports.local.",
        "a.nosuchword.search.ports.local.",
        "search.tcp.ports.local.",
        "whois.tcp.ports.local.",
        "whois.ports.local.",
        "x11-1.tcp.ports.local.",
        "kdc.ports.local.",
        "sip-tls.ports.local.",
    ] {
        names.extend(std::iter::repeat_n(name.to_owned(), 12));
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
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for service in services.iter().step_by(3) {
        names.push(format!("{service}.ports.local."));
        names.push(format!(
            "{service}.{}.ports.local.",
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
            0 => names.push(format!("{port}.ports.local.")),
            n => names.push(format!(
                "{port}.{}.ports.local.",
                ["tcp", "udp", "sctp", "dccp"][n - 1]
            )),
        }
    }
    // Ports whose answer on every protocol is large, so that truncation shows up.
    for port in 0..=u16::MAX {
        let mut ids = Vec::new();
        for protocol in portsd::core::model::Protocol::ALL {
            table.port_entries(protocol, port, &mut ids);
        }
        if ids.iter().map(|&id| table.rdata(id).len()).sum::<usize>() > 450 {
            names.push(format!("{port}.ports.local."));
        }
    }
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
    let server = Server::new(test_zone(), table, Settings::new(DataLocation::Builtin));
    let src: SocketAddr = "127.0.0.1:5555".parse().unwrap();
    let (mut compared, mut truncated) = (0, 0);
    for (i, name) in names.iter().enumerate() {
        let name = mixed_case(name, &mut rng);
        let rtype = types[rng.below(types.len())];
        let Some(query) = packet(i as u16, &name, rtype, edns[rng.below(edns.len())]) else {
            continue;
        };
        let mut fast = Vec::new();
        assert!(
            server.fast_response(&query, &mut fast),
            "{name} {rtype} takes the fast path"
        );
        let general = server
            .general_response(&query, src, Protocol::Udp)
            .await
            .expect("an answer");
        assert_eq!(
            fast, general,
            "{name} {rtype}: fast {fast:02x?} general {general:02x?}"
        );
        compared += 1;
        truncated += usize::from(fast[2] & 0x02 != 0);
    }
    assert!(compared > 7000, "{compared} compared");
    assert!(
        truncated > 10,
        "the sample includes truncation ({truncated})"
    );
}
