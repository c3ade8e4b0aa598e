//! The request pipeline: one socket-free step from a request's bytes, its client's address,
//! its transport and its arrival time to a response, silence, or a zone transfer. The UDP
//! loop, the TCP connections, the fuzzer, the tests and the benchmarks all call
//! [`Pipeline::handle`]; every per-message decision is taken here, once, in this order, each
//! step reading the one view of the request (`crate::wire::Request`):
//!
//! 1. who may be answered ([`acl`]): a refused UDP client gets silence (its address may be
//!    forged), a refused TCP client REFUSED; a message shorter than a header, or a response,
//!    gets nothing;
//! 2. TSIG (`tsig`): a bad signature gets its NOTAUTH answer, a good one a signed response;
//! 3. the catalog zone (`catalog`, `--catalog`): plain queries at or under its name, its
//!    transfers included, answered from its few records; then zone transfers (`transfer`):
//!    admitted (a transfer over TCP, one message over UDP) or refused, decided and answered
//!    here;
//! 4. NOTIFY: REFUSED, as NSD answers it (portsd is a primary);
//! 5. the answer: the fast path (`fast`) for plain queries, the general hickory path
//!    (`general`) for everything else, which owns every other error answer (FORMERR,
//!    NOTIMP, BADVERS), the EDNS options portsd reads (`edns`), DNS cookies (`cookie`),
//!    the CHAOS class and NSID ([`identity`]), and is the one place hickory parses a message;
//! 6. response rate limiting ([`rrl`]) of UDP answers, with slips; a request with a valid
//!    server cookie is exempt (its address cannot be forged), as in BIND and Knot;
//! 7. counting ([`crate::metrics`]), the optional query log and dnstap ([`crate::dnstap`]:
//!    the raw query and response queued, nothing encoded here), transfers included, from what
//!    the answering step reports (never by reading the response again).
//!
//! Every zone served (`--zone`, repeatable) reads the one table: a message is routed to the
//! zone its question's name is in (`Zones::route`), and reads that zone's snapshot once
//! (`ZoneState`); a reload swaps every zone's without locking the readers.

pub mod acl;
mod catalog;
pub mod cookie;
pub(crate) mod edns;
pub(crate) mod fast;
pub(crate) mod general;
pub mod identity;
pub mod rrl;
mod state;
mod steps;
#[cfg(test)]
pub(crate) mod tests;
pub(crate) mod transfer;
pub(crate) mod tsig;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use arc_swap::ArcSwap;
use tracing::info;

use crate::core::catalog::Catalog;
use crate::core::table::Table;
use crate::core::zone::{Snapshot, Zone};
use crate::dnstap::Tap;
use crate::metrics::Metrics;
use crate::transport::Transport;
use crate::wire::{self, RecordType, Request, ResponseCode};
use acl::AccessList;
use rrl::{RateLimitConfig, RateLimiter, Verdict};
pub use state::ServedZone;
use state::Zones;
pub(crate) use state::{DigestJob, StartUp, StartUpWait, ZoneState};
pub(crate) use transfer::Transfer;
use transfer::{Journal, TransferPolicy};

/// What became of a request.
#[derive(Debug)]
#[must_use]
pub enum Outcome {
    /// The response is in the caller's buffer: send it.
    Reply,
    /// Send nothing.
    Silence,
    /// A zone transfer over TCP: send every message it yields
    /// (`Transfer::next_message`), in order, on the connection.
    Transfer(Box<Transfer>),
}

/// What the step that wrote a response says of it, for the rate limiter, the metrics and the
/// query log (which thus never read the response again).
#[derive(Clone, Copy, Debug)]
struct Written {
    /// The type asked, when the response echoes the question.
    qtype: Option<RecordType>,
    /// The response code, extended bits included.
    rcode: ResponseCode,
    /// A valid server cookie shows the client's address is its own (no rate limiting).
    verified: bool,
}

impl Written {
    fn answer(request: &Request<'_>, rcode: ResponseCode) -> Written {
        Written {
            qtype: echoed_qtype(request),
            rcode,
            verified: false,
        }
    }
}

/// The question type a response to `request` echoes: the first question's, when the request
/// has exactly one.
fn echoed_qtype(request: &Request<'_>) -> Option<RecordType> {
    (request.counts[0] == 1).then(|| request.qtype()).flatten()
}

