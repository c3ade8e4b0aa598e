//! The zone's digest (ZONEMD, RFC 8976) as the checkers operators use see it: `ldns-verify-zone`
//! on `export-zone`'s file, Knot 3.2 with `zonemd-verify: on` as a secondary transferring the
//! zone from portsd, and `dig` asking for the record over UDP, TCP and in a transfer. A copy
//! with one record changed by hand is refused by each checker.
//!
//! Needs the Debian packages ldnsutils (`ldns-verify-zone`), knot and bind9-dnsutils (`dig`),
//! which `.ci/setup` installs.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Daemon, run_tool};
use crate::external::{Process, program, start_knot};

/// The record changed by hand in the tampered copies: the first TXT record of port 80/tcp.
const TAMPERED_OWNER: &str = "80.tcp.ports.local. ";
/// How long Knot may take to transfer and check the whole zone (about 363,000 records).
const KNOT_DEADLINE: Duration = Duration::from_secs(90);

/// `portsd export-zone ARGS...`'s zone file.
fn export_zone(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .arg("export-zone")
        .args(args)
        .output()
        .expect("export-zone runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("the zone file is UTF-8")
}

/// The zone file with one TXT record's text changed, nothing else.
fn tampered(zone: &str) -> String {
    let at = zone
        .find(&format!("\n{TAMPERED_OWNER}"))
        .expect("port 80/tcp is in the zone");
    let quote = at + zone[at..].find('"').expect("a TXT record");
    format!("{}\"changed by hand {}", &zone[..quote], &zone[quote + 1..])
}

/// The ZONEMD data of the zone file's apex: serial, scheme, hash and the digest in one piece.
fn zonemd_of(zone: &str) -> Vec<String> {
    let lines: Vec<&str> = zone.lines().filter(|l| l.contains(" ZONEMD ")).collect();
    assert_eq!(lines.len(), 1, "one ZONEMD record: {lines:?}");
    assert!(lines[0].starts_with("ports.local. "), "{}", lines[0]);
    fields(lines[0].split(" ZONEMD ").nth(1).unwrap())
}

/// ZONEMD data as dig or the zone file prints it (the digest maybe split by spaces), with the
/// digest in one piece, upper case.
fn fields(data: &str) -> Vec<String> {
    let mut words = data.split_whitespace();
    let mut fields: Vec<String> = words.by_ref().take(3).map(str::to_owned).collect();
    fields.push(words.collect::<String>().to_ascii_uppercase());
    fields
}

/// `ldns-verify-zone -Z` (the ZONEMD alone, the zone being unsigned) on `zone`: whether it
/// accepts it, and what it said.
pub(crate) fn ldns_verify(dir: &Path, name: &str, zone: &str) -> (bool, String) {
    let path = dir.join(name);
    fs::write(&path, zone).unwrap();
    let output = Command::new(program("ldns-verify-zone"))
        .arg("-Z")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ldns-verify-zone ({e}): install ldnsutils"));
    let said = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said.into_owned())
}

#[test]
fn ldns_verify_zone_accepts_the_exported_digest_and_refuses_a_changed_record() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let zone = export_zone(&[]);
    let digest = zonemd_of(&zone);
    assert_eq!(digest[1..3], ["1", "1"], "SIMPLE, SHA-384");
    assert_eq!(digest[3].len(), 96, "48 octets");
    assert!(zone.contains(&format!(
        " SOA ns.ports.local. hostmaster.ports.local. {} ",
        digest[0]
    )));
    let (accepted, said) = ldns_verify(dir.path(), "exported", &zone);
    assert!(accepted, "{said}");
    let (accepted, said) = ldns_verify(dir.path(), "tampered", &tampered(&zone));
    assert!(!accepted, "a changed record passed: {said}");
    assert!(said.contains("ZONEMD"), "{said}");
}

#[test]
fn dig_gets_the_exported_digest_over_udp_tcp_and_in_a_transfer() {
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8"]);
    let expected = zonemd_of(&export_zone(&[]));
    let dig = |args: &[&str]| run_tool("dig", daemon.addr, args);
    // Without a cookie the plain query takes the fast path; with one, the general path.
    for transport in [&["+nocookie"][..], &["+cookie"], &["+tcp"]] {
        let mut args = transport.to_vec();
        args.extend(["+short", "ZONEMD", "ports.local"]);
        let answer = dig(&args);
        assert_eq!(fields(&answer), expected, "dig {args:?}: {answer}");
    }
    let transfer = dig(&["+noall", "+answer", "AXFR", "ports.local"]);
    let carried: Vec<&str> = transfer
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("ZONEMD"))
        .collect();
    assert_eq!(carried.len(), 1, "{carried:?}");
    let data: Vec<&str> = carried[0].split_whitespace().skip(4).collect();
    assert_eq!(fields(&data.join(" ")), expected);
}

/// Knot's configuration for a secondary of `primary` that checks the digest, its zone file
/// kept in `storage`.
fn verifying_secondary(primary: SocketAddr, storage: &Path) -> String {
    fs::create_dir_all(storage).unwrap();
    format!(
        "remote:\n  - id: primary\n    address: {}@{}\n\
         zone:\n  - domain: ports.local\n    master: primary\n    storage: \"{}\"\n\
         \x20   zonemd-verify: on\n",
        primary.ip(),
        primary.port(),
        storage.display()
    )
}

/// Waits until Knot's log shows `text`, and returns the log.
fn wait_for_knot(knot: &Process, text: &str) -> String {
    let started = Instant::now();
    loop {
        let log = knot.log_text();
        if log.contains(text) {
            return log;
        }
        assert!(
            started.elapsed() < KNOT_DEADLINE,
            "knot did not log {text:?} within {KNOT_DEADLINE:?}; log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn knot_verifying_zonemd_accepts_portsd_transfer_and_refuses_a_changed_copy() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8"]);
    let expected = zonemd_of(&export_zone(&[]));
    let (knot, knot_addr) = start_knot(
        dir.path(),
        "",
        &verifying_secondary(daemon.addr, &dir.path().join("from-portsd")),
    );
    let log = wait_for_knot(&knot, "ZONEMD, verification");
    assert!(log.contains("ZONEMD, verification successful"), "{log}");
    // Knot logs the check just before it serves the zone it checked.
    let started = Instant::now();
    let served = loop {
        let served = run_tool("dig", knot_addr, &["+short", "ZONEMD", "ports.local"]);
        if !served.trim().is_empty() || started.elapsed() > KNOT_DEADLINE {
            break served;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(fields(&served), expected, "{served}");
    drop(knot);

    // The same zone with one record changed, served by a Knot primary that does not check.
    let copy = dir.path().join("tampered.zone");
    fs::write(&copy, tampered(&export_zone(&[]))).unwrap();
    let (_primary, primary_addr) = start_knot(
        dir.path(),
        "",
        &format!(
            "acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
             zone:\n  - domain: ports.local\n    file: \"{}\"\n    acl: transfer\n",
            copy.display()
        ),
    );
    let (knot, knot_addr) = start_knot(
        dir.path(),
        "",
        &verifying_secondary(primary_addr, &dir.path().join("from-copy")),
    );
    let log = wait_for_knot(&knot, "ZONEMD, verification");
    assert!(log.contains("ZONEMD, verification failed"), "{log}");
    let status = run_tool("dig", knot_addr, &["SOA", "ports.local"]);
    assert!(status.contains("status: SERVFAIL"), "{status}");
}
