//! Differential test: the same few hundred varied queries (names, types, classes, opcodes,
//! flags, EDNS versions and options, malformed messages) to portsd and to NSD and Knot serving
//! `portsd export-zone`'s zone, each response reduced to what a client sees (rcode, flags,
//! sections as sets of records, OPT version and options). Every difference must be listed, with
//! the reason portsd answers as it does and the answer it gives, in `differential-allow.toml`;
//! a listed difference that no longer occurs fails the test too, so the list stays true, and so
//! does an answer of portsd other than the one listed, so that a case neither peer answers
//! alike still pins portsd's answer.
//!
//! The three servers are given the same identity, version string and NSID, so CHAOS and NSID
//! answers compare as well, and NSD minimal responses (its default adds the apex NS and glue to
//! every answer; portsd and Knot add nothing the question did not ask for).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::Message;
use serde::Deserialize;

use crate::common::{Daemon, tcp_receive, tcp_send};
use crate::external::{self, Process, nsd_server_config, on_free_port, program};

const ZONE: &str = "ports.local";
/// What every server says it is (CHAOS id.server, version.bind) and its NSID.
const IDENTITY: &str = "differential";
const NSID_HEX: &str = "6469666630"; // "diff0"
const ALLOW_LIST: &str = "tests/binary/differential-allow.toml";
/// How long silence is waited for.
const SILENCE: Duration = Duration::from_millis(400);

/// One query of the comparison.
struct Case {
    /// Stable and unique: the allow-list refers to it.
    name: String,
    packet: Vec<u8>,
    tcp: bool,
}

/// An OPT record: payload size, extended RCODE bits, version, DO, options.
struct Opt<'o> {
    payload: u16,
    version: u8,
    dnssec_ok: bool,
    options: &'o [u8],
}

const PLAIN_OPT: Opt<'static> = Opt {
    payload: 1232,
    version: 0,
    dnssec_ok: false,
    options: &[],
};

