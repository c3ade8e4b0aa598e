//! End-to-end check of the unbound recipe (deploy/resolvers/unbound-portsd.conf):
//! the built portsd on a loopback port, Debian's unbound on another with the
//! recipe's settings (0x20 case randomisation, QNAME minimisation, stub zone),
//! and the real `dig` asking unbound. portsd runs from the example config
//! deploy/portsd.toml, so the example is checked too.
//!
//! A second test puts NSD between unbound and portsd, serving the exported zone as a
//! secondary would, and checks that keyword searches follow the zone's delegation of
//! `search.<zone>` to portsd.
//!
//! A third test runs the auth-zone recipe (deploy/resolvers/unbound-auth-zone.conf): unbound
//! transfers the whole zone from portsd, checks its ZONEMD digest, answers from its own copy
//! with portsd stopped, and refuses a copy changed by hand; searches follow the delegation.
//!
//! A fourth runs the DNS over TLS recipe (deploy/resolvers/unbound-portsd-tls.conf): unbound
//! stubs the zone to portsd's DoT listener, checking its certificate (made at run time).
//!
//! Needs the Debian packages unbound (unbound, unbound-control), nsd and
//! bind9-dnsutils (dig); a missing tool fails the test with the package name.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::Daemon as Portsd;

/// How long unbound may take to report that it is serving.
const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// Times unbound is started on a fresh port when the one picked was taken.
const UNBOUND_PORT_ATTEMPTS: usize = 3;

/// The address the shipped recipe stubs the zone to.
const RECIPE_STUB_ADDR: &str = "stub-addr: 127.0.0.1@5300";

/// A running unbound, killed and reaped when the test ends, pass or fail, with
/// its stderr read line by line on a thread so the pipe never fills.
struct Unbound {
    child: Child,
    stderr_lines: Receiver<String>,
    /// Everything read from stderr so far, for failure messages.
    log: Vec<String>,
}

impl Unbound {
    fn spawn(config_path: &Path) -> Unbound {
        let mut child = Command::new("unbound")
            .arg("-d")
            .arg("-c")
            .arg(config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start unbound ({err}); install the Debian package unbound")
            });
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, stderr_lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Unbound {
            child,
            stderr_lines,
            log: Vec::new(),
        }
    }

    /// Reads stderr until unbound logs "start of service", which it does once
    /// its listening and control sockets are open. Fails with the log when it
    /// exits first (for instance because its port was taken) or takes too long.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        self.wait_for_log("start of service")
    }

    /// Takes in what unbound has logged so far.
    fn read_log(&mut self) {
        while let Ok(line) = self.stderr_lines.try_recv() {
            self.log.push(line);
        }
    }

    /// Reads stderr until a line contains `text` (or one read before did).
    fn wait_for_log(&mut self, text: &str) -> Result<(), String> {
        if self.log.iter().any(|line| line.contains(text)) {
            return Ok(());
        }
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(remaining) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.log.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "unbound did not log {text:?} within {STARTUP_DEADLINE:?}; its log:\n{}",
                        self.log.join("\n")
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "unbound exited ({:?}); its log:\n{}",
                        self.child.wait(),
                        self.log.join("\n")
                    ));
                }
            }
        }
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        // Both calls fail only if the process is already gone and reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts portsd with the shipped example config, overriding on the command line only the
/// listening port, which must be ephemeral in a test, and the state directory, which is the
/// test's own (the example's is the host's /var/lib/portsd). So this also checks that every
/// key in the example is one portsd accepts.
fn start_portsd(state: &Path) -> Portsd {
    let example_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portsd.toml");
    let example_config = example_config.to_str().expect("UTF-8 checkout path");
    let state = state.to_str().expect("UTF-8 path");
    Portsd::start(&["--config", example_config, "--state-dir", state])
}

