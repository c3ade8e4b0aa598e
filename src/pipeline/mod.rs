//! The request pipeline: one socket-free step from a request's bytes, its client's address and
//! its transport to the response's bytes, or to silence. The UDP loop, the TCP connections, the
//! fuzzer, the tests and the benchmarks all call [`Pipeline::respond`]; every per-message
//! decision is taken here, once, in this order:
//!
//! 1. who may be answered ([`acl`]): a refused UDP client gets silence (its address may be
//!    forged), a refused TCP client REFUSED;
//! 2. which path answers: the fast path ([`fast`]) for plain queries, the general hickory path
//!    ([`general`]) for everything else, which owns every error answer (FORMERR, NOTIMP,
//!    BADVERS), the EDNS options portsd reads ([`edns`]), DNS cookies ([`cookie`]), the
//!    CHAOS class and NSID ([`identity`]), and decides what gets no answer at all;
//! 3. response rate limiting ([`rrl`]) of UDP answers, with slips; a request with a valid
//!    server cookie is exempt (its address cannot be forged), as in BIND and Knot;
//! 4. counting ([`crate::metrics`]) and the optional query log.
//!
//! The table is read through one snapshot per message ([`ZoneState`]); a reload swaps it
//! without locking the readers.

pub mod acl;
pub mod cookie;
pub(crate) mod edns;
pub(crate) mod fast;
pub(crate) mod general;
pub mod identity;
pub mod rrl;
pub mod transfer;
pub mod tsig;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use arc_swap::ArcSwap;
use tracing::{info, warn};

use crate::core::answer;
use crate::core::table::Table;
use crate::core::zone::{Snapshot, Zone};
use crate::metrics::Metrics;
use crate::transport::Transport;
use acl::AccessList;
use rrl::{RateLimitConfig, RateLimiter, Verdict};
use transfer::{Journal, Refusal, Slot, Transfer, TransferPolicy, TransferRequest};

/// What became of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// The response is in the caller's buffer: send it.
    Reply,
    /// Send nothing.
    Silence,
}

