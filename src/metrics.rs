//! The counters every part of portsd records into, and their exposition text (the endpoint
//! that serves it is [`crate::serve`]'s).
//!
//! Metrics, in the OpenMetrics text format that Prometheus scrapes:
//! - `portsd_queries_total{transport, qtype, rcode}`: responses sent (and UDP ones suppressed
//!   by the rate limiter), by transport, query type and response code;
//! - `portsd_answer_seconds`: time from a query's arrival in portsd to its answer being built;
//! - `portsd_rate_limited_total{action}`: UDP responses slipped (sent truncated) or dropped;
//! - `portsd_refused_clients_total{transport}`: queries from networks the access list refuses;
//! - `portsd_tcp_closed_under_pressure_total`: TCP connections closed to make room for a new
//!   client (at the connection cap, or out of descriptors);
//! - `portsd_table_entries{source}`, `portsd_table_serial`: the table being served (the serial
//!   of the first zone); `portsd_zone_serial{zone}`: the serial of each zone served;
//! - `portsd_reloads_total`, `portsd_reload_failures_total`;
//! - `portsd_transfers_total{kind, result}`: zone transfers asked for (`axfr`, `ixfr`) and what
//!   they got: the form sent (`axfr`, `ixfr`, `soa`) or why they were refused (`not_allowed`,
//!   `unsigned`, `busy`, `udp`); `portsd_tsig_rejected_total`: requests answered NOTAUTH for a
//!   bad signature (unknown key, wrong MAC, time outside the fudge); the serial served is `portsd_table_serial`;
//! - `portsd_notifies_total{result}`: NOTIFYs `sent`, `acknowledged` and `failed` (timed out
//!   or answered with an error);
//! - `portsd_cookies_total{kind}`: requests with a DNS cookie, by what it was: `client_only`,
//!   `valid` (a server cookie made here: exempt from rate limiting), `invalid` (a server
//!   cookie not made here or too old), `malformed` (answered FORMERR);
//! - `portsd_dnstap_sent_total`, `portsd_dnstap_dropped_total`: dnstap events (a query with
//!   its response, or one message of a transfer) written to the collector, and not delivered:
//!   the queue was full (the collector too slow) or no collector was connected;
//! - `portsd_http_requests_total{route, status}`: HTTP answers by route (the router's
//!   template, `/port/{port}`; `other` for a path no route has, `none` for a request refused
//!   before the router) and status class (`2xx` ... `5xx`);
//!   `portsd_http_request_seconds`: time from a request's arrival to its answer;
//!   `portsd_http_rate_limited_total`: requests answered 429; `portsd_http_refused_clients_total`:
//!   connections closed unread because the access list refuses the client;
//!   `portsd_http_connections`: HTTP and HTTPS connections open now;
//! - `portsd_build_info{version}`.
//!
//! Every per-query counter handle is created once up front, so counting a query is an atomic
//! add into an array slot, with no label hashing on the hot path.

use std::fmt::Write as _;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::core::zone::{Snapshot, Zone};
use crate::transport::Transport;
use crate::wire::{RecordType, ResponseCode};

/// Query types counted by name; everything else is `other`, a message with no question `none`.
const QTYPES: [(Option<RecordType>, &str); 8] = [
    (Some(RecordType::A), "A"),
    (Some(RecordType::NS), "NS"),
    (Some(RecordType::SOA), "SOA"),
    (Some(RecordType::TXT), "TXT"),
    (Some(RecordType::AAAA), "AAAA"),
    (Some(RecordType::ANY), "ANY"),
    (None, "none"),
    (Some(RecordType::ZERO), "other"),
];

/// Response codes counted by name; `dropped` marks UDP responses the rate limiter suppressed.
const RCODES: [(ResponseCode, &str); 8] = [
    (ResponseCode::NoError, "NOERROR"),
    (ResponseCode::FormErr, "FORMERR"),
    (ResponseCode::ServFail, "SERVFAIL"),
    (ResponseCode::NXDomain, "NXDOMAIN"),
    (ResponseCode::NotImp, "NOTIMP"),
    (ResponseCode::Refused, "REFUSED"),
    (ResponseCode::BADVERS, "BADVERS"),
    // Never matched: the slot every other code is counted in.
    (ResponseCode::Unknown(u16::MAX), "other"),
];

