//! NOTIFY from the built binary to a UDP socket the test binds on port 0: sent at start and
//! after a reload that changes the serial, repeated with backoff until answered, signed when
//! keys are configured (an unsigned answer to a signed NOTIFY does not count).

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{Daemon, wait_for_lines};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, RData, RecordType, TSigner};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portsd::sources::{EXCERPT, IANA_CSV, LOCAL_TSV, PORTS_TSV};

/// The next NOTIFY arriving at `socket` (at most 10 s), its bytes and where from.
fn next_notify(socket: &UdpSocket) -> (Vec<u8>, Message, SocketAddr) {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buffer = vec![0u8; 4096];
    let (n, from) = socket.recv_from(&mut buffer).expect("a NOTIFY within 10 s");
    let bytes = buffer[..n].to_vec();
    let message = Message::from_vec(&bytes).expect("the NOTIFY parses");
    assert_eq!(message.op_code, OpCode::Notify);
    assert_eq!(message.queries[0].query_type(), RecordType::SOA);
    assert_eq!(message.queries[0].name().to_ascii(), "ports.local.");
    (bytes, message, from)
}

fn serial_of(message: &Message) -> u32 {
    match &message.answers[0].data {
        RData::SOA(soa) => soa.serial,
        other => panic!("{other:?}"),
    }
}

fn acknowledge(socket: &UdpSocket, notify: &Message, to: SocketAddr) {
    let mut ack = Message::new(notify.id, MessageType::Response, OpCode::Notify);
    ack.metadata.authoritative = true;
    ack.metadata.response_code = ResponseCode::NoError;
    ack.add_query(notify.queries[0].clone());
    socket.send_to(&ack.to_vec().unwrap(), to).unwrap();
}

#[test]
fn notify_is_repeated_until_acknowledged_and_sent_again_for_a_new_serial() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = socket.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in [PORTS_TSV, EXCERPT, IANA_CSV] {
        fs::copy(source.join(name), dir.path().join(name)).unwrap();
    }
    fs::write(
        dir.path().join(LOCAL_TSV),
        "8443\ttcp\tbilling\tBilling API\n",
    )
    .unwrap();
    let daemon = Daemon::start(&[
        "--notify",
        &target,
        "--data",
        dir.path().to_str().unwrap(),
        "--metrics",
        "127.0.0.1:0",
    ]);
    let (_, first, _) = next_notify(&socket);
    assert!(first.signature.is_none(), "no keys: unsigned");
    let first_at = Instant::now();
    // Unanswered, it comes again, with the same serial and a new ID, after a wait that
    // doubles each time (1 s, then 2 s). The bounds leave room for this side's own delay in
    // noticing each one; a fixed 1 s retry would still fail the second.
    let (_, second, _) = next_notify(&socket);
    let second_at = Instant::now();
    let (_, third, from_third) = next_notify(&socket);
    let (first_wait, second_wait) = (second_at - first_at, second_at.elapsed());
    assert!(first_wait >= Duration::from_millis(700), "{first_wait:?}");
    assert!(
        second_wait >= Duration::from_millis(1500),
        "{second_wait:?}"
    );
    assert_eq!(serial_of(&second), serial_of(&first));
    assert_eq!(serial_of(&third), serial_of(&first));
    assert_ne!(second.metadata.id, third.metadata.id);
    acknowledge(&socket, &third, from_third);
    assert!(daemon.wait_for_log("NOTIFY acknowledged"));
    assert!(daemon.wait_for_log("NOTIFY not acknowledged"));
    let metrics = crate::common::http_get(daemon.metrics_addr(), "/metrics");
    for line in [
        "portsd_notifies_total{result=\"sent\"} 3".to_owned(),
        "portsd_notifies_total{result=\"failed\"} 2".to_owned(),
        "portsd_notifies_total{result=\"acknowledged\"} 1".to_owned(),
        format!("portsd_table_serial {}", serial_of(&first)),
    ] {
        assert!(metrics.contains(&line), "{line}: {metrics}");
    }
    // A reload that changes the data announces the new serial.
    fs::write(
        dir.path().join(LOCAL_TSV),
        "8443\ttcp\tbilling\tBilling API v2\n",
    )
    .unwrap();
    kill(Pid::from_raw(daemon.child.id() as i32), Signal::SIGHUP).unwrap();
    let (_, next, from) = next_notify(&socket);
    assert_ne!(serial_of(&next), serial_of(&first));
    acknowledge(&socket, &next, from);
    assert!(wait_for_lines(&daemon.log, |lines| {
        lines
            .iter()
            .filter(|l| l.contains("NOTIFY acknowledged"))
            .count()
            == 2
    }));
}

#[test]
fn with_keys_notify_is_signed_and_an_unsigned_answer_does_not_count() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = socket.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut secret = vec![0u8; 32];
    std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut secret).unwrap();
    let file = dir.path().join("k.key");
    fs::write(
        &file,
        format!(
            "key \"notify-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{}\";\n}};\n",
            data_encoding::BASE64.encode(&secret)
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&["--notify", &target, "--tsig-key", file.to_str().unwrap()]);
    let (bytes, notify, from) = next_notify(&socket);
    let signer = TSigner::new(
        secret,
        TsigAlgorithm::HmacSha256,
        Name::from_ascii("notify-key.").unwrap(),
        300,
    )
    .unwrap();
    signer
        .verify_message_byte(&bytes, None, true)
        .expect("the NOTIFY is signed with the key");
    acknowledge(&socket, &notify, from);
    assert!(daemon.wait_for_log("the answer's TSIG does not verify"));
    let (_, again, _) = next_notify(&socket);
    assert_eq!(serial_of(&again), serial_of(&notify), "asked again");
}
