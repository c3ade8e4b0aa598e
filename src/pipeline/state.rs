//! What every message of the pipeline reads: the zone's fixed settings, the table snapshot
//! answered from now, and the IXFR differences, the last two swapped whole on a reload; and
//! the start-up snapshot's digest, computed while that snapshot already answers.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tracing::info;

use super::transfer::Journal;
use crate::core::zone::{Snapshot, Zone};
use crate::wire::Request;
use crate::wire::types::{self, RecordType};

/// The zone's fixed settings and the table snapshot currently answered from.
#[derive(Debug)]
pub(crate) struct ZoneState {
    pub(crate) zone: Zone,
    /// Each message loads it once; a reload stores a new one.
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// The differences between the last serials, for IXFR; a reload stores a new one.
    pub(crate) journal: ArcSwap<Journal>,
}

impl ZoneState {
    /// The snapshot answered from now, when `request` asks for something written with its
    /// ZONEMD record (the record itself, AXFR, IXFR) and the digest is not computed yet: a
    /// serving loop waits for it (`zonemd.rdata()`) off its thread before handing
    /// the request on, so that nothing else it serves waits too. Everything else, and
    /// everything once the digest is there, gets `None`; the request is read here (a second
    /// view of it) only while the digest is still being computed.
    pub(crate) fn digest_pending_for(&self, request: &[u8]) -> Option<Arc<Snapshot>> {
        let snapshot = self.snapshot.load();
        if snapshot.zonemd.is_ready() {
            return None;
        }
        let qtype = Request::read(request)?.qtype()?;
        matches!(qtype, types::ZONEMD | RecordType::AXFR | RecordType::IXFR)
            .then(|| Arc::clone(&snapshot))
    }
}

/// The ZONEMD digest of the snapshot a pipeline starts with, still to be computed: the pipeline
/// answers from that snapshot at once, and what writes the record waits until
/// [`DigestJob::run`] is done.
#[derive(Debug)]
#[must_use = "the snapshot's ZONEMD record waits for its digest until the job runs"]
pub(crate) struct DigestJob {
    pub(super) state: Arc<ZoneState>,
    pub(super) snapshot: Arc<Snapshot>,
}

impl DigestJob {
    /// Computes the digest (about as long as one AXFR of the zone) and publishes it.
    pub(crate) fn run(self) {
        let started = Instant::now();
        self.snapshot.compute_digest(&self.state.zone);
        info!(
            serial = self.snapshot.serial,
            elapsed_ms = started.elapsed().as_millis(),
            "zone digest (ZONEMD) computed"
        );
    }
}
