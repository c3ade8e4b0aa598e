//! `portsd update-data` against a local HTTP server serving fixtures: a newer registry with
//! one new record (which then answers, from `lookup` and from a running daemon after a
//! reload), and every kind of bad download (404, a body cut short, an HTML page, a CSV that
//! does not parse, a registry that lost most of its records, a server that never answers),
//! after each of which the old file is still there byte for byte and the exit status says
//! what failed. Also `portsd seed-data`.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::Daemon;
use crate::fixture_http::{Reply, ok, serve_fixtures};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const REGISTRY: &str = "iana-service-names-port-numbers.csv";
/// The record the newer registry adds, on a port nobody lists.
const NEW_RECORD: &str = "portsd-probe,47999,tcp,portsd update test record,,,,,,,,\r\n";

/// A data directory holding a copy of the repository's data files.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in ["ports.tsv", "port-list-excerpt.txt", REGISTRY, "local.tsv"] {
        fs::copy(source.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

fn bundled_registry() -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(REGISTRY),
    )
    .unwrap()
}

fn newer_registry() -> Vec<u8> {
    let mut newer = bundled_registry();
    newer.extend_from_slice(NEW_RECORD.as_bytes());
    newer
}

fn portsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args(args)
        .output()
        .expect("portsd runs")
}

fn update(dir: &Path, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["update-data", dir.to_str().unwrap(), "--url", url];
    args.extend_from_slice(extra);
    portsd(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lookup(dir: &Path, query: &str) -> String {
    text(&portsd(&["lookup", "--data", dir.to_str().unwrap(), query]).stdout)
}

#[test]
fn a_newer_registry_replaces_the_file_reports_the_change_and_answers() {
    let server = serve_fixtures(HashMap::from([(
        "/registry.csv",
        ok("text/csv", newer_registry()),
    )]));
    let dir = data_dir();
    assert!(lookup(dir.path(), "47999/tcp").contains("Unassigned"));

    let url = format!("http://{server}/registry.csv");
    let output = update(dir.path(), &url, &[]);
    assert!(
        output.status.success(),
        "update failed: {}",
        text(&output.stderr)
    );
    let report = text(&output.stdout);
    assert!(
        report.contains("1 added, 0 removed, 0 changed"),
        "unexpected report: {report}"
    );
    assert_eq!(
        fs::read(dir.path().join(REGISTRY)).unwrap(),
        newer_registry()
    );
    let mode = fs::metadata(dir.path().join(REGISTRY)).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644,
        "the daemon's dynamic user must be able to read the new file"
    );
    assert_eq!(
        lookup(dir.path(), "47999/tcp").trim(),
        "47999 | tcp | Assigned | portsd-probe | portsd update test record"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let again = update(dir.path(), &url, &[]);
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains("is current"),
        "second run: {}",
        text(&again.stdout)
    );
}

#[test]
fn a_running_daemon_answers_the_new_record_after_a_reload() {
    let server = serve_fixtures(HashMap::from([(
        "/registry.csv",
        ok("text/csv", newer_registry()),
    )]));
    let dir = data_dir();
    let daemon = Daemon::start(&["--data", dir.path().to_str().unwrap()]);
    let name = "47999.tcp.ports.local";
    let before = crate::common::run_tool("dig", daemon.addr, &["+short", "TXT", name]);
    assert!(before.contains("Unassigned"), "before the update: {before}");

    let output = update(dir.path(), &format!("http://{server}/registry.csv"), &[]);
    assert!(
        output.status.success(),
        "update failed: {}",
        text(&output.stderr)
    );
    kill(Pid::from_raw(daemon.child.id() as i32), Signal::SIGHUP).unwrap();
    assert!(daemon.wait_for_log("reloaded the data"), "no reload logged");
    let after = crate::common::run_tool("dig", daemon.addr, &["+short", "TXT", name]);
    assert_eq!(
        after.trim(),
        "\"47999 | tcp | Assigned | portsd-probe | portsd update test record\""
    );
}

/// Runs an update that must fail with `code` and checks that the data directory is exactly
/// as it was.
fn assert_fails_and_keeps_the_old_file(reply: Reply, code: i32, extra: &[&str], says: &str) {
    let server = serve_fixtures(HashMap::from([("/registry.csv", reply)]));
    let dir = data_dir();
    let before = fs::read(dir.path().join(REGISTRY)).unwrap();
    let output = update(dir.path(), &format!("http://{server}/registry.csv"), extra);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(says),
        "stderr does not say {says:?}: {stderr}"
    );
    assert!(
        stderr.contains("the old registry is kept"),
        "stderr: {stderr}"
    );
    assert_eq!(fs::read(dir.path().join(REGISTRY)).unwrap(), before);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "files in the directory: {names:?}");
}

#[test]
fn a_404_keeps_the_old_file() {
    let reply = Reply::Http {
        status: "404 Not Found",
        content_type: "text/plain",
        body: b"gone".to_vec(),
        declared_length: None,
    };
    assert_fails_and_keeps_the_old_file(reply, 3, &[], "404");
}

#[test]
fn a_body_shorter_than_its_content_length_keeps_the_old_file() {
    let newer = newer_registry();
    let reply = Reply::Http {
        status: "200 OK",
        content_type: "text/csv",
        body: newer[..newer.len() / 2].to_vec(),
        declared_length: Some(newer.len()),
    };
    assert_fails_and_keeps_the_old_file(reply, 3, &[], "download from");
}

