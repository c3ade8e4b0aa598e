//! The catalog zone (`--catalog`, RFC 9432) consumed by real secondaries: Knot 3.2 and BIND
//! 9.18 started with the recipes of `deploy/secondaries/` (`knot-catalog.conf`,
//! `named-catalog.conf` and `named-catalog-options.conf`, only their addresses, port and paths
//! changed), configured with the catalog alone, a TSIG key made by `tsig-keygen` at run time.
//! Both must serve the zone portsd serves with its serial and its answers; when portsd
//! restarts serving another zone name (with the same `--state-dir`), the catalog's serial goes
//! up, its NOTIFY reaches them, and they drop the old zone and serve the new one.
//!
//! Needs the Debian packages knot, bind9 and bind9-dnsutils (`.ci/setup` installs them).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::common::{Daemon, free_loopback_port, query};
use crate::external::udp_exchange_quick;
use crate::secondaries::{
    Key, Kind, LOAD_DEADLINE, Secondary, answer_of, scratch, start_secondary_with,
};

/// The catalog's name in the recipes.
const CATALOG: &str = "catalog.invalid";
/// Where the Knot recipe keeps the zones, replaced by the test's directory.
const KNOT_STORAGE: &str = "/var/lib/knot";
/// The primary's address and port in the recipes.
const TEMPLATE_PRIMARY: &str = "192.0.2.1 port 53";

/// The recipe `file` of `deploy/secondaries/`.
fn recipe(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/secondaries")
        .join(file)
}

