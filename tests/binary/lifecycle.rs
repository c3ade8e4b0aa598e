//! The daemon's life, tested on the built binary over real sockets: socket activation through
//! `systemd-socket-activate`, reloads on SIGHUP and with `--watch` while clients keep asking,
//! a broken data file during a reload, and stopping on SIGTERM and SIGINT. Every wait is for a
//! log line or an answer, with a bound; nothing sleeps.

use std::fs;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{
    Daemon, LogLines, parse, query, tcp_connect, tcp_receive, tcp_send, txt_answers, udp_exchange,
    wait_for_lines,
};
use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portsd::sources::{EXCERPT, IANA_CSV, LOCAL_TSV, PORTS_TSV};

/// The name whose answer the reload tests change.
const CHANGING: &str = "8443.tcp.ports.local.";
/// `local.tsv` as the tests start it: one site-local use of 8443/tcp.
const LOCAL_BEFORE: &str =
    "# before the change\n8443\ttcp\tbilling-api\tBilling API, payments team\n";
/// `local.tsv` after the change: the row reworded and a second one added.
const LOCAL_AFTER: &str = "# after the change\n\
    8443\ttcp\tbilling-api\tBilling API v2, payments team\n\
    8443\ttcp\t-\tBilling metrics exporter\n";
/// `local.tsv` with a bad third line (no such port).
const LOCAL_BROKEN: &str = "# broken\n8443\ttcp\tbilling-api\tfine\n70000\ttcp\t-\tno such port\n";
/// The log line of a successful reload.
const RELOADED: &str = "reloaded the data";
/// Reloads the client load runs through.
const RELOADS_UNDER_LOAD: usize = 20;

/// A copy of the repository's data files in a fresh directory, with `local` as `local.tsv`.
fn data_dir(local: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in [PORTS_TSV, EXCERPT, IANA_CSV] {
        fs::copy(source.join(name), dir.path().join(name)).expect("copying the data");
    }
    fs::write(dir.path().join(LOCAL_TSV), local).expect("writing local.tsv");
    dir
}

fn send_signal(daemon: &Daemon, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(daemon.child.id()).expect("a pid fits an i32"));
    kill(pid, signal).expect("signalling portsd");
}

/// Waits (at most 10 s) until `text` has been logged `count` times.
fn wait_for_count(daemon: &Daemon, text: &str, count: usize) -> bool {
    wait_for_lines(&daemon.log, |lines| {
        lines.iter().filter(|l| l.contains(text)).count() >= count
    })
}

/// Asks `name` over UDP and returns the response.
fn ask(addr: SocketAddr, name: &str, rtype: RecordType) -> Message {
    parse(&udp_exchange(addr, &query(7, name, rtype, Some(1232))).expect("an answer"))
}

/// The TXT strings answered for the changing name.
fn changing_answer(addr: SocketAddr) -> Vec<String> {
    txt_answers(&ask(addr, CHANGING, RecordType::TXT))
}

