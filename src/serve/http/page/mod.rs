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

mod html;
pub(super) mod site;

use site::{Head, PortFacts, Site, TopLine, encode, port_path, search_path, service_path};

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
use crate::core::model::{PORT_RANGES, Protocol, port_range};
use crate::core::present::{self, LookupError, UseView};
use crate::core::table::{EntryIds, Table};
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

/// A page's answer: `status` and `html`, with the data's ETag and the pages' headers.
fn page_answer(
    api: &Api,
    snapshot: &Arc<Snapshot>,
    status: StatusCode,
    html: String,
) -> Response<Body> {
    with_headers(
        data_answer(api, snapshot, status, "text/html; charset=utf-8", html),
        &[
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
    )
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
            title: "What is this port used for?".to_owned(),
            description: "What TCP, UDP, SCTP and DCCP port numbers are used for: IANA's \
                          registry, Wikipedia's list of ports and nmap's frequencies, by port, \
                          service name or words."
                .to_owned(),
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
        title,
        description,
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

/// The nearest port to `port` (below it or above) with a known use on `protocol` (on any
/// when `None`), and its first use's service name or description.
fn neighbour(
    table: &Table,
    port: u16,
    protocol: Option<Protocol>,
    below: bool,
) -> Option<(u16, String)> {
    let mut ports: Box<dyn Iterator<Item = u16>> = if below {
        Box::new((0..port).rev())
    } else {
        Box::new(port.checked_add(1)?..=u16::MAX)
    };
    let protocols: Vec<Protocol> = protocol.map_or(Protocol::ALL.to_vec(), |p| vec![p]);
    ports.find_map(|candidate| {
        let mut ids = EntryIds::new();
        for &p in &protocols {
            table.port_entries(p, candidate, &mut ids);
        }
        let entry = table.entry(*ids.first()?);
        let known = entry
            .service
            .clone()
            .unwrap_or_else(|| entry.description.clone());
        Some((candidate, known))
    })
}

/// nmap's frequency of `port` on `protocol` in words: `found open on 23% of hosts scanned;
/// 3rd most common on udp`.
fn frequency_words(table: &Table, port: u16, protocol: Protocol) -> Option<String> {
    let (millionths, rank) = table.frequency_rank(protocol, port)?;
    if millionths == 0 {
        return None;
    }
    let percent = f64::from(millionths) / 10_000.0;
    let shown = if percent >= 1.0 {
        format!("{percent:.0}")
    } else {
        // Two significant digits.
        let decimals = (1.0 - percent.log10().floor()).clamp(1.0, 6.0) as usize;
        format!("{percent:.decimals$}")
    };
    Some(format!(
        "found open on {shown}% of hosts scanned; {} most common on {protocol}",
        ordinal(rank)
    ))
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
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

/// `GET /port/{port}` and `GET /port/{port}/{protocol}`.
pub(super) async fn port(
    State(api): Shared,
    site: Site,
    path: Result<Path<Vec<String>>, PathRejection>,
) -> Response<Body> {
    port_page(&api, &site, read_path(Subject::Port, path))
}

/// The page of a port (on a protocol), or one saying why the path names none.
fn port_page(api: &Api, site: &Site, read: PathRead) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let zone = api.pipeline.zone();
    let read = read.and_then(|(query, port, protocol)| {
        // `lookup_query` let only a port through.
        let port = present::port_of(&port).map_err(|error| error.to_string())?;
        let protocol = protocol.and_then(|label| Protocol::from_label(label.as_bytes()));
        Ok((query, port, protocol))
    });
    let (query, port, protocol) = match read {
        Ok(read) => read,
        Err(message) => {
            let head = Head::plain("Not a port", &message);
            return problem(api, site, StatusCode::BAD_REQUEST, head, &message, &[]);
        }
    };
    let views = match present::lookup(zone, &snapshot, &query) {
        Ok(views) => views,
        Err(error) => {
            let head = Head {
                title: format!("Port {query}"),
                description: error.to_string(),
                path: port_path(port, protocol.map(Protocol::label)),
                query: &query,
                protocol,
            };
            return problem(
                api,
                site,
                error_status(&error),
                head,
                &error.to_string(),
                &[],
            );
        }
    };
    let table = &snapshot.table;
    let on: Vec<Protocol> = Protocol::ALL
        .into_iter()
        .filter(|p| views.iter().any(|v| v.protocol == p.label()))
        .collect();
    let facts = PortFacts {
        port,
        protocol,
        range: PORT_RANGES[port_range(port)].1,
        below: neighbour(table, port, protocol, true),
        above: neighbour(table, port, protocol, false),
        frequencies: on
            .iter()
            .filter_map(|&p| Some((p.label(), frequency_words(table, port, p)?)))
            .collect(),
        commands: port_commands(site, port, protocol, &on),
    };
    let services: Vec<&str> = views.iter().filter_map(|v| v.service.as_deref()).collect();
    let mut services = services;
    services.dedup();
    let head = Head {
        title: format!("Port {query}"),
        description: match services[..] {
            [] => format!("What port {query} is used for: {}.", views[0].description),
            _ => format!("What port {query} is used for: {}.", services.join(", ")),
        },
        path: port_path(port, protocol.map(Protocol::label)),
        query: &query,
        protocol,
    };
    let body = html::port(&query, &facts, &views);
    let page = html::layout(site, &head, &snapshot, body);
    page_answer(api, &snapshot, StatusCode::OK, page)
}

/// The commands that ask this server about `port` (on `protocol`): the DNS name, the
/// registry's names for the protocols the port has uses on, and the API.
fn port_commands(
    site: &Site,
    port: u16,
    protocol: Option<Protocol>,
    on: &[Protocol],
) -> Vec<(&'static str, String)> {
    let zone = &site.zone;
    let mut commands = Vec::new();
    if let Some(dns) = &site.dns {
        let name = match protocol {
            Some(p) => format!("{port}.{p}.{zone}"),
            None => format!("{port}.{zone}"),
        };
        commands.push(("Over DNS", format!("dig TXT {name} {dns} +short")));
        for p in protocol.map_or(on.to_vec(), |p| vec![p]) {
            commands.push((
                "IANA's registry facts over DNS",
                format!("dig TXT {port}.{p}.registry.{zone} {dns} +short"),
            ));
        }
    }
    let api_path = match protocol {
        Some(p) => format!("/v1/ports/{port}/{p}"),
        None => format!("/v1/ports/{port}"),
    };
    commands.push(("As JSON", format!("curl {}{api_path}", site.base)));
    commands
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
        title: format!("Service {query}"),
        description,
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
            let mut commands = Vec::new();
            if let Some(dns) = &site.dns {
                let labels = query.replace('/', ".");
                commands.push((
                    "Over DNS",
                    format!("dig TXT {labels}.{} {dns} +short", site.zone),
                ));
            }
            commands.push(("As JSON", format!("curl {}/v1/services/{query}", site.base)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_read_as_words() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 102].map(ordinal).into();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd"
            ]
        );
    }
}
