//! The `portsd` command line as a user runs it: `lookup` against what the server answers,
//! `export-zone` loaded by NSD's and Knot's own zone checkers and compared with `serve`,
//! `check` on good and broken data, one-line errors, and what the log shows.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::common::*;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

/// The longest any single portsd run in these tests may take before it counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Runs the built binary with `args` to completion (killing it after [`RUN_LIMIT`]).
fn portsd(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portsd"));
    run_limited(command.args(args), &format!("{args:?}"))
}

/// Runs a prepared portsd `command` to completion, its output captured and no input, killing
/// it after [`RUN_LIMIT`] (a run that should have failed at once may be serving instead).
pub(super) fn run_limited(command: &mut Command, what: &str) -> Output {
    let child = command
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portsd starts");
    let pid = child.id().to_string();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(RUN_LIMIT) {
        Ok(output) => output.expect("portsd's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("portsd {what} did not finish within {RUN_LIMIT:?}");
        }
    }
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failed run: non-zero exit, no panic, no backtrace; returns stderr.
fn assert_clean_failure(output: &Output, what: &str) -> String {
    let stderr = stderr_of(output);
    assert!(
        !output.status.success(),
        "{what} should fail; stderr: {stderr}"
    );
    assert!(
        output.status.code().is_some(),
        "{what} exits, not killed by a signal"
    );
    let lower = stderr.to_lowercase();
    assert!(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "{what}: {stderr}"
    );
    stderr
}

/// A failed run whose whole message is one line; returns that line.
pub(super) fn assert_one_line_failure(output: &Output, what: &str) -> String {
    let stderr = assert_clean_failure(output, what);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected, got {stderr:?}");
    assert!(
        stdout_of(output).is_empty(),
        "{what}: nothing on stdout, got {:?}",
        stdout_of(output)
    );
    lines[0].to_owned()
}

/// A query for a name given as raw labels (no escaping questions), with EDNS when `edns`.
fn query_labels(id: u16, labels: &[Vec<u8>], rtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let name = Name::from_labels(labels.iter().map(Vec::as_slice)).expect("a valid name");
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    let mut question = Query::query(name, rtype);
    question.set_query_class(DNSClass::IN);
    message.add_query(question);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        message.edns = Some(e);
    }
    message.to_vec().expect("the query encodes")
}

/// Each TXT record of an answer as its list of character-strings.
fn txt_records(message: &Message) -> Vec<Vec<Vec<u8>>> {
    message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .collect()
}

/// The TXT strings the shared in-process server gives for `name`, over TCP (never truncated).
fn served_texts(name: &str) -> Vec<String> {
    let response = parse(&tcp_exchange(
        SHARED.addr,
        &query(7, name, RecordType::TXT, Some(1232)),
    ));
    txt_answers(&response)
}

#[test]
fn lookup_prints_what_the_server_answers() {
    for (argument, name) in [
        ("443/tcp", "443.tcp.ports.local."),
        ("443", "443.ports.local."),
        ("https", "https.ports.local."),
        ("https/tcp", "https.tcp.ports.local."),
        ("HTTPS/TCP", "HTTPS.TCP.ports.local."),
        ("9/udp", "9.udp.ports.local."),
        ("51820/udp", "51820.udp.ports.local."),
    ] {
        let output = portsd(&["lookup", "--services", "none", argument]);
        assert!(
            output.status.success(),
            "lookup {argument}: {}",
            stderr_of(&output)
        );
        let printed: Vec<String> = stdout_of(&output).lines().map(str::to_owned).collect();
        let served = served_texts(name);
        assert!(!served.is_empty(), "{name} has TXT records");
        assert_eq!(printed, served, "lookup {argument} against TXT {name}");
    }
}

#[test]
fn lookup_443_tcp_prints_its_known_uses() {
    let output = portsd(&["lookup", "443/tcp"]);
    let stdout = stdout_of(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "443 | tcp | Yes | https | Hypertext Transfer Protocol Secure (HTTPS) uses TCP in \
             versions 1.x and 2. HTTP/3 uses QUIC, a transport protocol on top of UDP."
        ),
        "{stdout}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("443 | tcp | ")),
        "{stdout}"
    );
    let by_service = portsd(&["lookup", "https/tcp"]);
    assert!(
        stdout_of(&by_service)
            .lines()
            .all(|l| l.starts_with("443 | tcp | ") && l.contains(" | https | ")),
        "{}",
        stdout_of(&by_service)
    );
}

