//! The serving side: everything with sockets, threads, signals or files, split by job.
//!
//! - `data`: where the table comes from ([`DataSource`]), the one load every command uses.
//! - `bind`: binding the UDP and TCP sockets, or taking them from systemd.
//! - `udp`: the UDP loops (in batches, `batch`) and the threads that run them.
//! - `tcp`: the accept loop and its connections, for TCP and DNS over TLS.
//! - `tls`: the certificate of DNS over TLS and HTTPS, reread on reload.
//! - `occupancy`: who holds the connection slots of a listener and since when they are idle,
//!   for the TCP listener and the HTTP server under pressure.
//! - `daemon`: signals, reload, readiness and the watchdog.
//! - `http`: the HTTP and HTTPS server: the JSON API, the page, the OpenAPI document,
//!   `/metrics`, DNS over HTTPS.
//! - `notify`: NOTIFY to the secondaries when the serial changes.
//! - `state`: `--state-dir`, the serial and the IXFR journal kept across restarts.
//! - [`watch`]: `--watch`, changes to the data files turned into reloads.
//!
//! Every loop only moves bytes; what to answer is the [`Pipeline`]'s. hickory-server's own
//! `Server` loop is not used: it spawns a task and crosses a channel for every UDP request
//! (measured at about 0.63x NSD's throughput here) and has no cap on TCP connections.

mod batch;
pub(crate) mod bind;
mod daemon;
mod data;
mod dnstap;
mod http;
mod notify;
mod occupancy;
pub(crate) mod state;
pub(crate) mod tcp;
#[cfg(test)]
mod tests;
mod tls;
mod udp;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::Interest;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use bind::{Listeners, ServerError};
pub use data::{DataLocation, DataSource};
pub use http::HttpSettings;
use tcp::SHUTDOWN_GRACE;
pub use tcp::TcpLimits;
pub use tls::{Tls, TlsError, TlsFiles};

use crate::core::catalog::Catalog;
use crate::core::serial;
use crate::core::table::Table;
use crate::core::zone::{Zone, about};
use crate::metrics::Metrics;
use crate::pipeline::{DigestJob, Pipeline, Policy, ServedZone};
use crate::sources::DataErrors;

/// What one zone has instead of the server's settings: the file's `[zones."NAME"]` table (no
/// flag: a zone's own secondaries are configured in the file).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneOverrides {
    /// Networks allowed to transfer this zone, instead of `--allow-transfer`.
    pub allow_transfer: Option<Vec<ipnet::IpNet>>,
    /// Secondaries told of this zone's new serials, instead of `--notify`.
    pub notify: Option<Vec<SocketAddr>>,
}

/// How the server runs: everything but the sockets, the zone and the table. `portsd serve`
/// gets it whole from the configuration (`config::ServeConfig::settings`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where reloads read the table from.
    pub data: DataSource,
    /// TCP limits.
    pub tcp: TcpLimits,
    /// The per-message policy: access, rate limiting, query log.
    pub policy: Policy,
    /// Secondaries told of every new serial (`--notify`).
    pub notify: Vec<SocketAddr>,
    /// What each zone has instead of the settings above, in the order of the zones given to
    /// [`Server::new`] (missing: nothing).
    pub zone_overrides: Vec<ZoneOverrides>,
    /// Where the served serial is kept across restarts (`--state-dir`), if anywhere.
    pub state: Option<state::StateDir>,
    /// The HTTP server's headers and limits.
    pub http: HttpSettings,
    /// Where queries and responses are sent for dnstap (`--dnstap`), if anywhere.
    pub dnstap: Option<crate::dnstap::Target>,
    /// The certificate of the DNS over TLS and HTTPS listeners, when there are any.
    pub tls: Option<Tls>,
    /// The name of the catalog zone of the zones served (`--catalog`), lower-case labels,
    /// when one is served.
    pub catalog: Option<Vec<Box<[u8]>>>,
}

impl Settings {
    /// The defaults: everyone answered, rate limiting on with loopback exempt, default TCP
    /// limits.
    pub fn new(data: DataLocation) -> Settings {
        Settings {
            data: DataSource::new(data),
            tcp: TcpLimits::default(),
            policy: Policy::default(),
            notify: Vec::new(),
            zone_overrides: Vec::new(),
            state: None,
            http: HttpSettings::default(),
            dnstap: None,
            tls: None,
            catalog: None,
        }
    }
}

