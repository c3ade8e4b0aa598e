//! The zone portsd serves: its fixed settings ([`Zone`]), one version of its data with what
//! changes when the data does ([`Snapshot`]: the table, the serial, the apex and `help`
//! records), and the numbers every writer of its records shares (TTLs, SOA timers). Answers, the zone walk, the serial, the transfers and the metrics read these; this
//! module builds on the table and the naming scheme and uses none of them.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use crate::core::fingerprint::Fingerprint;
use crate::core::model::Protocol;
use crate::core::names::{HELP_LABEL, SEARCH_LABEL, ZoneName};
use crate::core::table::{EntryIds, TOP_COUNT, Table};
use crate::core::txt;
use crate::wire::types::RecordType;

/// The SOA's REFRESH by default: a secondary checks the serial every hour (NOTIFY tells it
/// sooner).
pub const SOA_REFRESH: u32 = 3600;
/// The SOA's RETRY by default: ten minutes between attempts after a failed refresh.
pub const SOA_RETRY: u32 = 600;
/// The SOA's EXPIRE by default: a secondary that cannot reach the primary for a week stops
/// answering for the zone.
pub const SOA_EXPIRE: u32 = 604_800;

/// The SOA's timers (RFC 1035 3.3.13), as a zone file would set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoaTimers {
    /// Seconds between a secondary's checks of the serial.
    pub refresh: u32,
    /// Seconds before a secondary tries again after a failed check.
    pub retry: u32,
    /// Seconds after which a secondary that could not check stops answering.
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308): negative answers are cached for the smaller of it
    /// and the SOA record's TTL.
    pub minimum: u32,
}

/// Timers a secondary cannot follow sensibly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// It would retry less often than it refreshes.
    #[error("the SOA retry ({retry} s) is longer than the refresh ({refresh} s)")]
    RetryAboveRefresh {
        /// The refresh given.
        refresh: u32,
        /// The retry given.
        retry: u32,
    },
    /// It would expire the zone before one refresh and one retry have had their chance.
    #[error("the SOA expire ({expire} s) is shorter than refresh plus retry ({sum} s)")]
    ExpireBelowRefreshAndRetry {
        /// The expire given.
        expire: u32,
        /// Refresh plus retry.
        sum: u64,
    },
    /// Above the 2^31 - 1 seconds a time in DNS may be (RFC 2181 8).
    #[error("the SOA {name} ({value} s) is above 2147483647")]
    TooLong {
        /// Which timer.
        name: &'static str,
        /// The value given.
        value: u32,
    },
}

impl SoaTimers {
    /// The defaults, the negative-caching TTL being the records' `ttl`.
    pub(crate) fn defaults(ttl: u32) -> SoaTimers {
        SoaTimers {
            refresh: SOA_REFRESH,
            retry: SOA_RETRY,
            expire: SOA_EXPIRE,
            minimum: ttl,
        }
    }

    /// These timers, unless a secondary could not follow them: a retry longer than the
    /// refresh, an expiry before a refresh and a retry have passed, or a time longer than DNS
    /// allows.
    pub(crate) fn checked(self) -> Result<SoaTimers, TimerError> {
        let sum = u64::from(self.refresh) + u64::from(self.retry);
        let named = [
            ("refresh", self.refresh),
            ("retry", self.retry),
            ("expire", self.expire),
            ("minimum", self.minimum),
        ];
        if let Some(&(name, value)) = named.iter().find(|(_, value)| *value > i32::MAX as u32) {
            Err(TimerError::TooLong { name, value })
        } else if self.retry > self.refresh {
            Err(TimerError::RetryAboveRefresh {
                refresh: self.refresh,
                retry: self.retry,
            })
        } else if u64::from(self.expire) < sum {
            Err(TimerError::ExpireBelowRefreshAndRetry {
                expire: self.expire,
                sum,
            })
        } else {
            Ok(self)
        }
    }
}

