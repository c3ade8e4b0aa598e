//! What every message of the pipeline reads: the zone's fixed settings, the table snapshot
//! answered from now, and the IXFR differences, the last two swapped whole on a reload; and
//! the start-up work done while the first snapshot already answers: its search index, its
//! digest, then the journal brought up to its serial (by `serve`, from the state directory).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use tracing::info;

use super::transfer::Journal;
use crate::core::names::Target;
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
    /// Set once the start-up work is done ([`StartUp`] dropped): the first snapshot's digest
    /// is computed and the journal leads to its serial.
    pub(crate) started: OnceLock<()>,
}

impl ZoneState {
    /// Whether `request` must wait for the start-up work: it asks for something written with
    /// the ZONEMD record (the record itself, AXFR) or from the journal (IXFR) while they are
    /// not there yet. A serving loop then waits ([`ZoneState::wait_started`]) off its thread
    /// before handing the request on, so that nothing else it serves waits too. The request is
    /// read here (a second view of it) only while the start-up work runs.
    pub(crate) fn must_wait(&self, request: &[u8]) -> bool {
        if self.started.get().is_some() {
            return false;
        }
        Request::read(request)
            .and_then(|request| request.qtype())
            .is_some_and(|qtype| {
                matches!(qtype, types::ZONEMD | RecordType::AXFR | RecordType::IXFR)
            })
    }

    /// The snapshot answered from now, when its search index is not built yet and the answer
    /// to `request` asks it: a search, `help` (whose example is a search), or a name of more
    /// labels than are read here. A serving loop then waits for the index
    /// ([`StartUpWait::wait`]) off its thread, and for nothing else of the start-up work.
    pub(crate) fn search_pending_for(&self, request: &[u8]) -> Option<Arc<Snapshot>> {
        let snapshot = self.snapshot.load();
        if snapshot.table.search_is_built() {
            return None;
        }
        let request = Request::read(request)?;
        let searches = request.question()?.labels().is_none_or(|labels| {
            matches!(
                self.zone.name.classify(labels),
                Target::Search(_) | Target::Help
            )
        });
        searches.then(|| Arc::clone(&snapshot))
    }

    /// Blocks until the start-up work is done.
    pub(crate) fn wait_started(&self) {
        self.started.wait();
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
    /// Builds the table's search index when it is not built yet, then computes the digest
    /// (about as long as one AXFR of the zone, whose `help` records ask the index) and
    /// publishes it. What waits for the start-up work goes on when the returned [`StartUp`]
    /// is dropped.
    pub(crate) fn run(self) -> StartUp {
        if !self.snapshot.table.search_is_built() {
            let started = Instant::now();
            self.snapshot.table.search_index();
            // The build's temporaries are gone: their pages go back, as after the load.
            crate::memory::release_free_memory();
            info!(
                elapsed_ms = started.elapsed().as_millis(),
                "search index built"
            );
        }
        let started = Instant::now();
        self.snapshot.compute_digest(&self.state.zone);
        // So do the walk's, which this thread's arena would otherwise keep resident (RSS at
        // rest 20.7 MiB without this call, 17.2 with it).
        crate::memory::release_free_memory();
        info!(
            serial = self.snapshot.serial,
            elapsed_ms = started.elapsed().as_millis(),
            "zone digest (ZONEMD) computed"
        );
        StartUp { state: self.state }
    }
}

/// The rest of the start-up work, after the digest: while it is held, IXFR (and whatever else
/// waits for the start-up) waits, so that the journal can still be brought up to the serial
/// served; dropping it lets them go, whatever happened.
#[derive(Debug)]
#[must_use = "requests waiting for the start-up go on when this is dropped"]
pub(crate) struct StartUp {
    state: Arc<ZoneState>,
}

impl StartUp {
    /// Answers IXFR from `journal` from now on.
    pub(crate) fn set_journal(&self, journal: Journal) {
        self.state.journal.store(Arc::new(journal));
    }
}

impl Drop for StartUp {
    fn drop(&mut self) {
        let _ = self.state.started.set(());
    }
}

/// A request held back at start-up ([`super::Pipeline::start_up_pending_for`]).
#[derive(Debug)]
pub(crate) enum StartUpWait {
    /// Until the start-up work is done ([`ZoneState::must_wait`]).
    Started(Arc<ZoneState>),
    /// Until the snapshot's search index is built ([`ZoneState::search_pending_for`]); by
    /// this thread, if no other one is building it yet.
    Search(Arc<Snapshot>),
}

impl StartUpWait {
    /// Blocks until what the request needs is there.
    pub(crate) fn wait(self) {
        match self {
            StartUpWait::Started(state) => state.wait_started(),
            StartUpWait::Search(snapshot) => {
                snapshot.table.search_index();
            }
        }
    }
}
