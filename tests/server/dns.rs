//! The DNS rules an authoritative server follows, over real loopback sockets: hickory's client, raw packets, and the
//! real `dig` and `kdig`.

use crate::common::*;
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

fn addr() -> std::net::SocketAddr {
    SHARED.addr
}

async fn hickory_client(tcp: bool) -> Client<TokioRuntimeProvider> {
    hickory(addr(), tcp).await
}

async fn ask(tcp: bool, name: &str, rtype: RecordType) -> Message {
    let mut client = hickory_client(tcp).await;
    client
        .query(Name::from_ascii(name).unwrap(), DNSClass::IN, rtype)
        .await
        .expect("an answer")
        .into_message()
}

#[tokio::test]
async fn port_on_protocol_answers_over_udp_and_tcp_with_hickory() {
    for tcp in [false, true] {
        let answer = ask(tcp, "443.tcp.ports.local.", RecordType::TXT).await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert!(answer.metadata.authoritative, "AA on answers from the zone");
        assert!(!answer.metadata.recursion_available);
        let texts = txt_answers(&answer);
        assert!(
            texts
                .iter()
                .any(|t| t
                    .starts_with("443 | tcp | Yes | https | Hypertext Transfer Protocol Secure")),
            "{texts:?}"
        );
        assert!(
            texts.iter().all(|t| t.split(" | ").nth(1) == Some("tcp")),
            "{texts:?}"
        );
    }
}

#[tokio::test]
async fn port_9_udp_has_two_uses() {
    let texts = txt_answers(&ask(false, "9.udp.ports.local.", RecordType::TXT).await);
    assert_eq!(
        texts,
        [
            "9 | udp | Yes | discard | Discard Protocol",
            "9 | udp | Unofficial | - | Wake-on-LAN"
        ]
    );
}

#[tokio::test]
async fn port_on_every_protocol_and_service_names() {
    let all = txt_answers(&ask(false, "443.ports.local.", RecordType::TXT).await);
    for proto in ["tcp", "udp", "sctp"] {
        assert!(
            all.iter()
                .any(|t| t.starts_with(&format!("443 | {proto} |"))),
            "{all:?}"
        );
    }
    let https_tcp = txt_answers(&ask(false, "https.tcp.ports.local.", RecordType::TXT).await);
    assert!(!https_tcp.is_empty());
    assert!(
        https_tcp.iter().all(|t| t.starts_with("443 | tcp |")),
        "{https_tcp:?}"
    );
    let https = txt_answers(&ask(true, "https.ports.local.", RecordType::TXT).await);
    assert!(
        https.iter().any(|t| t.starts_with("443 | udp |")),
        "{https:?}"
    );
}

/// The first port in `range` with no known use on `protocol`.
fn unlisted_port(
    protocol: portsd::core::model::Protocol,
    range: std::ops::RangeInclusive<u16>,
) -> u16 {
    let table = builtin_table();
    range
        .into_iter()
        .find(|&port| {
            let mut ids = Vec::new();
            table.port_entries(protocol, port, &mut ids);
            ids.is_empty()
        })
        .expect("an unlisted port")
}

#[tokio::test]
async fn unknown_ports_exist_and_name_their_range() {
    use portsd::core::model::Protocol;
    for (protocol, ports, range) in [
        (Protocol::Tcp, 0..=1023, "system port range 0-1023"),
        (Protocol::Dccp, 1024..=49151, "user port range 1024-49151"),
        (
            Protocol::Sctp,
            49152..=65535,
            "dynamic/private port range 49152-65535",
        ),
    ] {
        let name = &format!("{}.{protocol}.ports.local.", unlisted_port(protocol, ports));
        let answer = ask(false, name, RecordType::TXT).await;
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NoError,
            "{name}"
        );
        let texts = txt_answers(&answer);
        assert_eq!(texts.len(), 1, "{name}: {texts:?}");
        assert!(
            texts[0].contains("Unassigned") && texts[0].contains(range),
            "{texts:?}"
        );
    }
}

