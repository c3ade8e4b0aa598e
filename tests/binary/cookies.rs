//! DNS Cookies across implementations: portsd and Knot (its `mod-cookies`, RFC 9018 server
//! cookies) given the same secret accept each other's server cookies, as the instances of a
//! mixed anycast group must. The secret is drawn at run time.
//!
//! What "accepted" means is seen from outside: portsd runs with a rate limit of one answer a
//! second, so a burst is answered whole only when its cookie is valid; Knot answers a cookie it
//! did not make with BADCOOKIE and one it made with NOERROR.

use std::fs;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use hickory_proto::op::ResponseCode;

use crate::common::{Daemon, burst, cookie_query, parse, response_cookie, udp_exchange};
use crate::external::{self, Process};

/// The zone Knot serves (cookies do not depend on what is asked).
const KNOT_ZONE: &str = "cookie.test";

/// The COOKIE option data of a response.
fn cookie_of(response: &[u8]) -> Vec<u8> {
    response_cookie(&parse(response)).expect("a COOKIE option")
}

fn start_knot(dir: &Path, secret_hex: &str) -> (Process, SocketAddr) {
    let zone_file = dir.join("cookie.zone");
    fs::write(
        &zone_file,
        format!(
            "$ORIGIN {KNOT_ZONE}.\n$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n@ TXT \"knot\"\n"
        ),
    )
    .unwrap();
    external::start_knot(
        dir,
        "",
        &format!(
            "mod-cookies:\n  - id: shared\n    secret: 0x{secret_hex}\n    badcookie-slip: 1\n\
             template:\n  - id: default\n    global-module: mod-cookies/shared\n\
             zone:\n  - domain: {KNOT_ZONE}\n    file: \"{}\"\n",
            zone_file.display()
        ),
    )
}

/// How many of `count` copies of `request` sent at once come back as whole answers.
fn whole_answers(addr: SocketAddr, request: &[u8], count: usize) -> usize {
    burst(addr, std::iter::repeat_n(request.to_vec(), count)).0
}

#[test]
fn portsd_and_knot_with_one_secret_accept_each_others_server_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let mut secret = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .unwrap();
    let secret_hex = data_encoding::HEXLOWER.encode(&secret);
    let (_knot, knot) = start_knot(dir.path(), &secret_hex);
    let portsd = Daemon::start_command(
        Command::new(env!("CARGO_BIN_EXE_portsd"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--rate-limit", "1", "--rate-limit-slip", "2"])
            // Loopback is exempt by default; exempt something else so it is limited here.
            .args(["--rate-limit-exempt", "192.0.2.0/24"])
            .env("PORTSD_COOKIE_SECRET", &secret_hex),
    );
    let portsd_name = "443.tcp.ports.local";
    let client = [0x6b; 8];

    // First portsd's own cookie, while its rate limit is untouched.
    let from_portsd = cookie_of(
        &udp_exchange(portsd.addr, &cookie_query(4, portsd_name, &client)).expect("portsd answers"),
    );

    // Knot's server cookie, sent to portsd: valid, so a burst is answered whole.
    let from_knot =
        cookie_of(&udp_exchange(knot, &cookie_query(1, KNOT_ZONE, &client)).expect("knot answers"));
    assert_eq!(from_knot.len(), 24, "an RFC 9018 server cookie from knot");
    assert_eq!(
        whole_answers(portsd.addr, &cookie_query(2, portsd_name, &from_knot), 20),
        20,
        "portsd accepts knot's cookie"
    );
    let mut forged = from_knot.clone();
    forged[23] ^= 1;
    assert!(
        whole_answers(portsd.addr, &cookie_query(3, portsd_name, &forged), 20) < 5,
        "a cookie knot did not make is limited as usual"
    );

    // portsd's server cookie, sent to Knot: NOERROR; a forged one BADCOOKIE.
    let ask_knot = |cookie: &[u8]| {
        let reply = udp_exchange(knot, &cookie_query(5, KNOT_ZONE, cookie)).expect("an answer");
        parse(&reply).metadata.response_code
    };
    assert_eq!(
        ask_knot(&from_portsd),
        ResponseCode::NoError,
        "knot accepts portsd's cookie"
    );
    let mut forged = from_portsd;
    forged[23] ^= 1;
    assert_eq!(
        ask_knot(&forged),
        ResponseCode::BADCOOKIE,
        "the control: knot checks cookies"
    );
    let log = portsd.log.0.lock().unwrap().join("\n");
    assert!(!log.contains(&secret_hex), "the secret is never logged");
}
