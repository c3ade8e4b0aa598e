//! The one writer of every message portsd sends: answers to queries, errors, CHAOS answers,
//! NOTIFY, the NOTAUTH answers to bad signatures and zone transfer messages all begin here
//! ([`Writer::begin`]: the header and the question section) and have their names compressed
//! here as they are written, within one size budget (the message's limit: a UDP payload, 64
//! KiB for TCP, a transfer message's 16 KiB).
//!
//! A name is written in full, then its longest suffix already in the message (byte for byte,
//! case included) becomes a pointer. Remembered suffixes are searched one by one while they
//! are few, as in an ordinary answer, so that costs no allocation; past [`LINEAR`] of them (a
//! transfer message holds hundreds) an FxHash index over their bytes finds them.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;

use super::header::Header;
use super::read::MAX_LABELS;

/// Where names go as a record is written: straight into the message, or through a writer that
/// compresses them.
pub(crate) trait Names {
    /// The message written to.
    fn out(&mut self) -> &mut Vec<u8>;
    /// Writes a name given by its labels.
    fn name<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>);
}

/// Names written in full, outside any message: the canonical form the zone's digest covers
/// and the RDATA the journal keeps.
pub(crate) struct Uncompressed<'o>(pub(crate) &'o mut Vec<u8>);

impl Names for Uncompressed<'_> {
    fn out(&mut self) -> &mut Vec<u8> {
        self.0
    }

    fn name<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>) {
        for label in labels {
            self.0.push(label.len() as u8);
            self.0.extend_from_slice(label);
        }
        self.0.push(0);
    }
}

/// How many remembered suffixes are searched one by one before the index is built.
const LINEAR: usize = 16;
/// The first offset a compression pointer (14 bits) cannot reach.
const POINTABLE: usize = 0x3FFF;

/// Writes one message: its names compressed, its size held to a limit. The bookkeeping lives
/// in inline buffers sized for ordinary answers, so encoding does not allocate unless a
/// message carries many names.
pub(crate) struct Writer<'b> {
    out: &'b mut Vec<u8>,
    /// The size budget: the most bytes the message may take.
    limit: usize,
    /// Remembered label sequences: (offset in `out`, start and end in `seen`).
    targets: SmallVec<[(u16, u32, u32); 16]>,
    /// Copies of the remembered label sequences.
    seen: SmallVec<[u8; 512]>,
    /// Past [`LINEAR`] targets: the FxHash of each target's bytes to its place in `targets`
    /// (the first target with those bytes; a collision only costs a compression). The names
    /// are the zone's and the query's own, written by portsd, so a fast hash needs no defence
    /// against collisions made to order: at worst a name goes uncompressed.
    index: FxHashMap<u64, u16>,
    /// The longest the message has been: a name is written in full before its tail is
    /// replaced with a pointer, so a name needs room for its whole length even when it ends
    /// up compressed, and a message whose peak passes the limit does not fit.
    peak: usize,
}

/// Where a writer was, to go back to when a record does not fit.
struct Mark {
    len: usize,
    targets: usize,
    seen: usize,
    peak: usize,
}

fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