/// The shipped recipe `name` with each of `replaced` (what it says, what the test puts
/// there) done, after checking that it still says it.
fn recipe(name: &str, replaced: &[(&str, String)]) -> String {
    let recipe_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/resolvers")
        .join(name);
    let mut recipe = fs::read_to_string(&recipe_path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", recipe_path.display()));
    for (says, test) in replaced {
        assert!(recipe.contains(says), "{name} no longer says `{says}`");
        recipe = recipe.replace(says, test);
    }
    recipe
}

/// The stub recipe, its stub address pointed at the test's portsd.
fn stub_recipe(portsd: SocketAddr) -> String {
    let addr = format!("stub-addr: {}@{}", portsd.ip(), portsd.port());
    recipe("unbound-portsd.conf", &[(RECIPE_STUB_ADDR, addr)])
}

/// unbound's own configuration for the test: loopback only, foreground, no
/// chroot or user switch, no validator (no trust anchor is needed), and a
/// control socket for reading its cache statistics. The recipe, with its
/// addresses pointed at the test's servers, follows this.
fn unbound_config(dir: &Path, port: u16, recipe: &str) -> String {
    let dir = dir.display();
    format!(
        "server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-daemonize: no
    chroot: \"\"
    username: \"\"
    directory: \"{dir}\"
    pidfile: \"{dir}/unbound.pid\"
    use-syslog: no
    logfile: \"\"
    verbosity: 1
    num-threads: 1
    module-config: \"iterator\"
    extended-statistics: yes
    statistics-cumulative: no

remote-control:
    control-enable: yes
    control-interface: \"{dir}/control.sock\"
    control-use-cert: no

{recipe}"
    )
}

/// Starts unbound on a free loopback port, retrying on a fresh port when the
/// one picked was taken in between.
fn start_unbound(dir: &Path, recipe: &str) -> (Unbound, SocketAddr, PathBuf) {
    let config_path = dir.join("unbound.conf");
    let mut failures = Vec::new();
    for _ in 0..UNBOUND_PORT_ATTEMPTS {
        let port = crate::common::free_loopback_port();
        fs::write(&config_path, unbound_config(dir, port, recipe)).expect("writing unbound.conf");
        let mut unbound = Unbound::spawn(&config_path);
        match unbound.wait_until_serving() {
            Ok(()) => {
                let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                return (unbound, address, config_path);
            }
            Err(log) => failures.push(log),
        }
    }
    panic!("unbound did not start:\n{}", failures.join("\n---\n"));
}

/// What `dig` showed: the response code and the answer records.
struct DigAnswer {
    status: String,
    answers: Vec<String>,
    output: String,
}

fn dig_txt(unbound: SocketAddr, name: &str) -> DigAnswer {
    let output = crate::common::run_tool("dig", unbound, &["+time=2", "+tries=3", "TXT", name]);
    let status = output
        .split_once("status: ")
        .and_then(|(_, rest)| rest.split(',').next())
        .unwrap_or("no response")
        .to_string();
    let answers = output
        .split(";; ANSWER SECTION:")
        .nth(1)
        .map(|section| {
            section
                .lines()
                .skip(1)
                .take_while(|line| !line.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    DigAnswer {
        status,
        answers,
        output,
    }
}

/// unbound's counters for answers from its cache and answers it had to
/// look up, read without resetting them.
fn cache_counters(config_path: &Path) -> (u64, u64) {
    let output = Command::new("unbound-control")
        .arg("-c")
        .arg(config_path)
        .arg("stats_noreset")
        .output()
        .unwrap_or_else(|err| crate::common::missing("unbound-control", &err));
    let stats = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "unbound-control failed:\n{stats}");
    let counter = |key: &str| -> u64 {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in unbound-control stats:\n{stats}"))
    };
    (
        counter("total.num.cachehits"),
        counter("total.num.cachemiss"),
    )
}

#[test]
fn unbound_stub_zone_resolves_through_portsd() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = tempfile::tempdir().expect("a temporary directory");
    let portsd = start_portsd(state.path());
    let (_unbound, unbound, config_path) = start_unbound(dir.path(), &stub_recipe(portsd.addr));

    let https = dig_txt(unbound, "443.tcp.ports.local");
    assert_eq!(https.status, "NOERROR", "{}", https.output);
    assert!(
        https
            .answers
            .iter()
            .any(|record| record.contains("443 | tcp |")),
        "no `443 | tcp |` record in:\n{}",
        https.output
    );

    let out_of_range = dig_txt(unbound, "99999.tcp.ports.local");
    assert_eq!(out_of_range.status, "NXDOMAIN", "{}", out_of_range.output);

    let (hits_before, misses_before) = cache_counters(&config_path);
    let repeat = dig_txt(unbound, "443.tcp.ports.local");
    let (hits_after, misses_after) = cache_counters(&config_path);
    assert_eq!(repeat.status, "NOERROR", "{}", repeat.output);
    assert_eq!(
        repeat.answers.len(),
        https.answers.len(),
        "{}",
        repeat.output
    );
    assert_eq!(
        hits_after,
        hits_before + 1,
        "the repeat was not a cache hit"
    );
    assert_eq!(misses_after, misses_before, "the repeat went to portsd");
}

/// The records of a dig answer section without their TTLs (a resolver's count down), sorted.
fn without_ttls(answers: &[String]) -> Vec<String> {
    let mut records: Vec<String> = answers
        .iter()
        .map(|record| {
            let fields: Vec<&str> = record.split_whitespace().collect();
            [&fields[..1], &fields[2..]].concat().join(" ")
        })
        .collect();
    records.sort();
    records
}

/// The DoT recipe (deploy/resolvers/unbound-portsd-tls.conf): unbound stubs the zone to
/// portsd's DNS over TLS listener, checks the certificate against the test CA and the name
/// after `#`, and answers what portsd answers directly; portsd counted the question on `dot`.
/// Told to expect a name the certificate does not carry, unbound refuses the server: SERVFAIL.
#[test]
fn unbound_stub_zone_resolves_through_portsd_over_tls() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ca = crate::dot::TestCa::new();
    let (cert, key) = ca.issue("server");
    let portsd = Portsd::start(&[
        "--tls",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().expect("UTF-8 path"),
        "--tls-key",
        key.to_str().expect("UTF-8 path"),
        "--http",
        "127.0.0.1:0",
    ]);
    let dot = portsd.dot_addr();
    let tls_recipe = |name: &str| {
        recipe(
            "unbound-portsd-tls.conf",
            &[
                (
                    "stub-addr: 192.0.2.53@853#ns.ports.local",
                    format!("stub-addr: {}@{}#{name}", dot.ip(), dot.port()),
                ),
                (
                    "\"/etc/ssl/certs/ca-certificates.crt\"",
                    format!("\"{}\"", ca.path("ca.pem").display()),
                ),
            ],
        )
    };
    let (unbound_process, unbound, _) = start_unbound(dir.path(), &tls_recipe("ns.ports.local"));
    let through = dig_txt(unbound, "443.tcp.ports.local");
    assert_eq!(through.status, "NOERROR", "{}", through.output);
    let metrics = crate::common::http_get(portsd.http_addr(), "/metrics");
    let over_dot = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(
                "portsd_queries_total{transport=\"dot\",qtype=\"TXT\",rcode=\"NOERROR\"} ",
            )
        })
        .and_then(|count| count.parse::<u64>().ok());
    assert_eq!(over_dot, Some(1), "{metrics}");
    let direct = dig_txt(portsd.addr, "443.tcp.ports.local");
    assert_eq!(direct.status, "NOERROR", "{}", direct.output);
    assert!(!direct.answers.is_empty(), "{}", direct.output);
    assert_eq!(
        without_ttls(&through.answers),
        without_ttls(&direct.answers)
    );

    drop(unbound_process);
    let (_unbound, unbound, _) = start_unbound(dir.path(), &tls_recipe("other.example"));
    let refused = dig_txt(unbound, "80.tcp.ports.local");
    assert_eq!(refused.status, "SERVFAIL", "{}", refused.output);
}

