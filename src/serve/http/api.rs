//! The JSON API's handlers (`/v1/ports/...`, `/v1/services/...`, `/v1/search`, `/v1/zone`,
//! `/v1/openapi.json`) and `/metrics`, and what every answer shares: errors, ETag and caching.
//!
//! The bodies of lookups and searches are `portsd lookup --json` and `portsd search --json`'s,
//! byte for byte ([`present::to_json`] and a newline); errors are `{"status", "error"}`
//! objects. Every answer drawn from the table carries an `ETag` made of the serial, the
//! fingerprint of the data and the zone's settings, and the program's version (so a 304 never
//! keeps an older page), and `Cache-Control: max-age` equal to the zone's TTL, as long as a
//! resolver keeps the same answer; a request whose `If-None-Match` names it gets 304.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::dns_address::DnsAddress;
use super::openapi;
use super::page::cache::Pages;
use crate::core::model::Protocol;
use crate::core::present::{self, LookupError, UseView};
use crate::core::serial;
use crate::core::zone::{Snapshot, Zone};
use crate::pipeline::Pipeline;

/// The media type of every JSON answer.
const JSON: &str = "application/json";

/// What the handlers share.
#[derive(Debug)]
pub(super) struct Api {
    pub(super) pipeline: Arc<Pipeline>,
    /// The OpenAPI document, rendered once.
    openapi: String,
    /// The ETag and Cache-Control of the snapshot last answered from.
    headers: ArcSwapOption<SnapshotHeaders>,
    /// Where this server answers DNS: what the pages' `dig` commands point at.
    pub(super) dns: DnsAddress,
    /// The zone's name, as pages print it.
    pub(super) zone_name: Arc<str>,
    /// The port pages last rendered, kept for the snapshot they show.
    pub(super) pages: Pages,
}

/// The headers every answer drawn from one snapshot shares, made on its first request rather
/// than on each (the ETag hashes the zone's settings).
#[derive(Debug)]
struct SnapshotHeaders {
    /// The snapshot they belong to. Weak, so a replaced table is freed; the allocation it
    /// points to stays reserved, so no later snapshot can take its address.
    snapshot: Weak<Snapshot>,
    etag: HeaderValue,
    cache_control: Option<HeaderValue>,
}

/// The handler's view of [`Api`].
pub(super) type Shared = State<Arc<Api>>;

impl Api {
    /// What the handlers of `pipeline`'s routes share.
    pub(super) fn new(pipeline: Arc<Pipeline>) -> Api {
        Api {
            zone_name: pipeline.zone().display_name().into(),
            pipeline,
            openapi: format!("{:#}\n", openapi::document()),
            headers: ArcSwapOption::empty(),
            dns: DnsAddress::default(),
            pages: Pages::default(),
        }
    }

    /// The headers of answers drawn from `snapshot`.
    fn headers_for(&self, snapshot: &Arc<Snapshot>) -> Arc<SnapshotHeaders> {
        if let Some(made) = self.headers.load().as_ref()
            && std::ptr::eq(made.snapshot.as_ptr(), Arc::as_ptr(snapshot))
        {
            return made.clone();
        }
        let zone = self.pipeline.zone();
        let made = Arc::new(SnapshotHeaders {
            snapshot: Arc::downgrade(snapshot),
            etag: etag(zone, snapshot),
            cache_control: HeaderValue::from_str(&format!("public, max-age={}", zone.ttl)).ok(),
        });
        self.headers.store(Some(made.clone()));
        made
    }
}