/// The serial `table` is served with after `previous`, recorded in `state` when there is one.
fn settle_serial(
    zone: &Zone,
    table: &Table,
    previous: Option<serial::Served>,
    state: Option<&state::StateDir>,
) -> u32 {
    let served = serial::serial_of(zone, table, previous);
    if let Some(state) = state {
        state.record(served);
    }
    served.0
}

/// The catalog named `name` of `members` (TTL and timers from `template`), its serial settled
/// against the one recorded in `state` and recorded there, with the clock as its date.
fn catalog(
    name: Vec<Box<[u8]>>,
    members: &[Zone],
    template: &Zone,
    state: Option<&state::StateDir>,
) -> Catalog {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |elapsed| {
            u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX)
        });
    let previous = state.and_then(state::StateDir::catalog_served);
    let catalog = Catalog::new(name, members, template, previous, now);
    if let Some(state) = state {
        state.record_catalog(catalog.served);
    }
    info!(
        catalog = %catalog.zone.display_name(),
        serial = catalog.serial(),
        members = members.len(),
        "serving the catalog zone"
    );
    catalog
}

/// The running server: the pipeline every loop calls, and what reloads and TCP need.
#[derive(Clone, Debug)]
pub struct Server {
    pipeline: Arc<Pipeline>,
    data: Arc<DataSource>,
    tcp: TcpLimits,
    /// One per zone, in the pipeline's order of zones.
    notifiers: Arc<[notify::Notifier]>,
    /// Each zone's directory in `--state-dir`, in the pipeline's order of zones.
    state: Option<Arc<[state::StateDir]>>,
    http: Arc<http::Http>,
    /// The dnstap collector and the queue's writing end, taken by [`Server::run`].
    dnstap: Arc<Mutex<Option<(crate::dnstap::Target, crate::dnstap::Queue)>>>,
    /// The first snapshot's search index and ZONEMD digest, made by [`Server::run`] on a
    /// thread of its own once the loops answer.
    digest: Arc<Mutex<Option<DigestJob>>>,
    tls: Option<Tls>,
    /// The catalog's NOTIFYs and the serial they announce, when a catalog is served.
    catalog: Option<(Arc<notify::Notifier>, u32)>,
}

impl Server {
    /// A server for each of `zones` (at least one), all answered from `table`.
    pub fn new(zones: Vec<Zone>, table: Table, settings: Settings) -> Server {
        let overrides = |n: usize| settings.zone_overrides.get(n).cloned().unwrap_or_default();
        let feeds_secondaries = !settings.notify.is_empty()
            || !settings.policy.transfer.allow.is_empty()
            || (0..zones.len()).any(|n| {
                let own = overrides(n);
                own.notify.is_some_and(|n| !n.is_empty())
                    || own.allow_transfer.is_some_and(|a| !a.is_empty())
            });
        if feeds_secondaries && settings.state.is_none() {
            warn!(
                "zone transfers without --state-dir: a serial stepped past the data's date, or \
                 changed zone settings, are forgotten on restart, and secondaries may miss the change"
            );
        }
        let state: Option<Arc<[state::StateDir]>> =
            (settings.state.as_ref()).map(|root| root.zone_dirs(&zones).into());
        let served: Vec<ServedZone> = zones
            .into_iter()
            .enumerate()
            .map(|(n, zone)| {
                let dir = state.as_ref().map(|dirs| &dirs[n]);
                let previous = dir.and_then(state::StateDir::served);
                let serial = settle_serial(&zone, &table, previous, dir);
                let allow_transfer = overrides(n).allow_transfer;
                ServedZone {
                    zone,
                    serial,
                    allow_transfer,
                }
            })
            .collect();
        let metrics = Arc::new(Metrics::new());
        let notifiers = (served.iter().enumerate())
            .map(|(n, served)| {
                notify::Notifier::new(
                    overrides(n)
                        .notify
                        .unwrap_or_else(|| settings.notify.clone()),
                    served.zone.clone(),
                    &settings.policy.keys,
                    metrics.clone(),
                )
            })
            .collect();
        let origin = crate::dnstap::Origin {
            identity: settings.policy.identity.identity.clone().map(Into::into),
            version: settings.policy.identity.version.clone().map(Into::into),
        };
        let catalog = settings.catalog.map(|name| {
            let state = settings.state.as_ref();
            let zones: Vec<Zone> = served.iter().map(|served| served.zone.clone()).collect();
            let catalog = catalog(name, &zones, &zones[0], state);
            let notifier = notify::Notifier::new(
                settings.notify,
                catalog.zone.clone(),
                &settings.policy.keys,
                metrics.clone(),
            );
            (catalog, notifier)
        });
        let (mut pipeline, digest) =
            Pipeline::digest_pending(served, table, settings.policy, metrics.clone());
        let mut catalog_notifier = None;
        if let Some((catalog, notifier)) = catalog {
            catalog_notifier = Some((Arc::new(notifier), catalog.serial()));
            pipeline = pipeline.with_catalog(catalog);
        }
        let mut dnstap = None;
        if let Some(target) = settings.dnstap {
            let (tap, queue) = crate::dnstap::queue(metrics, origin);
            pipeline = pipeline.tapped(tap);
            dnstap = Some((target, queue));
        }
        let pipeline = Arc::new(pipeline);
        Server {
            http: Arc::new(http::Http::new(pipeline.clone(), settings.http)),
            pipeline,
            data: Arc::new(settings.data),
            tcp: settings.tcp,
            notifiers,
            state,
            dnstap: Arc::new(Mutex::new(dnstap)),
            digest: Arc::new(Mutex::new(Some(digest))),
            tls: settings.tls,
            catalog: catalog_notifier,
        }
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        self.pipeline.metrics()
    }

