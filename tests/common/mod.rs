//! Test harness: a real portsd server on 127.0.0.1:0 (in-process, or the built binary), raw
//! UDP/TCP exchanges, hickory's client, and the real `dig` and `kdig`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::num::NonZeroUsize;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use portsd::config::ZoneArgs;
use portsd::core::table::Table;
use portsd::core::zone::Zone;
use portsd::serve::{DataLocation, Listeners, Server, Settings, TcpLimits};

/// How long a test waits for an answer before calling it silence.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// A server running on its own thread until the process ends.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The HTTP server's address.
    pub http: SocketAddr,
    pub server: Server,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The zone every test serves: ports.local, NS ns.ports.local at 127.0.0.1, TTL 3600.
pub fn test_zone() -> Zone {
    ZoneArgs::default()
        .resolve_one(&[])
        .expect("default zone")
        .0
}

/// The table built from the data compiled into the binary (a fresh build on every call).
pub fn builtin_table() -> Table {
    DataLocation::Builtin
        .load()
        .expect("builtin data loads")
        .into_table()
}

/// A services file in services(5) form: names IANA spells otherwise, a port only this file
/// names, a protocol portsd does not serve, comments.
pub const SAMPLE_SERVICES: &str = "# sample\nwhois\t\t43/tcp\t\tnicname\nhttp\t\t80/tcp\t\twww # WorldWideWeb HTTP\n\
    imap2\t\t143/tcp\t\timap\nsnmp-trap\t162/udp\t\tsnmptrap\nsip-tls\t\t5061/tcp\nx11-1\t\t6001/tcp\t\tx11-one\n\
    kerberos4\t750/udp\t\tkerberos-iv kdc\nrtmp\t\t1/ddp\n";

/// The compiled-in data joined with a services database of `text`.
pub fn table_with_services(text: &str) -> Table {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("services");
    std::fs::write(&path, text).unwrap();
    let services = portsd::sources::ServicesFile::from_setting(
        path.to_str(),
        portsd::sources::DEFAULT_SERVICES,
    );
    let loaded = DataLocation::Builtin
        .load()
        .and_then(|loaded| loaded.with_services(services.as_ref()))
        .expect("builtin data and the services file load");
    Table::with_port_names(loaded.entries, &loaded.system_names)
}

impl TestServer {
    /// Starts a server on the compiled-in data.
    pub fn start() -> TestServer {
        TestServer::start_with(
            test_zone(),
            builtin_table(),
            DataLocation::Builtin,
            TcpLimits::default(),
        )
    }

    /// Starts a server with explicit TCP limits.
    pub fn start_with(zone: Zone, table: Table, data: DataLocation, tcp: TcpLimits) -> TestServer {
        TestServer::start_settings(
            zone,
            table,
            Settings {
                tcp,
                ..Settings::new(data)
            },
        )
    }

    /// Starts a server on the compiled-in data with `policy`.
    pub fn start_policy(policy: portsd::pipeline::Policy) -> TestServer {
        TestServer::start_settings(
            test_zone(),
            builtin_table(),
            Settings {
                policy,
                ..Settings::new(DataLocation::Builtin)
            },
        )
    }

    /// Starts a server that rate-limits loopback: 5 answers a second, every second limited
    /// answer slipped.
    pub fn start_rate_limited() -> TestServer {
        use portsd::pipeline::{Policy, rrl::RateLimitConfig};
        TestServer::start_policy(Policy {
            rate_limit: RateLimitConfig {
                responses_per_second: 5,
                slip: 2,
                // Loopback is exempt by default; exempt something else so it is limited here.
                exempt: vec!["192.0.2.0/24".parse().unwrap()],
                ..RateLimitConfig::default()
            },
            ..Policy::default()
        })
    }

    /// Starts a server with explicit settings.
    pub fn start_settings(zone: Zone, table: Table, settings: Settings) -> TestServer {
        let mut listeners = Listeners::bind(&["127.0.0.1:0".parse().unwrap()], NonZeroUsize::MIN)
            .expect("bind port 0");
        let addr = listeners.udp[0].local_addr().unwrap();
        let http_addr = listeners
            .bind_http("127.0.0.1:0".parse().unwrap())
            .expect("bind an http port");
        let server = Server::new(vec![zone], table, settings);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = server.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime
                .block_on(running.run(listeners, async {
                    let _ = stopped.await;
                }))
                .unwrap();
        });
        TestServer {
            addr,
            http: http_addr,
            server,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// One server shared by all tests of a test binary.
pub static SHARED: LazyLock<Arc<TestServer>> = LazyLock::new(|| Arc::new(TestServer::start()));

/// A query message with the given ID, name (case kept), type and EDNS payload.
pub fn query(id: u16, name: &str, rtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    let mut q = Query::query(Name::from_ascii(name).unwrap(), rtype);
    q.set_query_class(DNSClass::IN);
    message.add_query(q);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        message.edns = Some(e);
    }
    message.to_vec().unwrap()
}

