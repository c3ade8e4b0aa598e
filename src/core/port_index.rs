//! The table's lookup by port on one protocol: where the entries of a single port sit, and
//! which ranges cover a port. Both answer in constant time or a binary search, with no
//! allocation; [`crate::core::table::Table`] keeps one of each per protocol and merges their
//! answers in entry order.

use crate::core::model::EntryId;

/// Lookup of range entries for one protocol: the port axis cut into segments at every range
/// boundary, each segment listing the range entries covering it, and a bit per port saying
/// whether any range covers it. Most ports are in no range, and the bit answers for them
/// without the search (a zone transfer asks for every port of every protocol).
#[derive(Debug, Default)]
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

/// Lookup of single-port entries for one protocol: a dense offset array over all 65,536 ports.
#[derive(Debug)]
pub(crate) struct SingleIndex {
    /// `ids[offsets[p]..offsets[p + 1]]` are the single-port entries of port `p`.
    offsets: Vec<u32>,
    ids: Vec<EntryId>,
}

impl SingleIndex {
    pub(crate) fn build(singles: &[(EntryId, u16)]) -> SingleIndex {
        let mut counts = vec![0u32; 65_537];
        for &(_, port) in singles {
            counts[usize::from(port) + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let offsets = counts;
        let mut fill = offsets.clone();
        let mut ids = vec![0; singles.len()];
        // `singles` is in entry order, so each port's ids stay ascending.
        for &(id, port) in singles {
            let slot = &mut fill[usize::from(port)];
            ids[*slot as usize] = id;
            *slot += 1;
        }
        SingleIndex { offsets, ids }
    }

    pub(crate) fn lookup(&self, port: u16) -> &[EntryId] {
        let port = usize::from(port);
        &self.ids[self.offsets[port] as usize..self.offsets[port + 1] as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        (self.offsets.capacity() + self.ids.capacity()) * 4
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
}
