//! The daemon out of file descriptors and its metrics endpoint under pressure, from outside:
//! `portsd serve` started with a small descriptor limit, then held connections until accept
//! fails (EMFILE). The accept loops must rest instead of spinning (the process stays near idle)
//! and a new DNS client must still be served, in the place of the idlest connection. The
//! metrics endpoint caps its connections (the idlest makes room) and times out idle ones.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{
    Daemon, closed_by_server, http_get, parse, query, tcp_connect, tcp_exchange, tcp_receive,
    tcp_send,
};

/// `portsd serve` with `args`, its descriptor limit set to `limit` (none when `None`).
fn daemon(limit: Option<u64>, args: &[&str]) -> Daemon {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portsd"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--udp-threads", "1"])
        .args(args);
    if let Some(limit) = limit {
        // SAFETY: setrlimit is async-signal-safe, and nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                nix::sys::resource::setrlimit(
                    nix::sys::resource::Resource::RLIMIT_NOFILE,
                    limit,
                    limit,
                )
                .map_err(std::io::Error::from)
            });
        }
    }
    Daemon::start_command(&mut command)
}

/// Descriptors the process has open.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// CPU time (user and system, in clock ticks) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): state is the first, utime
    // the 12th and stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Clock ticks a second in /proc (USER_HZ: 100 on every Linux architecture).
const TICKS_PER_SECOND: f64 = 100.0;

#[test]
fn out_of_descriptors_the_accept_loops_rest_and_new_clients_are_still_served() {
    // How many descriptors the daemon needs to start, then a limit a few above that.
    let probe = daemon(None, &["--metrics", "127.0.0.1:0"]);
    probe.metrics_addr();
    let needed = open_descriptors(probe.child.id()) as u64;
    drop(probe);
    let limit = needed + 8;
    let daemon = daemon(Some(limit), &["--metrics", "127.0.0.1:0"]);
    let metrics = daemon.metrics_addr();
    // The zone's digest is computed on a thread of its own after start; a ZONEMD question over
    // TCP is answered once it is done, so its CPU is not counted below.
    // On a loaded machine the digest may take longer than one reply's timeout: ask again.
    let zonemd = query(1, "ports.local", RecordType::Unknown(63), None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while {
        let mut stream = tcp_connect(daemon.addr);
        tcp_send(&mut stream, &zonemd);
        tcp_receive(&mut stream).is_none()
    } {
        assert!(Instant::now() < deadline, "the zone's digest is ready");
    }
    // More connections than descriptors: the rest wait in the backlogs, and every accept
    // fails with EMFILE.
    let held: Vec<TcpStream> = (0..limit + 8)
        .map(|_| TcpStream::connect(daemon.addr).unwrap())
        .chain((0..8).map(|_| TcpStream::connect(metrics).unwrap()))
        .collect();
    let pid = daemon.child.id();
    // Wait until the process is out of descriptors.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_descriptors(pid) < limit as usize - 1 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(
        open_descriptors(pid) >= limit as usize - 1,
        "the daemon used up its descriptors"
    );
    // Resting, the daemon used 1 tick in 2 s here; the old metrics loop, retrying at once,
    // 41 (it shares the runtime, so a spin shows as a fifth of a core, not a whole one).
    let before = cpu_ticks(pid);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    let budget = started.elapsed().as_secs_f64() * TICKS_PER_SECOND * 0.1;
    assert!(
        (used as f64) < budget,
        "the daemon used {used} ticks in {:?} out of descriptors: a busy loop",
        started.elapsed()
    );
    let reply = parse(&tcp_exchange(
        daemon.addr,
        &query(3, "443.tcp.ports.local.", RecordType::TXT, None),
    ));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    drop(held);
}

#[test]
fn the_metrics_endpoint_caps_its_connections_and_closes_idle_ones() {
    let daemon = daemon(
        None,
        &["--metrics", "127.0.0.1:0", "--http-max-connections", "16"],
    );
    let metrics = daemon.metrics_addr();
    // Sixteen idle connections fill the endpoint's slots.
    let mut idle: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(metrics).unwrap())
        .collect();
    // Each sends the start of a request and no more. The endpoint accepts them in the order
    // opened, which is then the order of "idle longest".
    for stream in &mut idle {
        stream.write_all(b"GET").unwrap();
    }
    let started = Instant::now();
    let page = http_get(metrics, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a scrape past the cap waited {:?}",
        started.elapsed()
    );
    assert!(
        closed_by_server(&mut idle[0], Duration::from_secs(1)),
        "the connection idle longest made room"
    );
    assert!(!closed_by_server(&mut idle[1], Duration::from_millis(1)));
    // The rest are closed by the request timeout (5 s), not held for ever.
    for stream in &mut idle[1..] {
        assert!(closed_by_server(stream, Duration::from_secs(10)));
    }
}