impl<'b> Writer<'b> {
    /// Begins a message in `out` (cleared first) within `limit` bytes: `header` with
    /// `counts` (QD, AN, NS, AR), then `questions`, a question section as received, which is
    /// remembered whole (as hickory's encoder remembers it).
    #[inline]
    pub(crate) fn begin(
        out: &'b mut Vec<u8>,
        header: Header,
        counts: [u16; 4],
        questions: &[u8],
        limit: usize,
    ) -> Writer<'b> {
        out.clear();
        header.write(counts, out);
        out.extend_from_slice(questions);
        let mut writer = Writer {
            out,
            limit,
            targets: SmallVec::new(),
            seen: SmallVec::new(),
            index: FxHashMap::default(),
            peak: 0,
        };
        if !questions.is_empty() {
            writer.remember(12, 12 + questions.len(), None);
        }
        writer
    }

    /// Whether the message, at its longest, is within its limit.
    #[inline]
    pub(crate) fn fits(&self) -> bool {
        self.peak.max(self.out.len()) <= self.limit
    }

    /// Writes one record by `write` (its owner, [`Writer::name_wire`], then type, class, TTL
    /// and data, [`super::write_record_data`]), unless the message would pass its limit; then
    /// the message is left as it was, and `false` returned. A message's `first` record is
    /// taken all the same, so every message carries at least one.
    pub(crate) fn record_within(&mut self, first: bool, write: impl FnOnce(&mut Self)) -> bool {
        let mark = Mark {
            len: self.out.len(),
            targets: self.targets.len(),
            seen: self.seen.len(),
            peak: self.peak,
        };
        write(self);
        if first || self.fits() {
            return true;
        }
        self.back_to(mark);
        false
    }

    /// Takes out what was written after `mark`, and the suffixes remembered in it.
    fn back_to(&mut self, mark: Mark) {
        self.out.truncate(mark.len);
        self.targets.truncate(mark.targets);
        self.seen.truncate(mark.seen);
        self.peak = mark.peak;
        if self.targets.len() <= LINEAR {
            self.index.clear();
        } else {
            let kept = self.targets.len();
            self.index.retain(|_, at| usize::from(*at) < kept);
        }
    }

    /// Remembers the bytes from `start` to `end` as a compression target.
    #[inline]
    /// `hashed` is the bytes' hash when [`Writer::find`] computed it already.
    fn remember(&mut self, start: usize, end: usize, hashed: Option<u64>) {
        // Offsets stay below 0x3FFF, so there are fewer than 2^14 targets (an index fits
        // 16 bits), and a message's suffixes copied stay far below 2^32 bytes.
        if start < POINTABLE {
            let from = self.seen.len() as u32;
            self.seen.extend_from_slice(&self.out[start..end]);
            self.targets
                .push((start as u16, from, self.seen.len() as u32));
            self.index_target(self.targets.len() - 1, hashed);
        }
    }

    /// Adds target `at` to the index once there are more than [`LINEAR`] targets (all of
    /// them, when the index is built).
    fn index_target(&mut self, at: usize, hashed: Option<u64>) {
        if self.targets.len() <= LINEAR {
            return;
        }
        if !self.index.is_empty() {
            let key = hashed.unwrap_or_else(|| hash(self.target_bytes(at)));
            self.index.entry(key).or_insert(at as u16);
            return;
        }
        // Built once per message, at the size a message of this limit needs.
        let room = self.limit.min(POINTABLE);
        self.index.reserve(room / 32);
        self.seen.reserve(room / 4);
        for place in 0..=at {
            let key = hash(self.target_bytes(place));
            self.index.entry(key).or_insert(place as u16);
        }
    }

    #[inline]
    fn target_bytes(&self, place: usize) -> &[u8] {
        let (_, from, to) = self.targets[place];
        &self.seen[from as usize..to as usize]
    }

    #[inline(always)]
    /// The offset of the bytes from `start` to the end of the message among those
    /// remembered, or the hash of those bytes when it was computed to look them up. No two
    /// targets hold the same bytes (a suffix is remembered only when it was not found), so
    /// the most recent one, the likeliest (a zone's records of one name follow each other),
    /// is tried first without changing what is found.
    fn find(&self, start: usize, end: usize) -> Result<u16, Option<u64>> {
        let wanted = &self.out[start..end];
        if let Some(&(offset, from, to)) = self.targets.last()
            && self.seen[from as usize..to as usize] == *wanted
        {
            return Ok(offset);
        }
        if self.index.is_empty() {
            return (0..self.targets.len())
                .find(|&place| self.target_bytes(place) == wanted)
                .map(|place| self.targets[place].0)
                .ok_or(None);
        }
        let key = hash(wanted);
        let found = self.index.get(&key).and_then(|&place| {
            let &(offset, from, to) = self.targets.get(usize::from(place))?;
            (self.seen.get(from as usize..to as usize)? == wanted).then_some(offset)
        });
        found.ok_or(Some(key))
    }

    /// Appends 16 bits.
    #[inline]
    pub(crate) fn u16(&mut self, value: u16) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    #[inline]
    fn write_name<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>) {
        let mut starts = [0u16; MAX_LABELS];
        let mut count = 0;
        for label in labels {
            if count < MAX_LABELS {
                starts[count] = self.out.len().min(usize::from(u16::MAX)) as u16;
                count += 1;
            }
            self.out.push(label.len() as u8);
            self.out.extend_from_slice(label);
        }
        self.compress_tail(&starts[..count]);
    }

    /// Writes a name given in wire form: its labels, each after its length, without the final
    /// zero (as [`crate::core::owner_name::OwnerName::wire`] holds a zone's names), compressed
    /// as [`Names::name`] compresses.
    pub(crate) fn name_wire(&mut self, wire: &[u8]) {
        let mut starts = [0u16; MAX_LABELS];
        let mut count = 0;
        let base = self.out.len();
        let mut at = 0;
        while at < wire.len() && count < MAX_LABELS {
            starts[count] = (base + at).min(usize::from(u16::MAX)) as u16;
            count += 1;
            at += 1 + usize::from(wire[at]);
        }
        self.out.extend_from_slice(wire);
        self.compress_tail(&starts[..count]);
    }

    /// Ends the name written from the first of `starts` to the end of the message: its
    /// longest suffix already in the message becomes a pointer, the suffixes before it are
    /// remembered; a zero ends it when no suffix is found.
    #[inline]
    fn compress_tail(&mut self, starts: &[u16]) {
        let end = self.out.len();
        self.peak = self.peak.max(end);
        for start in starts.iter().map(|&s| usize::from(s)) {
            match self.find(start, end) {
                Ok(offset) => {
                    self.out.truncate(start);
                    self.u16(0xC000 | offset);
                    return;
                }
                Err(hashed) => self.remember(start, end, hashed),
            }
        }
        self.out.push(0);
    }
}

impl Names for Writer<'_> {
    #[inline]
    fn out(&mut self) -> &mut Vec<u8> {
        self.out
    }

    #[inline]
    fn name<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>) {
        self.write_name(labels);
    }
}