fn soa_serial(message: &Message) -> Option<u32> {
    message.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

#[tokio::test]
async fn negative_answers_carry_the_soa() {
    let nx = ask(false, "nosuchservice.tcp.ports.local.", RecordType::TXT).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authoritative);
    assert!(soa_serial(&nx).is_some(), "NXDOMAIN has the SOA");
    let soa = nx.authorities[0].clone();
    assert_eq!(soa.name, Name::from_ascii("ports.local.").unwrap());
    assert_eq!(soa.ttl, 3600, "negative TTL = min(SOA TTL, MINIMUM)");

    let nodata = ask(false, "443.tcp.ports.local.", RecordType::A).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert!(soa_serial(&nodata).is_some(), "NODATA has the SOA");

    let bad_port = ask(false, "99999.tcp.ports.local.", RecordType::TXT).await;
    assert_eq!(bad_port.metadata.response_code, ResponseCode::NXDomain);
    let deeper = ask(false, "x.443.tcp.ports.local.", RecordType::TXT).await;
    assert_eq!(deeper.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn protocol_labels_are_empty_non_terminals() {
    for proto in ["tcp", "udp", "sctp", "dccp"] {
        let answer = ask(false, &format!("{proto}.ports.local."), RecordType::TXT).await;
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NoError,
            "{proto}"
        );
        assert!(answer.answers.is_empty());
        assert!(soa_serial(&answer).is_some());
        assert!(answer.metadata.authoritative);
    }
}

#[tokio::test]
async fn apex_has_soa_ns_glue_and_a_description() {
    let soa = ask(false, "ports.local.", RecordType::SOA).await;
    assert!(matches!(soa.answers[0].data, RData::SOA(_)));
    let ns = ask(false, "ports.local.", RecordType::NS).await;
    assert!(
        matches!(&ns.answers[0].data, RData::NS(n) if n.0 == Name::from_ascii("ns.ports.local.").unwrap())
    );
    assert!(
        ns.additionals
            .iter()
            .any(|r| matches!(r.data, RData::A(a) if a.0 == std::net::Ipv4Addr::LOCALHOST)),
        "glue for the in-zone NS name"
    );
    let glue = ask(false, "ns.ports.local.", RecordType::A).await;
    assert_eq!(glue.answers.len(), 1);
    let about = txt_answers(&ask(false, "ports.local.", RecordType::TXT).await);
    assert!(
        about[0].starts_with("portsd | zone ports.local | serial "),
        "{about:?}"
    );
    assert!(about[0].contains("iana"), "{about:?}");
    let minimal = ask(false, "ports.local.", RecordType::SOA).await;
    assert!(
        minimal.additionals.is_empty(),
        "no additional records that were not needed"
    );
}

#[tokio::test]
async fn outside_the_zone_is_refused() {
    for name in ["example.com.", "local.", "ports.localx."] {
        let answer = ask(false, name, RecordType::TXT).await;
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::Refused,
            "{name}"
        );
        assert!(!answer.metadata.authoritative);
        assert!(answer.answers.is_empty());
    }
}

fn rcode_of(bytes: &[u8]) -> u8 {
    bytes[3] & 0x0F
}

#[test]
fn other_opcodes_get_notimp_and_notify_refused() {
    // NOTIFY (4) is REFUSED, as NSD answers it: portsd is the primary.
    for (opcode, rcode) in [(1u8, 4), (2, 4), (4, 5), (5, 4)] {
        let mut packet = query(7, "443.tcp.ports.local.", RecordType::TXT, None);
        packet[2] = (packet[2] & 0x87) | (opcode << 3);
        let reply = udp_exchange(addr(), &packet).expect("an answer");
        assert_eq!(rcode_of(&reply), rcode, "opcode {opcode}");
        assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), 7);
    }
}

