//! DNS over HTTPS (RFC 8484) at [`PATH`]: a DNS query in a `GET`'s `dns` parameter (base64url
//! without padding) or a `POST`'s body (`Content-Type: application/dns-message`), answered by
//! the [`Pipeline`] with the transport `doh` and sent back as `application/dns-message`.
//!
//! Only bytes move here. The answer is the pipeline's, with the ID asked (RFC 8484 asks
//! clients for ID 0, and that is answered as any other); its freshness (`Cache-Control:
//! max-age`) is the smallest TTL of its answer section, or for an answer without records the
//! negative caching time of the SOA in its authority section (RFC 2308: the lesser of the
//! SOA's TTL and its MINIMUM), and 0 for an answer with neither (an error).
//!
//! Status codes: a request that holds no DNS query (no `dns` parameter, bad base64url, bytes
//! that cannot be read as a DNS message to their end, a response) gets 400; a `POST` of another media type 415; a
//! message over 65,535 bytes 413 (checked before the router, as for every body).

use std::net::SocketAddr;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use data_encoding::BASE64URL_NOPAD;
use serde::Deserialize;

use super::api::{self, Shared};
use super::page::site::Reached;
use crate::pipeline::{Outcome, Pipeline};
use crate::transport::Transport;
use crate::wire;

/// Where DNS over HTTPS is served (RFC 8484's example path, the one clients default to).
pub(super) const PATH: &str = "/dns-query";

/// The largest DNS message, and so the largest body `POST` may carry.
pub(super) const MAX_MESSAGE: u64 = u16::MAX as u64;

/// The media type of a DNS message in HTTP (RFC 8484 6).
const DNS_MESSAGE: &str = "application/dns-message";

/// A `GET`'s query string; parameters other than `dns` are ignored, as RFC 8484 allows.
#[derive(Debug, Deserialize)]
pub(super) struct Parameters {
    dns: Option<String>,
}

/// `GET /dns-query?dns=...`.
pub(super) async fn get(
    State(api): Shared,
    Extension(reached): Extension<Reached>,
    parameters: Result<Query<Parameters>, QueryRejection>,
) -> Response<Body> {
    let encoded = parameters.ok().and_then(|Query(p)| p.dns);
    let Some(encoded) = encoded else {
        return api::error(StatusCode::BAD_REQUEST, "no dns parameter");
    };
    match BASE64URL_NOPAD.decode(encoded.as_bytes()) {
        Ok(query) => answer(&api.pipeline, reached.client, &query).await,
        Err(_) => api::error(
            StatusCode::BAD_REQUEST,
            "the dns parameter is not base64url without padding",
        ),
    }
}

/// `POST /dns-query` with a DNS message as its body.
pub(super) async fn post(
    State(api): Shared,
    Extension(reached): Extension<Reached>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    // The length was checked before the router when the client declared it; this bounds a
    // body sent without a length. The body is read whatever its type: an HTTP/2 client whose
    // body is left unread sees its stream reset rather than the answer.
    let Ok(query) = axum::body::to_bytes(body, MAX_MESSAGE as usize).await else {
        return too_large();
    };
    if !is_dns_message(headers.get(header::CONTENT_TYPE)) {
        return api::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/dns-message",
        );
    }
    answer(&api.pipeline, reached.client, &query).await
}

/// The 413 of a body longer than a DNS message.
pub(super) fn too_large() -> Response<Body> {
    api::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "a DNS message is at most 65535 bytes",
    )
}

/// The 400 of a request that holds no DNS query.
fn not_a_query() -> Response<Body> {
    api::error(StatusCode::BAD_REQUEST, "the request holds no DNS query")
}

/// Whether a `Content-Type` names the DNS message media type (parameters aside).
fn is_dns_message(content_type: Option<&HeaderValue>) -> bool {
    let Some(Ok(value)) = content_type.map(HeaderValue::to_str) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(DNS_MESSAGE)
}

/// The pipeline's answer to `query` from `client`, or 400 when the bytes are no DNS query
/// (a message that cannot be read to its end, or a response).
async fn answer(pipeline: &Pipeline, client: SocketAddr, query: &[u8]) -> Response<Body> {
    let readable = wire::Request::read(query).is_some_and(|r| r.complete && !r.is_response());
    if !readable {
        return not_a_query();
    }
    crate::serve::tcp::started_for(pipeline, query).await;
    let mut response = Vec::new();
    match pipeline.handle(query, client, Transport::Doh, Instant::now(), &mut response) {
        Outcome::Reply => {}
        // The pipeline refuses every transfer over DoH with an answer, so only silence is left.
        Outcome::Silence | Outcome::Transfer(_) => return not_a_query(),
    }
    let max_age = wire::freshness(&response).unwrap_or(0);
    let mut reply = response.into_response();
    let headers = reply.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
    // Digits after `max-age=`: always a header value.
    if let Ok(cache_control) = HeaderValue::try_from(format!("max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, cache_control);
    }
    reply
}