/// The rank each TXT record of a dig answer section leads with (`"3 | 80 | tcp ..."`).
fn ranks(answers: &[String]) -> Vec<u32> {
    answers
        .iter()
        .map(|record| {
            let text = record.split_once('"').map_or("", |(_, text)| text);
            let rank = text.split(" | ").next().unwrap_or_default();
            rank.parse()
                .unwrap_or_else(|_| panic!("no leading rank in {record}"))
        })
        .collect()
}

/// Ranked answers come through unbound, whose default `rrset-roundrobin: yes` hands out the
/// records of a cached RRset rotated: the order on the wire is lost, the rank in each record
/// puts it back. nmap's frequencies come from a small file made here, so the ranks are known.
#[test]
fn ranked_answers_keep_their_order_through_unbound() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = tempfile::tempdir().expect("a temporary directory");
    let nmap = dir.path().join("nmap-services");
    fs::write(
        &nmap,
        "http\t80/tcp\t0.4\nhttps\t443/tcp\t0.3\nssh\t22/tcp\t0.2\nftp\t21/tcp\t0.1\n\
         minecraft\t25565/tcp\t0.05\n",
    )
    .unwrap();
    let example_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portsd.toml");
    let portsd = Portsd::start(&[
        "--config",
        example_config.to_str().expect("UTF-8 path"),
        "--state-dir",
        state.path().to_str().expect("UTF-8 path"),
        "--frequencies",
        nmap.to_str().expect("UTF-8 path"),
    ]);
    let (_unbound, unbound, _) = start_unbound(dir.path(), &stub_recipe(portsd.addr));
    for name in ["top.tcp.ports.local", "minecraft.search.ports.local"] {
        let mut rotated = false;
        for _ in 0..20 {
            let answer = dig_txt(unbound, name);
            assert_eq!(answer.status, "NOERROR", "{}", answer.output);
            let got = ranks(&answer.answers);
            assert!(got.len() >= 3, "{}", answer.output);
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                (1..=got.len() as u32).collect::<Vec<_>>(),
                "ranks 1..n, each once: {}",
                answer.output
            );
            if name.starts_with("top") {
                let by_rank: Vec<String> = sorted
                    .iter()
                    .map(|rank| {
                        let at = got.iter().position(|r| r == rank).unwrap_or_default();
                        let text = answer.answers[at].split_once('"').map_or("", |(_, t)| t);
                        text.split(" | ").nth(1).unwrap_or_default().to_owned()
                    })
                    .collect();
                assert_eq!(
                    by_rank,
                    ["80", "443", "22", "21", "25565"],
                    "{}",
                    answer.output
                );
            }
            if got != sorted {
                rotated = true;
                break;
            }
        }
        assert!(
            rotated,
            "unbound never rotated {name}: the test would not show the rank is needed"
        );
    }
}

