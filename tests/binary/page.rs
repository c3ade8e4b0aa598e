//! The HTTP side of the built daemon as people and scripts meet it: the page at `/` in Debian's
//! real headless `chromium`, driven over the DevTools protocol as a person would use it (a
//! query typed into the search box, Enter pressed, the page the server renders for the
//! submitted form read back from the DOM, screenshots written under the target directory for
//! people to look at), and the API's bodies compared byte for byte with what
//! `portsd lookup --json` and `portsd search --json` print.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::Daemon;

/// How long any one step in the browser may take.
const STEP: Duration = Duration::from_secs(30);

/// A headless `chromium` driven over the DevTools protocol; killed when dropped, so a failed
/// assertion never leaves it running.
struct Chromium {
    child: Child,
    /// The browser's DevTools address, `127.0.0.1:PORT`.
    devtools: String,
}

impl Chromium {
    /// Starts chromium on `about:blank` in the profile directory `profile` and waits for the
    /// `DevTools listening on ws://...` line it writes to stderr.
    fn start(profile: &Path) -> Chromium {
        let mut child = Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium runs (.ci/setup installs it)");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads stderr to its end, so chromium never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut browser = Chromium {
            child,
            devtools: String::new(),
        };
        let deadline = Instant::now() + STEP;
        let mut seen = Vec::new();
        while browser.devtools.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no DevTools address from chromium: {seen:?}"));
            if let Some(url) = line.strip_prefix("DevTools listening on ws://") {
                browser.devtools = url.split('/').next().unwrap().to_string();
            }
            seen.push(line);
        }
        browser
    }

    /// The DevTools websocket address of the open page (about:blank).
    fn page_target(&self) -> String {
        let list = ureq::get(format!("http://{}/json/list", self.devtools))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let list: Value = serde_json::from_str(&list).unwrap();
        let page = list
            .as_array()
            .unwrap()
            .iter()
            .find(|target| target["type"] == "page")
            .unwrap_or_else(|| panic!("no page target in {list}"));
        page["webSocketDebuggerUrl"].as_str().unwrap().to_string()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DevTools session on a page: commands and their results, and the events that arrive
/// meanwhile, kept until waited for.
struct Page {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: VecDeque<Value>,
}

impl Page {
    async fn connect(url: &str) -> Page {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Page {
            socket,
            next_id: 1,
            events: VecDeque::new(),
        }
    }

    /// The next message from chromium, within `STEP`.
    async fn receive(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(STEP, self.socket.next())
                .await
                .expect("chromium answers in time")
                .expect("the DevTools socket stays open")
                .unwrap();
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// Sends `method` with `params` and returns its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        loop {
            let mut message = self.receive().await;
            if message["id"] == id {
                assert!(message["error"].is_null(), "{method}: {message}");
                return message["result"].take();
            }
            self.events.push_back(message);
        }
    }

    /// Waits for event `method`, dropping the events before it.
    async fn event(&mut self, method: &str) -> Value {
        while let Some(event) = self.events.pop_front() {
            if event["method"] == method {
                return event;
            }
        }
        loop {
            let message = self.receive().await;
            if message["method"] == method {
                return message;
            }
        }
    }

    /// The value of the JavaScript expression `expression` in the page.
    async fn evaluate(&mut self, expression: &str) -> Value {
        let mut result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {result}"
        );
        result["result"]["value"].take()
    }

    /// The page's address and its rendered DOM.
    async fn rendered(&mut self) -> (String, String) {
        let url = self.evaluate("location.href").await;
        let dom = self.evaluate("document.documentElement.outerHTML").await;
        (
            url.as_str().unwrap().to_string(),
            dom.as_str().unwrap().to_string(),
        )
    }

    /// A key press (down and up) of `key`, whose Windows key code is `code`.
    async fn press(&mut self, key: &str, code: u32, text: &str) {
        for kind in ["keyDown", "keyUp"] {
            let mut params = json!({
                "type": kind,
                "key": key,
                "code": key,
                "windowsVirtualKeyCode": code,
                "nativeVirtualKeyCode": code,
            });
            if kind == "keyDown" {
                params["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", params).await;
        }
    }

    /// Makes the viewport `width` x `height` CSS pixels (a phone's below 600).
    async fn set_size(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
    }

    /// Loads `url` and waits for it.
    async fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.event("Page.loadEventFired").await;
    }

    /// A PNG of the page at `width` x `height` CSS pixels, written to `path`.
    async fn screenshot(&mut self, path: &Path, width: u32, height: u32) {
        self.set_size(width, height).await;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = data_encoding::BASE64
            .decode(shot["data"].as_str().unwrap().as_bytes())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{}", path.display());
        std::fs::write(path, png).unwrap();
    }
}

