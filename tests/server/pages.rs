//! The pages for people, over real HTTP to the server in process: the port page's facts,
//! neighbours and commands (the `dig` it prints run against the server), the service page,
//! searches ranked as DNS ranks them with a protocol filter and "did you mean" on a miss, the
//! home page's commonest ports, OpenSearch, robots.txt and canonical links, the HTTP series of
//! `/metrics` after real requests, and bad input of every kind answered 400 or 404, never 500.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use portsd::core::present;
use portsd::core::table::Table;
use portsd::core::zone::Snapshot;
use portsd::serve::{DataLocation, TcpLimits};
use portsd::sources::DEFAULT_FREQUENCIES;

use crate::common::*;
use crate::search::table_with_frequencies;

/// The compiled-in data with the host's nmap frequencies (installed by `.ci/setup`).
fn table() -> Table {
    let nmap = Path::new(DEFAULT_FREQUENCIES);
    assert!(
        nmap.exists(),
        "{DEFAULT_FREQUENCIES} is missing: run .ci/setup"
    );
    table_with_frequencies(nmap)
}

/// One server with nmap's frequencies for the tests that only read.
static SHARED: LazyLock<TestServer> = LazyLock::new(|| {
    TestServer::start_with(
        test_zone(),
        table(),
        DataLocation::Builtin,
        TcpLimits::default(),
    )
});

/// One HTTP answer, redirects not followed.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .get(format!("http://{addr}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    Answer {
        status: response.status().as_u16(),
        location: response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// The text of `html` with tags dropped and entities of quotes and ampersands read back.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_port_page_shows_every_use_fact_and_neighbour_and_commands_for_this_server() {
    let server = &*SHARED;
    let page = get(server.http, "/port/443/tcp");
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    // The use, its service linked, the legend once.
    assert!(
        body.contains("<a href=\"/service/https\">https</a>"),
        "{body}"
    );
    assert_eq!(body.matches("What the status words mean").count(), 1);
    // Registry facts: references linked to the RFC Editor, dates as dates.
    assert!(
        body.contains("href=\"https://www.rfc-editor.org/rfc/rfc"),
        "{body}"
    );
    assert!(body.contains("<time datetime=\""), "{body}");
    let text = text_of(body);
    assert!(text.contains("system port range 0-1023"), "{text}");
    assert!(text.contains("% of hosts scanned; "), "{text}");
    assert!(text.contains(" most common on tcp"), "{text}");
    assert!(
        body.contains("href=\"/port/442/tcp\""),
        "the port below: {body}"
    );
    assert!(
        body.contains("href=\"/port/444/tcp\""),
        "the port above: {body}"
    );
    // The commands name this server's DNS and HTTP addresses, and work when pasted.
    let dig = format!(
        "dig TXT 443.tcp.ports.local @{} -p {} +short",
        server.addr.ip(),
        server.addr.port()
    );
    assert!(text.contains(&dig), "{dig} in {text}");
    assert!(
        text.contains(&format!("curl http://{}/v1/ports/443/tcp", server.http)),
        "{text}"
    );
    let registry = format!(
        "dig TXT 443.tcp.registry.ports.local @{} -p {} +short",
        server.addr.ip(),
        server.addr.port()
    );
    assert!(text.contains(&registry), "{text}");
    let args: Vec<&str> = dig.split(' ').skip(1).collect();
    let output = std::process::Command::new("dig")
        .args(&args)
        .output()
        .expect("dig runs");
    let answered = String::from_utf8_lossy(&output.stdout);
    assert!(answered.contains("443 | tcp | "), "{answered}");
    // Every port on all protocols, and each port the page shows links to its page.
    let all = get(server.http, "/port/53");
    assert_eq!(all.status, 200);
    assert!(all.body.contains("href=\"/port/53/udp\""), "{}", all.body);
    assert!(all.body.contains("href=\"/port/53/tcp\""), "{}", all.body);
}

