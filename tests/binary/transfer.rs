//! Zone transfers from the built binary over real TCP and UDP: AXFR against `export-zone`
//! (through BIND's own printer on both sides), signed AXFR with `dig -y` and `kdig -y` (which
//! verify every message's TSIG), the access rules, TSIG errors, IXFR after a reload, and the
//! answers NSD and Knot give to AXFR over UDP and to NOTIFY. Keys are generated at run time.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Daemon, parse, tcp_connect, tcp_receive, tcp_send, udp_exchange};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigner};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portsd::sources::{EXCERPT, IANA_CSV, LOCAL_TSV, PORTS_TSV};

/// A fresh random secret, base64, as `tsig-keygen` makes one.
fn fresh_secret() -> (Vec<u8>, String) {
    let mut secret = vec![0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .expect("reading /dev/urandom");
    let text = data_encoding::BASE64.encode(&secret);
    (secret, text)
}

/// A key file in the form `tsig-keygen` writes, for HMAC-SHA256.
fn key_file(dir: &Path, name: &str, secret: &str) -> String {
    key_file_for(dir, name, "hmac-sha256", secret)
}

/// A key file in the form `tsig-keygen -a ALGORITHM` writes.
fn key_file_for(dir: &Path, name: &str, algorithm: &str, secret: &str) -> String {
    let path = dir.join(format!("{name}.key"));
    fs::write(
        &path,
        format!("key \"{name}\" {{\n\talgorithm {algorithm};\n\tsecret \"{secret}\";\n}};\n"),
    )
    .expect("writing the key file");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// The metrics page of a daemon started with `--metrics 127.0.0.1:0`.
fn metrics_text(daemon: &Daemon) -> String {
    crate::common::http_get(daemon.metrics_addr(), "/metrics")
}

fn dig(addr: SocketAddr, args: &[&str]) -> String {
    crate::common::run_tool("dig", addr, args)
}

/// `dig -y KEY ARGS...` against `addr`: its output and its complaints together, since dig
/// reports a signature that does not verify on standard error.
fn signed_dig(addr: SocketAddr, key: &str, args: &[&str]) -> String {
    let output = Command::new("dig")
        .args(["@127.0.0.1", "-p", &addr.port().to_string(), "-y", key])
        .args(args)
        .output()
        .unwrap_or_else(|e| crate::common::missing("dig", &e));
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// BIND's presentation of records, one per line, columns normalised: `name ttl class type`
/// then the RDATA as printed.
fn normalised(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let head: Vec<&str> = fields.by_ref().take(4).collect();
            let head_len: usize = {
                // The RDATA is what follows the fourth field, as printed.
                let mut rest = line;
                for field in &head {
                    let at = rest.find(field).expect("field in line") + field.len();
                    rest = &rest[at..];
                }
                line.len() - rest.len()
            };
            format!("{} {}", head.join(" "), line[head_len..].trim())
        })
        .collect()
}

/// Checks that an AXFR of `zone` from `addr` carries exactly the records `export-zone --zone
/// ZONE DATA...` writes (`data`: the flags naming the daemon's data), as `named-checkzone`
/// reads them (the files go in `dir`).
pub(crate) fn assert_transfer_is_export(addr: SocketAddr, dir: &Path, zone: &str, data: &[&str]) {
    let exported = dir.join(format!("{zone}.zone"));
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args(["export-zone", "--zone", zone])
        .args(data)
        .output()
        .expect("export-zone runs");
    assert!(output.status.success(), "{output:?}");
    fs::write(&exported, &output.stdout).expect("writing the zone");
    let canonical = dir.join(format!("{zone}.canonical"));
    let checked = Command::new("named-checkzone")
        .args(["-q", "-D", "-o"])
        .arg(&canonical)
        .arg(zone)
        .arg(&exported)
        .output()
        .unwrap_or_else(|e| crate::common::missing("named-checkzone", &e));
    assert!(checked.status.success(), "named-checkzone: {checked:?}");
    let from_file = normalised(&fs::read_to_string(&canonical).unwrap());
    let transfer = dig(addr, &["+onesoa", "+noall", "+answer", "axfr", zone]);
    let from_transfer = normalised(&transfer);
    assert!(from_file.len() > 360_000, "{} records", from_file.len());
    let only_file: Vec<_> = from_file.difference(&from_transfer).take(5).collect();
    let only_transfer: Vec<_> = from_transfer.difference(&from_file).take(5).collect();
    assert!(
        only_file.is_empty() && only_transfer.is_empty(),
        "{zone}: only in export-zone: {only_file:?}; only in the transfer: {only_transfer:?}"
    );
}

/// The SOA serial `daemon` answers for the default zone.
fn served_serial(daemon: &Daemon) -> u32 {
    let query = crate::common::query(1, "ports.local.", RecordType::SOA, None);
    soa_serials(&parse(&udp_exchange(daemon.addr, &query).unwrap()).answers)[0]
}

/// Has `daemon` reload its data (SIGHUP) and waits for it to say it did.
fn reload(daemon: &Daemon) {
    let pid = Pid::from_raw(i32::try_from(daemon.child.id()).unwrap());
    kill(pid, Signal::SIGHUP).unwrap();
    assert!(daemon.wait_for_log("reloaded the data"));
}

/// How many records a full AXFR of the default zone carries: those `export-zone` prints, plus
/// the SOA again at the end.
fn axfr_record_count() -> usize {
    let zone = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .arg("export-zone")
        .output()
        .expect("export-zone runs");
    let records = String::from_utf8_lossy(&zone.stdout)
        .lines()
        .filter(|line| !line.starts_with(';') && !line.starts_with('$') && !line.is_empty())
        .count();
    records + 1
}

#[test]
fn axfr_carries_exactly_what_export_zone_carries_and_the_same_serial() {
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8"]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert_transfer_is_export(daemon.addr, dir.path(), "ports.local", &[]);
    let stats = dig(daemon.addr, &["+noall", "+stats", "axfr", "ports.local"]);
    let messages: usize = stats
        .split("messages ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .expect("dig reports the message count");
    let bytes: usize = stats
        .split("bytes ")
        .nth(1)
        .and_then(|s| {
            s.trim_end_matches(|c: char| !c.is_ascii_digit())
                .split(')')
                .next()
        })
        .and_then(|s| s.parse().ok())
        .expect("dig reports the byte count");
    let average = bytes / messages;
    assert!(
        (12_000..=16_384).contains(&average),
        "{average} bytes per message"
    );
}

#[test]
fn signed_transfers_verify_in_dig_and_kdig_and_unsigned_ones_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_, secret) = fresh_secret();
    let file = key_file(dir.path(), "xfr-key", &secret);
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8", "--tsig-key", &file]);
    let key = format!("hmac-sha256:xfr-key:{secret}");
    // dig checks the TSIG of every message (each later one chained to the MAC before it) and
    // says so for each that fails.
    let signed = signed_dig(
        daemon.addr,
        &key,
        &["+noall", "+stats", "axfr", "ports.local"],
    );
    let records = axfr_record_count();
    assert!(
        signed.contains(&format!("XFR size: {records} records")),
        "{signed}"
    );
    assert!(
        !signed.contains("verify"),
        "{}",
        &signed[..signed.len().min(600)]
    );
    let kdig = crate::common::run_tool(
        "kdig",
        daemon.addr,
        &["-y", &key, "+stats", "axfr", "ports.local"],
    );
    let summary = kdig
        .lines()
        .find(|l| l.starts_with(";; Received"))
        .unwrap_or("");
    assert!(
        summary.contains("records"),
        "kdig: {}",
        &kdig[kdig.len().saturating_sub(600)..]
    );
    assert!(
        summary.contains(&format!("{records} records")) && !kdig.contains(";; ERROR"),
        "{summary}"
    );
    let unsigned = dig(daemon.addr, &["+noall", "+comments", "axfr", "ports.local"]);
    assert!(unsigned.contains("status: REFUSED"), "{unsigned}");
    assert!(daemon.wait_for_log("reason=\"unsigned\""));
    // Another key, or the right name with the wrong secret: NOTAUTH.
    let (_, other) = fresh_secret();
    for key in [
        format!("hmac-sha256:stranger:{secret}"),
        format!("hmac-sha256:xfr-key:{other}"),
    ] {
        let answer = dig(
            daemon.addr,
            &[
                "-y",
                &key,
                "+noall",
                "+comments",
                "txt",
                "443.tcp.ports.local",
            ],
        );
        assert!(answer.contains("status: NOTAUTH"), "{key}: {answer}");
    }
    // A signed ordinary query gets a signed answer that kdig verifies.
    let query = crate::common::run_tool(
        "kdig",
        daemon.addr,
        &["-y", &key, "txt", "443.tcp.ports.local"],
    );
    assert!(
        query.contains("TSIG PSEUDOSECTION") && query.contains("NOERROR"),
        "{query}"
    );
}

