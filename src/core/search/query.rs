//! Reading a query against the index: each word's matches (names, name prefixes, whole words,
//! word prefixes), their intersection for a query of several words, offered to the best list.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::build::bucket;
use super::rank::{Best, Matched, Scored, Tally, intersect, intersect_scored, rarity};
use super::words::{Described, WordMatches, common};
use super::{
    Candidates, EXACT_NAME, MAX_WORDS, MIN_PREFIX, NAME_PREFIX, PREFIX_BUDGET, Position, Rank,
    SearchIndex, WHOLE_WORD, WORD_PREFIX, pack, sort_dedup, unpack,
};
use crate::core::model::EntryId;
use crate::core::packed::Packed;

/// The matched words of a query of `words` words that matches them all.
fn every_word(words: usize) -> Matched {
    // At most MAX_WORDS (8) words, so the mask fits.
    (u16::MAX >> (16 - words)) as Matched
}

/// The entries every one of `lists` has, each with its worst rank and the sums of its ranks,
/// first places and repeats.
pub(super) fn in_every<'a>(lists: impl Iterator<Item = &'a Candidates>) -> Scored {
    // The sums are the same in any order: starting from the shortest list keeps the
    // intersections short.
    let mut order: SmallVec<[&Candidates; MAX_WORDS]> = lists.collect();
    order.sort_by_key(|list| list.len());
    let Some((first, rest)) = order.split_first() else {
        return Scored::new();
    };
    let mut scored: Scored = first
        .iter()
        .map(|&c| {
            let (id, rank, at) = unpack(c);
            (id, Tally::of(rank, at))
        })
        .collect();
    for &list in rest {
        if scored.is_empty() {
            break;
        }
        scored = intersect_scored(&scored, list);
    }
    scored
}

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

