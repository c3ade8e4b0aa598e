//! The in-memory port table: merged [`Entry`]s, indexed for constant-time lookup by
//! (protocol, port) and by service name, with each entry's TXT record pre-rendered at build time.
//!
//! Ranges stay ranges: a range entry is stored once and found through a per-protocol list of
//! elementary segments (the port axis cut at every range boundary), so `6881-6887` costs one
//! entry, not seven. The table is immutable once built; reloads build a new one and swap it.
//!
//! Building and looking up live here; [`ranking`] makes what orders the search and answers
//! `top` (the extra words of each entry, its popularity, nmap's frequencies), [`stats`] the
//! counts and the content fingerprint.

mod ranking;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::core::model::{
    Entry, EntryId, PortFrequency, PortName, Protocol, Source, Status, Synonym,
};
use crate::core::packed::Packed;
use crate::core::port_index::{RangeIndex, SingleIndex};
use crate::core::search::SearchIndex;
use crate::core::search::rank::Matched;
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

/// A table's search index, built with the table or when first needed: until it is built, it
/// holds what ranks and widens the search, which the build takes.
#[derive(Debug, Default)]
struct LazySearch {
    index: OnceLock<SearchIndex>,
    /// The build's nmap frequencies and synonyms; `None` once the index is built.
    extras: Mutex<Option<Extras>>,
}

impl Clone for LazySearch {
    fn clone(&self) -> LazySearch {
        let extras = match self.extras.lock() {
            Ok(extras) => extras.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        LazySearch {
            index: self.index.clone(),
            extras: Mutex::new(extras),
        }
    }
}

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
    search: LazySearch,
    /// Every distinct lower-cased service name, the system's services database's included,
    /// sorted bytewise: the order zone transfers and `export-zone` list them in, kept so that
    /// walking the zone does not sort.
    service_order: Vec<Box<[u8]>>,
    /// nmap's frequency (millionths) of each port per protocol, and the port's rank by it
    /// there (1 for the commonest; in what would be the pair's padding), sorted by port.
    frequencies: [Vec<(u16, u32, u16)>; 4],
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
    pub fn build(entries: Vec<Entry>, names: &[PortName], extras: Extras) -> Table {
        let table = Table::build_search_later(entries, names, extras);
        table.search_index();
        table
    }

    /// Builds the table as [`Table::build`] does, all but its search index, which whoever
    /// first needs it builds ([`Table::search_index`]): the table `serve` starts with answers
    /// ports and names while the index is built.
    pub(crate) fn build_search_later(
        mut entries: Vec<Entry>,
        names: &[PortName],
        extras: Extras,
    ) -> Table {
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
        let mut frequencies: [Vec<(u16, u32, u16)>; 4] = Default::default();
        for f in &extras.frequencies {
            frequencies[f.protocol.index()].push((f.port, f.frequency, 0));
        }
        for list in &mut frequencies {
            // A port listed twice keeps its highest frequency.
            list.sort_unstable_by_key(|&(port, frequency, _)| (port, std::cmp::Reverse(frequency)));
            list.dedup_by_key(|(port, _, _)| *port);
            let mut descending: Vec<u32> =
                list.iter().map(|&(_, frequency, _)| frequency).collect();
            descending.sort_unstable_by(|a, b| b.cmp(a));
            for (_, frequency, rank) in list.iter_mut() {
                let above = descending.partition_point(|&f| f > *frequency);
                *rank = u16::try_from(above + 1).unwrap_or(u16::MAX);
            }
        }
        let mut table = Table {
            search: LazySearch::default(),
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
        table.top = Protocol::ALL.map(|p| table.top_records(p, &extras.frequencies));
        table.content_hash = table.fingerprint(&extras);
        table.search.extras = Mutex::new(Some(extras));
        table
    }

    /// The search index, built now when it is not yet (by this thread, or by another one
    /// already building it, which this one then waits for).
    ///
    /// The index is built on a thread of its own and copied here, for the reason
    /// [`crate::sources::build_aside`] copies the table: the copy is made in one sweep once the
    /// build's temporaries are gone, so that they leave no pages of this thread's allocator
    /// arena held by the index (RSS at rest 17.7 -> 17.2 MiB when `serve` builds the index
    /// after its start). A system that refuses the thread gets the index built here.
    pub(crate) fn search_index(&self) -> &SearchIndex {
        self.search.index.get_or_init(|| {
            // Taken once: `get_or_init` runs one builder at a time and none after one
            // succeeded.
            let extras = (self.search.extras.lock())
                .map(|mut extras| extras.take())
                .unwrap_or_else(|poisoned| poisoned.into_inner().take())
                .unwrap_or_default();
            let build = || {
                let nmap = self.nmap_uses(&extras);
                let words = self.search_words(&extras, &nmap);
                let popularity = self.popularity(&extras, &nmap);
                SearchIndex::build(&self.entries, &words, popularity)
            };
            std::thread::scope(|scope| {
                let aside = std::thread::Builder::new()
                    .name("portsd-search".into())
                    .spawn_scoped(scope, build);
                match aside.map(std::thread::ScopedJoinHandle::join) {
                    Ok(Ok(built)) => built.clone(),
                    Ok(Err(panic)) => std::panic::resume_unwind(panic),
                    Err(_refused) => build(),
                }
            })
        })
    }

    /// Whether [`Table::search_index`] answers without building or waiting.
    pub(crate) fn search_is_built(&self) -> bool {
        self.search.index.get().is_some()
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

    /// The best uses for the words (see [`crate::core::search`]), best first, at most
    /// [`crate::core::search::MAX_RESULTS`]. Appends to `out`.
    pub(crate) fn search(&self, words: &[&[u8]], out: &mut impl Extend<EntryId>) {
        self.search_index().search(words, out);
    }

    /// The best uses for a search as [`Table::search`] finds them, each with the words it
    /// matches (bit `i` for the `i`th word): when no use matches every word, the uses matching
    /// most of them answer.
    pub(crate) fn search_matching(&self, words: &[&[u8]], found: impl FnMut(EntryId, Matched)) {
        self.search_index().search_matching(words, found);
    }

    /// Every service name and description word the search index holds, repeats included:
    /// what [`crate::core::suggest`] picks from.
    pub(crate) fn vocabulary(&self) -> impl Iterator<Item = &[u8]> {
        self.search_index().vocabulary()
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
}
