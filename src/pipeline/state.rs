//! What every message of the pipeline reads: the zone's fixed settings, the table snapshot
//! answered from now, and the IXFR differences, the last two swapped whole on a reload.

use arc_swap::ArcSwap;

use super::transfer::Journal;
use crate::core::zone::{Snapshot, Zone};

/// The zone's fixed settings and the table snapshot currently answered from.
#[derive(Debug)]
pub(crate) struct ZoneState {
    pub(crate) zone: Zone,
    /// Each message loads it once; a reload stores a new one.
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// The differences between the last serials, for IXFR; a reload stores a new one.
    pub(crate) journal: ArcSwap<Journal>,
}
