//! The pages for people, rendered here so that no script is needed (there is none):
//! - `/`: a search box and the commonest ports (`top.tcp` and `top.udp`);
//! - `/?q=QUERY[&protocol=P]`: a port or port/protocol goes to its port page, a service name to
//!   its service page (303); other words are searched, ranked as `WORDS.search.<zone>` ranks
//!   them; a miss offers the nearest searches that find something ([`crate::core::suggest`]);
//! - `/port/{port}` and `/port/{port}/{protocol}`: every use, every registry fact, nmap's
//!   frequency, the port's range, its neighbours with known uses, and the commands that ask this
//!   server the same over DNS and HTTP;
//! - `/service/{name}` (and `/{protocol}`): every use of the name;
//! - `/opensearch.xml`, `/robots.txt`, `/style.css`.
//!
//! The markup is written with maud in `html`, which escapes every value it inserts; this module
//! gathers what each page shows. Pages load only their own style sheet: a
//! `Content-Security-Policy` allows nothing else.

pub(super) mod cache;
mod html;
pub(super) mod port;
pub(super) mod site;

use site::{Command, Head, Site, TopLine, Words, encode, port_path, search_path, service_path};

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Response, StatusCode, Uri};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::api::{
    self, Api, Shared, Subject, data_answer, lookup_query, unknown_protocol, with_headers,
};
use crate::core::model::Protocol;
use crate::core::present::{self, LookupError, UseView};
use crate::core::table::Table;
use crate::core::zone::Snapshot;

/// Nothing but this server's own style sheet, and the form sent back here. No script may run
/// (`script-src` falls back to `default-src 'none'`), so `connect-src 'self'` lets the page
/// itself fetch nothing; it lets tools that run inside the page through DevTools, such as
/// Lighthouse reading `/robots.txt`, read this server's files.
const POLICY: &str = "default-src 'none'; style-src 'self'; connect-src 'self'; \
                      form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The pages' style sheet.
const STYLE: &str = include_str!("style.css");

/// What crawlers may read: everything.
const ROBOTS: &str = "User-agent: *\nAllow: /\n";

/// The headers every page carries beside the data's, made when the program is built rather
/// than checked again on every answer.
const PAGE_HEADERS: [(header::HeaderName, HeaderValue); 3] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
];

/// A page's answer: `status` and `html`, with the data's ETag and the pages' headers.
fn page_answer(
    api: &Api,
    snapshot: &Arc<Snapshot>,
    status: StatusCode,
    html: impl Into<Body>,
) -> Response<Body> {
    let mut response = data_answer(api, snapshot, status, "text/html; charset=utf-8", html);
    response.headers_mut().extend(PAGE_HEADERS);
    response
}

/// A page saying what was wrong, with `status`.
fn problem(
    api: &Api,
    site: &Site,
    status: StatusCode,
    head: Head<'_>,
    message: &str,
    suggestions: &[String],
) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let body = html::problem(message, suggestions);
    page_answer(
        api,
        &snapshot,
        status,
        html::layout(site, &head, &snapshot, body),
    )
}

