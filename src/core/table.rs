//! The in-memory port table: merged [`Entry`]s, indexed for constant-time lookup by
//! (protocol, port) and by service name, with each entry's TXT record pre-rendered at build time.
//!
//! Ranges stay ranges: a range entry is stored once and found through a per-protocol list of
//! elementary segments (the port axis cut at every range boundary), so `6881-6887` costs one
//! entry, not seven. The table is immutable once built; reloads build a new one and swap it.

use std::collections::HashMap;

use crate::core::fingerprint::Fingerprint;
use crate::core::model::{
    Entry, EntryId, PortFrequency, PortName, Protocol, Source, Status, Synonym,
};
use crate::core::packed::Packed;
use crate::core::port_index::{RangeIndex, SingleIndex};
use crate::core::search::{EntryWords, SearchIndex};
use crate::core::txt;

/// The most common ports a `top.<proto>` name answers.
pub(crate) const TOP_COUNT: usize = 20;

/// What ranks and widens the search beyond the entries themselves: nmap's frequencies (with
/// its names and comments) and the synonym list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// nmap's `nmap-services`, empty without the file.
    pub(crate) frequencies: Vec<PortFrequency>,
    /// The synonym list.
    pub(crate) synonyms: Vec<Synonym>,
}

/// The entries found for one question; inline for all but the busiest ports and names.
pub(crate) type EntryIds = smallvec::SmallVec<[EntryId; 16]>;

/// Counts reported by `portsd check`, the apex TXT record and the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableStats {
    /// Entries by contributing source (an entry merged from two sources counts for both).
    pub(crate) by_source: Vec<(Source, usize)>,
    /// Entries by status word.
    pub(crate) by_status: Vec<(Status, usize)>,
    /// Entries by protocol.
    pub(crate) by_protocol: Vec<(Protocol, usize)>,
    /// Entries that cover a range of ports.
    pub(crate) ranges: usize,
    /// Distinct service names.
    pub(crate) services: usize,
    /// Approximate heap bytes held by the table.
    pub(crate) heap_bytes: usize,
}

/// The merged, indexed port table. Immutable; cheap to share behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Table {
    entries: Vec<Entry>,
    /// Every entry's TXT RDATA (character-strings, wire format), rendered once at build time,
    /// entry `i`'s the `i`-th string.
    rdata: Packed,
    singles: [SingleIndex; 4],
    ranges: [RangeIndex; 4],
    /// Lower-cased service name to the entries carrying it, in entry order.
    services: HashMap<Box<[u8]>, Vec<EntryId>>,
    /// Lower-cased names of the system's services database to the ports they name.
    port_names: HashMap<Box<[u8]>, Vec<(Protocol, u16)>>,
    /// Names and description words, for keyword search.
    search: SearchIndex,
    /// Every distinct lower-cased service name, the system's services database's included,
    /// sorted bytewise: the order zone transfers and `export-zone` list them in, kept so that
    /// walking the zone does not sort.
    service_order: Vec<Box<[u8]>>,
    /// nmap's frequency (millionths) of each port per protocol, sorted by port.
    frequencies: [Vec<(u16, u32)>; 4],
    /// The TXT RDATA answering `top.<proto>`: the most common ports, ranked.
    top: [Vec<Box<[u8]>>; 4],
    /// A fingerprint of the content, used to tell whether a reload changed anything.
    content_hash: u64,
    /// The data's date (Unix seconds) the SOA serial derives from; 0 when unknown.
    data_date: u32,
}

impl Table {
    /// Builds the table from merged entries without a system services database.
    pub fn new(entries: Vec<Entry>) -> Table {
        Table::with_port_names(entries, &[])
    }

    /// Builds the table from merged entries and the names of the system's services database.
    /// Entries keep their order, except that local entries move first: answers list a site's
    /// own uses before anyone else's.
    ///
    /// Entries whose records would read the same are kept once, the first with the sources of
    /// all: the text names the port or range, the protocol and the service, so equal texts sit
    /// at the same names, and an RRset holds no record twice (RFC 2181 5). Two local rows
    /// alike, or two sources describing a use in the same words, end up here.
    pub fn with_port_names(entries: Vec<Entry>, names: &[PortName]) -> Table {
        Table::build(entries, names, Extras::default())
    }

