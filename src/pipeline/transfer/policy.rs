//! Who may transfer the zone and what they asked for: the transfer policy (`--allow-transfer`,
//! signatures, the cap on concurrent transfers), the places among concurrent transfers, and
//! the reading of a transfer request.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use ipnet::IpNet;

use crate::core::zone::{CLASS_IN, Zone, rtype};

/// Transfers served at once, by default. Each holds a snapshot (shared with the server, so no
/// copy of the table) and about 100 KiB of buffers; the cap bounds what many secondaries
/// pulling at once cost, and a transfer past it is refused (the secondary retries).
pub const DEFAULT_MAX_TRANSFERS: usize = 8;

/// Who may transfer the zone: clients from `allow` (`--allow-transfer`), nobody by default;
/// with TSIG keys configured, only with a request signed by one of them.
#[derive(Clone, Debug)]
pub struct TransferPolicy {
    /// Networks allowed to transfer; empty: nobody.
    pub allow: Vec<IpNet>,
    /// Whether requests must be signed (keys are configured).
    pub require_signature: bool,
    /// Transfers served at once (`--max-transfers`); more are refused.
    pub max_concurrent: usize,
}

impl Default for TransferPolicy {
    fn default() -> TransferPolicy {
        TransferPolicy {
            allow: Vec::new(),
            require_signature: false,
            max_concurrent: DEFAULT_MAX_TRANSFERS,
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
}

impl Refusal {
    /// The label used in logs and metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not_allowed",
            Refusal::Unsigned => "unsigned",
            Refusal::Busy => "busy",
            Refusal::OverUdp => "udp",
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
    /// Whether `client` may transfer, given whether its request carried a good signature.
    pub(crate) fn check(&self, client: IpAddr, signed: bool) -> Result<(), Refusal> {
        if !self.allow.iter().any(|net| net.contains(&client)) {
            Err(Refusal::NotAllowed)
        } else if self.require_signature && !signed {
            Err(Refusal::Unsigned)
        } else {
            Ok(())
        }
    }
}

/// Whether `request` asks for AXFR or IXFR: its first question's type, read without parsing
/// the message (names in the question are not compressed). Cheap enough for every query.
pub(crate) fn is_transfer_request(request: &[u8]) -> bool {
    if request.len() < 12 || request[4..6] != [0, 1] {
        return false;
    }
    let mut at = 12;
    while let Some(&length) = request.get(at) {
        if length == 0 {
            let qtype = request
                .get(at + 1..at + 3)
                .map(|b| u16::from_be_bytes([b[0], b[1]]));
            return matches!(qtype, Some(rtype::AXFR | rtype::IXFR));
        }
        if length & 0xC0 != 0 {
            return false;
        }
        at += 1 + usize::from(length);
    }
    false
}

/// A transfer request, read.
#[derive(Debug)]
pub(crate) struct TransferRequest {
    pub(crate) kind: Kind,
    pub(crate) id: u16,
    pub(crate) recursion_desired: bool,
    /// The question as received, encoded again (name case kept).
    pub(crate) question: Vec<u8>,
    /// The client's EDNS UDP payload size, if it sent one.
    pub(crate) udp_payload: Option<u16>,
}

impl TransferRequest {
    /// Reads a request [`is_transfer_request`] accepted; `None` when it does not parse, is
    /// not for `zone`'s apex in class IN, or is an IXFR without the client's SOA (the general
    /// path then answers it with FORMERR or REFUSED).
    pub(crate) fn parse(request: &[u8], zone: &Zone) -> Option<TransferRequest> {
        let message = Message::from_vec(request).ok()?;
        let query = message.queries.first()?;
        let apex: Vec<&[u8]> = zone.name.labels().iter().map(|l| &l[..]).collect();
        let name: Vec<Vec<u8>> = query
            .name()
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        if name.iter().map(Vec::as_slice).ne(apex.iter().copied())
            || u16::from(query.query_class()) != CLASS_IN
        {
            return None;
        }
        let kind = match query.query_type() {
            RecordType::AXFR => Kind::Axfr,
            RecordType::IXFR => {
                Kind::Ixfr(message.authorities.iter().find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(soa.serial),
                    _ => None,
                })?)
            }
            _ => return None,
        };
        let mut question = Vec::new();
        query.emit(&mut BinEncoder::new(&mut question)).ok()?;
        Some(TransferRequest {
            kind,
            id: message.id,
            recursion_desired: message.recursion_desired,
            question,
            udp_payload: message.edns.as_ref().map(|e| e.max_payload()),
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