/// The SOA `addr` answers for `zone`: its response code and serial, if it answers at all.
fn soa_at(addr: SocketAddr, zone: &str) -> Option<(ResponseCode, Option<u32>)> {
    let response = udp_exchange_quick(addr, &query(5, &format!("{zone}."), RecordType::SOA, None))?;
    let message = Message::from_vec(&response).ok()?;
    let serial = message
        .answers
        .iter()
        .find_map(|record| match &record.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
    Some((message.metadata.response_code, serial))
}

/// Waits until each of `secondaries` answers `zone`'s SOA as `expected` (the response code
/// and serial), at most [`LOAD_DEADLINE`]; the member zones are the whole ports zone.
fn wait_until<'s>(
    secondaries: impl IntoIterator<Item = &'s Secondary>,
    zone: &str,
    expected: (ResponseCode, Option<u32>),
) {
    let started = Instant::now();
    for secondary in secondaries {
        loop {
            let got = soa_at(secondary.addr, zone);
            if got == Some(expected) {
                break;
            }
            assert!(
                started.elapsed() < LOAD_DEADLINE,
                "{:?} answers {zone} SOA with {got:?}, not {expected:?}; log:\n{}",
                secondary.kind,
                secondary.process.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// portsd serving `zone` and the catalog from `data`, keeping state in `state`, transfers
/// allowed to loopback with the key, NOTIFY to `targets`, on `listen`.
fn portsd(
    zone: &str,
    listen: &str,
    data: &Path,
    key: &Key,
    state: &Path,
    targets: &[SocketAddr],
) -> Daemon {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portsd"));
    command
        .args([
            "serve",
            "--zone",
            zone,
            "--catalog",
            CATALOG,
            "--listen",
            listen,
        ])
        .arg("--data")
        .arg(data)
        .arg("--tsig-key")
        .arg(&key.bind_file)
        .arg("--state-dir")
        .arg(state)
        .args(["--allow-transfer", "127.0.0.1/32"]);
    for target in targets {
        command.arg("--notify").arg(target.to_string());
    }
    Daemon::start_command(&mut command)
}

/// The two consumers, started from the recipes against `primary`, on `ports` if free.
fn consumers(root: &Path, primary: SocketAddr, key: &Key, ports: [u16; 2]) -> Vec<Secondary> {
    let knot = Kind::Knot
        .configured(&recipe("knot-catalog.conf"), primary, key)
        .replace(KNOT_STORAGE, root.join("knot").to_str().unwrap());
    let bind = Kind::Bind.configured(&recipe("named-catalog.conf"), primary, key);
    let options = std::fs::read_to_string(recipe("named-catalog-options.conf")).unwrap();
    assert!(
        options.contains(TEMPLATE_PRIMARY),
        "named-catalog-options.conf"
    );
    let primary_with_port = format!("{} port {}", primary.ip(), primary.port());
    let options = options.replace(TEMPLATE_PRIMARY, &primary_with_port);
    vec![
        start_secondary_with(Kind::Knot, root, &knot, "", ports[0]),
        start_secondary_with(Kind::Bind, root, &bind, &options, ports[1]),
    ]
}

/// The secondaries that answer queries for the catalog zone itself: BIND (Knot answers
/// REFUSED for a catalog it interprets; its log shows the catalog's transfers).
fn serving_catalogs(secondaries: &[Secondary]) -> impl Iterator<Item = &Secondary> {
    secondaries.iter().filter(|s| matches!(s.kind, Kind::Bind))
}

/// Every secondary answers the ports zone's names as portsd does.
fn same_answers(primary: SocketAddr, secondaries: &[Secondary], zone: &str) {
    for name in [format!("443.tcp.{zone}."), format!("ssh.{zone}.")] {
        let expected = answer_of(primary, &name, RecordType::TXT);
        assert!(expected.starts_with("NoError"), "{expected}");
        for secondary in secondaries {
            let got = answer_of(secondary.addr, &name, RecordType::TXT);
            assert_eq!(got, expected, "{:?} answers {name}", secondary.kind);
        }
    }
}

/// Knot and BIND configured with the catalog alone serve the zones portsd serves; after portsd
/// restarts with a zone added, they serve both; after it restarts without the first, they
/// serve the other alone.
#[test]
fn knot_and_bind_follow_the_catalog_as_zones_come_and_go() {
    let _machine = crate::common::machine_to_itself();
    let (root, key, data) = scratch();
    let state = root.path().join("state");
    let ports = [free_loopback_port(), free_loopback_port()];
    let targets: Vec<SocketAddr> = ports.iter().map(|p| ([127, 0, 0, 1], *p).into()).collect();
    let primary = portsd(
        "ports.internal",
        "127.0.0.1:0",
        &data,
        &key,
        &state,
        &targets,
    );
    let addr = primary.addr;
    let secondaries = consumers(root.path(), addr, &key, ports);
    let targets: Vec<SocketAddr> = secondaries.iter().map(|s| s.addr).collect();

    let (_, catalog_serial) = soa_at(addr, CATALOG).expect("portsd answers the catalog's SOA");
    let (_, serial) = soa_at(addr, "ports.internal").unwrap();
    wait_until(
        serving_catalogs(&secondaries),
        CATALOG,
        (ResponseCode::NoError, catalog_serial),
    );
    wait_until(
        &secondaries,
        "ports.internal",
        (ResponseCode::NoError, serial),
    );
    same_answers(addr, &secondaries, "ports.internal");

    // A zone added (the same table under a second name): the catalog's serial goes up, both
    // zones are served, and the first keeps its serial.
    drop(primary);
    let listen = addr.to_string();
    let primary = portsd(
        "ports.internal,ports.local",
        &listen,
        &data,
        &key,
        &state,
        &targets,
    );
    let (_, added) = soa_at(addr, CATALOG).unwrap();
    assert!(
        added.unwrap().wrapping_sub(catalog_serial.unwrap()) as i32 > 0,
        "the catalog's serial went up: {catalog_serial:?} -> {added:?}"
    );
    assert_eq!(soa_at(addr, "ports.internal").unwrap().1, serial);
    let (_, local_serial) = soa_at(addr, "ports.local").unwrap();
    wait_until(
        serving_catalogs(&secondaries),
        CATALOG,
        (ResponseCode::NoError, added),
    );
    for (zone, serial) in [("ports.internal", serial), ("ports.local", local_serial)] {
        wait_until(&secondaries, zone, (ResponseCode::NoError, serial));
        same_answers(primary.addr, &secondaries, zone);
    }

    // A zone removed: the catalog's serial goes up again, and the secondaries drop it.
    drop(primary);
    let primary = portsd("ports.local", &listen, &data, &key, &state, &targets);
    let (_, moved) = soa_at(addr, CATALOG).unwrap();
    assert!(
        moved.unwrap().wrapping_sub(added.unwrap()) as i32 > 0,
        "the catalog's serial went up: {added:?} -> {moved:?}"
    );
    wait_until(
        serving_catalogs(&secondaries),
        CATALOG,
        (ResponseCode::NoError, moved),
    );
    wait_until(
        &secondaries,
        "ports.internal",
        (ResponseCode::Refused, None),
    );
    wait_until(
        &secondaries,
        "ports.local",
        (ResponseCode::NoError, local_serial),
    );
    same_answers(primary.addr, &secondaries, "ports.local");
}

/// `dig`'s records for `args` (after the server and port), comments left out, as
/// `owner TYPE data` lines.
fn dig(server: SocketAddr, args: &[&str]) -> Vec<String> {
    let output = Command::new("dig")
        .args([
            format!("@{}", server.ip()),
            "-p".into(),
            server.port().to_string(),
        ])
        .args([
            "+tries=1",
            "+time=5",
            "+noall",
            "+answer",
            "+authority",
            "+comments",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run dig ({e}): install bind9-dnsutils"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines()
        .filter_map(|line| {
            if let Some(status) = line.split("status: ").nth(1) {
                return Some(format!("status {}", status.split(',').next()?));
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            (!line.starts_with(';') && fields.len() >= 5)
                .then(|| format!("{} {} {}", fields[0], fields[3], fields[4..].join(" ")))
        })
        .collect()
}

/// The catalog as `dig` reads it from a running portsd over UDP and TCP: its SOA, NS
/// `invalid.`, version "2", the member's PTR (also in the AXFR, between the two SOAs),
/// NXDOMAIN and NODATA with the SOA, and the ports zone still answered beside it.
#[test]
fn dig_reads_the_catalog_from_portsd() {
    let daemon = Daemon::start(&[
        "--zone",
        "ports.internal",
        "--catalog",
        CATALOG,
        "--allow-transfer",
        "127.0.0.1/32",
    ]);
    let addr = daemon.addr;
    let transfer = dig(addr, &[CATALOG, "AXFR"]);
    assert_eq!(transfer.len(), 6, "{transfer:?}");
    assert_eq!(transfer[0], "status NOERROR");
    let axfr = &transfer[1..];
    let soa = &axfr[0];
    assert!(soa.starts_with("catalog.invalid. SOA invalid. hostmaster.catalog.invalid. "));
    assert_eq!(axfr[4], *soa);
    assert_eq!(
        axfr[1..3],
        [
            "catalog.invalid. NS invalid.",
            "version.catalog.invalid. TXT \"2\""
        ]
    );
    let ptr = &axfr[3];
    let (owner, target) = ptr.split_once(" PTR ").expect("a PTR");
    assert!(owner.ends_with(".zones.catalog.invalid."), "{ptr}");
    assert_eq!(target, "ports.internal.");
    let ok = "status NOERROR".to_owned();
    assert_eq!(dig(addr, &[CATALOG, "SOA"]), [ok.clone(), soa.clone()]);
    assert_eq!(dig(addr, &[CATALOG, "NS"]), [ok.clone(), axfr[1].clone()]);
    assert_eq!(
        dig(addr, &[&format!("version.{CATALOG}"), "TXT", "+tcp"]),
        [ok.clone(), axfr[2].clone()]
    );
    assert_eq!(dig(addr, &[owner, "PTR"]), [ok.clone(), ptr.clone()]);
    assert_eq!(dig(addr, &[owner, "TXT"]), [ok, soa.clone()], "NODATA");
    let below = format!("nothing.{owner}");
    assert_eq!(
        dig(addr, &[&below, "PTR"]),
        ["status NXDOMAIN".to_owned(), soa.clone()]
    );
    let zone = dig(addr, &["443.tcp.ports.internal", "TXT"]);
    assert!(zone.len() == 2 && zone[1].contains("https"), "{zone:?}");
}
