//! Several zones from one table (`--zone`, repeatable; a list in the configuration file): each
//! zone has its own apex (SOA, NS, serial, ZONEMD, journal); a name is answered in the zone it
//! is in and refused outside them all; each zone's transfer is exactly its zone file
//! (`export-zone --zone`), whose digest `ldns-verify-zone` accepts; after a reload each zone's
//! IXFR is its own difference; and the state directory keeps one directory per zone.

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portsd::sources::LOCAL_TSV;
use std::fs;

use crate::common::{Daemon, http_get, parse, query, run_tool, udp_exchange, wait_for_lines};
use crate::transfer::{assert_transfer_is_export, billing_data, ixfr_of, soa_serials};
use crate::zonemd::ldns_verify;

/// The zones served, the file's order.
const ZONES: [&str; 2] = ["ports.local", "ports.internal"];

/// `dig +short` of `name` and `rtype` at `daemon`.
fn short(daemon: &Daemon, name: &str, rtype: &str) -> String {
    run_tool("dig", daemon.addr, &["+short", name, rtype])
}

#[test]
fn two_zones_answer_from_one_table_each_with_its_own_apex_digest_and_journal() {
    let (dir, data, state) = billing_data();
    let config = dir.path().join("portsd.toml");
    fs::write(&config, "zone = [\"ports.local\", \"ports.internal\"]\n").unwrap();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--services",
        "none",
        "--state-dir",
        state.to_str().unwrap(),
        "--allow-transfer",
        "127.0.0.0/8",
        "--metrics",
        "127.0.0.1:0",
    ];
    let daemon = Daemon::start(&args);

    // Each apex is the zone's own; the names under it are answered from the one table.
    let serial_of = |zone: &str| {
        let response = udp_exchange(
            daemon.addr,
            &query(1, &format!("{zone}."), RecordType::SOA, None),
        );
        let message = parse(&response.expect("an answer"));
        match message.answers.first().map(|r| &r.data) {
            Some(RData::SOA(soa)) => {
                assert_eq!(soa.mname.to_ascii(), format!("ns.{zone}."));
                assert_eq!(soa.rname.to_ascii(), format!("hostmaster.{zone}."));
                soa.serial
            }
            other => panic!("no SOA for {zone}: {other:?}"),
        }
    };
    let serials: Vec<u32> = ZONES.iter().map(|zone| serial_of(zone)).collect();
    assert_eq!(
        serials[0], serials[1],
        "the same data, nothing recorded: the same serial"
    );
    let uses: Vec<String> = (ZONES.iter())
        .map(|zone| short(&daemon, &format!("443.tcp.{zone}"), "TXT"))
        .collect();
    assert!(uses[0].contains("https"), "{}", uses[0]);
    assert_eq!(uses[0], uses[1], "one table");
    for zone in ZONES {
        assert_eq!(short(&daemon, zone, "NS").trim(), format!("ns.{zone}."));
        let about = short(&daemon, zone, "TXT");
        assert!(about.contains(&format!("zone {zone} ")), "{about}");
        let help = short(&daemon, &format!("help.{zone}"), "TXT");
        assert!(help.contains(&format!("443.tcp.{zone}")), "{help}");
    }
    // Outside every zone (and the parent of both): refused, as before.
    for name in ["443.tcp.example.org.", "local.", "internal."] {
        let response = udp_exchange(daemon.addr, &query(2, name, RecordType::TXT, None));
        let message = parse(&response.expect("an answer"));
        assert_eq!(message.response_code, ResponseCode::Refused, "{name}");
    }

    // Each zone's transfer is its zone file, whose digest verifies; the digest served is it.
    for zone in ZONES {
        let data = ["--data", args[3], "--services", "none"];
        assert_transfer_is_export(daemon.addr, dir.path(), zone, &data);
        let exported = fs::read_to_string(dir.path().join(format!("{zone}.zone"))).unwrap();
        let (accepted, said) = ldns_verify(dir.path(), &format!("{zone}.checked"), &exported);
        assert!(accepted, "{zone}: {said}");
        let served = short(&daemon, zone, "ZONEMD");
        let digest: String = served.split_whitespace().skip(3).collect();
        assert!(digest.len() == 96, "{zone}: {served}");
        let in_file: String = exported.split_whitespace().collect();
        assert!(
            in_file
                .to_ascii_uppercase()
                .contains(&digest.to_ascii_uppercase()),
            "{zone}: the digest served is not the zone file's: {served}"
        );
    }
    let metrics = http_get(daemon.metrics_addr(), "/metrics");
    for zone in ZONES {
        let line = format!("portsd_zone_serial{{zone=\"{zone}\"}} {}", serials[0]);
        assert!(metrics.contains(&line), "no {line:?} in\n{metrics}");
    }

    // A reload: each zone has its new serial, and an IXFR from the old one is that zone's own
    // difference, written under its own name.
    fs::write(data.join(LOCAL_TSV), "8443\ttcp\t-\tBilling API v2\n").unwrap();
    let pid = Pid::from_raw(i32::try_from(daemon.child.id()).unwrap());
    kill(pid, Signal::SIGHUP).unwrap();
    assert!(daemon.wait_for_log("reloaded the data"));
    for zone in ZONES {
        let after = serial_of(zone);
        assert_ne!(after, serials[0], "{zone}");
        let records = ixfr_of(daemon.addr, &format!("{zone}."), serials[0]);
        assert_eq!(
            soa_serials(&records),
            [after, serials[0], after, after],
            "{zone}"
        );
        let owners: Vec<String> = records.iter().map(|r| r.name.to_ascii()).collect();
        assert!(
            owners
                .iter()
                .all(|owner| owner.ends_with(&format!("{zone}."))),
            "{zone}: {owners:?}"
        );
        assert!(
            owners.contains(&format!("8443.tcp.{zone}.")),
            "{zone}: {owners:?}"
        );
    }
    drop(daemon);

    // One directory per zone in the state directory, each with its serial, journal and zone;
    // restarted, each zone's journal reads back.
    for zone in ZONES {
        let kept = state.join(zone);
        for name in ["serial", "journal"] {
            assert!(kept.join(name).is_file(), "{zone}/{name}");
        }
    }
    let daemon = Daemon::start(&args);
    let read_back = |lines: &[String]| {
        let read = lines
            .iter()
            .filter(|l| l.contains("read back from the journal"));
        read.count() == ZONES.len()
    };
    assert!(
        wait_for_lines(&daemon.log, read_back),
        "both journals read back"
    );
}