/// A message: header flags (the second and third bytes), questions, an OPT record.
fn message(id: u16, flags: u16, questions: &[(&[&[u8]], u16, u16)], opt: Option<&Opt>) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&flags.to_be_bytes());
    p.extend_from_slice(&(questions.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    for (labels, qtype, qclass) in questions {
        for label in *labels {
            p.push(label.len() as u8);
            p.extend_from_slice(label);
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&qclass.to_be_bytes());
    }
    if let Some(opt) = opt {
        p.extend_from_slice(&[0, 0, 41]);
        p.extend_from_slice(&opt.payload.to_be_bytes());
        p.extend_from_slice(&[0, opt.version, if opt.dnssec_ok { 0x80 } else { 0 }, 0]);
        p.extend_from_slice(&(opt.options.len() as u16).to_be_bytes());
        p.extend_from_slice(opt.options);
    }
    p
}

/// `name` (relative to the zone, `@` for the apex, a trailing dot for an absolute name) as
/// labels; `\.` inside a label is a dot within it.
fn labels(name: &str) -> Vec<Vec<u8>> {
    let absolute = name.strip_suffix('.');
    let relative = match (name, absolute) {
        ("@", _) => String::new(),
        (_, Some(absolute)) => absolute.to_owned(),
        _ => name.to_owned(),
    };
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut label = Vec::new();
    let mut chars = relative.bytes().peekable();
    while let Some(c) = chars.next() {
        match c {
            b'\\' => label.extend(chars.next()),
            b'.' => out.push(std::mem::take(&mut label)),
            _ => label.push(c),
        }
    }
    if !label.is_empty() {
        out.push(label);
    }
    if absolute.is_none() {
        out.extend(ZONE.split('.').map(|l| l.as_bytes().to_vec()));
    }
    out
}

const RD: u16 = 0x0100;
const IN: u16 = 1;

/// Record types by name, for case names.
const TYPES: [(&str, u16); 16] = [
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("SRV", 33),
    ("DNSKEY", 48),
    ("NSEC", 47),
    ("RRSIG", 46),
    ("CAA", 257),
    ("ANY", 255),
    ("TYPE65280", 65280),
];

/// The queries, in a fixed order.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut id = 0u16;
    // Each case gets its own ID.
    let mut add = |name: String, packet: Vec<u8>, tcp: bool| {
        id += 1;
        cases.push(Case {
            name,
            packet: with_id(&packet, id),
            tcp,
        });
    };
    // Names of every kind the zone has, and some it does not.
    let names = [
        "@",
        "ns",
        "443.tcp",
        "443",
        "https.tcp",
        "https",
        "25565",
        "9.udp",
        "2049.sctp",
        "9.dccp",
        "0.tcp",
        "65535.udp",
        "65536.tcp",
        "40001.dccp",
        "http-alt.tcp",
        "ssh",
        "tcp",
        "udp",
        "help",
        "search",
        "web.search",
        "ssh.secure.search",
        "443.TCP",
        "HTTPS",
        "z39.50.tcp",
        "z39\\.50.tcp",
        "a.b.443.tcp",
        "nonexistent",
        "_443._tcp",
        "*.tcp",
    ];
    for name in names {
        for (type_name, qtype) in TYPES {
            add(
                format!("{name} {type_name}"),
                q(name, qtype, IN, RD, None),
                false,
            );
        }
    }
    // EDNS, on one name and the apex.
    for name in ["443.tcp", "@"] {
        let with = |label: &str, opt: Opt<'_>| {
            (
                format!("{name} TXT edns {label}"),
                q(name, 16, IN, RD, Some(&opt)),
            )
        };
        let variants = [
            with("v0", PLAIN_OPT),
            with(
                "v1",
                Opt {
                    version: 1,
                    ..PLAIN_OPT
                },
            ),
            with(
                "v255",
                Opt {
                    version: 255,
                    ..PLAIN_OPT
                },
            ),
            with(
                "do",
                Opt {
                    dnssec_ok: true,
                    ..PLAIN_OPT
                },
            ),
            with(
                "payload 512",
                Opt {
                    payload: 512,
                    ..PLAIN_OPT
                },
            ),
            with(
                "payload 100",
                Opt {
                    payload: 100,
                    ..PLAIN_OPT
                },
            ),
            with(
                "payload 65535",
                Opt {
                    payload: 65535,
                    ..PLAIN_OPT
                },
            ),
            with(
                "nsid",
                Opt {
                    options: &[0, 3, 0, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "nsid v1",
                Opt {
                    version: 1,
                    options: &[0, 3, 0, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "unknown option",
                Opt {
                    options: &[0xfd, 0xe9, 0, 2, 1, 2],
                    ..PLAIN_OPT
                },
            ),
            with(
                "bad subnet",
                Opt {
                    options: &[0, 8, 0, 4, 0, 1, 33, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "subnet",
                Opt {
                    options: &[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2],
                    ..PLAIN_OPT
                },
            ),
            with(
                "expire",
                Opt {
                    options: &[0, 9, 0, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "keepalive",
                Opt {
                    options: &[0, 11, 0, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "padding",
                Opt {
                    options: &[0, 12, 0, 4, 0, 0, 0, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "cookie short",
                Opt {
                    options: &[0, 10, 0, 4, 1, 2, 3, 4],
                    ..PLAIN_OPT
                },
            ),
            with(
                "option cut short",
                Opt {
                    options: &[0, 3, 0],
                    ..PLAIN_OPT
                },
            ),
            with(
                "option longer than rdata",
                Opt {
                    options: &[0, 3, 0, 9, 1],
                    ..PLAIN_OPT
                },
            ),
        ];
        for (case, packet) in variants {
            add(case, packet, false);
        }
    }
    // Classes.
    for (class_name, qclass) in [
        ("CH", 3),
        ("HS", 4),
        ("NONE", 254),
        ("ANY", 255),
        ("CLASS9", 9),
    ] {
        for name in ["443.tcp", "@"] {
            for (type_name, qtype) in [("TXT", 16), ("SOA", 6)] {
                add(
                    format!("{name} {type_name} class {class_name}"),
                    q(name, qtype, qclass, RD, None),
                    false,
                );
            }
        }
    }
    // CHAOS identity.
    for name in [
        "id.server.",
        "hostname.bind.",
        "version.bind.",
        "version.server.",
        "authors.bind.",
        "foo.",
    ] {
        for (type_name, qtype) in [("TXT", 16), ("A", 1), ("ANY", 255)] {
            add(
                format!("chaos {name} {type_name}"),
                q(name, qtype, 3, 0, None),
                false,
            );
        }
    }
    // Outside the zone.
    for name in [
        ".",
        "local.",
        "example.com.",
        "ports.local.example.",
        "xports.local.",
    ] {
        for (type_name, qtype) in [("A", 1), ("TXT", 16), ("NS", 2)] {
            add(
                format!("outside {name} {type_name}"),
                q(name, qtype, IN, RD, None),
                false,
            );
            add(
                format!("outside {name} {type_name} edns"),
                q(name, qtype, IN, RD, Some(&PLAIN_OPT)),
                false,
            );
        }
    }
    // Opcodes and header flags.
    for (opcode_name, opcode) in [
        ("IQUERY", 1),
        ("STATUS", 2),
        ("NOTIFY", 4),
        ("UPDATE", 5),
        ("OPCODE9", 9),
    ] {
        add(
            format!("opcode {opcode_name}"),
            q("@", 6, IN, opcode << 11, None),
            false,
        );
    }
    for (flag_name, flag) in [
        ("no RD", 0),
        ("CD", 0x0010),
        ("AD", 0x0020),
        ("Z", 0x0040),
        ("TC", 0x0200),
        ("AA", 0x0400),
        ("RA", 0x0080),
    ] {
        add(
            format!("flag {flag_name}"),
            q("443.tcp", 16, IN, flag, None),
            false,
        );
    }
    // Question counts and broken messages.
    add("qdcount 0".into(), message(0, RD, &[], None), false);
    add(
        "qdcount 2".into(),
        {
            let a = labels("443.tcp");
            let a: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
            message(0, RD, &[(&a, 16, IN), (&a, 1, IN)], None)
        },
        false,
    );
    add(
        "qdcount 0 edns".into(),
        message(0, RD, &[], Some(&PLAIN_OPT)),
        false,
    );
    add(
        "question cut short".into(),
        {
            let full = q("443.tcp", 16, IN, RD, None);
            full[..full.len() - 3].to_vec()
        },
        false,
    );
    add(
        "trailing garbage".into(),
        [q("443.tcp", 16, IN, RD, None), vec![1, 2, 3]].concat(),
        false,
    );
    add(
        "two OPT records".into(),
        {
            let mut p = q("443.tcp", 16, IN, RD, Some(&PLAIN_OPT));
            p[11] = 2;
            p.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
            p
        },
        false,
    );
    add(
        "OPT owner not root".into(),
        {
            let mut p = q("443.tcp", 16, IN, RD, None);
            p[11] = 1;
            p.extend_from_slice(&[1, b'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
            p
        },
        false,
    );
    add(
        "compression pointer in question".into(),
        {
            let mut p = message(0, RD, &[], None);
            p[5] = 1;
            p.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1]);
            p
        },
        false,
    );
    // Over TCP: answers that do not fit UDP, and a few ordinary ones.
    for (name, qtype, type_name) in [
        ("443.tcp", 16, "TXT"),
        ("25565", 16, "TXT"),
        ("@", 255, "ANY"),
        ("@", 2, "NS"),
        ("https", 16, "TXT"),
        ("nonexistent", 16, "TXT"),
        ("web.search", 16, "TXT"),
        ("help", 16, "TXT"),
    ] {
        add(
            format!("tcp {name} {type_name}"),
            q(name, qtype, IN, RD, None),
            true,
        );
        add(
            format!("tcp {name} {type_name} edns"),
            q(name, qtype, IN, RD, Some(&PLAIN_OPT)),
            true,
        );
    }
    // Transfers over UDP, from anyone: refused either way.
    for (type_name, qtype) in [("AXFR", 252), ("IXFR", 251)] {
        add(
            format!("udp {type_name}"),
            q("@", qtype, IN, 0, None),
            false,
        );
        add(
            format!("tcp {type_name} not allowed"),
            q("@", qtype, IN, 0, None),
            true,
        );
    }
    cases
}

/// A query with one question: `name` (see [`labels`]), type, class, header flags, OPT record.
fn q(name: &str, qtype: u16, qclass: u16, flags: u16, opt: Option<&Opt>) -> Vec<u8> {
    let labels = labels(name);
    let refs: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
    message(0, flags, &[(&refs, qtype, qclass)], opt)
}

/// `packet` with its ID replaced.
fn with_id(packet: &[u8], id: u16) -> Vec<u8> {
    let mut packet = packet.to_vec();
    packet[..2].copy_from_slice(&id.to_be_bytes());
    packet
}

/// Sends `case` to `server` and returns the response, or `None` for silence.
fn exchange(server: SocketAddr, case: &Case) -> Option<Vec<u8>> {
    if case.tcp {
        let mut stream = TcpStream::connect(server).unwrap();
        stream.set_read_timeout(Some(SILENCE * 5)).unwrap();
        tcp_send(&mut stream, &case.packet);
        return tcp_receive(&mut stream);
    }
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(SILENCE)).unwrap();
    socket.send_to(&case.packet, server).unwrap();
    let mut buf = vec![0u8; 65535];
    loop {
        let (len, _) = socket.recv_from(&mut buf).ok()?;
        // A late answer to an earlier case is not this one's.
        if len < 2 || buf[..2] == case.packet[..2] {
            return Some(buf[..len].to_vec());
        }
    }
}

/// What a client sees of a response, one fact per line.
fn normal(response: Option<&[u8]>) -> String {
    let Some(bytes) = response else {
        return "no answer".to_owned();
    };
    if bytes.len() < 12 {
        return format!("{} bytes", bytes.len());
    }
    let flags = u16::from_be_bytes([bytes[2], bytes[3]]);
    let names = [
        (0x8000, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0040, "z"),
        (0x0020, "ad"),
        (0x0010, "cd"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    let mut lines = vec![format!(
        "opcode {} flags {} rcode {}",
        (flags >> 11) & 0xF,
        set.join(" "),
        flags & 0xF
    )];
    let message = match Message::from_vec(bytes) {
        Ok(message) => message,
        Err(_) => {
            let counts: Vec<u16> = (4..12)
                .step_by(2)
                .map(|i| u16::from_be_bytes([bytes[i], bytes[i + 1]]))
                .collect();
            lines.push(format!("not parsed by hickory; counts {counts:?}"));
            return lines.join("\n");
        }
    };
    lines.push(format!("rcode {:?}", message.metadata.response_code));
    for query in &message.queries {
        lines.push(format!(
            "question {} {} {}",
            query.name().to_ascii().to_lowercase(),
            query.query_type(),
            query.query_class()
        ));
    }
    for (section, records) in [
        ("answer", &message.answers),
        ("authority", &message.authorities),
        ("additional", &message.additionals),
    ] {
        let set: BTreeSet<String> = records
            .iter()
            .map(|r| format!("{section} {}", r.to_string().to_lowercase()))
            .collect();
        lines.extend(set);
    }
    if let Some(edns) = &message.edns {
        lines.push(format!(
            "edns version {} do {}",
            edns.version(),
            edns.flags().dnssec_ok
        ));
        let mut options: Vec<String> = edns
            .options()
            .as_ref()
            .iter()
            .map(|(code, option)| {
                let data: Vec<u8> = option.try_into().unwrap_or_default();
                match u16::from(*code) {
                    // The info code of an Extended DNS Error; its text is free.
                    15 => format!("option ede {:?}", data.get(..2)),
                    // A cookie's value is each server's own.
                    10 => format!("option cookie {} bytes", data.len()),
                    code => format!("option {code} {data:02x?}"),
                }
            })
            .collect();
        options.sort();
        lines.extend(options);
    }
    lines.join("\n")
}

/// A listed difference: portsd's answer to `case` (or, ending in `*`, to every case starting
/// with what precedes it) differs from those of `servers`, and is `portsd`: the answer as
/// [`normal`] writes it, whole for one case, or for a pattern the lines every answer it
/// covers has; a `*` within a line stands for any text (a serial, a ranked list). So an entry
/// that excuses both peers still holds portsd to an answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allowed {
    case: String,
    servers: Vec<String>,
    portsd: String,
    reason: String,
}

impl Allowed {
    /// Whether the entry speaks of `case`.
    fn covers(&self, case: &str) -> bool {
        match self.case.strip_suffix('*') {
            Some(prefix) => case.starts_with(prefix),
            None => self.case == case,
        }
    }

    /// What is wrong with `answer` (in [`normal`]'s form) as portsd's answer to a case the
    /// entry covers, if anything.
    fn wrong_in(&self, answer: &str) -> Option<String> {
        let expected: Vec<&str> = self.portsd.trim().lines().collect();
        let lines: Vec<&str> = answer.lines().collect();
        let whole = !self.case.ends_with('*');
        let missing: Vec<&str> = (expected.iter().copied())
            .filter(|pattern| !lines.iter().any(|line| line_matches(pattern, line)))
            .collect();
        if whole && (lines.len() != expected.len() || !missing.is_empty()) {
            return Some(format!("expected\n{}", expected.join("\n")));
        }
        (!missing.is_empty()).then(|| format!("missing the lines {missing:?}"))
    }
}

/// Whether `line` is `pattern`, each `*` in it standing for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = parts.collect();
    let Some(last) = parts.pop() else {
        return rest.is_empty();
    };
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowList {
    #[serde(default)]
    difference: Vec<Allowed>,
}

fn start_nsd(dir: &Path, zone_file: &Path) -> (Process, SocketAddr) {
    on_free_port("nsd", None, |port| {
        let run = dir.join(format!("nsd-{port}"));
        fs::create_dir_all(&run).unwrap();
        let server = format!(
            "  identity: \"{IDENTITY}\"\n  version: \"{IDENTITY}\"\n  nsid: \"{NSID_HEX}\"\n\
             \x20 minimal-responses: yes\n"
        );
        let zones = format!(
            "zone:\n  name: {ZONE}\n  zonefile: \"{}\"\n",
            zone_file.display()
        );
        let config = run.join("nsd.conf");
        fs::write(&config, nsd_server_config(&run, port, &server, &zones)).unwrap();
        Process::spawn(
            "nsd",
            Command::new(program("nsd"))
                .arg("-d")
                .arg("-c")
                .arg(&config),
            dir.join(format!("nsd-{port}.log")),
        )
    })
}

fn start_knot(dir: &Path, zone_file: &Path) -> (Process, SocketAddr) {
    external::start_knot(
        dir,
        &format!(
            "    identity: \"{IDENTITY}\"\n    version: \"{IDENTITY}\"\n    nsid: 0x{NSID_HEX}\n"
        ),
        &format!(
            "template:\n  - id: default\n    semantic-checks: off\n    zonefile-sync: -1\n\
             zone:\n  - domain: {ZONE}\n    file: \"{}\"\n",
            zone_file.display()
        ),
    )
}

/// The zone answers once it is loaded: the apex SOA.
fn wait_for_zone(server: SocketAddr) {
    let probe = Case {
        name: "probe".into(),
        packet: with_id(&q("@", 6, IN, 0, None), 1),
        tcp: false,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while std::time::Instant::now() < deadline {
        if let Some(reply) = exchange(server, &probe)
            && reply.len() > 3
            && reply[3] & 0xF == 0
            && u16::from_be_bytes([reply[6], reply[7]]) == 1
        {
            return;
        }
    }
    panic!("{server} did not load {ZONE}");
}

#[test]
fn portsd_answers_as_nsd_and_knot_or_the_difference_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let zone_args = [
        "--zone",
        ZONE,
        "--ns-address",
        "127.0.0.1",
        "--services",
        "none",
    ];
    let zone_file = dir.path().join("zone");
    let exported = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .arg("export-zone")
        .args(zone_args)
        .output()
        .unwrap();
    assert!(exported.status.success());
    fs::write(&zone_file, &exported.stdout).unwrap();
    let portsd = Daemon::start_command(
        Command::new(env!("CARGO_BIN_EXE_portsd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--udp-threads", "1"])
            .args(zone_args)
            .args(["--identity", IDENTITY, "--version-string", IDENTITY])
            .args(["--nsid", NSID_HEX, "--rate-limit", "0"]),
    );
    let (_nsd, nsd) = start_nsd(dir.path(), &zone_file);
    let (_knot, knot) = start_knot(dir.path(), &zone_file);
    for server in [nsd, knot] {
        wait_for_zone(server);
    }

    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ALLOW_LIST)).unwrap();
    let allowed: AllowList = toml::from_str(&text).unwrap_or_else(|e| panic!("{ALLOW_LIST}: {e}"));
    // Per entry and server: whether a difference it explains occurred.
    let mut used: BTreeMap<(usize, String), bool> = BTreeMap::new();
    for (index, entry) in allowed.difference.iter().enumerate() {
        assert!(
            !entry.reason.trim().is_empty(),
            "{}: a reason is needed",
            entry.case
        );
        for server in &entry.servers {
            assert!(matches!(server.as_str(), "nsd" | "knot"), "{server}");
            used.insert((index, server.clone()), false);
        }
    }
    let explained = |case: &str, server: &str| {
        (allowed.difference.iter())
            .position(|entry| entry.covers(case) && entry.servers.iter().any(|s| s == server))
    };

    let cases = cases();
    let mut seen = BTreeSet::new();
    let mut unexplained = Vec::new();
    // portsd's answers that are not what the allow-list records.
    let mut unexpected = Vec::new();
    for case in &cases {
        assert!(seen.insert(case.name.clone()), "case {:?} twice", case.name);
        let ours = normal(exchange(portsd.addr, case).as_deref());
        // The first entry that speaks of the case holds portsd to its answer.
        if let Some(entry) = allowed.difference.iter().find(|e| e.covers(&case.name))
            && let Some(wrong) = entry.wrong_in(&ours)
        {
            unexpected.push(format!(
                "case {:?}, entry {:?}: portsd answered\n{ours}\n--- {wrong}",
                case.name, entry.case
            ));
        }
        for (server_name, addr) in [("nsd", nsd), ("knot", knot)] {
            let theirs = normal(exchange(addr, case).as_deref());
            if ours == theirs {
                continue;
            }
            match explained(&case.name, server_name) {
                Some(index) => {
                    used.insert((index, server_name.to_owned()), true);
                }
                None => unexplained.push(format!(
                    "case {:?}: portsd and {server_name} differ\n--- portsd\n{ours}\n--- {server_name}\n{theirs}",
                    case.name
                )),
            }
        }
    }
    let stale: Vec<String> = used
        .iter()
        .filter(|(_, seen)| !**seen)
        .map(|((index, server), _)| format!("{:?} with {server}", allowed.difference[*index].case))
        .collect();
    assert!(
        unexplained.is_empty() && stale.is_empty() && unexpected.is_empty(),
        "{} queries compared; {} differences not in {ALLOW_LIST}:\n\n{}\n\nlisted but no longer different: {stale:?}\n\n{} answers of portsd not as {ALLOW_LIST} records them:\n\n{}",
        cases.len(),
        unexplained.len(),
        unexplained.join("\n\n"),
        unexpected.len(),
        unexpected.join("\n\n")
    );
}
