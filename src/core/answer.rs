//! What portsd answers: the records, sections, flags and response code for one question,
//! decided from the zone's settings and one table snapshot. Pure: both transports (the hickory
//! request handler and the UDP fast path) encode the same [`Answer`].
//!
//! Answering does not touch the heap for ordinary questions: sections, entry lists and the
//! joined service name live in inline buffers that spill only for unusually large answers,
//! TXT data is borrowed from the table, and the text for an unlisted port is rendered only when
//! the record is written.

use std::borrow::Cow;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use smallvec::SmallVec;

use crate::core::model::{Entry, Protocol};
use crate::core::names::{ServiceName, Target, join_service};
use crate::core::table::{EntryIds, Table};
use crate::core::txt::{self, UnassignedText};
use crate::core::zone::{Snapshot, Zone, ZoneDigest};
use crate::wire::types::{self, DNSClass, RecordType};

/// Extended DNS Error 20, Not Authoritative (RFC 8914 4.21).
const NOT_AUTHORITATIVE: u16 = 20;

/// Whose name a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The query name, exactly as the client spelled it.
    Query,
    /// The zone apex.
    Apex,
    /// The name server's name.
    NameServer,
    /// `search.<zone>`, the apex of the search zone.
    SearchApex,
}

/// The data of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rdata<'a> {
    /// TXT RDATA: character-strings in wire form.
    Txt(&'a [u8]),
    /// A registry fact's TXT record: the entry and the fact's place among its
    /// [`crate::core::model::RegistryFacts::fields`], rendered when written
    /// ([`txt::fact_text`]).
    Fact(&'a Entry, u8),
    /// A ranked answer's TXT record: `RANK | ` before the text of the TXT RDATA (a search
    /// result, 1 for the best), so the order survives a resolver that rotates the RRset.
    Ranked(u8, &'a [u8]),
    /// The TXT record of a port nobody lists.
    Unassigned(UnassignedText),
    /// The zone's SOA with this serial.
    Soa(u32),
    /// The zone's NS record.
    Ns,
    /// An address of the name server.
    Address(IpAddr),
    /// The zone's ZONEMD record (RFC 8976), as the snapshot holds it: its RDATA is read (and
    /// waited for, while it is computed) only when the record is written.
    Zonemd(&'a ZoneDigest),
}

impl Rdata<'_> {
    /// The record type number.
    pub(crate) fn rtype(&self) -> RecordType {
        match self {
            Rdata::Txt(_) | Rdata::Ranked(..) | Rdata::Fact(..) | Rdata::Unassigned(_) => {
                RecordType::TXT
            }
            Rdata::Soa(_) => RecordType::SOA,
            Rdata::Ns => RecordType::NS,
            Rdata::Address(IpAddr::V4(_)) => RecordType::A,
            Rdata::Address(IpAddr::V6(_)) => RecordType::AAAA,
            Rdata::Zonemd(_) => types::ZONEMD,
        }
    }

    /// The wire RDATA of a TXT record (borrowed from the table when it is stored there);
    /// `None` for other records.
    pub(crate) fn txt(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Rdata::Txt(strings) => Some(Cow::Borrowed(strings)),
            Rdata::Ranked(..) | Rdata::Fact(..) | Rdata::Unassigned(_) => {
                let mut strings = Vec::new();
                self.append_txt(&mut strings);
                Some(Cow::Owned(strings))
            }
            Rdata::Soa(_) | Rdata::Ns | Rdata::Address(_) | Rdata::Zonemd(_) => None,
        }
    }

    /// Appends the wire RDATA of a TXT record to `out`; other records append nothing.
    pub(crate) fn append_txt(&self, out: &mut Vec<u8>) {
        match self {
            Rdata::Txt(strings) => out.extend_from_slice(strings),
            Rdata::Unassigned(text) => txt::append_rdata(|out| text.write_text(out), out),
            Rdata::Fact(entry, index) => {
                txt::append_rdata(|out| txt::fact_text(entry, usize::from(*index), out), out);
            }
            Rdata::Ranked(rank, strings) => txt::append_rdata(
                |out| {
                    out.extend_from_slice(txt::decimal(u16::from(*rank), &mut [0; 5]));
                    out.extend_from_slice(b" | ");
                    for string in txt::character_strings(strings) {
                        out.extend_from_slice(string);
                    }
                },
                out,
            ),
            Rdata::Soa(_) | Rdata::Ns | Rdata::Address(_) | Rdata::Zonemd(_) => {}
        }
    }
}

/// One resource record of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The owner name.
    pub(crate) owner: Owner,
    /// The data.
    pub data: Rdata<'a>,
}

