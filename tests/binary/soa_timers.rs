//! The SOA's timers as settings (`--soa-refresh`, `--soa-retry`, `--soa-expire`,
//! `--soa-minimum`) and EDNS EXPIRE (RFC 7314): served in the SOA and in negative answers,
//! printed by `export-zone`, refused at start when a secondary could not follow them, the
//! expire answered to `dig +expire` and in zone transfers, and taken by Knot as a secondary.
//!
//! Needs the Debian packages bind9-dnsutils (`dig`) and knot (`knotd`, `knotc`), which
//! `.ci/setup` installs.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::common::{Daemon, parse, run_tool, tcp_exchange, udp_exchange};
use crate::external::{program, start_knot};

/// Timers unlike the defaults (3600, 600, 604800, the TTL), valid together.
const TIMERS: [&str; 8] = [
    "--soa-refresh",
    "7200",
    "--soa-retry",
    "1800",
    "--soa-expire",
    "1209600",
    "--soa-minimum",
    "300",
];
/// The EDNS EXPIRE option code (RFC 7314).
const EXPIRE: u16 = 9;

/// The SOA data `dig +short` prints for these timers, after the serial.
fn timers_after_serial(soa: &str) -> Vec<String> {
    soa.split_whitespace().skip(3).map(str::to_owned).collect()
}

#[test]
fn the_timers_are_served_exported_and_bound_negative_caching() {
    let mut args = vec!["--allow-transfer", "127.0.0.0/8"];
    args.extend(TIMERS);
    let daemon = Daemon::start(&args);
    let dig = |args: &[&str]| run_tool("dig", daemon.addr, args);
    let soa = dig(&["+short", "SOA", "ports.local"]);
    assert_eq!(
        timers_after_serial(&soa),
        ["7200", "1800", "1209600", "300"]
    );
    // The SOA's own TTL is the smaller of the TTL and MINIMUM, so a negative answer says 300.
    let negative = dig(&["+noall", "+authority", "TXT", "no-such-name.ports.local"]);
    let ttl = negative.split_whitespace().nth(1);
    assert_eq!(ttl, Some("300"), "{negative}");
    let positive = dig(&["+noall", "+answer", "TXT", "443.tcp.ports.local"]);
    assert_eq!(
        positive.split_whitespace().nth(1),
        Some("3600"),
        "{positive}"
    );
    let exported = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .arg("export-zone")
        .args(TIMERS)
        .output()
        .expect("export-zone runs");
    let text = String::from_utf8(exported.stdout).unwrap();
    let soa_line = text.lines().find(|l| l.contains(" SOA ")).unwrap();
    assert!(
        soa_line.starts_with("ports.local. 300 IN SOA ")
            && soa_line.ends_with(" 7200 1800 1209600 300"),
        "{soa_line}"
    );
    // The same records over AXFR.
    let transfer = dig(&["+noall", "+answer", "AXFR", "ports.local"]);
    let first = transfer.lines().next().unwrap_or_default();
    assert_eq!(first.split_whitespace().nth(1), Some("300"), "{first}");
    assert!(first.ends_with(" 7200 1800 1209600 300"), "{first}");
}

