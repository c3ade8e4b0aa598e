//! What the table reports about itself: counts by source, status and protocol, the memory it
//! holds, and the fingerprint of everything it answers.

use super::{Extras, Table, TableStats};
use crate::core::fingerprint::Fingerprint;
use crate::core::model::{Entry, EntryId, Protocol, Source, Status};
use crate::core::port_index::{RangeIndex, SingleIndex};

impl Table {
    /// Counts by source, status and protocol.
    pub(crate) fn stats(&self) -> TableStats {
        fn count<K: Copy + Eq>(keys: impl Iterator<Item = K>, order: &[K]) -> Vec<(K, usize)> {
            let keys: Vec<K> = keys.collect();
            order
                .iter()
                .map(|&k| (k, keys.iter().filter(|&&x| x == k).count()))
                .collect()
        }

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
        }
    }

    /// Approximately the heap bytes the table holds, its search index built (now, if it was
    /// not yet) included.
    pub(crate) fn heap_bytes(&self) -> usize {
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
            + self.search_index().heap_bytes()
            + self
                .port_names
                .iter()
                .map(|(k, v)| k.len() + v.capacity() * 4 + 64)
                .sum::<usize>();
        entry_bytes + rdata_bytes + service_bytes + index_bytes
    }

    /// The fingerprint of everything the table answers: the rendered records (which hold every
    /// field of every entry), the registry's facts, the system's names, nmap's frequencies and
    /// the synonym list (both rank the search).
    pub(super) fn fingerprint(&self, extras: &Extras) -> u64 {
        let mut hash = Fingerprint::new();
        for id in 0..self.entries.len() {
            hash.add(self.rdata(id as EntryId));
        }
        for entry in &self.entries {
            for (field, value) in entry.registry.iter().flat_map(|r| r.fields()) {
                hash.add(field.as_bytes());
                hash.add(value.as_bytes());
            }
            hash.add(&[]);
        }
        // The system's names give owner names of their own, so they are content too.
        let mut names: Vec<_> = self.port_names.iter().collect();
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
}
