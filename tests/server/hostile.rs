//! What a hostile client can send, over real loopback sockets.
//!
//! Each malformed-input test sends one kind of bad message, asserts the answer the RFCs call for
//! (FORMERR, NOTIMP, REFUSED, BADVERS) or silence, and asserts that a valid query sent right
//! after it is answered. The TCP-limit tests hold hundreds of idle connections open and check
//! that UDP and new TCP clients are still served, and that a connection ends after its query cap.
//!
//! Silence on UDP is observed without waiting out a timeout: the probe sends the bad packet and
//! then a valid query from the same socket. portsd reads one socket in order and sends replies in
//! the order it handled the requests, and loopback keeps datagram order, so a reply to the bad
//! packet, if there were one, would arrive before the valid query's answer.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::rr::RecordType;
use portsd::serve::{DataLocation, TcpLimits};

const FORMERR: u8 = 1;
const NOTIMP: u8 = 4;
const REFUSED: u8 = 5;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// The valid query every probe sends after the bad one, and the reply it must get.
const VALID_NAME: &str = "22.tcp.ports.local.";

fn addr() -> SocketAddr {
    SHARED.addr
}

fn id_of(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[0], message[1]])
}

fn is_response(message: &[u8]) -> bool {
    message[2] & 0x80 != 0
}

fn rcode_of(message: &[u8]) -> u8 {
    message[3] & 0x0F
}

fn count_of(message: &[u8], section: usize) -> u16 {
    u16::from_be_bytes([message[4 + 2 * section], message[5 + 2 * section]])
}

/// A 12-octet header: ID, flags, then QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        bytes.extend_from_slice(&count.to_be_bytes());
    }
    bytes
}

/// A name in wire form, uncompressed.
fn wire_name(labels: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for label in labels {
        bytes.push(label.len() as u8);
        bytes.extend_from_slice(label);
    }
    bytes.push(0);
    bytes
}

/// A question for `name` (already in wire form).
fn question(name: &[u8], qtype: u16, qclass: u16) -> Vec<u8> {
    let mut bytes = name.to_vec();
    bytes.extend_from_slice(&qtype.to_be_bytes());
    bytes.extend_from_slice(&qclass.to_be_bytes());
    bytes
}

/// An OPT pseudo-record offering 1232 octets, with the given EDNS version and no options.
fn opt_record(version: u8) -> Vec<u8> {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&TYPE_OPT.to_be_bytes());
    bytes.extend_from_slice(&1232u16.to_be_bytes());
    bytes.extend_from_slice(&[0, version, 0, 0, 0, 0]);
    bytes
}

/// The question section of `VALID_NAME TXT IN`.
fn valid_question() -> Vec<u8> {
    question(
        &wire_name(&[b"22", b"tcp", b"ports", b"local"]),
        TYPE_TXT,
        CLASS_IN,
    )
}

/// A query: header with RD set and the given counts, then `body`.
fn message(id: u16, counts: [u16; 4], body: &[&[u8]]) -> Vec<u8> {
    let mut bytes = header(id, 0x0100, counts);
    for part in body {
        bytes.extend_from_slice(part);
    }
    bytes
}

/// Asserts `reply` is the answer to the valid query with ID `id`.
fn assert_valid_answer(reply: &[u8], id: u16) {
    assert_eq!(id_of(reply), id, "the valid query's answer");
    assert!(is_response(reply));
    assert_eq!(rcode_of(reply), 0, "the valid query is answered NOERROR");
    assert!(count_of(reply, 1) > 0, "with records");
}

/// Sends `packet` to the shared server, then a valid query from the same socket; asserts the
/// valid query is answered and returns the reply to `packet`, or `None` for silence (see the
/// module docs for why the order of the replies tells).
fn udp_probe(packet: &[u8]) -> Option<Vec<u8>> {
    udp_probe_at(addr(), packet)
}

