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

use smallvec::SmallVec;

use crate::core::model::Protocol;
use crate::core::names::{HELP_LABEL, SEARCH_LABEL, ServiceName, Target, ZoneName, join_service};
use crate::core::serial::Fingerprint;
use crate::core::table::{EntryIds, Table};
use crate::core::txt::{self, UnassignedText};

/// Record types portsd knows by number.
pub mod rtype {
    /// IPv4 address.
    pub(crate) const A: u16 = 1;
    /// Name server.
    pub(crate) const NS: u16 = 2;
    /// Start of authority.
    pub(crate) const SOA: u16 = 6;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub(crate) const AAAA: u16 = 28;
    /// EDNS(0) pseudo-record.
    pub(crate) const OPT: u16 = 41;
    /// Transaction signature (RFC 8945).
    pub(crate) const TSIG: u16 = 250;
    /// Incremental zone transfer.
    pub(crate) const IXFR: u16 = 251;
    /// Full zone transfer.
    pub(crate) const AXFR: u16 = 252;
    /// Every type at the name.
    pub(crate) const ANY: u16 = 255;
}

/// The Internet class, the only one portsd serves.
pub const CLASS_IN: u16 = 1;
/// QCLASS `*` (ANY, RFC 1035 3.2.5): matches the zone's class, IN.
pub const CLASS_ANY: u16 = 255;

/// Extended DNS Error 20, Not Authoritative (RFC 8914 4.21).
pub(crate) const NOT_AUTHORITATIVE: u16 = 20;

/// SOA timers: an hour to refresh, ten minutes to retry, a week to expire (secondaries are
/// unlikely; these are conventional values).
pub(crate) const SOA_REFRESH: u32 = 3600;
/// See [`SOA_REFRESH`].
pub(crate) const SOA_RETRY: u32 = 600;
/// See [`SOA_REFRESH`].
pub(crate) const SOA_EXPIRE: u32 = 604_800;

/// The zone's fixed settings: its name, TTL and name server.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone's name and where its name server sits.
    pub(crate) name: ZoneName,
    /// The name server's name, lower-case labels leftmost first.
    pub(crate) ns_name: Vec<Box<[u8]>>,
    /// The name server's addresses, served as glue when its name is inside the zone.
    pub(crate) ns_addresses: Vec<IpAddr>,
    /// TTL of every record, and the SOA MINIMUM (so negative answers are cached as long).
    pub(crate) ttl: u32,
    /// The SOA RNAME (`hostmaster.<zone>`), lower-case labels.
    pub(crate) rname: Vec<Box<[u8]>>,
}

impl Zone {
    /// Settings for `zone` served by `ns_name` at `ns_addresses`, records living `ttl` seconds.
    pub(crate) fn new(
        zone: Vec<Box<[u8]>>,
        ns_name: Vec<Box<[u8]>>,
        ns_addresses: Vec<IpAddr>,
        ttl: u32,
    ) -> Zone {
        // An address given twice would be a record twice in one RRset (RFC 2181 5).
        let mut unique = Vec::with_capacity(ns_addresses.len());
        for ip in ns_addresses {
            if !unique.contains(&ip) {
                unique.push(ip);
            }
        }
        let ns_addresses = unique;
        let mut rname = vec![b"hostmaster".to_vec().into_boxed_slice()];
        rname.extend(zone.iter().cloned());
        Zone {
            name: ZoneName::new(zone, &ns_name),
            ns_name,
            ns_addresses,
            ttl,
            rname,
        }
    }

    /// The zone's name in presentation format, without the trailing dot.
    pub fn display_name(&self) -> String {
        labels_to_text(self.name.labels())
    }

    /// Adds the settings the zone's own records are made of (name, name server, its
    /// addresses, TTL) to `hash`.
    pub(crate) fn add_settings_to(&self, hash: &mut Fingerprint) {
        // An empty part ends each list, so no two different settings add the same bytes.
        for name in [self.name.labels(), &self.ns_name] {
            for label in name {
                hash.add(label);
            }
            hash.add(&[]);
        }
        for address in &self.ns_addresses {
            hash.add(address.to_string().as_bytes());
        }
        hash.add(&[]);
        hash.add(&self.ttl.to_be_bytes());
    }
}

