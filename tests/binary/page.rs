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

    /// A PNG of the page at `width` x `height` CSS pixels, written to `path`.
    async fn screenshot(&mut self, path: &Path, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
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

#[test]
fn the_page_works_in_a_real_browser_without_scripts() {
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
        page.call("Page.navigate", json!({ "url": format!("{base}/") }))
            .await;
        page.event("Page.loadEventFired").await;
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
        assert_eq!(url, format!("{base}/?q=443%2Ftcp"), "the form sends q");
        let rows: Vec<&str> = dom
            .split("<tbody>")
            .nth(1)
            .unwrap_or_else(|| panic!("a table of answers in {dom}"))
            .split("</tbody>")
            .next()
            .unwrap()
            .split("<tr>")
            .skip(1)
            .collect();
        let https = rows
            .iter()
            .find(|row| row.contains("<td>https"))
            .unwrap_or_else(|| panic!("no https row in {rows:?}"));
        assert!(
            https.starts_with(
                "<th scope=\"row\"><a href=\"/?q=443%2Ftcp\">443</a></th><td>tcp</td>"
            ),
            "{https}"
        );
        assert!(dom.contains("<th scope=\"col\">Status</th>"), "{dom}");
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
