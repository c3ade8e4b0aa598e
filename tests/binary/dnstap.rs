//! dnstap to a real collector: `fstrm_capture` (Debian's fstrm-bin) accepts the Frame Streams
//! connection and writes the stream to a file, and BIND's `dnstap-read` reads it back. Every
//! query and response of a burst over UDP and TCP and every message of an AXFR are in it; a
//! collector that is absent costs dropped events (counted), never answers; a collector that
//! comes back is written to again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::common::{
    Daemon, free_loopback_port, http_get, parse, query, tcp_exchange, txt_answers, udp_exchange,
    wait_for_lines,
};

/// A running `fstrm_capture` writing to `file`, its log in `log`.
struct Collector {
    child: Child,
    file: PathBuf,
    log: PathBuf,
}

impl Collector {
    /// Listens on `listen` (`-u PATH` or `-a ADDR -p PORT`) and waits until it accepts
    /// connections.
    fn start(listen: &[&str], file: PathBuf, ready: impl Fn() -> bool) -> Collector {
        let log = file.with_extension("log");
        let child = Command::new("fstrm_capture")
            .args(["-t", "protobuf:dnstap.Dnstap", "-w"])
            .arg(&file)
            .args(listen)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("fstrm_capture runs (Debian package fstrm-bin)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready() {
            assert!(Instant::now() < deadline, "fstrm_capture is not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Collector { child, file, log }
    }

    fn unix(socket: &Path, file: PathBuf) -> Collector {
        let path = socket.to_str().unwrap();
        Collector::start(&["-u", path], file, || socket.exists())
    }

    fn tcp(port: u16, file: PathBuf) -> Collector {
        let port_text = port.to_string();
        Collector::start(&["-a", "127.0.0.1", "-p", &port_text], file, || {
            listening_on(port)
        })
    }

    /// Stops it (SIGTERM: it finishes the file) and returns `dnstap-read`'s lines, one per
    /// message, its YAML, and the data frames fstrm_capture says it wrote.
    fn stop_and_read(mut self) -> (Vec<String>, String, usize) {
        terminate(&mut self.child);
        let log = std::fs::read_to_string(&self.log).unwrap();
        // "closed output file F (wrote N frames, B bytes)"; N counts START and STOP too.
        let frames: usize = log
            .split("(wrote ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no frame count in fstrm_capture's log: {log}"));
        let read = |args: &[&str]| {
            let out =
                crate::common::output_of(Command::new("dnstap-read").args(args).arg(&self.file));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let lines = read(&[]).lines().map(str::to_owned).collect();
        (lines, read(&["-y"]), frames - 2)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether something listens on TCP `port` of loopback, asked without connecting (a probe
/// connection would be a client the collector logs as broken).
fn listening_on(port: u16) -> bool {
    let out =
        crate::common::output_of(Command::new("ss").args(["-Htln", &format!("sport = :{port}")]));
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

fn terminate(child: &mut Child) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The questions of `dnstap-read`'s lines of `kind` (`AQ`, `AR`) over `transport`, in order.
/// A line reads `DATE TIME AQ CLIENT -> SERVER UDP SIZE NAME/CLASS/TYPE`.
fn questions(lines: &[String], kind: &str, transport: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields.get(2) == Some(&kind) && fields.get(6) == Some(&transport)
        })
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect()
}

/// A port query's name, answered with that port's uses.
fn port_name(port: u16) -> String {
    format!("{port}.tcp.ports.local")
}

fn answered_over_udp(addr: SocketAddr, port: u16) -> bool {
    udp_exchange(addr, &query(port, &port_name(port), RecordType::TXT, None))
        .is_some_and(|r| !txt_answers(&parse(&r)).is_empty())
}

fn metric(daemon: &Daemon, name: &str) -> u64 {
    let text = http_get(daemon.metrics_addr(), "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[test]
fn every_query_and_response_of_udp_tcp_and_axfr_reaches_fstrm_capture() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("dnstap.sock");
    let collector = Collector::unix(&socket, dir.path().join("capture.fstrm"));
    let target = format!("unix:{}", socket.display());
    let mut daemon = Daemon::start(&[
        "--dnstap",
        &target,
        "--identity",
        "ns-under-test",
        "--allow-transfer",
        "127.0.0.1/32",
    ]);
    assert!(daemon.wait_for_log("dnstap: writing to unix:"));
    let udp_ports: Vec<u16> = (1..=40).collect();
    let tcp_ports: Vec<u16> = (1000..1040).collect();
    for &port in &udp_ports {
        assert!(answered_over_udp(daemon.addr, port), "{port}");
    }
    for &port in &tcp_ports {
        let response = tcp_exchange(
            daemon.addr,
            &query(port, &port_name(port), RecordType::TXT, None),
        );
        assert!(!txt_answers(&parse(&response)).is_empty(), "{port}");
    }
    let dig = crate::common::output_of(
        Command::new("dig")
            .args(["+tcp", "+noall", "+stats", "AXFR", "ports.local", "-p"])
            .arg(daemon.addr.port().to_string())
            .arg(format!("@{}", daemon.addr.ip())),
    );
    let dig = String::from_utf8(dig.stdout).unwrap();
    let axfr_messages: usize = dig
        .split("XFR size:")
        .nth(1)
        .and_then(|rest| rest.split("messages ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("dig's transfer size in {dig}"));
    // A stop writes what is queued, then closes the stream (STOP, FINISH).
    terminate(&mut daemon.child);
    let (lines, yaml, frames) = collector.stop_and_read();

    let names = |ports: &[u16]| -> Vec<String> {
        ports
            .iter()
            .map(|&p| format!("{}/IN/TXT", port_name(p)))
            .collect()
    };
    assert_eq!(questions(&lines, "AQ", "UDP"), names(&udp_ports));
    assert_eq!(questions(&lines, "AR", "UDP"), names(&udp_ports));
    let mut tcp_queries = names(&tcp_ports);
    tcp_queries.push("ports.local/IN/AXFR".to_owned());
    assert_eq!(questions(&lines, "AQ", "TCP"), tcp_queries);
    // dnstap-read stops at the first message without a question, which is the transfer's
    // second (RFC 5936 lets it leave the question out): its first message is the last line,
    // and fstrm_capture's count of frames shows the others arrived.
    let mut tcp_responses = names(&tcp_ports);
    tcp_responses.push("ports.local/IN/AXFR".to_owned());
    assert_eq!(questions(&lines, "AR", "TCP"), tcp_responses);
    let exchanges = udp_ports.len() + tcp_ports.len();
    assert_eq!(frames, 2 * exchanges + 1 + axfr_messages);
    // Identity and version, as NSD and Knot send them.
    assert!(yaml.contains("identity: ns-under-test"), "{yaml}");
    assert!(yaml.contains("version: portsd "), "{yaml}");
    assert!(yaml.contains("type: AUTH_QUERY") && yaml.contains("type: AUTH_RESPONSE"));
}

#[test]
fn an_absent_collector_costs_counted_drops_and_a_returning_one_is_written_to_again() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_loopback_port();
    let target = format!("tcp:127.0.0.1:{port}");
    let daemon = Daemon::start(&["--dnstap", &target, "--metrics", "127.0.0.1:0"]);
    assert!(daemon.wait_for_log("dnstap: cannot write to tcp:127.0.0.1"));
    // No collector: every query is still answered, and its events are counted as dropped.
    for port in 1..=20 {
        assert!(answered_over_udp(daemon.addr, port), "{port}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&daemon, "portsd_dnstap_dropped_total") < 20 {
        assert!(Instant::now() < deadline, "drops not counted");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The collector arrives: portsd connects within its retry time.
    let first = Collector::tcp(port, dir.path().join("first.fstrm"));
    assert!(daemon.wait_for_log("dnstap: writing to tcp:127.0.0.1"));
    let dropped = metric(&daemon, "portsd_dnstap_dropped_total");
    for port in 100..120 {
        assert!(answered_over_udp(daemon.addr, port), "{port}");
    }
    // Written to the collector, none dropped; then it goes away.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&daemon, "portsd_dnstap_sent_total") < 20 {
        assert!(Instant::now() < deadline, "events not sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(metric(&daemon, "portsd_dnstap_sent_total"), 20);
    assert_eq!(metric(&daemon, "portsd_dnstap_dropped_total"), dropped);
    drop(first);

    // Queries go on while the collector is away; portsd notices at its next write.
    let deadline = Instant::now() + Duration::from_secs(10);
    for probe in 200.. {
        if daemon.count_log("connecting again") > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the collector's absence was not noticed"
        );
        assert!(answered_over_udp(daemon.addr, probe));
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = Collector::tcp(port, dir.path().join("second.fstrm"));
    assert!(wait_for_lines(&daemon.log, |lines| {
        lines
            .iter()
            .filter(|l| l.contains("dnstap: writing to"))
            .count()
            >= 2
    }));
    let second_ports: Vec<u16> = (300..320).collect();
    for &port in &second_ports {
        assert!(answered_over_udp(daemon.addr, port), "{port}");
    }
    let mut daemon = daemon;
    terminate(&mut daemon.child);
    let (second_lines, _, _) = second.stop_and_read();
    assert_eq!(
        questions(&second_lines, "AR", "UDP"),
        second_ports
            .iter()
            .map(|&p| format!("{}/IN/TXT", port_name(p)))
            .collect::<Vec<_>>()
    );
}