    /// Builds the table as [`Table::with_port_names`] does, with nmap's frequencies and the
    /// synonym list ranking and widening the search and making the `top` answers.
    pub fn build(mut entries: Vec<Entry>, names: &[PortName], extras: Extras) -> Table {
        entries.sort_by_key(|e| !e.has_source(Source::Local));
        let mut rdata = Packed::default();
        let mut first_with: HashMap<Box<[u8]>, usize> = HashMap::with_capacity(entries.len());
        let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
        for entry in entries {
            let record = txt::encode_strings(&txt::entry_text(&entry));
            match first_with.get(&record) {
                Some(&at) => {
                    kept[at].sources |= entry.sources;
                    if kept[at].registry.is_none() {
                        kept[at].registry = entry.registry;
                    }
                }
                None => {
                    rdata.push(&record);
                    first_with.insert(record, kept.len());
                    kept.push(entry);
                }
            }
        }
        drop(first_with);
        rdata.shrink_to_fit();
        kept.shrink_to_fit();
        let entries = kept;
        let mut singles: [Vec<(EntryId, u16)>; 4] = Default::default();
        let mut ranges: [Vec<(EntryId, u16, u16)>; 4] = Default::default();
        let mut services: HashMap<Box<[u8]>, Vec<EntryId>> = HashMap::new();
        for (id, entry) in entries.iter().enumerate() {
            let id = id as EntryId;
            let p = entry.protocol.index();
            if entry.ports.is_range() {
                ranges[p].push((id, entry.ports.first, entry.ports.last));
            } else {
                singles[p].push((id, entry.ports.first));
            }
            if let Some(service) = &entry.service {
                let key = service.to_ascii_lowercase().into_bytes().into_boxed_slice();
                services.entry(key).or_default().push(id);
            }
        }
        let mut port_names: HashMap<Box<[u8]>, Vec<(Protocol, u16)>> = HashMap::new();
        for name in names {
            let ports = port_names.entry(name.name.as_bytes().into()).or_default();
            if !ports.contains(&(name.protocol, name.port)) {
                ports.push((name.protocol, name.port));
            }
        }
        let mut service_order: Vec<Box<[u8]>> = services
            .keys()
            .chain(port_names.keys().filter(|k| !services.contains_key(*k)))
            .cloned()
            .collect();
        service_order.sort_unstable();
        let mut frequencies: [Vec<(u16, u32)>; 4] = Default::default();
        for f in &extras.frequencies {
            frequencies[f.protocol.index()].push((f.port, f.frequency));
        }
        for list in &mut frequencies {
            // A port listed twice keeps its highest frequency.
            list.sort_unstable_by_key(|&(port, frequency)| (port, std::cmp::Reverse(frequency)));
            list.dedup_by_key(|(port, _)| *port);
        }
        let mut table = Table {
            search: SearchIndex::default(),
            entries,
            rdata,
            singles: singles.map(|s| SingleIndex::build(&s)),
            ranges: ranges.map(|r| RangeIndex::build(&r)),
            services,
            port_names,
            service_order,
            frequencies,
            top: Default::default(),
            content_hash: 0,
            data_date: 0,
        };
        let words = table.search_words(&extras);
        let popularity: Vec<u32> = (0..table.entries.len())
            .map(|id| table.popularity(id as EntryId))
            .collect();
        table.search = SearchIndex::build(&table.entries, &words, popularity);
        table.top = Protocol::ALL.map(|p| table.top_records(p, &extras.frequencies));
        table.content_hash = fingerprint(&table, &extras);
        table
    }