#[test]
fn search_prints_what_the_server_answers() {
    for (words, name) in [
        (&["minecraft"][..], "minecraft.search.ports.local."),
        (&["Java", "minecraft"], "java.minecraft.search.ports.local."),
        (&["postgres"], "postgres.search.ports.local."),
        (
            &["bedrock minecraft"],
            "minecraft.bedrock.search.ports.local.",
        ),
    ] {
        let mut args = vec!["search", "--services", "none", "--frequencies", "none"];
        args.extend(words);
        let output = portsd(&args);
        let printed: Vec<String> = stdout_of(&output).lines().map(str::to_owned).collect();
        // DNS carries each result's rank before its text; the command prints them in order.
        let served: Vec<String> = served_texts(name)
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let rank = format!("{} | ", i + 1);
                assert!(text.starts_with(&rank), "{text}");
                text[rank.len()..].to_owned()
            })
            .collect();
        assert!(!served.is_empty(), "{name} matches");
        assert_eq!(printed, served, "search {words:?} against TXT {name}");
    }
    let line = assert_one_line_failure(&portsd(&["search", "nosuchwordatall"]), "no match");
    assert_eq!(line, "portsd: no use matches \"nosuchwordatall\"");
}

/// The fields of the JSON schema `docs/names-and-answers.md` documents, in order.
const JSON_FIELDS: [&str; 19] = [
    "port",
    "first",
    "last",
    "protocol",
    "status",
    "service",
    "aliases",
    "description",
    "sources",
    "text",
    "references",
    "assignee",
    "contact",
    "registered",
    "modified",
    "service_code",
    "unauthorized_use",
    "assignment_notes",
    "frequency",
];

fn json_of(args: &[&str]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let output = portsd(args);
    assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
    let value: serde_json::Value = serde_json::from_str(&stdout_of(&output)).expect("valid JSON");
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_object().expect("objects").clone())
        .collect()
}

#[test]
fn json_has_one_object_per_use_in_the_documented_schema() {
    let uses = json_of(&["lookup", "--json", "--services", "none", "6881/tcp"]);
    let text = stdout_of(&portsd(&["lookup", "--services", "none", "6881/tcp"]));
    assert_eq!(uses.len(), text.lines().count());
    for (object, line) in uses.iter().zip(text.lines()) {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut expected = JSON_FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(
            keys, expected,
            "serde_json sorts keys; the fields are exactly these"
        );
        assert_eq!(object["text"], line);
        assert_eq!(object["protocol"], "tcp");
    }
    let range = uses
        .iter()
        .find(|o| o["port"] == "6881-6887")
        .expect("the BitTorrent range");
    assert_eq!(
        (range["first"].as_u64(), range["last"].as_u64()),
        (Some(6881), Some(6887))
    );
    assert_eq!(range["service"], serde_json::Value::Null);

    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    std::fs::write(&services, "whois 43/tcp nicname\nrtmp 1/ddp\n").unwrap();
    let services = services.to_str().unwrap();
    let whois = json_of(&[
        "lookup",
        "whois/tcp",
        "--json",
        "--services",
        services,
        "--frequencies",
        "none",
    ]);
    assert_eq!(
        serde_json::Value::Object(whois[0].clone()),
        serde_json::json!({
            "port": "43", "first": 43, "last": 43, "protocol": "tcp", "status": "Yes",
            "service": "nicname", "aliases": ["whois"], "description": "WHOIS protocol",
            "sources": ["excerpt", "port-list", "iana", "services"],
            "text": "43 | tcp | Yes | nicname whois | WHOIS protocol",
            "references": [], "assignee": null, "contact": null, "registered": null,
            "modified": null, "service_code": null, "unauthorized_use": null,
            "assignment_notes": null, "frequency": null
        })
    );
    // The registry's facts, and nmap's frequency from a file made here.
    let nmap = dir.path().join("nmap-services");
    std::fs::write(
        &nmap,
        "finger	79/tcp	0.006022	# Finger
",
    )
    .unwrap();
    let finger = json_of(&[
        "lookup",
        "79/tcp",
        "--json",
        "--services",
        "none",
        "--frequencies",
        nmap.to_str().unwrap(),
    ]);
    assert_eq!(finger[0]["service"], "finger");
    assert_eq!(finger[0]["assignee"], "David_Zimmerman");
    assert_eq!(
        finger[0]["unauthorized_use"],
        "Unauthorized use by some mail users (see [RFC4146] for details)"
    );
    assert_eq!(finger[0]["frequency"], 0.006022);
    let https = json_of(&["lookup", "https/tcp", "--json", "--frequencies", "none"]);
    assert_eq!(https[0]["references"], serde_json::json!(["RFC 9110"]));
    assert_eq!(https[0]["modified"], "2021-10-01");
    let unlisted = json_of(&["lookup", "--json", "--services", "none", "3/sctp"]);
    assert_eq!(unlisted[0]["status"], "Unassigned");
    assert_eq!(unlisted[0]["sources"], serde_json::json!([]));
    let found = json_of(&["search", "--json", "--services", "none", "wireguard"]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["description"], "WireGuard protocol");
    assert_eq!(found[0]["first"], 51820);

    let check = stdout_of(&portsd(&["check", "--services", services]));
    assert!(check.contains("  services   2\n"), "{check}");
    assert!(
        check.contains("protocols other than tcp, udp, sctp, dccp): 1\n"),
        "{check}"
    );
}