/// `response` with the fixed `headers` set.
pub(super) fn with_headers(
    mut response: Response<Body>,
    headers: &[(HeaderName, &'static str)],
) -> Response<Body> {
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

/// An error answer: `{"status": N, "error": "why"}`.
pub(super) fn error(status: StatusCode, reason: &str) -> Response<Body> {
    with_headers(
        (status, error_body(status, reason)).into_response(),
        &[
            (header::CONTENT_TYPE, JSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
}

fn error_body(status: StatusCode, reason: &str) -> String {
    let body = serde_json::json!({ "status": status.as_u16(), "error": reason });
    format!("{body}\n")
}

/// The ETag of answers drawn from `snapshot`.
fn etag(zone: &Zone, snapshot: &Snapshot) -> HeaderValue {
    let tag = format!(
        "\"{}-{:016x}-{}\"",
        snapshot.serial,
        serial::fingerprint(zone, &snapshot.table),
        env!("CARGO_PKG_VERSION")
    );
    // Digits, letters, dots and dashes in quotes: always a header value.
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""))
}

/// How many headers an answer drawn from the data may carry: its type, ETag and lifetime, a
/// page's three, the body's length and the two cross-origin ones.
const ANSWER_HEADERS: usize = 10;

/// An answer drawn from `snapshot`, with its ETag and the zone's TTL as its lifetime.
pub(super) fn data_answer(
    api: &Api,
    snapshot: &Arc<Snapshot>,
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response<Body> {
    let shared = api.headers_for(snapshot);
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    // Room for every header an answer gets on its way out (a page's three, the length, the
    // cross-origin ones), so that the map is not grown and rehashed on the way.
    headers.reserve(ANSWER_HEADERS);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ETAG, shared.etag.clone());
    if let Some(lifetime) = &shared.cache_control {
        headers.insert(header::CACHE_CONTROL, lifetime.clone());
    }
    response
}

/// The answer to a CORS preflight, from anywhere allowed: GET and HEAD with `If-None-Match`;
/// at `/dns-query` (`doh`), GET and POST with `Content-Type` (a DNS message is not one of
/// the types a browser posts without asking).
pub(super) fn preflight(doh: bool) -> Response<Body> {
    let (methods, headers) = if doh {
        ("GET, POST, OPTIONS", "Content-Type")
    } else {
        ("GET, HEAD, OPTIONS", "If-None-Match")
    };
    with_headers(
        StatusCode::NO_CONTENT.into_response(),
        &[
            (header::ACCESS_CONTROL_ALLOW_METHODS, methods),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, headers),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
}

/// Whether `if_none_match` (a list of tags, or `*`) names `etag`, compared weakly (RFC 9110
/// 13.1.2).
fn names_tag(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(list), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The router's answer made final: 304 when the client holds it already, a JSON body for the
/// router's own 405.
pub(super) fn finish(
    mut response: Response<Body>,
    if_none_match: Option<&HeaderValue>,
) -> Response<Body> {
    match response.status() {
        StatusCode::OK => {
            let held = match (if_none_match, response.headers().get(header::ETAG)) {
                (Some(asked), Some(etag)) => names_tag(asked, etag),
                _ => false,
            };
            if held {
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                *response.body_mut() = Body::empty();
                let headers = response.headers_mut();
                headers.remove(header::CONTENT_TYPE);
                headers.remove(header::CONTENT_LENGTH);
            }
            response
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut refused = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "this method is not answered here; the Allow header lists those that are",
            );
            if let Some(allow) = response.headers().get(header::ALLOW) {
                refused.headers_mut().insert(header::ALLOW, allow.clone());
            }
            refused
        }
        _ => response,
    }
}

/// The JSON 404 of a path under the API's.
pub(super) fn not_found() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "no such path; the API is described at /v1/openapi.json",
    )
}

pub(super) async fn metrics(State(api): Shared) -> Response<Body> {
    with_headers(
        api.pipeline.metrics().render().into_response(),
        &[
            (
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
}

pub(super) async fn document(State(api): Shared) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    data_answer(&api, &snapshot, StatusCode::OK, JSON, api.openapi.clone())
}

/// Uses as `lookup --json` and `search --json` print them.
fn uses_body(views: &[UseView]) -> String {
    format!("{}\n", present::to_json(views))
}

/// What a lookup path names first.
pub(super) enum Subject {
    Port,
    Service,
}

/// The `lookup` query for `subject` on `protocol`, or why there is none.
pub(super) fn lookup_query(
    kind: Subject,
    subject: &str,
    protocol: Option<&str>,
) -> Result<String, String> {
    match kind {
        Subject::Port => {
            // The CLI's message, from the same place.
            present::port_of(subject).map_err(|error| error.to_string())?;
        }
        Subject::Service => {
            if !is_service_name(subject) {
                return Err(format!(
                    "service {subject:?} is not a service name: letters, digits and dashes, \
                     with at least one letter"
                ));
            }
        }
    }
    match protocol {
        None => Ok(subject.to_owned()),
        Some(label) if Protocol::from_label(label.as_bytes()).is_some() => {
            Ok([subject, "/", label].concat())
        }
        Some(label) => Err(unknown_protocol(label)),
    }
}

/// Whether `subject` can be a service name in a path: a letter at least, and no blank,
/// control character or dot.
pub(super) fn is_service_name(subject: &str) -> bool {
    subject.bytes().any(|b| b.is_ascii_alphabetic())
        && !subject
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'.')
}

/// `protocol "x" is not one of tcp, udp, sctp, dccp`.
pub(super) fn unknown_protocol(label: &str) -> String {
    let known: Vec<&str> = Protocol::ALL.iter().map(|p| p.label()).collect();
    format!("protocol {label:?} is not one of {}", known.join(", "))
}

/// The answer to a lookup of `subject` (on `protocol`), or to a path that could not be read.
fn lookup(
    api: &Api,
    kind: Subject,
    path: Result<(String, Option<String>), PathRejection>,
) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let zone = api.pipeline.zone();
    let answer = |status: StatusCode, body: String| data_answer(api, &snapshot, status, JSON, body);
    let query = path
        .map_err(|rejection| rejection.body_text())
        .and_then(|(subject, protocol)| lookup_query(kind, &subject, protocol.as_deref()));
    let query = match query {
        Ok(query) => query,
        Err(reason) => {
            return answer(
                StatusCode::BAD_REQUEST,
                error_body(StatusCode::BAD_REQUEST, &reason),
            );
        }
    };
    match present::lookup(zone, &snapshot, &query) {
        Ok(views) => answer(StatusCode::OK, uses_body(&views)),
        Err(not_found @ LookupError::NotFound(_)) => answer(
            StatusCode::NOT_FOUND,
            error_body(StatusCode::NOT_FOUND, &not_found.to_string()),
        ),
        Err(other) => answer(
            StatusCode::BAD_REQUEST,
            error_body(StatusCode::BAD_REQUEST, &other.to_string()),
        ),
    }
}

pub(super) async fn port(
    State(api): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Response<Body> {
    lookup(&api, Subject::Port, path.map(|Path(port)| (port, None)))
}

pub(super) async fn port_on(
    State(api): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response<Body> {
    let path = path.map(|Path((port, protocol))| (port, Some(protocol)));
    lookup(&api, Subject::Port, path)
}

pub(super) async fn service(
    State(api): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Response<Body> {
    lookup(&api, Subject::Service, path.map(|Path(name)| (name, None)))
}

pub(super) async fn service_on(
    State(api): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response<Body> {
    let path = path.map(|Path((name, protocol))| (name, Some(protocol)));
    lookup(&api, Subject::Service, path)
}

/// `/v1/search`'s parameters, read as text so that a bad one gets a JSON reason.
#[derive(Debug, Deserialize)]
pub(super) struct SearchParameters {
    q: Option<String>,
    limit: Option<String>,
}

/// The words and the most uses to show, or why the parameters cannot be used.
fn search_parameters(
    parameters: Result<Query<SearchParameters>, QueryRejection>,
) -> Result<(String, usize), String> {
    let Query(parameters) = parameters.map_err(|rejection| rejection.body_text())?;
    let words = parameters.q.unwrap_or_default();
    if words.trim().is_empty() {
        return Err("q: give at least one word to search for".to_owned());
    }
    let limit = match parameters.limit.as_deref() {
        None => usize::MAX,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if limit > 0 => limit,
            _ => return Err(format!("limit {text:?} is not a whole number above 0")),
        },
    };
    Ok((words, limit))
}

pub(super) async fn search(
    State(api): Shared,
    parameters: Result<Query<SearchParameters>, QueryRejection>,
) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let answer =
        |status: StatusCode, body: String| data_answer(&api, &snapshot, status, JSON, body);
    let (words, limit) = match search_parameters(parameters) {
        Ok(parameters) => parameters,
        Err(reason) => {
            return answer(
                StatusCode::BAD_REQUEST,
                error_body(StatusCode::BAD_REQUEST, &reason),
            );
        }
    };
    match present::search(&snapshot, &[words]) {
        Ok(mut views) => {
            views.truncate(limit);
            answer(StatusCode::OK, uses_body(&views))
        }
        Err(not_found @ LookupError::NoMatch(_)) => answer(
            StatusCode::NOT_FOUND,
            error_body(StatusCode::NOT_FOUND, &not_found.to_string()),
        ),
        Err(other) => answer(
            StatusCode::BAD_REQUEST,
            error_body(StatusCode::BAD_REQUEST, &other.to_string()),
        ),
    }
}

pub(super) async fn zone(State(api): Shared) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let zone = api.pipeline.zone();
    let view = present::zone_view(zone, &snapshot);
    // Plain strings, numbers and a map of them always serialise.
    let body = format!("{}\n", serde_json::to_string(&view).unwrap_or_default());
    data_answer(&api, &snapshot, StatusCode::OK, JSON, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_names_a_tag_weakly_in_a_list_or_by_star() {
        let etag = HeaderValue::from_static("\"7-ab-1\"");
        let names = |text: &'static str| names_tag(&HeaderValue::from_static(text), &etag);
        assert!(names("\"7-ab-1\""));
        assert!(names("W/\"7-ab-1\""));
        assert!(names("\"x\", \"7-ab-1\""));
        assert!(names("*"));
        assert!(!names("\"7-ab-2\""));
        assert!(!names("7-ab-1"));
    }

    #[test]
    fn paths_are_checked_before_the_lookup() {
        assert_eq!(
            lookup_query(Subject::Port, "443", Some("tcp")),
            Ok("443/tcp".into())
        );
        assert_eq!(lookup_query(Subject::Port, "0", None), Ok("0".into()));
        for bad in ["99999", "", "+1", "https", "-1", "0443"] {
            assert!(lookup_query(Subject::Port, bad, None).is_err(), "{bad}");
        }
        assert!(lookup_query(Subject::Port, "443", Some("icmp")).is_err());
        assert_eq!(
            lookup_query(Subject::Service, "https", None),
            Ok("https".into())
        );
        for bad in ["443", "a.b", "a b", "--"] {
            assert!(lookup_query(Subject::Service, bad, None).is_err(), "{bad}");
        }
    }
}