    /// The extra names and words each entry is found by: nmap's name and comment for its port
    /// (given to the uses carrying nmap's name, or to every use of the port when none does),
    /// the synonym list's words for it, and the expansions of the acronyms its texts use, where
    /// some description or comment defines them (`Remote Desktop Protocol (RDP)`).
    fn search_words(&self, extras: &Extras) -> Vec<EntryWords> {
        let mut words = vec![EntryWords::default(); self.entries.len()];
        // The uses of a port; with `name`, only those carrying it when some do.
        let uses = |protocol: Protocol, port: u16, name: Option<&str>| {
            let mut ids = EntryIds::new();
            self.port_entries(protocol, port, &mut ids);
            let carries = |id: &EntryId| {
                let entry = self.entry(*id);
                name.is_some_and(|name| {
                    entry
                        .service
                        .iter()
                        .chain(&entry.aliases)
                        .any(|s| s.eq_ignore_ascii_case(name))
                })
            };
            if ids.iter().any(carries) {
                ids.retain(|id| carries(id));
            }
            ids
        };
        for f in &extras.frequencies {
            for id in uses(f.protocol, f.port, f.name.as_deref()) {
                let w = &mut words[id as usize];
                w.names.extend(f.name.clone());
                w.words.extend(
                    f.comment
                        .iter()
                        .flat_map(|c| crate::core::search::words_of(c)),
                );
            }
        }
        for synonym in &extras.synonyms {
            for id in uses(synonym.protocol, synonym.port, None) {
                let w = &mut words[id as usize];
                if synonym.word.contains(' ') {
                    w.words.extend(synonym.word.split(' ').map(str::to_owned));
                } else {
                    w.names.push(synonym.word.clone());
                }
            }
        }
        let texts = self.entries.iter().map(|e| e.description.as_str()).chain(
            extras
                .frequencies
                .iter()
                .filter_map(|f| f.comment.as_deref()),
        );
        let acronyms = crate::core::search::acronyms(texts);
        for (entry, words) in self.entries.iter().zip(&mut words) {
            let mut expansions: Vec<String> = Vec::new();
            let own = crate::core::search::words_of(&entry.description)
                .chain(words.words.iter().cloned())
                .chain(entry.service.iter().map(|s| s.to_lowercase()));
            for word in own {
                if let Some(expansion) = acronyms.get(&word) {
                    expansions.extend(expansion.iter().cloned());
                }
            }
            words.words.extend(expansions);
        }
        words
    }

    /// How common a use is, for ranking: nmap's frequency of its port (of a range's first
    /// port, in millionths), then its status and how many sources agree on it.
    fn popularity(&self, id: EntryId) -> u32 {
        let entry = self.entry(id);
        let list = &self.frequencies[entry.protocol.index()];
        let frequency = list
            .binary_search_by_key(&entry.ports.first, |&(port, _)| port)
            .map_or(0, |at| list[at].1);
        let status = match entry.status {
            Status::Local => 4,
            Status::Yes => 3,
            Status::Unofficial => 2,
            Status::Assigned | Status::System => 1,
            _ => 0,
        };
        let sources = entry.sources.count_ones();
        // Frequency dominates; status and agreement order the ports nmap does not know.
        crate::core::search::popularity(frequency, status + sources)
    }

    /// nmap's frequency of the entry's port on its protocol, in millionths; `None` for a range
    /// or a port nmap does not list (or without the file).
    pub(crate) fn frequency(&self, id: EntryId) -> Option<u32> {
        let entry = self.entry(id);
        if entry.ports.is_range() {
            return None;
        }
        let list = &self.frequencies[entry.protocol.index()];
        list.binary_search_by_key(&entry.ports.first, |&(port, _)| port)
            .ok()
            .map(|at| list[at].1)
    }

