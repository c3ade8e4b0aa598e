//! The Debian package and the units, run the way a Debian machine runs them: under the host's
//! systemd booted as PID 1 of private namespaces (`real_systemd`). The package is built by
//! `cargo deb` when the test starts (a no-op build and a repack when `.ci/run` built it
//! already), so what is tested is always the current code.
//!
//! Also the checks that need no systemd: the package's units and configuration differ from
//! the manual install's only where they must, the shipped man pages and completions are what
//! the binary generates, and lintian finds no error in the package.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::fixture_http::{Reply, ok, serve_fixtures};
use crate::real_systemd::RealSystemd;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the package once per test process and returns its path.
fn package() -> &'static Path {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        let _machine = crate::common::machine_to_itself();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        // The variables cargo sets for a test process would reach build scripts that watch
        // them (ring's watches CARGO_MANIFEST_DIR) and make this build and a `cargo deb` from
        // the shell rebuild each other's release artifacts.
        let set_by_cargo_test = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_EXE_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ];
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if set_by_cargo_test
                .iter()
                .any(|prefix| text.starts_with(prefix))
            {
                command.env_remove(&name);
            }
        }
        let output = command
            .args(["deb", "--quiet"])
            .current_dir(repository())
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo deb failed (install it with `cargo install cargo-deb --locked`, as \
             .ci/setup does):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        PathBuf::from(path.lines().last().expect("cargo deb names the package"))
    })
}

/// Boots a system and copies the package into the shared directory.
fn boot_with_package() -> (RealSystemd, String) {
    let system = RealSystemd::boot();
    let name = package()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    fs::copy(package(), system.share.path().join(&name)).expect("copying the package");
    (system, format!("/mnt/share/{name}"))
}

/// Asks from 127.0.0.1, which the shipped configuration's `allow` list admits, whatever
/// address the server listens on.
fn dig(system: &RealSystemd, server: &str, port: &str, extra: &[&str], name: &str) -> String {
    let mut args = vec![
        "dig",
        "+short",
        "+time=2",
        "+tries=1",
        "-b",
        "127.0.0.1",
        server,
        "-p",
        port,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["TXT", name]);
    system.stdout(&args)
}

const HTTPS_ANSWER: &str = "\"443 | tcp | Yes | https | Hypertext Transfer Protocol Secure";

/// Asserts that the server at `server`:`port` answers over UDP and TCP.
fn assert_answers(system: &RealSystemd, server: &str, port: &str) {
    for transport in ["+notcp", "+tcp"] {
        let answer = dig(system, server, port, &[transport], "443.tcp.ports.local");
        assert!(
            answer.starts_with(HTTPS_ANSWER),
            "{transport} answer from {server}:{port}: {answer:?}"
        );
    }
}

/// `systemctl reload portsd` and the daemon's word for it in the journal.
fn reload_and_wait(system: &RealSystemd) {
    system.stdout(&["systemctl", "reload", "portsd.service"]);
    system.wait_for(Duration::from_secs(10), "the reload in the journal", || {
        let journal = system.journal("portsd.service");
        journal.contains("reloaded the data").then_some(())
    });
}

/// Dynamic users are allocated from this range (systemd's `DYNAMIC_UID_MIN`..`MAX`).
const DYNAMIC_UIDS: std::ops::RangeInclusive<u32> = 61184..=65519;

/// Asserts the sandbox of a unit's main process: a system-call filter, the capabilities
/// expected, and a dynamic user.
fn assert_confined(system: &RealSystemd, unit: &str, capabilities: &str) {
    assert_eq!(
        system.main_process_status(unit, "Seccomp"),
        "2",
        "seccomp filter mode"
    );
    assert_eq!(system.main_process_status(unit, "NoNewPrivs"), "1");
    assert_eq!(system.main_process_status(unit, "CapEff"), capabilities);
    let uid = system.main_process_status(unit, "Uid");
    let uid: u32 = uid.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        DYNAMIC_UIDS.contains(&uid),
        "uid {uid} is not a dynamic user"
    );
}