/// The question name of the first NOTIFY `socket` receives.
fn notified_zone(socket: &std::net::UdpSocket) -> String {
    let mut buffer = [0u8; 512];
    let (length, _) = socket
        .recv_from(&mut buffer)
        .unwrap_or_else(|error| panic!("no NOTIFY within the timeout: {error}"));
    let message = parse(&buffer[..length]);
    assert_eq!(message.op_code, OpCode::Notify);
    message.queries[0].name().to_ascii()
}

/// A zone's `[zones."NAME"]` table in the file replaces the server's transfer permissions and
/// NOTIFY targets for that zone alone.
#[test]
fn a_zone_table_in_the_file_gives_one_zone_its_own_secondaries() {
    let server_wide = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let own = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for socket in [&server_wide, &own] {
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("portsd.toml");
    let text = format!(
        "zone = [\"ports.local\", \"ports.internal\"]\nallow_transfer = [\"127.0.0.0/8\"]\n\
         notify = [\"{}\"]\n\n[zones.\"Ports.Internal.\"]\nallow_transfer = [\"192.0.2.0/24\"]\n\
         notify = [\"{}\"]\n",
        server_wide.local_addr().unwrap(),
        own.local_addr().unwrap()
    );
    fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(notified_zone(&server_wide), "ports.local.");
    assert_eq!(notified_zone(&own), "ports.internal.");
    // Each target is told of its zone only (a round per zone, retried until acknowledged).
    for _ in 0..2 {
        assert_eq!(notified_zone(&server_wide), "ports.local.");
        assert_eq!(notified_zone(&own), "ports.internal.");
    }
    // An IXFR from the current serial is the SOA alone where the transfer is allowed, and
    // refused where the zone's own list leaves 127.0.0.1 out.
    for (zone, allowed) in [("ports.local", true), ("ports.internal", false)] {
        let serial = short(&daemon, zone, "SOA");
        let serial = serial.split_whitespace().nth(2).expect("the serial");
        let said = run_tool(
            "dig",
            daemon.addr,
            &["+tcp", &format!("ixfr={serial}"), zone],
        );
        // dig says a refused transfer failed; an allowed one prints the SOA.
        let soa = (said.lines()).any(|l| l.starts_with(&format!("{zone}.")) && l.contains("SOA"));
        assert_eq!(soa, allowed, "{zone}: {said}");
        assert_eq!(said.contains("Transfer failed"), !allowed, "{zone}: {said}");
    }
}