#[test]
fn an_html_page_keeps_the_old_file() {
    let page = "<!DOCTYPE html>\n<html><head><title>Service Name and Transport Protocol Port \
                Number Registry</title></head><body>moved</body></html>\n";
    assert_fails_and_keeps_the_old_file(ok("text/html", page), 4, &[], "HTML");
}

#[test]
fn a_registry_that_does_not_parse_keeps_the_old_file() {
    let mut broken = bundled_registry();
    broken.extend_from_slice(b"broken,99999,tcp,a port that cannot be,,,,,,,,\r\n");
    assert_fails_and_keeps_the_old_file(ok("text/csv", broken), 4, &[], "99999");
}

#[test]
fn a_registry_that_lost_most_of_its_records_keeps_the_old_file() {
    // The header and one record: a well-formed registry, but not IANA's.
    let registry = bundled_registry();
    let header_end = registry.iter().position(|&b| b == b'\n').unwrap() + 1;
    let small = format!("{}{NEW_RECORD}", text(&registry[..header_end]));
    assert_fails_and_keeps_the_old_file(ok("text/csv", small), 4, &[], "refusing to drop");
}

#[test]
fn a_server_that_never_answers_times_out_and_keeps_the_old_file() {
    assert_fails_and_keeps_the_old_file(Reply::Silence, 3, &["--timeout", "1"], "timeout");
}

#[test]
fn a_directory_without_a_registry_is_its_own_failure() {
    let dir = tempfile::tempdir().unwrap();
    let output = update(dir.path(), "http://127.0.0.1:9/registry.csv", &[]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output.stderr));
}

#[test]
fn seeding_links_the_missing_files_and_keeps_the_ones_there() {
    let packaged = data_dir();
    let site = tempfile::tempdir().unwrap();
    fs::write(
        site.path().join("local.tsv"),
        "7777\ttcp\tsite\tthe site's own\n",
    )
    .unwrap();
    fs::remove_file(packaged.path().join("local.tsv")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("data");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join(REGISTRY), newer_registry()).unwrap();

    let args = [
        "seed-data",
        dir.to_str().unwrap(),
        packaged.path().to_str().unwrap(),
        site.path().to_str().unwrap(),
    ];
    let output = portsd(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        fs::read_link(dir.join("ports.tsv")).unwrap(),
        packaged.path().join("ports.tsv")
    );
    assert_eq!(
        fs::read_link(dir.join("local.tsv")).unwrap(),
        site.path().join("local.tsv")
    );
    assert!(
        !fs::symlink_metadata(dir.join(REGISTRY))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(fs::read(dir.join(REGISTRY)).unwrap(), newer_registry());
    assert!(lookup(&dir, "7777/tcp").contains("the site's own"));
    assert!(lookup(&dir, "47999/tcp").contains("portsd-probe"));

    let again = portsd(&args);
    assert!(again.status.success());
    assert!(text(&again.stdout).is_empty(), "nothing left to link");
}

/// `openssl s_server -WWW` serving a directory over HTTPS with a certificate for `localhost`
/// from a certificate authority made for the test; killed on drop.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    /// The authority's certificate, for `SSL_CERT_FILE`.
    authority: std::path::PathBuf,
}

impl TlsServer {
    fn start(root: &Path) -> TlsServer {
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(root)
                .output()
                .unwrap_or_else(|e| crate::common::missing("openssl", &e));
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                text(&output.stderr)
            );
        };
        let subject_ca = "/CN=portsd test authority";
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            subject_ca,
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        fs::write(
            root.join("server.ext"),
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-WWW"])
            .args(["-cert", "server.pem", "-key", "server.key"])
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let stdout = child.stdout.take().unwrap();
        // s_server prints `ACCEPT 127.0.0.1:PORT` once it listens.
        let port = std::io::BufRead::lines(std::io::BufReader::new(stdout))
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("ACCEPT 127.0.0.1:")?.parse().ok())
            .expect("s_server reports its port");
        TlsServer {
            child,
            port,
            authority: root.join("ca.pem"),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HTTPS with certificates checked: the download succeeds when the server's authority is in
/// the trust store (`SSL_CERT_FILE`, which the system store reading honours) and fails, keeping
/// the old file, when it is not.
#[test]
fn https_downloads_check_the_certificate_against_the_trust_store() {
    let served = tempfile::tempdir().unwrap();
    fs::write(served.path().join("registry.csv"), newer_registry()).unwrap();
    let server = TlsServer::start(served.path());
    let url = format!("https://localhost:{}/registry.csv", server.port);
    let dir = data_dir();
    let update_with = |trust: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portsd"));
        command.args(["update-data", dir.path().to_str().unwrap(), "--url", &url]);
        command
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR");
        if let Some(file) = trust {
            command.env("SSL_CERT_FILE", file);
        }
        command.output().unwrap()
    };

    let untrusted = update_with(None);
    assert_eq!(
        untrusted.status.code(),
        Some(3),
        "{}",
        text(&untrusted.stderr)
    );
    assert!(
        text(&untrusted.stderr).contains("UnknownIssuer"),
        "{}",
        text(&untrusted.stderr)
    );
    assert_eq!(
        fs::read(dir.path().join(REGISTRY)).unwrap(),
        bundled_registry()
    );

    let trusted = update_with(Some(&server.authority));
    assert!(trusted.status.success(), "{}", text(&trusted.stderr));
    assert!(
        text(&trusted.stdout).contains("1 added"),
        "{}",
        text(&trusted.stdout)
    );
    assert_eq!(
        fs::read(dir.path().join(REGISTRY)).unwrap(),
        newer_registry()
    );
}
