//! DNS over TLS (RFC 7858) through the built binary: `kdig +tls` and `dig +tls` answered and
//! padded, rustls as a client checking the versions, ALPN, resumption and many queries on one
//! connection; the access list, query log, metrics, TSIG and zone transfers on the DoT
//! transport; the passed socket named `tls` under socket activation; handshakes
//! that stall and clear-text bytes closed; 600 idle connections that keep nobody waiting; a
//! certificate that does not match its key refused at start, and a reload that replaces the
//! certificate or, when the new one is bad, keeps the old. Certificates are made by `openssl`
//! at test time in a temporary directory.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio_rustls::rustls::{
    ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned,
    SupportedProtocolVersion, version,
};

use crate::common::*;

/// Runs `openssl` with `args` in `dir`; panics with its error output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = output_of(Command::new("openssl").current_dir(dir).args(args));
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `openssl req` arguments for a new P-256 key, unencrypted.
const NEW_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A test CA (`ca.pem`) in a fresh directory, which signs the server certificates; also
/// the CA the XoT secondary (`secondaries`) and unbound (`resolver_unbound`) trust.
pub(crate) struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    pub(crate) fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["req", "-x509"];
        args.extend(NEW_EC_KEY);
        args.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]);
        args.extend(["-subj", "/CN=portsd test CA"]);
        openssl(dir.path(), &args);
        TestCa { dir }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server certificate `NAME.pem` with its key `NAME.key`, for ns.ports.local and
    /// 127.0.0.1.
    pub(crate) fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let (key, csr, cert) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut args = vec!["req"];
        args.extend(NEW_EC_KEY);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=ns.ports.local"]);
        openssl(self.dir.path(), &args);
        std::fs::write(
            self.path("ext"),
            "subjectAltName=DNS:ns.ports.local,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n",
        )
        .unwrap();
        openssl(
            self.dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &format!("{}", fastrand::u32(1..)),
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                "ext",
            ],
        );
        (self.path(&cert), self.path(&key))
    }

    /// A rustls client trusting this CA, speaking only `versions`.
    pub(super) fn client(
        &self,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"dot".to_vec()];
        Arc::new(config)
    }
}

/// portsd serving with `cert` and `key`, and `args`.
pub(super) fn start_certified(cert: &Path, key: &Path, args: &[&str]) -> Daemon {
    let mut all = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    Daemon::start(&all)
}

/// portsd serving DoT with `cert` and `key`, and `args`; with the DoT address.
fn start(cert: &Path, key: &Path, args: &[&str]) -> (Daemon, SocketAddr) {
    let mut all = vec!["--tls", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let daemon = start_certified(cert, key, &all);
    let addr = daemon.logged_addr("listening on dot ");
    (daemon, addr)
}

pub(super) type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A TLS connection to `addr`, handshake done.
fn connect(config: &Arc<ClientConfig>, addr: SocketAddr) -> Tls {
    connect_within(config, addr, REPLY_TIMEOUT)
}

/// A TLS connection to `addr` whose every read may wait up to `wait`, handshake done.
fn connect_within(config: &Arc<ClientConfig>, addr: SocketAddr, wait: Duration) -> Tls {
    handshake(config, TcpStream::connect(addr).unwrap(), wait)
}

/// A TLS connection to `addr` from the loopback address `source`, handshake done: a client
/// the access list can tell from the test reading `/metrics` from 127.0.0.1.
fn connect_from(config: &Arc<ClientConfig>, source: [u8; 4], addr: SocketAddr) -> Tls {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    handshake(config, socket.into(), REPLY_TIMEOUT)
}

/// The TLS handshake over `socket`, every read waiting up to `wait`.
pub(super) fn handshake(config: &Arc<ClientConfig>, socket: TcpStream, wait: Duration) -> Tls {
    let name = ServerName::try_from("ns.ports.local").unwrap();
    let connection = ClientConnection::new(config.clone(), name).unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut stream = StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("the TLS handshake completes");
    }
    stream
}

