//! Keyword search over the table: an index of service names and description words built once
//! per table, so a query costs a few binary searches and the merge of short lists, never a scan
//! of the descriptions. A query of one word sorts nothing: each match is offered to a list of
//! the ten best so far, and a long posting list is read only as far as its ten best, kept
//! aside when the index is built.
//!
//! An entry's names are its service name, the system's names for it, nmap's name for its port
//! and the synonym list's words for it; its words are those of its description, of nmap's
//! comment on its port, of the synonym list's phrases for it, and the expansions of the
//! acronyms among them that some text of the data defines (`Remote Desktop Protocol (RDP)`).
//!
//! Every word of a query must match an entry, in one of four ways, best first: it is one of the
//! entry's names, a name starts with it, it is a whole word of the entry, a word of the entry
//! starts with it. An entry's score is what its matches cost ([`match_cost`]: its
//! worst-matching word and the sum over its words) less how common the use is
//! ([`popularity`]: nmap's frequency of its port, its status, how many sources agree), so a use
//! found open on a quarter of all hosts outranks a rare one that matches a little better.
//! Ties go to the use whose words come earlier in its description (`Minecraft server` before
//! `a viewer for Minecraft`), then to table order (so by port, local entries first). Words compare in lower case;
//! the description's words are its runs of letters and digits. A query word of one character
//! matches only whole names and words, and so does a prefix shared by more than
//! [`PREFIX_BUDGET`] names or description-word occurrences (`se`, the start of `server`,
//! `service`, `secure` and hundreds more): ranking thousands of equally vague matches would
//! cost a hundred times a port answer and tell the asker nothing. A query of more than
//! [`MAX_WORDS`] words matches nothing.

use std::borrow::Cow;
use std::collections::HashMap;

use smallvec::SmallVec;

use crate::core::model::{Entry, EntryId};
use crate::core::packed::Packed;

/// The most uses a search returns.
pub(crate) const MAX_RESULTS: usize = 10;

/// The most words a query may have: a name of more labels matches nothing, so a hostile name of
/// a hundred labels costs no more than an ordinary search.
pub(crate) const MAX_WORDS: usize = 8;

/// The shortest query word that also matches as a prefix.
const MIN_PREFIX: usize = 2;

/// The most names, or description-word occurrences, a prefix may stand for and still match as
/// a prefix.
pub(crate) const PREFIX_BUDGET: usize = 200;

/// How well one word matches one entry; lower is better.
type Rank = u8;
const EXACT_NAME: Rank = 0;
const NAME_PREFIX: Rank = 1;
const WHOLE_WORD: Rank = 2;
const WORD_PREFIX: Rank = 3;

/// Where in the description a word first comes (names count as position 0).
type Position = u16;

/// Candidates for one query word, each packed as [`pack`] makes it so that sorting them sorts
/// by entry id, then rank, then position.
type Candidates = Vec<u64>;

/// Candidates for the whole query: entry id, worst rank, rank sum, position sum.
type Scored = SmallVec<[(EntryId, Rank, u16, u32); 32]>;

/// A posting list longer than this also keeps its [`MAX_RESULTS`] best entries on the side,
/// so a one-word query reads those instead of the whole list.
const TOP_AFTER: usize = 64;

/// One candidate as one integer: entry id, rank, position, most significant first.
fn pack(id: EntryId, rank: Rank, at: Position) -> u64 {
    (u64::from(id) << 32) | (u64::from(rank) << 16) | u64::from(at)
}

fn unpack(candidate: u64) -> (EntryId, Rank, Position) {
    (
        (candidate >> 32) as EntryId,
        (candidate >> 16) as Rank,
        candidate as Position,
    )
}

/// Sorts candidates by entry id and keeps each entry's best match.
fn sort_dedup(found: &mut Candidates) {
    found.sort_unstable();
    found.dedup_by_key(|c| *c >> 32);
}

/// The names and words an entry is found by beyond its own service name, aliases and
/// description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EntryWords {
    /// Further names (lower-case).
    pub(crate) names: Vec<String>,
    /// Further words (lower-case), counted as coming after the description's.
    pub(crate) words: Vec<String>,
}

/// What a match costs: weighted so that one better match class is worth about what a
/// fourfold more frequent port is.
fn match_cost(worst: Rank, sum: u16) -> i32 {
    12 * i32::from(worst) + 4 * i32::from(sum)
}

