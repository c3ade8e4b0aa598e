//! The bytes of a zone transfer's messages: a message filled record by record, owner names
//! compressed against those already in it (RDATA comes from [`super::write_rdata`]).

use smallvec::SmallVec;

use std::hash::Hasher;

use rustc_hash::FxHashMap;

use super::header::{self, Header, ResponseCode};
use super::read::{self, Piece};
use super::response::{Opt, write_opt};
use crate::core::zone::CLASS_IN;

/// Fills one message: header, the question on the first message, records with their owner
/// names compressed against the names already in the message.
///
/// Compression looks in three places, cheapest first: the owner of the record before (the
/// records of one name follow each other), the parent of the owner before (the walk lists
/// the ports of a protocol one after another, each a label under the same parent), then
/// every suffix the message holds. A name compressed by the first two is not added to the
/// suffixes: no name of the zone lies under a port's name, so it would never be found there,
/// and at worst a name costs a few bytes more.
pub(crate) struct MessageWriter<'o> {
    out: &'o mut Vec<u8>,
    records: u16,
    /// Wire form of every name suffix written so far (lower-case, as the zone's names are),
    /// to the offset it starts at.
    suffixes: &'o mut Suffixes,
    /// The last owner written and where it starts.
    previous: Written,
    /// The last owner's parent (its labels after the first) and where it starts.
    parent: Written,
}

/// A name in the message: its labels in wire form (without the final zero), and the offset
/// it starts at; no offset before one is written.
#[derive(Default)]
struct Written {
    wire: SmallVec<[u8; 64]>,
    offset: Option<u16>,
}

impl Written {
    fn is(&self, wire: &[u8]) -> Option<u16> {
        self.offset.filter(|_| self.wire[..] == *wire)
    }

    fn set(&mut self, wire: &[u8], offset: Option<u16>) {
        self.wire.clear();
        self.wire.extend_from_slice(wire);
        self.offset = offset;
    }
}

/// How an owner name is written: its first `literal` bytes as they are, then a pointer (or
/// the root's zero), with the suffixes its literal labels added to the map.
struct Compressed {
    literal: usize,
    pointer: Option<u16>,
    /// Whether the pointer is to the previous owner or its parent, which stay what they are.
    remembered: bool,
    inserted: SmallVec<[u64; 8]>,
}

/// Name suffixes already in a message: the FxHash of a suffix's wire form to the offset where
/// the message holds it. A hit is checked against the message's own bytes, so a collision
/// costs only a missed compression, and no suffix is copied to be a key (owning the keys cost
/// an allocation per name). FxHash rather than the standard SipHash: the names are the zone's
/// own, not chosen by a client, so they need no defence against collisions made to order.
pub(crate) type Suffixes = FxHashMap<u64, u16>;

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
        match read::piece(message, at) {
            Some(Piece::Root) => return labels.is_empty(),
            Some(Piece::Pointer(target)) => at = target,
            Some(Piece::Label(here)) => {
                let size = 1 + here.len();
                match labels.get(..size) {
                    Some(there) if there[0] == message[at] && there[1..] == *here => {
                        labels = &labels[size..];
                        at += size;
                    }
                    _ => return false,
                }
            }
            None => return false,
        }
    }
    false
}

/// The offset a name starting at `at` can be pointed to from, if a pointer reaches it.
fn pointable(at: usize) -> Option<u16> {
    u16::try_from(at).ok().filter(|&at| at < 0x3FFF)
}

