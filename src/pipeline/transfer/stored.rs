//! The zone as it was served, kept on disk (`--state-dir`) so that the next start can compute
//! the difference to the zone it loads, whatever happened in between (changed data, a package
//! upgrade, a crash): the zone's names in its order ([`NameKey`]), each with its records, the
//! SOA left out, exactly as [`walk`] gives them.
//!
//! The form on disk: a first line naming the format, the serial, the fingerprint of the zone's
//! settings (name, name server, TTL, timers: a difference means nothing across them), then
//! the names DEFLATE-compressed (each a length and a block: its key, its records in the
//! journal's form), ended by an empty block; and a SHA-256 of everything before it. The whole
//! zone (about 363,000 records, 45 MB written out) takes about 5 MB. A file cut short or
//! altered fails the digest and is never half used.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use ring::digest::{SHA256, digest};

use super::difference::{self, ChangedRecord, Difference, NameKey, Named, Reader, walk};
use crate::core::contents::Position;
use crate::core::fingerprint::Fingerprint;
use crate::core::zone::{Snapshot, Zone};

/// The first line of a stored zone: the format and its version.
const MAGIC: &[u8] = b"portsd zone 1\n";
/// The bytes of the trailing SHA-256.
const DIGEST_BYTES: usize = 32;
/// The bytes after [`MAGIC`] before the compressed names: serial, settings fingerprint.
const HEADER_BYTES: usize = 4 + 8;
/// The largest block one name may take (the largest name holds a few KB).
const MAX_BLOCK_BYTES: usize = 1 << 20;

/// Why a stored zone was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoredError {
    /// Not a stored zone of this format.
    #[error("not a zone stored by this version of portsd")]
    Format,
    /// Cut short, or changed since it was written.
    #[error("truncated or corrupt (its digest does not match)")]
    Digest,
    /// Its digest matches but its contents cannot be read: damage the digest missed.
    #[error("its contents cannot be read")]
    Contents,
}

/// A zone read back from its form on disk, its digest checked; its names are read (and
/// inflated) only as a difference walks them.
#[derive(Debug)]
pub(crate) struct StoredZone {
    bytes: Vec<u8>,
    serial: u32,
    settings: u64,
}

/// The fingerprint of the settings `zone`'s own records are made of.
fn settings_of(zone: &Zone) -> u64 {
    let mut hash = Fingerprint::new();
    zone.add_settings_to(&mut hash);
    hash.finish()
}

impl StoredZone {
    /// `snapshot` served as `zone`, in the form on disk. Waits for the snapshot's digest.
    pub(crate) fn write(zone: &Zone, snapshot: &Snapshot) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&snapshot.serial.to_be_bytes());
        out.extend_from_slice(&settings_of(zone).to_be_bytes());
        let mut encoder = DeflateEncoder::new(out, Compression::fast());
        let mut block = Vec::new();
        for named in walk(zone, snapshot) {
            block.clear();
            write_key(&named.key, &mut block);
            block.extend_from_slice(&(named.records.len() as u32).to_be_bytes());
            for record in &named.records {
                record.write(&mut block);
            }
            write_block(&mut encoder, &block);
        }
        write_block(&mut encoder, &[]);
        // Writing into a vector cannot fail.
        let mut out = encoder.finish().unwrap_or_default();
        let sum = digest(&SHA256, &out);
        out.extend_from_slice(sum.as_ref());
        out
    }

    /// A stored zone from [`StoredZone::write`]'s form; an error for anything else.
    pub(crate) fn read(bytes: Vec<u8>) -> Result<StoredZone, StoredError> {
        if !bytes.starts_with(MAGIC) {
            return Err(StoredError::Format);
        }
        let body = bytes.len().saturating_sub(DIGEST_BYTES);
        if body < MAGIC.len() + HEADER_BYTES
            || digest(&SHA256, &bytes[..body]).as_ref() != &bytes[body..]
        {
            return Err(StoredError::Digest);
        }
        let mut header = Reader(&bytes[MAGIC.len()..]);
        let (serial, high, low) = (header.u32(), header.u32(), header.u32());
        let (Some(serial), Some(high), Some(low)) = (serial, high, low) else {
            return Err(StoredError::Contents);
        };
        Ok(StoredZone {
            serial,
            settings: u64::from(high) << 32 | u64::from(low),
            bytes,
        })
    }

    /// The serial the zone was served with.
    pub(crate) fn serial(&self) -> u32 {
        self.serial
    }

    /// Whether the zone was served with `zone`'s settings: a difference to a zone served with
    /// others (another name, TTL or name server) cannot be expressed as an IXFR.
    pub(crate) fn is_of(&self, zone: &Zone) -> bool {
        self.settings == settings_of(zone)
    }

    /// The difference from this zone to `snapshot` served as `zone` (`None` when larger than
    /// a difference kept can be), or an error when the names cannot be read back.
    pub(crate) fn difference_to(
        &self,
        zone: &Zone,
        snapshot: &Snapshot,
    ) -> Result<Option<Difference>, StoredError> {
        let compressed = &self.bytes[MAGIC.len() + HEADER_BYTES..self.bytes.len() - DIGEST_BYTES];
        let mut names = Names {
            decoder: DeflateDecoder::new(compressed),
            block: Vec::new(),
            failed: false,
            done: false,
            previous: None,
        };
        let difference = difference::difference(
            (self.serial, std::iter::from_fn(|| names.next())),
            (snapshot.serial, walk(zone, snapshot)),
        );
        // Every name must have been read, in order, up to the closing empty block (a
        // difference too large to keep stops the walk early and is not kept either way).
        match (difference, names.done) {
            _ if names.failed => Err(StoredError::Contents),
            (None, _) => Ok(None),
            (Some(difference), true) => Ok(Some(difference)),
            (Some(_), false) => Err(StoredError::Contents),
        }
    }
}

