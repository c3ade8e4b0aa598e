//! The journal IXFR answers from: the differences between the last few serials, computed when
//! a reload swaps tables by walking both snapshots in the zone's order.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::core::answer::Record;
use crate::core::contents::{Contents, Position};
use crate::core::owner_name::OwnerName;
use crate::core::zone::{Snapshot, Zone, rtype};

use crate::wire::{Uncompressed, write_rdata};

/// How many differences the journal keeps: IXFR from any of the last this many serials is
/// incremental.
pub(crate) const JOURNAL_DEPTH: usize = 8;
/// A difference with more records than this is not kept: the whole zone is about 363,000
/// records, and past this size an AXFR costs the secondary less than applying the change.
pub(crate) const MAX_DIFFERENCE_RECORDS: usize = 100_000;

/// One record of a difference, owned (the snapshot it came from may be gone).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ChangedRecord {
    pub(super) owner: OwnerName,
    pub(super) rtype: u16,
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
}

/// The differences between the last few serials, oldest first, each leading to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal {
    differences: VecDeque<Arc<Difference>>,
}

impl Journal {
    /// The journal after a reload from `old` to `new`: the new difference appended (the oldest
    /// dropped past [`JOURNAL_DEPTH`]), or an empty journal when the difference is too large
    /// to keep (IXFR from older serials then gets the whole zone).
    pub(crate) fn after_reload(&self, zone: &Zone, old: &Snapshot, new: &Snapshot) -> Journal {
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
        while differences.len() > JOURNAL_DEPTH {
            differences.pop_front();
        }
        Journal { differences }
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
        .filter(|r| r.data.rtype() != rtype::SOA)
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
