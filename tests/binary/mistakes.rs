//! The mistakes people make with the command line, the environment and the configuration
//! file, each answered by one line naming the problem and what to write instead: the exact
//! line is pinned here, so a message that loses its advice fails the suite.
//!
//! Every case runs the built binary in a scratch directory holding the files it names
//! (configuration files, a certificate and someone else's key), so the messages name them as
//! the user typed them. The cases that layer a switch (flag, `PORTSD_*` variable, file) show
//! which layer won by the error that follows: `--watch` without data refuses the start, and
//! with it off the start goes on to the next check (a certificate without its key).

use std::path::Path;
use std::process::{Command, Output};

use crate::cli::{assert_one_line_failure, run_limited};
use crate::dot::TestCa;

/// The files the cases name, written into `dir`.
fn scratch(dir: &Path) {
    let files = [
        (
            "typo.toml",
            "zone = \"ports.internal\"\ntcp_idle_timout = 5\n",
        ),
        ("far.toml", "zone = \"ports.internal\"\n\nbogus = 1\n"),
        ("quoted.toml", "ttl = \"60\"\n"),
        ("listen.toml", "listen = [\"127.0.0.1\"]\n"),
        ("allow.toml", "allow = [\"10.0.0.0/33\"]\n"),
        ("watch.toml", "watch = true\n"),
        ("nozone.toml", "zone = []\n"),
        ("zonetable.toml", "[zones.\"ports.internl\"]\nnotify = []\n"),
        ("zonekey.toml", "[zones.\"ports.local\"]\nnotfy = []\n"),
        ("nowatch.toml", "watch = false\n"),
        ("services", "good 1/tcp\nbad 99999/tcp\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    // A certificate, and a key made for another one.
    let ca = TestCa::new();
    let (cert, _) = ca.issue("ns");
    let (_, other_key) = ca.issue("other");
    std::fs::copy(cert, dir.join("ns.pem")).unwrap();
    std::fs::copy(other_key, dir.join("other.key")).unwrap();
}

/// Runs the binary in `dir` with `args` and the variables `env` (and no other `PORTSD_*`).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portsd"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PORTSD_")) {
        command.env_remove(name);
    }
    command
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied());
    run_limited(&mut command, &format!("{env:?} {args:?}"))
}

/// A mistake: the command line, the variables, and the one line portsd must answer.
struct Mistake {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    said: &'static str,
}

const fn mistake(args: &'static [&'static str], said: &'static str) -> Mistake {
    Mistake {
        args,
        env: &[],
        said,
    }
}