/// The value of attribute `name` in the first tag of `dom` that starts with `tag_start`.
fn attribute<'d>(dom: &'d str, tag_start: &str, name: &str) -> Option<&'d str> {
    let tag = dom.split(tag_start).nth(1)?.split('>').next()?;
    tag.split(&format!("{name}=\"")).nth(1)?.split('"').next()
}

/// Starts `portsd serve` with HTTP and a headless chromium, and runs `steps` on a page of the
/// browser, given the site's base address (`http://127.0.0.1:PORT`).
fn in_browser(steps: impl AsyncFnOnce(&mut Page, String)) {
    let daemon = Daemon::start(&["--http", "127.0.0.1:0"]);
    let base = format!("http://{}", daemon.http_addr());
    let profile = tempfile::tempdir().unwrap();
    let browser = Chromium::start(profile.path());
    let target = browser.page_target();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut page = Page::connect(&target).await;
        page.call("Page.enable", json!({})).await;
        steps(&mut page, base).await;
    });
}

#[test]
fn the_page_works_in_a_real_browser_without_scripts() {
    in_browser(async |page, base| {
        page.open(&format!("{base}/")).await;
        // The empty page: a labelled search form, no scripts.
        let (_, dom) = page.rendered().await;
        assert!(!dom.contains("<script"), "{dom}");
        let id = attribute(&dom, "<input", "id").expect("the field's id");
        assert_eq!(
            attribute(&dom, "<label", "for"),
            Some(id),
            "the field is labelled"
        );
        // A person types 443/tcp into the box and presses Enter: the browser submits the
        // form and loads what the server renders.
        page.evaluate("document.querySelector('input[type=search]').focus()")
            .await;
        page.call("Input.insertText", json!({ "text": "443/tcp" }))
            .await;
        page.press("Enter", 13, "\r").await;
        page.event("Page.loadEventFired").await;
        let (url, dom) = page.rendered().await;
        assert_eq!(
            url,
            format!("{base}/port/443/tcp"),
            "the form sends q, a port goes to its page"
        );
        assert!(
            dom.contains("<a class=\"port\" href=\"/port/443/tcp\">443/tcp</a>"),
            "{dom}"
        );
        assert!(
            dom.contains("<a href=\"/service/https\">https</a>"),
            "{dom}"
        );
        assert_eq!(
            page.evaluate("document.querySelector('input[type=search]').value")
                .await,
            "443/tcp",
            "the query stays in the box"
        );
        // Screenshots, wide and phone-sized, for people to look at.
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for (file, width, height) in [
            ("http-page.png", 1100, 900),
            ("http-page-phone.png", 390, 844),
        ] {
            let path = out.join(file);
            page.screenshot(&path, width, height).await;
            eprintln!("screenshot: {}", path.display());
        }
    });
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

/// The widths the pages are measured and photographed at: a phone, a tablet, a laptop.
const WIDTHS: [u32; 3] = [390, 768, 1280];

/// For every `.description` element of the page: its left and right edges and the
/// viewport's width; and the width of the whole document (more than the viewport's when it
/// scrolls sideways).
const MEASURE: &str = "(() => ({
    viewport: window.innerWidth,
    document: document.documentElement.scrollWidth,
    boxes: [...document.querySelectorAll('.description')].map(e => {
        const box = e.getBoundingClientRect();
        return { left: box.left, right: box.right, width: box.width, text: e.textContent };
    }),
}))()";

#[test]
fn every_description_is_visible_at_every_width_in_light_and_dark() {
    in_browser(async |page, base| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for width in WIDTHS {
            page.set_size(width, 900).await;
            for (name, path) in [("port", "/port/443/tcp"), ("results", "/?q=remote+desktop")] {
                page.open(&format!("{base}{path}")).await;
                let measured = page.evaluate(MEASURE).await;
                let viewport = measured["viewport"].as_f64().unwrap();
                assert_eq!(viewport, f64::from(width), "{path}");
                let boxes = measured["boxes"].as_array().unwrap();
                assert!(!boxes.is_empty(), "{path} at {width}: no descriptions");
                for b in boxes {
                    let (left, right) = (b["left"].as_f64().unwrap(), b["right"].as_f64().unwrap());
                    assert!(
                        b["width"].as_f64().unwrap() > 0.0 && left >= 0.0 && right <= viewport,
                        "{path} at {width}px: {b} is not inside the viewport"
                    );
                }
                assert!(
                    measured["document"].as_f64().unwrap() <= viewport,
                    "{path} at {width}px scrolls sideways: {measured}"
                );
                let shot = out.join(format!("http-{name}-{width}.png"));
                page.screenshot(&shot, width, 900).await;
                eprintln!("screenshot: {}", shot.display());
            }
        }
        // Dark mode: the reader's preference is followed, the text light on dark.
        page.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
        )
        .await;
        page.open(&format!("{base}/port/443/tcp")).await;
        let color = page.evaluate("getComputedStyle(document.body).color").await;
        let channels: Vec<u32> = color
            .as_str()
            .unwrap()
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(", ")
            .map(|c| c.parse().unwrap())
            .collect();
        assert!(
            channels.iter().sum::<u32>() > 600,
            "dark mode's text is light: {color}"
        );
        let shot = out.join("http-port-dark.png");
        page.screenshot(&shot, 390, 900).await;
        eprintln!("screenshot: {}", shot.display());
    });
}