/// Where a message goes after the checks that apply to all: a response written into the
/// caller's buffer, silence, or a transfer.
enum Step {
    Reply(Written),
    Silence,
    Transfer(Box<Transfer>, Written),
}

/// The per-message policy: who is answered, how fast, how often, and what is recorded.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Who may query.
    pub access: AccessList,
    /// Response rate limiting of UDP answers.
    pub rate_limit: RateLimitConfig,
    /// One log line per query at INFO.
    pub log_queries: bool,
    /// Who may transfer the zone.
    pub transfer: TransferPolicy,
    /// The TSIG keys signed requests are checked against.
    pub keys: tsig::Keyring,
    /// What CHAOS questions and NSID answer.
    pub identity: identity::Identity,
    /// What server cookies are made with (`--cookie-secret`).
    pub cookies: cookie::CookieSecrets,
}

impl Default for Policy {
    /// Everyone answered, rate limiting on with loopback exempt, no query log, a random cookie
    /// secret: what `serve` does without flags.
    ///
    /// # Panics
    ///
    /// When the operating system gives no random bytes (`getrandom` fails only on systems
    /// portsd does not run on).
    fn default() -> Policy {
        Policy {
            access: AccessList::default(),
            rate_limit: RateLimitConfig {
                exempt: rrl::default_exempt(),
                ..RateLimitConfig::default()
            },
            log_queries: false,
            transfer: TransferPolicy::default(),
            keys: tsig::Keyring::default(),
            identity: identity::Identity::default(),
            cookies: cookie::CookieSecrets::random().expect("the system's random source"),
        }
    }
}

/// The request pipeline; cheap to share (`Arc`) between every serving thread.
#[derive(Debug)]
pub struct Pipeline {
    zones: Zones,
    general: general::GeneralPath,
    access: AccessList,
    limiter: RateLimiter,
    metrics: Arc<Metrics>,
    log_queries: bool,
    transfer: TransferPolicy,
    keys: tsig::Keyring,
    /// Transfers running now, against `transfer.max_concurrent`.
    transfers_running: Arc<AtomicUsize>,
    /// Where queries and responses go for dnstap, when it is on.
    tap: Option<Tap>,
    /// The catalog zone of the zones served (`--catalog`), when there is one.
    catalog: Option<Arc<Catalog>>,
}

impl Pipeline {
    /// A pipeline answering for `zone` from `table` (served with `serial`), under `policy`,
    /// counting into `metrics`.
    pub fn new(
        zone: Zone,
        table: Table,
        serial: u32,
        policy: Policy,
        metrics: Arc<Metrics>,
    ) -> Pipeline {
        let served = ServedZone {
            zone,
            serial,
            allow_transfer: None,
        };
        let (pipeline, digest) = Pipeline::digest_pending(vec![served], table, policy, metrics);
        drop(digest.run());
        pipeline
    }

    /// A pipeline answering for each of `zones` (each served with its serial) from the one
    /// `table`, before the zones' digests are computed (and the table's search index built,
    /// for a table built without it): the returned job makes them (`serve` runs it on a
    /// thread of its own), and until then whatever writes a ZONEMD record (its own answer, a
    /// transfer) or asks the index (a search) waits for it.
    ///
    /// # Panics
    ///
    /// When `zones` is empty.
    pub(crate) fn digest_pending(
        zones: Vec<ServedZone>,
        table: Table,
        policy: Policy,
        metrics: Arc<Metrics>,
    ) -> (Pipeline, DigestJob) {
        let table = Arc::new(table);
        let pending: Vec<(Arc<ZoneState>, Arc<Snapshot>)> = zones
            .into_iter()
            .map(|served| {
                let ServedZone {
                    zone,
                    serial,
                    allow_transfer,
                } = served;
                let snapshot =
                    Arc::new(Snapshot::new(table.clone(), serial, &zone).digest_pending());
                let state = Arc::new(ZoneState {
                    zone,
                    allow_transfer,
                    snapshot: ArcSwap::new(snapshot.clone()),
                    journal: ArcSwap::from_pointee(Journal::default()),
                    started: std::sync::OnceLock::new(),
                });
                (state, snapshot)
            })
            .collect();
        let zones = Zones::new(pending.iter().map(|(state, _)| state.clone()).collect());
        let first: Vec<(&Zone, &Snapshot)> = pending.iter().map(|(z, s)| (&z.zone, &**s)).collect();
        metrics.table_loaded(first, false);
        let general = general::GeneralPath::new(policy.identity, policy.cookies);
        let pipeline = Pipeline {
            zones,
            general,
            access: policy.access,
            limiter: RateLimiter::new(policy.rate_limit),
            metrics,
            log_queries: policy.log_queries,
            transfer: TransferPolicy {
                require_signature: !policy.keys.is_empty(),
                ..policy.transfer
            },
            keys: policy.keys,
            transfers_running: Arc::new(AtomicUsize::new(0)),
            tap: None,
            catalog: None,
        };
        (pipeline, DigestJob { zones: pending })
    }