    /// The ranked records of `top.<protocol>`: the [`TOP_COUNT`] ports nmap found open most
    /// often, each with its main use (the one carrying nmap's name for it, else the first
    /// listed), `RANK | ` before the use's own text.
    fn top_records(&self, protocol: Protocol, frequencies: &[PortFrequency]) -> Vec<Box<[u8]>> {
        let mut common: Vec<&PortFrequency> = frequencies
            .iter()
            .filter(|f| f.protocol == protocol && f.frequency > 0)
            .collect();
        common.sort_by_key(|f| (std::cmp::Reverse(f.frequency), f.port));
        common.dedup_by_key(|f| f.port);
        common
            .iter()
            .take(TOP_COUNT)
            .enumerate()
            .map(|(rank, f)| {
                let mut ids = EntryIds::new();
                self.port_entries(protocol, f.port, &mut ids);
                let named = |&&id: &&EntryId| {
                    let entry = self.entry(id);
                    f.name.as_deref().is_some_and(|name| {
                        entry
                            .service
                            .iter()
                            .chain(&entry.aliases)
                            .any(|s| s.eq_ignore_ascii_case(name))
                    })
                };
                let main = ids.iter().find(named).or(ids.first());
                let text = match main {
                    Some(&id) => txt::entry_text(self.entry(id)),
                    None => txt::UnassignedText {
                        port: f.port,
                        protocol: Some(protocol),
                    }
                    .to_string(),
                };
                txt::encode_strings(&format!("{} | {text}", rank + 1))
            })
            .collect()
    }

    /// The ranked records answering `top.<protocol>`.
    pub(crate) fn top(&self, protocol: Protocol) -> &[Box<[u8]>] {
        &self.top[protocol.index()]
    }

    /// How many registry facts an entry has (records of its `registry` name); 0 when IANA
    /// lists none. The records are rendered when written ([`txt::fact_text`]), not kept.
    pub(crate) fn fact_count(&self, id: EntryId) -> usize {
        self.entry(id)
            .registry
            .as_ref()
            .map_or(0, |r| r.fields().count())
    }

    /// The same table, recording the date of the data it was built from.
    pub(crate) fn dated(self, data_date: u32) -> Table {
        Table { data_date, ..self }
    }

    /// The data's date (Unix seconds), 0 when unknown.
    pub(crate) fn data_date(&self) -> u32 {
        self.data_date
    }

    /// Every entry, local ones first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// One entry by id.
    pub(crate) fn entry(&self, id: EntryId) -> &Entry {
        &self.entries[id as usize]
    }

    /// The pre-rendered TXT RDATA of an entry.
    pub fn rdata(&self, id: EntryId) -> &[u8] {
        self.rdata.get(id as usize)
    }

    /// The entries for `port` on `protocol`, singles and covering ranges, in entry order.
    /// Appends to `out` (a caller-owned buffer, so the hot path does not allocate).
    pub fn port_entries(&self, protocol: Protocol, port: u16, out: &mut impl Extend<EntryId>) {
        let singles = self.singles[protocol.index()].lookup(port);
        let ranges = self.ranges[protocol.index()].lookup(port);
        // Most ports have entries of one kind or none: no merge to do.
        match (singles, ranges) {
            ([], []) => return,
            (only, []) | ([], only) => return out.extend(only.iter().copied()),
            _ => {}
        }
        let mut singles = singles.iter().peekable();
        let mut ranges = ranges.iter().peekable();
        out.extend(
            std::iter::from_fn(|| match (singles.peek(), ranges.peek()) {
                (Some(single), Some(range)) if single > range => ranges.next(),
                (Some(_), _) => singles.next(),
                (None, _) => ranges.next(),
            })
            .copied(),
        );
    }