    /// Re-reads the data, builds the new table aside and swaps it in, for every zone. On error
    /// the current table keeps serving. Returns the serial now served in the first zone (each
    /// other zone's is logged).
    pub(crate) fn reload(&self) -> Result<u32, DataErrors> {
        let table = (self.data.table()).inspect_err(|_| self.metrics().reload_failed())?;
        // The journals a reload extends are the ones the start-up work brought up to date.
        self.pipeline.wait_started();
        let zones = self.pipeline.zones();
        let dir = |n: usize| self.state.as_ref().map(|dirs| &dirs[n]);
        // Each zone's serial before and after. The tables served until now are let go of
        // before the swap, so that the memory they held can be given back once it is done.
        let (before, after): (Vec<u32>, Vec<u32>) = (zones.iter().enumerate())
            .map(|(n, state)| {
                let current = state.snapshot();
                let served = (
                    current.serial,
                    serial::fingerprint(state.zone(), &current.table),
                );
                (
                    served.0,
                    settle_serial(state.zone(), &table, Some(served), dir(n)),
                )
            })
            .unzip();
        self.pipeline.replace_table(table, &after);
        crate::memory::release_free_memory();
        for (n, state) in zones.iter().enumerate() {
            let serial = after[n];
            if let Some(dir) = dir(n).filter(|_| serial != before[n]) {
                // The new zone before the journal leading to it, the old zone removed last: a
                // crash between any two leaves what the next start needs for a difference.
                dir.record_zone(state.zone(), &state.snapshot());
                dir.record_journal(&state.journal());
                dir.remove_zones_except(serial);
            }
            if n > 0 {
                info!(zone = state.zone().display_name(), serial, "zone reloaded");
            }
            self.notifiers[n].announce(serial);
        }
        Ok(after[0])
    }

    /// Starts the start-up work on a thread of its own (once: later snapshots are computed
    /// whole before they are swapped in): the first snapshots' digests, then each zone's
    /// journal brought up to its serial from the state directory.
    fn start_digest(&self) -> Result<(), ServerError> {
        let Some(job) = self.digest.lock().ok().and_then(|mut job| job.take()) else {
            return Ok(());
        };
        let (pipeline, state) = (self.pipeline.clone(), self.state.clone());
        std::thread::Builder::new()
            .name("portsd-zonemd".to_owned())
            .spawn(move || {
                let started = job.run();
                for (dir, zone) in state
                    .iter()
                    .flat_map(|dirs| dirs.iter())
                    .zip(started.zones())
                {
                    dir.catch_up(zone, pipeline.journal_max_bytes(), &started);
                }
                drop(started);
                // The digests' and differences' temporaries are gone: give their pages back.
                crate::memory::release_free_memory();
            })
            .map(drop)
            .map_err(|error| ServerError::Thread("zone digest", error))
    }