fn udp_probe_at(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let bad_id = if packet.len() >= 2 { id_of(packet) } else { 0 };
    let valid_id = bad_id ^ 0x5A5A;
    socket.send_to(packet, server).unwrap();
    socket
        .send_to(&query(valid_id, VALID_NAME, RecordType::TXT, None), server)
        .unwrap();
    let mut buf = vec![0u8; 65_535];
    let mut receive = || {
        let (len, _) = socket
            .recv_from(&mut buf)
            .expect("the valid query sent after the bad one is answered");
        buf[..len].to_vec()
    };
    let first = receive();
    if first.len() >= 12 && id_of(&first) == valid_id && rcode_of(&first) == 0 {
        assert_valid_answer(&first, valid_id);
        return None;
    }
    let second = receive();
    assert_valid_answer(&second, valid_id);
    Some(first)
}

/// Probes with `packet` and asserts the reply is a response to it with `rcode`.
fn assert_udp_rcode(packet: &[u8], rcode: u8, what: &str) -> Vec<u8> {
    let reply = udp_probe(packet).unwrap_or_else(|| panic!("{what}: no answer"));
    assert!(is_response(&reply), "{what}: QR set");
    assert_eq!(id_of(&reply), id_of(packet), "{what}: ID echoed");
    assert_eq!(rcode_of(&reply), rcode, "{what}: rcode");
    reply
}

fn assert_udp_silence(packet: &[u8], what: &str) {
    if let Some(reply) = udp_probe(packet) {
        panic!("{what}: expected silence, got {reply:02x?}");
    }
}

/// A small deterministic generator (xorshift), so every run sends the same blobs.
fn seeded_bytes(mut seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        })
        .collect()
}

#[test]
fn random_bytes_get_formerr_or_silence() {
    let sizes = [12, 13, 17, 29, 64, 200, 511, 1232, 4000];
    for (seed, len) in (1u64..).zip(sizes.into_iter().cycle()).take(36) {
        let blob = seeded_bytes(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), len);
        let what = format!("seed {seed}, {len} bytes");
        match udp_probe(&blob) {
            // A message with QR set is a response: answering it could start a loop.
            None => assert!(is_response(&blob), "{what}: a query must be answered"),
            Some(reply) => {
                assert!(
                    !is_response(&blob),
                    "{what}: a response must not be answered"
                );
                assert!(is_response(&reply), "{what}");
                assert_eq!(id_of(&reply), id_of(&blob), "{what}");
                assert_eq!(rcode_of(&reply), FORMERR, "{what}");
            }
        }
    }
}

#[test]
fn truncated_headers_get_silence() {
    let valid = query(0x2121, VALID_NAME, RecordType::TXT, None);
    for len in 1..12 {
        assert_udp_silence(&valid[..len], &format!("{len}-octet header"));
    }
}

#[test]
fn no_question_gets_formerr() {
    let bare = message(0x0301, [0, 0, 0, 0], &[]);
    assert_udp_rcode(&bare, FORMERR, "header only");
    let uncounted = message(0x0302, [0, 0, 0, 0], &[&valid_question()]);
    assert_udp_rcode(&uncounted, FORMERR, "a question QDCOUNT does not count");
}

#[test]
fn two_questions_get_formerr() {
    let q = valid_question();
    let both = message(0x0401, [2, 0, 0, 0], &[&q, &q]);
    assert_udp_rcode(&both, FORMERR, "two questions");
    let one_missing = message(0x0402, [2, 0, 0, 0], &[&q]);
    assert_udp_rcode(&one_missing, FORMERR, "QDCOUNT 2, one question");
}

#[test]
fn compression_pointer_loops_get_formerr() {
    // The name at offset 12 is a pointer to itself.
    let self_loop = message(
        0x0501,
        [1, 0, 0, 0],
        &[&question(&[0xC0, 12], TYPE_TXT, CLASS_IN)],
    );
    assert_udp_rcode(&self_loop, FORMERR, "pointer to itself");
    // "a" then a pointer back to the "a": a.a.a.a... without end.
    let label_loop = message(
        0x0502,
        [1, 0, 0, 0],
        &[&question(&[1, b'a', 0xC0, 12], TYPE_TXT, CLASS_IN)],
    );
    assert_udp_rcode(&label_loop, FORMERR, "label and pointer loop");
}