/// Sends every query of `queries` at once, then reads as many answers.
fn exchange(stream: &mut Tls, queries: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for query in queries {
        all.extend_from_slice(&u16::try_from(query.len()).unwrap().to_be_bytes());
        all.extend_from_slice(query);
    }
    stream.write_all(&all).unwrap();
    stream.flush().unwrap();
    queries
        .iter()
        .map(|_| {
            let mut length = [0u8; 2];
            stream.read_exact(&mut length).expect("an answer's length");
            let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
            stream.read_exact(&mut answer).expect("an answer");
            answer
        })
        .collect()
}

/// A TSIG key file in `dir` (`test-key`, hmac-sha256, a secret drawn now), and its secret in
/// base64.
pub(super) fn new_tsig_key(dir: &Path) -> (PathBuf, String) {
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .unwrap();
    let secret = data_encoding::BASE64.encode(&secret);
    let key_file = dir.join("test-key");
    std::fs::write(
        &key_file,
        format!("key \"test-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n"),
    )
    .unwrap();
    (key_file, secret)
}

/// `tool` (`kdig` or `dig`, its transport chosen by `transport`) asks `addr` a query signed
/// with `test-key`'s `secret`, answered and signed, then one signed with a wrong secret,
/// answered BADSIG.
pub(super) fn signed_queries_are_checked(
    tool: &str,
    addr: SocketAddr,
    transport: &str,
    secret: &str,
) {
    let signed = format!("hmac-sha256:test-key:{secret}");
    let out = run_tool(
        tool,
        addr,
        &[transport, "-y", &signed, "TXT", "443.tcp.ports.local"],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("TSIG PSEUDOSECTION"), "{out}");
    // No warning but dig's notices about the name and recursion.
    let warnings = out.lines().filter(|line| {
        line.contains("WARNING")
            && !line.contains("reserved for Multicast DNS")
            && !line.contains("recursion requested")
    });
    assert_eq!(warnings.count(), 0, "{out}");
    let forged = format!(
        "hmac-sha256:test-key:{}",
        data_encoding::BASE64.encode(&[7; 32])
    );
    let out = run_tool(
        tool,
        addr,
        &[transport, "-y", &forged, "TXT", "443.tcp.ports.local"],
    );
    assert!(out.contains("BADSIG"), "{out}");
}

/// The response code of one query over a new connection.
fn one_query(config: &Arc<ClientConfig>, addr: SocketAddr) -> ResponseCode {
    answer_code(connect(config, addr))
}

/// The response code of one query over `stream`.
fn answer_code(mut stream: Tls) -> ResponseCode {
    let question = query(7, "443.tcp.ports.local.", RecordType::TXT, None);
    let answer = exchange(&mut stream, &[question]);
    parse(&answer[0]).metadata.response_code
}

/// The first certificate the server presented on `stream`.
fn presented(stream: &Tls) -> Vec<u8> {
    stream.conn.peer_certificates().expect("a certificate")[0].to_vec()
}

/// The DER of the first certificate in the PEM file at `path`.
fn der_of(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

#[test]
fn kdig_and_dig_get_answers_over_tls_padded_when_they_pad() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("server");
    let (_daemon, addr) = start(&cert, &key, &[]);
    let ca_option = format!("+tls-ca={}", ca.path("ca.pem").display());
    let question = ["TXT", "443.tcp.ports.local"];
    // kdig checks the certificate against the test CA and the name.
    let mut args = vec![
        "+tls",
        &ca_option,
        "+tls-hostname=ns.ports.local",
        "+padding=468",
    ];
    args.extend(question);
    let kdig = run_tool("kdig", addr, &args);
    assert!(kdig.contains("TLS session (TLS1.3)"), "{kdig}");
    assert!(kdig.contains("status: NOERROR"), "{kdig}");
    assert!(
        kdig.contains("Hypertext Transfer Protocol Secure"),
        "{kdig}"
    );
    assert!(kdig.contains("PADDING:"), "{kdig}");
    assert!(kdig.contains("Received 468 B"), "{kdig}");
    let dig = run_tool(
        "dig",
        addr,
        &["+tls", "+padding=468", "TXT", "443.tcp.ports.local"],
    );
    assert!(dig.contains("status: NOERROR"), "{dig}");
    assert!(dig.contains("(TLS)"), "{dig}");
    assert!(dig.contains("PAD: ("), "{dig}");
    assert!(dig.contains("MSG SIZE  rcvd: 468"), "{dig}");
    // Without padding asked for, none is added.
    let unpadded = run_tool("dig", addr, &["+tls", "TXT", "443.tcp.ports.local"]);
    assert!(unpadded.contains("status: NOERROR"), "{unpadded}");
    assert!(!unpadded.contains("PAD: ("), "{unpadded}");
}

