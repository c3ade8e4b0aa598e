//! Who may transfer the zone and what they asked for: the transfer policy (`--allow-transfer`,
//! signatures, the cap on concurrent transfers), the places among concurrent transfers, and
//! the reading of a transfer request.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipnet::IpNet;

use crate::core::zone::Zone;
use crate::wire::response::Opt;
use crate::wire::{DNSClass, OpCode, RecordType, Request};

/// Transfers served at once, by default. Each holds a snapshot (shared with the server, so no
/// copy of the table) and about 100 KiB of buffers; the cap bounds what many secondaries
/// pulling at once cost, and a transfer past it is refused (the secondary retries).
pub(crate) const DEFAULT_MAX_TRANSFERS: usize = 8;

/// Who may transfer the zone: clients from `allow` (`--allow-transfer`), nobody by default;
/// with TSIG keys configured, only with a request signed by one of them.
#[derive(Clone, Debug)]
pub struct TransferPolicy {
    /// Networks allowed to transfer; empty: nobody.
    pub(crate) allow: Vec<IpNet>,
    /// Whether requests must be signed (keys are configured).
    pub(crate) require_signature: bool,
    /// Transfers served at once (`--max-transfers`); more are refused.
    pub(crate) max_concurrent: usize,
    /// The most bytes the IXFR differences kept may take (`--journal-max-bytes`).
    pub(crate) journal_max_bytes: u64,
}

impl Default for TransferPolicy {
    fn default() -> TransferPolicy {
        TransferPolicy {
            allow: Vec::new(),
            require_signature: false,
            max_concurrent: DEFAULT_MAX_TRANSFERS,
            journal_max_bytes: super::journal::DEFAULT_JOURNAL_MAX_BYTES,
        }
    }
}

/// Why a transfer was refused, for the log and the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client's address is not in `--allow-transfer`.
    NotAllowed,
    /// Keys are configured and the request was not signed.
    Unsigned,
    /// Too many transfers at once.
    Busy,
    /// AXFR over UDP: NOTIMP, as NSD and Knot answer.
    OverUdp,
    /// Any transfer over DNS over HTTPS, which RFC 8484 does not define: REFUSED.
    OverDoh,
}

impl Refusal {
    /// The label used in logs and metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not_allowed",
            Refusal::Unsigned => "unsigned",
            Refusal::Busy => "busy",
            Refusal::OverUdp => "udp",
            Refusal::OverDoh => "doh",
        }
    }
}

/// A place among the concurrent transfers; given back when the transfer is dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Takes a place unless `max` transfers are running.
    pub(crate) fn take(running: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(running.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl TransferPolicy {
    /// Whether `client` may transfer, given whether its request carried a good signature: it
    /// must be in `allow` (a zone's own list), else in the policy's.
    pub(crate) fn check(
        &self,
        allow: Option<&[IpNet]>,
        client: IpAddr,
        signed: bool,
    ) -> Result<(), Refusal> {
        let allow = allow.unwrap_or(&self.allow);
        if !allow.iter().any(|net| net.contains(&client)) {
            Err(Refusal::NotAllowed)
        } else if self.require_signature && !signed {
            Err(Refusal::Unsigned)
        } else {
            Ok(())
        }
    }
}

/// A transfer request, read.
#[derive(Debug)]
pub(crate) struct TransferRequest<'p> {
    pub(crate) kind: Kind,
    pub(crate) id: u16,
    pub(crate) recursion_desired: bool,
    /// The question as received (name case kept).
    pub(crate) question: &'p [u8],
    /// The client's EDNS UDP payload size, if it sent one.
    pub(crate) udp_payload: Option<u16>,
    /// The OPT record of the response, when the request had one: EDNS EXPIRE (RFC 7314)
    /// answered with the SOA's EXPIRE when asked for, portsd being the zone's primary.
    pub(crate) opt: Option<Opt<'static>>,
}

impl<'p> TransferRequest<'p> {
    /// Reads a query for AXFR or IXFR of `zone`'s apex in class IN from the request's view;
    /// `None` for anything else, and for an IXFR without the client's SOA or a message that
    /// cannot be read to its end (the answer path then gives REFUSED or FORMERR).
    pub(crate) fn read(request: &Request<'p>, zone: &Zone) -> Option<TransferRequest<'p>> {
        let question = request.question()?;
        if !request.complete
            || request.opcode() != OpCode::Query
            || request.counts[0] != 1
            || question.qclass != DNSClass::IN
        {
            return None;
        }
        let kind = match question.qtype {
            RecordType::AXFR => Kind::Axfr,
            RecordType::IXFR => Kind::Ixfr(request.authority_serial?),
            _ => return None,
        };
        let apex = zone.name.labels().iter().map(|l| &l[..]);
        if !question
            .name()
            .map(<[u8]>::to_ascii_lowercase)
            .eq(apex.map(<[u8]>::to_vec))
        {
            return None;
        }
        Some(TransferRequest {
            kind,
            id: request.header.id,
            recursion_desired: request.recursion_desired(),
            question: question.bytes,
            udp_payload: request.opt.as_ref().map(|opt| opt.payload),
            opt: request.opt.as_ref().map(|opt| Opt {
                dnssec_ok: opt.dnssec_ok,
                expire: opt.options.expire.then_some(zone.timers.expire),
                ..Opt::default()
            }),
        })
    }
}

/// What kind of transfer a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// AXFR: the whole zone.
    Axfr,
    /// IXFR, with the serial from the SOA the client sent in the authority section.
    Ixfr(u32),
}

impl Kind {
    /// The label used in logs and metrics: `axfr` or `ixfr`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Axfr => "axfr",
            Kind::Ixfr(_) => "ixfr",
        }
    }
}