#[test]
fn forward_and_outside_pointers_get_formerr() {
    // A pointer to a well-formed name placed after the question (offset 18): compression may
    // only point to a prior occurrence (RFC 1035 4.1.4).
    let target = wire_name(&[b"ports", b"local"]);
    let forward = message(
        0x0601,
        [1, 0, 0, 0],
        &[&question(&[0xC0, 18], TYPE_TXT, CLASS_IN), &target],
    );
    assert_udp_rcode(&forward, FORMERR, "forward pointer");
    for offset in [0x00FF_u16, 0x3FFF] {
        let outside = message(
            0x0602,
            [1, 0, 0, 0],
            &[&question(
                &(0xC000 | offset).to_be_bytes(),
                TYPE_TXT,
                CLASS_IN,
            )],
        );
        assert_udp_rcode(&outside, FORMERR, &format!("pointer to {offset}"));
    }
}

#[test]
fn label_length_octets_64_to_191_get_formerr() {
    // 0x40-0x7F are the extended label types (RFC 6891 5 deprecates them), 0x80-0xBF are
    // reserved: either way not a label of 64-191 octets.
    for length in 64u8..=191 {
        let mut name = vec![length];
        name.extend(std::iter::repeat_n(b'a', usize::from(length)));
        name.push(0);
        let packet = message(
            0x0700,
            [1, 0, 0, 0],
            &[&question(&name, TYPE_TXT, CLASS_IN)],
        );
        assert_udp_rcode(&packet, FORMERR, &format!("length octet {length}"));
    }
}

/// A name in the zone, `<filler labels>.ports.local.`, exactly `octets` long in wire form.
fn zone_name_of_length(octets: usize) -> Vec<u8> {
    let suffix = wire_name(&[b"ports", b"local"]);
    let mut filler = octets - suffix.len();
    let mut name = Vec::new();
    while filler > 0 {
        let label = (filler - 1).min(63);
        // A one-octet remainder cannot be a label on its own: leave two for the last one.
        let label = if filler - (label + 1) == 1 {
            label - 1
        } else {
            label
        };
        name.push(label as u8);
        name.extend(std::iter::repeat_n(b'x', label));
        filler -= label + 1;
    }
    name.extend_from_slice(&suffix);
    assert_eq!(name.len(), octets);
    name
}

#[test]
fn names_over_255_octets_get_formerr() {
    let longest = message(
        0x0801,
        [1, 0, 0, 0],
        &[&question(&zone_name_of_length(255), TYPE_TXT, CLASS_IN)],
    );
    let reply = udp_probe(&longest).expect("a 255-octet name is answered");
    assert_eq!(
        rcode_of(&reply),
        3,
        "NXDOMAIN: legal, but not in the zone's data"
    );
    for octets in [256, 300, 400] {
        let packet = message(
            0x0802,
            [1, 0, 0, 0],
            &[&question(&zone_name_of_length(octets), TYPE_TXT, CLASS_IN)],
        );
        assert_udp_rcode(&packet, FORMERR, &format!("{octets}-octet name"));
    }
}

/// portsd serves one zone in class IN only. A question in another class is not for it: REFUSED
/// (RFC 1035 4.1.1, "refuses to perform the specified operation for policy reasons"), without
/// AA, as NSD and Knot answer for classes they serve no zone in. (NSD answers QCLASS ANY from its
/// IN data without AA; portsd refuses it too, which RFC 1035 allows and is simpler to reason
/// about.)
fn assert_class_refused(qclass: u16) {
    let name = wire_name(&[b"22", b"tcp", b"ports", b"local"]);
    let packet = message(0x0900, [1, 0, 0, 0], &[&question(&name, TYPE_TXT, qclass)]);
    let what = format!("class {qclass}");
    let reply = assert_udp_rcode(&packet, REFUSED, &what);
    assert_eq!(reply[2] & 0x04, 0, "{what}: not authoritative");
    assert_eq!(count_of(&reply, 1), 0, "{what}: no answers");
    let over_tcp = tcp_exchange(addr(), &packet);
    assert_eq!(rcode_of(&over_tcp), REFUSED, "{what} over TCP");
}