/// The status a lookup's error is answered with.
fn error_status(error: &LookupError) -> StatusCode {
    match error {
        LookupError::NotFound(_) | LookupError::NoMatch(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The search page's parameters, read as text so that odd ones get a page saying so.
#[derive(Debug, Deserialize)]
pub(super) struct PageParameters {
    q: Option<String>,
    protocol: Option<String>,
}

/// `GET /` and `GET /?q=...&protocol=...`.
pub(super) async fn home(
    State(api): Shared,
    site: Site,
    parameters: Result<Query<PageParameters>, QueryRejection>,
) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let bad = |message: &str| {
        let head = Head::plain("Bad request", message);
        problem(&api, &site, StatusCode::BAD_REQUEST, head, message, &[])
    };
    let Query(parameters) = match parameters {
        Ok(parameters) => parameters,
        Err(rejection) => return bad(&rejection.body_text()),
    };
    let protocol = match parameters.protocol.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(label) => match Protocol::from_label(label.as_bytes()) {
            Some(protocol) => Some(protocol),
            None => return bad(&unknown_protocol(label)),
        },
    };
    let query = parameters.q.as_deref().map(str::trim).unwrap_or_default();
    if query.is_empty() {
        let head = Head {
            title: Words::of(&["What is this port used for?"]),
            description: "What TCP, UDP, SCTP and DCCP port numbers are used for: IANA's \
                          registry, Wikipedia's list of ports and nmap's frequencies, by port, \
                          service name or words."
                .to_owned()
                .into(),
            path: "/".to_owned(),
            query: "",
            protocol,
        };
        let top = [Protocol::Tcp, Protocol::Udp].map(|p| (p, top_list(&snapshot.table, p)));
        let body = html::home(&top);
        let page = html::layout(&site, &head, &snapshot, body);
        return page_answer(&api, &snapshot, StatusCode::OK, page);
    }
    search_or_go(&api, &site, &snapshot, query, protocol)
}

/// The answer to a query: a port or service goes to its page; words are searched.
fn search_or_go(
    api: &Api,
    site: &Site,
    snapshot: &Arc<Snapshot>,
    query: &str,
    protocol: Option<Protocol>,
) -> Response<Body> {
    let zone = api.pipeline.zone();
    let on = protocol.map(Protocol::label);
    let (subject, asked_on) = match query.split_once('/') {
        Some((subject, label)) => (subject, Some(label)),
        None => (query, on),
    };
    let head = |title: String, description: String| Head {
        title: title.into(),
        description: description.into(),
        path: match on {
            Some(on) => format!("{}&protocol={on}", search_path(query)),
            None => search_path(query),
        },
        query,
        protocol,
    };
    // Digits, signed or not, are meant as a port: `-1` is no port rather than a word.
    let digits = subject.strip_prefix(['-', '+']).unwrap_or(subject);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let reading = present::port_of(subject).map(|port| port_path(port, asked_on));
        return match reading {
            Ok(path) if asked_on.is_none_or(|l| Protocol::from_label(l.as_bytes()).is_some()) => {
                see_other(&path)
            }
            Ok(_) => {
                let message = unknown_protocol(asked_on.unwrap_or_default());
                let head = head("Not a protocol".to_owned(), message.clone());
                problem(api, site, StatusCode::BAD_REQUEST, head, &message, &[])
            }
            Err(error) => {
                let head = head("Not a port".to_owned(), error.to_string());
                problem(
                    api,
                    site,
                    StatusCode::NOT_FOUND,
                    head,
                    &error.to_string(),
                    &[],
                )
            }
        };
    }
    let lookup_as = match asked_on {
        Some(label) => format!("{subject}/{label}"),
        None => subject.to_owned(),
    };
    if present::lookup(zone, snapshot, &lookup_as).is_ok() {
        let mut path = service_path(subject);
        if let Some(label) = asked_on {
            path = format!("{path}/{}", encode(label, "%20"));
        }
        return see_other(&path);
    }
    let found = present::search(snapshot, &[query.to_owned()]).map(|views| {
        let ranked: Vec<(usize, UseView)> = (1..).zip(views).collect();
        ranked
            .into_iter()
            .filter(|(_, view)| on.is_none_or(|on| view.protocol == on))
            .collect::<Vec<_>>()
    });
    match found {
        Ok(ranked) if !ranked.is_empty() => {
            let head = head(
                format!("{query}: ports and services"),
                format!(
                    "The ports and services whose names or descriptions match {query:?}, best first."
                ),
            );
            let body = html::results(query, protocol, &ranked);
            let page = html::layout(site, &head, snapshot, body);
            page_answer(api, snapshot, StatusCode::OK, page)
        }
        found => {
            let message = match (found, on) {
                (Ok(_), Some(on)) => format!("no use on {on} matches {query:?}"),
                (Err(error), _) => error.to_string(),
                (Ok(_), None) => LookupError::NoMatch(query.to_owned()).to_string(),
            };
            let suggestions = crate::core::suggest::suggestions(snapshot, query);
            let head = head("Nothing found".to_owned(), message.clone());
            problem(
                api,
                site,
                StatusCode::NOT_FOUND,
                head,
                &message,
                &suggestions,
            )
        }
    }
}

/// A 303 to `path` on this site.
fn see_other(path: &str) -> Response<Body> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(path) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The `top.<protocol>` list, as DNS answers it.
fn top_list(table: &Table, protocol: Protocol) -> Vec<TopLine> {
    table
        .top(protocol)
        .iter()
        .filter_map(|record| {
            let text = present::text_of(record);
            let fields: Vec<&str> = text.splitn(6, " | ").collect();
            let [rank, port, _, _, names, description] = fields[..] else {
                return None;
            };
            Some(TopLine {
                rank: rank.to_owned(),
                port: port.parse().ok()?,
                names: names.trim_matches('-').to_owned(),
                description: description.to_owned(),
            })
        })
        .collect()
}

