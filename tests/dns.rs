//! The DNS rules of issue 2 over real loopback sockets: hickory's client, raw packets, and the
//! real `dig` and `kdig`.

mod common;

use common::*;
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

fn addr() -> std::net::SocketAddr {
    SHARED.addr
}

async fn hickory_client(tcp: bool) -> Client<TokioRuntimeProvider> {
    let provider = TokioRuntimeProvider::default();
    if tcp {
        let (stream, handle) = TcpClientStream::new(addr(), None, None, provider);
        let (client, background) =
            Client::<TokioRuntimeProvider>::new(stream.await.expect("tcp connects"), handle);
        tokio::spawn(background);
        client
    } else {
        let stream = UdpClientStream::builder(addr(), provider).build();
        let (client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
        tokio::spawn(background);
        client
    }
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
fn other_opcodes_get_notimp() {
    for opcode in [1u8, 2, 4, 5] {
        let mut packet = query(7, "443.tcp.ports.local.", RecordType::TXT, None);
        packet[2] = (packet[2] & 0x87) | (opcode << 3);
        let reply = udp_exchange(addr(), &packet).expect("an answer");
        assert_eq!(rcode_of(&reply), 4, "opcode {opcode}");
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
                > 1400
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
    let started = std::time::Instant::now();
    assert!(tcp_receive(&mut stream).is_none(), "closed, not answered");
    assert!(
        started.elapsed() < REPLY_TIMEOUT,
        "closed by the server's idle timeout, not ours"
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