#[test]
fn class_chaos_is_refused() {
    assert_class_refused(3);
}

#[test]
fn class_hesiod_is_refused() {
    assert_class_refused(4);
}

#[test]
fn unassigned_opcodes_get_notimp() {
    // 3 is unassigned, 6 is DSO (RFC 8490 asks for NOTIMP from servers without it), 7-15 are
    // unassigned. Opcodes 1, 2, 4 and 5 are covered in tests/server/dns.rs.
    for opcode in [3u16, 6, 7, 10, 15] {
        let mut packet = message(0x0A00, [1, 0, 0, 0], &[&valid_question()]);
        packet[2] |= (opcode << 3) as u8;
        assert_udp_rcode(&packet, NOTIMP, &format!("opcode {opcode}"));
    }
}

/// What ISC's genreport sends as `opcodeflg` (`dig +noedns +header-only +opcode=15 +tcflag
/// +rec +raflag +cd +ad +aaflag +zflag`): a header alone, opcode 15, every flag bit set. The
/// answer is NOTIMP with QR and the opcode and nothing else: RD, CD and AD belong to QUERY, and
/// AA, TC, RA and Z are never echoed. The same holds with a question and with an OPT record,
/// which the answer then echoes (RFC 6891 6.1.1: a request with OPT gets a response with OPT).
#[test]
fn an_unassigned_opcode_with_every_flag_set_gets_notimp_with_only_qr_and_the_opcode() {
    let every_flag = 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0040 | 0x0020 | 0x0010;
    let flags = 15 << 11 | every_flag;
    let header_only = header(0x0A10, flags, [0, 0, 0, 0]);
    let mut with_question = header(0x0A11, flags, [1, 0, 0, 0]);
    with_question.extend_from_slice(&valid_question());
    let mut with_opt = header(0x0A12, flags, [0, 0, 0, 1]);
    with_opt.extend_from_slice(&opt_record(0));
    for (what, packet, counts) in [
        ("opcodeflg", &header_only, [0, 0, 0, 0]),
        ("opcodeflg with a question", &with_question, [1, 0, 0, 0]),
        ("opcodeflg with OPT", &with_opt, [0, 0, 0, 1]),
    ] {
        let reply = assert_udp_rcode(packet, NOTIMP, what);
        let reply_flags = u16::from_be_bytes([reply[2], reply[3]]);
        assert_eq!(
            reply_flags,
            0x8000 | 15 << 11 | u16::from(NOTIMP),
            "{what}: QR, opcode 15 and NOTIMP alone, got {reply_flags:#06x}"
        );
        let reply_counts = [0, 1, 2, 3].map(|section| count_of(&reply, section));
        assert_eq!(reply_counts, counts, "{what}: sections");
        if counts[3] == 1 {
            let edns = parse(&reply).edns.expect("the OPT record echoed");
            assert_eq!(edns.version(), 0, "{what}");
        }
    }
}

#[test]
fn unknown_edns_versions_get_badvers() {
    for version in [1u8, 2, 255] {
        let packet = message(
            0x0B00,
            [1, 0, 0, 1],
            &[&valid_question(), &opt_record(version)],
        );
        let what = format!("EDNS version {version}");
        let reply = udp_probe(&packet).unwrap_or_else(|| panic!("{what}: no answer"));
        let parsed = parse(&reply);
        // BADVERS is 16: 0 in the header, 1 in the OPT record's extended RCODE (RFC 6891 6.1.3).
        assert_eq!(u16::from(parsed.metadata.response_code), 16, "{what}");
        assert_eq!(rcode_of(&reply), 0, "{what}: low bits in the header");
        let edns = parsed.edns.as_ref().expect("an OPT record in the answer");
        assert_eq!(edns.version(), 0, "{what}: the version portsd speaks");
        assert!(parsed.answers.is_empty(), "{what}");
    }
}

