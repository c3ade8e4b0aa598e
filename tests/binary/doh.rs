//! DNS over HTTPS (RFC 8484) through the built binary, on `/dns-query` of `--http` and of
//! `--https`: `dig +https`, `+https-get`, `+http-plain` and `+http-plain-get` answered as over
//! UDP; curl over HTTP/1.1 and HTTP/2 for the media type, `Cache-Control`, the ID and the
//! 400/415 answers to requests that hold no DNS query; the access list, query log, metrics,
//! padding, TSIG and the refusal of zone transfers on the `doh` transport; ALPN `h2` on
//! `--https`, a stalled handshake closed, the socket named `https` under socket activation and
//! `--https` without a certificate refused. Certificates are made at test time
//! ([`super::dot::TestCa`]).

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::version;

use super::cli::assert_one_line_failure;
use super::dot::{
    TestCa, handshake, new_tsig_key, signed_queries_are_checked, start_certified,
    with_activated_socket,
};
use crate::common::*;

/// portsd serving `--http` and `--https` with a certificate from `ca`, and `args`; with the
/// HTTP and HTTPS addresses.
fn start(ca: &TestCa, args: &[&str]) -> (Daemon, SocketAddr, SocketAddr) {
    let (cert, key) = ca.issue("server");
    let mut all = vec!["--http", "127.0.0.1:0", "--https", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let daemon = start_certified(&cert, &key, &all);
    let (http, https) = (daemon.http_addr(), daemon.logged_addr("https on https://"));
    (daemon, http, https)
}

/// What curl received.
#[derive(Debug)]
struct Reply {
    /// 0 when no HTTP response came.
    status: u16,
    /// `1.1` or `2`.
    version: String,
    /// Header lines, names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn message(&self) -> Message {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/dns-message"));
        parse(&self.body)
    }
}

/// How curl reaches the server: over HTTP (`http` address) or HTTPS trusting `ca`.
#[derive(Clone, Copy)]
enum Over<'a> {
    Http(SocketAddr),
    Https(SocketAddr, &'a TestCa),
}

