//! Reading a query against the index: each word's matches (names, name prefixes, whole words,
//! word prefixes), their intersection for a query of several words, offered to the best list.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::build::bucket;
use super::rank::{Best, intersect, intersect_scored, match_cost};
use super::{
    Candidates, EXACT_NAME, MAX_WORDS, MIN_PREFIX, NAME_PREFIX, PREFIX_BUDGET, Position, Rank,
    Scored, SearchIndex, WHOLE_WORD, WORD_PREFIX, pack, sort_dedup, unpack,
};
use crate::core::model::EntryId;
use crate::core::packed::Packed;

/// The index range of the keys in `sorted` (bucketed by `starts`) that are `word` or, when
/// `prefix`, start with it: two binary searches within `word`'s bucket (keys that start with
/// a word of two bytes or more share its bucket).
fn key_range(sorted: &Packed, starts: &[u32], word: &str, prefix: bool) -> (usize, usize) {
    let b = bucket(word.as_bytes());
    let (Some(&first), Some(&last)) = (starts.get(b), starts.get(b + 1)) else {
        return (0, 0);
    };
    let (first, last) = (first as usize, last as usize);
    let start = partition_point(first, last, |i| sorted.get(i) < word.as_bytes());
    let matches = |i: usize| {
        let k = sorted.get(i);
        if prefix {
            k.starts_with(word.as_bytes())
        } else {
            k == word.as_bytes()
        }
    };
    // The matches are usually few: gallop from `start` rather than search the whole rest.
    let mut bound = 1;
    while start + bound < last && matches(start + bound) {
        bound *= 2;
    }
    (
        start,
        partition_point(start, (start + bound).min(last), matches),
    )
}