/// `serve` needs the config file `/dev/null` in the cases that must not read the host's own
/// `/etc/portsd/portsd.toml`; `--config` comes first so the case's own flags stay visible.
const MISTAKES: &[Mistake] = &[
    // The configuration file.
    mistake(
        &["serve", "--config", "typo.toml"],
        "portsd: typo.toml:2: unknown key `tcp_idle_timout`, did you mean `tcp_idle_timeout`?",
    ),
    mistake(
        &["serve", "--config", "far.toml"],
        "portsd: far.toml:3: unknown key `bogus`: the keys are the flags of `portsd serve --help` with `_` for `-` (docs/settings.md)",
    ),
    mistake(
        &["serve", "--config", "quoted.toml"],
        "portsd: quoted.toml:1: invalid type: string \"60\", expected a whole number (no quotes), e.g. 60",
    ),
    mistake(
        &["serve", "--config", "listen.toml"],
        "portsd: listen.toml:1: not ADDR:PORT: write an IP address and a port, e.g. \"127.0.0.1:5300\"",
    ),
    mistake(
        &["serve", "--config", "allow.toml"],
        "portsd: allow.toml:1: not a network: write ADDR/PREFIX, e.g. \"192.0.2.0/24\" or \"2001:db8::/32\"",
    ),
    mistake(
        &["serve", "--config", "missing.toml"],
        "portsd: missing.toml: cannot read the configuration file (No such file or directory (os error 2)): check --config or PORTSD_CONFIG",
    ),
    // Addresses without their port, and the port of multicast DNS.
    mistake(
        &["serve", "--config", "/dev/null", "--listen", "127.0.0.1"],
        "portsd: invalid value '127.0.0.1' for '--listen <ADDR:PORT>': not ADDR:PORT: write an IP address and a port, e.g. 127.0.0.1:5300 (try --help)",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--listen", "::1"],
        "portsd: invalid value '::1' for '--listen <ADDR:PORT>': not ADDR:PORT: write an IP address and a port, e.g. [::1]:5300 (try --help)",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--http", "localhost:8080"],
        "portsd: invalid value 'localhost:8080' for '--http <ADDR:PORT>': not ADDR:PORT: write an IP address and a port, e.g. 127.0.0.1:5300 or [::1]:5300 (try --help)",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--notify", "192.0.2.1"],
        "portsd: invalid value '192.0.2.1' for '--notify <ADDR:PORT>': not ADDR:PORT: write an IP address and a port, e.g. 192.0.2.1:5300 (try --help)",
    ),
    mistake(
        &[
            "serve",
            "--config",
            "/dev/null",
            "--listen",
            "127.0.0.1:5353",
        ],
        "portsd: --listen 127.0.0.1:5353: port 5353 is multicast DNS's (avahi and systemd-resolved answer there): pick another port, e.g. 127.0.0.1:5300",
    ),
    Mistake {
        args: &["serve", "--config", "/dev/null"],
        env: &[("PORTSD_LISTEN", "[::1]:5353")],
        said: "portsd: --listen [::1]:5353: port 5353 is multicast DNS's (avahi and systemd-resolved answer there): pick another port, e.g. [::1]:5300",
    },
    mistake(
        &["serve", "--config", "/dev/null", "--allow", "10.0.0.0/33"],
        "portsd: invalid value '10.0.0.0/33' for '--allow <CIDR>': not a network: write ADDR/PREFIX, e.g. 192.0.2.0/24 or 2001:db8::/32 (try --help)",
    ),
    // Numbers.
    mistake(
        &["serve", "--config", "/dev/null", "--ttl", "-5"],
        "portsd: invalid value '-5' for '--ttl <TTL>': -5 is negative: give a whole number from 0 to 4294967295 (try --help)",
    ),
    mistake(
        &["export-zone", "--ttl", "-5"],
        "portsd: invalid value '-5' for '--ttl <TTL>': -5 is negative: give a whole number from 0 to 4294967295 (try --help)",
    ),
    mistake(
        &[
            "serve",
            "--config",
            "/dev/null",
            "--soa-refresh",
            "99999999999",
        ],
        "portsd: invalid value '99999999999' for '--soa-refresh <SECONDS>': 99999999999 is too large: give a whole number from 0 to 4294967295 (try --help)",
    ),
    mistake(
        &[
            "serve",
            "--config",
            "/dev/null",
            "--tcp-idle-timeout",
            "10s",
        ],
        "portsd: invalid value '10s' for '--tcp-idle-timeout <TCP_IDLE_TIMEOUT>': \"10s\" is not a number: give a whole number from 0 to 18446744073709551615 (try --help)",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--soa-retry", "7200"],
        "portsd: the SOA retry (7200 s) is longer than the refresh (3600 s)",
    ),
    // Certificates.
    mistake(
        &[
            "serve",
            "--config",
            "/dev/null",
            "--tls-cert",
            "ns.pem",
            "--tls-key",
            "other.key",
        ],
        "portsd: ns.pem and other.key: the key is not the certificate's (the first certificate in the file was made for another key): give the key the certificate was issued for",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--tls-cert", "ns.pem"],
        "portsd: --tls-cert and --tls-key go together: give both or neither",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--https", "127.0.0.1:0"],
        "portsd: --https needs --tls-cert and --tls-key",
    ),
    // A switch at every layer: the flag over the variable over the file.
    mistake(
        &["serve", "--config", "/dev/null", "--watch"],
        "portsd: --watch needs a data directory (--data or `data` in the config file) to watch",
    ),
    mistake(
        &["serve", "--config", "watch.toml"],
        "portsd: --watch needs a data directory (--data or `data` in the config file) to watch",
    ),
    mistake(
        &[
            "serve",
            "--config",
            "watch.toml",
            "--watch=false",
            "--tls-cert",
            "ns.pem",
        ],
        "portsd: --tls-cert and --tls-key go together: give both or neither",
    ),
    Mistake {
        args: &["serve", "--config", "watch.toml", "--tls-cert", "ns.pem"],
        env: &[("PORTSD_WATCH", "false")],
        said: "portsd: --tls-cert and --tls-key go together: give both or neither",
    },
    Mistake {
        args: &["serve", "--config", "nowatch.toml"],
        env: &[("PORTSD_WATCH", "true")],
        said: "portsd: --watch needs a data directory (--data or `data` in the config file) to watch",
    },
    Mistake {
        args: &["serve", "--config", "watch.toml", "--watch=true"],
        env: &[("PORTSD_WATCH", "off")],
        said: "portsd: --watch needs a data directory (--data or `data` in the config file) to watch",
    },
    // Several zones.
    mistake(
        &[
            "serve",
            "--config",
            "/dev/null",
            "--zone",
            "ports.local",
            "--zone",
            "Ports.Local.",
        ],
        "portsd: --zone ports.local is given twice: name each zone once",
    ),
    Mistake {
        args: &["serve", "--config", "/dev/null"],
        env: &[("PORTSD_ZONE", "ports.example.org,lab.ports.example.org")],
        said: "portsd: --zone lab.ports.example.org is inside --zone ports.example.org: a name can belong to one zone only; serve one of them, or pick a name outside the other (e.g. ports.internal beside ports.local)",
    },
    mistake(
        &["serve", "--config", "nozone.toml"],
        "portsd: no zone to serve: give --zone, e.g. --zone ports.local",
    ),
    mistake(
        &[
            "export-zone",
            "--zone",
            "ports.local",
            "--zone",
            "ports.internal",
        ],
        "portsd: export-zone writes one zone and 2 are given (ports.local, ports.internal): name one with --zone",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--log-queries=maybe"],
        "portsd: invalid value 'maybe' for '--log-queries[=<BOOL>]': \"maybe\" is not a switch's value: write true or false (try --help)",
    ),
    // Identity and secrets.
    mistake(
        &["serve", "--config", "/dev/null", "--nsid", "ns1"],
        "portsd: --nsid \"ns1\": expected hex digits (`6e7331`) or `ascii_` and text (`ascii_ns1`), 1 to 255 bytes",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--cookie-secret", "xyz"],
        "portsd: --cookie-secret: expected 32 hex digits (128 bits), optionally ,32 more for the previous secret",
    ),
    // Lookups.
    mistake(
        &["lookup", "minecraft", "--services", "none"],
        "portsd: no service named \"minecraft\"; to search names and descriptions for it: portsd search minecraft",
    ),
    mistake(
        &["lookup", "99999"],
        "portsd: \"99999\" is not a port: ports are 0-65535, written without leading zeros",
    ),
    mistake(
        &["lookup", "443/xyz"],
        "portsd: cannot read \"443/xyz\": expected PORT, PORT/PROTOCOL, SERVICE or SERVICE/PROTOCOL",
    ),
    // Data files keep naming file:line.
    mistake(
        &["lookup", "443", "--services", "services"],
        "portsd: bad data: services:2: bad port \"99999\"",
    ),
    mistake(
        &["explain", "ss.txt"],
        "portsd: invalid value 'ss.txt' for '[-]': give `-` to explain the text on standard input, or nothing for this host's sockets (try --help)",
    ),
    mistake(
        &["serve", "--config", "/dev/null", "--ttl", "5", "--ttl", "6"],
        "portsd: --ttl <TTL> is given twice: give it once, with the value you mean (try --help)",
    ),
    mistake(
        &["frobnicate"],
        "portsd: unrecognized subcommand 'frobnicate' (try --help)",
    ),
];

#[test]
fn each_mistake_gets_one_line_naming_the_problem_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    scratch(dir.path());
    assert!(MISTAKES.len() >= 25, "{} cases", MISTAKES.len());
    let mut wrong = Vec::new();
    for case in MISTAKES {
        let what = format!("{:?} {:?}", case.env, case.args);
        let output = run(dir.path(), case.args, case.env);
        let line = assert_one_line_failure(&output, &what);
        if line != case.said {
            wrong.push(format!(
                "{what}\n  said:     {line}\n  expected: {}",
                case.said
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
