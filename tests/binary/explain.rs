//! `portsd explain` on this host: sockets the test opens (TCP listening, UDP unconnected,
//! IPv4 and IPv6 loopback, port 0) are listed with this process as their holder, and the real
//! `ss -tulpn` output piped into `portsd explain -` comes back line for line, annotated.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Output, Stdio};

/// Runs `portsd explain ARGS` (on the compiled-in data alone) with `input` on standard input.
fn explain(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .arg("explain")
        .args(args)
        .args(["--services", "none", "--frequencies", "none"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portsd starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "portsd explain {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The sockets the test holds open while it runs: TCP listening and UDP, on 127.0.0.1 and
/// ::1, each on a port the kernel picks.
struct Opened {
    _tcp: Vec<TcpListener>,
    _udp: Vec<UdpSocket>,
    /// `(protocol, address)` of each.
    addresses: Vec<(&'static str, SocketAddr)>,
}

fn open_sockets() -> Opened {
    let mut opened = Opened {
        _tcp: Vec::new(),
        _udp: Vec::new(),
        addresses: Vec::new(),
    };
    for ip in ["127.0.0.1", "[::1]"] {
        let tcp = TcpListener::bind(format!("{ip}:0")).expect("a TCP port");
        let udp = UdpSocket::bind(format!("{ip}:0")).expect("a UDP port");
        opened.addresses.push(("tcp", tcp.local_addr().unwrap()));
        opened.addresses.push(("udp", udp.local_addr().unwrap()));
        opened._tcp.push(tcp);
        opened._udp.push(udp);
    }
    opened
}

/// This process's name as the kernel keeps it (`/proc/self/comm`).
fn own_name() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn explain_lists_the_sockets_this_process_opened_with_their_holder() {
    let opened = open_sockets();
    let output = explain(&["--json"], "");
    let sockets: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let me = serde_json::json!({ "pid": std::process::id(), "name": own_name() });
    for (protocol, addr) in &opened.addresses {
        let found = sockets.iter().find(|s| {
            s["protocol"] == *protocol
                && s["port"] == addr.port()
                && s["address"] == addr.ip().to_string()
        });
        let found = found.unwrap_or_else(|| panic!("{protocol} {addr} not listed"));
        assert!(
            found["processes"].as_array().unwrap().contains(&me),
            "{protocol} {addr}: {found}"
        );
        let uses = found["uses"].as_array().unwrap();
        assert!(!uses.is_empty(), "{found}");
        assert_eq!(uses[0]["protocol"], *protocol, "{found}");
        let known = uses.iter().any(|u| u["status"] != "Unassigned");
        assert_eq!(found["known"], known, "{found}");
    }
    // The table: one row per socket, the holder as NAME(PID).
    let text = String::from_utf8(explain(&[], "").stdout).unwrap();
    let holder = format!("{}({})", own_name(), std::process::id());
    for (protocol, addr) in &opened.addresses {
        let row = text
            .lines()
            .find(|l| l.starts_with(protocol) && l.contains(&format!(" {addr} ")))
            .unwrap_or_else(|| panic!("{protocol} {addr} not in\n{text}"));
        assert!(row.contains(&holder), "{row}");
        assert!(
            row.contains(&format!("{}/{protocol}", addr.port())),
            "{row}"
        );
    }
}

#[test]
fn real_ss_output_comes_back_as_it_was_with_the_uses_added() {
    let opened = open_sockets();
    let ss = Command::new("ss")
        .arg("-tulpn")
        .output()
        .expect("ss runs (iproute2, installed by .ci/setup)");
    assert!(ss.status.success());
    let input = String::from_utf8(ss.stdout).unwrap();
    let output = String::from_utf8(explain(&["-"], &input).stdout).unwrap();
    let (before, after): (Vec<&str>, Vec<&str>) =
        (input.lines().collect(), output.lines().collect());
    assert_eq!(before.len(), after.len(), "{output}");
    for (was, is) in before.iter().zip(&after) {
        assert!(is.starts_with(was), "{was:?} became {is:?}");
    }
    for (protocol, addr) in &opened.addresses {
        let line = after
            .iter()
            .find(|l| l.starts_with(protocol) && l.contains(&format!(":{} ", addr.port())))
            .unwrap_or_else(|| panic!("{protocol} {addr} not in\n{output}"));
        let note = format!("  # {}/{protocol}", addr.port());
        let after_note = line.split_once(&note).map(|(_, rest)| rest);
        assert!(
            after_note.is_some_and(|rest| rest.starts_with([' ', ':'])),
            "{line}"
        );
    }
    // The header names no port and stays bare.
    assert_eq!(after[0], before[0]);
}
