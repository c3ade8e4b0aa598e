//! What changed between two versions of the zone: the zone walked as a sequence of names with
//! their records, each name under a key that orders it the same way in every version
//! ([`NameKey`]), and two such walks merged into the records deleted and added (RFC 1995's
//! difference). A walk comes from a snapshot in memory ([`walk`]) or from the zone as it was
//! served before a restart, read back from the state directory (`stored.rs`), and the same
//! merge compares either with the snapshot served now.

use std::cmp::Ordering;
use std::iter::Peekable;

use crate::core::answer::Record;
use crate::core::contents::{Contents, Position};
use crate::core::owner_name::OwnerName;
use crate::core::zone::{Snapshot, Zone};
use crate::wire::{RecordType, Uncompressed, write_rdata};

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

impl ChangedRecord {
    /// Appends the record in its form on disk: owner (length, wire form), type, data (length,
    /// bytes), numbers big-endian.
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        let owner = self.owner.wire();
        out.push(owner.len() as u8);
        out.extend_from_slice(owner);
        out.extend_from_slice(&u16::from(self.rtype).to_be_bytes());
        out.extend_from_slice(&(self.rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.rdata);
    }

    /// The bytes [`ChangedRecord::write`] writes.
    fn size(&self) -> u64 {
        5 + self.owner.wire().len() as u64 + self.rdata.len() as u64
    }

    /// Reads one record from the front of `bytes`.
    pub(super) fn read(bytes: &mut Reader<'_>) -> Option<ChangedRecord> {
        let length = usize::from(bytes.u8()?);
        let owner = OwnerName::from_wire(bytes.take(length)?)?;
        let rtype = RecordType::from(bytes.u16()?);
        let rdata_length = usize::from(bytes.u16()?);
        let rdata = bytes.take(rdata_length)?.into();
        Some(ChangedRecord {
            owner,
            rtype,
            rdata,
        })
    }
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
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        for value in [
            self.from,
            self.to,
            self.deleted.len() as u32,
            self.added.len() as u32,
        ] {
            out.extend_from_slice(&value.to_be_bytes());
        }
        for record in self.deleted.iter().chain(&self.added) {
            record.write(out);
        }
    }

    /// The bytes [`Difference::write`] writes.
    pub(super) fn size(&self) -> u64 {
        let records = self.deleted.iter().chain(&self.added);
        16 + records.map(ChangedRecord::size).sum::<u64>()
    }

    /// Reads one difference from the front of `bytes`.
    pub(super) fn read(bytes: &mut Reader<'_>) -> Option<Difference> {
        let (from, to) = (bytes.u32()?, bytes.u32()?);
        let (deleted, added) = (bytes.u32()? as usize, bytes.u32()? as usize);
        let mut read_records = |count: usize| -> Option<Vec<ChangedRecord>> {
            // Each record takes at least five bytes: no count can claim more than are left.
            let mut records = Vec::with_capacity(count.min(bytes.left() / 5));
            for _ in 0..count {
                records.push(ChangedRecord::read(bytes)?);
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

/// Where a name stands in the zone's order, the same in every version of the zone: the
/// positions before the service names are fixed by the naming scheme; a service name is
/// placed by its text (the table lists them sorted), then its protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NameKey {
    /// A position before the service names ([`Position::Apex`] to [`Position::Registry`]).
    Fixed(Position),
    /// A service name and its protocol index (as [`Position::Service`] has it).
    Service(Box<[u8]>, u8),
}

/// One name of the zone with its records (the SOA left out: it is not part of a difference's
/// body), sorted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Named {
    pub(super) key: NameKey,
    pub(super) records: Vec<ChangedRecord>,
}

/// The records at one name as comparable owned values.
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

/// Every name of `snapshot` served as `zone` that holds records, in the zone's order. A
/// snapshot with a ZONEMD record waits for its digest (at the apex, the first name).
pub(crate) fn walk<'s>(zone: &'s Zone, snapshot: &'s Snapshot) -> impl Iterator<Item = Named> + 's {
    let contents = Contents::new(zone, snapshot);
    let mut position = Position::Apex;
    let mut name = OwnerName::default();
    std::iter::from_fn(move || {
        while position != Position::End {
            let at = position;
            position = contents.after(at);
            if !contents.name_at(at, &mut name) {
                continue;
            }
            let Some(records) = contents.records(at, &name) else {
                continue;
            };
            let records = owned_records(zone, &name, &records);
            if records.is_empty() {
                continue;
            }
            let key = match at {
                Position::Service(n, p) => {
                    NameKey::Service(snapshot.table.service_name(n as usize).into(), p)
                }
                fixed => NameKey::Fixed(fixed),
            };
            return Some(Named { key, records });
        }
        None
    })
}

/// The difference from the zone walked by `old` (served as serial `from`) to the one walked by
/// `new` (serial `to`), or `None` when it is larger than [`MAX_DIFFERENCE_RECORDS`]. Both walks
/// must be in the zone's order ([`NameKey`]).
pub(crate) fn difference(
    (from, old): (u32, impl Iterator<Item = Named>),
    (to, new): (u32, impl Iterator<Item = Named>),
) -> Option<Difference> {
    let (mut old, mut new): (Peekable<_>, Peekable<_>) = (old.peekable(), new.peekable());
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(was), Some(is)) => was.key.cmp(&is.key),
        };
        let was = (order != Ordering::Greater).then(|| old.next()).flatten();
        let is = (order != Ordering::Less).then(|| new.next()).flatten();
        let (was, is) = (
            was.map_or_else(Vec::new, |n| n.records),
            is.map_or_else(Vec::new, |n| n.records),
        );
        if was != is {
            deleted.extend(was.iter().filter(|r| is.binary_search(r).is_err()).cloned());
            added.extend(is.into_iter().filter(|r| was.binary_search(r).is_err()));
            if deleted.len() + added.len() > MAX_DIFFERENCE_RECORDS {
                return None;
            }
        }
    }
    Some(Difference {
        from,
        to,
        deleted,
        added,
    })
}

/// The difference between two snapshots of the zone, both served as `zone`.
pub(crate) fn between(zone: &Zone, old: &Snapshot, new: &Snapshot) -> Option<Difference> {
    difference((old.serial, walk(zone, old)), (new.serial, walk(zone, new)))
}

/// A cursor over the bytes of a journal or a stored zone.
pub(super) struct Reader<'b>(pub(super) &'b [u8]);

impl<'b> Reader<'b> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }

    pub(super) fn left(&self) -> usize {
        self.0.len()
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}