#[test]
fn tls_12_and_13_negotiate_dot_resume_and_answer_many_queries_per_connection() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("server");
    let (_daemon, addr) = start(&cert, &key, &[]);
    let queries: Vec<Vec<u8>> = (1..=20)
        .map(|id| {
            query(
                id,
                &format!("{id}.tcp.ports.local."),
                RecordType::TXT,
                Some(1232),
            )
        })
        .collect();
    for (versions, wanted) in [
        (
            &[&version::TLS13][..],
            tokio_rustls::rustls::ProtocolVersion::TLSv1_3,
        ),
        (
            &[&version::TLS12][..],
            tokio_rustls::rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        let config = ca.client(versions);
        let mut first = connect(&config, addr);
        assert_eq!(first.conn.protocol_version(), Some(wanted));
        assert_eq!(first.conn.alpn_protocol(), Some(&b"dot"[..]));
        assert_eq!(first.conn.handshake_kind(), Some(HandshakeKind::Full));
        let answers = exchange(&mut first, &queries);
        for (id, answer) in (1..).zip(&answers) {
            let message = parse(answer);
            assert_eq!(message.metadata.id, id);
            assert_eq!(message.metadata.response_code, ResponseCode::NoError);
        }
        // More on the same connection after the burst.
        let again = exchange(&mut first, &queries[..1]);
        assert_eq!(parse(&again[0]).metadata.id, 1);
        drop(first);
        let mut second = connect(&config, addr);
        assert_eq!(
            second.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{wanted:?}: the second connection resumes the session"
        );
        assert_eq!(exchange(&mut second, &queries[..1]).len(), 1);
    }
}

#[test]
fn dot_queries_pass_the_access_list_the_query_log_metrics_and_tsig() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("server");
    let dir = tempfile::tempdir().unwrap();
    let (key_file, secret) = new_tsig_key(dir.path());
    let (daemon, addr) = start(
        &cert,
        &key,
        &[
            "--log-queries",
            "--metrics",
            "127.0.0.1:0",
            "--tsig-key",
            key_file.to_str().unwrap(),
        ],
    );
    let config = ca.client(&[&version::TLS13]);
    assert_eq!(one_query(&config, addr), ResponseCode::NoError);
    assert!(daemon.wait_for_log("query protocol=\"dot\""));
    let metrics = http_get(daemon.metrics_addr(), "/metrics");
    assert!(
        metrics
            .contains("portsd_queries_total{transport=\"dot\",qtype=\"TXT\",rcode=\"NOERROR\"} 1"),
        "{metrics}"
    );
    signed_queries_are_checked("kdig", addr, "+tls", &secret);
    drop(daemon);
    // Refused by the access list: REFUSED, as over TCP, and counted by transport.
    let (denied, addr) = start(
        &cert,
        &key,
        &["--deny", "127.0.0.2/32", "--metrics", "127.0.0.1:0"],
    );
    assert_eq!(
        answer_code(connect_from(&config, [127, 0, 0, 2], addr)),
        ResponseCode::Refused
    );
    let metrics = http_get(denied.metrics_addr(), "/metrics");
    assert!(
        metrics.contains("portsd_refused_clients_total{transport=\"dot\"} 1"),
        "{metrics}"
    );
}