/// A page path's subject (port or service name) and protocol, and the `lookup` query they
/// make, or why they make none.
type PathRead = Result<(String, String, Option<String>), String>;

/// Reads the segments of `/port/...` or `/service/...` as `kind`.
fn read_path(kind: Subject, path: Result<Path<Vec<String>>, PathRejection>) -> PathRead {
    let Path(segments) = path.map_err(|rejection| rejection.body_text())?;
    let mut segments = segments.into_iter();
    let subject = segments.next().unwrap_or_default();
    let protocol = segments.next();
    let query = lookup_query(kind, &subject, protocol.as_deref())?;
    Ok((query, subject, protocol))
}

/// `GET /service/{name}` and `GET /service/{name}/{protocol}`.
pub(super) async fn service(
    State(api): Shared,
    site: Site,
    path: Result<Path<Vec<String>>, PathRejection>,
) -> Response<Body> {
    service_page(&api, &site, read_path(Subject::Service, path))
}

/// The page of a service name (on a protocol), or one saying why there is none.
fn service_page(api: &Api, site: &Site, read: PathRead) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let zone = api.pipeline.zone();
    let (query, name, protocol) = match read {
        Ok(read) => read,
        Err(message) => {
            let head = Head::plain("Not a service name", &message);
            return problem(api, site, StatusCode::BAD_REQUEST, head, &message, &[]);
        }
    };
    let path = match &protocol {
        Some(p) => format!("{}/{}", service_path(&name), encode(p, "%20")),
        None => service_path(&name),
    };
    let protocol = protocol.and_then(|label| Protocol::from_label(label.as_bytes()));
    let head = |description: String| Head {
        title: format!("Service {query}").into(),
        description: description.into(),
        path: path.clone(),
        query: &query,
        protocol,
    };
    match present::lookup(zone, &snapshot, &query) {
        Ok(views) => {
            let ports: Vec<String> = views
                .iter()
                .map(|v| format!("{}/{}", v.port, v.protocol))
                .collect();
            let head = head(format!(
                "The ports service {query} uses: {}.",
                ports.join(", ")
            ));
            let labels = query.replace('/', ".");
            let mut commands = Vec::new();
            if let Some(dns) = &site.dns {
                commands.push(Command {
                    what: "Over DNS",
                    text: ["dig TXT ", &labels, ".", &site.zone, " ", dns, " +short"].concat(),
                });
            }
            commands.push(Command {
                what: "As JSON",
                text: ["curl ", &site.base, "/v1/services/", &query].concat(),
            });
            let body = html::service(&query, &views, &commands);
            let page = html::layout(site, &head, &snapshot, body);
            page_answer(api, &snapshot, StatusCode::OK, page)
        }
        Err(error) => {
            let suggestions = crate::core::suggest::suggestions(&snapshot, &name);
            let head = head(error.to_string());
            problem(
                api,
                site,
                error_status(&error),
                head,
                &error.to_string(),
                &suggestions,
            )
        }
    }
}

/// Any other path: where an API version would be (`/v1/...`, `/v2/...`), the API's JSON 404;
/// elsewhere a page saying there is nothing there.
pub(super) async fn not_found(State(api): Shared, site: Site, uri: Uri) -> Response<Body> {
    let versioned = uri.path().strip_prefix("/v");
    if versioned.is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())) {
        return api::not_found();
    }
    let head = Head::plain("Not found", "There is no page at this address.");
    let message = "there is no page at this address; search for a port, service or words";
    problem(&api, &site, StatusCode::NOT_FOUND, head, message, &[])
}

/// `GET /opensearch.xml`: the search as browsers add it to their address bar.
pub(super) async fn opensearch(site: Site) -> Response<Body> {
    with_headers(
        html::opensearch(&site).into_response(),
        &[
            (
                header::CONTENT_TYPE,
                "application/opensearchdescription+xml",
            ),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
    )
}

/// `GET /robots.txt`.
pub(super) async fn robots() -> Response<Body> {
    with_headers(
        ROBOTS.into_response(),
        &[
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
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