    /// The entries a service name (ASCII case ignored) answers, optionally on one protocol
    /// only. On a protocol where the system's services database has the name, it answers every
    /// use of the port it names there, as the port's number does; elsewhere it answers the uses
    /// carrying it as their service name, in entry order. Appends to `out`.
    pub(crate) fn service_entries(
        &self,
        name: &[u8],
        protocol: Option<Protocol>,
        out: &mut impl Extend<EntryId>,
    ) {
        let mut lower = crate::core::names::ServiceName::new();
        let key = if name.iter().any(u8::is_ascii_uppercase) {
            lower.extend(name.iter().map(u8::to_ascii_lowercase));
            &lower[..]
        } else {
            name
        };
        let carried = self.services.get(key);
        let Some(ports) = self.port_names.get(key) else {
            out.extend(
                carried
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&id| protocol.is_none_or(|p| self.entry(id).protocol == p)),
            );
            return;
        };
        for p in Protocol::ALL {
            if protocol.is_some_and(|asked| asked != p) {
                continue;
            }
            if ports.iter().any(|&(on, _)| on == p) {
                for &(_, port) in ports.iter().filter(|&&(on, _)| on == p) {
                    self.port_entries(p, port, out);
                }
            } else {
                out.extend(
                    carried
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|&id| self.entry(id).protocol == p),
                );
            }
        }
    }

    /// Every distinct (lower-cased) service name, the system's included, sorted bytewise.
    pub fn service_names(&self) -> impl Iterator<Item = &[u8]> {
        self.service_order.iter().map(|k| &k[..])
    }

    /// The `n`th service name in sorted order.
    pub(crate) fn service_name(&self, n: usize) -> &[u8] {
        &self.service_order[n]
    }

    /// How many distinct service names there are.
    pub(crate) fn service_count(&self) -> usize {
        self.service_order.len()
    }

    /// The best uses matching every word (see [`crate::core::search`]), best first, at most
    /// [`crate::core::search::MAX_RESULTS`]. Appends to `out`.
    pub(crate) fn search(&self, words: &[&[u8]], out: &mut impl Extend<EntryId>) {
        self.search.search(words, out);
    }

    /// A fingerprint of the entries: equal tables have equal hashes.
    pub(crate) fn content_hash(&self) -> u64 {
        self.content_hash
    }

    /// The data's identity, as the apex TXT (`data ...`), `/v1/zone` (`data`), `portsd check`
    /// and the start-up line write it: the content fingerprint in 16 hex digits. Equal data,
    /// equal fingerprint, whatever the zone's settings.
    pub fn data_fingerprint(&self) -> String {
        format!("{:016x}", self.content_hash)
    }

    /// Counts by source, status and protocol, and the memory the table holds.
    pub(crate) fn stats(&self) -> TableStats {
        fn count<K: Copy + Eq>(keys: impl Iterator<Item = K>, order: &[K]) -> Vec<(K, usize)> {
            let keys: Vec<K> = keys.collect();
            order
                .iter()
                .map(|&k| (k, keys.iter().filter(|&&x| x == k).count()))
                .collect()
        }

        let entry_bytes: usize = self
            .entries
            .iter()
            .map(|e| {
                std::mem::size_of::<Entry>()
                    + e.description.capacity()
                    + e.service.as_ref().map_or(0, String::capacity)
            })
            .sum();
        let rdata_bytes = self.rdata.heap_bytes();
        let service_bytes: usize = self
            .services
            .iter()
            .map(|(k, v)| 2 * k.len() + v.capacity() * 4 + 80)
            .sum();
        let index_bytes: usize = self
            .singles
            .iter()
            .map(SingleIndex::heap_bytes)
            .chain(self.ranges.iter().map(RangeIndex::heap_bytes))
            .sum::<usize>()
            + self.search.heap_bytes()
            + self
                .port_names
                .iter()
                .map(|(k, v)| k.len() + v.capacity() * 4 + 64)
                .sum::<usize>();
        TableStats {
            by_source: count(
                self.entries
                    .iter()
                    .flat_map(|e| Source::ALL.into_iter().filter(|&s| e.has_source(s))),
                &Source::ALL,
            ),
            by_status: count(self.entries.iter().map(|e| e.status), &Status::ALL),
            by_protocol: count(self.entries.iter().map(|e| e.protocol), &Protocol::ALL),
            ranges: self.entries.iter().filter(|e| e.ports.is_range()).count(),
            services: self.service_names().count(),
            heap_bytes: entry_bytes + rdata_bytes + service_bytes + index_bytes,
        }
    }
}

