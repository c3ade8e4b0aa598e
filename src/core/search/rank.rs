//! Ranking: what a match costs, how popular a use is, the best entries so far, and the merge
//! of the candidates of several words.

use smallvec::SmallVec;

use super::{Candidates, MAX_RESULTS, Rank, Scored, pack, unpack};
use crate::core::model::EntryId;

/// What a match costs: weighted so that one better match class is worth about what a
/// fourfold more frequent port is.
pub(super) fn match_cost(worst: Rank, sum: u16) -> i32 {
    12 * i32::from(worst) + 4 * i32::from(sum)
}

/// The ranking bonus of a use from nmap's frequency of its port (millionths) and `other`
/// points (its status and the sources agreeing on it): ten points per tenfold frequency.
pub(crate) fn popularity(frequency: u32, other: u32) -> u32 {
    let tenfold = f64::from(frequency).ln_1p() / std::f64::consts::LN_10;
    (10.0 * tenfold).round() as u32 + other
}

/// The best [`MAX_RESULTS`] entries offered so far, each once, best first: each item is an
/// entry's score, position and id packed so that a lower number is a better entry.
#[derive(Default)]
pub(super) struct Best {
    items: SmallVec<[u128; MAX_RESULTS]>,
}

impl Best {
    /// Offers an entry with its score and position; an entry offered again keeps its best.
    #[inline]
    pub(super) fn offer(&mut self, score: i32, at: u32, id: EntryId) {
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

    /// Whether the list holds [`MAX_RESULTS`] entries already.
    pub(super) fn is_full(&self) -> bool {
        self.items.len() == MAX_RESULTS
    }

    /// The entries, best first.
    pub(super) fn ids(&self) -> impl Iterator<Item = EntryId> + '_ {
        self.items.iter().map(|&item| item as EntryId)
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

/// The scored entries that the next word also matches, with that word's rank added.
pub(super) fn intersect_scored(scored: &Scored, candidates: &[u64]) -> Scored {
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
