//! The zone's message digest, ZONEMD (RFC 8976): scheme SIMPLE, SHA-384 over every record of
//! the zone in canonical form and order (RFC 4034 6.2 and 6.3), the apex ZONEMD left out.
//! Computed once per snapshot, never per query: before a reloaded table is served (the old one
//! answers meanwhile), and at start-up on a thread of its own while the first table already
//! answers (whatever writes the record, a ZONEMD answer or a transfer, waits for it:
//! `core::zone::ZoneDigest`). The record then travels like any other at the apex (answers,
//! AXFR, the journal's differences, `export-zone`).
//!
//! The zone's one enumeration (`core::contents`) lists names in the walk's order, not in the
//! canonical one, so the digest first spells every name once and sorts them by their labels
//! read from the right, then fetches each name's records again in that order. Only the names
//! are held (in one buffer), never the records: the zone's records would be tens of MB.

use std::cmp::Ordering;
use std::ops::Range;

use ring::digest::{Context, SHA384};

use super::types::{self, DNSClass, RecordType};
use super::{Uncompressed, write_rdata};
use crate::core::contents::{Contents, Position};
use crate::core::owner_name::OwnerName;
use crate::core::zone::{Snapshot, Zone, ZoneDigest};

/// The SIMPLE scheme (RFC 8976 5.2).
const SCHEME_SIMPLE: u8 = 1;
/// SHA-384 (RFC 8976 5.3).
const HASH_SHA384: u8 = 1;

impl Snapshot {
    /// The snapshot with its ZONEMD record computed for `zone`: what `export-zone` and a
    /// reload hold. Takes about as long as one AXFR of the zone.
    pub fn with_digest(self, zone: &Zone) -> Snapshot {
        let snapshot = self.digest_pending();
        snapshot.compute_digest(zone);
        snapshot
    }

    /// The snapshot with a ZONEMD record still to be computed ([`Snapshot::compute_digest`]):
    /// it answers at once, and writing the record waits for the digest.
    pub(crate) fn digest_pending(mut self) -> Snapshot {
        self.zonemd = ZoneDigest::pending();
        self
    }

    /// Computes the ZONEMD record of a snapshot made with [`Snapshot::digest_pending`] for
    /// `zone`, and publishes it to whoever waits for it.
    pub(crate) fn compute_digest(&self, zone: &Zone) {
        let digest = digest(zone, self);
        let mut rdata = Vec::with_capacity(6 + digest.len());
        rdata.extend_from_slice(&self.serial.to_be_bytes());
        rdata.extend_from_slice(&[SCHEME_SIMPLE, HASH_SHA384]);
        rdata.extend_from_slice(&digest);
        self.zonemd.set(rdata.into_boxed_slice());
    }
}

/// The names of the zone, each as its labels rightmost first (each after its length) in one
/// buffer, with where the walk finds it.
struct Names {
    keys: Vec<u8>,
    /// Where each name's key starts in `keys` and ends, and its position in the walk.
    names: Vec<(u32, u32, Position)>,
}

impl Names {
    fn key(&self, name: &(u32, u32, Position)) -> &[u8] {
        &self.keys[name.0 as usize..name.1 as usize]
    }
}

/// Labels in canonical order (RFC 4034 6.1): compared from the rightmost, each as a string of
/// lower-case octets, a name sorting before the names below it. `a` and `b` hold the labels
/// rightmost first, each after its length.
fn canonical_order(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.split_first(), b.split_first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((&la, ra)), Some((&lb, rb))) => {
                let (la, lb) = (usize::from(la), usize::from(lb));
                match ra[..la].cmp(&rb[..lb]) {
                    Ordering::Equal => (a, b) = (&ra[la..], &rb[lb..]),
                    order => return order,
                }
            }
        }
    }
}