/// Where `.ci/setup` installs Lighthouse and axe-core (npm, pinned): `$PORTSD_WEB_TOOLS`, else
/// `~/.cache/portsd/web-tools`. Fails in one line naming what is missing when they are not
/// there: these tests never skip.
fn web_tools() -> std::path::PathBuf {
    let dir = std::env::var_os("PORTSD_WEB_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            Path::new(&home).join(".cache/portsd/web-tools")
        });
    for needed in [
        "node_modules/lighthouse/cli/index.js",
        "node_modules/axe-core/axe.min.js",
    ] {
        assert!(
            dir.join(needed).is_file(),
            "{} is missing: run .ci/setup (it installs lighthouse and axe-core with npm)",
            dir.join(needed).display()
        );
    }
    for program in ["node", "chromium"] {
        let found = Command::new(program).arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "{program} is missing: run .ci/setup"
        );
    }
    dir
}

/// The pages Lighthouse scores: the home page, a port page, a service page, a results page.
const SCORED: [&str; 4] = ["/", "/port/443/tcp", "/service/ssh", "/?q=remote+desktop"];

#[test]
fn lighthouse_scores_accessibility_and_best_practices_100_and_seo_95() {
    let tools = web_tools();
    let daemon = Daemon::start(&["--http", "127.0.0.1:0"]);
    let base = format!("http://{}", daemon.http_addr());
    let mut failures = Vec::new();
    for path in SCORED {
        let profile = tempfile::tempdir().unwrap();
        let output = Command::new("node")
            .arg(tools.join("node_modules/lighthouse/cli/index.js"))
            .arg(format!("{base}{path}"))
            .args([
                "--output=json",
                "--output-path=stdout",
                "--quiet",
                "--only-categories=accessibility,best-practices,seo",
            ])
            .arg(format!(
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu --user-data-dir={}",
                profile.path().display()
            ))
            .env("CHROME_PATH", "chromium")
            .output()
            .expect("lighthouse runs");
        assert!(
            output.status.success(),
            "lighthouse on {path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let score = |category: &str| {
            report["categories"][category]["score"]
                .as_f64()
                .unwrap_or(0.0)
        };
        let scores = [
            ("accessibility", score("accessibility"), 1.0),
            ("best-practices", score("best-practices"), 1.0),
            ("seo", score("seo"), 0.95),
        ];
        eprintln!(
            "lighthouse {path}: accessibility {:.0}, best practices {:.0}, SEO {:.0}",
            scores[0].1 * 100.0,
            scores[1].1 * 100.0,
            scores[2].1 * 100.0
        );
        for (category, got, wanted) in scores {
            if got < wanted {
                let audits: Vec<String> = report["categories"][category]["auditRefs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["weight"].as_f64().unwrap_or(0.0) > 0.0)
                    .map(|r| &report["audits"][r["id"].as_str().unwrap()])
                    .filter(|a| a["score"].as_f64().is_some_and(|s| s < 1.0))
                    .map(|a| format!("{}: {}", a["id"], a["title"]))
                    .collect();
                failures.push(format!("{path} {category} {got}: {audits:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn axe_core_finds_no_violation_on_the_pages_a_miss_and_a_404() {
    let tools = web_tools();
    let axe = std::fs::read_to_string(tools.join("node_modules/axe-core/axe.min.js")).unwrap();
    in_browser(async |page, base| {
        let mut found = Vec::new();
        for path in SCORED.iter().chain(&["/?q=minecarft", "/nowhere"]) {
            page.open(&format!("{base}{path}")).await;
            // Injected through DevTools, which the page's policy does not govern: the page
            // itself still runs no script.
            page.evaluate(&axe).await;
            let result = page
                .call(
                    "Runtime.evaluate",
                    json!({
                        "expression": "axe.run(document).then(r => r.violations.map(v => \
                            ({ id: v.id, help: v.help, nodes: v.nodes.map(n => n.html) })))",
                        "awaitPromise": true,
                        "returnByValue": true,
                    }),
                )
                .await;
            let violations = &result["result"]["value"];
            let count = violations.as_array().map_or(usize::MAX, Vec::len);
            eprintln!("axe-core {path}: {count} violations");
            if count != 0 {
                found.push(format!("{path}: {violations:#}"));
            }
        }
        assert!(found.is_empty(), "{}", found.join("\n"));
    });
}
