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

use crate::core::answer::Record;
use crate::core::contents::{Contents, Position};
use crate::core::owner_name::OwnerName;
use crate::core::zone::{Snapshot, Zone};

use crate::wire::{RecordType, Uncompressed, write_rdata};

/// How many differences the journal keeps: IXFR from any of the last this many serials is
/// incremental.
pub(crate) const JOURNAL_DEPTH: usize = 8;
/// The most bytes the journal's differences take on disk by default (as Knot's default
/// `journal-max-usage`): a change of a few entries takes a few KB, the largest difference kept
/// ([`MAX_DIFFERENCE_RECORDS`]) about 10 MB.
pub const DEFAULT_JOURNAL_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// The first line of a journal file: the format and its version.
const MAGIC: &[u8] = b"portsd journal 1\n";
/// The bytes of the trailing SHA-256.
const DIGEST_BYTES: usize = 32;
/// A difference with more records than this is not kept: the whole zone is about 363,000
/// records, and past this size an AXFR costs the secondary less than applying the change.
pub(crate) const MAX_DIFFERENCE_RECORDS: usize = 100_000;

/// One record of a difference, owned (the snapshot it came from may be gone).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ChangedRecord {
    pub(super) owner: OwnerName,
    pub(super) rtype: RecordType,
    pub(super) rdata: Box<[u8]>,
}

/// The change from one serial to the next: what to delete and what to add (RFC 1995).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Difference {
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) deleted: Vec<ChangedRecord>,
    pub(super) added: Vec<ChangedRecord>,
}

impl Difference {
    /// The serial the difference starts from and the one it leads to.
    #[cfg(test)]
    pub(crate) fn serials(&self) -> (u32, u32) {
        (self.from, self.to)
    }

