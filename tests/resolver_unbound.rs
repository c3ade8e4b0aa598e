//! End-to-end check of the unbound recipe (deploy/resolvers/unbound-portsd.conf):
//! the built portsd on a loopback port, Debian's unbound on another with the
//! recipe's settings (0x20 case randomisation, QNAME minimisation, stub zone),
//! and the real `dig` asking unbound. portsd runs from the example config
//! deploy/portsd.toml, so the example is checked too.
//!
//! Needs the Debian packages unbound (unbound, unbound-control) and
//! bind9-dnsutils (dig); a missing tool fails the test with the package name.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long a daemon may take to report that it is serving.
const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// Times unbound is started on a fresh port when the one picked was taken.
const UNBOUND_PORT_ATTEMPTS: usize = 3;

/// The address the shipped recipe stubs the zone to.
const RECIPE_STUB_ADDR: &str = "stub-addr: 127.0.0.1@5300";

/// A child process killed and reaped when the test ends, pass or fail, with
/// its stderr read line by line on a thread so the pipe never fills.
struct Daemon {
    name: &'static str,
    child: Child,
    stderr_lines: Receiver<String>,
    /// Everything read from stderr so far, for failure messages.
    log: Vec<String>,
}

impl Daemon {
    fn spawn(name: &'static str, command: &mut Command, debian_package: &str) -> Daemon {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {name} ({err}); install the Debian package {debian_package}")
            });
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, stderr_lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            name,
            child,
            stderr_lines,
            log: Vec::new(),
        }
    }

    /// Reads stderr until a line yields `Some`, the process closes stderr
    /// (it exited) or the deadline passes; the error carries the log.
    fn wait_for_line<T>(&mut self, mut wanted: impl FnMut(&str) -> Option<T>) -> Result<T, String> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(remaining) {
                Ok(line) => {
                    let found = wanted(&line);
                    self.log.push(line);
                    if let Some(found) = found {
                        return Ok(found);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{} not ready after {STARTUP_DEADLINE:?}; its log:\n{}",
                        self.name,
                        self.log.join("\n")
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "{} exited ({:?}); its log:\n{}",
                        self.name,
                        self.child.wait(),
                        self.log.join("\n")
                    ));
                }
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Both calls fail only if the process is already gone and reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds the socket address in portsd's `listening on udp 127.0.0.1:PORT`
/// line, tolerating colour codes and a `key=` prefix around the address.
fn udp_listen_address(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on udp")?;
    rest.split(|c: char| c.is_whitespace() || c == '=' || c == '\u{1b}')
        .find_map(|token| token.trim_end_matches("[0m").parse().ok())
}

