//! Zone transfers, socket-free: AXFR (RFC 5936) and IXFR (RFC 1995) responses streamed one
//! message at a time into a caller's buffer, and the journal of differences IXFR answers from.
//!
//! A [`Transfer`] holds an `Arc` of the table snapshot it started on (a reload during the
//! transfer does not change what it sends) and a [`Position`] in the zone's one enumeration
//! ([`crate::core::contents`], which `export-zone` walks too); each call to
//! [`Transfer::next_message`] writes about [`MESSAGE_BYTES`] of records with name compression
//! and returns. Nothing of the zone's size is built: memory per transfer is one message and a
//! compression map.
//!
//! The SOA comes first and last and nowhere in between (the apex SOA is left out of the walk).
//! The first message carries the question, later ones none (as BIND and NSD send them).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use ipnet::IpNet;

use smallvec::SmallVec;

use crate::core::answer::{
    CLASS_IN, Rdata, Record, SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Snapshot, Zone, rtype,
};
use crate::core::contents::{Contents, OwnerName, Position};
use crate::core::serial::is_newer;
use crate::pipeline::tsig::Signer;

/// The size a transfer message is filled to: about 16 KiB, which every secondary takes and
/// which keeps compression pointers (14 bits) in range.
pub(crate) const MESSAGE_BYTES: usize = 16 * 1024;
/// Room left at the end of each message for a TSIG record (key and algorithm names, a
/// 64-byte MAC and the fixed fields).
const TSIG_ROOM: usize = 640;
/// How many differences the journal keeps: IXFR from any of the last this many serials is
/// incremental.
pub(crate) const JOURNAL_DEPTH: usize = 8;
/// A difference with more records than this is not kept: the whole zone is about 363,000
/// records, and past this size an AXFR costs the secondary less than applying the change.
pub(crate) const MAX_DIFFERENCE_RECORDS: usize = 100_000;

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

/// One record of a difference, owned (the snapshot it came from may be gone).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ChangedRecord {
    owner: OwnerName,
    rtype: u16,
    rdata: Box<[u8]>,
}

/// The change from one serial to the next: what to delete and what to add (RFC 1995).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Difference {
    from: u32,
    to: u32,
    deleted: Vec<ChangedRecord>,
    added: Vec<ChangedRecord>,
}

impl Difference {
    /// The serial the difference starts from and the one it leads to.
    #[cfg(test)]
    pub(crate) fn serials(&self) -> (u32, u32) {
        (self.from, self.to)
    }
}

/// The differences between the last few serials, oldest first, each leading to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal {
    differences: VecDeque<Arc<Difference>>,
}

impl Journal {
    /// The journal after a reload from `old` to `new`: the new difference appended (the oldest
    /// dropped past [`JOURNAL_DEPTH`]), or an empty journal when the difference is too large
    /// to keep (IXFR from older serials then gets the whole zone).
    pub(crate) fn after_reload(&self, zone: &Zone, old: &Snapshot, new: &Snapshot) -> Journal {
        if old.serial == new.serial {
            return self.clone();
        }
        let Some(difference) = difference(zone, old, new) else {
            return Journal::default();
        };
        let mut differences = self.differences.clone();
        if differences.back().is_some_and(|last| last.to != old.serial) {
            differences.clear();
        }
        differences.push_back(Arc::new(difference));
        while differences.len() > JOURNAL_DEPTH {
            differences.pop_front();
        }
        Journal { differences }
    }

    /// The differences leading from `serial` to `current`, when the journal holds all of them.
    fn chain(&self, serial: u32, current: u32) -> Option<Vec<Arc<Difference>>> {
        let start = self.differences.iter().position(|d| d.from == serial)?;
        let chain: Vec<Arc<Difference>> = self.differences.range(start..).cloned().collect();
        (chain.last()?.to == current).then_some(chain)
    }

    /// The differences kept, oldest first.
    #[cfg(test)]
    pub(crate) fn differences(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().map(|d| &**d)
    }
}