#[test]
fn stalled_handshakes_and_clear_text_are_closed() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("server");
    let (_daemon, addr) = start(&cert, &key, &["--tcp-idle-timeout", "1"]);
    // The start of a TLS record header, then nothing: closed after the idle timeout.
    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
    let started = Instant::now();
    assert!(closed_by_server(&mut stalled, Duration::from_secs(20)));
    assert!(started.elapsed() < Duration::from_secs(20));
    // A DNS query in the clear: closed at once, unanswered.
    let mut clear = TcpStream::connect(addr).unwrap();
    tcp_send(
        &mut clear,
        &query(9, "443.tcp.ports.local.", RecordType::TXT, None),
    );
    let mut buffer = Vec::new();
    clear
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let read = clear.read_to_end(&mut buffer);
    assert!(
        read.is_ok() || read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "closed, not left open"
    );
    assert!(
        buffer.is_empty() || buffer[0] == 0x15,
        "at most a TLS alert, never a DNS answer: {buffer:?}"
    );
    // A client connecting afterwards is served.
    let config = ca.client(&[&version::TLS13]);
    let mut stream = connect(&config, addr);
    assert_eq!(
        exchange(
            &mut stream,
            &[query(1, "ports.local.", RecordType::SOA, None)]
        )
        .len(),
        1
    );
}

#[test]
fn idle_tls_connections_beyond_the_cap_leave_a_new_client_served_within_a_second() {
    let _alone = machine_to_itself();
    let ca = TestCa::new();
    let (cert, key) = ca.issue("server");
    // An idle timeout long enough that only making room can close a connection here.
    let (_daemon, addr) = start(&cert, &key, &["--tcp-idle-timeout", "600"]);
    let config = ca.client(&[&version::TLS13]);
    // Half connected before the handshake, half after it, all idle.
    let mut held_tcp = Vec::new();
    let mut held_tls = Vec::new();
    for index in 0..600 {
        if index % 2 == 0 {
            held_tcp.push(TcpStream::connect(addr).unwrap());
        } else {
            held_tls.push(connect(&config, addr));
        }
    }
    let started = Instant::now();
    let mut stream = connect(&config, addr);
    let answer = exchange(
        &mut stream,
        &[query(1, "443.tcp.ports.local.", RecordType::TXT, None)],
    );
    let waited = started.elapsed();
    assert_eq!(
        parse(&answer[0]).metadata.response_code,
        ResponseCode::NoError
    );
    assert!(waited < Duration::from_secs(1), "{waited:?}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_stops_the_start_in_one_line() {
    let ca = TestCa::new();
    let (cert, _) = ca.issue("server");
    let (_, other_key) = ca.issue("other");
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&other_key)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("server.pem") && stderr.contains("other.key"),
        "{stderr}"
    );
    let key_text = std::fs::read_to_string(&other_key).unwrap();
    let body = key_text.lines().nth(1).unwrap();
    assert!(!stderr.contains(body), "the key is never shown");
}

