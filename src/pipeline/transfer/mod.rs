//! Zone transfers, socket-free: AXFR (RFC 5936) and IXFR (RFC 1995) responses streamed one
//! message at a time into a caller's buffer, and the journal of differences IXFR answers from.
//!
//! A [`Transfer`] holds an `Arc` of the table snapshot it started on (a reload during the
//! transfer does not change what it sends) and a [`Position`] in the zone's one enumeration
//! ([`crate::core::contents`], which `export-zone` walks too); each call to
//! [`Transfer::next_message`] writes about [`MESSAGE_BYTES`] of records with the one writer
//! of [`crate::wire`] (names compressed, the message's size its limit) and returns. Nothing of
//! the zone's size is built: memory per transfer is one message and its compression table.
//!
//! The SOA comes first and last and nowhere in between (the apex SOA is left out of the walk).
//! The first message carries the question, later ones none (as BIND and NSD send them).

mod difference;
#[cfg(test)]
mod fixtures;
mod journal;
mod policy;
mod stored;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::core::answer::Rdata;
use crate::core::contents::{Contents, Position};
use crate::core::owner_name::OwnerName;
use crate::core::serial::is_newer;
use crate::core::zone::{Snapshot, Zone};
use crate::dnstap::Tap;
use crate::pipeline::tsig::Signer;
use crate::transport::Transport;

use crate::wire::OPT_WITH_EXPIRE_BYTES;
use crate::wire::message::TransferMessage;
use crate::wire::response::Opt;
use crate::wire::{Flags, Header, OpCode, RecordType};
use difference::{ChangedRecord, Difference};
pub use journal::DEFAULT_JOURNAL_MAX_BYTES;
pub(crate) use journal::Journal;
pub(crate) use policy::{DEFAULT_MAX_TRANSFERS, TransferPolicy};
pub(crate) use policy::{Kind, Refusal, Slot, TransferRequest};
pub(crate) use stored::StoredZone;

/// The size a transfer message is filled to: about 16 KiB, which every secondary takes and
/// which keeps compression pointers (14 bits) in range.
pub(crate) const MESSAGE_BYTES: usize = 16 * 1024;
/// What is left to send.
#[derive(Debug)]
enum Plan {
    /// The opening SOA, the zone from a position, the closing SOA.
    Axfr {
        opened: bool,
        position: Position,
        /// Records of the name at `position` already sent.
        sent_at_name: usize,
    },
    /// The opening SOA, then each difference as SOA(from), deletions, SOA(to), additions,
    /// then the closing SOA. `step` counts the items sent so far.
    Ixfr {
        chain: Vec<Arc<Difference>>,
        step: usize,
    },
    /// Only the current SOA: the client is up to date (or must retry over TCP).
    Soa,
    /// Everything sent.
    Done,
}

/// One item of an IXFR response.
enum IxfrItem<'c> {
    Soa(u32),
    Record(&'c ChangedRecord),
}

/// The `step`th item of an incremental response, or `None` past the end.
fn ixfr_item(chain: &[Arc<Difference>], current: u32, mut step: usize) -> Option<IxfrItem<'_>> {
    if step == 0 {
        return Some(IxfrItem::Soa(current));
    }
    step -= 1;
    for difference in chain {
        let size = 2 + difference.deleted.len() + difference.added.len();
        if step < size {
            let deleted = difference.deleted.len();
            return Some(match step {
                0 => IxfrItem::Soa(difference.from),
                s if s <= deleted => IxfrItem::Record(&difference.deleted[s - 1]),
                s if s == deleted + 1 => IxfrItem::Soa(difference.to),
                s => IxfrItem::Record(&difference.added[s - deleted - 2]),
            });
        }
        step -= size;
    }
    (step == 0).then_some(IxfrItem::Soa(current))
}

/// A zone transfer in progress: call [`Transfer::next_message`] until it returns `false`.
pub struct Transfer {
    zone: Zone,
    snapshot: Arc<Snapshot>,
    header: Header,
    /// The question as received (name, type, class), echoed in the first message.
    question: Vec<u8>,
    plan: Plan,
    messages: usize,
    /// The most bytes a message may take (smaller for UDP).
    limit: usize,
    name: OwnerName,
    /// The place among concurrent transfers, held until the transfer is dropped.
    _slot: Option<Slot>,
    /// Signs every message when the request was signed.
    signer: Option<Signer>,
    /// The OPT record of every message, when the request had one.
    opt: Option<Opt<'static>>,
    /// Hands every message to dnstap, with the client and transport, when it is on.
    tap: Option<(Tap, SocketAddr, Transport)>,
}