#[test]
fn question_counts_other_than_one_get_formerr() {
    let mut none = query(8, "443.tcp.ports.local.", RecordType::TXT, None);
    none.truncate(12);
    none[5] = 0;
    let reply = udp_exchange(addr(), &none).expect("an answer");
    assert_eq!(rcode_of(&reply), 1);

    let mut two =
        Message::from_vec(&query(9, "443.tcp.ports.local.", RecordType::TXT, None)).unwrap();
    let again = two.queries[0].clone();
    two.add_query(again);
    let reply = udp_exchange(addr(), &two.to_vec().unwrap()).expect("an answer");
    assert_eq!(rcode_of(&reply), 1);
    assert_eq!(rcode_of(&tcp_exchange(addr(), &two.to_vec().unwrap())), 1);
}

#[test]
fn unknown_edns_version_gets_badvers() {
    let mut message = Message::from_vec(&query(
        10,
        "443.tcp.ports.local.",
        RecordType::TXT,
        Some(1232),
    ))
    .unwrap();
    message.edns.as_mut().unwrap().set_version(1);
    let reply = parse(&udp_exchange(addr(), &message.to_vec().unwrap()).expect("an answer"));
    assert_eq!(u16::from(reply.metadata.response_code), 16, "BADVERS");
    assert_eq!(reply.edns.as_ref().map(|e| e.version()), Some(0));
}

#[test]
fn garbage_gets_formerr_or_silence_and_the_next_query_is_answered() {
    let garbage: [&[u8]; 4] = [
        b"",
        b"\x00\x01",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff",
        &[0xAB; 300],
    ];
    for packet in garbage {
        if let Some(reply) = udp_exchange(addr(), packet) {
            assert_eq!(rcode_of(&reply), 1, "{packet:?}");
        }
        let next = udp_exchange(
            addr(),
            &query(11, "22.tcp.ports.local.", RecordType::TXT, None),
        )
        .expect("still answering");
        assert_eq!(rcode_of(&next), 0);
    }
}

#[test]
fn question_case_is_echoed_exactly() {
    let name = "443.TcP.PoRtS.LoCaL.";
    for tcp in [false, true] {
        let packet = query(12, name, RecordType::TXT, Some(1232));
        let reply = if tcp {
            tcp_exchange(addr(), &packet)
        } else {
            udp_exchange(addr(), &packet).unwrap()
        };
        assert_eq!(
            &reply[12..12 + name.len() + 1],
            &packet[12..12 + name.len() + 1],
            "tcp={tcp}"
        );
        let message = parse(&reply);
        assert_eq!(message.queries[0].name().to_ascii(), name);
        assert_eq!(
            message.answers[0].name.to_ascii(),
            name,
            "answers carry the name as asked"
        );
    }
}

#[test]
fn edns_is_echoed_and_plain_queries_get_none() {
    let with = parse(
        &udp_exchange(
            addr(),
            &query(13, "22.tcp.ports.local.", RecordType::TXT, Some(4096)),
        )
        .unwrap(),
    );
    assert_eq!(with.edns.as_ref().map(|e| e.max_payload()), Some(1232));
    let without = parse(
        &udp_exchange(
            addr(),
            &query(14, "22.tcp.ports.local.", RecordType::TXT, None),
        )
        .unwrap(),
    );
    assert!(without.edns.is_none());
}

/// A port whose uses on every protocol take more than 1232 bytes of text.
fn large_port() -> String {
    let table = builtin_table();
    let port = (0..=u16::MAX)
        .find(|&port| {
            let mut ids = Vec::new();
            for protocol in portsd::core::model::Protocol::ALL {
                table.port_entries(protocol, port, &mut ids);
            }
            ids.iter()
                .map(|&id| table.rdata(id).len() + 12)
                .sum::<usize>()
                > 1232
        })
        .expect("a port with a large answer");
    format!("{port}.ports.local.")
}

