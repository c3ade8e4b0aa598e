//! The HTTP side of the built daemon as people and scripts meet it: the page at `/` loaded in
//! Debian's real headless `chromium` (the form read from the rendered DOM, the query it sends
//! loaded, its rows read back, screenshots written under the target directory for people to
//! look at), and the API's bodies compared byte for byte with what `portsd lookup --json` and
//! `portsd search --json` print.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::Daemon;

/// `chromium` headless with `args`, in a profile of its own. As root it needs `--no-sandbox`
/// (its sandbox refuses to run as root).
fn chromium(profile: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("chromium");
    command.args([
        "--headless=new",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        command.arg("--no-sandbox");
    }
    let output = command
        .args(args)
        .output()
        .expect("chromium runs (.ci/setup installs it)");
    assert!(
        output.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The DOM chromium renders for `url`.
fn rendered_dom(profile: &Path, url: &str) -> String {
    let output = chromium(profile, &["--dump-dom", url]);
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The value of attribute `name` in the first tag of `dom` that starts with `tag_start`.
fn attribute<'d>(dom: &'d str, tag_start: &str, name: &str) -> Option<&'d str> {
    let tag = dom.split(tag_start).nth(1)?.split('>').next()?;
    tag.split(&format!("{name}=\"")).nth(1)?.split('"').next()
}

/// The query part a browser builds for a GET form with one field (`name`, `value`), encoded
/// as application/x-www-form-urlencoded.
fn form_query(name: &str, value: &str) -> String {
    let mut out = format!("{name}=");
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[test]
fn the_page_works_in_a_real_browser_without_scripts() {
    let daemon = Daemon::start(&["--http", "127.0.0.1:0"]);
    let base = format!("http://{}", daemon.http_addr());
    let profile = tempfile::tempdir().unwrap();
    // The empty page: a labelled search form that sends the query back to the server.
    let dom = rendered_dom(profile.path(), &format!("{base}/"));
    assert!(!dom.contains("<script"), "{dom}");
    assert_eq!(attribute(&dom, "<form", "method"), Some("get"), "{dom}");
    let action = attribute(&dom, "<form", "action").expect("a form action");
    let field = attribute(&dom, "<input", "name").expect("a named field");
    let id = attribute(&dom, "<input", "id").expect("the field's id");
    assert_eq!(
        attribute(&dom, "<label", "for"),
        Some(id),
        "the field is labelled"
    );
    // Submitted with 443/tcp typed in, the form loads this address.
    let submitted = format!("{base}{action}?{}", form_query(field, "443/tcp"));
    let dom = rendered_dom(profile.path(), &submitted);
    let rows: Vec<&str> = dom
        .split("<tbody>")
        .nth(1)
        .expect("a table of answers")
        .split("</tbody>")
        .next()
        .unwrap()
        .split("<tr>")
        .skip(1)
        .collect();
    assert!(!rows.is_empty(), "{dom}");
    let https = rows
        .iter()
        .find(|row| row.contains("<td>https"))
        .unwrap_or_else(|| panic!("no https row in {rows:?}"));
    assert!(
        https.starts_with("<th scope=\"row\"><a href=\"/?q=443%2Ftcp\">443</a></th><td>tcp</td>"),
        "{https}"
    );
    assert!(dom.contains("<th scope=\"col\">Status</th>"), "{dom}");
    assert!(
        attribute(&dom, "<input", "value") == Some("443/tcp"),
        "the query stays in the box"
    );
    // Screenshots, wide and phone-sized, for people to look at.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (file, size) in [
        ("http-page.png", "1100,900"),
        ("http-page-phone.png", "390,844"),
    ] {
        let path = out.join(file);
        let _ = std::fs::remove_file(&path);
        chromium(
            profile.path(),
            &[
                &format!("--screenshot={}", path.display()),
                &format!("--window-size={size}"),
                &submitted,
            ],
        );
        let png = std::fs::read(&path).expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{}", path.display());
        eprintln!("screenshot: {}", path.display());
    }
}

/// stdout of `portsd ARGS`, which must succeed.
fn printed(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_portsd"))
        .args(args)
        .env("PORTSD_SERVICES", "none")
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn api_bodies_are_what_lookup_and_search_print() {
    let daemon = Daemon::start(&["--http", "127.0.0.1:0", "--services", "none"]);
    let base = format!("http://{}", daemon.http_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let body = |path: &str| {
        agent
            .get(format!("{base}{path}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    for (path, args) in [
        ("/v1/ports/443/tcp", &["lookup", "--json", "443/tcp"][..]),
        ("/v1/ports/8080", &["lookup", "--json", "8080"]),
        ("/v1/services/ssh", &["lookup", "--json", "ssh"]),
        ("/v1/search?q=minecraft", &["search", "--json", "minecraft"]),
    ] {
        assert_eq!(body(path), printed(args), "{path}");
    }
}
