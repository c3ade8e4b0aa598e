//! What every message of the pipeline reads: the zones served ([`Zones`]), each with its fixed
//! settings, the snapshot answered from now (the one table shared by every zone, with the
//! zone's serial, apex records and digest) and its IXFR differences, the last two swapped
//! whole on a reload; and the start-up work done while the first snapshots already answer:
//! the table's search index, their digests, then each journal brought up to its serial (by
//! `serve`, from the state directory).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use tracing::info;

use super::transfer::Journal;
use crate::core::names::Target;
use crate::core::zone::{Snapshot, Zone};
use crate::wire::Request;
use crate::wire::types::{self, RecordType};

/// One zone a pipeline serves: its settings, the serial it starts with, and who may transfer
/// it when that is not who `--allow-transfer` names.
#[derive(Clone, Debug)]
pub struct ServedZone {
    /// The zone's settings.
    pub zone: Zone,
    /// The serial the first table is served with.
    pub serial: u32,
    /// Networks allowed to transfer this zone instead of the policy's.
    pub allow_transfer: Option<Vec<IpNet>>,
}

/// The zones served, in the order they were configured (the first is the one the HTTP pages
/// name); never empty. Zones never nest (the configuration refuses it), so a name belongs to
/// one zone at most.
#[derive(Debug)]
pub(crate) struct Zones(Box<[Arc<ZoneState>]>);

impl Zones {
    /// The zones of `states`, of which there is at least one.
    pub(super) fn new(states: Vec<Arc<ZoneState>>) -> Zones {
        assert!(!states.is_empty(), "a pipeline serves at least one zone");
        Zones(states.into_boxed_slice())
    }

    /// The first zone configured.
    pub(crate) fn first(&self) -> &Arc<ZoneState> {
        &self.0[0]
    }

    /// Every zone, in the order configured.
    pub(crate) fn all(&self) -> &[Arc<ZoneState>] {
        &self.0
    }

    /// The zone a name (labels leftmost first, any case) is at or below; the first zone when
    /// it is in none, whose answer then refuses it as out of zone.
    #[inline]
    pub(crate) fn route(&self, labels: &[&[u8]]) -> &Arc<ZoneState> {
        match &*self.0 {
            [only] => only,
            all => all
                .iter()
                .find(|state| state.zone.name.relative(labels).is_some())
                .unwrap_or(&all[0]),
        }
    }

    /// The snapshot answered from now, when the table's search index (shared by every zone) is
    /// not built yet and the answer to `request` asks it: a search, `help` (whose example is
    /// a search), or a name of more labels than are read here. A serving loop then waits for
    /// the index ([`StartUpWait::wait`]) off its thread, and for nothing else of the start-up
    /// work.
    pub(crate) fn search_pending_for(&self, request: &[u8]) -> Option<Arc<Snapshot>> {
        let snapshot = self.first().snapshot.load();
        if snapshot.table.search_is_built() {
            return None;
        }
        let request = Request::read(request)?;
        let searches = request.question()?.labels().is_none_or(|labels| {
            matches!(
                self.route(labels).zone.name.classify(labels),
                Target::Search(_) | Target::Help
            )
        });
        searches.then(|| Arc::clone(&snapshot))
    }

    /// The zone of a request's question (the first zone when it has none).
    pub(crate) fn route_request(&self, request: &Request<'_>) -> &Arc<ZoneState> {
        if self.0.len() == 1 {
            return self.first();
        }
        let Some(question) = request.question() else {
            return self.first();
        };
        match question.labels() {
            Some(labels) => self.route(labels),
            None => {
                // More labels than the fast path keeps: rare enough to collect them.
                let labels: Vec<&[u8]> = question.name().collect();
                self.route(&labels)
            }
        }
    }
}

/// One zone's fixed settings and the table snapshot currently answered from.
#[derive(Debug)]
pub(crate) struct ZoneState {
    pub(crate) zone: Zone,
    /// Who may transfer this zone, when not who the pipeline's policy names.
    pub(crate) allow_transfer: Option<Vec<IpNet>>,
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

    /// Blocks until the start-up work is done.
    pub(crate) fn wait_started(&self) {
        self.started.wait();
    }
}

/// The ZONEMD digests of the snapshots a pipeline starts with, still to be computed: the
/// pipeline answers from those snapshots at once, and what writes the records waits until
/// [`DigestJob::run`] is done.
#[derive(Debug)]
#[must_use = "the snapshots' ZONEMD records wait for their digests until the job runs"]
pub(crate) struct DigestJob {
    pub(super) zones: Vec<(Arc<ZoneState>, Arc<Snapshot>)>,
}

impl DigestJob {
    /// Builds the table's search index when it is not built yet, then computes each zone's
    /// digest (about as long as one AXFR of the zone, whose `help` records ask the index) and
    /// publishes it. What waits for the start-up work goes on when the returned [`StartUp`]
    /// is dropped.
    pub(crate) fn run(self) -> StartUp {
        if let Some((_, snapshot)) = self.zones.first()
            && !snapshot.table.search_is_built()
        {
            let started = Instant::now();
            snapshot.table.search_index();
            // The build's temporaries are gone: their pages go back, as after the load.
            crate::memory::release_free_memory();
            info!(
                elapsed_ms = started.elapsed().as_millis(),
                "search index built"
            );
        }
        for (state, snapshot) in &self.zones {
            let started = Instant::now();
            snapshot.compute_digest(&state.zone);
            info!(
                zone = state.zone.display_name(),
                serial = snapshot.serial,
                elapsed_ms = started.elapsed().as_millis(),
                "zone digest (ZONEMD) computed"
            );
        }
        // So do the walks', which this thread's arena would otherwise keep resident (RSS at
        // rest 20.7 MiB without this call, 17.2 with it, one zone).
        crate::memory::release_free_memory();
        StartUp {
            states: self.zones.into_iter().map(|(state, _)| state).collect(),
        }
    }
}

/// The rest of the start-up work, after the digests: while it is held, IXFR (and whatever else
/// waits for the start-up) waits, so that each journal can still be brought up to the serial
/// served; dropping it lets them go, whatever happened.
#[derive(Debug)]
#[must_use = "requests waiting for the start-up go on when this is dropped"]
pub(crate) struct StartUp {
    states: Vec<Arc<ZoneState>>,
}

impl StartUp {
    /// The zones whose start-up this is.
    pub(crate) fn zones(&self) -> &[Arc<ZoneState>] {
        &self.states
    }
}

impl ZoneState {
    /// The zone's settings.
    pub(crate) fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The snapshot answered from right now.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The IXFR differences kept now.
    pub(crate) fn journal(&self) -> Arc<Journal> {
        self.journal.load_full()
    }

    /// Answers IXFR from `journal` from now on: what the start-up work ([`StartUp`], which
    /// must be held) brought the journal read back to.
    pub(crate) fn set_journal(&self, _started: &StartUp, journal: Journal) {
        self.journal.store(Arc::new(journal));
    }
}

impl Drop for StartUp {
    fn drop(&mut self) {
        for state in &self.states {
            let _ = state.started.set(());
        }
    }
}

/// A request held back until what its answer needs of the start-up work is there
/// ([`super::Pipeline::start_up_pending_for`]).
#[derive(Debug)]
pub(crate) enum StartUpWait {
    /// Until the start-up work is done ([`ZoneState::must_wait`]).
    Started(Arc<ZoneState>),
    /// Until the snapshot's search index is built ([`Zones::search_pending_for`]); by this
    /// thread, if no other one is building it yet.
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