/// The ranking bonus of a use from nmap's frequency of its port (millionths) and `other`
/// points (its status and the sources agreeing on it): ten points per tenfold frequency.
pub(crate) fn popularity(frequency: u32, other: u32) -> u32 {
    let tenfold = f64::from(frequency).ln_1p() / std::f64::consts::LN_10;
    (10.0 * tenfold).round() as u32 + other
}

/// The acronyms the texts define, each with its expansion: an all-capital word of two to six
/// letters in parentheses right after as many words whose initials spell it (`Remote Desktop
/// Protocol (RDP)`), lower-cased. The first definition of an acronym wins.
pub(crate) fn acronyms<'t>(texts: impl Iterator<Item = &'t str>) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for text in texts {
        let mut rest = text;
        while let Some(open) = rest.find('(') {
            let before = &rest[..open];
            let after = &rest[open + 1..];
            rest = after;
            let Some(close) = after.find(')') else { break };
            let acronym = &after[..close];
            let letters = acronym.len();
            if !(2..=6).contains(&letters) || !acronym.bytes().all(|b| b.is_ascii_uppercase()) {
                continue;
            }
            let words: Vec<&str> = before
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            let Some(start) = words.len().checked_sub(letters) else {
                continue;
            };
            let expansion = &words[start..];
            let spelled = expansion.iter().zip(acronym.chars()).all(|(word, letter)| {
                word.chars()
                    .next()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&letter))
            });
            if spelled {
                found
                    .entry(acronym.to_lowercase())
                    .or_insert_with(|| expansion.iter().map(|w| w.to_lowercase()).collect());
            }
        }
    }
    found
}

/// The search index of one table.
#[derive(Clone, Debug, Default)]
pub(crate) struct SearchIndex {
    /// Every lower-cased name, sorted, and in `name_ids` the entry of each (one item per
    /// (name, entry) pair): exact and prefix matches are a range.
    names: Packed,
    name_ids: Vec<EntryId>,
    /// Where each [`bucket`] of `names` starts.
    name_starts: Box<[u32]>,
    /// Distinct lower-cased description words, sorted.
    words: Packed,
    /// Where each [`bucket`] of `words` starts.
    word_starts: Box<[u32]>,
    /// `postings[offsets[i]..offsets[i + 1]]` are the entries whose description has `words[i]`,
    /// ascending, each with the word's first position in it.
    offsets: Vec<u32>,
    postings: Vec<(EntryId, Position)>,
    /// For each word with more than [`TOP_AFTER`] postings (by index into `words`, ascending),
    /// its [`MAX_RESULTS`] postings that rank best on their own.
    tops: Vec<(u32, [(EntryId, Position); MAX_RESULTS])>,
    /// Each entry's [`popularity`].
    popularity: Vec<u32>,
}

/// A text's words: runs of letters and digits, lower-cased.
pub(crate) fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Where a key's first two bytes put it among [`BUCKETS`] buckets, in the keys' sort order:
/// each byte counts by its class (before the digits, each digit, between the digits and the
/// letters, each letter, after the letters), a missing second byte before all.
fn bucket(key: &[u8]) -> usize {
    fn class(byte: u8) -> usize {
        match byte {
            ..b'0' => 0,
            b'0'..=b'9' => usize::from(byte - b'0') + 1,
            b':'..b'a' => 11,
            b'a'..=b'z' => usize::from(byte - b'a') + 12,
            _ => 38,
        }
    }
    let bytes = key;
    let first = bytes.first().map_or(0, |&b| class(b));
    let second = bytes.get(1).map_or(0, |&b| class(b) + 1);
    first * 40 + second
}

/// How many buckets [`bucket`] sorts keys into.
const BUCKETS: usize = 39 * 40;

