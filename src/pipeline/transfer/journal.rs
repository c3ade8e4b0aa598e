//! The journal IXFR answers from: the differences between the last few serials, computed when
//! a reload swaps tables by walking both snapshots in the zone's order, bounded in size
//! (`--journal-max-bytes`, the oldest dropped first), and its form on disk (`--state-dir`), so
//! that a secondary behind by a change made before a restart still gets an IXFR.
//!
//! On disk: a first line naming the format, the number of differences, each difference (its
//! serials, then its records: owner in wire form, type, data), all numbers big-endian, and a
//! SHA-256 of everything before it. A file that is cut short or altered fails the digest or the
//! reading, and is never half used.

use std::collections::VecDeque;
use std::sync::Arc;

use ring::digest::{SHA256, digest};

use super::difference::{self, Difference, Reader};
use crate::core::zone::{Snapshot, Zone};

/// How many differences the journal keeps: IXFR from any of the last this many serials is
/// incremental.
pub(crate) const JOURNAL_DEPTH: usize = 8;
/// The most bytes the journal's differences take on disk by default (as Knot's default
/// `journal-max-usage`): a change of a few entries takes a few KB, the largest difference kept
/// ([`difference::MAX_DIFFERENCE_RECORDS`]) about 10 MB.
pub const DEFAULT_JOURNAL_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// The first line of a journal file: the format and its version.
const MAGIC: &[u8] = b"portsd journal 1\n";
/// The bytes of the trailing SHA-256.
const DIGEST_BYTES: usize = 32;
/// Why a journal file was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JournalError {
    /// Not a journal of this format.
    #[error("not a portsd journal of this version")]
    Format,
    /// Cut short, or changed since it was written.
    #[error("truncated or corrupt (its digest does not match)")]
    Digest,
    /// Its digest matches but its contents cannot be read: damage the digest missed.
    #[error("its contents cannot be read")]
    Contents,
}

/// The differences between the last few serials, oldest first, each leading to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal {
    differences: VecDeque<Arc<Difference>>,
}

impl Journal {
    /// The journal after a reload from `old` to `new` (see [`Journal::extended`]).
    pub(crate) fn after_reload(
        &self,
        zone: &Zone,
        old: &Snapshot,
        new: &Snapshot,
        max_bytes: u64,
    ) -> Journal {
        if old.serial == new.serial {
            return self.clone();
        }
        self.extended(difference::between(zone, old, new), max_bytes)
    }

    /// The journal with `difference` appended (the differences before it dropped when they do
    /// not lead to where it starts, the oldest dropped past [`JOURNAL_DEPTH`] or while they take
    /// more than `max_bytes` on disk), or an empty journal when there is no difference to keep
    /// (it was too large: IXFR from older serials then gets the whole zone).
    pub(crate) fn extended(&self, difference: Option<Difference>, max_bytes: u64) -> Journal {
        let Some(difference) = difference else {
            return Journal::default();
        };
        let mut differences = self.differences.clone();
        if differences
            .back()
            .is_some_and(|last| last.to != difference.from)
        {
            differences.clear();
        }
        differences.push_back(Arc::new(difference));
        let mut bytes: u64 = differences.iter().map(|d| d.size()).sum();
        while differences.len() > JOURNAL_DEPTH || bytes > max_bytes {
            bytes -= differences.pop_front().map_or(0, |d| d.size());
        }
        Journal { differences }
    }

    /// The journal in its form on disk.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(self.differences.len() as u32).to_be_bytes());
        for difference in &self.differences {
            difference.write(&mut out);
        }
        let sum = digest(&SHA256, &out);
        out.extend_from_slice(sum.as_ref());
        out
    }

    /// A journal read back from [`Journal::to_bytes`]'s form; an error for anything else (cut
    /// short, altered, another format, differences that do not lead one to the next).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Journal, JournalError> {
        if !bytes.starts_with(MAGIC) {
            return Err(JournalError::Format);
        }
        let (body, sum) = bytes
            .split_at_checked(bytes.len().saturating_sub(DIGEST_BYTES))
            .filter(|(body, _)| body.len() >= MAGIC.len())
            .ok_or(JournalError::Digest)?;
        if digest(&SHA256, body).as_ref() != sum {
            return Err(JournalError::Digest);
        }
        let mut reader = Reader(&body[MAGIC.len()..]);
        let count = reader.u32().ok_or(JournalError::Contents)?;
        let mut differences = VecDeque::new();
        for _ in 0..count {
            let difference = Difference::read(&mut reader).ok_or(JournalError::Contents)?;
            if differences
                .back()
                .is_some_and(|last: &Arc<Difference>| last.to != difference.from)
            {
                return Err(JournalError::Contents);
            }
            differences.push_back(Arc::new(difference));
        }
        if reader.left() != 0 {
            return Err(JournalError::Contents);
        }
        Ok(Journal { differences })
    }

    /// The serial the journal leads to, when it holds a difference.
    pub(crate) fn last_serial(&self) -> Option<u32> {
        self.differences.back().map(|d| d.to)
    }

    /// The differences leading from `serial` to `current`, when the journal holds all of them.
    pub(super) fn chain(&self, serial: u32, current: u32) -> Option<Vec<Arc<Difference>>> {
        let start = self.differences.iter().position(|d| d.from == serial)?;
        let chain: Vec<Arc<Difference>> = self.differences.range(start..).cloned().collect();
        (chain.last()?.to == current).then_some(chain)
    }

    /// The differences kept, oldest first.
    #[cfg(test)]
    pub(crate) fn differences(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().map(|d| &**d)
    }
}
