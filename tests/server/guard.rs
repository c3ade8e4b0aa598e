//! Response rate limiting, access lists and the metrics endpoint, over real sockets.

use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use portsd::pipeline::Policy;
use portsd::pipeline::acl::AccessList;
use portsd::pipeline::rrl::RateLimitConfig;

/// `count` queries with different IDs, for [`burst`].
fn queries(count: u16) -> impl Iterator<Item = Vec<u8>> {
    (0..count).map(|id| query(id, "443.tcp.ports.local.", RecordType::TXT, None))
}

#[test]
fn rate_limiting_answers_a_burst_then_slips_and_drops() {
    let _machine = machine_to_itself();
    let server = TestServer::start_rate_limited();
    let (full, slipped) = burst(server.addr, queries(40));
    assert!(
        (5..=8).contains(&full),
        "one second's burst is answered, got {full}"
    );
    assert!(
        slipped >= 12,
        "every second limited answer slips, got {slipped}"
    );
    assert!(full + slipped < 40, "the rest are dropped");
    let whole = parse(&tcp_exchange(
        server.addr,
        &query(99, "443.tcp.ports.local.", RecordType::TXT, None),
    ));
    assert_eq!(
        whole.metadata.response_code,
        ResponseCode::NoError,
        "TCP is never rate limited"
    );
    let text = server.server.metrics().render();
    assert!(
        text.contains("portsd_rate_limited_total{action=\"slip\"}"),
        "{text}"
    );
}

#[test]
fn loopback_is_exempt_by_default_and_zero_turns_limiting_off() {
    let default = TestServer::start_policy(Policy {
        rate_limit: RateLimitConfig {
            responses_per_second: 5,
            ..Policy::default().rate_limit
        },
        ..Policy::default()
    });
    assert_eq!(burst(default.addr, queries(40)), (40, 0));
    let off = TestServer::start_policy(Policy {
        rate_limit: RateLimitConfig {
            responses_per_second: 0,
            exempt: Vec::new(),
            ..RateLimitConfig::default()
        },
        ..Policy::default()
    });
    assert_eq!(burst(off.addr, queries(40)), (40, 0));
}

#[test]
fn denied_clients_get_silence_on_udp_and_refused_on_tcp() {
    for access in [
        AccessList::new(Vec::new(), vec!["127.0.0.0/8".parse().unwrap()]),
        AccessList::new(vec!["10.0.0.0/8".parse().unwrap()], Vec::new()),
    ] {
        let server = TestServer::start_policy(Policy {
            access: access.clone(),
            ..Policy::default()
        });
        let packet = query(5, "443.tcp.ports.local.", RecordType::TXT, None);
        assert!(
            udp_exchange(server.addr, &packet).is_none(),
            "{access:?}: silence on UDP"
        );
        let reply = parse(&tcp_exchange(server.addr, &packet));
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::Refused,
            "{access:?}"
        );
        assert!(reply.answers.is_empty());
        assert_eq!(reply.queries[0].name().to_ascii(), "443.tcp.ports.local.");
    }
    let allowed = TestServer::start_policy(Policy {
        access: AccessList::new(
            vec!["127.0.0.1/32".parse().unwrap()],
            vec!["127.0.0.0/8".parse().unwrap()],
        ),
        ..Policy::default()
    });
    let reply = udp_exchange(
        allowed.addr,
        &query(6, "22.tcp.ports.local.", RecordType::TXT, None),
    );
    assert!(
        reply.is_some(),
        "the more specific allow wins over the broader deny"
    );
}

#[test]
fn metrics_endpoint_counts_queries_and_describes_the_table() {
    let daemon = Daemon::start(&["--metrics", "127.0.0.1:0", "--rate-limit", "0"]);
    let metrics_addr = daemon.metrics_addr();
    for id in 0..3 {
        udp_exchange(
            daemon.addr,
            &query(id, "443.tcp.ports.local.", RecordType::TXT, None),
        )
        .unwrap();
    }
    udp_exchange(
        daemon.addr,
        &query(9, "nosuch.ports.local.", RecordType::TXT, None),
    )
    .unwrap();
    tcp_exchange(daemon.addr, &query(10, "example.com.", RecordType::A, None));
    let page = http_get(metrics_addr, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    for expected in [
        "portsd_queries_total{transport=\"udp\",qtype=\"TXT\",rcode=\"NOERROR\"} 3",
        "portsd_queries_total{transport=\"udp\",qtype=\"TXT\",rcode=\"NXDOMAIN\"} 1",
        "portsd_queries_total{transport=\"tcp\",qtype=\"A\",rcode=\"REFUSED\"} 1",
        "portsd_answer_seconds_count 5",
        "portsd_table_entries{source=\"iana\"}",
        "portsd_reloads_total 0",
        "portsd_build_info{version=",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in:\n{page}");
    }
    assert!(http_get(metrics_addr, "/other").starts_with("HTTP/1.1 404"));
}