#[test]
fn services_files_that_cannot_be_used_fail_in_one_line() {
    let line = assert_one_line_failure(
        &portsd(&["lookup", "--services", "/nonexistent", "443"]),
        "missing services file",
    );
    assert!(
        line.starts_with("portsd: bad data: /nonexistent: cannot read"),
        "{line}"
    );
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    std::fs::write(&services, "good 1/tcp\nbad 99999/tcp\n").unwrap();
    let line = assert_one_line_failure(
        &portsd(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--services",
            services.to_str().unwrap(),
        ]),
        "bad services line",
    );
    assert!(line.ends_with("services:2: bad port \"99999\""), "{line}");
}

#[test]
fn lookup_of_unknown_things_fails_in_one_line() {
    let line = assert_one_line_failure(
        &portsd(&["lookup", "no-such-service-here"]),
        "lookup of an unknown service",
    );
    assert!(line.contains("no-such-service-here"), "{line}");
    for bad in ["99999", "443/xyz", "", "a b"] {
        let line = assert_one_line_failure(&portsd(&["lookup", bad]), &format!("lookup {bad:?}"));
        assert!(line.starts_with("portsd: "), "{line}");
    }
}

#[test]
fn ports_out_of_range_are_named_as_such() {
    for bad in ["99999", "65536/tcp", "0443"] {
        let line = assert_one_line_failure(&portsd(&["lookup", bad]), &format!("lookup {bad}"));
        let subject = bad.split('/').next().unwrap_or_default();
        assert_eq!(
            line,
            format!(
                "portsd: \"{subject}\" is not a port: ports are 0-65535, written without leading zeros"
            )
        );
    }
}

#[test]
fn every_subcommand_fails_in_one_line_on_a_bad_argument() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let file = file.to_str().unwrap();
    let cases: [&[&str]; 13] = [
        &["serve", "--listen", "nonsense"],
        &["serve", "--listen", "127.0.0.1:0", "--frequencies", missing],
        &["lookup", "65536"],
        &["lookup", "443", "--frequencies", missing],
        &["search", ""],
        &["search", "web", "--services", missing],
        &["export-zone", "--zone", "a..b"],
        &["check", "--data", missing],
        &["convert-wikipedia", missing],
        &["update-data", missing, "--url", "ftp://example.invalid/x"],
        &["seed-data", missing, "--from", missing],
        &["man", file],
        &["completions", "nosuch"],
    ];
    for args in cases {
        assert_one_line_failure(&portsd(args), &format!("portsd {args:?}"));
    }
}