/// The keys of a [`key_range`] with `prefix` that are `word` itself: they sort first in it, so
/// the range keeps its start and ends where they do.
fn exact_within(sorted: &Packed, (start, end): (usize, usize), word: &str) -> (usize, usize) {
    (
        start,
        partition_point(start, end, |i| sorted.get(i) == word.as_bytes()),
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
    /// Appends to `out` the best entries for a query, best first, as
    /// [`SearchIndex::search_matching`] finds them.
    pub(crate) fn search(&self, words: &[&[u8]], out: &mut impl Extend<EntryId>) {
        self.search_matching(words, |id, _| out.extend(Some(id)));
    }

    /// Calls `found` with the best [`super::MAX_RESULTS`] entries for a query, best first, each
    /// with the query words it matches. Entries matching every word come first; when fewer than
    /// ten do, entries matching some of the words follow, those matching more first. Words are
    /// query labels in any case; a word that is not UTF-8 matches nothing.
    pub(crate) fn search_matching(&self, words: &[&[u8]], mut found: impl FnMut(EntryId, Matched)) {
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
            let mut words = WordMatches::of_query(self, &query);
            let entries = self.popularity.len();
            let is_common = |w: &WordMatches| common(w.count, entries);
            if words.iter().any(is_common) && !words.iter().all(is_common) {
                self.offer_all_but_common(&words, &mut best);
            } else {
                self.offer_every_word(&words, &mut best);
            }
            if !best.is_full() {
                for word in &mut words {
                    word.gather(self);
                }
                let lists: SmallVec<[&Candidates; MAX_WORDS]> =
                    words.iter().map(WordMatches::list).collect();
                self.offer_some_words(&lists, &mut best);
            }
        }
        for (id, matched) in best.entries() {
            found(id, matched);
        }
    }

    /// Offers `best` the entries every word (each gathered) matches.
    fn offer_every_word(&self, words: &[WordMatches], best: &mut Best) {
        let every = every_word(words.len());
        for (id, tally) in in_every(words.iter().map(WordMatches::list)) {
            tally.offer(best, id, every, (0, 0), self.bonus(id));
        }
    }

    /// Offers `best` the entries matching every word of the query but some [`common`] ones
    /// (`server`, `port`), ranked with the entries matching every word (offered here too), each
    /// word left out costing its [`rarity`]: `ldap server` finds LDAP's own port before the
    /// LDAP admin server's, as it would if the question had not said `server`. The rarer
    /// words' lists are intersected; the common words are asked about what is left.
    fn offer_all_but_common(&self, words: &[WordMatches], best: &mut Best) {
        let entries = self.popularity.len();
        // Each word's cost when left out, or `None` for a rare word (every candidate has it).
        let costs: SmallVec<[Option<i32>; MAX_WORDS]> = words
            .iter()
            .map(|w| common(w.count, entries).then(|| rarity(w.count, entries)))
            .collect();
        let rare = words
            .iter()
            .zip(&costs)
            .filter(|(_, cost)| cost.is_none())
            .map(|(w, _)| w.list());
        for (id, mut tally) in in_every(rare) {
            let (mut matched, mut missed) = (0, 0);
            for (i, (word, cost)) in words.iter().zip(&costs).enumerate() {
                let Some(cost) = cost else {
                    matched |= 1 << i;
                    continue;
                };
                if let Some((rank, place)) = word.find(self, id) {
                    matched |= 1 << i;
                    tally.add(rank, place);
                } else {
                    missed += cost;
                }
            }
            tally.offer(best, id, matched, (0, missed), self.bonus(id));
        }
    }

    /// Offers `best` the entries some but not all of the lists (one per query word) have,
    /// ranked below the entries matching more words.
    fn offer_some_words(&self, lists: &[&Candidates], best: &mut Best) {
        let every = every_word(lists.len());
        // Among the uses leaving out as many words, those leaving out the commoner words come
        // first: `redis server` answers with Redis, not with one of the thousand servers.
        let weights: SmallVec<[i32; MAX_WORDS]> = lists
            .iter()
            .map(|list| rarity(list.len(), self.popularity.len()))
            .collect();
        let mut next = SmallVec::<[usize; MAX_WORDS]>::from_elem(0, lists.len());
        let head = |list: &&Candidates, at: usize| list.get(at).map(|&c| unpack(c));
        while let Some(id) = lists
            .iter()
            .zip(&next)
            .filter_map(|(list, &at)| head(list, at).map(|(id, ..)| id))
            .min()
        {
            let (mut matched, mut tally, mut missed): (Matched, Tally, i32) =
                (0, Tally::default(), 0);
            for (word, (list, at)) in lists.iter().zip(&mut next).enumerate() {
                if let Some((other, rank, place)) = head(list, *at)
                    && other == id
                {
                    matched |= 1 << word;
                    tally.add(rank, place);
                    *at += 1;
                } else {
                    missed += weights[word];
                }
            }
            if matched != every {
                let missing = every.count_ones() - matched.count_ones();
                tally.offer(best, id, matched, (missing, missed), self.bonus(id));
            }
        }
    }

    /// Offers `best` every entry the query's only word matches. Matches that cannot reach the
    /// results are skipped: the description's when at least [`super::MAX_RESULTS`] entries match by
    /// name, and those beyond a long posting list's kept best.
    fn offer_matches(&self, word: &str, best: &mut Best) {
        let prefix = word.chars().count() >= MIN_PREFIX;
        let offer = |best: &mut Best, id: EntryId, rank: Rank, at: Position| {
            Tally::of(rank, at).offer(best, id, 1, (0, 0), self.bonus(id));
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
            for (index, rank) in self
                .word_range(word, prefix)
                .chain(self.stem_range(word, prefix))
            {
                for &(id, at) in self.best_postings_of(index) {
                    offer(best, id, rank, at);
                }
            }
        }
    }

    /// The entries with a name that is `word` or, when `prefix`, starts with it (unless too
    /// many do), each with its rank; an entry may come more than once.
    pub(super) fn named<'a>(
        &'a self,
        word: &'a str,
        prefix: bool,
    ) -> impl Iterator<Item = (EntryId, Rank)> + 'a {
        let mut range = key_range(&self.names, &self.name_starts, word, prefix);
        if range.1 - range.0 > PREFIX_BUDGET {
            range = exact_within(&self.names, range, word);
        }
        // The names that are `word` itself come first in the range.
        let (_, exact_end) = exact_within(&self.names, range, word);
        (range.0..range.1).filter_map(move |i| {
            let rank = if i < exact_end {
                EXACT_NAME
            } else {
                NAME_PREFIX
            };
            self.name_ids.get(i).map(|&id| (id, rank))
        })
    }

    /// The indexes of the description words that are `word` or, when `prefix`, start with it
    /// (unless they occur too often), each with its rank.
    pub(super) fn word_range<'a>(
        &'a self,
        word: &'a str,
        prefix: bool,
    ) -> impl Iterator<Item = (usize, Rank)> + 'a {
        let mut range = key_range(&self.words, &self.word_starts, word, prefix);
        let occurrences =
            |(start, end): (usize, usize)| (self.offsets[end] - self.offsets[start]) as usize;
        if occurrences(range) > PREFIX_BUDGET {
            range = exact_within(&self.words, range, word);
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

    /// The description words that continue the stem of `word` when it ends in a silent `e`
    /// (`alternate`: `alternative`, `alternating`), as prefix matches.
    pub(super) fn stem_range<'a>(
        &'a self,
        word: &'a str,
        prefix: bool,
    ) -> impl Iterator<Item = (usize, Rank)> + 'a {
        let stem = word
            .strip_suffix('e')
            .filter(|stem| prefix && stem.len() >= 5);
        stem.into_iter().flat_map(move |stem| {
            self.word_range(stem, true)
                .filter(move |&(index, _)| !self.words.get(index).starts_with(word.as_bytes()))
                .map(|(index, _)| (index, WORD_PREFIX))
        })
    }

    /// Appends to `found` every entry one word of a query of several matches, with its best
    /// rank, sorted by [`sort_dedup`].
    pub(super) fn candidates(&self, word: &str, found: &mut Candidates) {
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
        let Some(second) = parts.next() else {
            // A word of one part: its postings go straight into `found`, which the caller
            // sorts (sorting the union once keeps each entry's best as sorting it twice does).
            self.append_described(first, prefix, found);
            return;
        };
        let mut described = self.described(first, prefix);
        for part in std::iter::once(second).chain(parts) {
            described = intersect(&described, &self.described(part, prefix));
        }
        found.extend(described);
    }

    /// The entries whose description has `word` as a word or, when `prefix`, a word starting
    /// with it, sorted by [`sort_dedup`].
    fn described(&self, word: &str, prefix: bool) -> Candidates {
        let mut found = Candidates::new();
        // One posting list is sorted and has each entry once already.
        if self.append_described(word, prefix, &mut found) > 1 {
            sort_dedup(&mut found);
        }
        found
    }

    /// Appends to `found` the postings of the description words `word` matches (as
    /// [`SearchIndex::described`] reads them, unsorted); returns how many posting lists it read.
    fn append_described(&self, word: &str, prefix: bool, found: &mut Candidates) -> usize {
        let words = self.described_words(word, prefix);
        self.append_postings(&words, found);
        words.len()
    }

    /// The description words `word` is or, when `prefix`, starts (and the forms of its stem,
    /// [`SearchIndex::stem_range`]), each with its rank.
    pub(super) fn described_words(&self, word: &str, prefix: bool) -> Described {
        self.word_range(word, prefix)
            .chain(self.stem_range(word, prefix))
            .collect()
    }

    /// How many postings `words` have together.
    pub(super) fn postings_count(&self, words: &Described) -> usize {
        words
            .iter()
            .map(|&(index, _)| self.postings_of(index).len())
            .sum()
    }

    /// Appends to `found` the postings of `words`, unsorted, reserving their room at once.
    pub(super) fn append_postings(&self, words: &Described, found: &mut Candidates) {
        found.reserve(self.postings_count(words));
        for &(index, rank) in words {
            found.extend(
                self.postings_of(index)
                    .iter()
                    .map(|&(id, at)| pack(id, rank, at)),
            );
        }
    }
}