/// The names of a stored zone, read as they are walked. A read that fails ends the walk and
/// sets `failed`; the empty block closing the names ends it and sets `done`.
struct Names<'b> {
    decoder: DeflateDecoder<&'b [u8]>,
    block: Vec<u8>,
    failed: bool,
    done: bool,
    /// The key read last, to check the order.
    previous: Option<NameKey>,
}

impl Names<'_> {
    fn next(&mut self) -> Option<Named> {
        if self.failed || self.done {
            return None;
        }
        let named = self.read();
        self.failed = named.is_none() && !self.done;
        named
    }

    fn read(&mut self) -> Option<Named> {
        let mut length = [0; 4];
        self.decoder.read_exact(&mut length).ok()?;
        let length = u32::from_be_bytes(length) as usize;
        if length > MAX_BLOCK_BYTES {
            return None;
        }
        self.block.resize(length, 0);
        self.decoder.read_exact(&mut self.block).ok()?;
        if length == 0 {
            // The closing block, and nothing after it.
            self.done = matches!(self.decoder.read(&mut [0]), Ok(0));
            return None;
        }
        let named = read_named(&self.block)?;
        if self
            .previous
            .as_ref()
            .is_some_and(|last| *last >= named.key)
        {
            return None;
        }
        self.previous = Some(named.key.clone());
        Some(named)
    }
}

/// Writes one length-prefixed block into the compressed stream.
fn write_block(encoder: &mut DeflateEncoder<Vec<u8>>, block: &[u8]) {
    // Writing into a vector cannot fail.
    let _ = encoder.write_all(&(block.len() as u32).to_be_bytes());
    let _ = encoder.write_all(block);
}

/// Appends a name's key: a tag, then a fixed position's kind, protocol and port, or a service
/// name (length, bytes) and its protocol.
fn write_key(key: &NameKey, out: &mut Vec<u8>) {
    let (kind, protocol, port) = match key {
        NameKey::Service(name, protocol) => {
            out.push(1);
            out.push(name.len() as u8);
            out.extend_from_slice(name);
            out.push(*protocol);
            return;
        }
        NameKey::Fixed(position) => match *position {
            Position::Apex => (0, 0, 0),
            Position::Help => (1, 0, 0),
            Position::Top(p) => (2, p, 0),
            Position::SearchCut => (3, 0, 0),
            Position::NameServer => (4, 0, 0),
            Position::PortOn(p, port) => (5, p, port),
            Position::Port(port) => (6, 0, port),
            Position::Registry(p, port) => (7, p, port),
            Position::Service(..) | Position::End => (u8::MAX, 0, 0),
        },
    };
    out.extend_from_slice(&[0, kind, protocol]);
    out.extend_from_slice(&port.to_be_bytes());
}