/// Runs `portsd ARGS | head -1` in a shell: the command must end quietly when its reader goes.
fn first_line_through_head(args: &str) -> (String, String) {
    let output = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' {args} | head -1; echo \"status ${{PIPESTATUS[0]}}\"",
                env!("CARGO_BIN_EXE_portsd")
            ),
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("bash runs");
    (stdout_of(&output), stderr_of(&output))
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    for args in [
        "export-zone",
        "check",
        "lookup 80",
        "completions bash",
        "search --json server",
    ] {
        let (stdout, stderr) = first_line_through_head(args);
        assert!(stderr.is_empty(), "portsd {args} | head: {stderr:?}");
        assert!(stdout.ends_with("status 0\n"), "portsd {args}: {stdout:?}");
        assert_eq!(stdout.lines().count(), 2, "{stdout:?}");
    }
}

/// Flags of the variant whose name server lies outside the zone.
const INTERNAL_ZONE_FLAGS: [&str; 4] = ["--zone", "ports.internal", "--ns-name", "ns1.example.net"];

/// Writes `export-zone FLAGS` to `file` in Cargo's scratch directory for tests (a static's
/// temporary directory would never be removed; this file is overwritten by the next run).
fn export_zone(file: &str, flags: &[&str]) -> PathBuf {
    let started = Instant::now();
    let output = portsd(&[&["export-zone"], flags].concat());
    assert!(
        output.status.success(),
        "export-zone: {}",
        stderr_of(&output)
    );
    eprintln!("export-zone {flags:?}: {:?}", started.elapsed());
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(file);
    std::fs::write(&path, &output.stdout).expect("the zone file is written");
    path
}

/// `ports.local` with its name server inside the zone, exported once per test binary.
static DEFAULT_EXPORT: LazyLock<PathBuf> =
    LazyLock::new(|| export_zone("cli-ports.local.zone", &[]));
/// `ports.internal` with its name server outside.
static INTERNAL_EXPORT: LazyLock<PathBuf> =
    LazyLock::new(|| export_zone("cli-ports.internal.zone", &INTERNAL_ZONE_FLAGS));

/// Runs a zone checker from a Debian package (from /usr/sbin, which a non-root PATH lacks, or
/// else from PATH); fails naming the package when it is missing.
fn run_checker(program: &str, package: &str, args: &[&str]) -> Output {
    let in_sbin = Path::new("/usr/sbin").join(program);
    let command = if in_sbin.exists() {
        in_sbin
    } else {
        PathBuf::from(program)
    };
    let started = Instant::now();
    let output = Command::new(command)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): apt-get install {package}"));
    eprintln!("{program} {args:?}: {:?}", started.elapsed());
    output
}

fn assert_checker_accepts(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} rejected the zone:\n{}{}",
        stdout_of(output),
        stderr_of(output)
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn nsd_loads_the_exported_zones() {
    for (zone, file) in [
        ("ports.local", &DEFAULT_EXPORT),
        ("ports.internal", &INTERNAL_EXPORT),
    ] {
        let output = run_checker("nsd-checkzone", "nsd", &[zone, path_str(file)]);
        assert_checker_accepts(&output, &format!("nsd-checkzone {zone}"));
    }
}

#[test]
fn knot_loads_the_exported_zones() {
    for (zone, file) in [
        ("ports.local", &DEFAULT_EXPORT),
        ("ports.internal", &INTERNAL_EXPORT),
    ] {
        let output = run_checker(
            "kzonecheck",
            "knot-dnssecutils",
            &["-o", zone, path_str(file)],
        );
        assert_checker_accepts(&output, &format!("kzonecheck {zone}"));
    }
}

/// One record of a master file as `export-zone` writes it.
struct ZoneRecord {
    owner: Vec<Vec<u8>>,
    rtype: String,
    data: String,
}

