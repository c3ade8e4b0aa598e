//! Byte strings stored end to end in one buffer, for the table's lists of many short strings
//! that live as long as it does (every use's TXT record, the search index's names and words):
//! two allocations for tens of thousands of strings instead of one each, which would cost
//! more in allocator headers than the strings themselves.

/// Strings end to end: string `i` is `bytes[ends[i - 1]..ends[i]]`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Packed {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Packed {
    /// The strings of `strings`, in order, with no spare capacity.
    pub(crate) fn new<'s>(strings: impl Iterator<Item = &'s [u8]> + Clone) -> Packed {
        let mut packed = Packed {
            bytes: Vec::with_capacity(strings.clone().map(<[u8]>::len).sum()),
            ends: Vec::with_capacity(strings.clone().count()),
        };
        for string in strings {
            packed.push(string);
        }
        packed
    }

    /// Appends a string.
    pub(crate) fn push(&mut self, string: &[u8]) {
        self.bytes.extend_from_slice(string);
        // A table's strings fit in 4 GiB many times over; were they not, the strings past it
        // would read as empty, never out of bounds.
        self.ends
            .push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
    }

    /// Drops the spare capacity left by pushing.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// String `i`; empty past the end.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = i
            .checked_sub(1)
            .map_or(Some(0), |before| self.ends.get(before).copied());
        match (start, self.ends.get(i)) {
            (Some(start), Some(&end)) => {
                self.bytes.get(start as usize..end as usize).unwrap_or(&[])
            }
            _ => &[],
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 4
    }
}