#[test]
fn opt_in_the_answer_section_gets_formerr() {
    let packet = message(0x0C01, [1, 1, 0, 0], &[&valid_question(), &opt_record(0)]);
    assert_udp_rcode(&packet, FORMERR, "OPT as an answer");
}

#[test]
fn opt_in_the_authority_section_gets_formerr() {
    let packet = message(0x0C02, [1, 0, 1, 0], &[&valid_question(), &opt_record(0)]);
    assert_udp_rcode(&packet, FORMERR, "OPT as authority");
}

#[test]
fn two_opt_records_get_formerr() {
    // RFC 6891 6.1.1: more than one OPT RR in a query MUST get FORMERR.
    let opt = opt_record(0);
    let packet = message(0x0D00, [1, 0, 0, 2], &[&valid_question(), &opt, &opt]);
    assert_udp_rcode(&packet, FORMERR, "two OPT records");
}

#[test]
fn responses_get_silence() {
    let mut flagged = query(0x0E01, VALID_NAME, RecordType::TXT, None);
    flagged[2] |= 0x80;
    assert_udp_silence(&flagged, "a query with QR set");
    // A real answer sent back to the server (a reflection loop between two servers).
    let answer = udp_exchange(
        addr(),
        &query(0x0E02, VALID_NAME, RecordType::TXT, Some(1232)),
    )
    .expect("an answer");
    assert_udp_silence(&answer, "portsd's own answer");
    // Over TCP too: nothing comes back for the response, the next query is answered.
    let mut stream = tcp_connect(addr());
    tcp_send(&mut stream, &answer);
    tcp_send(
        &mut stream,
        &query(0x0E03, VALID_NAME, RecordType::TXT, None),
    );
    let reply = tcp_receive(&mut stream).expect("the query after the response is answered");
    assert_valid_answer(&reply, 0x0E03);
}

/// Asserts the server at `server` still answers a new TCP client and a UDP client.
fn assert_still_serving(server: SocketAddr) {
    let over_tcp = tcp_exchange(server, &query(0x0F01, VALID_NAME, RecordType::TXT, None));
    assert_valid_answer(&over_tcp, 0x0F01);
    let over_udp = udp_exchange(server, &query(0x0F02, VALID_NAME, RecordType::TXT, None))
        .expect("a UDP answer");
    assert_valid_answer(&over_udp, 0x0F02);
}

/// Reads until the peer closes or the timeout passes; returns whether it closed (EOF or
/// reset) and what was read before.
fn read_until_closed(stream: &mut TcpStream) -> (bool, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (true, received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (true, received),
            Err(_) => return (false, received),
        }
    }
}

/// Connects to the shared server and writes `bytes` behind a length prefix claiming `claimed`
/// octets, followed by `after`.
fn tcp_framed_as(claimed: usize, bytes: &[u8], after: &[u8]) -> TcpStream {
    let mut stream = tcp_connect(addr());
    let mut sent = (claimed as u16).to_be_bytes().to_vec();
    sent.extend_from_slice(bytes);
    sent.extend_from_slice(after);
    stream.write_all(&sent).unwrap();
    stream
}

#[test]
fn tcp_length_prefix_longer_than_the_message_then_close() {
    let _machine = machine_to_itself();
    let valid = query(0x1001, VALID_NAME, RecordType::TXT, None);
    let mut stream = tcp_framed_as(valid.len() + 100, &valid, &[]);
    stream.shutdown(Shutdown::Write).unwrap();
    let started = Instant::now();
    let (closed, received) = read_until_closed(&mut stream);
    assert!(closed, "the server closes when the client does");
    assert!(received.is_empty(), "nothing is answered: {received:02x?}");
    assert!(started.elapsed() < REPLY_TIMEOUT);
    assert_still_serving(addr());
}

