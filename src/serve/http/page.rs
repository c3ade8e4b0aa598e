//! The page at `/` for people: a search box, and the answers to `/?q=...` as a table, rendered
//! here so that no script is needed (there is none). It loads only its own style sheet (a
//! `Content-Security-Policy` that allows nothing else), escapes everything it shows, labels its
//! form and heads its table's columns and rows for screen readers, and fits a phone's width.
//!
//! The query is read as `portsd lookup` reads it (`443`, `443/tcp`, `https`, `https/tcp`) and,
//! when that finds nothing, as words to search for.

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::api::{Shared, data_answer, with_headers};
use crate::core::model::Status;
use crate::core::present::{self, LookupError, UseView};
use crate::core::zone::{Snapshot, Zone};

/// Nothing but this server's own style sheet, and the form sent back here.
const POLICY: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
                      base-uri 'none'; frame-ancestors 'none'";

/// The page's style sheet.
const STYLE: &str = "\
:root { color-scheme: light dark; --line: #8884; --muted: #555; }
@media (prefers-color-scheme: dark) { :root { --muted: #bbb; } }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h1 a { color: inherit; text-decoration: none; }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: 1rem 0; }
label { flex-basis: 100%; font-weight: 600; }
input { flex: 1 1 14rem; font: inherit; padding: .4rem .5rem; }
button { font: inherit; padding: .4rem 1rem; }
.scroll { overflow-x: auto; }
td.description { min-width: 16rem; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding: .5rem 0; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid var(--line); }
thead th { border-bottom-width: 2px; }
.note { color: var(--muted); font-size: .875rem; display: block; }
dt { font-weight: 600; }
dd { margin: 0 0 .5rem 1rem; }
code { font-size: .9em; }
";

/// The page's parameters.
#[derive(Debug, Deserialize)]
pub(super) struct PageParameters {
    q: Option<String>,
}

/// `text` with the characters that mean something in HTML escaped (in text and in quoted
/// attribute values alike).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The page's address for query `q`: `/?q=443%2Ftcp`.
fn link(q: &str) -> String {
    let mut out = String::from("/?q=");
    for byte in q.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// The uses `query` finds: a lookup, else a search.
fn find(zone: &Zone, snapshot: &Snapshot, query: &str) -> Result<Vec<UseView>, LookupError> {
    present::lookup(zone, snapshot, query)
        .or_else(|_| present::search(snapshot, &[query.to_owned()]))
}

/// The table of `views`, found for `query`.
fn write_table(out: &mut String, query: &str, views: &[UseView]) {
    let count = match views.len() {
        1 => "1 use".to_owned(),
        n => format!("{n} uses"),
    };
    let _ = write!(
        out,
        "<div class=\"scroll\" role=\"region\" aria-label=\"Answers\" tabindex=\"0\"><table>\n<caption>{count} for <q>{}</q></caption>\n<thead><tr>\
         <th scope=\"col\">Port</th><th scope=\"col\">Protocol</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Service</th><th scope=\"col\">Description</th>\
         <th scope=\"col\">Sources</th></tr></thead>\n<tbody>\n",
        escape(query)
    );
    for view in views {
        let target = match view.protocol {
            "any" => view.first.to_string(),
            protocol => format!("{}/{protocol}", view.first),
        };
        let meaning = Status::from_word(view.status).map_or("", Status::meaning);
        let service = view.service.as_deref().unwrap_or("–");
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td>\
             <td>{}<span class=\"note\">{}</span></td><td>{}",
            escape(&link(&target)),
            escape(&view.port),
            escape(view.protocol),
            escape(view.status),
            escape(meaning),
            escape(service),
        );
        if !view.aliases.is_empty() {
            let _ = write!(
                out,
                "<span class=\"note\">also {}</span>",
                escape(&view.aliases.join(", "))
            );
        }
        let _ = writeln!(
            out,
            "</td><td class=\"description\">{}</td><td>{}</td></tr>",
            escape(&view.description),
            escape(&view.sources.join(", "))
        );
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// The legend of the status words.
fn write_legend(out: &mut String) {
    out.push_str("<section aria-labelledby=\"legend\"><h2 id=\"legend\">Status</h2><dl>\n");
    for status in Status::ALL {
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            escape(status.word()),
            escape(status.meaning())
        );
    }
    out.push_str("</dl></section>\n");
}

/// The page for `query` (none: the empty form), and its status: 404 when nothing was found.
fn render(zone: &Zone, snapshot: &Snapshot, query: Option<&str>) -> (StatusCode, String) {
    let zone_name = zone.display_name();
    let title = match query {
        Some(query) => format!("{} – portsd", escape(query)),
        None => "portsd: what is this port used for?".to_owned(),
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n\
         <header><h1><a href=\"/\">portsd</a></h1>\n<p>What TCP, UDP, SCTP and DCCP ports are \
         used for, from IANA's registry, Wikipedia's list of ports and this site's own list.</p>\
         </header>\n<main>\n<form method=\"get\" action=\"/\" role=\"search\">\n\
         <label for=\"q\">Port, service or words</label>\n\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" \
         placeholder=\"443/tcp, https, minecraft\" autocomplete=\"off\" spellcheck=\"false\">\n\
         <button type=\"submit\">Look up</button>\n</form>\n",
        escape(query.unwrap_or_default())
    );
    let status = match query {
        None => {
            out.push_str("<p>For example ");
            let examples = ["443/tcp", "53", "ssh", "minecraft"];
            for (i, example) in examples.iter().enumerate() {
                let separator = if i == 0 { "" } else { ", " };
                let _ = write!(
                    out,
                    "{separator}<a href=\"{}\">{}</a>",
                    escape(&link(example)),
                    escape(example)
                );
            }
            out.push_str(".</p>\n");
            StatusCode::OK
        }
        Some(query) => match find(zone, snapshot, query) {
            Ok(views) => {
                write_table(&mut out, query, &views);
                StatusCode::OK
            }
            Err(error) => {
                let _ = writeln!(out, "<p role=\"status\">{}</p>", escape(&error.to_string()));
                StatusCode::NOT_FOUND
            }
        },
    };
    write_legend(&mut out);
    let _ = write!(
        out,
        "</main>\n<footer><p>The same answers over DNS (<code>dig TXT 443.tcp.{zone}</code>) \
         and as JSON (<a href=\"/v1/openapi.json\">the API</a>). Zone {zone}, serial {}.</p>\
         </footer>\n</body>\n</html>\n",
        snapshot.serial,
        zone = escape(&zone_name),
    );
    (status, out)
}

/// `GET /` and `GET /?q=...`.
pub(super) async fn page(
    State(api): Shared,
    parameters: Result<Query<PageParameters>, QueryRejection>,
) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let zone = api.pipeline.zone();
    let query = parameters
        .ok()
        .and_then(|Query(parameters)| parameters.q)
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    let (status, html) = render(zone, &snapshot, query.as_deref());
    with_headers(
        data_answer(&api, &snapshot, status, "text/html; charset=utf-8", html),
        &[
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
    )
}

/// `GET /style.css`.
pub(super) async fn style() -> Response<Body> {
    with_headers(
        STYLE.into_response(),
        &[
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_links_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(link("443/tcp"), "/?q=443%2Ftcp");
        assert_eq!(link("ssh server"), "/?q=ssh+server");
        assert_eq!(link("é\"<"), "/?q=%C3%A9%22%3C");
    }
}
