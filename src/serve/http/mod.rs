//! The HTTP server (`--http ADDR:PORT`, a passed socket named `http`, or the deprecated
//! `--metrics`) and the same over TLS (`--https ADDR:PORT`, a passed socket named `https`):
//! the JSON API under `/v1/` and `/metrics` (`api`), the pages for people (`page`), the OpenAPI
//! document (`openapi`) and DNS over HTTPS at `/dns-query` (`doh`). hyper speaks HTTP/1.1 and
//! HTTP/2 (h2c with prior knowledge in clear, or as ALPN chose over TLS) on the runtime that
//! serves DNS over TCP; axum's router picks the handler.
//!
//! It is no second way in. Before the router, every connection and request goes through what
//! the DNS side applies:
//! - the access list (`--allow`, `--deny`): a refused client's connection is closed unread;
//! - a request rate limit per client /24 or /56 (`--http-rate-limit`, the DNS side's
//!   [`RateLimiter`] with its exemptions, loopback by default): past it, 429;
//! - at most `--http-max-connections` connections, the one idle longest closed for a newcomer
//!   and idle timeouts shrinking as they fill ([`Occupancy`], as for DNS over TCP);
//! - a request head of at most [`MAX_HEAD`] bytes (431 or, in HTTP/2, a reset stream), sent
//!   within [`REQUEST_TIMEOUT`]; no request body above [`MAX_BODY`] bytes, nor one of unknown
//!   length (413), but at `/dns-query`, where a DNS message of up to 65,535 bytes is the body;
//!   a connection with no new request for the idle timeout (10 s) is closed;
//! - over TLS, a handshake finished within the idle timeout, or the connection is closed.

mod api;
mod dns_address;
mod doh;
mod openapi;
mod page;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, Request, Response, StatusCode};
use axum::routing::{MethodRouter, get};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use page::site::Reached;
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower::util::MapResponseLayer;
use tracing::{debug, info};

use super::occupancy::{Occupancy, Seat};
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::pipeline::rrl::{self, RateLimitConfig, RateLimiter, Verdict};

/// How long an HTTP/1.1 client has to send a whole request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read (HTTP/1.1 buffer, HTTP/2 header list).
const MAX_HEAD: usize = 16 * 1024;
/// The largest request body accepted but at `/dns-query`: the API takes none, so only a stray
/// one fits.
const MAX_BODY: u64 = 1024;
/// Requests at once on one HTTP/2 connection.
const MAX_STREAMS: u32 = 32;

/// The HTTP server's headers and limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// The `Access-Control-Allow-Origin` header's value; `None` leaves the header out.
    pub allow_origin: Option<String>,
    /// Requests per second per client prefix (0: no limit), and the networks exempt.
    pub rate_limit: RateLimitConfig,
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long a connection may go without starting a request (shorter once more than half
    /// the connections are held).
    pub idle_timeout: Duration,
}