/// An AXFR request signed by `signer` at `time`, sent over TCP; the first response message.
fn signed_axfr(addr: SocketAddr, signer: &TSigner, time: u64) -> Message {
    parse(&signed_axfr_bytes(addr, signer, time).0)
}

/// The same, as the response's bytes, with the request's MAC that a signed response covers.
fn signed_axfr_bytes(addr: SocketAddr, signer: &TSigner, time: u64) -> (Vec<u8>, Vec<u8>) {
    let mut message = Message::new(77, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(
        Name::from_ascii("ports.local.").unwrap(),
        RecordType::AXFR,
    ));
    let (tsig, _) = signer.sign_message(&message, time).unwrap();
    let request_mac = tsig.data.mac.clone();
    message.signature = Some(tsig);
    let mut stream = tcp_connect(addr);
    tcp_send(&mut stream, &message.to_vec().unwrap());
    (tcp_receive(&mut stream).expect("an answer"), request_mac)
}

#[test]
fn tsig_errors_are_notauth_with_badkey_badsig_and_signed_badtime() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (secret, text) = fresh_secret();
    let file = key_file(dir.path(), "xfr-key", &text);
    let daemon = Daemon::start(&[
        "--allow-transfer",
        "127.0.0.0/8",
        "--tsig-key",
        &file,
        "--metrics",
        "127.0.0.1:0",
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signer = |name: &str, secret: Vec<u8>| {
        TSigner::new(
            secret,
            TsigAlgorithm::HmacSha256,
            Name::from_ascii(name).unwrap(),
            300,
        )
        .unwrap()
    };
    let error = |message: &Message| {
        (
            message.response_code,
            message.signature.as_ref().and_then(|s| s.data.error),
            message.signature.as_ref().map_or(0, |s| s.data.mac.len()),
        )
    };
    let good = signer("xfr-key.", secret.clone());
    let first = signed_axfr(daemon.addr, &good, now);
    assert_eq!(first.response_code, ResponseCode::NoError);
    assert_eq!(first.answers[0].record_type(), RecordType::SOA);
    let unknown = signed_axfr(daemon.addr, &signer("stranger.", secret.clone()), now);
    assert_eq!(
        error(&unknown),
        (ResponseCode::NotAuth, Some(TsigError::BadKey), 0)
    );
    let (wrong, _) = fresh_secret();
    let bad_mac = signed_axfr(daemon.addr, &signer("xfr-key.", wrong), now);
    assert_eq!(
        error(&bad_mac),
        (ResponseCode::NotAuth, Some(TsigError::BadSig), 0)
    );
    let (late_bytes, late_mac) = signed_axfr_bytes(daemon.addr, &good, now - 3600);
    let late = parse(&late_bytes);
    assert_eq!(
        error(&late),
        (ResponseCode::NotAuth, Some(TsigError::BadTime), 32)
    );
    // Signed with portsd's own time over the request's MAC, so the client can trust the error.
    good.verify_message_byte(&late_bytes, Some(&late_mac), true)
        .expect("the BADTIME answer's signature verifies");
    assert!(daemon.wait_for_log("error=BadTime"));
    let text = metrics_text(&daemon);
    assert!(text.contains("portsd_tsig_rejected_total 3"), "{text}");
}

#[test]
fn transfers_from_networks_not_allowed_are_refused_and_counted() {
    let daemon = Daemon::start(&[
        "--allow-transfer",
        "192.0.2.0/24",
        "--allow-transfer",
        "198.51.100.0/24",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let answer = dig(daemon.addr, &["+noall", "+comments", "axfr", "ports.local"]);
    assert!(answer.contains("status: REFUSED"), "{answer}");
    assert!(daemon.wait_for_log("reason=\"not_allowed\""));
    let text = metrics_text(&daemon);
    assert!(
        text.contains("portsd_transfers_total{kind=\"axfr\",result=\"not_allowed\"} 1"),
        "{text}"
    );
}

#[test]
fn the_deny_list_keeps_out_even_a_network_allowed_to_transfer() {
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8", "--deny", "127.0.0.0/8"]);
    // Over TCP a denied client is told REFUSED (over UDP it gets silence).
    let answer = dig(
        daemon.addr,
        &["+noall", "+comments", "+answer", "axfr", "ports.local"],
    );
    assert!(answer.contains("status: REFUSED"), "{answer}");
    assert!(!answer.contains("SOA"), "no record of the zone: {answer}");
}

#[test]
fn transfers_past_the_cap_are_refused_as_busy_until_one_ends() {
    // The flag repeats: the second network is the one that lets the test in.
    let daemon = Daemon::start(&[
        "--allow-transfer",
        "192.0.2.0/24",
        "--allow-transfer",
        "127.0.0.1/32",
        "--max-transfers",
        "1",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let mut request = Message::new(5, MessageType::Query, OpCode::Query);
    request.add_query(Query::query(
        Name::from_ascii("ports.local.").unwrap(),
        RecordType::AXFR,
    ));
    // A secondary that reads one message and then stops: the 40 MB zone cannot fit the
    // sockets' buffers, so its transfer stays running and holds the one slot. (Asked once
    // the start-up digest is there, which it would wait for.)
    assert!(daemon.settled());
    let mut stalled = tcp_connect(daemon.addr);
    tcp_send(&mut stalled, &request.to_vec().unwrap());
    let first = parse(&tcp_receive(&mut stalled).expect("the first message"));
    assert_eq!(first.answers[0].record_type(), RecordType::SOA);
    let busy = dig(daemon.addr, &["+noall", "+comments", "axfr", "ports.local"]);
    assert!(busy.contains("status: REFUSED"), "{busy}");
    assert!(daemon.wait_for_log("reason=\"busy\""));
    assert!(
        metrics_text(&daemon).contains("portsd_transfers_total{kind=\"axfr\",result=\"busy\"} 1")
    );
    // Once that transfer has ended its slot is free again: the server gives the slot back
    // before the closing SOA leaves, so once the secondary has read it the next transfer is
    // whole.
    loop {
        let message = parse(&tcp_receive(&mut stalled).expect("the rest of the zone"));
        if message.answers.last().map(Record::record_type) == Some(RecordType::SOA) {
            break;
        }
    }
    let records = axfr_record_count();
    let stats = dig(daemon.addr, &["+noall", "+stats", "axfr", "ports.local"]);
    assert!(
        stats.contains(&format!("XFR size: {records} records")),
        "the slot was not given back: {stats}"
    );
}

#[test]
fn keys_of_each_algorithm_from_flags_and_the_config_file_sign_transfers() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_, sha384) = fresh_secret();
    let (_, sha512) = fresh_secret();
    let (_, inline) = fresh_secret();
    let sha384_file = key_file_for(dir.path(), "k384", "hmac-sha384", &sha384);
    let config = dir.path().join("portsd.toml");
    fs::write(
        &config,
        format!(
            "allow_transfer = [\"127.0.0.0/8\"]\n\
             tsig_key = [{sha384_file:?}, {:?}]\n\
             tsig_keys = [{{ name = \"inline\", algorithm = \"hmac-sha256\", secret = \"{inline}\" }}]\n",
            key_file_for(dir.path(), "k512", "hmac-sha512", &sha512),
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let records = axfr_record_count();
    for key in [
        format!("hmac-sha384:k384:{sha384}"),
        format!("hmac-sha512:k512:{sha512}"),
        format!("hmac-sha256:inline:{inline}"),
    ] {
        let text = signed_dig(
            daemon.addr,
            &key,
            &["+noall", "+stats", "axfr", "ports.local"],
        );
        assert!(
            text.contains(&format!("XFR size: {records} records")) && !text.contains("verify"),
            "{key}: {}",
            &text[..text.len().min(600)]
        );
    }
    let unsigned = dig(daemon.addr, &["+noall", "+comments", "axfr", "ports.local"]);
    assert!(unsigned.contains("status: REFUSED"), "{unsigned}");
}

#[test]
fn signed_udp_answers_fit_the_clients_buffer_and_verify() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (_, secret) = fresh_secret();
    let file = key_file(dir.path(), "xfr-key", &secret);
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8", "--tsig-key", &file]);
    let key = format!("hmac-sha256:xfr-key:{secret}");
    let signed_dig = |args: &[&str]| signed_dig(daemon.addr, &key, args);
    // The whole zone does not fit one UDP message: an IXFR from an unknown serial gets the
    // SOA alone, signed as the first message of the response.
    let ixfr = signed_dig(&["+notcp", "+noall", "+answer", "ixfr=1", "ports.local"]);
    let soa: Vec<&str> = ixfr.lines().filter(|l| l.contains("\tSOA\t")).collect();
    assert_eq!(soa.len(), 1, "{ixfr}");
    assert!(!ixfr.contains("verify"), "{ixfr}");
    // 816 bytes unsigned fit 870; with the signature they would not, so the answer is
    // truncated within 870 bytes, signature included.
    let txt = signed_dig(&[
        "+bufsize=870",
        "+ignore",
        "+noall",
        "+comments",
        "+stats",
        "txt",
        "80.ports.local",
    ]);
    let size: usize = txt
        .lines()
        .find_map(|l| l.strip_prefix(";; MSG SIZE  rcvd: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no size: {txt}"));
    assert!(size <= 870, "{size} bytes: {txt}");
    assert!(txt.contains(" tc"), "{txt}");
    assert!(!txt.contains("verify"), "{txt}");
    let whole = signed_dig(&[
        "+bufsize=1232",
        "+noall",
        "+comments",
        "txt",
        "80.ports.local",
    ]);
    assert!(
        !whole.contains(" tc") && !whole.contains("verify"),
        "{whole}"
    );
}

/// The repository's port list, its excerpt and IANA's registry copied into `dir` (made if
/// missing): a data directory the test can change.
pub(crate) fn copy_data(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in [PORTS_TSV, EXCERPT, IANA_CSV] {
        fs::copy(source.join(name), dir.join(name)).expect("copying the data");
    }
}

/// The SOA serials of a transfer's records, in order.
pub(crate) fn soa_serials(records: &[Record]) -> Vec<u32> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .collect()
}

/// An IXFR of the default zone from `serial` over TCP: every record of every message.
pub(crate) fn ixfr(addr: SocketAddr, serial: u32) -> Vec<Record> {
    ixfr_of(addr, "ports.local.", serial)
}

/// An IXFR of `zone` from `serial` over TCP: every record of every message.
pub(crate) fn ixfr_of(addr: SocketAddr, zone: &str, serial: u32) -> Vec<Record> {
    let mut message = Message::new(9, MessageType::Query, OpCode::Query);
    let apex = Name::from_ascii(zone).unwrap();
    message.add_query(Query::query(apex.clone(), RecordType::IXFR));
    let soa = hickory_proto::rr::rdata::SOA::new(apex.clone(), apex.clone(), serial, 0, 0, 0, 0);
    message
        .authorities
        .push(Record::from_rdata(apex, 0, RData::SOA(soa)));
    let mut stream = tcp_connect(addr);
    tcp_send(&mut stream, &message.to_vec().unwrap());
    let mut records = Vec::new();
    loop {
        let response = parse(&tcp_receive(&mut stream).expect("a message"));
        records.extend(response.answers.clone());
        let serials = soa_serials(&records);
        // Done at the SOA alone, or when the closing SOA repeats the opening one.
        if serials.len() == 1
            && records.len() == 1
            && response.answers.len() == 1
            && serial == serials[0]
            || serials.len() >= 2
                && serials.last() == serials.first()
                && records
                    .last()
                    .is_some_and(|r| r.record_type() == RecordType::SOA)
        {
            return records;
        }
    }
}

#[test]
fn ixfr_after_a_reload_is_incremental_and_udp_and_notify_get_what_nsd_gives() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_data(dir.path());
    fs::write(dir.path().join(LOCAL_TSV), "8443\ttcp\t-\tBilling API\n").unwrap();
    let daemon = Daemon::start(&[
        "--allow-transfer",
        "127.0.0.0/8",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    let soa = |addr| {
        let response = parse(
            &udp_exchange(
                addr,
                &crate::common::query(1, "ports.local.", RecordType::SOA, None),
            )
            .unwrap(),
        );
        soa_serials(&response.answers)[0]
    };
    let before = soa(daemon.addr);
    fs::write(dir.path().join(LOCAL_TSV), "8443\ttcp\t-\tBilling API v2\n").unwrap();
    reload(&daemon);
    let after = soa(daemon.addr);
    assert!(portsd_newer(after, before), "{after} after {before}");
    let records = ixfr(daemon.addr, before);
    assert_eq!(
        soa_serials(&records),
        [after, before, after, after],
        "one difference"
    );
    let texts: Vec<String> = records
        .iter()
        .map(|r| format!("{} {}", r.name, r.data))
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("8443.tcp.ports.local.") && t.contains("Billing API v2")),
        "{texts:?}"
    );
    assert!(records.len() < 30, "{} records: incremental", records.len());
    // The digest changes with the serial: the old ZONEMD is deleted, the new one added.
    let digests: Vec<u32> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::Unknown(63))
        .map(|r| match &r.data {
            RData::Unknown { rdata, .. } => {
                u32::from_be_bytes(rdata.anything[..4].try_into().unwrap())
            }
            other => panic!("ZONEMD read as {other:?}"),
        })
        .collect();
    assert_eq!(digests, [before, after], "{texts:?}");
    assert_eq!(
        ixfr(daemon.addr, after).len(),
        1,
        "up to date: the SOA alone"
    );
    assert!(
        ixfr(daemon.addr, before.wrapping_sub(5)).len() > 360_000,
        "unknown serial: AXFR form"
    );
    // Over UDP: IXFR in one message when it fits, AXFR NOTIMP (NSD and Knot), NOTIFY REFUSED (NSD).
    let udp_ixfr = |bufsize: &str| {
        let udp = dig(
            daemon.addr,
            &[
                "+notcp",
                &format!("+bufsize={bufsize}"),
                "+noall",
                "+answer",
                &format!("ixfr={before}"),
                "ports.local",
            ],
        );
        udp.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The difference (the apex TXT, its ZONEMD and two names' TXT out, as many in, four SOAs)
    // fits 1,232 bytes.
    let whole = udp_ixfr("1232");
    assert_eq!(whole.len(), records.len(), "{whole:?}");
    // It does not fit 512: the SOA alone tells the client to ask over TCP, as Knot answers.
    let soa_only = udp_ixfr("512");
    assert_eq!(soa_only.len(), 1, "{soa_only:?}");
    assert!(soa_only[0].contains(&format!(" {after} ")), "{soa_only:?}");
    let mut axfr = Message::new(3, MessageType::Query, OpCode::Query);
    axfr.add_query(Query::query(
        Name::from_ascii("ports.local.").unwrap(),
        RecordType::AXFR,
    ));
    let answer = parse(&udp_exchange(daemon.addr, &axfr.to_vec().unwrap()).unwrap());
    assert_eq!(answer.response_code, ResponseCode::NotImp);
    let mut notify = Message::new(4, MessageType::Query, OpCode::Notify);
    notify.add_query(Query::query(
        Name::from_ascii("ports.local.").unwrap(),
        RecordType::SOA,
    ));
    let answer = parse(&udp_exchange(daemon.addr, &notify.to_vec().unwrap()).unwrap());
    assert_eq!(answer.response_code, ResponseCode::Refused);
}

/// RFC 1982 "greater than" for the test's own check.
pub(crate) fn portsd_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// A line of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the process's status")
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .expect("the field")
}

#[test]
fn a_full_transfer_grows_memory_by_less_than_16_mib() {
    let _machine = crate::common::machine_to_itself();
    let daemon = Daemon::start(&["--allow-transfer", "127.0.0.0/8"]);
    let pid = daemon.child.id();
    // From after the start-up work that follows the first answer (index, digest).
    assert!(daemon.settled());
    let before = status_kib(pid, "VmRSS:");
    // Resets the peak, so VmHWM is the most the transfer made the process hold.
    fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("resetting the peak RSS");
    let stats = dig(daemon.addr, &["+noall", "+stats", "axfr", "ports.local"]);
    let records = axfr_record_count();
    assert!(
        stats.contains(&format!("XFR size: {records} records")),
        "{stats}"
    );
    let peak = status_kib(pid, "VmHWM:");
    assert!(
        peak < before + 16 * 1024,
        "RSS {before} KiB before, peak {peak} KiB"
    );
}

#[test]
fn a_signed_answer_with_no_room_for_the_question_is_the_header_alone() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (secret, text) = fresh_secret();
    // A key name of 204 bytes leaves 237 of 512 for the answer, and a 230-byte question
    // with its OPT record does not fit in that even without records.
    let key_name = vec!["k".repeat(49); 4].join(".");
    let file = key_file(dir.path(), &key_name, &text);
    let daemon = Daemon::start(&["--tsig-key", &file]);
    let signer = TSigner::new(
        secret,
        TsigAlgorithm::HmacSha256,
        Name::from_ascii(format!("{key_name}.")).unwrap(),
        300,
    )
    .unwrap();
    let long_name = format!(
        "{}.{}.{}.{}.ports.local.",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60),
        "d".repeat(30)
    );
    let mut request = Message::new(9, MessageType::Query, OpCode::Query);
    request.add_query(Query::query(
        Name::from_ascii(&long_name).unwrap(),
        RecordType::TXT,
    ));
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_max_payload(512);
    request.edns = Some(edns);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (signature, _) = signer.sign_message(&request, now).unwrap();
    let request_mac = signature.data.mac.clone();
    request.signature = Some(signature);
    let answer =
        udp_exchange(daemon.addr, &request.to_vec().unwrap()).expect("an answer, not silence");
    assert!(answer.len() <= 512, "{} bytes", answer.len());
    let message = parse(&answer);
    assert!(message.truncation, "TC: ask over TCP");
    assert_eq!(message.response_code, ResponseCode::NoError);
    assert!(message.queries.is_empty() && message.answers.is_empty());
    signer
        .verify_message_byte(&answer, Some(&request_mac), true)
        .expect("signed over the request's MAC");
}