/// The serial of the zone's SOA record.
fn soa_serial(addr: SocketAddr) -> u32 {
    ask(addr, "ports.local.", RecordType::SOA)
        .answers
        .iter()
        .find_map(|record| match &record.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .expect("an SOA record")
}

/// What a client saw while the server reloaded.
#[derive(Debug, Default)]
struct Observed {
    sent: usize,
    answered: usize,
    /// Answers matching the data before and after the change.
    before: usize,
    after: usize,
    /// Answers matching neither, first few kept.
    neither: Vec<Vec<String>>,
    /// The longest wait for an answer (a reload holds answers up while it builds the table).
    slowest: Duration,
}

/// Asks for the changing name through `exchange` until `stop` is set, one query at a time,
/// checking each answer's TXT set against the two versions of the data.
fn ask_until(
    stop: &AtomicBool,
    before: &[String],
    after: &[String],
    mut exchange: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Observed {
    let mut observed = Observed::default();
    while !stop.load(Ordering::Relaxed) {
        let id = observed.sent as u16;
        observed.sent += 1;
        let asked = Instant::now();
        let Some(response) = exchange(&query(id, CHANGING, RecordType::TXT, Some(1232))) else {
            continue;
        };
        observed.slowest = observed.slowest.max(asked.elapsed());
        let response = parse(&response);
        assert_eq!(
            response.metadata.id, id,
            "the answer to the query just sent"
        );
        observed.answered += 1;
        let texts = txt_answers(&response);
        if texts == before {
            observed.before += 1;
        } else if texts == after {
            observed.after += 1;
        } else if observed.neither.len() < 5 {
            observed.neither.push(texts);
        }
    }
    observed
}

/// A UDP client that waits for the answer to each query (a reload may hold it up a moment).
fn udp_client(server: SocketAddr) -> impl FnMut(&[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a client socket");
    socket
        .connect(server)
        .expect("connecting the client socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    let mut buffer = vec![0u8; 65_535];
    move |packet| {
        socket.send(packet).ok()?;
        let len = socket.recv(&mut buffer).ok()?;
        Some(buffer[..len].to_vec())
    }
}

/// A TCP client asking every query on one connection.
fn tcp_client(server: SocketAddr) -> impl FnMut(&[u8]) -> Option<Vec<u8>> {
    let mut stream = tcp_connect(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    move |packet| {
        tcp_send(&mut stream, packet);
        tcp_receive(&mut stream)
    }
}

/// Writes `local`, sends SIGHUP and waits for reload number `reloads` to be logged.
fn reload_with(daemon: &Daemon, dir: &Path, local: &str, reloads: usize) {
    fs::write(dir.join(LOCAL_TSV), local).expect("writing local.tsv");
    send_signal(daemon, Signal::SIGHUP);
    assert!(
        wait_for_count(daemon, RELOADED, reloads),
        "reload {reloads} was not logged: {:?}",
        daemon.log.0.lock().unwrap()
    );
}

#[test]
fn reloads_lose_no_query_and_never_mix_old_and_new() {
    let dir = data_dir(LOCAL_BEFORE);
    let daemon = Daemon::start(&["--data", dir.path().to_str().expect("UTF-8 path")]);
    let addr = daemon.addr;
    let before = changing_answer(addr);
    let first_serial = soa_serial(addr);

    // One change and back, outside the load, to learn both answers and check the serial.
    reload_with(&daemon, dir.path(), LOCAL_AFTER, 1);
    let after = changing_answer(addr);
    let changed_serial = soa_serial(addr);
    assert!(
        changed_serial > first_serial,
        "the serial grows with the data"
    );
    send_signal(&daemon, Signal::SIGHUP);
    assert!(wait_for_count(&daemon, RELOADED, 2));
    assert_eq!(
        soa_serial(addr),
        changed_serial,
        "unchanged data keeps its serial"
    );
    reload_with(&daemon, dir.path(), LOCAL_BEFORE, 3);
    assert_eq!(changing_answer(addr), before);
    let mut serial = soa_serial(addr);
    assert!(serial > changed_serial);

    assert!(
        before
            .iter()
            .any(|t| t.contains("Billing API, payments team")),
        "{before:?}"
    );
    assert!(
        after
            .iter()
            .any(|t| t.contains("Billing API v2, payments team")),
        "{after:?}"
    );
    assert!(
        after.iter().any(|t| t.contains("Billing metrics exporter")),
        "{after:?}"
    );
    assert!(!before.iter().any(|t| t.contains("exporter")), "{before:?}");
    assert_eq!(after.len(), before.len() + 1, "{before:?} {after:?}");

    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (udp, tcp) = std::thread::scope(|scope| {
        let udp = scope.spawn(|| ask_until(&stop, &before, &after, udp_client(addr)));
        let tcp = scope.spawn(|| ask_until(&stop, &before, &after, tcp_client(addr)));
        for reload in 1..=RELOADS_UNDER_LOAD {
            let (local, expected) = if reload % 2 == 1 {
                (LOCAL_AFTER, &after)
            } else {
                (LOCAL_BEFORE, &before)
            };
            reload_with(&daemon, dir.path(), local, 3 + reload);
            assert_eq!(&changing_answer(addr), expected, "after reload {reload}");
            let now = soa_serial(addr);
            assert!(now > serial, "reload {reload}: serial {now} after {serial}");
            serial = now;
        }
        stop.store(true, Ordering::Relaxed);
        (udp.join().unwrap(), tcp.join().unwrap())
    });
    eprintln!(
        "{RELOADS_UNDER_LOAD} reloads in {:?}; udp {udp:?}; tcp {tcp:?}",
        started.elapsed()
    );
    for (transport, observed) in [("udp", &udp), ("tcp", &tcp)] {
        assert_eq!(
            observed.answered, observed.sent,
            "{transport}: every query answered"
        );
        assert!(
            observed.neither.is_empty(),
            "{transport}: mixed answers {:?}",
            observed.neither
        );
        assert!(
            observed.before > 0 && observed.after > 0,
            "{transport} saw both versions: {observed:?}"
        );
    }

    // A broken file: the reload fails naming file and line, and the last good table serves on.
    fs::write(dir.path().join(LOCAL_TSV), LOCAL_BROKEN).expect("writing local.tsv");
    send_signal(&daemon, Signal::SIGHUP);
    let location = format!("{}:3:", dir.path().join(LOCAL_TSV).display());
    assert!(
        daemon.wait_for_log(&location),
        "the failure names {location}: {:?}",
        daemon.log.0.lock().unwrap()
    );
    assert!(daemon.count_log("reload failed") > 0);
    assert_eq!(daemon.count_log(RELOADED), 3 + RELOADS_UNDER_LOAD);
    assert_eq!(
        changing_answer(addr),
        before,
        "the last good table still serves"
    );
    assert_eq!(soa_serial(addr), serial);
}

#[test]
fn watch_reloads_when_the_data_files_change() {
    let dir = data_dir(LOCAL_BEFORE);
    let path = dir.path().to_str().expect("UTF-8 path");
    let daemon = Daemon::start(&["--data", path, "--watch"]);
    let before = changing_answer(daemon.addr);

    // One `cp` of every data file, local.tsv changed: several writes, one reload.
    let staging = data_dir(LOCAL_AFTER);
    let files = [PORTS_TSV, EXCERPT, IANA_CSV, LOCAL_TSV].map(|name| staging.path().join(name));
    let copied = Command::new("cp").args(files).arg(dir.path()).status();
    assert!(copied.expect("running cp").success());
    assert!(
        daemon.wait_for_log(RELOADED),
        "{:?}",
        daemon.log.0.lock().unwrap()
    );
    let after = changing_answer(daemon.addr);
    assert_ne!(after, before);
    assert!(
        after.iter().any(|t| t.contains("Billing metrics exporter")),
        "{after:?}"
    );

    // Written in place this time.
    fs::write(dir.path().join(LOCAL_TSV), LOCAL_BEFORE).expect("writing local.tsv");
    assert!(wait_for_count(&daemon, RELOADED, 2));
    assert_eq!(changing_answer(daemon.addr), before);
    assert_eq!(daemon.count_log(RELOADED), 2, "one reload per change");
    assert_eq!(daemon.count_log("data files changed"), 2);
    assert_eq!(daemon.count_log("reload failed"), 0);
}

#[test]
fn watch_without_a_data_directory_is_one_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args([
            "serve",
            "--watch",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "/dev/null",
        ])
        .env_remove("PORTSD_DATA")
        .output()
        .expect("portsd runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("portsd: --watch needs a data directory"),
        "{stderr}"
    );
}

/// Waits at most `limit` for `child` to exit; kills it and returns `None` when it does not.
fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits an i32"));
    std::thread::scope(|scope| {
        let (exited, exit) = mpsc::channel();
        scope.spawn(move || {
            let _ = exited.send(child.wait());
        });
        match exit.recv_timeout(limit) {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = kill(pid, Signal::SIGKILL);
                None
            }
        }
    })
}

#[test]
fn sigterm_and_sigint_stop_within_five_seconds_with_status_zero() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut daemon = Daemon::start(&[]);
        // A client holding an idle connection must not delay the stop (its idle timeout is 10 s).
        let mut connection = tcp_connect(daemon.addr);
        tcp_send(&mut connection, &query(1, CHANGING, RecordType::TXT, None));
        assert!(
            tcp_receive(&mut connection).is_some(),
            "{signal}: TCP answered"
        );
        let answered = udp_exchange(daemon.addr, &query(2, CHANGING, RecordType::TXT, None));
        assert!(answered.is_some(), "{signal}: UDP answered");

        let signalled = Instant::now();
        send_signal(&daemon, signal);
        let status = exit_within(&mut daemon.child, Duration::from_secs(5));
        let took = signalled.elapsed();
        eprintln!("{signal}: exited {status:?} after {took:?}");
        assert!(
            status.is_some_and(|s| s.success()),
            "{signal}: status {status:?} after {took:?}"
        );
        assert!(daemon.wait_for_log("stopping"));
        assert_eq!(
            tcp_receive(&mut connection),
            None,
            "{signal}: the connection is closed"
        );
    }
}

