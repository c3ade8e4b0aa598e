//! The HTTP server in process, over real loopback sockets, driven by real HTTP clients (ureq
//! for HTTP/1.1, hyper's client for HTTP/2 with prior knowledge): every answer of the JSON API
//! checked against the OpenAPI document the server publishes, bodies equal to what `lookup
//! --json` and `search --json` print, errors, ETag and 304, caching and CORS headers, the
//! page's escaping and headers, `/metrics`; and no second way in: the access list, the rate
//! limit, 600 idle connections against the cap, a slow-header client, oversized heads and
//! bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use portsd::core::present;
use portsd::core::zone::Snapshot;
use portsd::pipeline::Policy;
use portsd::pipeline::acl::AccessList;
use portsd::pipeline::rrl::RateLimitConfig;
use portsd::serve::{DataLocation, HttpSettings, Settings};
use serde_json::{Value, json};

use crate::common::*;
use crate::pressure::{assert_oldest_closed, hold, raise_descriptor_limit};

/// One HTTP answer.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// `GET path` with `headers`, over the agent's connection (kept alive between calls).
fn get_with(agent: &ureq::Agent, addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = agent.get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    get_with(&agent(), addr, path, &[])
}

/// The schema the document gives the JSON body of `status` answers on `template`, as a
/// JSON Schema 2020-12 document with the components beside it (so its references resolve).
fn body_schema(document: &Value, template: &str, status: u16) -> Value {
    let mut answer = &document["paths"][template]["get"]["responses"][status.to_string()];
    if let Some(Value::String(reference)) = answer.get("$ref") {
        answer = document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{reference} resolves"));
    }
    let schema = &answer["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{template} documents no JSON body for {status}"
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        "allOf": [schema],
    })
}

/// Checks that `answer` is what the document says `template` answers with its status.
fn assert_documented(document: &Value, template: &str, path: &str, answer: &Answer) {
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{path}"
    );
    let schema = body_schema(document, template, answer.status);
    let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");
    let body = answer.json();
    let problems: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "{path} ({}) against {template}: {problems:?}\n{}",
        answer.status,
        answer.body
    );
}

#[test]
fn every_api_answer_is_what_the_openapi_document_describes() {
    let server = &*SHARED;
    let document = get(server.http, "/v1/openapi.json").json();
    assert_eq!(document["openapi"], "3.1.0");
    let cases: &[(&str, &str, u16)] = &[
        ("/v1/ports/{port}", "/v1/ports/443", 200),
        ("/v1/ports/{port}", "/v1/ports/0", 200),
        ("/v1/ports/{port}", "/v1/ports/47999", 200),
        ("/v1/ports/{port}", "/v1/ports/99999", 400),
        ("/v1/ports/{port}", "/v1/ports/https", 400),
        ("/v1/ports/{port}/{protocol}", "/v1/ports/443/tcp", 200),
        ("/v1/ports/{port}/{protocol}", "/v1/ports/6881/udp", 200),
        ("/v1/ports/{port}/{protocol}", "/v1/ports/443/icmp", 400),
        ("/v1/services/{name}", "/v1/services/https", 200),
        ("/v1/services/{name}", "/v1/services/no-such-service", 404),
        ("/v1/services/{name}", "/v1/services/443", 400),
        (
            "/v1/services/{name}/{protocol}",
            "/v1/services/domain/udp",
            200,
        ),
        (
            "/v1/services/{name}/{protocol}",
            "/v1/services/https/carrier-pigeon",
            400,
        ),
        ("/v1/search", "/v1/search?q=minecraft", 200),
        ("/v1/search", "/v1/search?q=secure+shell&limit=1", 200),
        ("/v1/search", "/v1/search?q=zzqqxxnothing", 404),
        ("/v1/search", "/v1/search", 400),
        ("/v1/search", "/v1/search?q=ssh&limit=0", 400),
        ("/v1/search", "/v1/search?q=ssh&limit=many", 400),
        ("/v1/zone", "/v1/zone", 200),
    ];
    let agent = agent();
    for &(template, path, status) in cases {
        let answer = get_with(&agent, server.http, path, &[]);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_documented(&document, template, path, &answer);
        if status >= 400 {
            assert_eq!(answer.json()["status"], status, "{path}");
        }
    }
    // Every documented path is among those exercised.
    let paths = document["paths"].as_object().unwrap();
    for template in paths.keys() {
        assert!(
            template == "/v1/openapi.json" || cases.iter().any(|(t, _, _)| t == template),
            "{template} is not checked"
        );
    }
    let one = get(server.http, "/v1/search?q=secure+shell&limit=1").json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    let zone = get(server.http, "/v1/zone").json();
    assert_eq!(zone["zone"], "ports.local");
    assert_eq!(zone["ttl"], 3600);
    assert!(zone["entries"].as_u64().unwrap() > 10_000, "{zone}");
}

