//! Names compressed as they are written into a response ([`super::response`]): each label
//! sequence written is remembered byte for byte, case included, up to fixed limits. The rules
//! (and limits) are those of hickory's `BinEncoder`, which wrote portsd's answers before, so
//! the answers portsd sends did not change when it began writing them itself; nothing needs
//! them to follow hickory any more.

use smallvec::SmallVec;

use super::Names;
use super::read::MAX_LABELS;

/// The cap on remembered compression targets per message.
const COMPRESSION_CANDIDATES: usize = 64;
/// The cap on names compressed per message.
const COMPRESSED_NAMES: usize = 120;

/// Writes a response's names, compressed. The
/// bookkeeping lives in inline buffers sized for ordinary answers, so encoding does not
/// allocate unless an answer carries unusually many names.
pub(crate) struct Writer<'b> {
    out: &'b mut Vec<u8>,
    /// Remembered label sequences: (offset in `out`, start and end in `seen`).
    targets: SmallVec<[(u16, u16, u16); 16]>,
    /// Copies of the remembered label sequences.
    seen: SmallVec<[u8; 512]>,
    names_compressed: usize,
    /// The longest the message has been: a name is written in full before its tail is
    /// replaced with a pointer, so a name needs room for its whole length even when it ends
    /// up compressed, and a message whose peak passes the size limit is truncated.
    peak: usize,
}

impl<'b> Writer<'b> {
    /// A writer appending to `out`, which holds the message so far.
    #[inline]
    pub(crate) fn new(out: &'b mut Vec<u8>) -> Writer<'b> {
        Writer {
            out,
            targets: SmallVec::new(),
            seen: SmallVec::new(),
            names_compressed: 0,
            peak: 0,
        }
    }

    /// The longest the message has been.
    #[inline]
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }

    /// Remembers the bytes from `start` to `end` as a compression target.
    #[inline]
    pub(crate) fn remember(&mut self, start: usize, end: usize) {
        // Offsets stay below 0x3FFF, and at most 64 sequences of at most 259 bytes (a name,
        // or the question's name, type and class) are kept: every number here fits 16 bits.
        if self.out.len() < 0x3FFF && self.targets.len() < COMPRESSION_CANDIDATES {
            let from = self.seen.len() as u16;
            self.seen.extend_from_slice(&self.out[start..end]);
            self.targets
                .push((start as u16, from, self.seen.len() as u16));
        }
    }

    #[inline(always)]
    fn find(&self, start: usize, end: usize) -> Option<u16> {
        let wanted = &self.out[start..end];
        self.targets
            .iter()
            .find(|&&(_, from, to)| &self.seen[usize::from(from)..usize::from(to)] == wanted)
            .map(|&(offset, _, _)| offset)
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
                starts[count] = self.out.len() as u16;
                count += 1;
            }
            self.out.push(label.len() as u8);
            self.out.extend_from_slice(label);
        }
        let end = self.out.len();
        self.peak = self.peak.max(end);
        if self.names_compressed < COMPRESSED_NAMES {
            self.names_compressed += 1;
            for start in starts[..count].iter().map(|&s| usize::from(s)) {
                match self.find(start, end) {
                    Some(offset) if offset & 0xC000 == 0 => {
                        self.out.truncate(start);
                        self.u16(0xC000 | offset);
                        return;
                    }
                    _ => self.remember(start, end),
                }
            }
        } else {
            for start in starts[..count].iter().map(|&s| usize::from(s)) {
                self.remember(start, end);
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
