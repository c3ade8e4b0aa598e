//! Checks on the shipped deployment files in `deploy/`: the systemd units pass
//! `systemd-analyze verify` and score an exposure of at most 2.0 in
//! `systemd-analyze security`, and each resolver recipe that Debian can check
//! passes its resolver's own syntax checker.
//!
//! The external tools are required, never skipped: a missing tool fails the
//! test and names the Debian package that provides it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The unit files' install location of the binary, as in deploy/README.md.
const INSTALLED_BINARY: &str = "/usr/local/bin/portsd";

/// Highest `systemd-analyze security` exposure the service may have.
const MAX_EXPOSURE: f64 = 2.0;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read_deploy_file(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Runs an external checker, failing with the Debian package to install when
/// the program is not there.
fn run_tool(program: &str, debian_package: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run `{program}` ({err}); it is required for this test: \
                 apt-get install {debian_package}"
            )
        })
}

fn assert_clean(output: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed with {}:\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stderr.trim().is_empty(),
        "{what} reported problems:\n{stderr}"
    );
}

/// Copies deployment files into `dir` (each pair is a path under deploy/ and
/// its path in `dir`) with `ExecStart` pointed at the binary cargo just built:
/// `systemd-analyze verify` insists that the ExecStart program exists, and
/// the tests must not depend on an installed copy in /usr/local/bin.
fn stage(dir: &Path, files: &[(&str, &str)]) {
    for (source, destination) in files {
        let text = read_deploy_file(source).replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_portsd"));
        let target = dir.join(destination);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).expect("creating staging directory");
        }
        fs::write(&target, text).expect("writing staged unit");
    }
}

/// Stages `files` and verifies the units among them (drop-ins are picked up
/// from their `*.d` directories next to the units).
fn verify_staged_units(files: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("temporary directory");
    stage(dir.path(), files);
    let mut args = vec!["verify"];
    args.extend(
        files
            .iter()
            .map(|(_, destination)| *destination)
            .filter(|destination| !destination.ends_with(".conf")),
    );
    let output = run_tool("systemd-analyze", "systemd", &args, dir.path());
    assert_clean(&output, "systemd-analyze verify");
}

const SOCKET_ACTIVATED: [(&str, &str); 3] = [
    ("portsd.service", "portsd.service"),
    ("portsd.socket", "portsd.socket"),
    ("portsd-http.socket", "portsd-http.socket"),
];

#[test]
fn socket_activated_units_pass_systemd_analyze_verify() {
    verify_staged_units(&SOCKET_ACTIVATED);
}

#[test]
fn units_with_port53_dropin_pass_systemd_analyze_verify() {
    let mut files = SOCKET_ACTIVATED.to_vec();
    files.push(("portsd.socket.d/port53.conf", "portsd.socket.d/port53.conf"));
    verify_staged_units(&files);
}

#[test]
fn units_with_the_encrypted_dns_examples_pass_systemd_analyze_verify() {
    let mut files = SOCKET_ACTIVATED.to_vec();
    files.push(("encrypted-dns/portsd-tls.socket", "portsd-tls.socket"));
    files.push(("encrypted-dns/portsd-https.socket", "portsd-https.socket"));
    files.push(("encrypted-dns/tls.conf", "portsd.service.d/tls.conf"));
    verify_staged_units(&files);
}

#[test]
fn standalone_service_passes_systemd_analyze_verify() {
    verify_staged_units(&[("standalone/portsd.service", "portsd.service")]);
}

/// Reads the score from a line such as
/// `→ Overall exposure level for portsd.service: 1.2 OK 🙂`.
fn overall_exposure(report: &str) -> Option<f64> {
    let line = report
        .lines()
        .find(|line| line.contains("Overall exposure level"))?;
    let (_, verdict) = line.rsplit_once(": ")?;
    verdict.split_whitespace().next()?.parse().ok()
}

fn assert_exposure_at_most_two(service: &str) {
    let output = run_tool(
        "systemd-analyze",
        "systemd",
        &["security", "--offline=true", service],
        &deploy_dir(),
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "systemd-analyze security {service} failed with {}:\n{report}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let exposure = overall_exposure(&report)
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    assert!(
        exposure <= MAX_EXPOSURE,
        "{service}: exposure {exposure} exceeds {MAX_EXPOSURE}:\n{report}"
    );
}

#[test]
fn socket_activated_service_exposure_is_at_most_two() {
    assert_exposure_at_most_two("portsd.service");
}

#[test]
fn standalone_service_exposure_is_at_most_two() {
    assert_exposure_at_most_two("standalone/portsd.service");
}

#[test]
fn exposure_line_is_parsed() {
    assert_eq!(
        overall_exposure("x\n→ Overall exposure level for portsd.service: 1.2 OK 🙂\n"),
        Some(1.2)
    );
    assert_eq!(overall_exposure("no score here"), None);
}

/// Setting lines of a unit file, without comments and blank lines.
fn settings(unit: &str) -> Vec<&str> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// Settings of `all` that are not in `own`.
fn without<'a>(all: &[&'a str], own: &[&str]) -> Vec<&'a str> {
    all.iter()
        .copied()
        .filter(|line| !own.contains(line))
        .collect()
}