/// Undoes master-file escaping: `\X` is X, `\DDD` the byte DDD.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(u8::is_ascii_digit));
            if let Some(digits) = digits {
                let value = digits
                    .iter()
                    .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                out.push(u8::try_from(value).expect("\\DDD is at most 255"));
                i += 4;
            } else {
                out.extend(bytes.get(i + 1));
                i += 2;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Splits an absolute owner name into labels, honouring escaped dots.
fn owner_labels(owner: &str) -> Vec<Vec<u8>> {
    let mut labels = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in owner.chars() {
        match c {
            '.' if !escaped => labels.push(unescape(&std::mem::take(&mut current))),
            _ => {
                escaped = c == '\\' && !escaped;
                current.push(c);
            }
        }
    }
    labels
}

/// The character-strings of TXT data written as `"a" "b"`.
fn txt_strings(data: &str) -> Vec<Vec<u8>> {
    let mut strings = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    let mut escaped = false;
    for c in data.chars() {
        if inside {
            if c == '"' && !escaped {
                strings.push(unescape(&std::mem::take(&mut current)));
                inside = false;
            } else {
                escaped = c == '\\' && !escaped;
                current.push(c);
            }
        } else if c == '"' {
            inside = true;
        }
    }
    strings
}

/// Reads a file `export-zone` wrote with the default TTL.
fn read_zone(path: &Path) -> Vec<ZoneRecord> {
    let text = std::fs::read_to_string(path).expect("the zone file");
    text.lines()
        .filter(|line| !line.starts_with(';') && !line.starts_with('$'))
        .map(|line| {
            let fields: Vec<&str> = line.splitn(5, ' ').collect();
            assert_eq!(fields.len(), 5, "owner TTL class type data: {line}");
            assert_eq!((fields[1], fields[2]), ("3600", "IN"), "{line}");
            ZoneRecord {
                owner: owner_labels(fields[0]),
                rtype: fields[3].to_owned(),
                data: fields[4].to_owned(),
            }
        })
        .collect()
}

/// Every name's TXT records in the file, in file order.
fn txt_by_owner(records: &[ZoneRecord]) -> BTreeMap<Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>> {
    let mut owners: BTreeMap<Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
    for record in records.iter().filter(|r| r.rtype == "TXT") {
        owners
            .entry(record.owner.clone())
            .or_default()
            .push(txt_strings(&record.data));
    }
    owners
}

/// Asks `addr` for the TXT records of `owner`, over UDP first (TCP when truncated) or TCP.
fn served_records(addr: SocketAddr, owner: &[Vec<u8>], tcp: bool) -> Vec<Vec<Vec<u8>>> {
    let packet = query_labels(11, owner, RecordType::TXT, Some(1232));
    let over_tcp = || parse(&tcp_exchange(addr, &packet));
    let response = if tcp {
        over_tcp()
    } else {
        let response = parse(&udp_exchange(addr, &packet).expect("a UDP answer"));
        if response.metadata.truncation {
            over_tcp()
        } else {
            response
        }
    };
    txt_records(&response)
}

/// Checks that `serve` with the same flags answers a sample of the file's names exactly as the
/// file says: `sample` names spread over the whole file, plus the first 20 whose labels needed
/// escaping. The apex is left out: its TXT names the serial, which is the time of loading.
/// Returns the file's records.
fn assert_zone_matches_serve(
    path: &Path,
    apex: &[&[u8]],
    serve_flags: &[&str],
    sample: usize,
) -> Vec<ZoneRecord> {
    let records = read_zone(path);
    let mut owners = txt_by_owner(&records);
    assert!(owners.len() > 300_000, "{} names with TXT", owners.len());
    let apex: Vec<Vec<u8>> = apex.iter().map(|l| l.to_vec()).collect();
    let apex_txt = owners.remove(&apex).expect("the apex has a TXT record");
    assert_eq!(apex_txt.len(), 1);
    let protocols: [&[u8]; 4] = [b"tcp", b"udp", b"sctp", b"dccp"];
    let port_names = owners
        .keys()
        .filter(|owner| {
            let relative = &owner[..owner.len() - apex.len()];
            match relative {
                [port] => port.iter().all(u8::is_ascii_digit),
                [port, protocol] => {
                    port.iter().all(u8::is_ascii_digit) && protocols.contains(&&protocol[..])
                }
                _ => false,
            }
        })
        .count();
    assert_eq!(
        port_names,
        5 * 65_536,
        "every port, alone and on each protocol"
    );
    let needs_escaping = |owner: &Vec<Vec<u8>>| {
        owner
            .iter()
            .flatten()
            .any(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    };
    let escaped: Vec<_> = owners
        .iter()
        .filter(|(o, _)| needs_escaping(o))
        .take(20)
        .collect();
    assert_eq!(escaped.len(), 20, "the data has names that need escaping");
    let spread = owners.iter().step_by(owners.len() / sample);
    let daemon = Daemon::start(serve_flags);
    for (i, (owner, in_file)) in spread.chain(escaped).enumerate() {
        let served = served_records(daemon.addr, owner, i % 2 == 1);
        assert_eq!(&served, in_file, "TXT of {owner:?}");
    }
    records
}

#[test]
fn exported_zone_is_what_serve_answers() {
    let records = assert_zone_matches_serve(&DEFAULT_EXPORT, &[b"ports", b"local"], &[], 200);
    let find = |rtype: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| {
                format!(
                    "{} {}",
                    String::from_utf8_lossy(&r.owner.join(&b'.')),
                    r.data
                )
            })
            .collect()
    };
    assert_eq!(
        find("NS"),
        [
            "ports.local ns.ports.local.",
            "search.ports.local ns.ports.local."
        ],
        "the search zone is delegated to the zone's own name server"
    );
    assert!(
        !records
            .iter()
            .any(|r| r.owner.len() > 3 && r.owner[r.owner.len() - 3] == b"search"),
        "nothing below the delegation"
    );
    let help = records
        .iter()
        .filter(|r| r.rtype == "TXT" && r.owner[0] == b"help" && r.owner.len() == 3)
        .count();
    assert_eq!(help, 10, "help.ports.local's records");
    assert_eq!(
        find("A"),
        ["ns.ports.local 127.0.0.1"],
        "glue for the in-zone NS"
    );
    assert_eq!(find("SOA").len(), 1);
}