    /// Appends the difference in its form on disk.
    fn write(&self, out: &mut Vec<u8>) {
        for value in [
            self.from,
            self.to,
            self.deleted.len() as u32,
            self.added.len() as u32,
        ] {
            out.extend_from_slice(&value.to_be_bytes());
        }
        for record in self.deleted.iter().chain(&self.added) {
            let owner = record.owner.wire();
            out.push(owner.len() as u8);
            out.extend_from_slice(owner);
            out.extend_from_slice(&u16::from(record.rtype).to_be_bytes());
            out.extend_from_slice(&(record.rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&record.rdata);
        }
    }

    /// The bytes [`Difference::write`] writes.
    fn size(&self) -> u64 {
        let records = self.deleted.iter().chain(&self.added);
        16 + records
            .map(|r| 5 + r.owner.wire().len() as u64 + r.rdata.len() as u64)
            .sum::<u64>()
    }

    /// Reads one difference from the front of `bytes`.
    fn read(bytes: &mut Reader<'_>) -> Option<Difference> {
        let (from, to) = (bytes.u32()?, bytes.u32()?);
        let (deleted, added) = (bytes.u32()? as usize, bytes.u32()? as usize);
        let mut read_records = |count: usize| -> Option<Vec<ChangedRecord>> {
            // Each record takes at least five bytes: no count can claim more than are left.
            let mut records = Vec::with_capacity(count.min(bytes.left() / 5));
            for _ in 0..count {
                let length = usize::from(bytes.u8()?);
                let owner = OwnerName::from_wire(bytes.take(length)?)?;
                let rtype = RecordType::from(bytes.u16()?);
                let rdata_length = usize::from(bytes.u16()?);
                let rdata = bytes.take(rdata_length)?.into();
                records.push(ChangedRecord {
                    owner,
                    rtype,
                    rdata,
                });
            }
            Some(records)
        };
        Some(Difference {
            from,
            to,
            deleted: read_records(deleted)?,
            added: read_records(added)?,
        })
    }
}

/// A cursor over a journal file's bytes.
struct Reader<'b>(&'b [u8]);

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }

    fn left(&self) -> usize {
        self.0.len()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

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
    /// The journal after a reload from `old` to `new`: the new difference appended (the oldest
    /// dropped past [`JOURNAL_DEPTH`], or while they take more than `max_bytes` on disk), or an
    /// empty journal when the difference is too large to keep (IXFR from older serials then
    /// gets the whole zone).
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
        let Some(difference) = difference(zone, old, new) else {
            return Journal::default();
        };
        let mut differences = self.differences.clone();
        if differences.back().is_some_and(|last| last.to != old.serial) {
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

/// The records at one name, as comparable owned values (the SOA left out: it is not part of
/// a difference's body).
fn owned_records(zone: &Zone, name: &OwnerName, records: &[Record<'_>]) -> Vec<ChangedRecord> {
    let mut owned: Vec<ChangedRecord> = records
        .iter()
        .filter(|r| r.data.rtype() != RecordType::SOA)
        .map(|r| {
            let mut rdata = Vec::new();
            write_rdata(&mut Uncompressed(&mut rdata), zone, &r.data);
            ChangedRecord {
                owner: name.clone(),
                rtype: r.data.rtype(),
                rdata: rdata.into_boxed_slice(),
            }
        })
        .collect();
    owned.sort();
    owned
}

/// Adds the records of `old` missing from `new` to `deleted`, and those of `new` missing from
/// `old` to `added`. Both are sorted.
fn compare(
    old: Vec<ChangedRecord>,
    new: Vec<ChangedRecord>,
    deleted: &mut Vec<ChangedRecord>,
    added: &mut Vec<ChangedRecord>,
) {
    deleted.extend(
        old.iter()
            .filter(|r| new.binary_search(r).is_err())
            .cloned(),
    );
    added.extend(new.into_iter().filter(|r| old.binary_search(r).is_err()));
}

/// The difference between two snapshots of the zone, or `None` when it is larger than
/// [`MAX_DIFFERENCE_RECORDS`]. Walks both in the zone's order: the apex, the name server and
/// the ports are at the same positions in both, the service names are merged by name.
fn difference(zone: &Zone, old: &Snapshot, new: &Snapshot) -> Option<Difference> {
    let (before, after) = (Contents::new(zone, old), Contents::new(zone, new));
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    let (mut old_name, mut new_name) = (OwnerName::default(), OwnerName::default());
    let records_at = |contents: &Contents<'_>, position, name: &mut OwnerName| {
        if !contents.name_at(position, name) {
            return Vec::new();
        }
        contents
            .records(position, name)
            .map_or_else(Vec::new, |records| owned_records(zone, name, &records))
    };
    let too_large =
        |deleted: &Vec<_>, added: &Vec<_>| deleted.len() + added.len() > MAX_DIFFERENCE_RECORDS;
    let mut position = Position::Apex;
    while position < Position::Service(0, 0) && position != Position::End {
        let was = records_at(&before, position, &mut old_name);
        let is = records_at(&after, position, &mut new_name);
        if was != is {
            compare(was, is, &mut deleted, &mut added);
            if too_large(&deleted, &added) {
                return None;
            }
        }
        position = after.after(position);
    }
    let (old_count, new_count) = (old.table.service_count(), new.table.service_count());
    let (mut i, mut j) = (0, 0);
    while i < old_count || j < new_count {
        let order = match (i < old_count, j < new_count) {
            (true, true) => old.table.service_name(i).cmp(new.table.service_name(j)),
            (true, false) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        for protocol in 0..=4 {
            let was = match order {
                std::cmp::Ordering::Greater => Vec::new(),
                _ => records_at(
                    &before,
                    Position::Service(i as u32, protocol),
                    &mut old_name,
                ),
            };
            let is = match order {
                std::cmp::Ordering::Less => Vec::new(),
                _ => records_at(&after, Position::Service(j as u32, protocol), &mut new_name),
            };
            if was != is {
                compare(was, is, &mut deleted, &mut added);
            }
        }
        if too_large(&deleted, &added) {
            return None;
        }
        match order {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => (i, j) = (i + 1, j + 1),
        }
    }
    Some(Difference {
        from: old.serial,
        to: new.serial,
        deleted,
        added,
    })
}