    /// This pipeline, handing every query answered and its response (transfers' messages
    /// included) to `tap`.
    pub(crate) fn tapped(self, tap: Tap) -> Pipeline {
        Pipeline {
            tap: Some(tap),
            ..self
        }
    }

    /// This pipeline, answering for `catalog` too.
    pub(crate) fn with_catalog(self, catalog: Catalog) -> Pipeline {
        Pipeline {
            catalog: Some(Arc::new(catalog)),
            ..self
        }
    }

    /// The snapshot of the first zone answered from right now (the table and the first
    /// zone's serial: what the HTTP API and pages read).
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.zones.first().snapshot()
    }

    /// What to wait for (off the serving thread) before handing `request` to
    /// [`Pipeline::handle`], when its answer needs what the start-up work makes (the ZONEMD
    /// record, the journal; the search index alone for a search); `None` when it can go now.
    pub(crate) fn start_up_pending_for(&self, request: &[u8]) -> Option<StartUpWait> {
        let state = self.zones.first();
        if state.must_wait(request) {
            return Some(StartUpWait::Started(state.clone()));
        }
        self.zones
            .search_pending_for(request)
            .map(StartUpWait::Search)
    }

    /// Blocks until the start-up work is done (a reload waits for it, so that the journals it
    /// extends are the ones the start-up made).
    pub(crate) fn wait_started(&self) {
        self.zones.first().wait_started();
    }

    /// The first zone configured (the one the HTTP pages name).
    pub(crate) fn zone(&self) -> &Zone {
        &self.zones.first().zone
    }

    /// Every zone served, in the order configured.
    pub(crate) fn zones(&self) -> &[Arc<ZoneState>] {
        self.zones.all()
    }

    /// Answers from `table` from the next message on, each zone with its serial in `serials`
    /// (in the order of [`Pipeline::zones`]).
    pub(crate) fn replace_table(&self, table: Table, serials: &[u32]) {
        let table = Arc::new(table);
        for (state, &serial) in self.zones.all().iter().zip(serials) {
            let zone = &state.zone;
            // The new digest is computed before the swap, while the old table answers with
            // its own: a reloaded snapshot never waits for its digest.
            let snapshot = Arc::new(Snapshot::new(table.clone(), serial, zone).with_digest(zone));
            let old = state.snapshot.swap(snapshot.clone());
            // The difference is computed after the swap, so queries see the new table at
            // once; an IXFR arriving in between gets the whole zone.
            let journal = state.journal.load().after_reload(
                zone,
                &old,
                &snapshot,
                self.transfer.journal_max_bytes,
            );
            state.journal.store(Arc::new(journal));
        }
        let served: Vec<_> = self.zones.all().iter().map(|z| (z, z.snapshot())).collect();
        let served = served.iter().map(|(z, s)| (&z.zone, &**s));
        self.metrics.table_loaded(served, true);
    }

    /// The most bytes the journal may take (`--journal-max-bytes`).
    pub(crate) fn journal_max_bytes(&self) -> u64 {
        self.transfer.journal_max_bytes
    }

    /// Whether the access list (`--allow`, `--deny`) admits `client`; the HTTP server asks
    /// it for every connection.
    pub(crate) fn permits(&self, client: std::net::IpAddr) -> bool {
        self.access.permits(client)
    }

    /// The counters this pipeline records into.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The pipeline's one entry: turns one request from `client` over `transport`, received
    /// at `received_at` (the rate limiter's clock and the start of the latency measured), into
    /// the response left in `out` (cleared first), silence, or a zone transfer. The request is
    /// read once, into the view every step reads.
    pub fn handle(
        &self,
        request: &[u8],
        client: SocketAddr,
        transport: Transport,
        received_at: Instant,
        out: &mut Vec<u8>,
    ) -> Outcome {
        out.clear();
        // Nothing can be sent to UDP port 0.
        if transport == Transport::Udp && client.port() == 0 {
            return Outcome::Silence;
        }
        let mut read = Request::unread(request);
        let view = read.read_in_place().then_some(&read);
        let step = if self.access.permits(client.ip()) {
            match view {
                Some(view) if !view.is_response() => self.steps(view, client, transport, out),
                // Shorter than a header, or a response: no answer.
                _ => Step::Silence,
            }
        } else {
            self.metrics.refused(transport);
            // A UDP source may be forged: telling it would reflect traffic at someone else.
            match view {
                Some(view)
                    if transport != Transport::Udp
                        && wire::error_answer(view, ResponseCode::Refused, out) =>
                {
                    Step::Reply(Written::answer(view, ResponseCode::Refused))
                }
                _ => Step::Silence,
            }
        };
        let (written, transfer) = match step {
            Step::Silence => return Outcome::Silence,
            Step::Reply(written) => {
                // RFC 8467: over an encrypted transport, a padded query gets a padded answer.
                if transport.encrypted()
                    && view
                        .and_then(|v| v.opt.as_ref())
                        .is_some_and(|o| o.options.padding)
                {
                    wire::pad_response(out);
                }
                (written, None)
            }
            Step::Transfer(transfer, written) => (written, Some(transfer)),
        };
        if transport == Transport::Udp && !written.verified {
            // Only a response that would be sent spends the client's budget: junk that gets
            // silence must not use up the limit of the network it claims to come from.
            match self.limiter.check(client.ip(), received_at) {
                Verdict::Answer => {}
                Verdict::Slip => {
                    wire::truncate_for_slip(out);
                    self.metrics.slipped();
                }
                Verdict::Drop => {
                    self.metrics.dropped();
                    return Outcome::Silence;
                }
            }
        }
        let elapsed = received_at.elapsed();
        self.metrics
            .record(transport, written.qtype, written.rcode, elapsed);
        if self.log_queries {
            log_query(transport, client, view, &written, out.len());
        }
        if let Some(tap) = &self.tap {
            tap.exchange(client, transport, elapsed, request, out);
        }
        match transfer {
            Some(transfer) => Outcome::Transfer(match &self.tap {
                Some(tap) => Box::new(transfer.tapped(tap.clone(), client, transport)),
                None => transfer,
            }),
            None => Outcome::Reply,
        }
    }

    /// The fast path alone: answers a plain query into `out` without hickory's message types.
    /// Returns false, leaving `out` empty, for anything that is not a plain query. Public so
    /// that tests, the fuzzer and the benchmarks can hold it against [`Self::general_response`].
    pub fn fast_response(&self, request: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
        out.clear();
        let mut view = Request::unread(request);
        if !view.read_in_place() {
            return false;
        }
        let Some(query) = fast::Query::of(&view) else {
            return false;
        };
        let state = self.zones.route(query.labels());
        let _: ResponseCode = self.fast_answer(state, &query, transport, None, out);
        true
    }

    /// The general hickory path alone, for any message: the response, or `None` for silence.
    /// Public for the same comparisons as [`Self::fast_response`].
    pub fn general_response(
        &self,
        request: &[u8],
        client: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let view = Request::read(request)?;
        let mut out = Vec::new();
        let state = self.zones.route_request(&view);
        self.general
            .respond(state, &view, client, transport, 0, None, &mut out)
            .map(|_| out)
    }
}

/// One structured line per query (`--log-queries`).
fn log_query(
    transport: Transport,
    client: SocketAddr,
    request: Option<&Request<'_>>,
    written: &Written,
    bytes: usize,
) {
    let question = request
        .and_then(|r| r.question())
        .filter(|_| written.qtype.is_some());
    let name = question.map_or_else(String::new, |q| wire::presentation(q.name()));
    let qtype = written.qtype.map_or_else(String::new, |t| t.to_string());
    info!(
        protocol = transport.label(),
        client = %client.ip(),
        name,
        qtype,
        rcode = u16::from(written.rcode),
        bytes,
        "query"
    );
}
