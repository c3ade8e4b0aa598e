//! One word of a query of several and its matches: gathered into a list sorted by entry, or,
//! for a common word beside rarer ones (`server` in `ldap server`), only counted and then asked
//! about the few entries the rarer words leave, so that its thousand-odd postings are neither
//! copied nor sorted.

use smallvec::SmallVec;

use super::{Candidates, MIN_PREFIX, Position, Rank, SearchIndex, pack, sort_dedup, unpack};
use crate::core::model::EntryId;

/// Whether a word that `matching` of `entries` uses match is common (`server`, `port`): more
/// than one use in twenty has it.
pub(super) fn common(matching: usize, entries: usize) -> bool {
    matching > entries / 20
}

/// The description words a word matches (by index into the index's words), each with its rank.
pub(super) type Described = SmallVec<[(usize, Rank); 4]>;

/// A query word's matches.
pub(super) struct WordMatches {
    /// Every entry the word matches with its best match, sorted by [`super::sort_dedup`]; empty
    /// while the word is only [`asked`](WordMatches::asked).
    list: Candidates,
    /// For a word only asked: the entries named by it (sorted) and the description words it
    /// matches (each with its rank), whose posting lists are sorted by entry.
    asked: Option<(Candidates, Described)>,
    /// How many entries it matches: the list's length, or for a word only asked, its names and
    /// postings counted (an entry named and described counts twice).
    pub(super) count: usize,
}

impl WordMatches {
    /// The matches of each word of `query`: a single-part word matching more than one use in
    /// twenty by its names and postings is only asked when another word is not so common.
    pub(super) fn of_query(
        index: &SearchIndex,
        query: &[impl AsRef<str>],
    ) -> SmallVec<[WordMatches; super::MAX_WORDS]> {
        let entries = index.popularity.len();
        let mut words: SmallVec<[WordMatches; super::MAX_WORDS]> = query
            .iter()
            .map(|word| WordMatches::asked(index, word.as_ref()))
            .collect();
        let asked = |w: &WordMatches| w.asked.is_some() && common(w.count, entries);
        let rare_too = words.iter().any(|w| !asked(w));
        for word in &mut words {
            if !(rare_too && asked(word)) {
                word.gather(index);
            }
        }
        words
    }

    /// A word's names and description words, counted, not gathered; a word of several parts
    /// (`sip-tls`) is gathered at once.
    fn asked(index: &SearchIndex, word: &str) -> WordMatches {
        if word.contains(|c: char| !c.is_alphanumeric()) {
            let mut list = Candidates::new();
            index.candidates(word, &mut list);
            return WordMatches {
                count: list.len(),
                list,
                asked: None,
            };
        }
        let prefix = word.chars().count() >= MIN_PREFIX;
        let mut named: Candidates = index
            .named(word, prefix)
            .map(|(id, rank)| pack(id, rank, 0))
            .collect();
        sort_dedup(&mut named);
        let described = index.described_words(word, prefix);
        let count = named.len() + index.postings_count(&described);
        WordMatches {
            list: Candidates::new(),
            asked: Some((named, described)),
            count,
        }
    }

    /// Gathers every match of a word only asked so far into its list, as
    /// [`SearchIndex::candidates`] would.
    pub(super) fn gather(&mut self, index: &SearchIndex) {
        if let Some((named, described)) = self.asked.take() {
            let mut list = named;
            index.append_postings(&described, &mut list);
            sort_dedup(&mut list);
            self.count = list.len();
            self.list = list;
        }
    }

    /// The gathered list (empty for a word only asked).
    pub(super) fn list(&self) -> &Candidates {
        &self.list
    }

    /// The word's best match of entry `id`, if it matches it: its rank and position.
    pub(super) fn find(&self, index: &SearchIndex, id: EntryId) -> Option<(Rank, Position)> {
        let Some((named, described)) = &self.asked else {
            let at = self.list.binary_search_by_key(&id, |&c| unpack(c).0).ok()?;
            let (_, rank, place) = unpack(self.list[at]);
            return Some((rank, place));
        };
        let from_names = named
            .binary_search_by_key(&id, |&c| unpack(c).0)
            .ok()
            .map(|at| named[at]);
        let from_words = described.iter().filter_map(|&(word, rank)| {
            let postings = index.postings_of(word);
            let at = postings.binary_search_by_key(&id, |&(e, _)| e).ok()?;
            Some(pack(id, rank, postings[at].1))
        });
        let best = from_names.into_iter().chain(from_words).min()?;
        let (_, rank, place) = unpack(best);
        Some((rank, place))
    }
}