/// Every name of the zone holding records, in canonical order.
fn sorted_names(contents: &Contents<'_>) -> Names {
    let mut all = Names {
        keys: Vec::new(),
        names: Vec::new(),
    };
    let mut name = OwnerName::default();
    contents.visit_from(Position::Apex, &mut name, |at, name, _| {
        let start = all.keys.len() as u32;
        for label in name.labels().iter().rev() {
            all.keys.push(label.len() as u8);
            all.keys.extend(label.iter().map(u8::to_ascii_lowercase));
        }
        all.names.push((start, all.keys.len() as u32, at));
        true
    });
    let mut names = std::mem::take(&mut all.names);
    names.sort_unstable_by(|a, b| canonical_order(all.key(a), all.key(b)));
    all.names = names;
    all
}

/// The SHA-384 digest of the zone's records (the apex ZONEMD left out) in canonical form and
/// order: by name, then by type, then by RDATA, duplicates once. Each name's records are
/// written into one reused buffer and hashed in one call: the hash's cost per call, not per
/// byte, would otherwise dominate (most names hold one short TXT record).
fn digest(zone: &Zone, snapshot: &Snapshot) -> Vec<u8> {
    let contents = Contents::new(zone, snapshot);
    let names = sorted_names(&contents);
    let mut hash = Context::new(&SHA384);
    let mut name = OwnerName::default();
    let mut owner = Vec::new();
    // Every RDATA of one name end to end, each RR's type and place in it, and the name's
    // records in canonical wire form.
    let mut rdatas = Vec::new();
    let mut rrs: Vec<(u16, Range<usize>)> = Vec::new();
    let mut wire = Vec::new();
    for &(_, _, position) in &names.names {
        if !contents.name_at(position, &mut name) {
            continue;
        }
        let Some(records) = contents.records(position, &name) else {
            continue;
        };
        owner.clear();
        owner.extend(name.wire().iter().map(u8::to_ascii_lowercase));
        owner.push(0);
        rdatas.clear();
        rrs.clear();
        for record in records.iter().filter(|r| r.data.rtype() != types::ZONEMD) {
            let start = rdatas.len();
            write_rdata(&mut Uncompressed(&mut rdatas), zone, &record.data);
            rrs.push((u16::from(record.data.rtype()), start..rdatas.len()));
        }
        let rr = |(rtype, range): &(u16, Range<usize>)| (*rtype, &rdatas[range.clone()]);
        rrs.sort_unstable_by(|a, b| rr(a).cmp(&rr(b)));
        rrs.dedup_by(|a, b| rr(a) == rr(b));
        wire.clear();
        for (rtype, range) in &rrs {
            wire.extend_from_slice(&owner);
            wire.extend_from_slice(&rtype.to_be_bytes());
            wire.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
            let ttl = zone.ttl_of(RecordType::from(*rtype));
            wire.extend_from_slice(&ttl.to_be_bytes());
            wire.extend_from_slice(&(range.len() as u16).to_be_bytes());
            wire.extend_from_slice(&rdatas[range.clone()]);
        }
        hash.update(&wire);
    }
    hash.finish().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Vec<u8> {
        let mut key = Vec::new();
        for label in name.split('.').rev().filter(|l| !l.is_empty()) {
            key.push(label.len() as u8);
            key.extend_from_slice(label.as_bytes());
        }
        key
    }

    /// The example order of RFC 4034 6.1 (upper case already folded, as the zone's names are).
    #[test]
    fn names_sort_in_the_canonical_order_of_rfc_4034() {
        let expected = [
            "example",
            "a.example",
            "yljkjljk.a.example",
            "z.a.example",
            "zabc.a.example",
            "z.example",
            "\u{1}.z.example",
            "*.z.example",
            "\u{80}.z.example",
        ];
        let mut names: Vec<&str> = expected.iter().rev().copied().collect();
        names.sort_by(|a, b| canonical_order(&key(a), &key(b)));
        assert_eq!(names, expected);
    }
}