#[test]
fn bodies_are_what_lookup_and_search_print_with_json() {
    let server = &*SHARED;
    let zone = test_zone();
    let snapshot = Snapshot::new(builtin_table(), 0, &zone);
    for (path, query) in [
        ("/v1/ports/443/tcp", "443/tcp"),
        ("/v1/ports/53", "53"),
        ("/v1/services/https", "https"),
        ("/v1/services/domain/udp", "domain/udp"),
    ] {
        let printed = present::to_json(&present::lookup(&zone, &snapshot, query).unwrap());
        assert_eq!(
            get(server.http, path).body,
            format!("{printed}\n"),
            "{path}"
        );
    }
    let printed = present::to_json(&present::search(&snapshot, &["minecraft".into()]).unwrap());
    assert_eq!(
        get(server.http, "/v1/search?q=minecraft").body,
        format!("{printed}\n")
    );
}

#[test]
fn answers_carry_an_etag_and_a_lifetime_and_a_current_copy_gets_304() {
    let server = &*SHARED;
    let agent = agent();
    let first = get_with(&agent, server.http, "/v1/ports/443/tcp", &[]);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(first.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(first.header("access-control-allow-origin"), Some("*"));
    // The same data: the same tag on every path, the zone's included.
    let zone = get_with(&agent, server.http, "/v1/zone", &[]);
    assert_eq!(zone.header("etag"), Some(etag.as_str()));
    let serial = zone.json()["serial"].to_string();
    assert!(etag.starts_with(&format!("\"{serial}-")), "{etag}");
    for held in [
        etag.as_str(),
        &format!("W/{etag}"),
        &format!("\"old\", {etag}"),
    ] {
        let again = get_with(
            &agent,
            server.http,
            "/v1/ports/443/tcp",
            &[("If-None-Match", held)],
        );
        assert_eq!(again.status, 304, "{held}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        assert_eq!(again.header("cache-control"), Some("public, max-age=3600"));
    }
    let stale = get_with(
        &agent,
        server.http,
        "/v1/ports/443/tcp",
        &[("If-None-Match", "\"1-0000000000000000-0\"")],
    );
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, first.body);
}

#[test]
fn other_methods_get_405_and_preflights_are_answered() {
    let server = &*SHARED;
    let mut response = agent()
        .post(format!("http://{}/v1/zone", server.http))
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let allow = response.headers().get("allow").unwrap().to_str().unwrap();
    assert!(allow.contains("GET"), "{allow}");
    let body: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["status"], 405);
    let preflight = agent()
        .options(format!("http://{}/v1/ports/443", server.http))
        .header("Origin", "https://example.org")
        .header("Access-Control-Request-Headers", "if-none-match")
        .call()
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let header = |name| preflight.headers().get(name).unwrap().to_str().unwrap();
    assert!(header("access-control-allow-methods").contains("GET"));
    assert_eq!(header("access-control-allow-headers"), "If-None-Match");
    assert_eq!(header("access-control-allow-origin"), "*");
    let unknown = get(server.http, "/v2/anything");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["status"], 404);
}