/// Reads one name's block: its key and its records (sorted, as written).
fn read_named(block: &[u8]) -> Option<Named> {
    let mut bytes = Reader(block);
    let key = match bytes.u8()? {
        0 => {
            let (kind, p, port) = (bytes.u8()?, bytes.u8()?, bytes.u16()?);
            NameKey::Fixed(match kind {
                0 => Position::Apex,
                1 => Position::Help,
                2 => Position::Top(p),
                3 => Position::SearchCut,
                4 => Position::NameServer,
                5 => Position::PortOn(p, port),
                6 => Position::Port(port),
                7 => Position::Registry(p, port),
                _ => return None,
            })
        }
        1 => {
            let length = usize::from(bytes.u8()?);
            let name = bytes.take(length)?.into();
            NameKey::Service(name, bytes.u8()?)
        }
        _ => return None,
    };
    let count = bytes.u32()? as usize;
    let mut records = Vec::with_capacity(count.min(bytes.left() / 5));
    for _ in 0..count {
        records.push(ChangedRecord::read(&mut bytes)?);
    }
    let sorted = records.windows(2).all(|pair| pair[0] < pair[1]);
    (sorted && bytes.left() == 0).then_some(Named { key, records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::transfer::fixtures::{snapshot, zone};

    #[test]
    fn a_stored_zone_gives_the_difference_the_snapshots_give() {
        let zone = zone();
        let old = snapshot(
            &zone,
            10,
            &[("22", "ssh"), ("443", "web"), ("8000-8010", "dev")],
        );
        let new = snapshot(
            &zone,
            11,
            &[("22", "ssh"), ("443", "web v2"), ("9000", "new")],
        );
        let stored = StoredZone::read(StoredZone::write(&zone, &old)).unwrap();
        assert_eq!(stored.serial(), 10);
        assert!(stored.is_of(&zone));
        let expected = difference::between(&zone, &old, &new).unwrap();
        assert!(!expected.added.is_empty() && !expected.deleted.is_empty());
        assert_eq!(stored.difference_to(&zone, &new), Ok(Some(expected)));
        let unchanged = stored.difference_to(&zone, &old).unwrap().unwrap();
        assert!(unchanged.added.is_empty() && unchanged.deleted.is_empty());
    }

    #[test]
    fn a_stored_zone_cut_short_altered_foreign_or_of_other_settings_is_refused() {
        let zone = zone();
        let bytes = StoredZone::write(&zone, &snapshot(&zone, 10, &[("443", "web")]));
        for cut in [0, 5, MAGIC.len() + 3, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                StoredZone::read(bytes[..cut].to_vec()).is_err(),
                "cut at {cut}"
            );
        }
        let mut altered = bytes.clone();
        altered[MAGIC.len() + HEADER_BYTES + 4] ^= 1;
        assert_eq!(StoredZone::read(altered).unwrap_err(), StoredError::Digest);
        let mut foreign = bytes.clone();
        foreign[..MAGIC.len()].copy_from_slice(b"portsd zone 9\n");
        assert_eq!(StoredZone::read(foreign).unwrap_err(), StoredError::Format);
        let other = Zone::new(
            crate::core::names::parse_domain("ports.internal").unwrap(),
            crate::core::names::parse_domain("ns.ports.test").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
            60,
        );
        assert!(!StoredZone::read(bytes).unwrap().is_of(&other));
    }

    #[test]
    fn names_out_of_order_or_without_their_closing_block_are_refused() {
        let zone = zone();
        let new = snapshot(&zone, 11, &[("443", "web")]);
        // A body whose digest is right but whose names are not what a walk writes.
        let stored_from = |blocks: &[&[u8]], close: bool| {
            let mut out = MAGIC.to_vec();
            out.extend_from_slice(&10u32.to_be_bytes());
            out.extend_from_slice(&settings_of(&zone).to_be_bytes());
            let mut encoder = DeflateEncoder::new(out, Compression::fast());
            for block in blocks {
                write_block(&mut encoder, block);
            }
            if close {
                write_block(&mut encoder, &[]);
            }
            let mut out = encoder.finish().unwrap();
            let sum = digest(&SHA256, &out);
            out.extend_from_slice(sum.as_ref());
            StoredZone::read(out).unwrap()
        };
        // The blocks a walk of the same zone writes: read back in order, no difference.
        let blocks: Vec<Vec<u8>> = walk(&zone, &new)
            .map(|named| {
                let mut block = Vec::new();
                write_key(&named.key, &mut block);
                block.extend_from_slice(&(named.records.len() as u32).to_be_bytes());
                named.records.iter().for_each(|r| r.write(&mut block));
                block
            })
            .collect();
        let all: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
        let same = stored_from(&all, true)
            .difference_to(&zone, &new)
            .unwrap()
            .unwrap();
        assert!(same.added.is_empty() && same.deleted.is_empty());
        let swapped = [&[all[1], all[0]][..], &all[2..]].concat();
        let repeated = [&all[..2], &all[1..]].concat();
        let garbled = [&all[..2], &[&b"\x07"[..]][..], &all[2..]].concat();
        for (blocks, close) in [
            (swapped, true),
            (repeated, true),
            (all, false),
            (garbled, true),
        ] {
            let stored = stored_from(&blocks, close);
            assert_eq!(
                stored.difference_to(&zone, &new),
                Err(StoredError::Contents),
                "{} blocks, closed: {close}",
                blocks.len()
            );
        }
    }
}