/// The standalone unit is a copy of the socket-activated one that differs
/// only where binding its own sockets requires it; this keeps the two from
/// drifting apart.
#[test]
fn standalone_service_differs_only_in_socket_and_capability_settings() {
    let socket_only = [
        "Requires=portsd.socket",
        "After=portsd.socket portsd-http.socket network.target",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "PrivateUsers=yes",
        "Also=portsd.socket portsd-http.socket",
    ];
    let standalone_only = [
        "After=network.target",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "PrivateUsers=no",
    ];
    let socket_activated = read_deploy_file("portsd.service");
    let standalone = read_deploy_file("standalone/portsd.service");
    let socket_settings = settings(&socket_activated);
    let standalone_settings = settings(&standalone);
    for line in socket_only {
        assert!(
            socket_settings.contains(&line),
            "portsd.service lacks {line}"
        );
    }
    for line in standalone_only {
        assert!(
            standalone_settings.contains(&line),
            "standalone/portsd.service lacks {line}"
        );
    }
    assert_eq!(
        without(&socket_settings, &socket_only),
        without(&standalone_settings, &standalone_only)
    );
}

/// The README's `cargo install --root DIR` puts the binary in DIR/bin, which
/// must be the path the unit starts.
#[test]
fn readme_installs_the_binary_where_the_unit_runs_it() {
    let readme = read_deploy_file("README.md");
    let install_root = readme
        .split("cargo install --path . --root ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("deploy/README.md gives a `cargo install --path . --root DIR` step");
    assert_eq!(format!("{install_root}/bin/portsd"), INSTALLED_BINARY);
    let service = read_deploy_file("portsd.service");
    assert!(service.contains(&format!("ExecStart={INSTALLED_BINARY} ")));
}

#[test]
fn unbound_recipes_pass_unbound_checkconf() {
    for recipe in [
        "unbound-portsd.conf",
        "unbound-auth-zone.conf",
        "unbound-portsd-tls.conf",
    ] {
        let output = run_tool(
            "unbound-checkconf",
            "unbound",
            &[recipe],
            &deploy_dir().join("resolvers"),
        );
        assert_clean(&output, &format!("unbound-checkconf {recipe}"));
    }
}

#[test]
fn bind_recipes_pass_named_checkconf() {
    for recipe in ["bind-static-stub.conf", "bind-forward.conf"] {
        let output = run_tool(
            "named-checkconf",
            "bind9-utils",
            &[recipe],
            &deploy_dir().join("resolvers"),
        );
        assert_clean(&output, &format!("named-checkconf {recipe}"));
    }
}

/// The recipes tell BIND users to add `validate-except` to their options;
/// check that advice in a complete named.conf around each recipe.
#[test]
fn bind_recipes_fit_a_validating_named_conf() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for recipe in ["bind-static-stub.conf", "bind-forward.conf"] {
        let recipe_path = deploy_dir().join("resolvers").join(recipe);
        let named_conf = format!(
            "options {{\n    directory \"{}\";\n    dnssec-validation auto;\n    \
             validate-except {{ \"ports.local\"; }};\n}};\ninclude \"{}\";\n",
            dir.path().display(),
            recipe_path.display()
        );
        let conf_path = dir.path().join("named.conf");
        fs::write(&conf_path, named_conf).expect("writing named.conf");
        let output = run_tool(
            "named-checkconf",
            "bind9-utils",
            &[conf_path.to_str().expect("UTF-8 temporary path")],
            dir.path(),
        );
        assert_clean(&output, &format!("named-checkconf around {recipe}"));
    }
}

#[test]
fn dnsmasq_recipe_passes_dnsmasq_test() {
    let output = run_tool(
        "dnsmasq",
        "dnsmasq-base",
        &["--test", "--conf-file=dnsmasq-portsd.conf"],
        &deploy_dir().join("resolvers"),
    );
    // dnsmasq prints "syntax check OK." on stderr even when all is well.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("syntax check OK"),
        "dnsmasq --test failed with {}:\n{stderr}",
        output.status
    );
}