impl std::fmt::Debug for Transfer {
    /// The form and how far it got; the zone's contents are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Transfer({}, {} messages sent)",
            self.form(),
            self.messages
        )
    }
}

impl Transfer {
    /// A transfer answering a request with `id` and `question`, recursion-desired echoed.
    /// `kind` decides the form (RFC 1995 4): AXFR, or for IXFR: the SOA alone when the
    /// client's serial is the current one or newer, the differences when the journal leads
    /// from the client's serial to the current one, else the whole zone in AXFR form.
    pub(crate) fn new(
        zone: &Zone,
        snapshot: Arc<Snapshot>,
        journal: &Journal,
        kind: Kind,
        id: u16,
        recursion_desired: bool,
        question: &[u8],
    ) -> Transfer {
        let current = snapshot.serial;
        let axfr = Plan::Axfr {
            opened: false,
            position: Position::Apex,
            sent_at_name: 0,
        };
        let plan = match kind {
            Kind::Axfr => axfr,
            Kind::Ixfr(serial) if serial == current || is_newer(serial, current) => Plan::Soa,
            Kind::Ixfr(serial) => match journal.chain(serial, current) {
                Some(chain) => Plan::Ixfr { chain, step: 0 },
                None => axfr,
            },
        };
        Transfer {
            zone: zone.clone(),
            snapshot,
            header: Header::new(
                id,
                OpCode::Query,
                (Flags::QR | Flags::AA).with_if(Flags::RD, recursion_desired),
            ),
            question: question.to_vec(),
            plan,
            messages: 0,
            limit: MESSAGE_BYTES,
            name: OwnerName::default(),
            _slot: None,
            signer: None,
            opt: None,
            tap: None,
        }
    }

    /// The transfer with `opt` as the OPT record of each message (a request with EDNS gets
    /// EDNS back, RFC 6891 7), each leaving room for it.
    pub(crate) fn with_edns(self, opt: Option<Opt<'static>>) -> Transfer {
        let transfer = Transfer { opt, ..self };
        Transfer {
            limit: transfer.limit.saturating_sub(transfer.opt_room()),
            ..transfer
        }
    }

    /// The most bytes the OPT record takes.
    fn opt_room(&self) -> usize {
        self.opt.map_or(0, |_| OPT_WITH_EXPIRE_BYTES)
    }

    /// The transfer holding `slot` until it ends, its messages signed by `signer` (each
    /// leaving room for the signature).
    pub(crate) fn holding(self, slot: Slot, signer: Option<Signer>) -> Transfer {
        Transfer {
            _slot: Some(slot),
            limit: self
                .limit
                .saturating_sub(signer.as_ref().map_or(0, Signer::room)),
            signer,
            ..self
        }
    }

    /// This transfer, handing each message it writes to `tap` as a response to `client`.
    pub(crate) fn tapped(self, tap: Tap, client: SocketAddr, transport: Transport) -> Transfer {
        Transfer {
            tap: Some((tap, client, transport)),
            ..self
        }
    }