#[test]
fn tcp_length_prefix_shorter_than_the_message() {
    // The prefix cuts off QTYPE and QCLASS; those four octets are then read as the start of
    // the next message (a length of 16 and two octets of it).
    let valid = query(0x1101, VALID_NAME, RecordType::TXT, None);
    let mut stream = tcp_framed_as(valid.len() - 4, &valid, &[]);
    let reply = tcp_receive(&mut stream).expect("the cut message is answered");
    assert_eq!(id_of(&reply), 0x1101);
    assert!(is_response(&reply));
    assert_eq!(rcode_of(&reply), FORMERR);
    drop(stream);
    assert_still_serving(addr());
}

/// The answer to a complete query must go out even when the client has already sent the start
/// of the next one (here its length prefix): waiting for the rest could take until the idle
/// timeout, and the answer is then lost. Segments split like this happen on any real network.
#[test]
fn tcp_answer_is_not_held_back_by_the_next_partial_message() {
    let valid = query(0x1301, VALID_NAME, RecordType::TXT, None);
    let next_prefix = (valid.len() as u16).to_be_bytes();
    let mut stream = tcp_framed_as(valid.len(), &valid, &next_prefix);
    let reply = tcp_receive(&mut stream).expect("the complete query is answered");
    assert_valid_answer(&reply, 0x1301);
}

#[test]
fn tcp_zero_length_message_gets_silence() {
    let mut stream = tcp_connect(addr());
    stream.write_all(&[0, 0]).unwrap();
    tcp_send(
        &mut stream,
        &query(0x1201, VALID_NAME, RecordType::TXT, None),
    );
    let reply = tcp_receive(&mut stream).expect("the next query on the connection");
    assert_valid_answer(&reply, 0x1201);
}

/// Opens `count` connections to `server` that each send one octet of a length prefix and then
/// nothing (slowloris), and returns them so the caller holds them open.
fn slowloris(server: SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(server).expect("connect queues in the backlog");
            stream.write_all(&[0]).unwrap();
            stream
        })
        .collect()
}

fn server_with(limits: TcpLimits) -> TestServer {
    TestServer::start_with(test_zone(), builtin_table(), DataLocation::Builtin, limits)
}

/// Long enough that no idle connection is closed while a test runs.
const PATIENT: Duration = Duration::from_secs(60);

/// A server allowing `max_connections`, already holding 300 slowloris connections.
fn server_under_slowloris(max_connections: usize) -> (TestServer, Vec<TcpStream>) {
    let server = server_with(TcpLimits {
        max_connections,
        idle_timeout: PATIENT,
        max_queries: 0,
    });
    let idlers = slowloris(server.addr, 300);
    (server, idlers)
}

#[test]
fn idle_connections_beyond_the_cap_do_not_stop_udp() {
    let _machine = machine_to_itself();
    let (server, idlers) = server_under_slowloris(4);
    for id in 0..20u16 {
        let reply = udp_exchange(server.addr, &query(id, VALID_NAME, RecordType::TXT, None))
            .expect("UDP is answered while TCP is full");
        assert_valid_answer(&reply, id);
    }
    drop(idlers);
}

#[test]
fn idle_connections_under_the_cap_do_not_stop_new_tcp_clients() {
    let _machine = machine_to_itself();
    let (server, idlers) = server_under_slowloris(512);
    for id in 0..10u16 {
        let reply = tcp_exchange(server.addr, &query(id, VALID_NAME, RecordType::TXT, None));
        assert_valid_answer(&reply, id);
    }
    assert_still_serving(server.addr);
    drop(idlers);
}

const MAX_QUERIES: usize = 3;