#[test]
fn large_answers_truncate_on_udp_and_come_whole_over_tcp() {
    let name = &large_port();
    let plain = udp_exchange(addr(), &query(15, name, RecordType::TXT, None)).unwrap();
    assert!(plain.len() <= 512);
    let plain = parse(&plain);
    assert!(plain.metadata.truncation, "TC without EDNS");
    assert!(plain.answers.is_empty());
    let small = udp_exchange(addr(), &query(16, name, RecordType::TXT, Some(600))).unwrap();
    assert!(small.len() <= 600);
    let big = parse(&udp_exchange(addr(), &query(17, name, RecordType::TXT, Some(4096))).unwrap());
    let whole = parse(&tcp_exchange(
        addr(),
        &query(18, name, RecordType::TXT, None),
    ));
    assert!(!whole.metadata.truncation);
    assert!(whole.answers.len() >= 4);
    assert!(
        big.metadata.truncation && big.answers.is_empty(),
        "over 1232 bytes even with EDNS 4096"
    );
    assert!(parse(&small).metadata.truncation);
}

#[test]
fn tcp_serves_several_queries_per_connection() {
    let mut stream = tcp_connect(addr());
    for id in 0..5u16 {
        tcp_send(
            &mut stream,
            &query(100 + id, "22.tcp.ports.local.", RecordType::TXT, None),
        );
    }
    for id in 0..5u16 {
        let reply = tcp_receive(&mut stream).expect("pipelined answer");
        assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), 100 + id);
    }
}

#[test]
fn tcp_idle_connections_are_closed() {
    let table = builtin_table();
    let limits = portsd::serve::TcpLimits {
        idle_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let server = TestServer::start_with(
        test_zone(),
        table,
        portsd::serve::DataLocation::Builtin,
        limits,
    );
    let mut stream = tcp_connect(server.addr);
    assert!(
        closed_by_server(&mut stream, REPLY_TIMEOUT),
        "closed by the server's idle timeout within {REPLY_TIMEOUT:?}"
    );
}

#[test]
fn long_and_utf8_text_survives_byte_for_byte() {
    let table = builtin_table();
    let (id, entry) = table
        .entries()
        .iter()
        .enumerate()
        .find(|(_, e)| !e.description.is_ascii() && e.description.len() > 60)
        .expect("the data has non-ASCII descriptions");
    let _ = id;
    let name = format!("{}.{}.ports.local.", entry.ports.first, entry.protocol);
    let reply = parse(&tcp_exchange(
        addr(),
        &query(19, &name, RecordType::TXT, None),
    ));
    let texts = txt_answers(&reply);
    assert!(
        texts.iter().any(|t| t.contains(&entry.description)),
        "{texts:?}"
    );

    let long = table
        .entries()
        .iter()
        .find(|e| portsd::core::txt::entry_text(e).len() > 255)
        .expect("some text is longer than 255 bytes");
    let name = format!("{}.{}.ports.local.", long.ports.first, long.protocol);
    let reply = parse(&tcp_exchange(
        addr(),
        &query(20, &name, RecordType::TXT, None),
    ));
    let record = reply
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::TXT(txt) if txt.txt_data.len() > 1 => Some(txt.clone()),
            _ => None,
        })
        .expect("a record split across character-strings");
    assert!(record.txt_data.iter().all(|s| s.len() <= 255));
    let joined: Vec<u8> = record
        .txt_data
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    assert_eq!(joined, portsd::core::txt::entry_text(long).into_bytes());
}