#[test]
fn the_allowed_origin_is_configurable() {
    let start = |allow_origin: Option<&str>| {
        TestServer::start_settings(
            test_zone(),
            builtin_table(),
            Settings {
                http: HttpSettings {
                    allow_origin: allow_origin.map(str::to_owned),
                    ..HttpSettings::default()
                },
                ..Settings::new(DataLocation::Builtin)
            },
        )
    };
    let server = start(Some("https://ports.example"));
    let answer = get(server.http, "/v1/ports/22");
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://ports.example")
    );
    let server = start(None);
    let answer = get(server.http, "/v1/ports/22");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[test]
fn http2_with_prior_knowledge_gets_the_same_answers() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let server = &*SHARED;
    let http1 = get(server.http, "/v1/ports/443/tcp");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(server.http).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("an HTTP/2 connection without upgrade");
        tokio::spawn(connection);
        for _ in 0..3 {
            let request = hyper::Request::get(format!("http://{}/v1/ports/443/tcp", server.http))
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.version(), hyper::Version::HTTP_2);
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers().get("etag").unwrap().to_str().unwrap(),
                http1.header("etag").unwrap()
            );
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, http1.body.as_bytes());
        }
    });
}

#[test]
fn metrics_are_served_beside_the_api() {
    let server = &*SHARED;
    let answer = get(server.http, "/metrics");
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        answer.headers
    );
    assert!(answer.body.contains("portsd_build_info"), "{}", answer.body);
}