/// With `--udp-threads 4` the daemon runs three more threads, each with its own socket on the
/// port; the kernel spreads clients over the four sockets by their address and port, so 64
/// clients reach every socket (all but certainly) and each must get its own answer.
#[test]
fn every_udp_thread_answers_the_clients_sent_its_way() {
    let daemon = Daemon::start(&["--udp-threads", "4"]);
    assert!(daemon.wait_for_log("answering udp on 4 threads"));
    let tasks = format!("/proc/{}/task", daemon.child.id());
    let mut names: Vec<String> = fs::read_dir(&tasks)
        .expect("the daemon's threads")
        .filter_map(|task| fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("portsd-udp-"))
        .collect();
    names.sort();
    assert_eq!(names, ["portsd-udp-1", "portsd-udp-2", "portsd-udp-3"]);
    let clients: Vec<UdpSocket> = (0..64)
        .map(|_| {
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            client
                .set_read_timeout(Some(crate::common::REPLY_TIMEOUT))
                .unwrap();
            client
        })
        .collect();
    for (id, client) in (0u16..).zip(&clients) {
        let name = format!("{}.tcp.ports.local.", 400 + id);
        client
            .send_to(&query(id, &name, RecordType::TXT, None), daemon.addr)
            .unwrap();
    }
    let mut buf = [0u8; 4096];
    for (id, client) in (0u16..).zip(&clients) {
        let (len, from) = client
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("client {id} got no answer: {e}"));
        assert_eq!(from, daemon.addr, "answers come from the port asked");
        let answer = parse(&buf[..len]);
        assert_eq!(answer.metadata.id, id);
        let expected = format!("{}.tcp.ports.local.", 400 + id);
        assert_eq!(answer.queries[0].name().to_ascii(), expected);
        assert!(!txt_answers(&answer).is_empty(), "client {id}: {answer:?}");
    }
}