/// `curl ARGS URL` where URL is `path` on `over`; `args` pick the HTTP version, the method...
fn curl(over: Over<'_>, path: &str, args: &[&str]) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let (head, body) = (dir.path().join("head"), dir.path().join("body"));
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--max-time", "10", "--dump-header"])
        .arg(&head)
        .arg("--output")
        .arg(&body)
        .args(["--write-out", "%{http_code} %{http_version}"])
        .args(args);
    match over {
        Over::Http(addr) => command.arg(format!("http://{addr}{path}")),
        Over::Https(addr, ca) => command
            .arg("--cacert")
            .arg(ca.path("ca.pem"))
            .arg("--resolve")
            .arg(format!("ns.ports.local:{}:127.0.0.1", addr.port()))
            .arg(format!("https://ns.ports.local:{}{path}", addr.port())),
    };
    let output = command
        .output()
        .expect("curl runs (installed by .ci/setup)");
    let written = String::from_utf8_lossy(&output.stdout).into_owned();
    let (status, version) = written.split_once(' ').unwrap_or(("0", ""));
    let headers = std::fs::read_to_string(&head)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_owned()))
        .collect();
    Reply {
        status: status.parse().unwrap_or(0),
        version: version.to_owned(),
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// base64url without padding, as `?dns=` carries a message.
fn base64url(message: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(message)
}

/// `POST` of `body` as `content_type` with the curl `args`.
fn post(over: Over<'_>, body: &Path, content_type: &str, args: &[&str]) -> Reply {
    let data = format!("@{}", body.display());
    let content = format!("Content-Type: {content_type}");
    let mut all = vec!["--data-binary", &data, "--header", &content];
    all.extend_from_slice(args);
    curl(over, "/dns-query", &all)
}

/// The smallest TTL of `message`'s answer section.
fn smallest_answer_ttl(message: &Message) -> Option<u32> {
    message.answers.iter().map(|record| record.ttl).min()
}

#[test]
fn dig_over_https_and_plain_http_answers_as_over_udp() {
    let ca = TestCa::new();
    let (daemon, http, https) = start(&ca, &["--log-queries"]);
    let question = ["+short", "TXT", "443.tcp.ports.local"];
    let over_udp = run_tool("dig", daemon.addr, &question);
    assert!(over_udp.contains("443 | tcp | Yes | https"), "{over_udp}");
    for (addr, mode) in [
        (https, "+https"),
        (https, "+https-get"),
        (http, "+http-plain"),
        (http, "+http-plain-get"),
    ] {
        let mut args = vec![mode];
        args.extend(question);
        assert_eq!(run_tool("dig", addr, &args), over_udp, "dig {mode}");
    }
    assert!(wait_for_lines(&daemon.log, |lines| {
        lines
            .iter()
            .filter(|l| l.contains("query protocol=\"doh\""))
            .count()
            == 4
    }));
}

#[test]
fn doh_answers_are_dns_messages_fresh_for_their_smallest_ttl_and_junk_gets_400() {
    let ca = TestCa::new();
    // A negative answer's freshness comes from the SOA, whose MINIMUM is set apart from the
    // TTL of positive answers.
    let (_daemon, http, https) = start(&ca, &["--soa-minimum", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let asked = dir.path().join("query");
    std::fs::write(
        &asked,
        query(0x1234, "443.tcp.ports.local.", RecordType::TXT, None),
    )
    .unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "this is not a DNS message\n").unwrap();
    let found = base64url(&query(0, "443.tcp.ports.local.", RecordType::TXT, None));
    let missing = base64url(&query(0, "nosuch.ports.local.", RecordType::TXT, None));
    for (over, version, expected) in [
        (Over::Http(http), "--http1.1", "1.1"),
        (Over::Http(http), "--http2-prior-knowledge", "2"),
        (Over::Https(https, &ca), "--http1.1", "1.1"),
        (Over::Https(https, &ca), "--http2", "2"),
    ] {
        // GET: the answer, with the ID 0 asked, fresh for its smallest TTL.
        let reply = curl(over, &format!("/dns-query?dns={found}"), &[version]);
        assert_eq!(reply.version, expected, "{reply:?}");
        let message = reply.message();
        assert_eq!(message.metadata.id, 0);
        assert!(txt_answers(&message)[0].starts_with("443 | tcp | Yes | https"));
        let ttl = smallest_answer_ttl(&message).expect("answers");
        let fresh = format!("max-age={ttl}");
        assert_eq!(reply.header("cache-control"), Some(fresh.as_str()));
        // A negative answer: fresh as long as RFC 2308 lets it be cached.
        let reply = curl(over, &format!("/dns-query?dns={missing}"), &[version]);
        let message = reply.message();
        assert_eq!(message.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(reply.header("cache-control"), Some("max-age=300"));
        // POST: the answer, with the ID asked.
        let reply = post(over, &asked, "application/dns-message", &[version]);
        assert_eq!(reply.message().metadata.id, 0x1234);
        // Requests that hold no DNS query.
        let reply = post(over, &junk, "application/dns-message", &[version]);
        assert_eq!(reply.status, 400, "{reply:?}");
        let reply = curl(over, "/dns-query?dns=not*base64url", &[version]);
        assert_eq!(reply.status, 400, "{reply:?}");
        let reply = curl(over, "/dns-query", &[version]);
        assert_eq!(reply.status, 400, "{reply:?}");
        let reply = post(over, &asked, "text/plain", &[version]);
        assert_eq!(reply.status, 415, "{reply:?}");
    }
    // A browser may ask first whether it can post a DNS message from another origin.
    let origin = [
        "--request",
        "OPTIONS",
        "--header",
        "Origin: https://example.org",
    ];
    let preflight = curl(Over::Http(http), "/dns-query", &origin);
    assert_eq!(preflight.status, 204, "{preflight:?}");
    let allowed = preflight.header("access-control-allow-methods");
    assert!(allowed.is_some_and(|methods| methods.contains("POST")));
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("Content-Type")
    );
    // A body longer than any DNS message.
    let large = dir.path().join("large");
    std::fs::write(&large, vec![0u8; 70_000]).unwrap();
    let reply = post(Over::Http(http), &large, "application/dns-message", &[]);
    assert_eq!(reply.status, 413, "{reply:?}");
}

#[test]
fn doh_queries_pass_the_access_list_the_query_log_metrics_padding_and_tsig() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (key_file, secret) = new_tsig_key(dir.path());
    let (daemon, http, https) = start(
        &ca,
        &[
            "--log-queries",
            "--deny",
            "127.0.0.2/32",
            "--allow-transfer",
            "127.0.0.1/32",
            "--tsig-key",
            key_file.to_str().unwrap(),
        ],
    );
    let found = base64url(&query(0, "443.tcp.ports.local.", RecordType::TXT, None));
    let path = format!("/dns-query?dns={found}");
    let reply = curl(Over::Https(https, &ca), &path, &["--http2"]);
    assert_eq!(
        reply.message().metadata.response_code,
        ResponseCode::NoError
    );
    assert!(daemon.wait_for_log("query protocol=\"doh\""));
    let metrics = http_get(http, "/metrics");
    assert!(
        metrics
            .contains("portsd_queries_total{transport=\"doh\",qtype=\"TXT\",rcode=\"NOERROR\"} 1"),
        "{metrics}"
    );
    // A client the access list refuses is not answered, over HTTP or HTTPS.
    for over in [Over::Http(http), Over::Https(https, &ca)] {
        let refused = curl(over, &path, &["--interface", "127.0.0.2"]);
        assert_eq!(refused.status, 0, "{refused:?}");
        assert!(refused.body.is_empty());
    }
    // A padded query gets an answer padded to a multiple of 468 octets; an unpadded one not.
    let size = |args: &[&str]| {
        let mut all = vec!["+https"];
        all.extend_from_slice(args);
        all.extend(["TXT", "443.tcp.ports.local"]);
        let out = run_tool("dig", https, &all);
        out.split("MSG SIZE  rcvd: ")
            .nth(1)
            .and_then(|rest| rest.trim().parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no size in {out}"))
    };
    assert_eq!(size(&["+padding=468"]) % 468, 0);
    assert_ne!(size(&[]) % 468, 0);
    // A signed query is checked and its answer signed; a wrong secret gets BADSIG.
    signed_queries_are_checked("dig", https, "+https", &secret);
    // A zone transfer has no place in DoH: REFUSED even for a client --allow-transfer admits.
    let axfr = base64url(&query(0, "ports.local.", RecordType::AXFR, None));
    let reply = curl(Over::Http(http), &format!("/dns-query?dns={axfr}"), &[]);
    assert_eq!(
        reply.message().metadata.response_code,
        ResponseCode::Refused
    );
    assert!(daemon.wait_for_log("reason=\"doh\""));
}

/// A rustls client trusting `ca` that offers `alpn`.
fn offering(ca: &TestCa, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut config = (*ca.client(&[&version::TLS13, &version::TLS12])).clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

#[test]
fn https_negotiates_h2_and_http_1_1_and_closes_a_stalled_handshake() {
    let ca = TestCa::new();
    // One connection at most: a held one then idles a twentieth of the idle timeout.
    let (_daemon, _, https) = start(&ca, &["--http-max-connections", "1"]);
    for (offered, chosen) in [
        (&[b"h2".as_slice(), b"http/1.1"][..], b"h2".as_slice()),
        (&[b"http/1.1".as_slice()][..], b"http/1.1".as_slice()),
    ] {
        let socket = TcpStream::connect(https).unwrap();
        let stream = handshake(&offering(&ca, offered), socket, REPLY_TIMEOUT);
        assert_eq!(stream.conn.alpn_protocol(), Some(chosen));
    }
    // A handshake started and never finished: closed, in bounded time.
    let mut stalled = TcpStream::connect(https).unwrap();
    std::io::Write::write_all(&mut stalled, &[0x16, 0x03, 0x01, 0x00]).unwrap();
    let started = Instant::now();
    assert!(closed_by_server(&mut stalled, Duration::from_secs(20)));
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn https_without_a_certificate_is_refused_in_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--https", "127.0.0.1:0"])
        .output()
        .unwrap();
    let line = assert_one_line_failure(&output, "--https without a certificate");
    assert!(
        line.contains("--https needs --tls-cert and --tls-key"),
        "{line}"
    );
}

#[test]
fn socket_activation_serves_the_socket_named_https() {
    let ca = TestCa::new();
    let found = base64url(&query(0, "443.tcp.ports.local.", RecordType::TXT, None));
    let reply = with_activated_socket(&ca, "https", |addr| {
        // The first connection started portsd; curl waits for it to take the socket.
        let path = format!("/dns-query?dns={found}");
        curl(Over::Https(addr, &ca), &path, &["--http2"])
    });
    assert!(txt_answers(&reply.message())[0].starts_with("443 | tcp | Yes | https"));
}