/// Presentation form of lower-case labels (`ports.local`).
pub(crate) fn labels_to_text(labels: &[Box<[u8]>]) -> String {
    labels
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

/// One table together with the facts that change when it is replaced: the SOA serial and the
/// apex TXT record describing the data.
#[derive(Debug)]
pub struct Snapshot {
    /// The port table.
    pub table: Table,
    /// SOA serial of this version of the data.
    pub serial: u32,
    /// TXT RDATA of the apex record saying what the server holds.
    pub about: Box<[u8]>,
    /// TXT RDATA of the `help.<zone>` records: one per name form, then the answer format.
    pub help: Vec<Box<[u8]>>,
}

impl Snapshot {
    /// Wraps a table with its serial and builds the apex description.
    pub fn new(table: Table, serial: u32, zone: &Zone) -> Snapshot {
        let stats = table.stats();
        let sources: Vec<String> = stats
            .by_source
            .iter()
            .map(|(source, n)| format!("{} {n}", source.name()))
            .collect();
        let text = format!(
            "portsd | zone {} | serial {serial} | {} entries ({}) | {} ranges | {} service names | data {:016x}",
            zone.display_name(),
            table.entries().len(),
            sources.join(", "),
            stats.ranges,
            stats.services,
            table.content_hash(),
        );
        Snapshot {
            about: txt::encode_strings(&text),
            help: help_lines(zone, &table)
                .iter()
                .map(|line| txt::encode_strings(line))
                .collect(),
            table,
            serial,
        }
    }
}

/// The text of the `help.<zone>` records. Every example is one this table answers: the
/// service example is `https` when the table has it, else the first name it has.
pub(crate) fn help_lines(zone: &Zone, table: &Table) -> Vec<String> {
    let z = zone.display_name();
    let mut names: Vec<&[u8]> = table
        .service_names()
        .filter(|name| !name.contains(&b'.'))
        .filter(|name| !matches!(*name, HELP_LABEL | SEARCH_LABEL))
        .collect();
    names.sort_unstable_by_key(|name| (*name != b"https", *name));
    let service = names.first().map(|name| {
        let mut ids = EntryIds::new();
        table.service_entries(name, None, &mut ids);
        let protocol = ids
            .first()
            .map_or(Protocol::Tcp, |&id| table.entry(id).protocol);
        (String::from_utf8_lossy(name).into_owned(), protocol)
    });
    let word = ["minecraft"]
        .into_iter()
        .map(str::to_owned)
        .chain(service.iter().map(|(name, _)| name.clone()))
        .find(|word| {
            let mut ids = EntryIds::new();
            table.search(&[word.as_bytes()], &mut ids);
            !ids.is_empty()
        });
    let example = |text: Option<String>| {
        text.map_or_else(
            || " (this table has none to show)".to_owned(),
            |e| format!(", e.g. {e}"),
        )
    };
    vec![
        format!("PORT.PROTOCOL.{z}: the uses of a port on one protocol (tcp, udp, sctp or dccp), e.g. 443.tcp.{z}"),
        format!("PORT.{z}: the uses of a port on every protocol, e.g. 443.{z}"),
        format!(
            "SERVICE.PROTOCOL.{z}: the uses of a service name (IANA's, the site's or the system's services database's) on one protocol{}",
            example(service.as_ref().map(|(name, protocol)| format!("{name}.{protocol}.{z}")))
        ),
        format!(
            "SERVICE.{z}: the uses of a service name on every protocol{}",
            example(service.as_ref().map(|(name, _)| format!("{name}.{z}")))
        ),
        format!(
            "WORDS.search.{z}: keyword search, each label a word that must match, up to 10 uses best first{}",
            example(word.map(|word| format!("{word}.search.{z}")))
        ),
        format!("{z}: SOA, NS and a TXT record saying what the server holds"),
        format!("help.{z}: this list"),
        "answers: one TXT record per use, PORT | PROTOCOL | STATUS | SERVICE | DESCRIPTION; split at most 4 times, SERVICE is the service name and its other names or -".to_owned(),
    ]
}

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
    /// The TXT record of a port nobody lists.
    Unassigned(UnassignedText),
    /// The zone's SOA with this serial.
    Soa(u32),
    /// The zone's NS record.
    Ns,
    /// An address of the name server.
    Address(IpAddr),
}

impl Rdata<'_> {
    /// The record type number.
    pub(crate) fn rtype(&self) -> u16 {
        match self {
            Rdata::Txt(_) | Rdata::Unassigned(_) => rtype::TXT,
            Rdata::Soa(_) => rtype::SOA,
            Rdata::Ns => rtype::NS,
            Rdata::Address(IpAddr::V4(_)) => rtype::A,
            Rdata::Address(IpAddr::V6(_)) => rtype::AAAA,
        }
    }

    /// The wire RDATA of a TXT record (borrowed from the table when it is stored there);
    /// `None` for other records.
    pub(crate) fn txt(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Rdata::Txt(strings) => Some(Cow::Borrowed(strings)),
            Rdata::Unassigned(_) => {
                let mut strings = Vec::new();
                self.append_txt(&mut strings);
                Some(Cow::Owned(strings))
            }
            Rdata::Soa(_) | Rdata::Ns | Rdata::Address(_) => None,
        }
    }

    /// Appends the wire RDATA of a TXT record to `out`; other records append nothing.
    pub(crate) fn append_txt(&self, out: &mut Vec<u8>) {
        match self {
            Rdata::Txt(strings) => out.extend_from_slice(strings),
            Rdata::Unassigned(text) => txt::append_rdata(|out| text.write_text(out), out),
            Rdata::Soa(_) | Rdata::Ns | Rdata::Address(_) => {}
        }
    }
}