/// Queries that reached portsd before the stop are answered: UDP datagrams already queued on
/// the socket, and a TCP query sent on an open connection just before the signal.
#[test]
fn queries_in_flight_at_sigterm_are_answered() {
    let mut daemon = Daemon::start(&[]);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(crate::common::REPLY_TIMEOUT))
        .unwrap();
    let mut connection = tcp_connect(daemon.addr);
    tcp_send(&mut connection, &query(1, CHANGING, RecordType::TXT, None));
    assert!(
        tcp_receive(&mut connection).is_some(),
        "the connection is open and served"
    );
    // Loopback delivers a datagram into the server's socket queue before send_to returns, so
    // these are all waiting when the signal lands.
    for id in 0..50u16 {
        udp.send_to(&query(id, CHANGING, RecordType::TXT, None), daemon.addr)
            .unwrap();
    }
    tcp_send(&mut connection, &query(2, CHANGING, RecordType::TXT, None));
    send_signal(&daemon, Signal::SIGTERM);
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    while answered < 50 && udp.recv_from(&mut buf).is_ok() {
        answered += 1;
    }
    assert_eq!(answered, 50, "every queued UDP query is answered");
    let last = tcp_receive(&mut connection).expect("the TCP query in flight is answered");
    assert_eq!(u16::from_be_bytes([last[0], last[1]]), 2);
    let status = exit_within(&mut daemon.child, Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// Sends a query over TCP and one over UDP to sockets that `systemd-socket-activate` binds
/// lazily, each once its "Listening on" line shows: the outer activator (TCP) starts the inner
/// one (two UDP sockets) on the first connection, and the inner one starts portsd. Returns the client ends,
/// or `None` when an activator failed (the port was taken in between).
fn knock(
    log: &LogLines,
    addr: SocketAddr,
    second_udp: SocketAddr,
) -> Option<(TcpStream, UdpSocket)> {
    let listening = |addr: SocketAddr, fd: u8| {
        let line = format!("Listening on {addr} as {fd}.");
        wait_for_lines(log, |lines| {
            lines.iter().any(|l| l == &line || l.starts_with("Failed"))
        }) && !log
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("Failed"))
    };
    if !listening(addr, 3) {
        return None;
    }
    let mut tcp = tcp_connect(addr);
    tcp_send(
        &mut tcp,
        &query(1, "443.tcp.ports.local.", RecordType::TXT, None),
    );
    if !listening(addr, 4) || !listening(second_udp, 5) {
        return None;
    }
    let udp = UdpSocket::bind("127.0.0.1:0").expect("a client socket");
    udp.set_read_timeout(Some(crate::common::REPLY_TIMEOUT))
        .expect("a read timeout");
    udp.send_to(
        &query(2, "443.udp.ports.local.", RecordType::TXT, None),
        addr,
    )
    .expect("sending the UDP query");
    Some((tcp, udp))
}