/// The zone's fixed settings and the table snapshot currently answered from.
#[derive(Debug)]
pub(crate) struct ZoneState {
    pub(crate) zone: Zone,
    /// Each message loads it once; a reload stores a new one.
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// The differences between the last serials, for IXFR; a reload stores a new one.
    pub(crate) journal: ArcSwap<Journal>,
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
    state: Arc<ZoneState>,
    general: general::GeneralPath,
    access: AccessList,
    limiter: RateLimiter,
    metrics: Arc<Metrics>,
    log_queries: bool,
    transfer: TransferPolicy,
    keys: tsig::Keyring,
    /// Transfers running now, against `transfer.max_concurrent`.
    transfers_running: Arc<AtomicUsize>,
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
        let snapshot = Snapshot::new(table, serial, &zone);
        metrics.table_loaded(&snapshot, false);
        let general = general::GeneralPath::new(&zone, policy.identity, policy.cookies);
        Pipeline {
            state: Arc::new(ZoneState {
                zone,
                snapshot: ArcSwap::from_pointee(snapshot),
                journal: ArcSwap::from_pointee(Journal::default()),
            }),
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
        }
    }

    /// The snapshot answered from right now.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.state.snapshot.load_full()
    }

    /// The zone answered for.
    pub(crate) fn zone(&self) -> &Zone {
        &self.state.zone
    }

    /// Answers from `table` (served with `serial`) from the next message on.
    pub(crate) fn replace_table(&self, table: Table, serial: u32) {
        let snapshot = Arc::new(Snapshot::new(table, serial, &self.state.zone));
        self.metrics.table_loaded(&snapshot, true);
        let old = self.state.snapshot.swap(snapshot.clone());
        // The difference is computed after the swap, so queries see the new table at once;
        // an IXFR arriving in between gets the whole zone.
        let journal = self
            .state
            .journal
            .load()
            .after_reload(&self.state.zone, &old, &snapshot);
        self.state.journal.store(Arc::new(journal));
    }

    /// A zone transfer for a request over TCP: `None` when the request is no transfer, or one
    /// the client may not have (then [`Self::respond`] answers it: REFUSED, or FORMERR).
    /// Refusals are logged with their reason and counted. The access list comes first, as for
    /// every request: `--allow-transfer` cannot let in a client that `--deny` keeps out.
    pub(crate) fn transfer(&self, request: &[u8], client: SocketAddr) -> Option<Transfer> {
        if !self.access.permits(client.ip()) {
            return None;
        }
        self.admit(request, client, Transport::Tcp)
            .ok()
            .map(|(transfer, _)| transfer)
    }

    /// Checks a transfer request against the policy and starts the transfer; with it, the
    /// most bytes a UDP answer may take.
    fn admit(
        &self,
        request: &[u8],
        client: SocketAddr,
        transport: Transport,
    ) -> Result<(Transfer, usize), Option<Refusal>> {
        if !transfer::is_transfer_request(request) {
            return Err(None);
        }
        let zone = &self.state.zone;
        let parsed = TransferRequest::parse(request, zone).ok_or(None)?;
        let kind = match parsed.kind {
            transfer::Kind::Axfr => "axfr",
            transfer::Kind::Ixfr(_) => "ixfr",
        };
        // A bad signature is answered by the TSIG step of `respond`.
        let signer = match tsig::check(&self.keys, request, tsig::now()) {
            tsig::Check::Unsigned => None,
            tsig::Check::Signed(signer) => Some(signer),
            tsig::Check::Rejected(..) => return Err(None),
        };
        let refuse = |refusal: Refusal| {
            warn!(client = %client.ip(), kind, reason = refusal.label(), "zone transfer refused");
            self.metrics.transfer_refused(kind, refusal.label());
            Some(refusal)
        };
        // AXFR over UDP is NOTIMP for everyone, allowed or not (as NSD and Knot answer).
        if transport == Transport::Udp && parsed.kind == transfer::Kind::Axfr {
            return Err(refuse(Refusal::OverUdp));
        }
        self.transfer
            .check(client.ip(), signer.is_some())
            .map_err(&refuse)?;
        let slot = Slot::take(&self.transfers_running, self.transfer.max_concurrent)
            .ok_or_else(|| refuse(Refusal::Busy))?;
        let transfer = Transfer::new(
            zone,
            self.state.snapshot.load_full(),
            &self.state.journal.load(),
            parsed.kind,
            parsed.id,
            parsed.recursion_desired,
            &parsed.question,
        )
        .holding(slot, signer);
        info!(client = %client.ip(), kind, form = transfer.form(), "zone transfer");
        self.metrics.transfer_started(kind, transfer.form());
        Ok((transfer, usize::from(fast::udp_limit(parsed.udp_payload))))
    }

    /// IXFR over UDP in one message (the SOA alone when the change does not fit), AXFR over
    /// UDP NOTIMP, as NSD and Knot answer; `None` for what the other paths answer.
    /// Returns whether `out` holds the answer.
    fn udp_transfer(&self, request: &[u8], client: SocketAddr, out: &mut Vec<u8>) -> bool {
        match self.admit(request, client, Transport::Udp) {
            Ok((transfer, limit)) => {
                transfer.single_message(limit, out);
                true
            }
            Err(Some(Refusal::OverUdp)) => general::error_answer(
                request,
                hickory_server::proto::op::ResponseCode::NotImp,
                out,
            ),
            Err(_) => false,
        }
    }

    /// The counters this pipeline records into.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Turns one request from `client` over `transport`, received at `received_at` (the rate
    /// limiter's clock and the start of the latency measured), into the response left in `out`
    /// (cleared first), or into silence.
    pub fn respond(
        &self,
        request: &[u8],
        client: SocketAddr,
        transport: Transport,
        received_at: Instant,
        out: &mut Vec<u8>,
    ) -> Outcome {
        out.clear();
        // Whether a valid server cookie shows that the client's address is its own.
        let mut verified = false;
        // Nothing can be sent to UDP port 0.
        if transport == Transport::Udp && client.port() == 0 {
            return Outcome::Silence;
        }
        if !self.access.permits(client.ip()) {
            self.metrics.refused(transport);
            // A UDP source may be forged: telling it would reflect traffic at someone else.
            if transport == Transport::Udp || !general::refused(request, out) {
                return Outcome::Silence;
            }
        } else if !((transport == Transport::Udp && self.udp_transfer(request, client, out))
            || self.fast_response(request, transport, out))
        {
            let Some(sent) = self.general_signed(request, client, transport, out) else {
                return Outcome::Silence;
            };
            if let Some(cookie) = sent.cookie {
                self.metrics.cookie(cookie.label());
                verified = cookie.is_valid();
            }
        }
        if transport == Transport::Udp && !verified {
            // Only a response that would be sent spends the client's budget: junk that gets
            // silence must not use up the limit of the network it claims to come from.
            match self.limiter.check(client.ip(), received_at) {
                Verdict::Answer => {}
                Verdict::Slip => {
                    fast::truncate_for_slip(out);
                    self.metrics.slipped();
                }
                Verdict::Drop => {
                    self.metrics.dropped();
                    return Outcome::Silence;
                }
            }
        }
        let (qtype, rcode) = fast::response_summary(out);
        self.metrics
            .record(transport, qtype, rcode, received_at.elapsed());
        if self.log_queries {
            log_query(transport, client, request, out);
        }
        Outcome::Reply
    }

    /// The general path behind the TSIG check (signed requests never take the fast path,
    /// which accepts no record but OPT): a bad signature gets its NOTAUTH answer, a good one
    /// a signed response. NOTIFY is refused, as NSD answers it: portsd is a primary.
    fn general_signed(
        &self,
        request: &[u8],
        client: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Option<general::Sent> {
        let now = tsig::now();
        let mut signer = match tsig::check(&self.keys, request, now) {
            tsig::Check::Unsigned => None,
            tsig::Check::Signed(signer) => Some(signer),
            tsig::Check::Rejected(response, error) => {
                warn!(client = %client.ip(), error = ?error, "TSIG check failed");
                self.metrics.tsig_rejected();
                *out = response;
                return Some(general::Sent { cookie: None });
            }
        };
        // A NOTIFY that does not parse gets FORMERR like any other message.
        let notify = request.get(2).is_some_and(|b| (b >> 3) & 0x0F == 4)
            && hickory_server::proto::op::Message::from_vec(request).is_ok();
        let sent = if notify {
            general::refused(request, out).then_some(general::Sent { cookie: None })
        } else {
            // The signature must fit within the client's limit too.
            let room = signer.as_ref().map_or(0, tsig::Signer::room);
            let room = u16::try_from(room).unwrap_or(u16::MAX);
            self.general
                .respond(&self.state, request, client, transport, room, out)
        };
        if sent.is_some()
            && let Some(signer) = &mut signer
        {
            signer.sign(out, now);
        }
        sent
    }

    /// The fast path alone: answers a plain query into `out` without hickory's message types.
    /// Returns false, leaving `out` empty, for anything that is not a plain query. Public so
    /// that tests, the fuzzer and the benchmarks can hold it against [`Self::general_response`].
    pub fn fast_response(&self, request: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
        let Some(query) = fast::parse_query(request) else {
            return false;
        };
        let snapshot = self.state.snapshot.load();
        let zone = &self.state.zone;
        let answer = answer::answer(zone, &snapshot, query.labels(), query.qtype, query.qclass);
        let limit = match transport {
            Transport::Udp => query.udp_limit(),
            Transport::Tcp => usize::from(u16::MAX),
        };
        fast::encode_response(&query, zone, &answer, limit, out);
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
        let mut out = Vec::new();
        self.general
            .respond(&self.state, request, client, transport, 0, &mut out)
            .map(|_| out)
    }
}

/// One structured line per query (`--log-queries`).
fn log_query(transport: Transport, client: SocketAddr, request: &[u8], response: &[u8]) {
    let question = general::question_text(request);
    let (_, rcode) = fast::response_summary(response);
    info!(
        protocol = transport.label(),
        client = %client.ip(),
        name = question.as_ref().map_or("", |(name, _)| name.as_str()),
        qtype = question.as_ref().map_or("", |(_, qtype)| qtype.as_str()),
        rcode,
        bytes = response.len(),
        "query"
    );
}