/// NSD serving the zone file `export-zone` wrote, as a secondary would after a transfer, on a
/// free loopback port; killed when the test ends.
struct Nsd(Child);

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts NSD on `zone_file` and waits (with a deadline) until it answers the zone's SOA,
/// retrying on a fresh port when the one picked was taken.
fn start_nsd(dir: &Path, zone_file: &Path) -> (Nsd, SocketAddr) {
    let mut failures = Vec::new();
    for attempt in 0..UNBOUND_PORT_ATTEMPTS {
        let port = crate::common::free_loopback_port();
        let d = dir.display();
        let config = format!(
            "server:\n    ip-address: 127.0.0.1\n    port: {port}\n    do-ip6: no\n    \
             username: \"\"\n    chroot: \"\"\n    zonesdir: \"{d}\"\n    pidfile: \"{d}/nsd{attempt}.pid\"\n    \
             xfrdfile: \"{d}/xfrd.state\"\n    zonelistfile: \"{d}/zone.list\"\n    database: \"\"\n    \
             logfile: \"{d}/nsd.log\"\n    server-count: 1\n    verbosity: 1\n\
             remote-control:\n    control-enable: no\n\
             zone:\n    name: \"ports.local\"\n    zonefile: \"{}\"\n",
            zone_file.display()
        );
        let config_path = dir.join("nsd.conf");
        fs::write(&config_path, config).expect("writing nsd.conf");
        let child = Command::new("nsd")
            .args(["-d", "-c"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start nsd ({err}); install the Debian package nsd")
            });
        let mut nsd = Nsd(child);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + STARTUP_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = nsd.0.try_wait() {
                break;
            }
            let soa = crate::common::run_tool(
                "dig",
                addr,
                &["+short", "+time=1", "+tries=1", "SOA", "ports.local"],
            );
            if soa.contains("ns.ports.local.") {
                return (nsd, addr);
            }
        }
        let _ = nsd.0.kill();
        failures.push(fs::read_to_string(dir.join("nsd.log")).unwrap_or_default());
    }
    panic!("nsd did not start:\n{}", failures.join("\n---\n"));
}