    /// The form of the response, for the counters and the log: `axfr`, `ixfr` or `soa`.
    pub(crate) fn form(&self) -> &'static str {
        match self.plan {
            Plan::Axfr { .. } => "axfr",
            Plan::Ixfr { .. } => "ixfr",
            Plan::Soa | Plan::Done => "soa",
        }
    }

    /// Makes the response fit one UDP message of `limit` bytes, its signature included: an
    /// IXFR that does not fit becomes the SOA alone, which tells the client to retry over TCP
    /// (RFC 1995 2). Returns the one message. Only that message is signed, as the first of
    /// the response: an attempt that did not fit never touches the signer's chain.
    pub(crate) fn single_message(mut self, limit: usize, out: &mut Vec<u8>) {
        let mut signer = self.signer.take();
        let room = signer.as_ref().map_or(0, Signer::room) + self.opt_room();
        self.limit = limit.saturating_sub(room);
        let incremental = matches!(self.plan, Plan::Ixfr { .. });
        let fits = incremental && self.next_message(out) && matches!(self.plan, Plan::Done);
        if !fits {
            self.plan = Plan::Soa;
            self.messages = 0;
            self.next_message(out);
        }
        if let Some(signer) = &mut signer {
            signer.sign(out, crate::pipeline::tsig::now());
        }
    }

    /// Writes the next message of the response into `out` (cleared first); `false` when
    /// everything has been sent (and `out` is left empty).
    pub(crate) fn next_message(&mut self, out: &mut Vec<u8>) -> bool {
        if matches!(self.plan, Plan::Done) {
            out.clear();
            return false;
        }
        let question = (self.messages == 0).then_some(&self.question[..]);
        let mut writer = TransferMessage::begin(out, self.header, question, self.limit);
        let snapshot = self.snapshot.clone();
        let contents = Contents::new(&self.zone, &snapshot);
        let fill = Fill {
            zone: &self.zone,
            apex: contents.apex().wire(),
            current: snapshot.serial,
        };
        self.plan = match std::mem::replace(&mut self.plan, Plan::Done) {
            Plan::Soa => {
                fill.soa(&mut writer, fill.current);
                Plan::Done
            }
            Plan::Done => Plan::Done,
            Plan::Ixfr { chain, step } => fill.ixfr(&mut writer, chain, step),
            Plan::Axfr {
                opened,
                position,
                sent_at_name,
            } => {
                if !opened {
                    fill.soa(&mut writer, fill.current);
                }
                let resume = (position, sent_at_name);
                fill.axfr(&mut writer, &contents, &mut self.name, resume)
            }
        };
        writer.finish(self.opt.as_ref());
        if let Some(signer) = &mut self.signer {
            signer.sign(out, crate::pipeline::tsig::now());
        }
        if let Some((tap, client, transport)) = &self.tap {
            tap.response(*client, *transport, out);
        }
        self.messages += 1;
        true
    }
}

/// What filling one message of a transfer needs to know.
struct Fill<'a> {
    zone: &'a Zone,
    /// The apex's name in wire form.
    apex: &'a [u8],
    /// The serial served.
    current: u32,
}

impl Fill<'_> {
    /// Adds the apex SOA with `serial`; false when it does not fit.
    fn soa(&self, writer: &mut TransferMessage<'_>, serial: u32) -> bool {
        writer.record(self.apex, self.zone, &Rdata::Soa(serial))
    }

    /// Adds the items of an incremental response from `step` on, as many as fit.
    fn ixfr(
        &self,
        writer: &mut TransferMessage<'_>,
        chain: Vec<Arc<Difference>>,
        mut step: usize,
    ) -> Plan {
        loop {
            let written = match ixfr_item(&chain, self.current, step) {
                None => return Plan::Done,
                Some(IxfrItem::Soa(serial)) => self.soa(writer, serial),
                Some(IxfrItem::Record(record)) => {
                    let (owner, ttl) = (record.owner.wire(), self.zone.ttl_of(record.rtype));
                    writer.raw(owner, record.rtype, ttl, &record.rdata)
                }
            };
            if !written {
                return Plan::Ixfr { chain, step };
            }
            step += 1;
        }
    }

    /// Adds the zone's records from `resume` (a name and how many of its records were sent),
    /// as many as fit, then the closing SOA when it fits too.
    fn axfr(
        &self,
        writer: &mut TransferMessage<'_>,
        contents: &Contents<'_>,
        name: &mut OwnerName,
        resume: (Position, usize),
    ) -> Plan {
        let (position, sent_at_name) = resume;
        // Where the message filled up: the name and how many of its records went.
        let mut stopped = None;
        let walked = contents.visit_from(position, name, |at, name, records| {
            let skip = if at == position { sent_at_name } else { 0 };
            for (index, record) in records.iter().enumerate().skip(skip) {
                if record.data.rtype() == RecordType::SOA {
                    continue;
                }
                if !writer.record(name.wire(), self.zone, &record.data) {
                    stopped = Some(index);
                    return false;
                }
            }
            true
        });
        match stopped {
            Some(sent) => Plan::Axfr {
                opened: true,
                position: walked,
                sent_at_name: sent,
            },
            None if self.soa(writer, self.current) => Plan::Done,
            None => Plan::Axfr {
                opened: true,
                position: Position::End,
                sent_at_name: 0,
            },
        }
    }
}