fn server_with_query_cap() -> TestServer {
    server_with(TcpLimits {
        max_queries: MAX_QUERIES,
        ..TcpLimits::default()
    })
}

#[test]
fn tcp_connection_closes_after_max_queries() {
    let _machine = machine_to_itself();
    let server = server_with_query_cap();
    let mut stream = tcp_connect(server.addr);
    for id in 0..MAX_QUERIES as u16 {
        tcp_send(&mut stream, &query(id, VALID_NAME, RecordType::TXT, None));
        let reply = tcp_receive(&mut stream).expect("answered under the cap");
        assert_valid_answer(&reply, id);
    }
    let started = Instant::now();
    let (closed, received) = read_until_closed(&mut stream);
    assert!(closed, "closed after {MAX_QUERIES} answers");
    assert!(received.is_empty(), "{received:02x?}");
    assert!(
        started.elapsed() < REPLY_TIMEOUT,
        "closed by the server at once"
    );
    assert_still_serving(server.addr);
}

#[test]
fn tcp_pipelined_queries_beyond_max_queries_get_the_capped_answers() {
    let server = server_with_query_cap();
    let mut stream = tcp_connect(server.addr);
    let mut burst = Vec::new();
    for id in 0..(MAX_QUERIES + 2) as u16 {
        let packet = query(id, VALID_NAME, RecordType::TXT, None);
        burst.extend_from_slice(&(packet.len() as u16).to_be_bytes());
        burst.extend_from_slice(&packet);
    }
    stream.write_all(&burst).unwrap();
    for id in 0..MAX_QUERIES as u16 {
        let reply = tcp_receive(&mut stream).expect("each query under the cap is answered");
        assert_valid_answer(&reply, id);
    }
    let (closed, received) = read_until_closed(&mut stream);
    assert!(closed);
    assert!(
        received.is_empty(),
        "nothing beyond the cap: {received:02x?}"
    );
}

/// The resident set size of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("a live process");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("a VmRSS line")
}

/// What a flood sends, in turn: valid queries, random bytes, a response and a bad name.
fn flood_packets() -> Vec<Vec<u8>> {
    let mut response = query(0x4242, VALID_NAME, RecordType::TXT, None);
    response[2] |= 0x80;
    let bad_name = message(
        0x4343,
        [1, 0, 0, 0],
        &[&question(&[0xC0, 12], TYPE_TXT, CLASS_IN)],
    );
    let mut packets = vec![response, bad_name, seeded_bytes(7, 300)];
    for id in 0..8 {
        packets.push(query(id, VALID_NAME, RecordType::TXT, Some(1232)));
    }
    packets
}

/// Floods `server` over UDP from `senders` sockets for `duration` without reading a reply,
/// sampling the RSS of `pid` meanwhile. Returns (packets sent, the largest RSS seen in KiB).
fn flood(server: SocketAddr, pid: u32, duration: Duration) -> (u64, u64) {
    let senders = 2;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..senders)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                let packets = flood_packets();
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for packet in &packets {
                        // A full socket buffer only loses the packet, which is the point.
                        if socket.send_to(packet, server).is_ok() {
                            sent += 1;
                        }
                    }
                }
                sent
            })
        })
        .collect();
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed() < duration {
        peak = peak.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = threads.into_iter().map(|t| t.join().unwrap()).sum();
    (sent, peak.max(rss_kib(pid)))
}

/// The daemon's RSS once its start-up work is done: it answers before it has built its search
/// index and computed its zone digest, whose temporaries are no flood's.
fn settled_rss_kib(daemon: &Daemon) -> u64 {
    assert!(daemon.settled());
    rss_kib(daemon.child.id())
}

/// How much a flood may grow the daemon's memory: the queues are the kernel's socket buffers
/// and a fixed batch, so a flood should cost next to nothing.
const FLOOD_GROWTH_KIB: u64 = 16 * 1024;
const FLOOD_TIME: Duration = Duration::from_millis(1500);