/// The fingerprint of everything the table answers: the rendered records (which hold every
/// field of every entry), the registry's facts, the system's names, nmap's frequencies and
/// the synonym list (both rank the search).
fn fingerprint(table: &Table, extras: &Extras) -> u64 {
    let mut hash = Fingerprint::new();
    for id in 0..table.entries.len() {
        hash.add(table.rdata(id as EntryId));
    }
    for entry in &table.entries {
        for (field, value) in entry.registry.iter().flat_map(|r| r.fields()) {
            hash.add(field.as_bytes());
            hash.add(value.as_bytes());
        }
        hash.add(&[]);
    }
    // The system's names give owner names of their own, so they are content too.
    let mut names: Vec<_> = table.port_names.iter().collect();
    names.sort_unstable();
    for (name, ports) in names {
        hash.add(name);
        for &(protocol, port) in ports {
            hash.add(&[protocol.index() as u8]);
            hash.add(&port.to_be_bytes());
        }
    }
    hash.add(&[]);
    for f in &extras.frequencies {
        hash.add(&[f.protocol.index() as u8]);
        hash.add(&f.port.to_be_bytes());
        hash.add(&f.frequency.to_be_bytes());
        hash.add(f.name.as_deref().unwrap_or("").as_bytes());
        hash.add(f.comment.as_deref().unwrap_or("").as_bytes());
    }
    hash.add(&[]);
    for synonym in &extras.synonyms {
        hash.add(synonym.word.as_bytes());
        hash.add(&[synonym.protocol.index() as u8]);
        hash.add(&synonym.port.to_be_bytes());
    }
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::PortSpan;

    fn entry(ports: &str, protocol: Protocol, service: Option<&str>, source: Source) -> Entry {
        Entry {
            ports: PortSpan::parse(ports).unwrap(),
            protocol,
            status: Status::Yes,
            service: service.map(str::to_owned),
            aliases: Vec::new(),
            description: format!("use of {ports}"),
            sources: source.bit(),
            registry: None,
        }
    }

    fn ports_of(table: &Table, protocol: Protocol, port: u16) -> Vec<String> {
        let mut ids = Vec::new();
        table.port_entries(protocol, port, &mut ids);
        ids.iter()
            .map(|&id| table.entry(id).ports.to_string())
            .collect()
    }

    #[test]
    fn singles_and_ranges_are_found_in_entry_order() {
        let table = Table::new(vec![
            entry("6881-6887", Protocol::Tcp, None, Source::PortList),
            entry("6881", Protocol::Tcp, Some("bt"), Source::PortList),
            entry("6880-6890", Protocol::Tcp, None, Source::Iana),
            entry("6881", Protocol::Udp, None, Source::PortList),
            entry("9000", Protocol::Tcp, None, Source::Local),
        ]);
        assert_eq!(
            table.entry(0).ports.to_string(),
            "9000",
            "local entries move first"
        );
        assert_eq!(
            ports_of(&table, Protocol::Tcp, 6881),
            ["6881-6887", "6881", "6880-6890"]
        );
        assert_eq!(
            ports_of(&table, Protocol::Tcp, 6887),
            ["6881-6887", "6880-6890"]
        );
        assert_eq!(ports_of(&table, Protocol::Tcp, 6888), ["6880-6890"]);
        assert_eq!(ports_of(&table, Protocol::Tcp, 6891), Vec::<String>::new());
        assert_eq!(ports_of(&table, Protocol::Tcp, 6879), Vec::<String>::new());
        assert_eq!(ports_of(&table, Protocol::Udp, 6881), ["6881"]);
        assert_eq!(ports_of(&table, Protocol::Sctp, 6881), Vec::<String>::new());
    }

    #[test]
    fn ranges_reaching_the_ends_of_the_port_axis() {
        let table = Table::new(vec![
            entry("0-10", Protocol::Dccp, None, Source::Iana),
            entry("65530-65535", Protocol::Dccp, None, Source::Iana),
        ]);
        assert_eq!(ports_of(&table, Protocol::Dccp, 0), ["0-10"]);
        assert_eq!(ports_of(&table, Protocol::Dccp, 65535), ["65530-65535"]);
        assert_eq!(ports_of(&table, Protocol::Dccp, 11), Vec::<String>::new());
    }

    #[test]
    fn services_match_any_case_and_filter_by_protocol() {
        let table = Table::new(vec![
            entry("443", Protocol::Tcp, Some("https"), Source::Iana),
            entry("443", Protocol::Udp, Some("https"), Source::Iana),
            entry("5004", Protocol::Tcp, Some("RTP-Media"), Source::Iana),
        ]);
        let mut ids = Vec::new();
        table.service_entries(b"HTTPS", Some(Protocol::Udp), &mut ids);
        assert_eq!(ids.len(), 1);
        assert_eq!(table.entry(ids[0]).protocol, Protocol::Udp);
        ids.clear();
        table.service_entries(b"rtp-media", None, &mut ids);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn entries_reading_alike_are_kept_once_with_every_source() {
        let table = Table::new(vec![
            entry("7", Protocol::Udp, Some("echo"), Source::PortList),
            entry("7", Protocol::Tcp, Some("echo"), Source::Iana),
            entry("7", Protocol::Udp, Some("echo"), Source::Iana),
        ]);
        assert_eq!(table.entries().len(), 2);
        assert_eq!(ports_of(&table, Protocol::Udp, 7), ["7"]);
        assert!(table.entry(0).has_source(Source::PortList));
        assert!(table.entry(0).has_source(Source::Iana));
        let mut ids = Vec::new();
        table.service_entries(b"echo", None, &mut ids);
        assert_eq!(ids, [0, 1]);
    }

    #[test]
    fn fingerprint_tracks_content() {
        let a = Table::new(vec![entry("1", Protocol::Tcp, None, Source::Iana)]);
        let b = Table::new(vec![entry("1", Protocol::Tcp, None, Source::Iana)]);
        let c = Table::new(vec![entry("2", Protocol::Tcp, None, Source::Iana)]);
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn frequencies_rank_make_top_and_join_the_fingerprint() {
        let entries = || {
            vec![
                entry("80", Protocol::Tcp, Some("http"), Source::Iana),
                entry("80", Protocol::Tcp, None, Source::PortList),
                entry("22", Protocol::Tcp, Some("ssh"), Source::Iana),
            ]
        };
        let frequency = |port, frequency, name: &str| PortFrequency {
            protocol: Protocol::Tcp,
            port,
            frequency,
            name: Some(name.into()),
            comment: (port == 80).then(|| "World Wide Web".into()),
        };
        let extras = |f: u32| Extras {
            frequencies: vec![
                frequency(22, 100, "ssh"),
                frequency(80, f, "http"),
                frequency(7, 5, "echo"),
            ],
            synonyms: Vec::new(),
        };
        let plain = Table::new(entries());
        let a = Table::build(entries(), &[], extras(400));
        let b = Table::build(entries(), &[], extras(400));
        let c = Table::build(entries(), &[], extras(50));
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash(), "a frequency changed");
        assert_ne!(a.content_hash(), plain.content_hash());
        let texts = |table: &Table| -> Vec<String> {
            table
                .top(Protocol::Tcp)
                .iter()
                .map(|r| {
                    String::from_utf8_lossy(&txt::character_strings(r).collect::<Vec<_>>().concat())
                        .into_owned()
                })
                .collect()
        };
        assert_eq!(
            texts(&a),
            [
                "1 | 80 | tcp | Yes | http | use of 80",
                "2 | 22 | tcp | Yes | ssh | use of 22",
                "3 | 7 | tcp | Unassigned | - | no known use; system port range 0-1023 (RFC 6335)",
            ]
        );
        assert_eq!(texts(&c)[0], "1 | 22 | tcp | Yes | ssh | use of 22");
        assert!(plain.top(Protocol::Tcp).is_empty());
        assert_eq!(a.frequency(0), Some(400));
        // nmap's comment is found on the use carrying nmap's name only.
        let mut ids = Vec::new();
        a.search(&[b"world"], &mut ids);
        assert_eq!(ids, [0]);
    }
}