/// One resource record of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The owner name.
    pub owner: Owner,
    /// The data.
    pub data: Rdata<'a>,
}

/// The response codes portsd produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcode {
    /// 0.
    NoError,
    /// 1: the query was malformed.
    FormErr,
    /// 3: the name does not exist in the zone.
    NxDomain,
    /// 4: the opcode is not supported.
    NotImp,
    /// 5: the name is outside the zone, the class is not IN, or a transfer was asked for.
    Refused,
}

impl Rcode {
    /// The 4-bit header value.
    pub(crate) fn value(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
        }
    }
}

/// The records of one section; the inline size covers all but the busiest ports.
pub(crate) type Section<'a> = SmallVec<[Record<'a>; 8]>;
/// The authority or additional section: an SOA, or the name server's addresses.
pub(crate) type ShortSection<'a> = SmallVec<[Record<'a>; 2]>;

/// Everything a response carries apart from the header echo and the EDNS record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The response code.
    pub rcode: Rcode,
    /// Whether the AA flag is set: every answer from inside the zone.
    pub authoritative: bool,
    /// The answer section.
    pub answers: Section<'a>,
    /// The authority section (the SOA of negative answers).
    pub authority: ShortSection<'a>,
    /// The additional section (glue for the NS record).
    pub additional: ShortSection<'a>,
    /// The Extended DNS Error (RFC 8914) INFO-CODE for a client that sent EDNS: 20 (Not
    /// Authoritative) on names outside the zone, as NSD and Knot send.
    pub extended_error: Option<u16>,
}

impl<'a> Answer<'a> {
    /// An answer with no records.
    pub(crate) fn empty(rcode: Rcode, authoritative: bool) -> Answer<'a> {
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
    fn negative(rcode: Rcode, serial: u32, apex: Owner) -> Answer<'a> {
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
        | Target::SearchApex => return None,
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
    qtype: u16,
    qclass: u16,
) -> Answer<'a> {
    let mut answer = every_record(zone, snapshot, labels, qtype, qclass);
    if qtype == rtype::ANY
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
    qtype: u16,
    qclass: u16,
) -> Answer<'a> {
    let target = zone.name.classify(labels);
    if qclass != CLASS_IN && qclass != CLASS_ANY {
        return Answer::empty(Rcode::Refused, false);
    }
    if target == Target::OutOfZone {
        return Answer {
            extended_error: Some(NOT_AUTHORITATIVE),
            ..Answer::empty(Rcode::Refused, false)
        };
    }
    // A transfer the pipeline did not start is refused, without AA (as NSD and Knot).
    if qtype == rtype::AXFR || qtype == rtype::IXFR {
        return Answer::empty(Rcode::Refused, false);
    }
    target_records(zone, snapshot, target, qtype)
}

/// The records of `qtype` (every type for ANY) at a name of the zone already classified as
/// `target`: what [`every_record`] answers for an IN question other than a transfer.
fn target_records<'a>(
    zone: &Zone,
    snapshot: &'a Snapshot,
    target: Target<'_>,
    qtype: u16,
) -> Answer<'a> {
    let wants = |t: u16| qtype == t || qtype == rtype::ANY;
    let table = &snapshot.table;
    let apex = match target {
        Target::SearchApex | Target::Search(_) => Owner::SearchApex,
        _ => Owner::Apex,
    };
    let mut records = Section::new();
    let mut additional = ShortSection::new();
    match target {
        // Out-of-zone names returned above; an empty non-terminal has no records.
        Target::OutOfZone | Target::ProtocolNode(_) => {}
        Target::Apex | Target::SearchApex => {
            if wants(rtype::SOA) {
                records.push(query_record(Rdata::Soa(snapshot.serial)));
            }
            if wants(rtype::NS) {
                records.push(query_record(Rdata::Ns));
                if qtype == rtype::NS && zone.name.ns_in_zone() {
                    additional.extend(zone.ns_addresses.iter().map(|&ip| Record {
                        owner: Owner::NameServer,
                        data: Rdata::Address(ip),
                    }));
                }
            }
            if wants(rtype::TXT) && target == Target::Apex {
                records.push(query_record(Rdata::Txt(&snapshot.about)));
            }
        }
        Target::Help => {
            if wants(rtype::TXT) {
                records.extend(
                    snapshot
                        .help
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
            if wants(rtype::TXT) {
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
                return Answer::negative(Rcode::NxDomain, snapshot.serial, apex);
            }
            if wants(rtype::TXT) {
                push_uses(table, found, &mut records);
            }
        }
    }
    if records.is_empty() {
        return Answer::negative(Rcode::NoError, snapshot.serial, apex);
    }
    Answer {
        rcode: Rcode::NoError,
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