/// For sorted keys, where each bucket starts: `starts[b]..starts[b + 1]` are the keys in
/// bucket `b`.
fn bucket_starts(sorted: &Packed) -> Box<[u32]> {
    let mut starts = vec![0; BUCKETS + 1];
    for i in 0..sorted.len() {
        starts[bucket(sorted.get(i)) + 1] += 1;
    }
    for b in 0..BUCKETS {
        starts[b + 1] += starts[b];
    }
    starts.into_boxed_slice()
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
    /// The index of `entries`, each also found by its `extra` names and words (`extra` is
    /// empty or has one item per entry) and ranked by its `popularity` (likewise).
    pub(crate) fn build(
        entries: &[Entry],
        extra: &[EntryWords],
        popularity: Vec<u32>,
    ) -> SearchIndex {
        let mut names = Vec::new();
        let mut pairs: Vec<(String, EntryId, Position)> = Vec::new();
        let none = EntryWords::default();
        for (id, entry) in entries.iter().enumerate() {
            let more = extra.get(id).unwrap_or(&none);
            let id = id as EntryId;
            for name in entry.service.iter().chain(&entry.aliases) {
                names.push((name.to_lowercase().into_boxed_str(), id));
            }
            names.extend(more.names.iter().map(|n| (n.as_str().into(), id)));
            pairs.extend(
                words_of(&entry.description)
                    .chain(more.words.iter().cloned())
                    .enumerate()
                    .map(|(at, word)| (word, id, Position::try_from(at).unwrap_or(Position::MAX))),
            );
        }
        names.sort_unstable();
        names.dedup();
        pairs.sort_unstable();
        // Keep each word's first position in each entry.
        pairs.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        let mut words: Vec<Box<str>> = Vec::new();
        let mut offsets = vec![0];
        let mut postings = Vec::with_capacity(pairs.len());
        for (word, id, at) in pairs {
            if words.last().is_none_or(|last| **last != *word) {
                if !words.is_empty() {
                    offsets.push(postings.len() as u32);
                }
                words.push(word.into_boxed_str());
            }
            postings.push((id, at));
        }
        offsets.push(postings.len() as u32);
        // The lists grew by doubling (or were sized before the duplicates went): the index
        // lives as long as the table, so it keeps no spare room.
        offsets.shrink_to_fit();
        postings.shrink_to_fit();
        let name_ids = names.iter().map(|&(_, id)| id).collect();
        let names = Packed::new(names.iter().map(|(name, _)| name.as_bytes()));
        let words = Packed::new(words.iter().map(|word| word.as_bytes()));
        let mut index = SearchIndex {
            name_starts: bucket_starts(&names),
            names,
            name_ids,
            word_starts: bucket_starts(&words),
            words,
            offsets,
            postings,
            tops: Vec::new(),
            popularity,
        };
        index.tops = (0..index.words.len())
            .filter_map(|word| {
                let mut list = index.postings_of(word).to_vec();
                if list.len() <= TOP_AFTER {
                    return None;
                }
                list.select_nth_unstable_by_key(MAX_RESULTS - 1, |&(id, at)| {
                    (-index.bonus(id), at, id)
                });
                let best = std::array::from_fn(|i| list[i]);
                Some((word as u32, best))
            })
            .collect();
        index.tops.shrink_to_fit();
        index
    }

    /// The entries whose description has `words[word]`, ascending, each with its position.
    fn postings_of(&self, word: usize) -> &[(EntryId, Position)] {
        &self.postings[self.offsets[word] as usize..self.offsets[word + 1] as usize]
    }

    /// The postings of `words[word]` that can reach a one-word query's results: its best
    /// [`MAX_RESULTS`] when it has kept them aside, else all.
    fn best_postings_of(&self, word: usize) -> &[(EntryId, Position)] {
        match self.tops.binary_search_by_key(&(word as u32), |(w, _)| *w) {
            Ok(found) => &self.tops[found].1,
            Err(_) => self.postings_of(word),
        }
    }

    /// An entry's ranking bonus.
    fn bonus(&self, id: EntryId) -> i32 {
        self.popularity
            .get(id as usize)
            .map_or(0, |&p| i32::try_from(p).unwrap_or(i32::MAX))
    }

    /// Every name (once per entry carrying it) and every description word.
    pub(crate) fn vocabulary(&self) -> impl Iterator<Item = &[u8]> {
        let names = (0..self.names.len()).map(|i| self.names.get(i));
        names.chain((0..self.words.len()).map(|i| self.words.get(i)))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.names.heap_bytes()
            + self.name_ids.capacity() * 4
            + self.words.heap_bytes()
            + self.offsets.capacity() * 4
            + self.postings.capacity() * 8
            + (self.name_starts.len() + self.word_starts.len()) * 4
            + self.tops.capacity()
                * std::mem::size_of::<(u32, [(EntryId, Position); MAX_RESULTS])>()
            + self.popularity.capacity() * 4
    }

    /// Appends to `out` the best [`MAX_RESULTS`] entries matching every word, best first.
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
    /// results are skipped: the description's when at least [`MAX_RESULTS`] entries match by
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
        if best.items.len() == MAX_RESULTS {
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

/// The best [`MAX_RESULTS`] entries offered so far, each once, best first: each item is an
/// entry's score, position and id packed so that a lower number is a better entry.
#[derive(Default)]
struct Best {
    items: SmallVec<[u128; MAX_RESULTS]>,
}

impl Best {
    /// Offers an entry with its score and position; an entry offered again keeps its best.
    #[inline]
    fn offer(&mut self, score: i32, at: u32, id: EntryId) {
        // Flipping the sign bit orders the scores as unsigned numbers.
        let score = (score as u32) ^ (1 << 31);
        let key = (u128::from(score) << 64) | (u128::from(at) << 32) | u128::from(id);
        let full = self.items.len() == MAX_RESULTS;
        if full && key >= self.items[MAX_RESULTS - 1] {
            return;
        }
        if let Some(seen) = self.items.iter().position(|&item| item as EntryId == id) {
            if self.items[seen] <= key {
                return;
            }
            self.items.remove(seen);
        } else if full {
            self.items.pop();
        }
        // At most MAX_RESULTS - 1 items here, so the list never leaves its inline space.
        let place = self.items.partition_point(|&item| item < key);
        self.items.insert(place, key);
    }

    /// The entries, best first.
    fn ids(&self) -> impl Iterator<Item = EntryId> + '_ {
        self.items.iter().map(|&item| item as EntryId)
    }
}

/// The entries in both lists (ascending by id), each with its worse rank and later position.
fn intersect(a: &[u64], b: &[u64]) -> Candidates {
    let mut out = Candidates::new();
    let mut b = b.iter().map(|&c| unpack(c)).peekable();
    for (id, rank, at) in a.iter().map(|&c| unpack(c)) {
        while b.next_if(|&(other, ..)| other < id).is_some() {}
        if let Some(&(other, other_rank, other_at)) = b.peek()
            && other == id
        {
            out.push(pack(id, rank.max(other_rank), at.max(other_at)));
        }
    }
    out
}

/// The scored entries that the next word also matches, with that word's rank added.
fn intersect_scored(scored: &Scored, candidates: &[u64]) -> Scored {
    let mut out = Scored::new();
    let mut next = candidates.iter().map(|&c| unpack(c)).peekable();
    for &(id, worst, sum, position) in scored {
        while next.next_if(|&(other, ..)| other < id).is_some() {}
        if let Some(&(other, rank, at)) = next.peek()
            && other == id
        {
            out.push((
                id,
                worst.max(rank),
                sum + u16::from(rank),
                position + u32::from(at),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{PortSpan, Protocol, Source, Status};

    fn entry(port: u16, service: Option<&str>, description: &str) -> Entry {
        Entry {
            ports: PortSpan::single(port),
            protocol: Protocol::Tcp,
            status: Status::Assigned,
            service: service.map(str::to_owned),
            aliases: Vec::new(),
            description: description.to_owned(),
            sources: Source::Iana.bit(),
            registry: None,
        }
    }

    fn ports(index: &SearchIndex, entries: &[Entry], query: &str) -> Vec<u16> {
        let words: Vec<&[u8]> = query.split('.').map(str::as_bytes).collect();
        let mut ids = Vec::new();
        index.search(&words, &mut ids);
        ids.iter()
            .map(|&id| entries[id as usize].ports.first)
            .collect()
    }

    #[test]
    fn ranks_names_then_prefixes_then_words_then_word_prefixes() {
        let entries = vec![
            entry(1, None, "Postgres compatible proxy"),
            entry(2, Some("postgresql"), "PostgreSQL Database"),
            entry(3, None, "Postgresish tool"),
            entry(6, None, "a proxy for Postgres"),
            entry(4, Some("postgres"), "Another database"),
            entry(5, None, "unrelated"),
        ];
        let index = SearchIndex::build(&entries, &[], Vec::new());
        assert_eq!(ports(&index, &entries, "postgres"), [4, 2, 1, 6, 3]);
        assert_eq!(ports(&index, &entries, "POSTGRES"), [4, 2, 1, 6, 3]);
        assert_eq!(ports(&index, &entries, "database"), [2, 4]);
        assert_eq!(ports(&index, &entries, "postgres.database"), [4, 2]);
        assert_eq!(
            ports(&index, &entries, "postgres.nothing"),
            Vec::<u16>::new()
        );
        assert_eq!(
            ports(&index, &entries, "p"),
            Vec::<u16>::new(),
            "no one-letter prefixes"
        );
        assert_eq!(ports(&index, &entries, "compatible-proxy"), [1]);
    }

    #[test]
    fn vague_prefixes_match_whole_words_only() {
        let mut entries: Vec<Entry> = (0..=PREFIX_BUDGET as u16)
            .map(|port| entry(port, None, &format!("server{port}")))
            .collect();
        entries.push(entry(9999, Some("se"), "serial console"));
        let index = SearchIndex::build(&entries, &[], Vec::new());
        assert_eq!(ports(&index, &entries, "se"), [9999]);
        assert_eq!(
            ports(&index, &entries, "server1"),
            [1, 10, 11, 12, 13, 14, 15, 16, 17, 18],
            "a specific prefix still matches as one"
        );
        assert_eq!(ports(&index, &entries, "seri"), [9999]);
    }

    #[test]
    fn at_most_ten_each_entry_once() {
        let entries: Vec<Entry> = (0..30)
            .map(|port| entry(port, Some("game"), "game game server"))
            .collect();
        let index = SearchIndex::build(&entries, &[], Vec::new());
        assert_eq!(
            ports(&index, &entries, "game.game"),
            (0..10).collect::<Vec<u16>>()
        );
        assert_eq!(ports(&index, &entries, "\u{ff}"), Vec::<u16>::new());
        let eight = ["game"; MAX_WORDS].join(".");
        assert_eq!(ports(&index, &entries, &eight).len(), 10);
        let nine = ["game"; MAX_WORDS + 1].join(".");
        assert_eq!(
            ports(&index, &entries, &nine),
            Vec::<u16>::new(),
            "too many words"
        );
        let not_utf8: &[&[u8]] = &[b"\xff"];
        let mut ids = Vec::new();
        index.search(not_utf8, &mut ids);
        assert!(ids.is_empty());
    }

    #[test]
    fn long_posting_lists_rank_as_if_read_whole() {
        let count = 3 * TOP_AFTER as u16;
        let entries: Vec<Entry> = (0..count)
            .map(|port| {
                let text = if port % 3 == 0 {
                    "a common word"
                } else {
                    "common"
                };
                entry(port, None, text)
            })
            .collect();
        let popular: Vec<u32> = (0..u32::from(count)).map(|i| i * 37 % 50).collect();
        let index = SearchIndex::build(&entries, &[], popular.clone());
        // Most popular first, then the word earlier in the description, then by port.
        let mut expected: Vec<u16> = (0..count).collect();
        expected.sort_by_key(|&port| {
            (
                std::cmp::Reverse(popular[usize::from(port)]),
                u16::from(port % 3 == 0),
                port,
            )
        });
        expected.truncate(MAX_RESULTS);
        assert_eq!(ports(&index, &entries, "common"), expected);
        assert_eq!(
            ports(&index, &entries, "common.common"),
            expected,
            "the same order when every posting is read"
        );
    }

    #[test]
    fn acronyms_are_learned_from_their_definitions() {
        let found = acronyms(
            [
                "Microsoft Remote Desktop Protocol (RDP) server",
                "Server Message Block (SMB) over IP",
                "Something (XYZ) that does not spell it",
                "Network File System (NFS); also (nfs) in lower case",
            ]
            .into_iter(),
        );
        assert_eq!(found["rdp"], ["remote", "desktop", "protocol"]);
        assert_eq!(found["smb"], ["server", "message", "block"]);
        assert_eq!(found["nfs"], ["network", "file", "system"]);
        assert!(!found.contains_key("xyz"));
    }

    #[test]
    fn common_uses_outrank_slightly_better_matches() {
        let entries = vec![
            entry(546, Some("dhcpv6-client"), "DHCPv6 client"),
            entry(
                67,
                Some("bootps"),
                "Bootstrap Protocol server; also used by DHCP",
            ),
            entry(9, Some("rare"), "rare service"),
            entry(10, None, "a rare thing"),
        ];
        let extra = [
            EntryWords::default(),
            EntryWords::default(),
            EntryWords::default(),
            EntryWords {
                names: vec!["rarely".into()],
                words: vec!["remote".into()],
            },
        ];
        let popular = vec![popularity(840, 3), popularity(228_010, 3), 0, 0];
        let index = SearchIndex::build(&entries, &extra, popular);
        assert_eq!(ports(&index, &entries, "dhcp"), [67, 546]);
        let flat = SearchIndex::build(&entries, &extra, Vec::new());
        assert_eq!(
            ports(&flat, &entries, "dhcp"),
            [546, 67],
            "a name prefix wins alone"
        );
        assert_eq!(
            ports(&index, &entries, "rarely"),
            [10],
            "extra names are names"
        );
        assert_eq!(
            ports(&index, &entries, "remote"),
            [10],
            "extra words are words"
        );
        assert_eq!(popularity(0, 2), 2);
        assert_eq!(popularity(999_999, 0), 60);
    }
}