/// The zone's fixed settings: its name, TTL and name server.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone's name and where its name server sits.
    pub(crate) name: ZoneName,
    /// The name server's name, lower-case labels leftmost first.
    pub(crate) ns_name: Vec<Box<[u8]>>,
    /// The name server's addresses, served as glue when its name is inside the zone.
    pub(crate) ns_addresses: Vec<IpAddr>,
    /// TTL of every record (the SOA's: see [`Zone::ttl_of`]).
    pub(crate) ttl: u32,
    /// The SOA's timers.
    pub(crate) timers: SoaTimers,
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
            timers: SoaTimers::defaults(ttl),
            rname,
        }
    }

    /// The zone with these SOA timers instead of the defaults.
    pub(crate) fn with_timers(self, timers: SoaTimers) -> Zone {
        Zone { timers, ..self }
    }

    /// The TTL of the zone's records of type `rtype`: the zone's TTL, but for the SOA the
    /// smaller of it and the SOA MINIMUM, so that a negative answer, whose SOA says how long
    /// it may be cached (RFC 2308 5), is cached no longer than MINIMUM, here and at every
    /// secondary serving the same records.
    #[inline]
    pub(crate) fn ttl_of(&self, rtype: RecordType) -> u32 {
        if rtype == RecordType::SOA {
            self.ttl.min(self.timers.minimum)
        } else {
            self.ttl
        }
    }

    /// The zone's name in presentation format, without the trailing dot.
    pub fn display_name(&self) -> String {
        labels_to_text(self.name.labels())
    }

    /// Adds the settings the zone's own records are made of (name, name server, its
    /// addresses, TTL, SOA timers) to `hash`.
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
        let t = self.timers;
        for timer in [t.refresh, t.retry, t.expire, t.minimum] {
            hash.add(&timer.to_be_bytes());
        }
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
    /// The port table, shared by every zone served from it.
    pub table: Arc<Table>,
    /// SOA serial of this version of the data.
    pub(crate) serial: u32,
    /// TXT RDATA of the apex record saying what the server holds.
    pub(crate) about: Box<[u8]>,
    /// TXT RDATA of the `help.<zone>` records: one per name form, then the answer format.
    /// Made when first asked for ([`Snapshot::help`]): its search example asks the search
    /// index, which the snapshot `serve` starts with builds while it answers.
    help: OnceLock<Vec<Box<[u8]>>>,
    /// The apex ZONEMD record (RFC 8976), computed once by [`Snapshot::with_digest`] or
    /// [`Snapshot::compute_digest`] (in `wire::zonemd`, where the zone's canonical wire form
    /// is written); none in a snapshot made only to look entries up.
    pub(crate) zonemd: ZoneDigest,
}

/// The RDATA of a snapshot's ZONEMD record: none (a snapshot made only to look entries up),
/// or computed once, possibly while the snapshot already answers. Whoever writes the record
/// out (a ZONEMD answer, a transfer, the journal, `export-zone`) waits for it; whoever only
/// lists it (the digest itself, an ANY answer keeping the SOA) does not.
#[derive(Debug, Default)]
pub struct ZoneDigest {
    /// Whether the snapshot has a ZONEMD record at all.
    served: bool,
    rdata: OnceLock<Box<[u8]>>,
}

impl ZoneDigest {
    /// A digest still to be computed ([`ZoneDigest::set`]).
    pub(crate) fn pending() -> ZoneDigest {
        ZoneDigest {
            served: true,
            rdata: OnceLock::new(),
        }
    }

    /// Whether the snapshot has a ZONEMD record (computed or not yet).
    pub(crate) fn is_served(&self) -> bool {
        self.served
    }

    /// Whether [`ZoneDigest::rdata`] answers without waiting.
    #[cfg(test)]
    pub(crate) fn is_ready(&self) -> bool {
        !self.served || self.rdata.get().is_some()
    }

    /// The RDATA, waiting while it is computed (empty when none is served).
    pub(crate) fn rdata(&self) -> &[u8] {
        if self.served { self.rdata.wait() } else { &[] }
    }

    /// Publishes the computed RDATA, waking whoever waits for it. A second call changes
    /// nothing: a snapshot's digest is computed once.
    pub(crate) fn set(&self, rdata: Box<[u8]>) {
        let _ = self.rdata.set(rdata);
    }
}

impl PartialEq for ZoneDigest {
    fn eq(&self, other: &ZoneDigest) -> bool {
        self.served == other.served && self.rdata() == other.rdata()
    }
}

impl Eq for ZoneDigest {}

impl Snapshot {
    /// Wraps a table with its serial and builds the apex description.
    pub fn new(table: impl Into<Arc<Table>>, serial: u32, zone: &Zone) -> Snapshot {
        let table = table.into();
        Snapshot {
            about: txt::encode_strings(&about(zone, &table, serial)),
            help: OnceLock::new(),
            table,
            serial,
            zonemd: ZoneDigest::default(),
        }
    }

    /// TXT RDATA of the `help.<zone>` records, made now when they were not yet.
    pub(crate) fn help(&self, zone: &Zone) -> &[Box<[u8]>] {
        self.help.get_or_init(|| {
            help_lines(zone, &self.table)
                .iter()
                .map(|line| txt::encode_strings(line))
                .collect()
        })
    }
}

/// What the server holds, as the apex TXT record and the start-up log line say it: zone,
/// serial, entries per source, ranges, service names, and the data's fingerprint.
pub(crate) fn about(zone: &Zone, table: &Table, serial: u32) -> String {
    let stats = table.stats();
    let sources: Vec<String> = stats
        .by_source
        .iter()
        .map(|(source, n)| format!("{} {n}", source.name()))
        .collect();
    format!(
        "portsd | zone {} | serial {serial} | {} entries ({}) | {} ranges | {} service names | data {}",
        zone.display_name(),
        table.entries().len(),
        sources.join(", "),
        stats.ranges,
        stats.services,
        table.data_fingerprint(),
    )
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
        format!("{z}: SOA, NS, its digest (ZONEMD) and a TXT record saying what the server holds"),
        format!("help.{z}: this list"),
        "answers: one TXT record per use, PORT | PROTOCOL | STATUS | SERVICE | DESCRIPTION, ranked ones RANK | first; SERVICE is the service name and its other names or -".to_owned(),
    ]
}