/// The records of one section; the inline size covers all but the busiest ports.
pub type Section<'a> = SmallVec<[Record<'a>; 8]>;
/// The authority or additional section: an SOA, or the name server's addresses.
pub type ShortSection<'a> = SmallVec<[Record<'a>; 2]>;

/// Everything a response carries apart from the header echo and the EDNS record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The response code.
    pub rcode: ResponseCode,
    /// Whether the AA flag is set: every answer from inside the zone.
    pub authoritative: bool,
    /// The answer section.
    pub answers: Section<'a>,
    /// The authority section (the SOA of negative answers).
    pub(crate) authority: ShortSection<'a>,
    /// The additional section (glue for the NS record).
    pub(crate) additional: ShortSection<'a>,
    /// The Extended DNS Error (RFC 8914) INFO-CODE for a client that sent EDNS: 20 (Not
    /// Authoritative) on names outside the zone, as NSD and Knot send.
    pub(crate) extended_error: Option<u16>,
}

impl<'a> Answer<'a> {
    /// An answer with no records.
    pub(crate) fn empty(rcode: ResponseCode, authoritative: bool) -> Answer<'a> {
        Answer {
            rcode,
            authoritative,
            answers: Section::new(),
            authority: ShortSection::new(),
            additional: ShortSection::new(),
            extended_error: None,
        }
    }

    /// NODATA or NXDOMAIN: the SOA of the zone answering (`apex`) in the authority section
    /// (RFC 2308).
    fn negative(rcode: ResponseCode, serial: u32, apex: Owner) -> Answer<'a> {
        let mut answer = Answer::empty(rcode, true);
        answer.authority.push(Record {
            owner: apex,
            data: Rdata::Soa(serial),
        });
        answer
    }
}

/// The uses a name asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Uses {
    /// Entries of the table, in answer order; empty when the name has none.
    Listed(EntryIds),
    /// A port nobody lists.
    Unlisted(UnassignedText),
}

/// The uses a port, service or search name asks about; `None` for names of other kinds.
pub(crate) fn uses(table: &Table, target: &Target<'_>) -> Option<Uses> {
    let mut ids = EntryIds::new();
    match *target {
        Target::PortOn(port, protocol) => return Some(port_uses(table, port, Some(protocol))),
        Target::Port(port) => return Some(port_uses(table, port, None)),
        Target::ServiceOn(labels, protocol) => {
            service_uses(table, labels, Some(protocol), &mut ids)
        }
        Target::Service(labels) | Target::NameServer(labels) => {
            service_uses(table, labels, None, &mut ids)
        }
        Target::Search(words) => table.search(words, &mut ids),
        Target::OutOfZone
        | Target::Apex
        | Target::ProtocolNode(_)
        | Target::Help
        | Target::SearchApex
        | Target::Top(_)
        | Target::Registry(..)
        | Target::FormNode => return None,
    }
    Some(Uses::Listed(ids))
}

/// Answers one question: `labels` is the query name leftmost first, as received.
///
/// ANY gets one RRset, the first the name holds (RFC 8482), over UDP and TCP alike, as NSD
/// answers: the SOA at the apex, the address at the name server's name.
pub fn answer<'a>(
    zone: &Zone,
    snapshot: &'a Snapshot,
    labels: &[&[u8]],
    qtype: RecordType,
    qclass: DNSClass,
) -> Answer<'a> {
    let mut answer = every_record(zone, snapshot, labels, qtype, qclass);
    if qtype == RecordType::ANY
        && let Some(first) = answer.answers.first().map(|r| r.data.rtype())
    {
        answer.answers.retain(|r| r.data.rtype() == first);
    }
    answer
}