/// The first index in `low..high` at which `holds` is false, for a `holds` true up to some
/// index and false from there on (`high` when it holds throughout).
fn partition_point(mut low: usize, mut high: usize, holds: impl Fn(usize) -> bool) -> usize {
    while low < high {
        let middle = low + (high - low) / 2;
        if holds(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}
impl SearchIndex {
    /// Appends to `out` the best [`super::MAX_RESULTS`] entries matching every word, best first.
    /// Words are query labels in any case; a word that is not UTF-8 matches nothing.
    pub(crate) fn search(&self, words: &[&[u8]], out: &mut impl Extend<EntryId>) {
        if words.len() > MAX_WORDS {
            return;
        }
        let mut query = SmallVec::<[Cow<str>; MAX_WORDS]>::new();
        for word in words {
            let Ok(word) = std::str::from_utf8(word) else {
                return;
            };
            query.push(
                if word
                    .bytes()
                    .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
                {
                    Cow::Owned(word.to_lowercase())
                } else {
                    Cow::Borrowed(word)
                },
            );
        }
        let mut best = Best::default();
        if let [word] = &query[..] {
            self.offer_matches(word, &mut best);
        } else {
            let mut scored = Scored::new();
            let mut found = Candidates::new();
            for (i, word) in query.iter().enumerate() {
                found.clear();
                self.candidates(word, &mut found);
                if i == 0 {
                    scored.extend(found.iter().map(|&c| {
                        let (id, rank, at) = unpack(c);
                        (id, rank, u16::from(rank), u32::from(at))
                    }));
                } else {
                    scored = intersect_scored(&scored, &found);
                }
                if scored.is_empty() {
                    return;
                }
            }
            for &(id, worst, sum, at) in &scored {
                best.offer(match_cost(worst, sum) - self.bonus(id), at, id);
            }
        }
        out.extend(best.ids());
    }

    /// Offers `best` every entry the query's only word matches. Matches that cannot reach the
    /// results are skipped: the description's when at least [`super::MAX_RESULTS`] entries match by
    /// name, and those beyond a long posting list's kept best.
    fn offer_matches(&self, word: &str, best: &mut Best) {
        let prefix = word.chars().count() >= MIN_PREFIX;
        let offer = |best: &mut Best, id: EntryId, rank: Rank, at: Position| {
            best.offer(
                match_cost(rank, u16::from(rank)) - self.bonus(id),
                u32::from(at),
                id,
            );
        };
        for (id, rank) in self.named(word, prefix) {
            offer(best, id, rank, 0);
        }
        if best.is_full() {
            return;
        }
        if word.contains(|c: char| !c.is_alphanumeric()) {
            let mut found = Candidates::new();
            self.described_parts(word, prefix, &mut found);
            for c in found {
                let (id, rank, at) = unpack(c);
                offer(best, id, rank, at);
            }
        } else {
            for (index, rank) in self.word_range(word, prefix) {
                for &(id, at) in self.best_postings_of(index) {
                    offer(best, id, rank, at);
                }
            }
        }
    }

    /// The entries with a name that is `word` or, when `prefix`, starts with it (unless too
    /// many do), each with its rank; an entry may come more than once.
    fn named<'a>(
        &'a self,
        word: &'a str,
        prefix: bool,
    ) -> impl Iterator<Item = (EntryId, Rank)> + 'a {
        let mut range = key_range(&self.names, &self.name_starts, word, prefix);
        if range.1 - range.0 > PREFIX_BUDGET {
            range = key_range(&self.names, &self.name_starts, word, false);
        }
        (range.0..range.1).filter_map(move |i| {
            let rank = if self.names.get(i) == word.as_bytes() {
                EXACT_NAME
            } else {
                NAME_PREFIX
            };
            self.name_ids.get(i).map(|&id| (id, rank))
        })
    }

    /// The indexes of the description words that are `word` or, when `prefix`, start with it
    /// (unless they occur too often), each with its rank.
    fn word_range<'a>(
        &'a self,
        word: &'a str,
        prefix: bool,
    ) -> impl Iterator<Item = (usize, Rank)> + 'a {
        let mut range = key_range(&self.words, &self.word_starts, word, prefix);
        let occurrences =
            |(start, end): (usize, usize)| (self.offsets[end] - self.offsets[start]) as usize;
        if occurrences(range) > PREFIX_BUDGET {
            range = key_range(&self.words, &self.word_starts, word, false);
        }
        (range.0..range.1).map(move |index| {
            let rank = if self.words.get(index) == word.as_bytes() {
                WHOLE_WORD
            } else {
                WORD_PREFIX
            };
            (index, rank)
        })
    }

    /// Appends to `found` every entry one word of a query of several matches, with its best
    /// rank, sorted by [`sort_dedup`].
    fn candidates(&self, word: &str, found: &mut Candidates) {
        let prefix = word.chars().count() >= MIN_PREFIX;
        found.extend(self.named(word, prefix).map(|(id, rank)| pack(id, rank, 0)));
        self.described_parts(word, prefix, found);
        sort_dedup(found);
    }

    /// Appends to `found` the entries whose description has every part of `word` (split at
    /// punctuation: `sip-tls` matches a description with `sip` and `tls`), each with its worst
    /// rank and latest position among the parts, sorted by [`sort_dedup`].
    fn described_parts(&self, word: &str, prefix: bool, found: &mut Candidates) {
        let mut parts = word
            .split(|c: char| !c.is_alphanumeric())
            .filter(|p| !p.is_empty());
        let Some(first) = parts.next() else {
            return;
        };
        let mut described = self.described(first, prefix);
        for part in parts {
            described = intersect(&described, &self.described(part, prefix));
        }
        found.extend(described);
    }

    /// The entries whose description has `word` as a word or, when `prefix`, a word starting
    /// with it, sorted by [`sort_dedup`].
    fn described(&self, word: &str, prefix: bool) -> Candidates {
        let mut found = Candidates::new();
        let mut runs = 0;
        for (index, rank) in self.word_range(word, prefix) {
            runs += 1;
            found.extend(
                self.postings_of(index)
                    .iter()
                    .map(|&(id, at)| pack(id, rank, at)),
            );
        }
        // One posting list is sorted and has each entry once already.
        if runs > 1 {
            sort_dedup(&mut found);
        }
        found
    }
}