#[test]
fn a_reload_rereads_the_certificate_and_keeps_the_old_one_when_the_new_is_bad() {
    let ca = TestCa::new();
    let (first_cert, first_key) = ca.issue("first");
    let (second_cert, second_key) = ca.issue("second");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(&first_cert, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    let (daemon, addr) = start(&cert, &key, &[]);
    // A new client each time: a resumed session would show the certificate it began with.
    let fresh = || ca.client(&[&version::TLS13]);
    assert_eq!(presented(&connect(&fresh(), addr)), der_of(&first_cert));
    let hangup = || {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(daemon.child.id() as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    };
    // A new certificate whose key is not there yet: refused, the first one kept.
    std::fs::copy(&second_cert, &cert).unwrap();
    hangup();
    assert!(daemon.wait_for_log("TLS certificate not replaced"));
    let mut stream = connect(&fresh(), addr);
    assert_eq!(presented(&stream), der_of(&first_cert));
    assert_eq!(
        exchange(
            &mut stream,
            &[query(1, "ports.local.", RecordType::SOA, None)]
        )
        .len(),
        1
    );
    // With its key: served from the next handshake on.
    std::fs::copy(&second_key, &key).unwrap();
    hangup();
    assert!(daemon.wait_for_log("reread the TLS certificate and key"));
    assert_eq!(presented(&connect(&fresh(), addr)), der_of(&second_cert));
}

/// A socket passed by the service manager under the name `tls` is served as DNS over TLS.
#[test]
fn socket_activation_serves_the_socket_named_tls_as_dot() {
    let ca = TestCa::new();
    let config = ca.client(&[&version::TLS13]);
    let answer = with_activated_socket(&ca, "tls", |addr| {
        // The first connection started portsd; this one waits for it to take the socket.
        let mut stream = connect_within(&config, addr, Duration::from_secs(30));
        let question = query(3, "443.tcp.ports.local.", RecordType::TXT, None);
        exchange(&mut stream, &[question])
    });
    assert!(txt_answers(&parse(&answer[0]))[0].starts_with("443 | tcp | Yes | https"));
}

/// Runs `portsd serve` with a certificate from `ca` under `systemd-socket-activate` with one
/// stream socket named `fdname`, then `use_it` with that socket's address once something
/// listens there (the first connection starts portsd); stops both afterwards.
pub(super) fn with_activated_socket<T>(
    ca: &TestCa,
    fdname: &str,
    use_it: impl FnOnce(SocketAddr) -> T,
) -> T {
    let (cert, key) = ca.issue("server");
    // systemd-socket-activate cannot bind port 0: a port free a moment ago, tried again when
    // something took it in between.
    for _ in 0..5 {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_loopback_port()));
        let mut activator = Command::new("systemd-socket-activate")
            .args(["--listen", &addr.to_string(), &format!("--fdname={fdname}")])
            .arg(env!("CARGO_BIN_EXE_portsd"))
            .args(["serve", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("systemd-socket-activate (Debian package systemd) is needed");
        let deadline = Instant::now() + Duration::from_secs(10);
        let listening = loop {
            if TcpStream::connect(addr).is_ok() {
                break true;
            }
            if Instant::now() > deadline || activator.try_wait().unwrap().is_some() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !listening {
            let _ = activator.kill();
            let _ = activator.wait();
            continue;
        }
        let result = use_it(addr);
        let _ = activator.kill();
        let _ = activator.wait();
        return result;
    }
    panic!("systemd-socket-activate never listened");
}

/// The messages of an AXFR of `ports.local` asked on `stream`, up to the one holding the
/// closing SOA.
fn axfr_messages(stream: &mut (impl Read + Write)) -> Vec<Vec<u8>> {
    let request = query(7, "ports.local.", RecordType::AXFR, None);
    let length = u16::try_from(request.len()).unwrap().to_be_bytes();
    stream.write_all(&[&length[..], &request].concat()).unwrap();
    stream.flush().unwrap();
    let mut messages = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let mut length = [0u8; 2];
        stream
            .read_exact(&mut length)
            .expect("the next message's length");
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut message).expect("the next message");
        let answers = parse(&message).answers;
        assert!(!answers.is_empty(), "a transfer message without records");
        soas += answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        messages.push(message);
    }
    messages
}

/// A zone transfer over DoT (RFC 9103's framing) is the transfer over TCP, byte for byte and
/// message for message, under the same `--allow-transfer`; a client outside it is refused.
#[test]
fn axfr_over_tls_is_axfr_over_tcp_byte_for_byte_and_obeys_allow_transfer() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("server");
    let (daemon, addr) = start(&cert, &key, &["--allow-transfer", "127.0.0.0/8"]);
    // The first transfer after a start waits for the zone's digest: a limit, not a pace.
    let wait = Duration::from_secs(30);
    let mut tcp = TcpStream::connect(daemon.addr).unwrap();
    tcp.set_read_timeout(Some(wait)).unwrap();
    let over_tcp = axfr_messages(&mut tcp);
    let tls = ca.client(&[&version::TLS13]);
    let over_tls = axfr_messages(&mut connect_within(&tls, addr, wait));
    let records: usize = over_tcp.iter().map(|m| parse(m).answers.len()).sum();
    assert!(records > 360_000, "{records} records");
    assert_eq!(over_tls.len(), over_tcp.len(), "as many messages");
    for (number, (tls, tcp)) in over_tls.iter().zip(&over_tcp).enumerate() {
        assert!(tls == tcp, "message {number} differs");
    }
    drop(daemon);
    let (_refusing, addr) = start(&cert, &key, &["--allow-transfer", "192.0.2.0/24"]);
    let refused = run_tool("dig", addr, &["+tls", "AXFR", "ports.local"]);
    assert!(refused.contains("Transfer failed"), "{refused}");
}