/// The answer with every record of the asked type, or of every type for ANY: what the zone's
/// contents list at a name.
pub(crate) fn every_record<'a>(
    zone: &Zone,
    snapshot: &'a Snapshot,
    labels: &[&[u8]],
    qtype: RecordType,
    qclass: DNSClass,
) -> Answer<'a> {
    let target = zone.name.classify(labels);
    if qclass != DNSClass::IN && qclass != DNSClass::ANY {
        return Answer::empty(ResponseCode::Refused, false);
    }
    if target == Target::OutOfZone {
        return Answer {
            extended_error: Some(NOT_AUTHORITATIVE),
            ..Answer::empty(ResponseCode::Refused, false)
        };
    }
    // A transfer the pipeline did not start is refused, without AA (as NSD and Knot).
    if qtype == RecordType::AXFR || qtype == RecordType::IXFR {
        return Answer::empty(ResponseCode::Refused, false);
    }
    target_records(zone, snapshot, target, qtype)
}

/// The records of `qtype` (every type for ANY) at a name of the zone already classified as
/// `target`: what [`every_record`] answers for an IN question other than a transfer.
fn target_records<'a>(
    zone: &Zone,
    snapshot: &'a Snapshot,
    target: Target<'_>,
    qtype: RecordType,
) -> Answer<'a> {
    let wants = |t: RecordType| qtype == t || qtype == RecordType::ANY;
    let table = &snapshot.table;
    let apex = match target {
        Target::SearchApex | Target::Search(_) => Owner::SearchApex,
        _ => Owner::Apex,
    };
    let mut records = Section::new();
    let mut additional = ShortSection::new();
    match target {
        // Out-of-zone names returned above; an empty non-terminal has no records.
        Target::OutOfZone | Target::ProtocolNode(_) | Target::FormNode => {}
        Target::Top(protocol) => {
            if table.top(protocol).is_empty() {
                return Answer::negative(ResponseCode::NXDomain, snapshot.serial, apex);
            }
            if wants(RecordType::TXT) {
                top_records(table, protocol, &mut records);
            }
        }
        Target::Registry(port, protocol) => {
            registry_records(table, port, protocol, &mut records);
            if records.is_empty() {
                return Answer::negative(ResponseCode::NXDomain, snapshot.serial, apex);
            }
            if !wants(RecordType::TXT) {
                records.clear();
            }
        }
        Target::Apex | Target::SearchApex => {
            if wants(RecordType::SOA) {
                records.push(query_record(Rdata::Soa(snapshot.serial)));
            }
            if wants(RecordType::NS) {
                records.push(query_record(Rdata::Ns));
                if qtype == RecordType::NS && zone.name.ns_in_zone() {
                    additional.extend(zone.ns_addresses.iter().map(|&ip| Record {
                        owner: Owner::NameServer,
                        data: Rdata::Address(ip),
                    }));
                }
            }
            if wants(RecordType::TXT) && target == Target::Apex {
                records.push(query_record(Rdata::Txt(&snapshot.about)));
            }
            if wants(types::ZONEMD) && target == Target::Apex && snapshot.zonemd.is_served() {
                records.push(query_record(Rdata::Zonemd(&snapshot.zonemd)));
            }
        }
        Target::Help => {
            if wants(RecordType::TXT) {
                records.extend(
                    snapshot
                        .help(zone)
                        .iter()
                        .map(|line| query_record(Rdata::Txt(line))),
                );
            }
        }
        Target::NameServer(_) => {
            records.extend(
                zone.ns_addresses
                    .iter()
                    .map(|&ip| query_record(Rdata::Address(ip)))
                    .filter(|r| wants(r.data.rtype())),
            );
            // The same name as a service (`ns`) keeps its TXT records beside the addresses.
            if wants(RecordType::TXT) {
                push_uses(table, uses(table, &target), &mut records);
            }
        }
        Target::PortOn(..)
        | Target::Port(_)
        | Target::ServiceOn(..)
        | Target::Service(_)
        | Target::Search(_) => {
            let found = uses(table, &target);
            if matches!(&found, Some(Uses::Listed(ids)) if ids.is_empty()) {
                return Answer::negative(ResponseCode::NXDomain, snapshot.serial, apex);
            }
            if wants(RecordType::TXT) {
                match (target, found) {
                    // Search results carry their rank (1 for the best).
                    (Target::Search(_), Some(Uses::Listed(ids))) => {
                        records.extend(
                            ids.iter().zip(1u8..).map(|(&id, rank)| {
                                query_record(Rdata::Ranked(rank, table.rdata(id)))
                            }),
                        );
                    }
                    (_, found) => push_uses(table, found, &mut records),
                }
            }
        }
    }
    if records.is_empty() {
        return Answer::negative(ResponseCode::NoError, snapshot.serial, apex);
    }
    Answer {
        rcode: ResponseCode::NoError,
        authoritative: true,
        answers: records,
        authority: ShortSection::new(),
        additional,
        extended_error: None,
    }
}