#[test]
fn the_page_escapes_what_it_shows_and_allows_nothing_from_elsewhere() {
    let server = &*SHARED;
    let page = get(server.http, "/?q=443%2Ftcp");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
    assert!(
        page.body
            .contains("<a class=\"port\" href=\"/port/443/tcp\">443/tcp</a>"),
        "the query goes to the port's page: {}",
        page.body
    );
    assert!(page.header("etag").is_some());
    let hostile = get(server.http, "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%27");
    assert_eq!(hostile.status, 404);
    assert!(!hostile.body.contains("<script"), "{}", hostile.body);
    assert!(
        hostile
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'")
    );
    let style = get(server.http, "/style.css");
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

/// Reads everything the server sends on `stream` until it closes, which it must do within
/// 5 s (a reset counts as a close).
fn read_all(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(error) => panic!("the server did not close within 5 s ({error}) after {bytes:?}"),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn denied_clients_are_closed_unanswered() {
    let server = TestServer::start_policy(Policy {
        access: AccessList::new(Vec::new(), vec!["127.0.0.0/8".parse().unwrap()]),
        ..Policy::default()
    });
    let mut stream = TcpStream::connect(server.http).unwrap();
    // The server may close before the request is written; either way nothing comes back.
    let _ = stream.write_all(b"GET /v1/zone HTTP/1.1\r\nHost: portsd\r\n\r\n");
    assert_eq!(read_all(&mut stream), "");
}

#[test]
fn past_the_rate_limit_clients_get_429_and_loopback_is_exempt_by_default() {
    let _machine = machine_to_itself();
    let limited = TestServer::start_settings(
        test_zone(),
        builtin_table(),
        Settings {
            http: HttpSettings {
                rate_limit: RateLimitConfig {
                    responses_per_second: 5,
                    slip: 0,
                    // Loopback is exempt by default; exempt something else so it is limited.
                    exempt: vec!["192.0.2.0/24".parse().unwrap()],
                    ..RateLimitConfig::default()
                },
                ..HttpSettings::default()
            },
            ..Settings::new(DataLocation::Builtin)
        },
    );
    let agent = agent();
    let responses: Vec<_> = (0..30)
        .map(|_| get_with(&agent, limited.http, "/v1/ports/22", &[]))
        .collect();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert!(statuses[..5].iter().all(|&s| s == 200), "{statuses:?}");
    // The first refusal itself says when to come back and why, in JSON.
    let refused = (responses.iter().find(|r| r.status == 429))
        .unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.json()["status"], 429);
    let server = &*SHARED;
    assert!(
        (0..100).all(|_| get_with(&agent, server.http, "/v1/ports/22", &[]).status == 200),
        "loopback is never limited by default"
    );
}

/// A server whose HTTP idle timeout is long enough that only making room can close a
/// connection during a test.
fn patient_server() -> TestServer {
    TestServer::start_settings(
        test_zone(),
        builtin_table(),
        Settings {
            http: HttpSettings {
                idle_timeout: Duration::from_secs(600),
                ..HttpSettings::default()
            },
            ..Settings::new(DataLocation::Builtin)
        },
    )
}

/// How long a new client waits for `/v1/ports/443/tcp`.
fn new_client_wait(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    assert_eq!(get(addr, "/v1/ports/443/tcp").status, 200);
    started.elapsed()
}

#[test]
fn idle_connections_beyond_the_cap_make_room_oldest_first() {
    let _machine = machine_to_itself();
    const HELD: usize = 600;
    raise_descriptor_limit();
    let cap = HttpSettings::default().max_connections;
    let server = patient_server();
    let mut held = hold(server.http, HELD, &[]);
    let waited = new_client_wait(server.http);
    assert!(
        waited < Duration::from_secs(1),
        "new client waited {waited:?}"
    );
    // The new client took the place of one more: the oldest HELD - cap + 1 are closed.
    assert_oldest_closed(&mut held, HELD - cap + 1);
}

#[test]
fn with_the_default_limits_600_idle_connections_delay_nobody() {
    let _machine = machine_to_itself();
    raise_descriptor_limit();
    let server = TestServer::start();
    let _held = hold(server.http, 600, &[]);
    for _ in 0..3 {
        let waited = new_client_wait(server.http);
        assert!(
            waited < Duration::from_secs(1),
            "new client waited {waited:?}"
        );
    }
}

#[test]
fn a_slow_header_client_is_cut_off_and_delays_nobody() {
    let _machine = machine_to_itself();
    let server = &*SHARED;
    let mut slow = TcpStream::connect(server.http).unwrap();
    slow.write_all(b"GET /v1/zone HTTP/1.1\r\nHost: portsd\r\nX-Slow: ")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let started = Instant::now();
    let mut cut_off = None;
    while started.elapsed() < Duration::from_secs(12) {
        // One more byte of a header that never ends, then a look for the close.
        if slow.write_all(b"a").is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        let mut buffer = [0u8; 256];
        match slow.read(&mut buffer) {
            Ok(0) => {
                cut_off = Some(started.elapsed());
                break;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                cut_off = Some(started.elapsed());
                break;
            }
        }
        assert!(new_client_wait(server.http) < Duration::from_secs(1));
    }
    let cut_off = cut_off.expect("the slow client was cut off");
    assert!(
        cut_off >= Duration::from_secs(4) && cut_off < Duration::from_secs(8),
        "cut off after {cut_off:?}; the limit is 5 s"
    );
}

/// The status line of the answer to the raw request `request`.
fn raw_status(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    let _ = stream.write_all(request);
    read_all(&mut stream)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn oversized_heads_and_bodies_are_refused() {
    let server = &*SHARED;
    let big_header = format!(
        "GET /v1/zone HTTP/1.1\r\nHost: portsd\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(
        raw_status(server.http, big_header.as_bytes()),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let declared = b"POST /v1/zone HTTP/1.1\r\nHost: portsd\r\nContent-Length: 100000\r\n\r\n";
    assert_eq!(
        raw_status(server.http, declared),
        "HTTP/1.1 413 Payload Too Large"
    );
    let chunked = b"GET /v1/zone HTTP/1.1\r\nHost: portsd\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        raw_status(server.http, chunked),
        "HTTP/1.1 413 Payload Too Large"
    );
    let small = b"GET /v1/zone HTTP/1.1\r\nHost: portsd\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    assert_eq!(raw_status(server.http, small), "HTTP/1.1 200 OK");
}