type Labels = Vec<(String, String)>;

/// An HTTP answer's route and status class: fixed strings, none made per answer.
type HttpLabels = [(&'static str, &'static str); 2];

/// All of portsd's counters, shared by every listener.
pub struct Metrics {
    registry: Registry,
    /// `[transport][qtype][rcode]`.
    queries: Vec<Counter>,
    answer_seconds: Histogram,
    slipped: Counter,
    dropped: Counter,
    /// One per transport, in [`Transport::ALL`]'s order.
    refused: Vec<Counter>,
    entries: Family<Labels, Gauge>,
    serial: Gauge,
    zone_serials: Family<Labels, Gauge>,
    reloads: Counter,
    reload_failures: Counter,
    transfers: Family<Labels, Counter>,
    tsig_rejected: Counter,
    dnstap_sent: Counter,
    dnstap_dropped: Counter,
    notifies: Family<Labels, Counter>,
    /// One per kind in [`COOKIE_KINDS`].
    cookies: Vec<Counter>,
    tcp_closed_under_pressure: Counter,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Histogram,
    http_rate_limited: Counter,
    http_refused: Counter,
    http_connections: Gauge,
}

/// The kinds of DNS cookie counted, as [`crate::pipeline::cookie`] labels them.
pub(crate) const COOKIE_KINDS: [&str; 4] = ["client_only", "valid", "invalid", "malformed"];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("portsd");
        let queries_family = Family::<Labels, Counter>::default();
        let mut queries = Vec::new();
        for transport in Transport::ALL {
            for (_, qtype) in QTYPES {
                for (_, rcode) in RCODES {
                    let set = labels(&[
                        ("transport", transport.label()),
                        ("qtype", qtype),
                        ("rcode", rcode),
                    ]);
                    queries.push(queries_family.get_or_create(&set).clone());
                }
            }
        }
        registry.register(
            "queries",
            "Responses by transport, query type and rcode",
            queries_family,
        );
        // 1 µs to about 1 s.
        let answer_seconds = Histogram::new(exponential_buckets(1e-6, 4.0, 11));
        registry.register(
            "answer_seconds",
            "Time from a query's arrival to its answer being built",
            answer_seconds.clone(),
        );
        let limited = Family::<Labels, Counter>::default();
        let slipped = limited
            .get_or_create(&labels(&[("action", "slip")]))
            .clone();
        let dropped = limited
            .get_or_create(&labels(&[("action", "drop")]))
            .clone();
        registry.register(
            "rate_limited",
            "UDP responses limited by response rate limiting",
            limited,
        );
        let refused = Family::<Labels, Counter>::default();
        let refused_by_transport = Transport::ALL
            .iter()
            .map(|transport| {
                refused
                    .get_or_create(&labels(&[("transport", transport.label())]))
                    .clone()
            })
            .collect();
        registry.register(
            "refused_clients",
            "Queries from networks the access list refuses",
            refused,
        );
        let entries = Family::<Labels, Gauge>::default();
        registry.register(
            "table_entries",
            "Table entries by contributing source",
            entries.clone(),
        );
        let serial = Gauge::default();
        registry.register(
            "table_serial",
            "SOA serial of the table being served",
            serial.clone(),
        );
        let zone_serials = Family::<Labels, Gauge>::default();
        registry.register(
            "zone_serial",
            "SOA serial of each zone served",
            zone_serials.clone(),
        );
        let reloads = Counter::default();
        registry.register("reloads", "Successful reloads of the data", reloads.clone());
        let reload_failures = Counter::default();
        registry.register(
            "reload_failures",
            "Reloads refused because the data was bad",
            reload_failures.clone(),
        );
        let transfers = Family::<Labels, Counter>::default();
        registry.register(
            "transfers",
            "Zone transfers by kind asked for and the form sent or the reason refused",
            transfers.clone(),
        );
        let tsig_rejected = Counter::default();
        registry.register(
            "tsig_rejected",
            "Requests answered NOTAUTH because their TSIG signature failed",
            tsig_rejected.clone(),
        );
        let dnstap_sent = Counter::default();
        registry.register(
            "dnstap_sent",
            "dnstap events written to the collector",
            dnstap_sent.clone(),
        );
        let dnstap_dropped = Counter::default();
        registry.register(
            "dnstap_dropped",
            "dnstap events dropped: queue full, or no collector connected",
            dnstap_dropped.clone(),
        );
        let notifies = Family::<Labels, Counter>::default();
        registry.register(
            "notifies",
            "NOTIFY messages sent to secondaries, acknowledged, and failed (timed out or refused)",
            notifies.clone(),
        );
        let cookies_family = Family::<Labels, Counter>::default();
        let cookies = COOKIE_KINDS
            .iter()
            .map(|kind| {
                cookies_family
                    .get_or_create(&labels(&[("kind", kind)]))
                    .clone()
            })
            .collect();
        registry.register(
            "cookies",
            "Requests with a DNS cookie, by kind: client_only, valid, invalid, malformed",
            cookies_family,
        );
        let tcp_closed_under_pressure = Counter::default();
        registry.register(
            "tcp_closed_under_pressure",
            "TCP connections closed, idle longest first, to make room for a new client",
            tcp_closed_under_pressure.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP answers by route and status class",
            http_requests.clone(),
        );
        // 10 µs to about 2.6 s.
        let http_seconds = Histogram::new(exponential_buckets(1e-5, 4.0, 10));
        registry.register(
            "http_request_seconds",
            "Time from an HTTP request's arrival to its answer",
            http_seconds.clone(),
        );
        let http_rate_limited = Counter::default();
        registry.register(
            "http_rate_limited",
            "HTTP requests answered 429 past the rate limit",
            http_rate_limited.clone(),
        );
        let http_refused = Counter::default();
        registry.register(
            "http_refused_clients",
            "HTTP connections closed unread because the access list refuses the client",
            http_refused.clone(),
        );
        let http_connections = Gauge::default();
        registry.register(
            "http_connections",
            "HTTP and HTTPS connections open",
            http_connections.clone(),
        );
        registry.register(
            "build",
            "Version of this build",
            Info::new(labels(&[("version", env!("CARGO_PKG_VERSION"))])),
        );
        Metrics {
            registry,
            queries,
            answer_seconds,
            slipped,
            dropped,
            refused: refused_by_transport,
            entries,
            serial,
            zone_serials,
            reloads,
            reload_failures,
            transfers,
            tsig_rejected,
            dnstap_sent,
            dnstap_dropped,
            notifies,
            cookies,
            tcp_closed_under_pressure,
            http_requests,
            http_seconds,
            http_rate_limited,
            http_refused,
            http_connections,
        }
    }

    /// The counter of HTTP answers on `route` with a status of `class` (`2xx`).
    pub(crate) fn http_requests(&self, route: &'static str, class: &'static str) -> Counter {
        let labels = [("route", route), ("status", class)];
        self.http_requests.get_or_create(&labels).clone()
    }

    /// Counts how long an HTTP answer took.
    pub(crate) fn http_took(&self, took: Duration) {
        self.http_seconds.observe(took.as_secs_f64());
    }

    /// Counts an HTTP request answered 429.
    pub(crate) fn http_rate_limited(&self) {
        self.http_rate_limited.inc();
    }

    /// Counts an HTTP connection refused by the access list.
    pub(crate) fn http_refused(&self) {
        self.http_refused.inc();
    }

    /// One more HTTP connection open (`opened`), or one fewer.
    pub(crate) fn http_connection(&self, opened: bool) {
        if opened {
            self.http_connections.inc();
        } else {
            self.http_connections.dec();
        }
    }

    /// Counts a TCP connection closed to make room for a new client.
    pub(crate) fn tcp_closed_under_pressure(&self) {
        self.tcp_closed_under_pressure.inc();
    }

    /// Counts a request's cookie of `kind` (`client_only`, `valid`, `invalid`, `malformed`).
    pub(crate) fn cookie(&self, kind: &str) {
        if let Some(index) = COOKIE_KINDS.iter().position(|k| *k == kind) {
            self.cookies[index].inc();
        }
    }

    /// Counts a NOTIFY `sent`, `acknowledged` or `failed`.
    pub(crate) fn notify(&self, result: &str) {
        self.notifies
            .get_or_create(&labels(&[("result", result)]))
            .inc();
    }

    /// Counts a request whose TSIG signature failed (unknown key, bad MAC, bad time).
    pub(crate) fn tsig_rejected(&self) {
        self.tsig_rejected.inc();
    }

    /// Counts `events` dnstap events written to the collector.
    pub(crate) fn dnstap_sent(&self, events: u64) {
        self.dnstap_sent.inc_by(events);
    }

    /// Counts `events` dnstap events dropped (each one exchange or one transfer message).
    pub(crate) fn dnstap_dropped(&self, events: u64) {
        self.dnstap_dropped.inc_by(events);
    }

    /// Counts a transfer started: `kind` asked for, `form` sent.
    pub(crate) fn transfer_started(&self, kind: &str, form: &str) {
        self.count_transfer(kind, form);
    }

    /// Counts a transfer refused: `kind` asked for, `reason` refused.
    pub(crate) fn transfer_refused(&self, kind: &str, reason: &str) {
        self.count_transfer(kind, reason);
    }

    fn count_transfer(&self, kind: &str, result: &str) {
        self.transfers
            .get_or_create(&labels(&[("kind", kind), ("result", result)]))
            .inc();
    }

    /// Counts one response (by the type asked and the response code sent, as the step that
    /// wrote it reports them) and how long it took to build.
    pub(crate) fn record(
        &self,
        transport: Transport,
        qtype: Option<RecordType>,
        rcode: ResponseCode,
        took: Duration,
    ) {
        let qtype_index = QTYPES
            .iter()
            .position(|&(t, _)| t == qtype)
            .unwrap_or(QTYPES.len() - 1);
        let rcode_index = RCODES
            .iter()
            .position(|&(r, _)| r == rcode)
            .unwrap_or(RCODES.len() - 1);
        let transport_index = match transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Dot => 2,
            Transport::Doh => 3,
        };
        let slot = (transport_index * QTYPES.len() + qtype_index) * RCODES.len() + rcode_index;
        if let Some(counter) = self.queries.get(slot) {
            counter.inc();
        }
        self.answer_seconds.observe(took.as_secs_f64());
    }

    /// Counts a UDP response the rate limiter sent truncated.
    pub(crate) fn slipped(&self) {
        self.slipped.inc();
    }

    /// Counts a UDP response the rate limiter suppressed.
    pub(crate) fn dropped(&self) {
        self.dropped.inc();
    }

    /// Counts a query from a refused network.
    pub(crate) fn refused(&self, transport: Transport) {
        if let Some(counter) = self.refused.get(transport as usize) {
            counter.inc();
        }
    }

    /// Records the table now served, and whether it came from a reload.
    pub(crate) fn table_loaded<'a>(
        &self,
        served: impl IntoIterator<Item = (&'a Zone, &'a Snapshot)>,
        reloaded: bool,
    ) {
        for (n, (zone, snapshot)) in served.into_iter().enumerate() {
            if n == 0 {
                for (source, count) in snapshot.table.stats().by_source {
                    let set = labels(&[("source", source.name())]);
                    self.entries.get_or_create(&set).set(count as i64);
                }
                self.serial.set(i64::from(snapshot.serial));
            }
            let set = labels(&[("zone", &zone.display_name())]);
            self.zone_serials
                .get_or_create(&set)
                .set(i64::from(snapshot.serial));
        }
        if reloaded {
            self.reloads.inc();
        }
    }

    /// Counts a reload that failed.
    pub(crate) fn reload_failed(&self) {
        self.reload_failures.inc();
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
            let _ = writeln!(text, "# metrics could not be encoded");
        }
        text
    }
}