/// portsd serves the sockets systemd passes and binds none of its own; with `--udp-threads 2`
/// the second UDP socket is answered by a thread of its own.
#[test]
fn socket_activation_serves_the_passed_sockets() {
    crate::common::output_of(Command::new("systemd-socket-activate").arg("--version"));
    // portsd is told to listen where something already listens: if it bound its own sockets
    // instead of taking the passed ones, it would fail to start.
    let (_taken_udp, taken_tcp) = crate::common::bind_loopback_pair();
    let taken = taken_tcp.local_addr().expect("the taken address");

    // systemd-socket-activate cannot bind port 0, so it gets a port that was free a moment ago;
    // if another process takes it first the activator fails and the test tries another.
    let mut failures = Vec::new();
    for _ in 0..5 {
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::common::free_loopback_port()));
        let second_udp = SocketAddr::from(([127, 0, 0, 1], crate::common::free_loopback_port()));
        if second_udp == addr {
            continue;
        }
        let listen = addr.to_string();
        let mut clients = None;
        let started = Daemon::try_start_command(
            Command::new("systemd-socket-activate")
                .args(["--listen", &listen])
                .arg("systemd-socket-activate")
                .args(["--datagram", "--listen", &listen])
                .args(["--listen", &second_udp.to_string()])
                .arg(env!("CARGO_BIN_EXE_portsd"))
                .args([
                    "serve",
                    "--listen",
                    &taken.to_string(),
                    "--udp-threads",
                    "2",
                ]),
            |log| clients = knock(log, addr, second_udp),
        );
        let (daemon, (mut tcp, udp)) = match (started, clients) {
            (Ok(daemon), Some(clients)) => (daemon, clients),
            (Ok(daemon), None) => panic!("portsd started unasked: {:?}", daemon.log),
            (Err(log), _) => {
                failures.push(log);
                continue;
            }
        };
        assert_eq!(daemon.addr, addr, "serving UDP on the passed socket");
        assert!(daemon.wait_for_log(&format!("listening on tcp {addr}")));
        assert_eq!(
            daemon.count_log("listening on "),
            2,
            "only the passed sockets, not {taken}: {:?}",
            daemon.log
        );

        // The queries that started it, waiting in the sockets meanwhile, are answered.
        let answer = tcp_receive(&mut tcp).expect("the first TCP query answered");
        assert!(txt_answers(&parse(&answer))[0].starts_with("443 | tcp | Yes | https"));
        let mut buffer = [0u8; 4096];
        let (len, _) = udp
            .recv_from(&mut buffer)
            .expect("the first UDP query answered");
        assert!(txt_answers(&parse(&buffer[..len]))[0].starts_with("443 | udp |"));

        for transport in ["+notcp", "+tcp"] {
            let out = crate::common::run_tool("dig", addr, &[transport, "+short", "TXT", CHANGING]);
            assert!(out.contains("\"8443 | tcp |"), "dig {transport}: {out}");
        }
        // The second UDP socket went to a thread of its own.
        assert!(daemon.wait_for_log("answering udp on 2 threads"));
        let out =
            crate::common::run_tool("dig", second_udp, &["+notcp", "+short", "TXT", CHANGING]);
        assert!(
            out.contains("\"8443 | tcp |"),
            "dig on the second socket: {out}"
        );
        return;
    }
    panic!("systemd-socket-activate never started portsd: {failures:#?}");
}