/// Asserts `daemon` answers a valid query from `source` over UDP at once.
fn assert_answers_at_once(daemon: &Daemon, source: &str) {
    let socket = UdpSocket::bind(source).unwrap();
    // Right after a flood the server's socket buffer may still be full, and the kernel then
    // drops a new datagram before portsd sees it; a real client retries, and so does this one.
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let started = Instant::now();
    let packet = query(0x4444, VALID_NAME, RecordType::TXT, None);
    let mut buf = vec![0u8; 65_535];
    let answer = (0..5).find_map(|_| {
        socket.send_to(&packet, daemon.addr).unwrap();
        socket.recv_from(&mut buf).ok().map(|(len, _)| len)
    });
    let len = answer.expect("answered after the flood");
    assert_valid_answer(&buf[..len], 0x4444);
    assert_eq!(buf[2] & 0x02, 0, "not truncated");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn udp_flood_keeps_memory_bounded_and_service_returns_at_once() {
    let _machine = machine_to_itself();
    let daemon = Daemon::start(&["--rate-limit", "0"]);
    let pid = daemon.child.id();
    assert_answers_at_once(&daemon, "127.0.0.1:0");
    let before = settled_rss_kib(&daemon);
    let (sent, peak) = flood(daemon.addr, pid, FLOOD_TIME);
    assert!(sent > 10_000, "a flood, not a trickle: {sent} packets");
    assert!(
        peak < before + FLOOD_GROWTH_KIB,
        "RSS grew from {before} KiB to {peak} KiB under {sent} packets"
    );
    assert_answers_at_once(&daemon, "127.0.0.1:0");
}

/// With rate limiting applied to loopback (the default exempts it), a flood from 127.0.0.0/24
/// is limited and counted, and a client in another /24 is served during and after it.
#[test]
fn rate_limited_flood_is_counted_and_other_networks_are_served() {
    let _machine = machine_to_itself();
    let daemon = Daemon::start(&[
        "--rate-limit",
        "50",
        "--rate-limit-exempt",
        "192.0.2.0/24",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let pid = daemon.child.id();
    let before = settled_rss_kib(&daemon);
    let (sent, peak) = flood(daemon.addr, pid, FLOOD_TIME);
    assert!(
        peak < before + FLOOD_GROWTH_KIB,
        "RSS grew from {before} KiB to {peak} KiB under {sent} packets"
    );
    assert_answers_at_once(&daemon, "127.0.1.1:0");
    let metrics = http_get(daemon.metrics_addr(), "/metrics");
    for action in ["drop", "slip"] {
        let line = format!("portsd_rate_limited_total{{action=\"{action}\"}} ");
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line} in {metrics}"));
        assert!(count > 0, "{action}: {count}");
    }
}

/// Rate limiting counts responses (a budget of responses per second per client prefix), so
/// messages portsd answers with silence must not spend a prefix's budget: otherwise anyone who
/// can spoof a network's addresses silences portsd for it with packets that cost nothing to
/// make and that portsd would never have answered.
#[test]
fn silent_messages_do_not_spend_the_rate_limit() {
    let _machine = machine_to_itself();
    let server = TestServer::start_settings(
        test_zone(),
        builtin_table(),
        portsd::serve::Settings {
            policy: portsd::pipeline::Policy {
                rate_limit: portsd::pipeline::rrl::RateLimitConfig {
                    responses_per_second: 10,
                    slip: 0,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..portsd::serve::Settings::new(DataLocation::Builtin)
        },
    );
    let mut ignored = query(0x1401, VALID_NAME, RecordType::TXT, None);
    ignored[2] |= 0x80;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..100 {
        socket.send_to(&ignored, server.addr).unwrap();
        socket.send_to(&ignored[..5], server.addr).unwrap();
    }
    let reply = udp_exchange(
        server.addr,
        &query(0x1402, VALID_NAME, RecordType::TXT, None),
    )
    .expect("the first real query of this /24 is answered");
    assert_valid_answer(&reply, 0x1402);
}
