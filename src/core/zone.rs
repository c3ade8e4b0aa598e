//! The zone portsd serves: its fixed settings ([`Zone`]), one version of its data with what
//! changes when the data does ([`Snapshot`]: the table, the serial, the apex and `help`
//! records), and the numbers every writer of its records shares (record types, classes, SOA
//! timers). Answers, the zone walk, the serial, the transfers and the metrics read these; this
//! module builds on the table and the naming scheme and uses none of them.

use std::net::IpAddr;

use crate::core::fingerprint::Fingerprint;
use crate::core::model::Protocol;
use crate::core::names::{HELP_LABEL, SEARCH_LABEL, ZoneName};
use crate::core::table::{EntryIds, TOP_COUNT, Table};
use crate::core::txt;

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
pub(crate) const CLASS_ANY: u16 = 255;

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
fn labels_to_text(labels: &[Box<[u8]>]) -> String {
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
    pub(crate) serial: u32,
    /// TXT RDATA of the apex record saying what the server holds.
    pub(crate) about: Box<[u8]>,
    /// TXT RDATA of the `help.<zone>` records: one per name form, then the answer format.
    pub(crate) help: Vec<Box<[u8]>>,
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
fn help_lines(zone: &Zone, table: &Table) -> Vec<String> {
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
    let top = Protocol::ALL
        .into_iter()
        .find(|&p| !table.top(p).is_empty());
    // 443/tcp when the registry has facts there, else the first use that has some.
    let registry = std::iter::once((443, Protocol::Tcp))
        .chain(table.entries().iter().map(|e| (e.ports.first, e.protocol)))
        .find(|&(port, protocol)| {
            let mut ids = EntryIds::new();
            table.port_entries(protocol, port, &mut ids);
            ids.iter().any(|&id| table.fact_count(id) > 0)
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
            "SERVICE.PROTOCOL.{z}: the uses of a service name on one protocol{}",
            example(service.as_ref().map(|(name, protocol)| format!("{name}.{protocol}.{z}")))
        ),
        format!(
            "SERVICE.{z}: the uses of a service name on every protocol{}",
            example(service.as_ref().map(|(name, _)| format!("{name}.{z}")))
        ),
        format!(
            "WORDS.search.{z}: keyword search, each label a word that must match, up to 10 uses, ranked{}",
            example(word.map(|word| format!("{word}.search.{z}")))
        ),
        format!(
            "top.PROTOCOL.{z}: the {TOP_COUNT} commonest ports (nmap), ranked{}",
            example(top.map(|p| format!("top.{p}.{z}")))
        ),
        format!(
            "PORT.PROTOCOL.registry.{z}: IANA's facts, PORT | PROTOCOL | SERVICE | FIELD | VALUE{}",
            example(registry.map(|(port, p)| format!("{port}.{p}.registry.{z}")))
        ),
        format!("{z}: SOA, NS and a TXT record saying what the server holds"),
        format!("help.{z}: this list"),
        "answers: one TXT record per use, PORT | PROTOCOL | STATUS | SERVICE | DESCRIPTION, ranked ones RANK | first; SERVICE is the service name and its other names or -".to_owned(),
    ]
}