fn query_record(data: Rdata<'_>) -> Record<'_> {
    Record {
        owner: Owner::Query,
        data,
    }
}

fn push_uses<'a>(table: &'a Table, found: Option<Uses>, records: &mut Section<'a>) {
    match found {
        Some(Uses::Listed(ids)) => records.extend(
            ids.iter()
                .map(|&id| query_record(Rdata::Txt(table.rdata(id)))),
        ),
        Some(Uses::Unlisted(text)) => records.push(query_record(Rdata::Unassigned(text))),
        None => {}
    }
}

/// Appends the records at a port's name on `protocol` (`None`: on all of them), every type:
/// what [`every_record`] answers for ANY there (a port's name holds TXT records only, and
/// always at least one), without building an answer. The zone walk's way to a port.
pub(crate) fn port_records<'a>(
    table: &'a Table,
    port: u16,
    protocol: Option<Protocol>,
    records: &mut Section<'a>,
) {
    push_uses(table, Some(port_uses(table, port, protocol)), records);
}

/// Appends the records at a service's name on `protocol` (`None`: on all of them), every
/// type: what [`every_record`] answers for ANY at a name read as that service (TXT records,
/// none where nothing carries the name). `service` is lower-case, as the table lists it.
pub(crate) fn service_records<'a>(
    table: &'a Table,
    service: &[u8],
    protocol: Option<Protocol>,
    records: &mut Section<'a>,
) {
    let mut ids = EntryIds::new();
    table.service_entries(service, protocol, &mut ids);
    push_uses(table, Some(Uses::Listed(ids)), records);
}

/// Appends the ranked records of `top.<protocol>`: the most common ports, each with its main
/// use. The zone walk's way there too.
pub(crate) fn top_records<'a>(table: &'a Table, protocol: Protocol, records: &mut Section<'a>) {
    records.extend(
        table
            .top(protocol)
            .iter()
            .map(|record| query_record(Rdata::Txt(record))),
    );
}

/// Appends the records of `<port>.<protocol>.registry`: IANA's facts about each use of the
/// port there (ranges covering it included), one record per fact, each record once.
pub(crate) fn registry_records<'a>(
    table: &'a Table,
    port: u16,
    protocol: Protocol,
    records: &mut Section<'a>,
) {
    let mut ids = EntryIds::new();
    table.port_entries(protocol, port, &mut ids);
    for id in ids {
        for index in 0..table.fact_count(id).min(usize::from(u8::MAX)) {
            let fact = Rdata::Fact(table.entry(id), index as u8);
            // The same fact of two uses reading alike is one record (an RRset is a set).
            let text = fact.txt();
            if !records.iter().any(|r| r.data.txt() == text) {
                records.push(query_record(fact));
            }
        }
    }
}

/// The uses of a port on one protocol, or on all of them; a port nobody lists is unlisted.
fn port_uses(table: &Table, port: u16, protocol: Option<Protocol>) -> Uses {
    let mut ids = EntryIds::new();
    match protocol {
        Some(p) => table.port_entries(p, port, &mut ids),
        None => Protocol::ALL
            .into_iter()
            .for_each(|p| table.port_entries(p, port, &mut ids)),
    }
    if ids.is_empty() {
        Uses::Unlisted(UnassignedText { port, protocol })
    } else {
        Uses::Listed(ids)
    }
}

/// The uses a service name answers, appended to `ids`.
fn service_uses(table: &Table, labels: &[&[u8]], protocol: Option<Protocol>, ids: &mut EntryIds) {
    let mut name = ServiceName::new();
    if join_service(labels, &mut name) {
        table.service_entries(&name, protocol, ids);
    }
}
