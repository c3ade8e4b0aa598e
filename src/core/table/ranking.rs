//! What ranks the search and makes the `top` answers: the extra names and words each entry is
//! found by, its popularity, nmap's frequency of its port, and the ranked `top` records.

use super::{EntryIds, Extras, TOP_COUNT, Table};
use crate::core::model::{EntryId, PortFrequency, Protocol, Status};
use crate::core::search::EntryWords;
use crate::core::txt;

impl Table {
    /// The extra names and words each entry is found by: nmap's name and comment for its port
    /// (given to the uses carrying nmap's name, or to every use of the port when none does),
    /// the synonym list's words for it, and the expansions of the acronyms its texts use, where
    /// some description or comment defines them (`Remote Desktop Protocol (RDP)`).
    pub(super) fn search_words(&self, extras: &Extras) -> Vec<EntryWords> {
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
    pub(super) fn popularity(&self, id: EntryId) -> u32 {
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
    pub(super) fn top_records(
        &self,
        protocol: Protocol,
        frequencies: &[PortFrequency],
    ) -> Vec<Box<[u8]>> {
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
}