impl Default for HttpSettings {
    /// Any origin (the data is public), 20 requests a second per client prefix with loopback
    /// exempt, 256 connections idle at most 10 s.
    fn default() -> HttpSettings {
        HttpSettings {
            allow_origin: Some("*".to_owned()),
            rate_limit: RateLimitConfig {
                responses_per_second: 20,
                slip: 0,
                exempt: rrl::default_exempt(),
                ..RateLimitConfig::default()
            },
            max_connections: 256,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Every route, the API's (`api`) and the pages' (`page`), each marking its answers with its
/// template for the metrics.
fn router(api: Arc<api::Api>) -> axum::Router {
    let routes: [(&'static str, MethodRouter<Arc<api::Api>>); ROUTES] = [
        ("/", get(page::home)),
        ("/port/{port}", get(page::port::port)),
        ("/port/{port}/{protocol}", get(page::port::port)),
        ("/service/{name}", get(page::service)),
        ("/service/{name}/{protocol}", get(page::service)),
        ("/opensearch.xml", get(page::opensearch)),
        ("/robots.txt", get(page::robots)),
        ("/style.css", get(page::style)),
        ("/metrics", get(api::metrics)),
        ("/v1/ports/{port}", get(api::port)),
        ("/v1/ports/{port}/{protocol}", get(api::port_on)),
        ("/v1/services/{name}", get(api::service)),
        ("/v1/services/{name}/{protocol}", get(api::service_on)),
        ("/v1/search", get(api::search)),
        ("/v1/zone", get(api::zone)),
        ("/v1/openapi.json", get(api::document)),
        (doh::PATH, get(doh::get).post(doh::post)),
    ];
    (0..)
        .zip(routes)
        .fold(axum::Router::new(), |router, (index, (path, handler))| {
            // A layer of the route's own (as `route_layer` adds), which marks answers its
            // method router gives too (405); a map of the answer, nothing boxed or cloned per
            // request.
            let mark = MapResponseLayer::new(move |mut response: Response<Body>| {
                response.extensions_mut().insert(Route { index, path });
                response
            });
            router.route(path, handler.layer(mark))
        })
        .fallback(page::not_found)
        .with_state(api)
}

/// How many routes `router` has.
const ROUTES: usize = 17;

/// The route that answered a request (its place in `router`'s list, and its template), put on
/// its answer for the metrics.
#[derive(Clone, Copy, Debug)]
struct Route {
    index: usize,
    path: &'static str,
}

/// An open HTTP connection, counted in the metrics while it lives.
struct Open(Arc<Metrics>);

impl Open {
    fn new(metrics: &Arc<Metrics>) -> Open {
        metrics.http_connection(true);
        Open(metrics.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.http_connection(false);
    }
}

/// What every HTTP connection shares: the router and the checks made before it.
#[derive(Debug)]
pub(crate) struct Http {
    router: axum::Router,
    api: Arc<api::Api>,
    pipeline: Arc<Pipeline>,
    allow_origin: Option<HeaderValue>,
    limiter: RateLimiter,
    max_connections: usize,
    idle_timeout: Duration,
    /// The counters of answers of each route, then of paths no route has (`other`), then of
    /// requests refused before the router (`none`).
    counted: [[OnceLock<Counter>; 5]; ROUTES + 2],
}

impl Http {
    /// The server for `pipeline` under `settings`.
    pub(crate) fn new(pipeline: Arc<Pipeline>, settings: HttpSettings) -> Http {
        let api = Arc::new(api::Api::new(pipeline.clone()));
        Http {
            router: router(api.clone()),
            api,
            pipeline,
            // The configuration accepts printable ASCII only, which is always a header value.
            allow_origin: settings
                .allow_origin
                .and_then(|origin| HeaderValue::from_str(&origin).ok()),
            limiter: RateLimiter::new(settings.rate_limit),
            max_connections: settings.max_connections,
            idle_timeout: settings.idle_timeout,
            counted: Default::default(),
        }
    }

    /// Records where this server answers DNS, for the pages' commands.
    pub(crate) fn serves_dns_at(&self, addr: SocketAddr) {
        self.api.dns.set(addr);
    }

    /// The answer to one request from `client`: refused past the rate limit or with a body
    /// (but a DNS message to `/dns-query`), else the router's, with the cross-origin headers
    /// added.
    async fn respond(
        &self,
        mut request: Request<Incoming>,
        client: SocketAddr,
        reached: Reached,
    ) -> Response<Body> {
        let started = Instant::now();
        let mut routed = false;
        let doh = request.uri().path() == doh::PATH;
        let body_limit = if doh { doh::MAX_MESSAGE } else { MAX_BODY };
        let metrics = self.pipeline.metrics();
        let mut response = if self.limiter.check(client.ip(), started) != Verdict::Answer {
            metrics.http_rate_limited();
            let mut refused = api::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from your network; try again in a second",
            );
            refused
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            refused
        } else if request
            .body()
            .size_hint()
            .upper()
            // A DoH body of unknown length is read up to its limit by the handler.
            .map_or(!doh, |length| length > body_limit)
        {
            let mut refused = if doh {
                doh::too_large()
            } else {
                api::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "this server takes no request bodies",
                )
            };
            // The body is not read: the connection cannot carry another request.
            refused
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            refused
        } else if request.method() == Method::OPTIONS {
            api::preflight(doh)
        } else {
            let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
            request.extensions_mut().insert(reached);
            routed = true;
            let response = match self.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            api::finish(response, if_none_match.as_ref())
        };
        if let Some(origin) = &self.allow_origin {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("ETag"),
            );
        }
        let (index, route) = match response.extensions().get::<Route>() {
            Some(&Route { index, path }) => (index, path),
            None if routed => (ROUTES, "other"),
            None => (ROUTES + 1, "none"),
        };
        // A route's counter of a status class is looked up by its labels once, then kept.
        let class = usize::from(response.status().as_u16() / 100).clamp(1, 5) - 1;
        self.counted[index][class]
            .get_or_init(|| {
                metrics.http_requests(route, ["1xx", "2xx", "3xx", "4xx", "5xx"][class])
            })
            .inc();
        metrics.http_took(started.elapsed());
        response
    }
}

/// Accepts connections on `listener` until `stop`, then lets the open ones finish the
/// requests in hand. `role` names the listener in the log (`http`, `https` or `metrics`);
/// with `tls`, each connection starts with a TLS handshake.
pub(crate) async fn serve(
    listener: TcpListener,
    http: Arc<Http>,
    role: &'static str,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr() {
        match role {
            "metrics" => info!(
                "metrics on http://{addr}/metrics (--metrics is deprecated: --http serves the \
                 same and more)"
            ),
            _ => info!("{role} on {role}://{addr}/"),
        }
    }
    let occupancy = Occupancy::new(http.max_connections, http.idle_timeout);
    let connections = TaskTracker::new();
    let metrics = http.pipeline.metrics().clone();
    let admits = |client: SocketAddr| {
        let permitted = http.pipeline.permits(client.ip());
        if !permitted {
            metrics.http_refused();
        }
        permitted
    };
    while let Some((stream, client, seat)) = occupancy
        .accept(&listener, role, &stop, admits, || {})
        .await
    {
        let open = Open::new(&metrics);
        let http = http.clone();
        let stop = stop.clone();
        let reached = Reached {
            scheme: if tls.is_some() { "https" } else { "http" },
            local: stream.local_addr().unwrap_or(client),
            client,
        };
        // An answer goes out whole in one write; waiting for the client's ACK of the previous
        // one (Nagle) would only add latency.
        let _ = stream.set_nodelay(true);
        let Some(tls) = tls.clone() else {
            connections.spawn(async move {
                serve_connection(stream, client, reached, http, seat, stop).await;
                drop(open);
            });
            continue;
        };
        connections.spawn(async move {
            let _open = open;
            // A client that stalls in the handshake is as idle as one that sends no request.
            match seat.bounded(seat.idle_timeout(), tls.accept(stream)).await {
                Some(Ok(stream)) => {
                    serve_connection(stream, client, reached, http, seat, stop).await
                }
                Some(Err(error)) => debug!(%client, %error, "https handshake failed"),
                None => debug!(%client, "https handshake not finished in time, closing"),
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// Serves one connection until the client closes it, goes idle, is closed to make room, or the
/// server stops (then the requests in hand are finished).
async fn serve_connection<S>(
    stream: S,
    client: SocketAddr,
    reached: Reached,
    http: Arc<Http>,
    seat: Seat,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let seat = Arc::new(seat);
    let service = {
        let seat = seat.clone();
        hyper::service::service_fn(move |request| {
            seat.touch();
            let http = http.clone();
            async move { Ok::<_, Infallible>(http.respond(request, client, reached).await) }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD as u32)
        .max_concurrent_streams(MAX_STREAMS);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        let idle_left = seat.idle_timeout().saturating_sub(seat.idle_for());
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    debug!(%client, %error, "http connection ended");
                }
                return;
            }
            () = seat.closing() => {
                debug!(%client, "http connection closed to make room");
                return;
            }
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(idle_left), if !stopping => {
                if seat.idle_for() >= seat.idle_timeout() {
                    debug!(%client, "http connection idle, closing");
                    return;
                }
            }
        }
    }
}