#[test]
fn timers_a_secondary_could_not_follow_are_refused_in_one_line() {
    for (args, says) in [
        (
            &["--soa-refresh", "600", "--soa-retry", "601"][..],
            "retry (601 s) is longer than the refresh (600 s)",
        ),
        (
            &["--soa-expire", "4000"],
            "expire (4000 s) is shorter than refresh plus retry (4200 s)",
        ),
        (
            &["--soa-minimum", "2147483648"],
            "minimum (2147483648 s) is above 2147483647",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("portsd runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// A query for the apex with EDNS and, when `expire`, the EXPIRE option (empty, as a client
/// sends it).
fn query_with_expire(rtype: RecordType, expire: bool) -> Vec<u8> {
    let mut message = Message::new(7, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(
        Name::from_ascii("ports.local.").unwrap(),
        rtype,
    ));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if expire {
        edns.options_mut()
            .insert(EdnsOption::Unknown(EXPIRE, Vec::new()));
    }
    message.edns = Some(edns);
    message.to_vec().unwrap()
}

/// The EDNS EXPIRE seconds of a response, when it carries the option.
fn expire_of(response: &Message) -> Option<u32> {
    let edns = response.edns.as_ref()?;
    edns.options().as_ref().iter().find_map(|(code, option)| {
        let data: Vec<u8> = option.try_into().ok()?;
        let seconds: [u8; 4] = data.try_into().ok()?;
        (u16::from(*code) == EXPIRE).then_some(u32::from_be_bytes(seconds))
    })
}

#[test]
fn edns_expire_is_the_soa_expire_in_answers_and_transfers() {
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8", "--soa-expire", "1209600"]);
    let dig = |args: &[&str]| run_tool("dig", daemon.addr, args);
    for transport in ["+notcp", "+tcp"] {
        let answer = dig(&[transport, "+expire", "SOA", "ports.local"]);
        assert!(answer.contains("; EXPIRE: 1209600 (2 weeks)"), "{answer}");
        let answer = dig(&[transport, "+expire", "TXT", "443.tcp.ports.local"]);
        assert!(answer.contains("; EXPIRE: 1209600"), "{answer}");
    }
    let plain = dig(&["SOA", "ports.local"]);
    assert!(
        !plain.contains("EXPIRE"),
        "only to a client asking: {plain}"
    );
    let elsewhere = dig(&["+expire", "SOA", "example.com"]);
    assert!(
        elsewhere.contains("status: REFUSED") && !elsewhere.contains("EXPIRE"),
        "not for a zone portsd does not serve: {elsewhere}"
    );
    // An AXFR: every message carries the OPT record, with EXPIRE when it was asked for.
    let axfr = parse(&tcp_exchange(
        daemon.addr,
        &query_with_expire(RecordType::AXFR, true),
    ));
    assert!(matches!(
        axfr.answers.first().map(|r| &r.data),
        Some(RData::SOA(_))
    ));
    assert_eq!(expire_of(&axfr), Some(1_209_600));
    let axfr = parse(&tcp_exchange(
        daemon.addr,
        &query_with_expire(RecordType::AXFR, false),
    ));
    assert!(axfr.edns.is_some() && expire_of(&axfr).is_none());
    // An IXFR over UDP from a serial portsd does not know: the SOA alone, with EXPIRE.
    let mut ixfr = Message::from_vec(&query_with_expire(RecordType::IXFR, true)).unwrap();
    let apex = Name::from_ascii("ports.local.").unwrap();
    let soa = hickory_proto::rr::rdata::SOA::new(apex.clone(), apex.clone(), 1, 0, 0, 0, 0);
    ixfr.authorities.push(hickory_proto::rr::Record::from_rdata(
        apex,
        0,
        RData::SOA(soa),
    ));
    let reply = parse(&udp_exchange(daemon.addr, &ixfr.to_vec().unwrap()).unwrap());
    assert_eq!(expire_of(&reply), Some(1_209_600), "{reply:?}");
}

/// `knotc zone-status` of the zone, through the control socket of the Knot whose run
/// directory holds it.
fn knot_zone_status(run: &std::path::Path) -> String {
    let output = Command::new(program("knotc"))
        .arg("-s")
        .arg(run.join("knot.sock"))
        .args(["zone-status", "ports.local"])
        .output()
        .expect("knotc runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn knot_as_a_secondary_refreshes_and_expires_by_portsd_timers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut args = vec!["--allow-transfer", "127.0.0.0/8"];
    args.extend(TIMERS);
    let daemon = Daemon::start(&args);
    let storage = dir.path().join("zones");
    std::fs::create_dir_all(&storage).unwrap();
    let (knot, knot_addr): (_, SocketAddr) = start_knot(
        dir.path(),
        "",
        &format!(
            "remote:\n  - id: primary\n    address: 127.0.0.1@{}\n\
             zone:\n  - domain: ports.local\n    master: primary\n    storage: \"{}\"\n",
            daemon.addr.port(),
            storage.display()
        ),
    );
    let run = dir.path().join(format!("knot-{}", knot_addr.port()));
    let started = Instant::now();
    let status = loop {
        let status = knot_zone_status(&run);
        if status.contains("expiration: +") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "knot did not load the zone: {status}; log:\n{}",
            knot.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // 1209600 s is 14 days, 7200 s two hours: Knot counts down from them (the defaults
    // would be 7 days and an hour).
    let shows = |field: &str, full: &str, less: &str| {
        [full, less]
            .iter()
            .any(|value| status.contains(&format!("{field}: +{value}")))
    };
    assert!(shows("expiration", "14D ", "13D23h"), "{status}");
    assert!(shows("refresh", "2h ", "1h59m"), "{status}");
}