#[test]
fn exported_zone_with_an_outside_name_server_has_no_glue() {
    let records = assert_zone_matches_serve(
        &INTERNAL_EXPORT,
        &[b"ports", b"internal"],
        &INTERNAL_ZONE_FLAGS,
        50,
    );
    let ns: Vec<&str> = records
        .iter()
        .filter(|r| r.rtype == "NS")
        .map(|r| r.data.as_str())
        .collect();
    assert_eq!(
        ns,
        ["ns1.example.net.", "ns1.example.net."],
        "the apex, then search"
    );
    assert!(
        !records.iter().any(|r| r.rtype == "A" || r.rtype == "AAAA"),
        "no glue for a name server outside the zone"
    );
    assert!(
        records.iter().all(|r| r
            .owner
            .ends_with(&[b"ports".to_vec(), b"internal".to_vec()])),
        "every owner is inside ports.internal"
    );
}

#[test]
fn check_reports_counts_on_the_builtin_data() {
    let output = portsd(&["check"]);
    let stdout = stdout_of(&output);
    assert!(output.status.success(), "{}", stderr_of(&output));
    for heading in [
        "rows read:",
        "entries per source",
        "entries per status:",
        "entries per protocol:",
        "memory: ",
    ] {
        assert!(stdout.contains(heading), "{heading:?} in {stdout}");
    }
    for word in [
        "tcp",
        "udp",
        "sctp",
        "dccp",
        "Yes",
        "Unofficial",
        "Assigned",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(word)),
            "a count for {word} in {stdout}"
        );
    }
}

/// A copy of the crate's data/ directory with `line` appended to `file`; returns the
/// directory and the path and line number of the bad line.
fn broken_data(file: &str, line: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in [
        "ports.tsv",
        "port-list-excerpt.txt",
        "iana-service-names-port-numbers.csv",
        "local.tsv",
    ] {
        std::fs::copy(source.join(name), dir.path().join(name)).expect("data file copied");
    }
    let path = dir.path().join(file);
    let mut text = std::fs::read_to_string(&path).expect("data file");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    let line_number = text.lines().count();
    std::fs::write(&path, text).expect("data file written");
    (dir, format!("{}:{line_number}: ", path.display()))
}