/// Starts portsd with the shipped example config, overriding on the command
/// line only the ports, which must be ephemeral in a test. So this also checks
/// that every key in the example is one portsd accepts.
fn start_portsd() -> (Daemon, SocketAddr) {
    let example_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portsd.toml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portsd"));
    command
        .arg("serve")
        .arg("--config")
        .arg(example_config)
        .args(["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    let mut portsd = Daemon::spawn("portsd", &mut command, "(built by cargo)");
    let address = portsd
        .wait_for_line(udp_listen_address)
        .unwrap_or_else(|log| panic!("{log}"));
    (portsd, address)
}

/// A loopback port that was free for both UDP and TCP a moment ago. Another
/// process may take it before unbound binds it; `start_unbound` then retries.
fn free_loopback_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP probe socket");
        let port = udp.local_addr().expect("probe socket address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// unbound's own configuration for the test: loopback only, foreground, no
/// chroot or user switch, no validator (no trust anchor is needed), and a
/// control socket for reading its cache statistics. The recipe, with its
/// stub address pointed at the test's portsd, follows this.
fn unbound_config(dir: &Path, port: u16, portsd: SocketAddr) -> String {
    let recipe_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/resolvers/unbound-portsd.conf");
    let recipe = fs::read_to_string(&recipe_path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", recipe_path.display()));
    assert!(
        recipe.contains(RECIPE_STUB_ADDR),
        "the recipe no longer says `{RECIPE_STUB_ADDR}`"
    );
    let recipe = recipe.replace(
        RECIPE_STUB_ADDR,
        &format!("stub-addr: {}@{}", portsd.ip(), portsd.port()),
    );
    let dir = dir.display();
    format!(
        "server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-daemonize: no
    chroot: \"\"
    username: \"\"
    directory: \"{dir}\"
    pidfile: \"{dir}/unbound.pid\"
    use-syslog: no
    logfile: \"\"
    verbosity: 1
    num-threads: 1
    module-config: \"iterator\"
    extended-statistics: yes
    statistics-cumulative: no

remote-control:
    control-enable: yes
    control-interface: \"{dir}/control.sock\"
    control-use-cert: no

{recipe}"
    )
}

/// Starts unbound and waits for its "start of service" log line, which it
/// writes once its listening and control sockets are open.
fn start_unbound(dir: &Path, portsd: SocketAddr) -> (Daemon, u16, PathBuf) {
    let config_path = dir.join("unbound.conf");
    let mut failures = Vec::new();
    for _ in 0..UNBOUND_PORT_ATTEMPTS {
        let port = free_loopback_port();
        fs::write(&config_path, unbound_config(dir, port, portsd)).expect("writing unbound.conf");
        let mut command = Command::new("unbound");
        command.arg("-d").arg("-c").arg(&config_path);
        let mut unbound = Daemon::spawn("unbound", &mut command, "unbound");
        match unbound.wait_for_line(|line| line.contains("start of service").then_some(())) {
            Ok(()) => return (unbound, port, config_path),
            Err(log) => failures.push(log),
        }
    }
    panic!("unbound did not start:\n{}", failures.join("\n---\n"));
}

fn run(program: &str, debian_package: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run `{program}` ({err}); install the Debian package {debian_package}")
        })
}

/// What `dig` showed: the response code and the answer records.
struct DigAnswer {
    status: String,
    answers: Vec<String>,
    output: String,
}

fn dig_txt(unbound_port: u16, name: &str) -> DigAnswer {
    let port = unbound_port.to_string();
    let output = run(
        "dig",
        "bind9-dnsutils",
        &[
            "@127.0.0.1",
            "-p",
            &port,
            "+time=2",
            "+tries=3",
            "TXT",
            name,
        ],
    );
    let output = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = output
        .split_once("status: ")
        .and_then(|(_, rest)| rest.split(',').next())
        .unwrap_or("no response")
        .to_string();
    let answers = output
        .split(";; ANSWER SECTION:")
        .nth(1)
        .map(|section| {
            section
                .lines()
                .skip(1)
                .take_while(|line| !line.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    DigAnswer {
        status,
        answers,
        output,
    }
}

/// unbound's counters for answers from its cache and answers it had to
/// look up, read without resetting them.
fn cache_counters(config_path: &Path) -> (u64, u64) {
    let config = config_path.to_str().expect("UTF-8 temporary path");
    let output = run(
        "unbound-control",
        "unbound",
        &["-c", config, "stats_noreset"],
    );
    let stats = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "unbound-control failed:\n{stats}");
    let counter = |key: &str| -> u64 {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in unbound-control stats:\n{stats}"))
    };
    (
        counter("total.num.cachehits"),
        counter("total.num.cachemiss"),
    )
}

#[test]
fn unbound_stub_zone_resolves_through_portsd() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_portsd, portsd_address) = start_portsd();
    let (_unbound, unbound_port, config_path) = start_unbound(dir.path(), portsd_address);

    let https = dig_txt(unbound_port, "443.tcp.ports.local");
    assert_eq!(https.status, "NOERROR", "{}", https.output);
    assert!(
        https
            .answers
            .iter()
            .any(|record| record.contains("443 | tcp |")),
        "no `443 | tcp |` record in:\n{}",
        https.output
    );

    let out_of_range = dig_txt(unbound_port, "99999.tcp.ports.local");
    assert_eq!(out_of_range.status, "NXDOMAIN", "{}", out_of_range.output);

    let (hits_before, misses_before) = cache_counters(&config_path);
    let repeat = dig_txt(unbound_port, "443.tcp.ports.local");
    let (hits_after, misses_after) = cache_counters(&config_path);
    assert_eq!(repeat.status, "NOERROR", "{}", repeat.output);
    assert_eq!(
        repeat.answers.len(),
        https.answers.len(),
        "{}",
        repeat.output
    );
    assert_eq!(
        hits_after,
        hits_before + 1,
        "the repeat was not a cache hit"
    );
    assert_eq!(misses_after, misses_before, "the repeat went to portsd");
}

#[test]
fn listen_line_is_parsed() {
    let expected: SocketAddr = "127.0.0.1:40053".parse().expect("literal address");
    for line in [
        "2026-01-01T00:00:00Z  INFO portsd::server: listening on udp 127.0.0.1:40053",
        "INFO listening on udp addr=127.0.0.1:40053",
        "\u{1b}[32m INFO\u{1b}[0m listening on udp 127.0.0.1:40053",
    ] {
        assert_eq!(udp_listen_address(line), Some(expected), "{line}");
    }
    assert_eq!(udp_listen_address("listening on tcp 127.0.0.1:40053"), None);
}