/// portsd on port 53 of a loopback address of its own (the zone's name server address, where
/// a delegation leads), with `args` besides; `group` keeps concurrent tests apart. Loopback
/// addresses other than 127.0.0.1 need no setup on Linux; the first with port 53 free is taken.
fn portsd_on_port_53(group: u8, args: &[&str]) -> (Portsd, Ipv4Addr) {
    (1..=250u8)
        .map(|host| Ipv4Addr::new(127, 53 + group, std::process::id() as u8, host))
        .find_map(|ip| {
            std::net::UdpSocket::bind((ip, 53)).ok()?;
            std::net::TcpListener::bind((ip, 53)).ok()?;
            let (listen, address) = (format!("{ip}:53"), ip.to_string());
            let mut all = vec!["--listen", &listen, "--ns-address", &address];
            all.extend(["--services", "none"]);
            all.extend(args);
            Some((Portsd::start(&all), ip))
        })
        .expect("a loopback address with port 53 free")
}

/// A resolver whose only way into the zone is a secondary (NSD with the exported zone) still
/// gets search answers: the zone delegates `search.<zone>` to its name server, and portsd,
/// listening there on port 53, answers the search zone. Loopback addresses other than
/// 127.0.0.1 need no setup on Linux; the test takes one whose port 53 is free.
#[test]
fn searches_behind_a_secondary_follow_the_delegation_to_portsd() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (portsd, ns_address) = portsd_on_port_53(0, &[]);
    let zone_file = dir.path().join("ports.local.zone");
    let export = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args(["export-zone", "--services", "none", "--ns-address"])
        .arg(ns_address.to_string())
        .output()
        .expect("export-zone runs");
    assert!(export.status.success());
    fs::write(&zone_file, &export.stdout).expect("writing the zone file");
    let (_nsd, nsd) = start_nsd(dir.path(), &zone_file);
    let (_unbound, unbound, _) = start_unbound(dir.path(), &stub_recipe(nsd));

    let port = dig_txt(unbound, "443.tcp.ports.local");
    assert_eq!(port.status, "NOERROR", "{}", port.output);
    let search = dig_txt(unbound, "wireguard.search.ports.local");
    assert_eq!(search.status, "NOERROR", "{}", search.output);
    assert!(
        search
            .output
            .contains("\"1 | 51820 | udp | Unofficial | - | WireGuard protocol\""),
        "{}",
        search.output
    );
    let none = dig_txt(unbound, "nosuchwordatall.search.ports.local");
    assert_eq!(none.status, "NXDOMAIN", "{}", none.output);
    // The secondary itself refers search names to portsd and answers nothing below the cut.
    let referral = crate::common::run_tool(
        "dig",
        nsd,
        &["+norec", "TXT", "wireguard.search.ports.local"],
    );
    assert!(
        referral.contains("search.ports.local.\t3600\tIN\tNS\tns.ports.local."),
        "{referral}"
    );
    drop(portsd);
}

