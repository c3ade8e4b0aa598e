//! The table's lookup by port on one protocol: where the entries of a single port sit, and
//! which ranges cover a port. Both answer in constant time or a binary search, with no
//! allocation; [`crate::core::table::Table`] keeps one of each per protocol and merges their
//! answers in entry order.

use crate::core::model::EntryId;

/// Lookup of range entries for one protocol: the port axis cut into segments at every range
/// boundary, each segment listing the range entries covering it, and a bit per port saying
/// whether any range covers it. Most ports are in no range, and the bit answers for them
/// without the search (a zone transfer asks for every port of every protocol).
#[derive(Clone, Debug, Default)]
pub(crate) struct RangeIndex {
    /// Bit `port % 64` of word `port / 64` is set when some range covers `port`; empty
    /// when no range does.
    covered: Box<[u64]>,
    /// Segment start ports, ascending; segment `i` covers `starts[i]..starts[i + 1]`.
    starts: Vec<u32>,
    /// `ids[offsets[i]..offsets[i + 1]]` are the entries covering segment `i`.
    offsets: Vec<u32>,
    ids: Vec<EntryId>,
}

impl RangeIndex {
    pub(crate) fn build(ranges: &[(EntryId, u16, u16)]) -> RangeIndex {
        let mut starts: Vec<u32> = ranges
            .iter()
            .flat_map(|&(_, first, last)| [u32::from(first), u32::from(last) + 1])
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let mut offsets = Vec::with_capacity(starts.len() + 1);
        let mut ids = Vec::new();
        offsets.push(0);
        for &start in &starts {
            ids.extend(
                ranges
                    .iter()
                    .filter(|&&(_, first, last)| {
                        u32::from(first) <= start && start <= u32::from(last)
                    })
                    .map(|&(id, _, _)| id),
            );
            offsets.push(ids.len() as u32);
        }
        let mut covered = vec![0u64; if ranges.is_empty() { 0 } else { 65_536 / 64 }];
        for &(_, first, last) in ranges {
            for port in first..=last {
                covered[usize::from(port / 64)] |= 1 << (port % 64);
            }
        }
        RangeIndex {
            covered: covered.into_boxed_slice(),
            starts,
            offsets,
            ids,
        }
    }

    pub(crate) fn lookup(&self, port: u16) -> &[EntryId] {
        match self.covered.get(usize::from(port / 64)) {
            Some(word) if word & (1 << (port % 64)) != 0 => {}
            _ => return &[],
        }
        let port = u32::from(port);
        let segment = match self.starts.binary_search(&port) {
            Ok(i) => i,
            Err(0) => return &[],
            Err(i) => i - 1,
        };
        &self.ids[self.offsets[segment] as usize..self.offsets[segment + 1] as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.offsets.capacity() + self.ids.capacity()) * 4
            + self.covered.len() * 8
    }
}

/// Lookup of single-port entries for one protocol, in constant time: a bit per port saying
/// whether it has entries, the count of such ports before each 64-port word, and the entries
/// of the ports that have any, port by port. A port's place among those ports is the count
/// before its word plus the set bits below it in the word. About 12 KiB and 4 bytes per port
/// with entries, where an offset for each of the 65,536 ports took 256 KiB per protocol.
#[derive(Clone, Debug)]
pub(crate) struct SingleIndex {
    /// Bit `port % 64` of word `port / 64` is set when `port` has single-port entries.
    present: Box<[u64]>,
    /// `before[w]`: how many ports below `64 * w` have entries.
    before: Box<[u32]>,
    /// `ids[offsets[k]..offsets[k + 1]]` are the entries of the `k`-th port with entries,
    /// ascending (entry order).
    offsets: Vec<u32>,
    ids: Vec<EntryId>,
}

impl SingleIndex {
    pub(crate) fn build(singles: &[(EntryId, u16)]) -> SingleIndex {
        // `singles` is in entry order, and a stable sort keeps each port's ids ascending.
        let mut sorted = singles.to_vec();
        sorted.sort_by_key(|&(_, port)| port);
        let mut present = vec![0u64; 65_536 / 64];
        let mut offsets = Vec::new();
        let mut ids = Vec::with_capacity(sorted.len());
        for (at, &(id, port)) in sorted.iter().enumerate() {
            if at == 0 || sorted[at - 1].1 != port {
                present[usize::from(port / 64)] |= 1 << (port % 64);
                offsets.push(ids.len() as u32);
            }
            ids.push(id);
        }
        offsets.push(ids.len() as u32);
        let mut before = Vec::with_capacity(present.len());
        let mut count = 0;
        for word in &present {
            before.push(count);
            count += word.count_ones();
        }
        SingleIndex {
            present: present.into_boxed_slice(),
            before: before.into_boxed_slice(),
            offsets,
            ids,
        }
    }

    pub(crate) fn lookup(&self, port: u16) -> &[EntryId] {
        let word_index = usize::from(port / 64);
        let bit = 1u64 << (port % 64);
        let (Some(&word), Some(&before)) =
            (self.present.get(word_index), self.before.get(word_index))
        else {
            return &[];
        };
        if word & bit == 0 {
            return &[];
        }
        let k = before as usize + (word & (bit - 1)).count_ones() as usize;
        match (self.offsets.get(k), self.offsets.get(k + 1)) {
            (Some(&start), Some(&end)) => self.ids.get(start as usize..end as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.present.len() * 8
            + (self.before.len() + self.offsets.capacity() + self.ids.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The covering bits and the segments agree with the ranges themselves at every port,
    /// the ends of ranges and of words of the bit set included.
    #[test]
    fn range_lookup_matches_the_ranges_at_every_port() {
        let ranges = [
            (0, 63, 64),
            (1, 64, 127),
            (2, 1000, 1000),
            (3, 60_000, 65_535),
        ];
        let index = RangeIndex::build(&ranges);
        for port in 0..=u16::MAX {
            let covering: Vec<EntryId> = ranges
                .iter()
                .filter(|&&(_, first, last)| first <= port && port <= last)
                .map(|&(id, _, _)| id)
                .collect();
            assert_eq!(index.lookup(port), covering, "port {port}");
        }
        assert!(RangeIndex::build(&[]).lookup(5).is_empty());
    }

    /// Every port answers its own entries in entry order: ports at the ends of 64-port
    /// words and of the port space, ports sharing a word, a port with several entries.
    #[test]
    fn single_lookup_matches_the_entries_at_every_port() {
        let singles = [
            (0, 443),
            (1, 0),
            (2, 63),
            (3, 64),
            (4, 443),
            (5, 65_535),
            (6, 80),
            (7, 443),
            (8, 127),
        ];
        let index = SingleIndex::build(&singles);
        for port in 0..=u16::MAX {
            let own: Vec<EntryId> = singles
                .iter()
                .filter(|&&(_, p)| p == port)
                .map(|&(id, _)| id)
                .collect();
            assert_eq!(index.lookup(port), own, "port {port}");
        }
        assert!(SingleIndex::build(&[]).lookup(443).is_empty());
    }
}