/// The body of `path` asked with `Host: host`, over a connection of its own.
fn body_for_host(addr: SocketAddr, host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

#[test]
fn a_port_page_asked_again_names_the_host_each_reader_reached() {
    // Port pages are kept once rendered: what is kept must be the page of the site as this
    // reader reached it.
    let server = &*SHARED;
    let path = "/port/22/tcp";
    let first = body_for_host(server.http, "one.example:8080", path);
    assert!(
        first.contains("curl http://one.example:8080/v1/ports/22/tcp"),
        "{first}"
    );
    let other = body_for_host(server.http, "two.example", path);
    assert!(
        other.contains("curl http://two.example/v1/ports/22/tcp"),
        "{other}"
    );
    assert!(!other.contains("one.example"), "{other}");
    assert_eq!(body_for_host(server.http, "one.example:8080", path), first);
}

#[test]
fn a_port_out_of_range_gets_the_clis_message() {
    let server = &*SHARED;
    for (path, subject) in [
        ("/port/99999", "99999"),
        ("/port/0443/tcp", "0443"),
        ("/?q=99999", "99999"),
    ] {
        let page = get(server.http, path);
        assert!(matches!(page.status, 400 | 404), "{path}: {}", page.status);
        let message = present::port_of(subject).unwrap_err().to_string();
        assert!(
            text_of(&page.body).contains(&message),
            "{path}: {}",
            page.body
        );
        assert!(message.contains("is not a port"), "{message}");
    }
}

#[test]
fn service_and_port_pages_link_both_ways() {
    let server = &*SHARED;
    let service = get(server.http, "/service/https");
    assert_eq!(service.status, 200);
    assert!(
        service.body.contains("href=\"/port/443/tcp\""),
        "{}",
        service.body
    );
    let port = get(server.http, "/port/443/tcp");
    assert!(port.body.contains("href=\"/service/https\""));
    // The search box sends a port to its page, a service to its page.
    assert_eq!(
        get(server.http, "/?q=443").location.as_deref(),
        Some("/port/443")
    );
    assert_eq!(
        get(server.http, "/?q=443%2Ftcp").location.as_deref(),
        Some("/port/443/tcp")
    );
    assert_eq!(
        get(server.http, "/?q=443&protocol=udp").location.as_deref(),
        Some("/port/443/udp")
    );
    assert_eq!(
        get(server.http, "/?q=ssh").location.as_deref(),
        Some("/service/ssh")
    );
}

/// The ranks and ports of the uses a results page shows, in page order.
fn ranked(body: &str) -> Vec<(usize, String)> {
    body.split("<span class=\"rank\">#")
        .skip(1)
        .map(|item| {
            let rank = item.split('<').next().unwrap().parse().unwrap();
            let port = item.split("class=\"port\" href=\"").nth(1).unwrap();
            (rank, port.split('"').next().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn results_are_ranked_as_dns_ranks_them_with_a_protocol_filter() {
    let server = &*SHARED;
    let snapshot = Snapshot::new(table(), 0, &test_zone());
    let expected: Vec<(usize, String)> = present::search(&snapshot, &["remote desktop".to_owned()])
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, view)| {
            let text = &view.text;
            let mut fields = text.split(" | ");
            let (port, protocol) = (fields.next().unwrap(), fields.next().unwrap());
            let first = port.split('-').next().unwrap();
            (i + 1, format!("/port/{first}/{protocol}"))
        })
        .collect();
    let page = get(server.http, "/?q=remote+desktop");
    assert_eq!(page.status, 200);
    assert_eq!(ranked(&page.body), expected);
    // Every port and service the page links to has its page.
    for link in page.body.split("href=\"").skip(1) {
        let link = link.split('"').next().unwrap();
        if link.starts_with("/port/") || link.starts_with("/service/") {
            assert_eq!(get(server.http, link).status, 200, "{link}");
        }
    }
    let udp = get(server.http, "/?q=remote+desktop&protocol=udp");
    let udp_only: Vec<(usize, String)> = expected
        .into_iter()
        .filter(|(_, p)| p.ends_with("/udp"))
        .collect();
    assert!(!udp_only.is_empty());
    assert_eq!(ranked(&udp.body), udp_only);
    assert!(
        udp.body.contains("<option value=\"udp\" selected>"),
        "{}",
        udp.body
    );
}

#[test]
fn a_miss_offers_the_nearest_names_and_words() {
    let server = &*SHARED;
    let page = get(server.http, "/?q=minecarft");
    assert_eq!(page.status, 404);
    assert!(
        text_of(&page.body).contains("no use matches \"minecarft\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("Did you mean"), "{}", page.body);
    assert!(
        page.body
            .contains("<a href=\"/?q=minecraft\">minecraft</a>"),
        "{}",
        page.body
    );
    let service = get(server.http, "/service/sshh");
    assert_eq!(service.status, 404);
    assert!(
        service.body.contains("<a href=\"/?q=ssh\">ssh</a>"),
        "{}",
        service.body
    );
}

#[test]
fn the_home_page_lists_the_commonest_ports() {
    let server = &*SHARED;
    let page = get(server.http, "/");
    assert_eq!(page.status, 200);
    let top: Vec<&str> = page.body.split("<ol class=\"top\">").skip(1).collect();
    assert_eq!(top.len(), 2, "tcp and udp: {}", page.body);
    assert!(
        top[0].starts_with("<li value=\"1\"><a href=\"/port/80/tcp\">80/tcp</a>"),
        "{}",
        top[0]
    );
}

#[test]
fn every_page_has_a_title_description_canonical_link_and_opensearch() {
    let server = &*SHARED;
    let base = format!("http://{}", server.http);
    for path in [
        "/",
        "/port/443/tcp",
        "/service/ssh",
        "/?q=remote+desktop",
        "/?q=minecarft",
        "/nowhere",
    ] {
        let page = get(server.http, path);
        let body = &page.body;
        assert!(body.contains("<title>"), "{path}");
        assert!(
            body.contains("<meta name=\"description\" content=\""),
            "{path}"
        );
        assert!(
            body.contains(&format!("<link rel=\"canonical\" href=\"{base}/")),
            "{path}: {body}"
        );
        assert!(
            body.contains("<link rel=\"search\" type=\"application/opensearchdescription+xml\""),
            "{path}"
        );
        assert!(!body.contains("<script"), "{path}");
    }
    let opensearch = get(server.http, "/opensearch.xml");
    assert_eq!(opensearch.status, 200);
    assert!(
        opensearch
            .body
            .contains(&format!("template=\"{base}/?q={{searchTerms}}\"")),
        "{}",
        opensearch.body
    );
    let robots = get(server.http, "/robots.txt");
    assert_eq!(robots.body, "User-agent: *\nAllow: /\n");
    // The API's unknown paths stay JSON.
    let api = get(server.http, "/v1/nowhere");
    assert_eq!(api.status, 404);
    assert!(api.body.starts_with("{\"error\":"), "{}", api.body);
}

/// The value of the series `name` (with its labels, as exposed) in `metrics`.
fn series(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn http_requests_are_counted_by_route_and_status_with_durations_and_connections() {
    let server = TestServer::start_settings(
        test_zone(),
        builtin_table(),
        portsd::serve::Settings {
            http: portsd::serve::HttpSettings {
                rate_limit: portsd::pipeline::rrl::RateLimitConfig {
                    responses_per_second: 5,
                    slip: 0,
                    exempt: vec!["192.0.2.0/24".parse().unwrap()],
                    ..Default::default()
                },
                ..Default::default()
            },
            ..portsd::serve::Settings::new(portsd::serve::DataLocation::Builtin)
        },
    );
    assert_eq!(get(server.http, "/port/443/tcp").status, 200);
    assert_eq!(get(server.http, "/port/99999").status, 400);
    let mut limited = 0;
    while get(server.http, "/v1/ports/22").status != 429 {
        limited += 1;
        assert!(limited < 100, "never limited");
    }
    // A connection held open while the metrics are read.
    let held = std::net::TcpStream::connect(server.http).unwrap();
    let metrics = loop {
        let metrics = get(server.http, "/metrics");
        if metrics.status == 200 {
            break metrics.body;
        }
    };
    let requests = "portsd_http_requests_total{route=\"/port/{port}/{protocol}\",status=";
    assert_eq!(
        series(&metrics, &format!("{requests}\"2xx\"}}")),
        1.0,
        "{metrics}"
    );
    let bad = "portsd_http_requests_total{route=\"/port/{port}\",status=\"4xx\"}";
    assert_eq!(series(&metrics, bad), 1.0, "{metrics}");
    assert!(
        series(&metrics, "portsd_http_rate_limited_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        series(
            &metrics,
            "portsd_http_requests_total{route=\"none\",status=\"4xx\"}"
        ) >= 1.0
    );
    assert!(
        series(&metrics, "portsd_http_request_seconds_count") >= 3.0,
        "{metrics}"
    );
    assert!(
        series(&metrics, "portsd_http_connections") >= 1.0,
        "{metrics}"
    );
    drop(held);
}

#[test]
fn access_list_refusals_are_counted() {
    let server = TestServer::start_policy(portsd::pipeline::Policy {
        access: portsd::pipeline::acl::AccessList::new(
            Vec::new(),
            vec!["127.0.0.0/8".parse().unwrap()],
        ),
        ..Default::default()
    });
    let mut stream = std::net::TcpStream::connect(server.http).unwrap();
    let _ = std::io::Write::write_all(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
    let metrics = server.server.metrics().render();
    assert_eq!(
        series(&metrics, "portsd_http_refused_clients_total"),
        1.0,
        "{metrics}"
    );
}

#[test]
fn bad_input_anywhere_gets_400_or_404_with_a_reason_and_the_next_request_is_served() {
    let server = &*SHARED;
    let long = "a".repeat(10_000);
    let cases: Vec<(String, u16, &str)> = vec![
        ("/port/-1".into(), 400, "is not a port"),
        ("/port/65536".into(), 400, "is not a port"),
        ("/port/0443".into(), 400, "is not a port"),
        ("/port/443/icmp".into(), 400, "is not one of tcp"),
        ("/port/%00".into(), 400, "is not a port"),
        ("/port/%FF%FE".into(), 400, "UTF-8"),
        ("/port/443/%FF".into(), 400, "UTF-8"),
        ("/service/%00".into(), 400, "is not a service name"),
        ("/service/%C3%28".into(), 400, "UTF-8"),
        ("/service/nosuchservicename".into(), 404, "no service named"),
        ("/service/ssh/%00".into(), 400, "is not one of tcp"),
        (format!("/service/{long}"), 404, "no service named"),
        ("/?q=%00".into(), 404, "no use matches"),
        ("/?q=%FF".into(), 404, "no use matches"),
        ("/?q=a&q=b".into(), 400, "duplicate field"),
        ("/?protocol=icmp".into(), 400, "is not one of tcp"),
        (format!("/?q={long}"), 404, "no use matches"),
        ("/?q=-1".into(), 404, "is not a port"),
        ("/?q=65536".into(), 404, "is not a port"),
        ("/?q=0443".into(), 404, "is not a port"),
        ("/?q=443%2Ficmp".into(), 400, "is not one of tcp"),
        ("/nowhere/%FF".into(), 404, "no page at this address"),
    ];
    for (path, status, reason) in &cases {
        let page = get(server.http, path);
        let shown = if path.len() > 80 { &path[..80] } else { path };
        assert_eq!(
            page.status,
            *status,
            "{shown}: {}",
            &page.body[..page.body.len().min(2000)]
        );
        assert!(
            text_of(&page.body).contains(reason),
            "{shown}: {reason:?} in {}",
            page.body
        );
        assert_eq!(get(server.http, "/port/22").status, 200, "after {shown}");
    }
}