/// Sends a datagram and waits up to [`REPLY_TIMEOUT`] for the reply.
pub fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    socket.send_to(packet, addr).unwrap();
    let mut buf = vec![0u8; 65_535];
    match socket.recv_from(&mut buf) {
        Ok((len, _)) => Some(buf[..len].to_vec()),
        Err(_) => None,
    }
}

/// Sends `requests` at once from one socket and sorts what comes back within a short window
/// into full answers and truncated slips (which must carry the question and no records).
pub fn burst(addr: SocketAddr, requests: impl IntoIterator<Item = Vec<u8>>) -> (usize, usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for request in requests {
        socket.send_to(&request, addr).unwrap();
    }
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let (mut full, mut slipped) = (0, 0);
    let mut buf = [0u8; 2048];
    while let Ok((len, _)) = socket.recv_from(&mut buf) {
        let reply = parse(&buf[..len]);
        if reply.metadata.truncation {
            assert!(reply.answers.is_empty(), "a slip carries no records");
            assert_eq!(reply.queries.len(), 1, "a slip echoes the question");
            slipped += 1;
        } else {
            full += 1;
        }
    }
    (full, slipped)
}

/// The COOKIE option code (RFC 7873).
pub const COOKIE: u16 = 10;

/// A query for `name` TXT with EDNS and a COOKIE option holding `cookie` (any length).
pub fn cookie_query(id: u16, name: &str, cookie: &[u8]) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 0x10, 0, 1]);
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    p.extend_from_slice(&(4 + cookie.len() as u16).to_be_bytes());
    p.extend_from_slice(&COOKIE.to_be_bytes());
    p.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    p.extend_from_slice(cookie);
    p
}

/// The COOKIE option data of a response, if it has one.
pub fn response_cookie(message: &Message) -> Option<Vec<u8>> {
    let edns = message.edns.as_ref()?;
    edns.options().as_ref().iter().find_map(|(code, option)| {
        let data: Vec<u8> = option.try_into().ok()?;
        (u16::from(*code) == COOKIE).then_some(data)
    })
}

/// `GET path` over a fresh connection; the whole response, head and body.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: portsd\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Whether the server has closed `stream`, waiting up to `wait` for it to do so; what the
/// server sends before closing is read and passed over.
pub fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Opens a TCP connection to the server.
pub fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    stream
}

/// Writes one length-framed message.
pub fn tcp_send(stream: &mut TcpStream, packet: &[u8]) {
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed).unwrap();
}