/// What the auth-zone recipe says for the primary and the copy, replaced by the test's.
const RECIPE_PRIMARY: &str = "primary: 192.0.2.53@53";
const RECIPE_ZONEFILE: &str = "zonefile: \"/var/lib/unbound/ports.local.zone\"";

/// The auth-zone recipe transferring from `primary` and keeping its copy in `zonefile`.
fn auth_zone_recipe(primary: Ipv4Addr, zonefile: &Path) -> String {
    recipe(
        "unbound-auth-zone.conf",
        &[
            (RECIPE_PRIMARY, format!("primary: {primary}@53")),
            (
                RECIPE_ZONEFILE,
                format!("zonefile: \"{}\"", zonefile.display()),
            ),
        ],
    )
}

/// unbound with the auth-zone recipe loads the zone from portsd by AXFR and checks its digest,
/// sends searches through the zone's delegation to portsd, answers from its own copy once
/// portsd is stopped, and refuses a copy with one record changed by hand.
#[test]
fn unbound_holds_the_zone_checks_its_digest_and_answers_with_portsd_stopped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (portsd, ip) = portsd_on_port_53(1, &["--allow-transfer", "127.0.0.0/8"]);
    let zonefile = dir.path().join("ports.local.zone");
    let (mut holder, unbound, _) = start_unbound(dir.path(), &auth_zone_recipe(ip, &zonefile));
    let soa = |server: SocketAddr| {
        crate::common::run_tool("dig", server, &["+short", "+time=2", "SOA", "ports.local"])
    };
    let served = soa(portsd.addr);
    assert!(served.contains("hostmaster.ports.local."), "{served}");
    // Loaded once unbound answers the primary's SOA (it has nowhere else to find it).
    let deadline = Instant::now() + Duration::from_secs(90);
    while soa(unbound) != served {
        assert!(
            Instant::now() < deadline,
            "unbound did not load the zone: {}",
            holder.log.join("\n")
        );
        thread::sleep(Duration::from_millis(100));
    }
    let copy = fs::read_to_string(&zonefile).expect("unbound keeps its copy");
    assert!(copy.contains("ZONEMD"), "the copy carries the digest");
    let search = dig_txt(unbound, "wireguard.search.ports.local");
    assert!(
        search.output.contains("51820 | udp | Unofficial"),
        "the search went through the delegation: {}",
        search.output
    );

    drop(portsd);
    for (name, text) in [
        ("22.tcp.ports.local", "\"22 | tcp |"),
        ("https.ports.local", "\"443 | tcp |"),
        ("8080.udp.ports.local", "\"8080 | udp |"),
    ] {
        let answer = dig_txt(unbound, name);
        assert_eq!(answer.status, "NOERROR", "{}", answer.output);
        assert!(answer.output.contains(text), "{}", answer.output);
    }
    holder.read_log();
    assert!(
        !holder
            .log
            .iter()
            .any(|l| l.contains("ZONEMD verification failed")),
        "{}",
        holder.log.join("\n")
    );
    drop(holder);

    // The same copy with one record changed by hand, portsd still stopped: refused.
    let at = copy
        .find("\n80.tcp.ports.local.")
        .expect("port 80/tcp in the copy");
    let quote = at + copy[at..].find('"').expect("a TXT record");
    let tampered = format!("{}\"changed by hand {}", &copy[..quote], &copy[quote + 1..]);
    let other = dir.path().join("other");
    fs::create_dir_all(&other).unwrap();
    let tampered_file = other.join("ports.local.zone");
    fs::write(&tampered_file, tampered).unwrap();
    let (mut refuser, unbound, _) = start_unbound(&other, &auth_zone_recipe(ip, &tampered_file));
    refuser
        .wait_for_log("ZONEMD verification failed")
        .expect("unbound checks the digest of the copy it loads");
    let answer = dig_txt(unbound, "80.tcp.ports.local");
    assert_ne!(answer.status, "NOERROR", "{}", answer.output);
    assert!(
        !answer.output.contains("changed by hand"),
        "{}",
        answer.output
    );
}
