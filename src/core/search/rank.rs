//! Ranking: what a match costs, how popular a use is, the best entries so far, and the merge
//! of the candidates of several words.

use smallvec::SmallVec;

use super::{
    Candidates, MAX_RESULTS, Position, Rank, WORD_PREFIX, first_at, pack, repeats, unpack,
};
use crate::core::model::EntryId;

/// Which words of a query an entry matches: bit `i` for the query's `i`th word.
pub(crate) type Matched = u8;

/// What ranks a use below every use matching as many words through names and whole words: a
/// word matching it only as the prefix of a longer word (`redis` in `redistributions`).
const PREFIX_TIER: i32 = 1 << 12;

/// What ranks a use below every use matching one more of the query's words (more than the
/// [`rarity`] of all the words it leaves out).
const MISSING_TIER: i32 = 1 << 21;

/// The score of a use matching a query (lower is better): first how many of the query's words
/// it leaves out, then whether a word matches it only as a prefix of a longer word, then what
/// its matches cost less its popularity (`bonus`).
pub(super) fn score(worst: Rank, sum: u16, missing: u32, bonus: i32) -> i32 {
    let tier = if worst == WORD_PREFIX { PREFIX_TIER } else { 0 };
    // `missing` is below MAX_WORDS, so the product stays far from overflow.
    MISSING_TIER * missing as i32 + tier + match_cost(worst, sum) - bonus
}

/// The ranking bonus of a word's further uses in an entry's texts (`server` twice in
/// `Microsoft SQL Server ... server` and once more in nmap's `Microsoft-SQL-Server`): a text that
/// keeps saying a word is about it, so `sql server` finds 1433 before 1434, the monitor.
pub(super) fn repeat_bonus(repeats: u8) -> i32 {
    5 * i32::from(repeats)
}

/// How much leaving out a query word that `matching` of `entries` uses match costs a partial
/// match, from the word's rarity (its inverse document frequency), in the units of
/// [`popularity`]: twenty points per tenfold rarity. Leaving out `server`, which thousands of
/// uses have, costs little; leaving out `redis` costs much; and among uses leaving out words of
/// about equal rarity the common use still comes first (`sending email` finds SMTP on 25, which
/// leaves out `sending`, before a messenger that leaves out `email`).
pub(super) fn rarity(matching: usize, entries: usize) -> i32 {
    let share = (entries.max(1) as f64) / (matching.max(1) as f64);
    (share.log10().max(0.0) * 30.0).round() as i32
}

/// What a match costs: weighted so that one step of rank is worth about what a fourfold more
/// frequent port is. A name is two steps ahead of a whole word, which is one ahead of a name's
/// prefix and two ahead of a word's.
fn match_cost(worst: Rank, sum: u16) -> i32 {
    12 * i32::from(worst) + 4 * i32::from(sum)
}

/// The ranking bonus of a use from nmap's frequency of its port (millionths) and `other`
/// points (its status and the sources agreeing on it): ten points per tenfold frequency.
pub(crate) fn popularity(frequency: u32, other: u32) -> i32 {
    let tenfold = f64::from(frequency).ln_1p() / std::f64::consts::LN_10;
    (10.0 * tenfold).round() as i32 + i32::try_from(other).unwrap_or(i32::MAX / 2)
}

/// The popularity of a use whose text says it is of the past (`Old radacct port`): it comes
/// after every use of today matching as well, whatever their popularity and repeated words,
/// and before the uses matched only by a prefix of a longer word ([`PREFIX_TIER`]).
pub(crate) const PAST: i32 = -(PREFIX_TIER / 2);

/// The best [`MAX_RESULTS`] entries offered so far, each once, best first: each item is an
/// entry's score, position, id and matched words packed so that a lower number is a better
/// entry.
#[derive(Default)]
pub(super) struct Best {
    items: SmallVec<[u128; MAX_RESULTS]>,
}

impl Best {
    /// Offers an entry with its score, position and the query words it matches; an entry
    /// offered again keeps its best. Most offers of a long list lose to the tenth best: that
    /// comparison is inlined where the offers are made, the rest is not.
    #[inline(always)]
    pub(super) fn offer(&mut self, score: i32, at: u32, id: EntryId, matched: Matched) {
        // Flipping the sign bit orders the scores as unsigned numbers.
        let score = (score as u32) ^ (1 << 31);
        let key = (u128::from(score) << 96)
            | (u128::from(at) << 64)
            | (u128::from(id) << 32)
            | u128::from(matched);
        if self.is_full() && key >= self.items[MAX_RESULTS - 1] {
            return;
        }
        self.admit(key, id);
    }

    /// Puts an offered entry that beats the tenth best (or comes before there are ten) in its
    /// place, unless the list has it already at least as well ranked.
    #[inline(never)]
    fn admit(&mut self, key: u128, id: EntryId) {
        let full = self.is_full();
        if let Some(seen) = self.items.iter().position(|&item| Best::id(item) == id) {
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

    fn id(item: u128) -> EntryId {
        (item >> 32) as EntryId
    }

    /// Whether the list holds [`MAX_RESULTS`] entries already.
    pub(super) fn is_full(&self) -> bool {
        self.items.len() == MAX_RESULTS
    }

    /// The entries, best first, each with the query words it matches.
    pub(super) fn entries(&self) -> impl Iterator<Item = (EntryId, Matched)> + '_ {
        self.items
            .iter()
            .map(|&item| (Best::id(item), item as Matched))
    }
}

/// The entries in both lists (ascending by id), each with its worse rank and later position.
pub(super) fn intersect(a: &[u64], b: &[u64]) -> Candidates {
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

/// Candidates for the whole query: each entry with what its matched words add up to.
pub(super) type Scored = SmallVec<[(EntryId, Tally); 32]>;

/// What the words an entry matches add up to: the worst rank, and the sums of the ranks, of
/// the words' first places and of their further uses.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    worst: Rank,
    sum: u16,
    at: u32,
    repeated: u8,
}

impl Tally {
    /// The tally of one word matched with `rank` at `place`.
    pub(super) fn of(rank: Rank, place: Position) -> Tally {
        let mut tally = Tally::default();
        tally.add(rank, place);
        tally
    }

    /// One more word matched with `rank` at `place`.
    pub(super) fn add(&mut self, rank: Rank, place: Position) {
        self.worst = self.worst.max(rank);
        self.sum += u16::from(rank);
        self.at += first_at(place);
        self.repeated += repeats(place);
    }

    /// Offers entry `id`, matching the words `matched` and leaving out `missing` others that
    /// cost `missed`, to `best`, with its popularity `bonus`.
    #[inline(always)]
    pub(super) fn offer(
        &self,
        best: &mut Best,
        id: EntryId,
        matched: Matched,
        (missing, missed): (u32, i32),
        bonus: i32,
    ) {
        let bonus = bonus + repeat_bonus(self.repeated) - missed;
        best.offer(
            score(self.worst, self.sum, missing, bonus),
            self.at,
            id,
            matched,
        );
    }
}

/// The scored entries that the next word also matches, with that word's rank added.
pub(super) fn intersect_scored(scored: &Scored, candidates: &[u64]) -> Scored {
    let mut out = Scored::new();
    let mut next = candidates.iter().map(|&c| unpack(c)).peekable();
    for &(id, tally) in scored {
        while next.next_if(|&(other, ..)| other < id).is_some() {}
        if let Some(&(other, rank, at)) = next.peek()
            && other == id
        {
            let mut tally = tally;
            tally.add(rank, at);
            out.push((id, tally));
        }
    }
    out
}