impl<'o> MessageWriter<'o> {
    pub(crate) fn begin(
        out: &'o mut Vec<u8>,
        suffixes: &'o mut Suffixes,
        header: &Header,
        question: Option<&[u8]>,
    ) -> MessageWriter<'o> {
        out.clear();
        suffixes.clear();
        let questions = u16::from(question.is_some());
        header.write([questions, 0, 0, 0], out);
        if let Some(question) = question {
            out.extend_from_slice(question);
        }
        MessageWriter {
            out,
            records: 0,
            suffixes,
            previous: Written::default(),
            parent: Written::default(),
        }
    }

    /// How to write `owner` at the end of the message, the suffixes map updated for it.
    fn compress(&mut self, owner: &[u8]) -> Compressed {
        let first = owner.first().map_or(0, |&length| 1 + usize::from(length));
        let pointing = |literal, pointer| Compressed {
            literal,
            pointer: Some(pointer),
            remembered: true,
            inserted: SmallVec::new(),
        };
        if let Some(offset) = self.previous.is(owner) {
            return pointing(0, offset);
        }
        if let Some(offset) = self.parent.is(&owner[first..]) {
            return pointing(first, offset);
        }
        let mut suffixes: SmallVec<[(usize, u64); 8]> = SmallVec::new();
        let mut at = 0;
        let mut pointer = None;
        while at < owner.len() {
            let hash = suffix_hash(&owner[at..]);
            if let Some(&offset) = self.suffixes.get(&hash)
                && name_equals(self.out, usize::from(offset), &owner[at..])
            {
                pointer = Some(offset);
                break;
            }
            suffixes.push((at, hash));
            at += 1 + usize::from(owner[at]);
        }
        let base = self.out.len();
        let mut inserted = SmallVec::new();
        for (start, hash) in suffixes {
            if let Some(offset) = pointable(base + start) {
                self.suffixes.insert(hash, offset);
                inserted.push(hash);
            }
        }
        Compressed {
            literal: at,
            pointer,
            remembered: false,
            inserted,
        }
    }

    /// Writes one record, its RDATA by `rdata`, unless the message would grow past `limit` (a
    /// message always takes its first record). Returns whether it was written. The RDATA goes
    /// straight into the message, and is taken out again with the rest of the record when it
    /// does not fit.
    ///
    /// `owner` is the name's labels in wire form, each after its length, without the final
    /// zero ([`crate::core::contents::OwnerName::wire`]).
    pub(crate) fn record(
        &mut self,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        limit: usize,
        rdata: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        let base = self.out.len();
        let compressed = self.compress(owner);
        self.out.extend_from_slice(&owner[..compressed.literal]);
        match compressed.pointer {
            Some(offset) => self.out.extend_from_slice(&(0xC000 | offset).to_be_bytes()),
            None => self.out.push(0),
        }
        let mut fixed = [0; 10];
        fixed[..2].copy_from_slice(&rtype.to_be_bytes());
        fixed[2..4].copy_from_slice(&CLASS_IN.to_be_bytes());
        fixed[4..8].copy_from_slice(&ttl.to_be_bytes());
        self.out.extend_from_slice(&fixed);
        let length_at = self.out.len() - 2;
        rdata(self.out);
        let length = self.out.len() - length_at - 2;
        if self.records > 0 && self.out.len() > limit {
            // Taken out again: the bytes, and the suffixes that pointed into them (a suffix
            // that was already known under the same hash only loses its compression).
            self.out.truncate(base);
            for hash in compressed.inserted {
                self.suffixes.remove(&hash);
            }
            return false;
        }
        self.out[length_at..length_at + 2].copy_from_slice(&(length as u16).to_be_bytes());
        self.records += 1;
        if compressed.remembered {
            if compressed.literal > 0 {
                self.previous.set(owner, pointable(base));
            }
        } else if compressed.literal > 0 {
            // The first label is written here, its parent right after it (a parent that is
            // the root stays unremembered: its zero is shorter than a pointer).
            let first = 1 + usize::from(owner[0]);
            let parent = match compressed.pointer {
                Some(offset) if compressed.literal == first => Some(offset),
                _ => pointable(base + first),
            };
            let parent = parent.filter(|_| first < owner.len());
            self.parent.set(&owner[first..], parent);
            self.previous.set(owner, pointable(base));
        } else if compressed.pointer.is_some() {
            self.previous.set(owner, compressed.pointer);
        }
        true
    }

    /// Ends the message: its answer count, and an OPT record (the response's EDNS) in the
    /// additional section when one is given.
    pub(crate) fn finish(self, opt: Option<&Opt<'_>>) {
        self.out[6..8].copy_from_slice(&self.records.to_be_bytes());
        if let Some(opt) = opt {
            let names = &mut super::Uncompressed(self.out);
            write_opt(names, ResponseCode::NoError, opt, None);
            header::set_count(self.out, 3, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::header::{Flags, OpCode};

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

    /// Each way of compressing an owner gives the names back, in the bytes expected of it;
    /// a record taken out for want of room leaves no pointer behind into what it wrote.
    #[test]
    fn owners_point_to_the_previous_name_its_parent_or_a_suffix() {
        use hickory_server::proto::op::Message;
        let (mut out, mut suffixes) = (Vec::new(), Suffixes::default());
        let header = Header::new(7, OpCode::Query, Flags::QR | Flags::AA);
        let mut writer = MessageWriter::begin(&mut out, &mut suffixes, &header, None);
        let mut sizes = Vec::new();
        let mut write = |writer: &mut MessageWriter<'_>, owner: &[u8], limit| {
            let before = writer.out.len();
            let written =
                writer.record(owner, 16, 60, limit, |out| out.extend_from_slice(b"\x01x"));
            sizes.push(writer.out.len() - before);
            written
        };
        let one = b"\x011\x03tcp\x05ports\x04test";
        assert!(write(&mut writer, one, 1000));
        assert!(write(&mut writer, one, 1000));
        assert!(write(&mut writer, b"\x012\x03tcp\x05ports\x04test", 1000));
        assert!(write(&mut writer, b"\x05https\x05ports\x04test", 1000));
        assert!(
            !write(&mut writer, b"\x013\x03udp\x05ports\x04test", 10),
            "too long for the message"
        );
        assert!(write(&mut writer, b"\x014\x03udp\x05ports\x04test", 1000));
        writer.finish(None);
        // Name, then 10 fixed bytes and 2 of RDATA: the name whole (18), a pointer to the
        // previous owner (2), a label and a pointer to its parent (2 + 2), a label and a
        // pointer to a suffix (6 + 2), nothing, and a name pointing to `ports.test` (2 + 4 + 2).
        assert_eq!(sizes, [30, 14, 16, 20, 0, 20]);
        let message = Message::from_vec(&out).unwrap();
        let names: Vec<String> = message.answers.iter().map(|r| r.name.to_string()).collect();
        assert_eq!(
            names,
            [
                "1.tcp.ports.test.",
                "1.tcp.ports.test.",
                "2.tcp.ports.test.",
                "https.ports.test.",
                "4.udp.ports.test."
            ]
        );
    }
}