#[test]
fn the_package_installs_serves_reloads_and_purges_under_a_real_systemd() {
    let (system, deb) = boot_with_package();
    system.stdout(&["apt-get", "install", "-y", "-q", &deb]);

    // Installed: the socket enabled and listening, nothing running until a query comes.
    assert_eq!(
        system
            .stdout(&["systemctl", "is-enabled", "portsd.socket"])
            .trim(),
        "enabled"
    );
    assert_eq!(
        system
            .stdout(&["systemctl", "is-active", "portsd.socket"])
            .trim(),
        "active"
    );
    assert_eq!(
        system
            .stdout(&["systemctl", "is-enabled", "portsd-update.timer"])
            .trim(),
        "enabled"
    );
    let listening = system.stdout(&["ss", "-H", "-l", "-n", "-u", "-t"]);
    assert_eq!(
        listening.matches("127.0.0.1:5300").count(),
        2,
        "UDP and TCP listeners: {listening}"
    );
    assert_answers(&system, "@127.0.0.1", "5300");
    assert_eq!(
        system
            .stdout(&["systemctl", "is-active", "portsd.service"])
            .trim(),
        "active"
    );
    // HTTP on loopback from the named socket of portsd-http.socket, served by the same daemon.
    let api = system.stdout(&[
        "curl",
        "-sS",
        "--fail",
        "http://127.0.0.1:8053/v1/ports/443/tcp",
    ]);
    assert!(api.contains("\"service\":\"https\""), "{api}");
    let page = system.stdout(&[
        "curl",
        "-sS",
        "--fail",
        "http://127.0.0.1:8053/port/443/tcp",
    ]);
    assert!(
        page.contains("<a class=\"port\" href=\"/port/443/tcp\">"),
        "{page}"
    );
    assert_confined(&system, "portsd.service", "0000000000000000");
    // The data directory was seeded: the daemon serves /var/lib/portsd/data.
    let seeded = system.stdout(&["ls", "-l", "/var/lib/portsd/data/"]);
    assert!(
        seeded.contains("ports.tsv -> /usr/share/portsd/data/ports.tsv")
            && seeded.contains("local.tsv -> /etc/portsd/local.tsv"),
        "state directory: {seeded}"
    );

    // Reload: the journal shows it and the server keeps answering.
    reload_and_wait(&system);
    assert_answers(&system, "@127.0.0.1", "5300");

    // The watchdog: with a 1 s interval, three intervals pass with no restart.
    let dropin = "/etc/systemd/system/portsd.service.d/watchdog.conf";
    system.stdout(&["mkdir", "-p", "/etc/systemd/system/portsd.service.d"]);
    system.stdout(&[
        "sh",
        "-c",
        &format!("printf '[Service]\\nWatchdogSec=1s\\n' > {dropin}"),
    ]);
    system.stdout(&["systemctl", "daemon-reload"]);
    system.stdout(&["systemctl", "restart", "portsd.service"]);
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert_answers(&system, "@127.0.0.1", "5300");
    }
    let journal = system.journal("portsd.service");
    assert!(
        !journal.contains("Watchdog timeout"),
        "the watchdog fired:\n{journal}"
    );
    assert_eq!(
        system
            .stdout(&["systemctl", "show", "-P", "NRestarts", "portsd"])
            .trim(),
        "0"
    );
    assert_eq!(
        system
            .stdout(&["systemctl", "show", "-P", "WatchdogUSec", "portsd"])
            .trim(),
        "1s"
    );
    system.stdout(&["rm", dropin]);

    // The port 53 drop-in from the package's examples, unchanged, on its address.
    system.stdout(&["ip", "address", "add", "192.0.2.53/32", "dev", "lo"]);
    system.stdout(&["mkdir", "-p", "/etc/systemd/system/portsd.socket.d"]);
    system.stdout(&[
        "cp",
        "/usr/share/doc/portsd/examples/port53.conf",
        "/etc/systemd/system/portsd.socket.d/port53.conf",
    ]);
    system.stdout(&["systemctl", "daemon-reload"]);
    system.stdout(&["systemctl", "stop", "portsd.service"]);
    system.stdout(&["systemctl", "restart", "portsd.socket"]);
    assert_answers(&system, "@192.0.2.53", "53");
    assert_confined(&system, "portsd.service", "0000000000000000");
    let listening = system.stdout(&["ss", "-H", "-l", "-n", "-u", "-t"]);
    assert!(
        !listening.contains("127.0.0.1:5300"),
        "the drop-in replaces 5300: {listening}"
    );

    // DNS over TLS and over HTTPS as docs/encrypted-dns.md has it, the package's examples
    // unchanged: the pair made by its internal CA recipe, then its `systemd-tls` recipe run as
    // written (the pair installed where tls.conf takes it from, the key root's alone; the
    // sockets on the port 53 address) in the directory holding the CA's certificate. kdig and
    // dig check the certificate against that CA and its name. The service stays without
    // capabilities: systemd binds 853 and 443, and the drop-in's root command copies it the
    // pair.
    let share = system.share.path();
    for block in crate::docs::recipe("internal-ca") {
        crate::docs::run_recipe_block(&block, share, &Default::default());
    }
    let mut asked = String::new();
    for block in crate::docs::recipe("systemd-tls") {
        let script = format!("cd /mnt/share\n{}", block.text());
        let output = system.run(&["sh", "-ec", &script]);
        assert!(
            output.status.success(),
            "{} failed:\n{}{}\njournal:\n{}",
            block.place(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            system.journal("portsd.service")
        );
        asked.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    assert_eq!(
        asked.matches(HTTPS_ANSWER).count(),
        2,
        "kdig over TLS and dig over HTTPS each get the answer:\n{asked}"
    );
    assert_answers(&system, "@192.0.2.53", "53");
    assert_confined(&system, "portsd.service", "0000000000000000");
    // A reload copies the pair again and portsd rereads it: how a renewal is taken.
    system.stdout(&["systemctl", "reload", "portsd.service"]);
    system.wait_for(Duration::from_secs(10), "the certificate reread", || {
        let journal = system.journal("portsd.service");
        journal
            .contains("reread the TLS certificate and key")
            .then_some(())
    });
    system.stdout(&[
        "systemctl",
        "disable",
        "--now",
        "portsd-tls.socket",
        "portsd-https.socket",
    ]);
    system.stdout(&[
        "rm",
        "-r",
        "/etc/systemd/system/portsd-tls.socket",
        "/etc/systemd/system/portsd-https.socket",
        "/etc/systemd/system/portsd.service.d/tls.conf",
        "/etc/portsd/tls",
    ]);
    system.stdout(&["systemctl", "daemon-reload"]);

    // Purge: everything stops, the units, the configuration and the state go.
    system.stdout(&["apt-get", "purge", "-y", "-q", "portsd"]);
    for unit in [
        "portsd.service",
        "portsd.socket",
        "portsd-http.socket",
        "portsd-update.timer",
    ] {
        let active = system.run(&["systemctl", "is-active", unit]);
        assert_eq!(
            String::from_utf8_lossy(&active.stdout).trim(),
            "inactive",
            "{unit}"
        );
    }
    let units = system.stdout(&["systemctl", "list-unit-files", "--no-legend", "portsd*"]);
    assert!(
        !units.contains("portsd.") && !units.contains("portsd-update"),
        "{units}"
    );
    for path in [
        "/etc/portsd",
        "/var/lib/portsd",
        "/var/lib/private/portsd",
        "/usr/bin/portsd",
    ] {
        // Asked through a shell that must succeed, so that a failed command is not taken
        // for a missing path.
        let found = system.stdout(&[
            "sh",
            "-c",
            &format!("if test -e {path}; then echo present; else echo absent; fi"),
        ]);
        assert_eq!(found.trim(), "absent", "{path} is left");
    }
    let listening = system.stdout(&["ss", "-H", "-l", "-n", "-u", "-t"]);
    assert!(
        !listening.contains(":53 ") && !listening.contains(":5300"),
        "{listening}"
    );
}

/// Starts the fixture server inside `system`'s network namespace (from a thread that joins
/// it; the server's threads stay there) and returns its address as seen from inside.
fn serve_fixtures_inside(
    system: &RealSystemd,
    replies: std::collections::HashMap<&'static str, Reply>,
) -> std::net::SocketAddr {
    let namespace = system.network_namespace();
    std::thread::spawn(move || {
        nix::sched::setns(&namespace, nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("joining the system's network namespace");
        serve_fixtures(replies)
    })
    .join()
    .expect("the fixture server starts")
}

/// A record on a port nobody lists, added to the bundled registry as a newer one would.
const NEW_RECORD: &str = "portsd-probe,47999,tcp,portsd update test record,,,,,,,,\r\n";

/// The package's update service under systemd: as the dynamic user it shares with portsd, it
/// downloads a newer registry into the state directory and has the running daemon reload,
/// which then answers the new record; a failed download fails the unit and keeps the file.
#[test]
fn the_update_service_refreshes_the_registry_and_the_daemon_reloads() {
    let (system, deb) = boot_with_package();
    let bundled = fs::read(repository().join("data/iana-service-names-port-numbers.csv")).unwrap();
    let mut newer = bundled.clone();
    newer.extend_from_slice(NEW_RECORD.as_bytes());
    let server = serve_fixtures_inside(
        &system,
        std::collections::HashMap::from([("/newer.csv", ok("text/csv", newer.clone()))]),
    );
    system.stdout(&["apt-get", "install", "-y", "-q", &deb]);
    let timer = |property| {
        let value = system.stdout(&["systemctl", "show", "-P", property, "portsd-update.timer"]);
        value.trim().to_owned()
    };
    assert_eq!(timer("RandomizedDelayUSec"), "1d");
    assert!(
        timer("TimersCalendar").contains("OnCalendar=Mon *-*-* 00:00:00"),
        "{}",
        timer("TimersCalendar")
    );
    assert_answers(&system, "@127.0.0.1", "5300");
    let name = "47999.tcp.ports.local";
    assert!(dig(&system, "@127.0.0.1", "5300", &[], name).contains("Unassigned"));

    let set_url = |path: &str| {
        let dir = "/etc/systemd/system/portsd-update.service.d";
        system.stdout(&["mkdir", "-p", dir]);
        let conf = format!("[Service]\nEnvironment=PORTSD_UPDATE_URL=http://{server}{path}\n");
        fs::write(system.share.path().join("url.conf"), conf).unwrap();
        system.stdout(&["cp", "/mnt/share/url.conf", &format!("{dir}/url.conf")]);
        system.stdout(&["systemctl", "daemon-reload"]);
    };
    let registry = "/var/lib/portsd/data/iana-service-names-port-numbers.csv";

    // A 404: the unit fails, the seeded registry stays, nothing is reloaded.
    set_url("/missing.csv");
    let failed = system.run(&["systemctl", "start", "portsd-update.service"]);
    assert!(
        !failed.status.success(),
        "a failed download must fail the unit"
    );
    let status = system.stdout(&["systemctl", "show", "-P", "ExecMainStatus", "portsd-update"]);
    assert_eq!(status.trim(), "3");
    assert_eq!(system.stdout(&["cat", registry]).into_bytes(), bundled);

    // The newer registry: replaced in the state directory, reported, reloaded, answered.
    set_url("/newer.csv");
    system.stdout(&["systemctl", "start", "portsd-update.service"]);
    let report = system.journal("portsd-update.service");
    assert!(report.contains("1 added, 0 removed, 0 changed"), "{report}");
    assert_eq!(system.stdout(&["cat", registry]).into_bytes(), newer);
    system.wait_for(
        Duration::from_secs(10),
        "portsd to reload the new registry",
        || {
            system
                .journal("portsd.service")
                .contains("reloaded the data")
                .then_some(())
        },
    );
    let probe = "\"47999 | tcp | Assigned | portsd-probe | portsd update test record\"";
    assert_eq!(dig(&system, "@127.0.0.1", "5300", &[], name).trim(), probe);

    // Reinstalling (the upgrade path of the maintainer scripts) restarts portsd and keeps
    // the downloaded registry and the socket's enablement.
    let pid_before = system.stdout(&["systemctl", "show", "-P", "MainPID", "portsd"]);
    system.stdout(&["apt-get", "install", "--reinstall", "-y", "-q", &deb]);
    let pid_after = system.stdout(&["systemctl", "show", "-P", "MainPID", "portsd"]);
    assert_ne!(
        pid_before, pid_after,
        "the upgrade restarts a running portsd"
    );
    assert_eq!(
        system
            .stdout(&["systemctl", "is-enabled", "portsd.socket"])
            .trim(),
        "enabled"
    );
    assert_eq!(system.stdout(&["cat", registry]).into_bytes(), newer);
    assert_eq!(dig(&system, "@127.0.0.1", "5300", &[], name).trim(), probe);
}

/// The manual install of deploy/README.md with the standalone unit: portsd binds its own
/// sockets and holds only CAP_NET_BIND_SERVICE.
#[test]
fn the_standalone_unit_serves_under_a_real_systemd() {
    let system = RealSystemd::boot();
    let share = system.share.path();
    fs::copy(env!("CARGO_BIN_EXE_portsd"), share.join("portsd")).unwrap();
    for file in ["standalone/portsd.service", "portsd.toml"] {
        let name = Path::new(file).file_name().unwrap();
        fs::copy(repository().join("deploy").join(file), share.join(name)).unwrap();
    }
    system.stdout(&[
        "install",
        "-m",
        "0755",
        "/mnt/share/portsd",
        "/usr/local/bin/portsd",
    ]);
    system.stdout(&[
        "install",
        "-D",
        "-m",
        "0644",
        "/mnt/share/portsd.toml",
        "/etc/portsd/portsd.toml",
    ]);
    system.stdout(&[
        "install",
        "-m",
        "0644",
        "/mnt/share/portsd.service",
        "/etc/systemd/system/",
    ]);
    system.stdout(&["systemctl", "daemon-reload"]);
    system.stdout(&["systemctl", "enable", "--now", "portsd.service"]);
    system.wait_for(Duration::from_secs(10), "portsd to listen", || {
        let listening = system.stdout(&["ss", "-H", "-l", "-n", "-t"]);
        listening.contains("127.0.0.1:5300").then_some(())
    });
    assert_answers(&system, "@127.0.0.1", "5300");
    // CAP_NET_BIND_SERVICE is bit 10.
    assert_confined(&system, "portsd.service", "0000000000000400");
    reload_and_wait(&system);
    system.stdout(&["systemctl", "stop", "portsd.service"]);
    let show = |property| system.stdout(&["systemctl", "show", "-P", property, "portsd"]);
    assert_eq!(show("Result").trim(), "success");
    assert_eq!(
        show("ExecMainStatus").trim(),
        "0",
        "portsd exits 0 on SIGTERM"
    );
}

/// Lines of a unit or configuration file that are settings, not comments or blanks.
fn settings(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The lines a package file adds right after a `# debian:` comment block.
fn marked_debian_lines(text: &str) -> Vec<String> {
    let mut marked = Vec::new();
    let mut in_block = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("# debian:") {
            in_block = true;
        } else if line.is_empty() || line.starts_with('[') {
            in_block = false;
        } else if in_block && !line.starts_with('#') {
            marked.push(line.to_owned());
        }
    }
    marked
}

/// The package's units are the manual install's with the packaged paths, plus the lines
/// marked `# debian:`; nothing else may drift.
#[test]
fn the_package_units_are_the_manual_ones_with_packaged_paths() {
    for unit in ["portsd.service", "portsd.socket", "portsd-http.socket"] {
        let manual = fs::read_to_string(repository().join("deploy").join(unit)).unwrap();
        let packaged = fs::read_to_string(repository().join("deploy/debian").join(unit)).unwrap();
        let expected: Vec<String> = settings(&manual)
            .into_iter()
            .map(|line| {
                line.replace("/usr/local/bin/portsd", "/usr/bin/portsd")
                    .replace(
                        "Documentation=file:/usr/local/share/doc/portsd/README.md",
                        "Documentation=man:portsd-serve(1) file:/usr/share/doc/portsd/README.md",
                    )
            })
            .collect();
        let marked = marked_debian_lines(&packaged);
        let unmarked: Vec<String> = settings(&packaged)
            .into_iter()
            .filter(|line| !marked.contains(line))
            .collect();
        assert_eq!(
            unmarked, expected,
            "deploy/debian/{unit} drifted from deploy/{unit}"
        );
    }
}

/// `systemd-analyze verify` accepts the package's units as installed: the binary where
/// `ExecStart=` says (the one cargo built stands in for /usr/bin/portsd) and the man pages the
/// `Documentation=` lines name.
#[test]
fn the_package_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = [
        "portsd.service",
        "portsd.socket",
        "portsd-http.socket",
        "portsd-update.service",
        "portsd-update.timer",
    ];
    for unit in units {
        let text = fs::read_to_string(repository().join("deploy/debian").join(unit)).unwrap();
        let staged = text.replace("/usr/bin/portsd", env!("CARGO_BIN_EXE_portsd"));
        fs::write(dir.path().join(unit), staged).unwrap();
    }
    let man1 = dir.path().join("man/man1");
    fs::create_dir_all(&man1).unwrap();
    for page in fs::read_dir(repository().join("deploy/debian/man")).unwrap() {
        let page = page.unwrap();
        fs::copy(page.path(), man1.join(page.file_name())).unwrap();
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .current_dir(dir.path())
        .env("MANPATH", dir.path().join("man"))
        .output()
        .unwrap_or_else(|e| crate::common::missing("systemd-analyze", &e));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "verify:\n{stderr}"
    );
}

/// The package's configuration file is the example with `data` pointed at the state
/// directory.
#[test]
fn the_package_configuration_is_the_example_with_the_state_directory() {
    let example = fs::read_to_string(repository().join("deploy/portsd.toml")).unwrap();
    let packaged = fs::read_to_string(repository().join("deploy/debian/portsd.toml")).unwrap();
    let mut expected = settings(&example);
    let mut packaged = settings(&packaged);
    assert!(packaged.contains(&"data = \"/var/lib/portsd/data\"".to_owned()));
    packaged.retain(|line| !line.starts_with("data ="));
    expected.retain(|line| !line.starts_with("data ="));
    assert_eq!(packaged, expected);
}

/// The man pages and completions the package ships are what the binary generates now.
#[test]
fn the_shipped_man_pages_and_completions_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_portsd");
    let man = Command::new(binary)
        .arg("man")
        .arg(fresh.path())
        .output()
        .unwrap();
    assert!(man.status.success());
    let shipped = repository().join("deploy/debian");
    let stale = "stale: run deploy/debian/refresh and commit deploy/debian/man and \
                 deploy/debian/completions";
    let mut fresh_pages: Vec<_> = fs::read_dir(fresh.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    let mut shipped_pages: Vec<_> = fs::read_dir(shipped.join("man"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    fresh_pages.sort();
    shipped_pages.sort();
    assert_eq!(fresh_pages, shipped_pages, "man pages {stale}");
    for page in &fresh_pages {
        assert!(
            fs::read(fresh.path().join(page)).unwrap()
                == fs::read(shipped.join("man").join(page)).unwrap(),
            "{} {stale}",
            page.to_string_lossy()
        );
    }
    for (shell, file) in [
        ("bash", "portsd.bash"),
        ("zsh", "_portsd"),
        ("fish", "portsd.fish"),
    ] {
        let generated = Command::new(binary)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(generated.status.success());
        assert!(
            generated.stdout == fs::read(shipped.join("completions").join(file)).unwrap(),
            "{file} {stale}"
        );
    }
}

#[test]
fn lintian_finds_no_error_in_the_package() {
    let output = Command::new("lintian")
        .args(["--tag-display-limit", "0", "--fail-on", "error"])
        .arg(package())
        .output()
        .unwrap_or_else(|e| crate::common::missing("lintian", &e));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "lintian:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !report.lines().any(|line| line.starts_with("E:")),
        "lintian:\n{report}"
    );
}