#[test]
fn broken_data_is_reported_by_check_and_refused_by_serve() {
    for (file, line) in [
        ("ports.tsv", "70000\tYes\t-\t-\t-\tBeyond the last port"),
        ("local.tsv", "8443\ttcpx\tbilling-api\tBilling API"),
    ] {
        let (dir, location) = broken_data(file, line);
        let data = path_str(dir.path());
        let check = portsd(&["check", "--data", data]);
        let stderr = assert_clean_failure(&check, &format!("check with a bad {file}"));
        let problem = stderr
            .lines()
            .find_map(|l| l.find(&location).map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("{location} in {stderr}"));
        assert!(problem.len() > location.len(), "a reason after {location}");

        let serve = portsd(&["serve", "--listen", "127.0.0.1:0", "--data", data]);
        let stderr = assert_clean_failure(&serve, &format!("serve with a bad {file}"));
        assert!(
            stderr.lines().any(|l| l.ends_with(problem)),
            "serve names {problem:?}: {stderr}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

#[test]
fn an_address_in_use_is_one_line() {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
    let udp_addr = udp.local_addr().expect("its address").to_string();
    let line = assert_one_line_failure(
        &portsd(&["serve", "--listen", &udp_addr]),
        "serve on a UDP port in use",
    );
    assert!(line.contains(&format!("udp {udp_addr}")), "{line}");
    assert_eq!(line.matches("in use").count(), 1, "said once: {line}");

    let tcp = TcpListener::bind("127.0.0.1:0").expect("a TCP port");
    let tcp_addr = tcp.local_addr().expect("its address").to_string();
    let line = assert_one_line_failure(
        &portsd(&["serve", "--listen", &tcp_addr]),
        "serve on a TCP port in use",
    );
    assert!(line.contains(&tcp_addr), "{line}");
    assert!(line.contains("cannot listen on"), "{line}");
}

#[test]
fn a_missing_data_directory_is_named() {
    let missing = "/nonexistent/portsd-data";
    let problem = format!("{missing}: cannot read the data directory: ");
    for args in [
        vec!["serve", "--listen", "127.0.0.1:0", "--data", missing],
        vec!["lookup", "443", "--data", missing],
        vec!["export-zone", "--data", missing],
        vec!["check", "--data", missing],
    ] {
        let line = assert_one_line_failure(&portsd(&args), &format!("{args:?}"));
        assert!(line.contains(&problem), "{args:?}: {line}");
    }
}

#[test]
fn an_invalid_zone_name_is_one_line() {
    for zone in ["bad name", "..", "a..b"] {
        for command in ["serve", "export-zone"] {
            let mut args = vec![command, "--zone", zone];
            if command == "serve" {
                args.extend(["--listen", "127.0.0.1:0"]);
            }
            let line = assert_one_line_failure(&portsd(&args), &format!("{args:?}"));
            assert_eq!(line.matches("invalid label").count(), 1, "{args:?}: {line}");
        }
    }
}

#[test]
fn a_bad_flag_is_one_line_with_exit_code_2() {
    for args in [
        vec!["serve", "--nonsense"],
        vec!["serve", "--ttl", "abc"],
        vec!["serve", "--listen", "localhost"],
        vec!["lookup"],
        vec!["frobnicate"],
    ] {
        let output = portsd(&args);
        let line = assert_one_line_failure(&output, &format!("{args:?}"));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {line}");
        assert!(line.starts_with("portsd: "), "{args:?}: {line}");
        assert!(!line.contains("For more information"), "{args:?}: {line}");
    }
    let output = portsd(&["serve", "--ttl", "abc"]);
    assert!(stderr_of(&output).contains("abc"), "{}", stderr_of(&output));
}

#[test]
fn help_and_version_still_print_normally() {
    let help = portsd(&["--help"]);
    assert!(help.status.success());
    assert!(stdout_of(&help).contains("lookup"), "{}", stdout_of(&help));
    let version = portsd(&["--version"]);
    assert!(version.status.success());
    assert!(stdout_of(&version).starts_with("portsd "));
}

/// Stops the daemon with SIGTERM and waits for its last log line, so every line it wrote
/// before is in the log.
fn stop_and_drain(daemon: &Daemon) {
    let status = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(daemon.wait_for_log("stopping"), "portsd logs its stop");
}

/// Asks three names: over UDP without and with EDNS, and over TCP; returns them.
fn ask_some(addr: SocketAddr) -> [&'static str; 3] {
    let names = [
        "443.tcp.ports.local.",
        "9.udp.ports.local.",
        "https.ports.local.",
    ];
    assert!(udp_exchange(addr, &query(1, names[0], RecordType::TXT, None)).is_some());
    assert!(udp_exchange(addr, &query(2, names[1], RecordType::TXT, Some(1232))).is_some());
    tcp_exchange(addr, &query(3, names[2], RecordType::TXT, None));
    names
}

#[test]
fn default_log_has_listeners_and_no_queries() {
    let daemon = Daemon::start(&[]);
    ask_some(daemon.addr);
    stop_and_drain(&daemon);
    let log = daemon.log.0.lock().expect("the log").clone();
    assert_eq!(
        daemon.count_log("listening on udp 127.0.0.1:"),
        1,
        "{log:?}"
    );
    assert_eq!(
        daemon.count_log("listening on tcp 127.0.0.1:"),
        1,
        "{log:?}"
    );
    assert!(
        log.iter().all(|l| l.contains("listening on")
            || l.contains("answering udp on")
            || l.contains("stopping")
            || l.contains("portsd | zone ")),
        "nothing per query: {log:?}"
    );
}

/// The value after `data ` in the apex TXT's text (or the start-up line).
fn data_after(text: &str) -> String {
    let (_, rest) = text.split_once(" | data ").expect("a data fingerprint");
    rest.chars().take_while(char::is_ascii_hexdigit).collect()
}

/// The data's identity is one value under one name: the apex TXT record's `data`, the
/// start-up line's, `/v1/zone`'s `data` and `portsd check`'s `data fingerprint` (they were
/// two: `/v1/zone` hashed the zone's settings in, and `check` left nmap's frequencies out).
#[test]
fn the_data_fingerprint_is_one_value_everywhere() {
    let data = ["--services", "none", "--frequencies", "none"];
    let check = portsd(&[&["check"][..], &data].concat());
    assert!(check.status.success(), "{}", stderr_of(&check));
    let checked = stdout_of(&check)
        .lines()
        .find_map(|l| l.strip_prefix("data fingerprint: ").map(str::to_owned))
        .expect("check prints the data fingerprint");
    assert_eq!(checked.len(), 16, "{checked}");
    let daemon = Daemon::start(&[&data[..], &["--http", "127.0.0.1:0", "--ttl", "60"]].concat());
    let apex = txt_answers(&parse(
        &udp_exchange(
            daemon.addr,
            &query(1, "ports.local.", RecordType::TXT, None),
        )
        .expect("an answer"),
    ));
    assert_eq!(data_after(&apex[0]), checked, "{apex:?}");
    let zone = http_get(daemon.http_addr(), "/v1/zone");
    assert!(zone.contains(&format!("\"data\":\"{checked}\"")), "{zone}");
    assert!(!zone.contains("fingerprint"), "{zone}");
    // The first line says what is served and where.
    let first = daemon.log.0.lock().unwrap()[0].clone();
    assert!(
        first.contains("portsd | zone ports.local | serial "),
        "{first}"
    );
    assert!(first.contains(" entries (local 0, excerpt "), "{first}");
    assert_eq!(data_after(&first), checked, "{first}");
    let port = daemon.addr.port();
    let http = daemon.http_addr();
    assert!(
        first.ends_with(&format!(
            " | serving udp 127.0.0.1:{port}, tcp 127.0.0.1:{port}, http {http}"
        )),
        "{first}"
    );
}

#[test]
fn log_queries_logs_one_line_per_query() {
    let daemon = Daemon::start(&["--log-queries"]);
    let names = ask_some(daemon.addr);
    stop_and_drain(&daemon);
    let log = daemon.log.0.lock().expect("the log").clone();
    for name in names {
        assert_eq!(daemon.count_log(name), 1, "one line for {name}: {log:?}");
    }
    assert_eq!(daemon.count_log(" query "), 3, "{log:?}");
}

/// `--identity`, `--version-string` and `--nsid` reach the running daemon.
#[test]
fn identity_flags_reach_chaos_answers_and_nsid() {
    let daemon = Daemon::start(&[
        "--identity",
        "cli-instance",
        "--version-string",
        "none",
        "--nsid",
        "ascii_cli-nsid",
    ]);
    let out = run_tool("dig", daemon.addr, &["+nsid", "CH", "TXT", "id.server"]);
    assert!(out.contains("\"cli-instance\""), "{out}");
    assert!(out.contains("(\"cli-nsid\")"), "{out}");
    let hidden = run_tool("kdig", daemon.addr, &["CH", "TXT", "version.server"]);
    assert!(hidden.contains("status: REFUSED"), "{hidden}");
}
