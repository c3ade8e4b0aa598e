//! TCP beyond the connection cap, over real loopback sockets: 600 connections held against the
//! default cap of 256, idle or stopped halfway through a message, must not keep a new client
//! waiting (served within 1 s, where waiting out the idle timeout took 10 s), and the
//! connections closed to make room are the ones idle longest. The metrics endpoint likewise.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use portsd::serve::{DataLocation, TcpLimits};

/// Connections held open against the server, as the trial did.
const HELD: usize = 600;
/// The default cap on TCP connections.
const CAP: usize = 256;

/// Lets this process hold the test's connections and the in-process server's (two
/// descriptors per connection).
pub(crate) fn raise_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let wanted = (4 * HELD as u64 + 1024).min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).unwrap();
}

/// Opens `count` connections one after another; each sends `first_bytes` and then nothing.
pub(crate) fn hold(addr: SocketAddr, count: usize, first_bytes: &[u8]) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(first_bytes).unwrap();
            stream
        })
        .collect()
}

/// Checks that the server closed the `closed` connections of `held` opened first, and no other.
pub(crate) fn assert_oldest_closed(held: &mut [TcpStream], closed: usize) {
    let count = held.len();
    for (index, stream) in held.iter_mut().enumerate() {
        let expect_closed = index < closed;
        let wait = if expect_closed {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(1)
        };
        assert_eq!(
            closed_by_server(stream, wait),
            expect_closed,
            "connection {index} of {count}: the {closed} oldest are closed, no other"
        );
    }
}

/// How long a new client waits for its answer.
fn new_client_wait(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let reply = parse(&tcp_exchange(
        addr,
        &query(1, "443.tcp.ports.local.", RecordType::TXT, None),
    ));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    started.elapsed()
}

/// `HELD` connections sending `first_bytes` each, against a server with the default cap and an
/// idle timeout long enough that only making room can close a connection during the test;
/// then a new client. Returns its wait, and checks that exactly the oldest were closed.
fn held_then_new_client(first_bytes: &[u8]) -> Duration {
    raise_descriptor_limit();
    let server = TestServer::start_with(
        test_zone(),
        builtin_table(),
        DataLocation::Builtin,
        TcpLimits {
            idle_timeout: Duration::from_secs(600),
            ..TcpLimits::default()
        },
    );
    assert_eq!(TcpLimits::default().max_connections, CAP);
    let mut held = hold(server.addr, HELD, first_bytes);
    let waited = new_client_wait(server.addr);
    // The new client took the place of one more: the oldest HELD - CAP + 1 are closed.
    let closed = HELD - CAP + 1;
    assert_oldest_closed(&mut held, closed);
    let text = server.server.metrics().render();
    assert!(
        text.contains(&format!("portsd_tcp_closed_under_pressure_total {closed}")),
        "{text}"
    );
    waited
}

#[test]
fn idle_connections_beyond_the_cap_make_room_oldest_first() {
    let _machine = machine_to_itself();
    let waited = held_then_new_client(&[]);
    assert!(
        waited < Duration::from_secs(1),
        "new client waited {waited:?}"
    );
}

#[test]
fn half_sent_messages_beyond_the_cap_make_room_oldest_first() {
    let _machine = machine_to_itself();
    // A length prefix announcing 40 bytes, and 3 of them.
    let waited = held_then_new_client(&[0, 40, 0x12, 0x34, 0x01]);
    assert!(
        waited < Duration::from_secs(1),
        "new client waited {waited:?}"
    );
}

#[test]
fn with_the_default_limits_a_new_client_is_served_at_once() {
    let _machine = machine_to_itself();
    raise_descriptor_limit();
    let server = TestServer::start();
    let _held = hold(server.addr, HELD, &[]);
    for _ in 0..3 {
        let waited = new_client_wait(server.addr);
        assert!(
            waited < Duration::from_secs(1),
            "new client waited {waited:?}"
        );
    }
}