/// How many transfers portsd logged in `form` (it logs every transfer, `--log-queries` or not),
/// once at least one is there.
fn transfer_forms(daemon: &Daemon, form: &str) -> usize {
    // The log is read on another thread: the line can arrive after the transfer's last message.
    let line = format!("form=\"{form}\"");
    assert!(daemon.wait_for_log(&line), "no transfer logged with {line}");
    daemon.count_log(&line)
}

/// A scratch directory holding a copy of the data whose local file has one use (8443/tcp,
/// "Billing API"), and the path of a state directory beside it (not made).
pub(crate) fn billing_data() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (data, state) = (dir.path().join("data"), dir.path().join("state"));
    copy_data(&data);
    fs::write(data.join(LOCAL_TSV), "8443\ttcp\t-\tBilling API\n").unwrap();
    (dir, data, state)
}

/// The arguments serving `data` with `state` as the state directory, transfers open to
/// loopback and no system services database.
fn state_dir_args<'a>(data: &'a Path, state: &'a Path) -> Vec<&'a str> {
    vec![
        "--allow-transfer",
        "127.0.0.0/8",
        "--services",
        "none",
        "--data",
        data.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]
}

/// A state directory that cannot be written (here a path that is a file: as root, permissions
/// would not stop the writes) is one warning line for the whole run, however many files fail;
/// the daemon serves, reloads, and answers IXFR from the differences in memory.
#[test]
fn a_state_directory_that_cannot_be_written_is_one_warning_and_the_daemon_serves_on() {
    const WARNING: &str = "the state directory is not usable";
    let (_dir, data, state) = billing_data();
    fs::write(&state, "not a directory\n").unwrap();
    let mut args = state_dir_args(&data, &state);
    args.extend(["--zone", "ports.local,ports.internal"]);
    let daemon = Daemon::start(&args);
    let before = served_serial(&daemon);
    assert!(daemon.wait_for_log("state directory up to date"));
    fs::write(data.join(LOCAL_TSV), "8443\ttcp\t-\tBilling API v2\n").unwrap();
    reload(&daemon);
    let after = served_serial(&daemon);
    assert_ne!(before, after);
    let records = ixfr(daemon.addr, before);
    assert_eq!(soa_serials(&records), [after, before, after, after]);
    assert_eq!(
        daemon.count_log(WARNING),
        1,
        "one warning for the whole run"
    );
}

