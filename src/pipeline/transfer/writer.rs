//! The bytes of a transfer message: RDATA written uncompressed, and a message filled record
//! by record with owner names compressed against those already in it.

use smallvec::SmallVec;

use std::hash::Hasher;

use rustc_hash::FxHashMap;

use crate::core::answer::{CLASS_IN, Rdata, SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Zone};

/// Writes a record's RDATA uncompressed (the SOA's and NS's names included: they are two
/// records per transfer).
pub(super) fn write_rdata(zone: &Zone, data: &Rdata<'_>, out: &mut Vec<u8>) {
    let name = |labels: &[Box<[u8]>], out: &mut Vec<u8>| {
        for label in labels {
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        out.push(0);
    };
    match data {
        Rdata::Txt(_) | Rdata::Unassigned(_) => data.append_txt(out),
        Rdata::Soa(serial) => {
            name(&zone.ns_name, out);
            name(&zone.rname, out);
            for value in [*serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, zone.ttl] {
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        Rdata::Ns => name(&zone.ns_name, out),
        Rdata::Address(std::net::IpAddr::V4(ip)) => out.extend_from_slice(&ip.octets()),
        Rdata::Address(std::net::IpAddr::V6(ip)) => out.extend_from_slice(&ip.octets()),
    }
}

/// Fills one message: header, the question on the first message, records with their owner
/// names compressed against the names already in the message.
pub(super) struct MessageWriter<'o> {
    out: &'o mut Vec<u8>,
    records: u16,
    /// Wire form of every name suffix written so far (lower-case, as the zone's names are),
    /// to the offset it starts at.
    suffixes: &'o mut Suffixes,
    /// The last owner written and where it starts: the records of one name follow each
    /// other, and all but the first point there without a lookup.
    previous_owner: SmallVec<[u8; 256]>,
    previous_offset: Option<u16>,
}

/// Name suffixes already in a message: the FxHash of a suffix's wire form to the offset where
/// the message holds it. A hit is checked against the message's own bytes, so a collision
/// costs only a missed compression, and no suffix is copied to be a key (owning the keys cost
/// an allocation per name). FxHash rather than the standard SipHash: the names are the zone's
/// own, not chosen by a client, so they need no defence against collisions made to order.
pub(super) type Suffixes = FxHashMap<u64, u16>;

fn suffix_hash(wire: &[u8]) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(wire);
    hasher.finish()
}

/// Whether the name at `at` in `message` (labels, ending in a zero or a pointer) is `labels`
/// (length-prefixed labels without the final zero).
fn name_equals(message: &[u8], mut at: usize, mut labels: &[u8]) -> bool {
    // Pointers only lead backwards in a message portsd writes; the bound is a guard anyway.
    for _ in 0..128 {
        let Some(&length) = message.get(at) else {
            return false;
        };
        match length {
            0 => return labels.is_empty(),
            0xC0..=0xFF => {
                let Some(&low) = message.get(at + 1) else {
                    return false;
                };
                at = usize::from(u16::from_be_bytes([length & 0x3F, low]));
            }
            _ => {
                let size = 1 + usize::from(length);
                match (message.get(at..at + size), labels.get(..size)) {
                    (Some(here), Some(there)) if here == there => {
                        labels = &labels[size..];
                        at += size;
                    }
                    _ => return false,
                }
            }
        }
    }
    false
}

impl<'o> MessageWriter<'o> {
    pub(super) fn begin(
        out: &'o mut Vec<u8>,
        suffixes: &'o mut Suffixes,
        header: &Header,
        question: Option<&[u8]>,
    ) -> MessageWriter<'o> {
        out.clear();
        suffixes.clear();
        out.extend_from_slice(&header.id.to_be_bytes());
        out.extend_from_slice(&header.flags.to_be_bytes());
        out.extend_from_slice(&u16::from(question.is_some()).to_be_bytes());
        out.extend_from_slice(&[0; 6]);
        if let Some(question) = question {
            out.extend_from_slice(question);
        }
        MessageWriter {
            out,
            records: 0,
            suffixes,
            previous_owner: SmallVec::new(),
            previous_offset: None,
        }
    }

    /// Writes one record, its RDATA by `rdata`, unless the message would grow past `limit` (a
    /// message always takes its first record). Returns whether it was written. The RDATA goes
    /// straight into the message, and is taken out again with the rest of the record when it
    /// does not fit.
    ///
    /// `owner` is the name's labels in wire form, each after its length, without the final
    /// zero ([`crate::core::contents::OwnerName::wire`]).
    pub(super) fn record(
        &mut self,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        limit: usize,
        rdata: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        let wire = owner;
        let mut starts: SmallVec<[usize; 8]> = SmallVec::new();
        let mut at = 0;
        while at < wire.len() {
            starts.push(at);
            at += 1 + usize::from(wire[at]);
        }
        let base = self.out.len();
        let mut pointer = None;
        if let Some(offset) = self
            .previous_offset
            .filter(|_| self.previous_owner[..] == *wire)
        {
            pointer = Some((0, offset));
        } else {
            for (i, &start) in starts.iter().enumerate() {
                if let Some(&offset) = self.suffixes.get(&suffix_hash(&wire[start..]))
                    && name_equals(self.out, usize::from(offset), &wire[start..])
                {
                    pointer = Some((i, offset));
                    break;
                }
            }
        }
        let written = pointer.map_or(wire.len(), |(i, _)| starts[i]);
        self.out.extend_from_slice(&wire[..written]);
        let mut inserted: SmallVec<[u64; 8]> = SmallVec::new();
        for &start in starts.iter().take_while(|&&s| s < written) {
            let offset = base + start;
            if offset < 0x3FFF {
                let hash = suffix_hash(&wire[start..]);
                self.suffixes.insert(hash, offset as u16);
                inserted.push(hash);
            }
        }
        match pointer {
            Some((_, offset)) => self.out.extend_from_slice(&(0xC000 | offset).to_be_bytes()),
            None => self.out.push(0),
        }
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        rdata(self.out);
        let length = self.out.len() - length_at - 2;
        if self.records > 0 && self.out.len() > limit {
            // Taken out again: the bytes, and the suffixes that pointed into them (a suffix
            // that was already known under the same hash only loses its compression).
            self.out.truncate(base);
            for hash in inserted {
                self.suffixes.remove(&hash);
            }
            return false;
        }
        self.out[length_at..length_at + 2].copy_from_slice(&(length as u16).to_be_bytes());
        self.previous_offset = match pointer {
            Some((0, offset)) => Some(offset),
            _ => (base < 0x3FFF).then_some(base as u16),
        };
        self.previous_owner.clear();
        self.previous_owner.extend_from_slice(wire);
        self.records += 1;
        true
    }

    pub(super) fn finish(self) {
        self.out[6..8].copy_from_slice(&self.records.to_be_bytes());
    }
}

/// The header facts every message of a transfer repeats.
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    pub(super) id: u16,
    pub(super) flags: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compared_through_pointers_and_label_by_label() {
        // "a.b" at 0, then "c" and a pointer to "b" (offset 2).
        let message = b"\x01a\x01b\x00\x01c\xc0\x02";
        assert!(name_equals(message, 0, b"\x01a\x01b"));
        assert!(name_equals(message, 2, b"\x01b"));
        assert!(name_equals(message, 5, b"\x01c\x01b"));
        assert!(!name_equals(message, 5, b"\x01c\x01a"));
        assert!(
            !name_equals(message, 0, b"\x01a"),
            "a prefix is not the name"
        );
        assert!(!name_equals(message, 0, b"\x01a\x01b\x01c"));
        assert!(
            !name_equals(b"\xc0\x00", 0, b"\x01a"),
            "a pointer loop ends"
        );
        assert!(!name_equals(b"\x05ab", 0, b"\x05ab"), "cut short");
    }
}
