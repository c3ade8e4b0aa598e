//! Keyword search over the table: an index of service names and description words built once
//! per table, so a query costs a few binary searches and the merge of short lists, never a scan
//! of the descriptions. A query of one word sorts nothing: each match is offered to a list of
//! the ten best so far, and a long posting list is read only as far as its ten best, kept
//! aside when the index is built.
//!
//! An entry's names are its service name, the system's names for it, nmap's name for its port
//! (when the name stands for this use) and the synonym list's words for it; its words are those
//! of its description, of the parts of nmap's comment on its port that are about it, of the
//! synonym list's phrases for it, the expansions of the acronyms among them that some text of
//! the data defines (`Remote Desktop Protocol (RDP)`), and the kindred words of those it has
//! (`tls`, `ssl`, `secure`; `http`, `web`): see `Table::search_words`. A compound (`Counter-Strike`, `xmpp-client`) is found by its parts
//! and by its joined form (`counterstrike`).
//!
//! A query word matches an entry in one of four ways, best first: it is one of the entry's
//! names, it is a whole word of the entry, a name starts with it, a word of the entry starts
//! with it (a service name or a whole word before the prefix of a longer name: `submission`
//! finds 587's `submission` before 465's `submissions`). A word of six letters or more ending in
//! `e` also matches, as a word's prefix, the words continuing its stem (`alternate`:
//! `alternative`). An entry's score is, in order: how many
//! of the query's words it leaves out (uses matching every word come first; a question with a
//! word the data never uses still answers, from the uses matching most of its words, and says
//! which words they leave out; among those, each word left out costs by its rarity in the units
//! of popularity, [`rank::rarity`]; a word more than one use in twenty has, such as `server`,
//! is common: leaving it out costs only its rarity, so `ldap server` finds LDAP's own port
//! before the LDAP admin server); whether a
//! word matches it only as the prefix of a longer word (`redis` in `redistributions` comes after
//! every use named or described by `redis`); then what its matches cost ([`rank::score`]: its
//! worst-matching word and the sum over its words) less how common the use is ([`popularity`]:
//! nmap's frequency of its port, its status, how many sources agree; a use its text calls past
//! has [`rank::PAST`]'s), so a use found open on a
//! quarter of all hosts outranks a rare one that matches a little better. Ties go to the use
//! whose words come earlier in its description (`Minecraft server` before `a viewer for
//! Minecraft`), then to table order (so by port, local entries first). Words compare in lower
//! case; the description's words are its runs of letters and digits. A query word of one
//! character matches only whole names and words, and so does a prefix shared by more than
//! [`PREFIX_BUDGET`] names or description-word occurrences (`se`, the start of `server`,
//! `service`, `secure` and hundreds more): ranking thousands of equally vague matches would
//! cost a hundred times a port answer and tell the asker nothing. A query of more than
//! [`MAX_WORDS`] words matches nothing.
//!
//! The index is built in [`build`] (once per table), a query is read against it in [`query`],
//! and [`rank`] holds what orders the matches: the score of a match, the popularity of a use
//! and the list of the best entries so far.

pub(crate) mod build;
mod query;
pub(crate) mod rank;
#[cfg(test)]
mod tests;
mod words;

use crate::core::model::EntryId;
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
const WHOLE_WORD: Rank = 2;
const NAME_PREFIX: Rank = 3;
const WORD_PREFIX: Rank = 4;

/// Where in an entry's texts a word first comes (names count as position 0), in the low 14
/// bits, and how many more times the texts use it (at most 3), in the top 2: see [`place`].
type Position = u16;

/// A [`Position`]: the first place `at` (at most 16383) and the further uses `repeats`.
fn place(at: usize, repeats: usize) -> Position {
    (at.min(0x3FFF) as Position) | ((repeats.min(3) as Position) << 14)
}

/// The first place of a [`Position`].
fn first_at(position: Position) -> u32 {
    u32::from(position & 0x3FFF)
}

/// The further uses of a [`Position`]'s word in the entry's texts.
fn repeats(position: Position) -> u8 {
    (position >> 14) as u8
}

/// Candidates for one query word, each packed as [`pack`] makes it so that sorting them sorts
/// by entry id, then rank, then position.
type Candidates = Vec<u64>;

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

/// Sorts candidates by entry id and keeps each entry's best match. The candidates are mostly
/// runs sorted already (each posting list is, and the names come before them), which the
/// standard library's stable sort finds and merges in one pass: for a word in one use of
/// eleven (`server`) that is a few thousand instructions where sorting from scratch was a
/// hundred thousand. Equal candidates are equal numbers, so the order is the unstable sort's.
fn sort_dedup(found: &mut Candidates) {
    found.sort();
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

/// The search index of one table.
#[derive(Clone, Debug, Default)]
pub(crate) struct SearchIndex {
    /// Every lower-cased name, sorted, and in `name_ids` the entry of each (one item per
    /// (name, entry) pair): exact and prefix matches are a range.
    names: Packed,
    name_ids: Vec<EntryId>,
    /// Where each [`build::bucket`] of `names` starts.
    name_starts: Box<[u32]>,
    /// Distinct lower-cased description words, sorted.
    words: Packed,
    /// Where each [`build::bucket`] of `words` starts.
    word_starts: Box<[u32]>,
    /// `postings[offsets[i]..offsets[i + 1]]` are the entries whose description has `words[i]`,
    /// ascending, each with the word's first position in it.
    offsets: Vec<u32>,
    postings: Vec<(EntryId, Position)>,
    /// For each word with more than [`TOP_AFTER`] postings (by index into `words`, ascending),
    /// its [`MAX_RESULTS`] postings that rank best on their own.
    tops: Vec<(u32, [(EntryId, Position); MAX_RESULTS])>,
    /// Each entry's [`popularity`].
    popularity: Vec<i32>,
}
impl SearchIndex {
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
        self.popularity.get(id as usize).copied().unwrap_or(0)
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
}