#[test]
fn the_journal_in_the_state_dir_survives_a_restart_and_a_damaged_one_or_zone_is_a_warning() {
    let (_dir, data, state) = billing_data();
    let args = state_dir_args(&data, &state);
    let daemon = Daemon::start(&args);
    let before = served_serial(&daemon);
    fs::write(data.join(LOCAL_TSV), "8443\ttcp\t-\tBilling API v2\n").unwrap();
    reload(&daemon);
    let after = served_serial(&daemon);
    assert_ne!(before, after);
    drop(daemon);

    // Restarted, it still answers IXFR from the serial before the change incrementally.
    let daemon = Daemon::start(&args);
    assert!(daemon.wait_for_log("read back from the journal"));
    assert_eq!(served_serial(&daemon), after);
    assert!(daemon.settled(), "the digest an IXFR waits for");
    let records = ixfr(daemon.addr, before);
    assert_eq!(soa_serials(&records), [after, before, after, after]);
    assert_eq!(transfer_forms(&daemon, "ixfr"), 1);
    drop(daemon);

    // Cut short, the journal is a warning, the daemon serves, and the same IXFR gets the whole
    // zone; the next change starts a new journal that reads back.
    let journal = state.join("ports.local").join("journal");
    let bytes = fs::read(&journal).expect("a journal in the state directory");
    fs::write(&journal, &bytes[..bytes.len() - 10]).unwrap();
    let daemon = Daemon::start(&args);
    assert!(daemon.wait_for_log("the journal is not usable; starting a new one"));
    assert_eq!(served_serial(&daemon), after);
    assert!(daemon.settled());
    let whole = ixfr(daemon.addr, before);
    assert!(whole.len() > 360_000, "{} records", whole.len());
    assert_eq!(transfer_forms(&daemon, "axfr"), 1);
    drop(daemon);

    // The data changed while stopped, and the zone kept cut short: one warning, the new data
    // served, and a secondary at the old serial gets the whole zone, once, not a wrong
    // difference.
    fs::write(data.join(LOCAL_TSV), "8443\ttcp\t-\tBilling API v3\n").unwrap();
    let kept = state.join("ports.local").join(format!("zone.{after}"));
    let bytes = fs::read(&kept).expect("the zone kept in the state directory");
    fs::write(&kept, &bytes[..bytes.len() / 2]).unwrap();
    let daemon = Daemon::start(&args);
    assert!(daemon.wait_for_log("state directory up to date"));
    assert_eq!(daemon.count_log("the zone kept is not usable"), 1);
    let third = served_serial(&daemon);
    assert_ne!(third, after);
    let whole = ixfr(daemon.addr, after);
    assert!(whole.len() > 360_000, "{} records", whole.len());
    assert_eq!(transfer_forms(&daemon, "axfr"), 1);
}