/// Sets the modification time of every data file in `dir` to `seconds` since the epoch.
fn date_data(dir: &Path, seconds: u64) {
    let time = std::time::UNIX_EPOCH + Duration::from_secs(seconds);
    for name in [PORTS_TSV, EXCERPT, IANA_CSV, LOCAL_TSV] {
        fs::File::options()
            .write(true)
            .open(dir.join(name))
            .and_then(|file| file.set_modified(time))
            .expect("dating the data");
    }
}

/// The serial in the SOA line `export-zone` prints for `args`.
fn exported_serial(args: &[&str]) -> u32 {
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .arg("export-zone")
        .args(args)
        .output()
        .expect("export-zone runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let soa = text
        .lines()
        .find(|line| line.split_whitespace().nth(3) == Some("SOA"))
        .unwrap_or_else(|| panic!("no SOA in export-zone's output"));
    soa.split_whitespace()
        .nth(6)
        .and_then(|serial| serial.parse().ok())
        .unwrap_or_else(|| panic!("no serial in {soa:?}"))
}

#[test]
fn the_serial_is_the_same_across_restarts_instances_and_export_zone() {
    const DATE: u64 = 1_700_000_000;
    let dir = data_dir(LOCAL_BEFORE);
    let data = dir.path().to_str().expect("UTF-8 path");
    let state = tempfile::tempdir().expect("a temporary directory");
    let state = state.path().join("portsd");
    let state = state.to_str().expect("UTF-8 path");
    date_data(dir.path(), DATE);
    // The services database's date would count too: left out.
    let plain = ["--data", data, "--services", "none"];
    let kept = ["--data", data, "--services", "none", "--state-dir", state];
    let first = Daemon::start(&kept);
    assert_eq!(soa_serial(first.addr), DATE as u32, "the data's date");
    // Another instance with the same data and nothing recorded: the same serial.
    let other = Daemon::start(&plain);
    assert_eq!(soa_serial(other.addr), DATE as u32);
    drop(other);
    assert_eq!(exported_serial(&plain), DATE as u32);

    // Files only touched: the content decides, the serial stays.
    date_data(dir.path(), DATE + 600);
    send_signal(&first, Signal::SIGHUP);
    assert!(wait_for_count(&first, RELOADED, 1));
    assert_eq!(soa_serial(first.addr), DATE as u32, "touched, not changed");
    // Changed data dated before the serial (restored from a backup): one step up.
    fs::write(dir.path().join(LOCAL_TSV), LOCAL_AFTER).expect("writing local.tsv");
    date_data(dir.path(), DATE - 3600);
    send_signal(&first, Signal::SIGHUP);
    assert!(wait_for_count(&first, RELOADED, 2));
    let stepped = DATE as u32 + 1;
    assert_eq!(soa_serial(first.addr), stepped);
    drop(first);

    // The step outlives a restart, and export-zone prints it.
    let restarted = Daemon::start(&kept);
    assert_eq!(
        soa_serial(restarted.addr),
        stepped,
        "never back after a restart"
    );
    drop(restarted);
    assert_eq!(exported_serial(&kept), stepped);
    // Records made from the zone's settings changed too: the serial steps again.
    let new_ttl = Daemon::start(&[&kept[..], &["--ttl", "60"]].concat());
    assert_eq!(soa_serial(new_ttl.addr), stepped + 1);
    drop(new_ttl);
    // Without the state directory only the data's date is known (see docs/zone-transfers.md).
    let forgetful = Daemon::start(&plain);
    assert_eq!(soa_serial(forgetful.addr), (DATE - 3600) as u32);
}

#[test]
fn a_reload_gives_http_answers_a_new_etag() {
    let dir = data_dir(LOCAL_BEFORE);
    let daemon = Daemon::start(&[
        "--data",
        dir.path().to_str().expect("UTF-8 path"),
        "--http",
        "127.0.0.1:0",
    ]);
    let url = format!("http://{}/v1/ports/443/tcp", daemon.http_addr());
    let etag = || {
        let answer = ureq::get(&url).call().expect("an answer");
        let tag = answer.headers().get("etag").expect("an ETag");
        tag.to_str().unwrap().to_owned()
    };
    let before = etag();
    assert_eq!(etag(), before, "the same data, the same tag");
    reload_with(&daemon, dir.path(), LOCAL_AFTER, 1);
    assert_ne!(etag(), before, "new data, a new tag");
}