#[test]
fn dig_reads_answers_flags_and_negative_soa() {
    let out = run_tool("dig", addr(), &["+short", "TXT", "443.tcp.ports.local"]);
    assert!(out.contains("\"443 | tcp | Yes | https |"), "{out}");
    let full = run_tool("dig", addr(), &["TXT", "443.tcp.ports.local"]);
    assert!(full.contains("flags: qr aa rd;"), "{full}");
    let nx = run_tool("dig", addr(), &["TXT", "99999.tcp.ports.local"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");
    assert!(
        nx.contains("IN\tSOA\tns.ports.local. hostmaster.ports.local."),
        "{nx}"
    );
    let ent = run_tool("dig", addr(), &["TXT", "tcp.ports.local"]);
    assert!(
        ent.contains("status: NOERROR") && ent.contains("ANSWER: 0"),
        "{ent}"
    );
    let refused = run_tool("dig", addr(), &["TXT", "example.com"]);
    assert!(refused.contains("status: REFUSED"), "{refused}");
    let badvers = run_tool(
        "dig",
        addr(),
        &["+edns=1", "+noednsneg", "TXT", "443.tcp.ports.local"],
    );
    assert!(badvers.contains("status: BADVERS"), "{badvers}");
    let notimp = run_tool(
        "dig",
        addr(),
        &["+opcode=status", "TXT", "443.tcp.ports.local"],
    );
    assert!(notimp.contains("status: NOTIMP"), "{notimp}");
}

#[test]
fn dig_falls_back_to_tcp_on_truncation() {
    let name = large_port();
    let out = run_tool("dig", addr(), &["+noedns", "TXT", &name]);
    assert!(out.contains("Truncated, retrying in TCP"), "{out}");
    assert!(out.contains("(TCP)"), "{out}");
    assert!(
        out.contains("status: NOERROR") && !out.contains("ANSWER: 0"),
        "{out}"
    );
    let ignore = run_tool("dig", addr(), &["+noedns", "+ignore", "TXT", &name]);
    assert!(ignore.contains(" tc "), "{ignore}");
}

#[test]
fn kdig_over_udp_and_tcp_with_mixed_case() {
    for transport in ["+notcp", "+tcp"] {
        let out = run_tool("kdig", addr(), &[transport, "TXT", "22.TCP.Ports.Local"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(out.contains("Flags: qr aa rd"), "{out}");
        assert!(out.contains("22 | tcp | Yes | ssh |"), "{out}");
    }
    let nx = run_tool("kdig", addr(), &["TXT", "nonexistent-thing.ports.local"]);
    assert!(
        nx.contains("status: NXDOMAIN") && nx.contains("SOA"),
        "{nx}"
    );
}

/// A server answering from the compiled-in data joined with [`SAMPLE_SERVICES`].
static WITH_SERVICES: std::sync::LazyLock<TestServer> = std::sync::LazyLock::new(|| {
    TestServer::start_with(
        test_zone(),
        table_with_services(SAMPLE_SERVICES),
        portsd::serve::DataLocation::Builtin,
        portsd::serve::TcpLimits::default(),
    )
});

/// The TXT texts and response code for `name` from `server`, over TCP (search and services
/// answers may exceed a UDP answer's size).
fn tcp_texts(server: std::net::SocketAddr, name: &str) -> (ResponseCode, Vec<String>) {
    let response = parse(&tcp_exchange(
        server,
        &query(7, name, RecordType::TXT, None),
    ));
    (response.metadata.response_code, txt_answers(&response))
}

#[tokio::test]
async fn keyword_search_answers_best_first_over_udp_and_tcp() {
    for tcp in [false, true] {
        let answer = ask(tcp, "Minecraft.search.ports.local.", RecordType::TXT).await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert!(answer.metadata.authoritative);
        let texts = txt_answers(&answer);
        assert!((1..=10).contains(&texts.len()), "{texts:?}");
        assert!(texts.iter().all(|t| t.contains("Minecraft")), "{texts:?}");
        let starting = texts
            .iter()
            .take_while(|t| t.contains(" | Minecraft"))
            .count();
        assert!(
            starting >= 5
                && texts[starting..]
                    .iter()
                    .all(|t| !t.contains(" | Minecraft")),
            "descriptions starting with the word come first: {texts:?}"
        );
    }
    // Exact service name first, then names it starts, then description words.
    let (_, postgres) = tcp_texts(addr(), "postgres.search.ports.local.");
    assert!(postgres.len() <= 10);
    assert!(
        postgres[0].starts_with("1 | 5432 | tcp | Yes | postgresql |"),
        "{postgres:?}"
    );
    let (_, both) = tcp_texts(addr(), "java.minecraft.search.ports.local.");
    let full = both
        .iter()
        .take_while(|t| t.contains("Minecraft (Java Edition)"))
        .count();
    assert!(
        full >= 4 && both[full..].iter().all(|t| !t.contains("(Java Edition)")),
        "uses matching every word first, then those matching some: {both:?}"
    );
    let (_, wireguard) = tcp_texts(addr(), "WIREGUARD.search.ports.local.");
    assert_eq!(
        wireguard,
        ["1 | 51820 | udp | Unofficial | - | WireGuard protocol"]
    );
    let (_, many) = tcp_texts(addr(), "server.search.ports.local.");
    assert_eq!(many.len(), 10, "at most ten uses");
    let distinct: std::collections::HashSet<&String> = many.iter().collect();
    assert_eq!(distinct.len(), many.len(), "each a distinct use: {many:?}");
}

#[tokio::test]
async fn no_match_is_nxdomain_with_the_search_zone_soa() {
    for tcp in [false, true] {
        let answer = ask(tcp, "nosuchwordatall.search.ports.local.", RecordType::TXT).await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
        assert!(answer.metadata.authoritative);
        let soa = &answer.authorities[0];
        assert_eq!(soa.record_type(), RecordType::SOA);
        assert_eq!(soa.name.to_ascii(), "search.ports.local.");
    }
    // A match asked with another type is NODATA, the same SOA in authority.
    let nodata = ask(false, "minecraft.search.ports.local.", RecordType::A).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.authorities[0].name.to_ascii(), "search.ports.local.");
    // The search zone's apex: SOA and NS, so resolvers following the delegation find a zone.
    let soa = ask(false, "search.ports.local.", RecordType::SOA).await;
    assert_eq!(soa.answers[0].record_type(), RecordType::SOA);
    let ns = ask(true, "search.ports.local.", RecordType::NS).await;
    assert_eq!(
        ns.answers[0].data,
        RData::NS(hickory_proto::rr::rdata::NS(
            Name::from_ascii("ns.ports.local.").unwrap()
        ))
    );
    assert_eq!(ns.additionals[0].record_type(), RecordType::A, "glue");
    // dig sees the same.
    let dig = run_tool(
        "dig",
        addr(),
        &["+short", "TXT", "wireguard.search.ports.local"],
    );
    assert_eq!(
        dig,
        "\"1 | 51820 | udp | Unofficial | - | WireGuard protocol\"\n"
    );
    let dig = run_tool(
        "dig",
        addr(),
        &["TXT", "nosuchwordatall.search.ports.local"],
    );
    assert!(dig.contains("status: NXDOMAIN"), "{dig}");
    assert!(dig.contains("search.ports.local.\t3600\tIN\tSOA"), "{dig}");
}

#[tokio::test]
async fn help_lists_every_name_form_with_an_example_that_answers() {
    let help = txt_answers(&ask(false, "help.ports.local.", RecordType::TXT).await);
    assert_eq!(help.len(), 10, "{help:?}");
    assert!(
        help.last()
            .unwrap()
            .contains("PORT | PROTOCOL | STATUS | SERVICE | DESCRIPTION")
    );
    let examples: Vec<&str> = help
        .iter()
        .filter_map(|line| line.split_once(", e.g. ").map(|(_, example)| example))
        .collect();
    // Every form but top.PROTOCOL, which needs nmap's frequencies this table lacks.
    assert_eq!(examples.len(), 6, "{help:?}");
    for example in examples {
        let (rcode, texts) = tcp_texts(addr(), &format!("{example}."));
        assert_eq!(rcode, ResponseCode::NoError, "{example}");
        assert!(!texts.is_empty(), "{example} answers");
    }
    let dig = run_tool("dig", addr(), &["+short", "TXT", "help.ports.local"]);
    assert_eq!(dig.lines().count(), 10, "{dig}");
}

#[tokio::test]
async fn services_database_names_answer_like_their_ports() {
    let server = WITH_SERVICES.addr;
    let (rcode, whois) = tcp_texts(server, "whois.tcp.ports.local.");
    assert_eq!(rcode, ResponseCode::NoError);
    assert_eq!(whois, ["43 | tcp | Yes | nicname whois | WHOIS protocol"]);
    assert_eq!(tcp_texts(server, "WHOIS.ports.local.").1, whois);
    // A name IANA spells otherwise answers every use of its port on its protocol.
    let (_, sip) = tcp_texts(server, "sip-tls.tcp.ports.local.");
    assert_eq!(sip, tcp_texts(server, "5061.tcp.ports.local.").1);
    assert!(sip[0].contains("| sips sip-tls |"), "{sip:?}");
    // A port only the database names gets a use of its own.
    let (_, x11) = tcp_texts(server, "x11-one.tcp.ports.local.");
    assert!(
        x11.contains(
            &"6001 | tcp | System | x11-1 x11-one | named in the system's services database"
                .to_owned()
        ),
        "{x11:?}"
    );
    let (_, kdc) = tcp_texts(server, "kdc.udp.ports.local.");
    assert!(
        kdc[0].starts_with("750 | udp | Yes | kerberos-iv kerberos4 kdc |"),
        "{kdc:?}"
    );
    // Not on a protocol the database does not name it on, nor without the database.
    assert_eq!(
        tcp_texts(server, "whois.udp.ports.local.").0,
        ResponseCode::NXDomain
    );
    assert_eq!(
        tcp_texts(addr(), "whois.tcp.ports.local.").0,
        ResponseCode::NXDomain
    );
    let dig = run_tool("dig", server, &["+short", "TXT", "imap2.tcp.ports.local"]);
    assert!(dig.starts_with("\"143 | tcp | Yes | imap imap2 |"), "{dig}");
}

/// The ports named by `getent services NAME PROTOCOL` (NSS reads the system's /etc/services).
fn getent_port(name: &str, protocol: &str) -> Option<u16> {
    let output = std::process::Command::new("getent")
        .args(["services", name, protocol])
        .output()
        .expect("getent runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let (_, port) = text
        .split_whitespace()
        .nth(1)?
        .split_once('/')
        .map(|(p, _)| ((), p))?;
    port.parse().ok()
}

#[test]
fn every_name_of_the_system_services_file_gives_the_port_getent_gives() {
    let text = std::fs::read_to_string("/etc/services").expect("this machine has /etc/services");
    let server = TestServer::start_with(
        test_zone(),
        table_with_services(&text),
        portsd::serve::DataLocation::Builtin,
        portsd::serve::TcpLimits::default(),
    );
    let mut checked = 0;
    for line in text.lines() {
        let mut fields = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace();
        let (Some(name), Some(port_protocol)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((_, protocol)) = port_protocol.split_once('/') else {
            continue;
        };
        if !["tcp", "udp", "sctp", "dccp"].contains(&protocol) {
            continue;
        }
        for name in std::iter::once(name).chain(fields) {
            let Some(port) = getent_port(name, protocol) else {
                panic!("getent knows no {name}/{protocol}")
            };
            for asked in [
                format!("{name}.{protocol}.ports.local."),
                format!("{name}.ports.local."),
            ] {
                let (rcode, texts) = tcp_texts(server.addr, &asked);
                assert_eq!(rcode, ResponseCode::NoError, "{asked}");
                let covers = texts.iter().any(|t| {
                    let mut fields = t.split(" | ");
                    let span = fields.next().unwrap_or_default();
                    let (first, last) = span.split_once('-').unwrap_or((span, span));
                    let inside = first.parse().is_ok_and(|first: u16| first <= port)
                        && last.parse().is_ok_and(|last: u16| port <= last);
                    inside && fields.next() == Some(protocol)
                });
                assert!(
                    covers,
                    "{asked}: getent says {port}/{protocol}, portsd {texts:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked} names checked");
}
