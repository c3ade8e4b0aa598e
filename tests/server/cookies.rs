//! DNS Cookies (RFC 7873, RFC 9018 server cookies) over real loopback sockets: a client cookie
//! gets a server cookie back, a server cookie made here is accepted (by any instance given the
//! same secret) and exempts its client from rate limiting, a forged one is not, a malformed
//! one gets FORMERR with an OPT record; `dig +cookie` and `kdig +cookie` agree.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::*;
use hickory_proto::op::ResponseCode;
use portsd::pipeline::Policy;
use portsd::pipeline::cookie::CookieSecrets;

/// The question the tests ask, with `cookie`.
fn cookie_query(id: u16, cookie: &[u8]) -> Vec<u8> {
    crate::common::cookie_query(id, "443.tcp.ports.local", cookie)
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// Asks with `cookie` over UDP and TCP; checks the answers are NOERROR with a fresh server
/// cookie for the same client cookie, and returns the UDP one's.
fn ask(addr: SocketAddr, cookie: &[u8]) -> Vec<u8> {
    let request = cookie_query(7, cookie);
    let mut cookies = Vec::new();
    for reply in [
        parse(&udp_exchange(addr, &request).expect("a UDP answer")),
        parse(&tcp_exchange(addr, &request)),
    ] {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(txt_answers(&reply).len(), 1, "{reply:?}");
        let returned = response_cookie(&reply).expect("a cookie in the answer");
        assert_eq!(
            returned.len(),
            24,
            "client cookie and a 16-byte server cookie"
        );
        assert_eq!(returned[..8], cookie[..8], "the client cookie is echoed");
        assert_eq!(returned[8..12], [1, 0, 0, 0], "version 1, reserved zero");
        let made = u32::from_be_bytes(returned[12..16].try_into().unwrap());
        assert!(unix_now().abs_diff(made) <= 5, "dated now: {made}");
        cookies.push(returned);
    }
    cookies.swap_remove(0)
}

fn cookie_count(server: &TestServer, kind: &str) -> u64 {
    let text = server.server.metrics().render();
    let line = format!("portsd_cookies_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn a_client_cookie_gets_a_server_cookie_that_is_accepted_back_and_a_forged_one_is_not() {
    let server = TestServer::start_policy(Policy::default());
    let client = [0x5a; 8];
    let full = ask(server.addr, &client);
    assert_eq!(cookie_count(&server, "client_only"), 2);
    ask(server.addr, &full);
    assert_eq!(cookie_count(&server, "valid"), 2);
    let mut forged = full.clone();
    forged[23] ^= 0xff;
    ask(server.addr, &forged);
    let mut other_client = full.clone();
    other_client[0] ^= 1;
    ask(server.addr, &other_client);
    assert_eq!(cookie_count(&server, "invalid"), 4);
    // A server cookie of another server's format (8 to 32 bytes) is answered as a first
    // contact.
    ask(server.addr, &[&client[..], &[9; 32]].concat());
    assert_eq!(cookie_count(&server, "invalid"), 6);
}

#[test]
fn instances_with_the_same_secret_accept_each_others_cookies() {
    let secrets = CookieSecrets::random().unwrap();
    let policy = || Policy {
        cookies: secrets.clone(),
        ..Policy::default()
    };
    let (first, second) = (
        TestServer::start_policy(policy()),
        TestServer::start_policy(policy()),
    );
    let stranger = TestServer::start_policy(Policy::default());
    let full = ask(first.addr, &[0x11; 8]);
    ask(second.addr, &full);
    assert_eq!(cookie_count(&second, "valid"), 2);
    ask(stranger.addr, &full);
    assert_eq!(cookie_count(&stranger, "invalid"), 2);
}

#[test]
fn malformed_cookies_get_formerr_with_an_opt_record_and_the_next_query_is_answered() {
    let addr = SHARED.addr;
    for length in [0, 1, 7, 9, 15, 41] {
        let request = cookie_query(9, &vec![3; length]);
        for reply in [
            parse(&udp_exchange(addr, &request).expect("a UDP answer")),
            parse(&tcp_exchange(addr, &request)),
        ] {
            assert_eq!(
                reply.metadata.response_code,
                ResponseCode::FormErr,
                "cookie of {length} bytes"
            );
            assert!(reply.edns.is_some(), "FORMERR keeps the OPT record");
            assert!(response_cookie(&reply).is_none());
            assert_eq!(reply.queries.len(), 1, "the question is echoed");
        }
        ask(addr, &[4; 8]);
    }
}

/// `count` copies of `request`, for [`burst`].
fn copies(request: Vec<u8>, count: usize) -> impl Iterator<Item = Vec<u8>> {
    std::iter::repeat_n(request, count)
}

#[test]
fn a_valid_server_cookie_is_exempt_from_rate_limiting() {
    let server = TestServer::start_rate_limited();
    let full_cookie = ask(server.addr, &[0x22; 8]);
    let (answered, _) = burst(server.addr, copies(cookie_query(1, &full_cookie), 40));
    assert_eq!(
        answered, 40,
        "every answer to a valid cookie goes out whole"
    );
    let (answered, slipped) = burst(server.addr, copies(cookie_query(2, &[0x22; 8]), 40));
    assert!(
        answered < 10 && slipped > 0,
        "a client cookie alone is limited: {answered} answered, {slipped} slipped"
    );
    let mut forged = full_cookie;
    forged[20] ^= 1;
    let (answered, _) = burst(server.addr, copies(cookie_query(3, &forged), 40));
    assert!(
        answered < 10,
        "a forged cookie is limited: {answered} answered"
    );
}

/// The `COOKIE:` line of dig's or kdig's output.
fn cookie_line(output: &str) -> &str {
    output
        .lines()
        .find(|l| l.contains("COOKIE:"))
        .unwrap_or_else(|| panic!("no COOKIE line in {output}"))
}

#[test]
fn dig_and_kdig_get_server_cookies_and_dig_finds_them_good() {
    let addr = SHARED.addr;
    let name = "443.tcp.ports.local";
    let dig = run_tool("dig", addr, &["+cookie", name, "TXT"]);
    assert!(dig.contains("status: NOERROR"), "{dig}");
    let line = cookie_line(&dig);
    assert!(
        line.contains("(good)"),
        "dig checks the echoed client cookie: {line}"
    );
    let hex = line.split_whitespace().nth(2).expect("the cookie's hex");
    assert_eq!(hex.len(), 48, "client and server cookie: {line}");
    // dig sends a server cookie back when given one; it must be accepted.
    let again = run_tool("dig", addr, &[&format!("+cookie={hex}"), name, "TXT"]);
    assert!(cookie_line(&again).contains("(good)"), "{again}");

    let kdig = run_tool("kdig", addr, &["+cookie", name, "TXT"]);
    assert!(kdig.contains("status: NOERROR"), "{kdig}");
    let line = cookie_line(&kdig);
    let hex = line.split_whitespace().last().unwrap();
    assert_eq!(hex.len(), 48, "{line}");
    // kdig refuses to send a malformed cookie; dig sends one of seven bytes.
    let malformed = run_tool("dig", addr, &["+cookie=00112233445566", name, "TXT"]);
    assert!(malformed.contains("status: FORMERR"), "{malformed}");
}