/// Reads one length-framed message; `None` when the server closed or timed out.
pub fn tcp_receive(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

/// One query over a fresh TCP connection.
pub fn tcp_exchange(addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let mut stream = tcp_connect(addr);
    tcp_send(&mut stream, packet);
    tcp_receive(&mut stream).expect("a TCP answer")
}

/// hickory's client for `addr`, over TCP or UDP.
pub async fn hickory(
    addr: SocketAddr,
    tcp: bool,
) -> hickory_net::client::Client<hickory_net::runtime::TokioRuntimeProvider> {
    use hickory_net::client::Client;
    use hickory_net::runtime::TokioRuntimeProvider;
    let provider = TokioRuntimeProvider::default();
    if tcp {
        let (stream, handle) = hickory_net::tcp::TcpClientStream::new(addr, None, None, provider);
        let (client, background) =
            Client::<TokioRuntimeProvider>::new(stream.await.expect("tcp connects"), handle);
        tokio::spawn(background);
        client
    } else {
        let stream = hickory_net::udp::UdpClientStream::builder(addr, provider).build();
        let (client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
        tokio::spawn(background);
        client
    }
}

/// Parses a response with hickory.
pub fn parse(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).expect("a well-formed response")
}

/// The TXT strings of the answer section, each record's strings joined.
pub fn txt_answers(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// Runs a DNS tool (`dig`, `kdig`) against the server and returns what it printed.
pub fn run_tool(tool: &str, addr: SocketAddr, args: &[&str]) -> String {
    let server = format!("@{}", addr.ip());
    let port = addr.port().to_string();
    let output = output_of(
        Command::new(tool)
            .arg(server)
            .args(["-p", &port])
            .args(args),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a system program to its end; a program that is not installed fails the test with one
/// line naming it and what installs it.
pub fn output_of(command: &mut Command) -> std::process::Output {
    command
        .output()
        .unwrap_or_else(|error| missing(&command.get_program().to_string_lossy(), &error))
}

/// Fails the test with one line: the program it needs could not be run, and what installs it.
pub fn missing(program: &str, error: &std::io::Error) -> ! {
    panic!("this test needs `{program}` ({error}): run .ci/setup, which installs it")
}

/// A UDP socket and a TCP listener bound to the same ephemeral loopback port.
pub fn bind_loopback_pair() -> (UdpSocket, TcpListener) {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP probe socket");
        let port = udp.local_addr().expect("probe socket address").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
            return (udp, tcp);
        }
    }
}

/// A loopback port that was free for both UDP and TCP a moment ago. Another process may take
/// it before the caller binds it, so callers retry on a conflict.
pub fn free_loopback_port() -> u16 {
    let (udp, _) = bind_loopback_pair();
    udp.local_addr().expect("probe socket address").port()
}

/// A process's log lines so far, and a signal for each new one.
pub type LogLines = Arc<(std::sync::Mutex<Vec<String>>, std::sync::Condvar)>;

/// Waits (at most 30 s) until `done` holds for the lines logged so far; returns whether it did.
pub fn wait_for_lines(log: &LogLines, done: impl Fn(&[String]) -> bool) -> bool {
    let (lines, changed) = &**log;
    let guard = lines.lock().unwrap();
    // A bound for a hung daemon, not a pace: a reload of the full data on a busy two-core
    // machine has taken over 10 s.
    let (guard, _) = changed
        .wait_timeout_while(guard, Duration::from_secs(30), |lines| !done(lines))
        .unwrap();
    done(&guard)
}

/// The built `portsd` binary running with `args`; its port is read from the log line.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: LogLines,
}

impl Daemon {
    /// Starts `portsd serve --listen 127.0.0.1:0 ARGS...` and waits for its "listening on udp"
    /// line.
    pub fn start(args: &[&str]) -> Daemon {
        Daemon::start_command(
            Command::new(env!("CARGO_BIN_EXE_portsd"))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .args(args),
        )
    }

    /// Starts a prepared command whose stderr carries portsd's log.
    pub fn start_command(command: &mut Command) -> Daemon {
        Daemon::try_start_command(command, |_| {}).unwrap_or_else(|log| {
            panic!("portsd did not report its address; log: {log:?}");
        })
    }

    /// Starts a prepared command whose stderr carries portsd's log, and runs `meanwhile` with
    /// the log while waiting for the address (a socket-activated portsd starts only when a
    /// client knocks). Returns the log instead when the process ends without an address.
    pub fn try_start_command(
        command: &mut Command,
        meanwhile: impl FnOnce(&LogLines),
    ) -> Result<Daemon, Vec<String>> {
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portsd starts");
        let stderr = child.stderr.take().unwrap();
        let log: LogLines = Arc::default();
        let (found, wait) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on udp ").nth(1)
                    && let Some(sender) = found.take()
                {
                    let _ = sender.send(rest.trim().parse::<SocketAddr>().ok());
                }
                sink.0.lock().unwrap().push(line);
                sink.1.notify_all();
            }
        });
        meanwhile(&log);
        match wait.recv_timeout(Duration::from_secs(30)).ok().flatten() {
            Some(addr) => Ok(Daemon { child, addr, log }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let lines = log.0.lock().unwrap().clone();
                Err(lines)
            }
        }
    }

    /// Waits (at most 30 s) for a log line containing `text`, returning whether one came.
    pub fn wait_for_log(&self, text: &str) -> bool {
        wait_for_lines(&self.log, |lines| lines.iter().any(|l| l.contains(text)))
    }

    /// The address of the metrics endpoint (`--metrics`), from the line the daemon logs.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.logged_addr("metrics on http://")
    }

    /// The address of the first HTTP server (`--http`), from the line the daemon logs.
    pub fn http_addr(&self) -> SocketAddr {
        self.logged_addr("http on http://")
    }

    /// The address of the first DNS over TLS listener (`--tls`), from the line the daemon logs.
    pub fn dot_addr(&self) -> SocketAddr {
        self.logged_addr("listening on dot ")
    }

    /// The address in the first log line holding `prefix`, up to the next `/` or the end.
    pub fn logged_addr(&self, prefix: &str) -> SocketAddr {
        assert!(self.wait_for_log(prefix), "no {prefix:?} in the log");
        self.log
            .0
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.split(prefix).nth(1))
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.trim().parse().ok())
            .expect("the address in the log")
    }

    /// Waits (at most 30 s) until the start-up work that follows the first answer is done:
    /// the search index built and the zone digest computed. A test that measures memory from
    /// here, or asks a transfer within [`REPLY_TIMEOUT`], does not meet that work.
    pub fn settled(&self) -> bool {
        self.wait_for_log("zone digest (ZONEMD) computed")
    }

    /// How many log lines contain `text`.
    pub fn count_log(&self, text: &str) -> usize {
        self.log
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Held by the tests that load the whole machine (building the Debian package, three
/// secondaries loading the full zone, floods) or that hold it to a deadline, a memory bound or
/// hundreds of descriptors, in `tests/binary` and `tests/server` alike, so that none of them
/// runs beside another within its test binary: a secondary's 5 s to pick up a NOTIFY means
/// nothing while a release build takes both cores, nor a 1 s wait for a new client while
/// another test holds 600 connections.
pub fn machine_to_itself() -> std::sync::MutexGuard<'static, ()> {
    static MACHINE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MACHINE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