    /// Serves on `listeners` until `shutdown` completes, then stops accepting, finishes what is
    /// in flight and returns.
    pub async fn run(
        &self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let serving = [
            &listeners.tcp,
            &listeners.tls,
            &listeners.http,
            &listeners.https,
        ];
        if listeners.udp.is_empty() && serving.iter().all(|sockets| sockets.is_empty()) {
            return Err(ServerError::NoSockets);
        }
        if !(listeners.tls.is_empty() && listeners.https.is_empty()) && self.tls.is_none() {
            return Err(ServerError::NoCertificate);
        }
        // The first line says what is served and where, as the apex TXT record says it.
        let snapshot = self.pipeline.snapshot();
        info!(
            "{} | serving {}",
            about(self.pipeline.zone(), &snapshot.table, snapshot.serial),
            listeners.addresses().join(", ")
        );
        drop(snapshot);
        for state in &self.pipeline.zones()[1..] {
            let serial = state.snapshot().serial;
            info!(
                zone = state.zone().display_name(),
                serial, "also serving zone"
            );
        }
        // The load's temporaries are gone by now: give their pages back before serving.
        crate::memory::release_free_memory();
        let stop = CancellationToken::new();
        // Whichever way this returns, the UDP threads started so far stop too.
        let _stop_on_return = stop.clone().drop_guard();
        let tasks = TaskTracker::new();
        // The dnstap writer stops last, after the loops, to write what they queued.
        let stop_writer = CancellationToken::new();
        let _stop_writer_on_return = stop_writer.clone().drop_guard();
        let taken = self.dnstap.lock().map(|mut dnstap| dnstap.take());
        let writer = taken
            .ok()
            .flatten()
            .map(|(target, queue)| tokio::spawn(dnstap::run(target, queue, stop_writer.clone())));
        for (notifier, state) in self.notifiers.iter().zip(self.pipeline.zones()) {
            notifier.announce(state.snapshot().serial);
        }
        if let Some((notifier, serial)) = &self.catalog {
            notifier.announce(*serial);
        }
        if !listeners.udp_threads.is_empty() {
            info!(
                "answering udp on {} threads",
                listeners.udp_threads.len() + 1
            );
        }
        for (number, sockets) in (1..).zip(listeners.udp_threads) {
            let finished = udp::start_thread(number, sockets, self.pipeline.clone(), &stop).await?;
            tasks.spawn(async move {
                // Resolves (with an error) when the thread drops its end, as it ends.
                let _ = finished.await;
            });
        }
        // The pages print commands that ask this server over DNS: they need its address.
        let dns_addresses = (listeners.udp.iter().map(std::net::UdpSocket::local_addr))
            .chain(listeners.tcp.iter().map(std::net::TcpListener::local_addr));
        if let Some(addr) = dns_addresses.flatten().next() {
            self.http.serves_dns_at(addr);
        }
        for socket in listeners.udp {
            let socket =
                udp::register_udp(socket, Interest::READABLE).map_err(ServerError::Activation)?;
            if let Ok(addr) = socket.get_ref().local_addr() {
                info!("listening on udp {addr}");
            }
            tasks.spawn(udp::serve(socket, self.pipeline.clone(), stop.clone()));
        }
        let https_acceptor = self.tls.as_ref().map(|tls| tls.https().clone());
        let http_listeners = (listeners.http.into_iter())
            .map(|listener| (listener, "http", None))
            .chain(listeners.metrics.map(|l| (l, "metrics", None)))
            .chain((listeners.https.into_iter()).map(|l| (l, "https", https_acceptor.clone())));
        for (listener, role, tls) in http_listeners {
            let listener = TcpListener::from_std(listener).map_err(ServerError::Activation)?;
            let http = self.http.clone();
            tasks.spawn(http::serve(listener, http, role, tls, stop.clone()));
        }
        // DNS over TLS is DNS over TCP with a handshake first: one accept loop for both.
        let dns_streams = (listeners.tcp.into_iter().map(|l| (l, None)))
            .chain(listeners.tls.into_iter().map(|l| (l, self.tls.clone())));
        for (listener, tls) in dns_streams {
            let listener = TcpListener::from_std(listener).map_err(ServerError::Activation)?;
            if let Ok(addr) = listener.local_addr() {
                let name = if tls.is_some() { "dot" } else { "tcp" };
                info!("listening on {name} {addr}");
            }
            tasks.spawn(tcp::serve(
                listener,
                self.pipeline.clone(),
                self.tcp,
                tls,
                stop.clone(),
            ));
        }
        // The loops answer from here on; the search index and the digest come while they do,
        // and what needs them waits (`Pipeline::start_up_pending_for`).
        self.start_digest()?;
        tasks.close();
        shutdown.await;
        info!("stopping");
        stop.cancel();
        // Loops finish the batch or query in hand, and connections bound their own last
        // writes; this is the limit for all of it together. Tasks still running then end
        // with the runtime.
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
            .await
            .is_err()
        {
            warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
        }
        stop_writer.cancel();
        if let Some(writer) = writer {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer).await;
        }
        Ok(())
    }
}