/// The records at one name, as comparable owned values (the SOA left out: it is not part of
/// a difference's body).
fn owned_records(zone: &Zone, name: &OwnerName, records: &[Record<'_>]) -> Vec<ChangedRecord> {
    let mut owned: Vec<ChangedRecord> = records
        .iter()
        .filter(|r| r.data.rtype() != rtype::SOA)
        .map(|r| {
            let mut rdata = Vec::new();
            write_rdata(zone, &r.data, &mut rdata);
            ChangedRecord {
                owner: name.clone(),
                rtype: r.data.rtype(),
                rdata: rdata.into_boxed_slice(),
            }
        })
        .collect();
    owned.sort();
    owned
}

/// Adds the records of `old` missing from `new` to `deleted`, and those of `new` missing from
/// `old` to `added`. Both are sorted.
fn compare(
    old: Vec<ChangedRecord>,
    new: Vec<ChangedRecord>,
    deleted: &mut Vec<ChangedRecord>,
    added: &mut Vec<ChangedRecord>,
) {
    deleted.extend(
        old.iter()
            .filter(|r| new.binary_search(r).is_err())
            .cloned(),
    );
    added.extend(new.into_iter().filter(|r| old.binary_search(r).is_err()));
}

/// The difference between two snapshots of the zone, or `None` when it is larger than
/// [`MAX_DIFFERENCE_RECORDS`]. Walks both in the zone's order: the apex, the name server and
/// the ports are at the same positions in both, the service names are merged by name.
fn difference(zone: &Zone, old: &Snapshot, new: &Snapshot) -> Option<Difference> {
    let (before, after) = (Contents::new(zone, old), Contents::new(zone, new));
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    let (mut old_name, mut new_name) = (OwnerName::default(), OwnerName::default());
    let records_at = |contents: &Contents<'_>, position, name: &mut OwnerName| {
        if !contents.name_at(position, name) {
            return Vec::new();
        }
        contents
            .records(position, name)
            .map_or_else(Vec::new, |a| owned_records(zone, name, &a.answers))
    };
    let too_large =
        |deleted: &Vec<_>, added: &Vec<_>| deleted.len() + added.len() > MAX_DIFFERENCE_RECORDS;
    let mut position = Position::Apex;
    while position < Position::Service(0, 0) && position != Position::End {
        let was = records_at(&before, position, &mut old_name);
        let is = records_at(&after, position, &mut new_name);
        if was != is {
            compare(was, is, &mut deleted, &mut added);
            if too_large(&deleted, &added) {
                return None;
            }
        }
        position = after.after(position);
    }
    let (old_count, new_count) = (old.table.service_count(), new.table.service_count());
    let (mut i, mut j) = (0, 0);
    while i < old_count || j < new_count {
        let order = match (i < old_count, j < new_count) {
            (true, true) => old.table.service_name(i).cmp(new.table.service_name(j)),
            (true, false) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        for protocol in 0..=4 {
            let was = match order {
                std::cmp::Ordering::Greater => Vec::new(),
                _ => records_at(
                    &before,
                    Position::Service(i as u32, protocol),
                    &mut old_name,
                ),
            };
            let is = match order {
                std::cmp::Ordering::Less => Vec::new(),
                _ => records_at(&after, Position::Service(j as u32, protocol), &mut new_name),
            };
            if was != is {
                compare(was, is, &mut deleted, &mut added);
            }
        }
        if too_large(&deleted, &added) {
            return None;
        }
        match order {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => (i, j) = (i + 1, j + 1),
        }
    }
    Some(Difference {
        from: old.serial,
        to: new.serial,
        deleted,
        added,
    })
}

/// Writes a record's RDATA uncompressed (the SOA's and NS's names included: they are two
/// records per transfer).
fn write_rdata(zone: &Zone, data: &Rdata<'_>, out: &mut Vec<u8>) {
    let name = |labels: &[Box<[u8]>], out: &mut Vec<u8>| {
        for label in labels {
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        out.push(0);
    };
    match data {
        Rdata::Txt(_) | Rdata::Unassigned(_) => data.append_txt(out),
        Rdata::Soa(serial) => {
            name(&zone.ns_name, out);
            name(&zone.rname, out);
            for value in [*serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, zone.ttl] {
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        Rdata::Ns => name(&zone.ns_name, out),
        Rdata::Address(std::net::IpAddr::V4(ip)) => out.extend_from_slice(&ip.octets()),
        Rdata::Address(std::net::IpAddr::V6(ip)) => out.extend_from_slice(&ip.octets()),
    }
}

/// Fills one message: header, the question on the first message, records with their owner
/// names compressed against the names already in the message.
struct MessageWriter<'o> {
    out: &'o mut Vec<u8>,
    records: u16,
    /// Wire form of every name suffix written so far (lower-case, as the zone's names are),
    /// to the offset it starts at.
    suffixes: &'o mut HashMap<Box<[u8]>, u16>,
}

impl<'o> MessageWriter<'o> {
    fn begin(
        out: &'o mut Vec<u8>,
        suffixes: &'o mut HashMap<Box<[u8]>, u16>,
        header: &Header,
        question: Option<&[u8]>,
    ) -> MessageWriter<'o> {
        out.clear();
        suffixes.clear();
        out.extend_from_slice(&header.id.to_be_bytes());
        out.extend_from_slice(&header.flags.to_be_bytes());
        out.extend_from_slice(&u16::from(question.is_some()).to_be_bytes());
        out.extend_from_slice(&[0; 6]);
        if let Some(question) = question {
            out.extend_from_slice(question);
        }
        MessageWriter {
            out,
            records: 0,
            suffixes,
        }
    }

    /// Writes one record unless the message would grow past `limit` (a message always takes
    /// its first record). Returns whether it was written.
    fn record(
        &mut self,
        owner: &[&[u8]],
        rtype: u16,
        rdata: &[u8],
        ttl: u32,
        limit: usize,
    ) -> bool {
        let name_bytes: usize = owner.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        if self.records > 0 && self.out.len() + name_bytes + 10 + rdata.len() > limit {
            return false;
        }
        let mut wire: SmallVec<[u8; 256]> = SmallVec::new();
        let mut starts: SmallVec<[usize; 8]> = SmallVec::new();
        for label in owner {
            starts.push(wire.len());
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        let base = self.out.len();
        let mut pointer = None;
        for (i, &start) in starts.iter().enumerate() {
            if let Some(&offset) = self.suffixes.get(&wire[start..]) {
                pointer = Some((i, offset));
                break;
            }
        }
        let written = pointer.map_or(wire.len(), |(i, _)| starts[i]);
        self.out.extend_from_slice(&wire[..written]);
        for &start in starts.iter().take_while(|&&s| s < written) {
            let offset = base + start;
            if offset < 0x3FFF {
                self.suffixes
                    .insert(wire[start..].to_vec().into_boxed_slice(), offset as u16);
            }
        }
        match pointer {
            Some((_, offset)) => self.out.extend_from_slice(&(0xC000 | offset).to_be_bytes()),
            None => self.out.push(0),
        }
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        self.out
            .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.out.extend_from_slice(rdata);
        self.records += 1;
        true
    }

    fn finish(self) {
        self.out[6..8].copy_from_slice(&self.records.to_be_bytes());
    }
}

/// The header facts every message of a transfer repeats.
#[derive(Clone, Copy, Debug)]
struct Header {
    id: u16,
    flags: u16,
}

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
pub(crate) struct Transfer {
    zone: Zone,
    snapshot: Arc<Snapshot>,
    header: Header,
    /// The question as received (name, type, class), echoed in the first message.
    question: Vec<u8>,
    plan: Plan,
    messages: usize,
    /// The most bytes a message may take (smaller for UDP).
    limit: usize,
    suffixes: HashMap<Box<[u8]>, u16>,
    name: OwnerName,
    rdata: Vec<u8>,
    /// The place among concurrent transfers, held until the transfer is dropped.
    _slot: Option<Slot>,
    /// Signs every message when the request was signed.
    signer: Option<Signer>,
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
            header: Header {
                id,
                flags: 0x8400 | if recursion_desired { 0x0100 } else { 0 },
            },
            question: question.to_vec(),
            plan,
            messages: 0,
            limit: MESSAGE_BYTES - TSIG_ROOM,
            suffixes: HashMap::new(),
            name: OwnerName::default(),
            rdata: Vec::new(),
            _slot: None,
            signer: None,
        }
    }

    /// The transfer holding `slot` until it ends, its messages signed by `signer`.
    pub(crate) fn holding(self, slot: Slot, signer: Option<Signer>) -> Transfer {
        Transfer {
            _slot: Some(slot),
            signer,
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

    /// Makes the response fit one UDP message of `limit` bytes: an IXFR that does not fit
    /// becomes the SOA alone, which tells the client to retry over TCP (RFC 1995 2). Returns
    /// the one message.
    pub(crate) fn single_message(mut self, limit: usize, out: &mut Vec<u8>) {
        self.limit = limit.saturating_sub(TSIG_ROOM.min(limit / 8));
        let incremental = matches!(self.plan, Plan::Ixfr { .. });
        if incremental && self.next_message(out) && matches!(self.plan, Plan::Done) {
            return;
        }
        self.plan = Plan::Soa;
        self.messages = 0;
        self.next_message(out);
    }

    /// Writes the next message of the response into `out` (cleared first); `false` when
    /// everything has been sent (and `out` is left empty).
    pub(crate) fn next_message(&mut self, out: &mut Vec<u8>) -> bool {
        if matches!(self.plan, Plan::Done) {
            out.clear();
            return false;
        }
        let question = (self.messages == 0).then_some(&self.question[..]);
        let mut writer = MessageWriter::begin(out, &mut self.suffixes, &self.header, question);
        let snapshot = self.snapshot.clone();
        let zone = &self.zone;
        let apex: SmallVec<[&[u8]; 8]> = zone.name.labels().iter().map(|l| &l[..]).collect();
        let ttl = zone.ttl;
        let limit = self.limit;
        let rdata = &mut self.rdata;
        let soa = |writer: &mut MessageWriter<'_>, rdata: &mut Vec<u8>, serial: u32| {
            rdata.clear();
            write_rdata(zone, &Rdata::Soa(serial), rdata);
            writer.record(&apex, rtype::SOA, rdata, ttl, limit)
        };
        let current = snapshot.serial;
        self.plan = match std::mem::replace(&mut self.plan, Plan::Done) {
            Plan::Soa => {
                soa(&mut writer, rdata, current);
                Plan::Done
            }
            Plan::Done => Plan::Done,
            Plan::Ixfr { chain, mut step } => loop {
                let written = match ixfr_item(&chain, current, step) {
                    None => break Plan::Done,
                    Some(IxfrItem::Soa(serial)) => soa(&mut writer, rdata, serial),
                    Some(IxfrItem::Record(record)) => writer.record(
                        &record.owner.labels(),
                        record.rtype,
                        &record.rdata,
                        ttl,
                        limit,
                    ),
                };
                if !written {
                    break Plan::Ixfr { chain, step };
                }
                step += 1;
            },
            Plan::Axfr {
                mut opened,
                mut position,
                mut sent_at_name,
            } => 'fill: {
                if !opened {
                    soa(&mut writer, rdata, current);
                    opened = true;
                }
                let contents = Contents::new(zone, &snapshot);
                loop {
                    let (at, records) = contents.next_from(position, &mut self.name);
                    let Some(records) = records else {
                        if soa(&mut writer, rdata, current) {
                            break 'fill Plan::Done;
                        }
                        break 'fill Plan::Axfr {
                            opened,
                            position: Position::End,
                            sent_at_name: 0,
                        };
                    };
                    let labels = self.name.labels();
                    for record in records.answers.iter().skip(sent_at_name) {
                        if record.data.rtype() != rtype::SOA {
                            rdata.clear();
                            write_rdata(zone, &record.data, rdata);
                            if !writer.record(&labels, record.data.rtype(), rdata, ttl, limit) {
                                break 'fill Plan::Axfr {
                                    opened,
                                    position: at,
                                    sent_at_name,
                                };
                            }
                        }
                        sent_at_name += 1;
                    }
                    position = contents.after(at);
                    sent_at_name = 0;
                }
            }
        };
        writer.finish();
        if let Some(signer) = &mut self.signer {
            signer.sign(out, crate::pipeline::tsig::now());
        }
        self.messages += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Entry, PortSpan, Protocol, Source, Status};
    use crate::core::names::parse_domain;
    use crate::core::table::Table;
    use hickory_proto::op::Message;
    use hickory_proto::rr::{RData, RecordType};

    fn zone() -> Zone {
        Zone::new(
            parse_domain("ports.test").unwrap(),
            parse_domain("ns.ports.test").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
            60,
        )
    }

    fn snapshot(zone: &Zone, serial: u32, uses: &[(&str, &str)]) -> Arc<Snapshot> {
        let entries = uses
            .iter()
            .map(|&(port, description)| Entry {
                ports: PortSpan::parse(port).unwrap(),
                protocol: Protocol::Tcp,
                status: Status::Yes,
                service: None,
                description: description.to_owned(),
                aliases: Vec::new(),
                sources: Source::Iana.bit(),
            })
            .collect();
        Arc::new(Snapshot::new(Table::new(entries), serial, zone))
    }

    /// The question section of `ports.test. IN AXFR`.
    fn question(qtype: u16) -> Vec<u8> {
        let mut q = b"\x05ports\x04test\x00".to_vec();
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    fn messages(mut transfer: Transfer) -> Vec<Message> {
        let mut out = Vec::new();
        let mut messages = Vec::new();
        while transfer.next_message(&mut out) {
            assert!(out.len() <= MESSAGE_BYTES, "{} bytes", out.len());
            messages.push(Message::from_vec(&out).expect("every message parses"));
        }
        messages
    }

    fn records(messages: &[Message]) -> Vec<hickory_proto::rr::Record> {
        messages.iter().flat_map(|m| m.answers.clone()).collect()
    }

    #[test]
    fn axfr_streams_the_whole_zone_between_two_soas() {
        let zone = zone();
        let snapshot = snapshot(&zone, 42, &[("443", "web")]);
        let transfer = Transfer::new(
            &zone,
            snapshot.clone(),
            &Journal::default(),
            Kind::Axfr,
            7,
            false,
            &question(rtype::AXFR),
        );
        let messages = messages(transfer);
        assert!(messages.len() > 100, "{} messages", messages.len());
        assert_eq!(messages[0].queries.len(), 1);
        assert!(messages[1..].iter().all(|m| m.queries.is_empty()));
        assert!(messages.iter().all(|m| m.id == 7 && m.authoritative));
        let all = records(&messages);
        let soas: Vec<usize> = (0..all.len())
            .filter(|&i| all[i].record_type() == RecordType::SOA)
            .collect();
        assert_eq!(soas, [0, all.len() - 1], "SOA first and last only");
        // Apex NS and TXT, the glue, the 8 help records, the search delegation's NS, 5 × 65,536
        // port names.
        assert_eq!(all.len(), 2 + 3 + 8 + 1 + 5 * 65_536);
        let mut names: Vec<String> = all[1..all.len() - 1]
            .iter()
            .map(|r| format!("{} {}", r.name, r.record_type()))
            .collect();
        // Each RRset comes in one run of records (help.<zone> has several TXT records), and
        // no RRset comes twice.
        names.dedup();
        let runs = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), runs, "every RRset once");
        let https = all
            .iter()
            .find(|r| r.name.to_ascii() == "443.tcp.ports.test.")
            .expect("443.tcp is in the transfer");
        match &https.data {
            RData::TXT(txt) => assert!(txt.to_string().contains("web")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_are_about_16_kib_and_compressed() {
        let zone = zone();
        let snapshot = snapshot(&zone, 42, &[]);
        let mut transfer = Transfer::new(
            &zone,
            snapshot,
            &Journal::default(),
            Kind::Axfr,
            1,
            false,
            &question(rtype::AXFR),
        );
        let mut out = Vec::new();
        transfer.next_message(&mut out);
        transfer.next_message(&mut out);
        assert!(out.len() > MESSAGE_BYTES - 2 * TSIG_ROOM, "{}", out.len());
        let message = Message::from_vec(&out).unwrap();
        // A name like 1234.tcp.ports.test costs its first label and a pointer.
        let per_record = out.len() / message.answers.len();
        assert!(per_record < 110, "{per_record} bytes per record");
    }

    #[test]
    fn ixfr_from_the_current_serial_or_newer_is_the_soa_alone() {
        let zone = zone();
        let snapshot = snapshot(&zone, 42, &[]);
        for client in [42, 43, 42 + 0x7000_0000] {
            let transfer = Transfer::new(
                &zone,
                snapshot.clone(),
                &Journal::default(),
                Kind::Ixfr(client),
                1,
                false,
                &question(rtype::IXFR),
            );
            let all = records(&messages(transfer));
            assert_eq!(all.len(), 1, "client at {client}");
            assert_eq!(all[0].record_type(), RecordType::SOA);
        }
    }

    #[test]
    fn ixfr_sends_the_differences_from_a_known_serial() {
        let zone = zone();
        let first = snapshot(&zone, 10, &[("443", "web")]);
        let second = snapshot(&zone, 11, &[("443", "web, new text"), ("8080", "proxy")]);
        let third = snapshot(&zone, 12, &[("443", "web, new text")]);
        let journal = Journal::default()
            .after_reload(&zone, &first, &second)
            .after_reload(&zone, &second, &third);
        assert_eq!(journal.differences().count(), 2);
        let ixfr = |from| {
            let transfer = Transfer::new(
                &zone,
                third.clone(),
                &journal,
                Kind::Ixfr(from),
                1,
                false,
                &question(rtype::IXFR),
            );
            records(&messages(transfer))
        };
        let texts = |records: &[hickory_proto::rr::Record]| -> Vec<String> {
            records
                .iter()
                .map(|r| match &r.data {
                    RData::SOA(soa) => format!("SOA {}", soa.serial),
                    RData::TXT(txt) => format!("{} {}", r.name, txt),
                    other => format!("{} {other}", r.name),
                })
                .collect()
        };
        let from_11 = texts(&ixfr(11));
        assert_eq!(from_11[0], "SOA 12");
        assert_eq!(from_11[1], "SOA 11");
        assert_eq!(from_11.last().unwrap(), "SOA 12");
        let soa_12 = from_11.iter().position(|t| t == "SOA 12").unwrap();
        assert_eq!(soa_12, 0);
        // 8080 is unassigned again: its two names change text; the apex TXT changes too.
        let deleted: Vec<&String> = from_11[2..]
            .iter()
            .take_while(|t| !t.starts_with("SOA"))
            .collect();
        assert!(
            deleted
                .iter()
                .any(|t| t.starts_with("8080.tcp.ports.test.") && t.contains("proxy")),
            "{deleted:?}"
        );
        assert!(
            deleted
                .iter()
                .any(|t| t.starts_with("ports.test.") && t.contains("serial 11")),
            "{deleted:?}"
        );
        assert_eq!(
            deleted.len(),
            3,
            "8080.tcp, 8080 and the apex TXT: {deleted:?}"
        );
        let from_10 = texts(&ixfr(10));
        let soas: Vec<&String> = from_10.iter().filter(|t| t.starts_with("SOA")).collect();
        assert_eq!(
            soas,
            ["SOA 12", "SOA 10", "SOA 11", "SOA 11", "SOA 12", "SOA 12"]
        );
        // An unknown serial gets the whole zone in AXFR form.
        let unknown = ixfr(9);
        assert_eq!(unknown.len(), 2 + 3 + 8 + 1 + 5 * 65_536);
    }

    #[test]
    fn transfers_past_the_cap_get_no_slot_until_one_ends() {
        let running = Arc::new(AtomicUsize::new(0));
        let first = Slot::take(&running, 2).expect("a slot");
        let second = Slot::take(&running, 2).expect("a slot");
        assert!(Slot::take(&running, 2).is_none(), "the cap");
        drop(first);
        assert!(Slot::take(&running, 2).is_some(), "given back");
        drop(second);
        assert_eq!(running.load(Ordering::Acquire), 0);
    }

    #[test]
    fn only_allowed_networks_transfer_and_keys_require_a_signature() {
        let policy = TransferPolicy {
            allow: vec!["192.0.2.0/24".parse().unwrap()],
            ..TransferPolicy::default()
        };
        let inside: IpAddr = "192.0.2.9".parse().unwrap();
        let outside: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(policy.check(inside, false), Ok(()));
        assert_eq!(policy.check(outside, true), Err(Refusal::NotAllowed));
        assert_eq!(
            TransferPolicy::default().check(inside, true),
            Err(Refusal::NotAllowed),
            "nobody by default"
        );
        let signed = TransferPolicy {
            require_signature: true,
            ..policy
        };
        assert_eq!(signed.check(inside, false), Err(Refusal::Unsigned));
        assert_eq!(signed.check(inside, true), Ok(()));
    }

    #[test]
    fn transfer_requests_are_recognised_without_parsing() {
        let mut request = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        request.extend_from_slice(&question(rtype::AXFR));
        assert!(is_transfer_request(&request));
        let ixfr = [&request[..12], &question(rtype::IXFR)].concat();
        assert!(is_transfer_request(&ixfr));
        let soa = [&request[..12], &question(rtype::SOA)].concat();
        assert!(!is_transfer_request(&soa));
        assert!(!is_transfer_request(&request[..20]), "cut short");
        assert!(!is_transfer_request(&[0; 11]));
    }

    #[test]
    fn a_broken_chain_empties_the_journal() {
        let zone = zone();
        let a = snapshot(&zone, 10, &[("1", "a")]);
        let b = snapshot(&zone, 11, &[("1", "b")]);
        let c = snapshot(&zone, 20, &[("1", "c")]);
        let d = snapshot(&zone, 21, &[("1", "d")]);
        let journal = Journal::default()
            .after_reload(&zone, &a, &b)
            .after_reload(&zone, &c, &d);
        let serials: Vec<(u32, u32)> = journal.differences().map(Difference::serials).collect();
        assert_eq!(serials, [(20, 21)]);
    }

    #[test]
    fn an_ixfr_too_large_for_udp_is_the_soa_alone() {
        let zone = zone();
        let first = snapshot(&zone, 10, &[]);
        let many: Vec<(String, String)> = (1000..1100)
            .map(|p| (p.to_string(), "x".repeat(100)))
            .collect();
        let uses: Vec<(&str, &str)> = many.iter().map(|(p, d)| (p.as_str(), d.as_str())).collect();
        let second = snapshot(&zone, 11, &uses);
        let journal = Journal::default().after_reload(&zone, &first, &second);
        let udp = |from| {
            let transfer = Transfer::new(
                &zone,
                second.clone(),
                &journal,
                Kind::Ixfr(from),
                1,
                false,
                &question(rtype::IXFR),
            );
            let mut out = Vec::new();
            transfer.single_message(1232, &mut out);
            assert!(out.len() <= 1232);
            Message::from_vec(&out).unwrap().answers.len()
        };
        assert_eq!(udp(10), 1, "does not fit: SOA alone");
        let small = snapshot(&zone, 20, &[("1000", "a")]);
        let changed = snapshot(&zone, 21, &[]);
        let journal = Journal::default().after_reload(&zone, &small, &changed);
        let transfer = Transfer::new(
            &zone,
            changed,
            &journal,
            Kind::Ixfr(20),
            1,
            false,
            &question(rtype::IXFR),
        );
        let mut out = Vec::new();
        transfer.single_message(1232, &mut out);
        let answers = Message::from_vec(&out).unwrap().answers.len();
        assert!(answers > 4, "a small change fits: {answers} records");
    }
}
