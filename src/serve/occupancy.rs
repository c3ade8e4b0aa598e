//! Who holds a listener's connection slots, and how long each has been idle: the defence
//! against clients that hold connections open without using them (RFC 7766 6.2.3: under
//! pressure, shorten idle timeouts and close the connections idle longest).
//!
//! Every connection takes a [`Seat`] and touches it whenever it makes progress (a complete
//! request read, a response written). Two rules follow from that clock:
//! - the idle timeout a connection waits with shrinks once more than half the slots are held,
//!   linearly down to a twentieth of the configured one when all are ([`Occupancy::idle_timeout`]);
//! - a client arriving when every slot is held ([`Occupancy::take_seat`]), or when the process
//!   is out of descriptors ([`Occupancy::rest_after_accept_error`]), takes the place of the
//!   connection idle longest, so a new client is served at once however many idle or half-sent
//!   connections an attacker holds.
//!
//! The DNS TCP listener and the HTTP server both use it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// How long an accept loop rests after a failed accept. The failures worth resting for are
/// running out of descriptors or memory; the client stays in the backlog, so accepting again at
/// once would fail again at once (a busy loop).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// The connections of one listener.
#[derive(Debug)]
pub(crate) struct Occupancy {
    capacity: usize,
    idle_timeout: Duration,
    /// One permit per slot; a seat holds one.
    slots: Arc<Semaphore>,
    /// The clock seats are stamped with (milliseconds since this instant).
    epoch: Instant,
    next_id: AtomicU64,
    seats: Mutex<HashMap<u64, Holder>>,
}

/// What the registry knows of a held seat.
#[derive(Debug)]
struct Holder {
    last_active: Arc<AtomicU64>,
    close: CancellationToken,
}

/// One connection's place; given back when dropped.
#[derive(Debug)]
pub(crate) struct Seat {
    id: u64,
    occupancy: Arc<Occupancy>,
    last_active: Arc<AtomicU64>,
    close: CancellationToken,
    /// Given back after the seat has left the registry (fields drop after `Drop::drop`).
    _slot: OwnedSemaphorePermit,
}

impl Occupancy {
    /// Room for `capacity` connections idling at most `idle_timeout` when few are held.
    pub(crate) fn new(capacity: usize, idle_timeout: Duration) -> Arc<Occupancy> {
        let capacity = capacity.max(1);
        Arc::new(Occupancy {
            capacity,
            slots: Arc::new(Semaphore::new(capacity)),
            idle_timeout,
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            seats: Mutex::new(HashMap::new()),
        })
    }

    fn seats(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Holder>> {
        // The map is left consistent by every holder of the lock, so a poisoned lock (a
        // panic elsewhere while holding it) still holds good data.
        self.seats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Seats held now.
    fn held(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    /// A seat for a newly accepted connection: at once when a slot is free, else once the
    /// connection idle longest, told to close, has given its slot back. With it, whether a
    /// connection was closed for it. `None` only if the slots were closed, which nothing does.
    pub(crate) async fn take_seat(self: &Arc<Self>) -> Option<(Seat, bool)> {
        let (slot, closed) = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => (slot, false),
            Err(_) => {
                let closed = self.close_idlest();
                (self.slots.clone().acquire_owned().await.ok()?, closed)
            }
        };
        Some((self.seat(slot), closed))
    }

    /// The next connection on `listener` (named `name` in the log) that `admits` lets in, with
    /// its seat; `None` once `stop` is cancelled. `closed_one` is called for every connection
    /// closed to make room, at the cap or when out of descriptors. A client `admits` refuses
    /// is closed at once.
    pub(crate) async fn accept(
        self: &Arc<Self>,
        listener: &TcpListener,
        name: &str,
        stop: &CancellationToken,
        admits: impl Fn(SocketAddr) -> bool,
        closed_one: impl Fn(),
    ) -> Option<(TcpStream, SocketAddr, Seat)> {
        loop {
            let (stream, client) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        if self.rest_after_accept_error(&error, name).await {
                            closed_one();
                        }
                        continue;
                    }
                },
                () = stop.cancelled() => return None,
            };
            if !admits(client) {
                debug!(%client, listener = name, "client refused by the access list");
                continue;
            }
            let (seat, closed) = tokio::select! {
                taken = self.take_seat() => taken?,
                () = stop.cancelled() => return None,
            };
            if closed {
                closed_one();
                debug!(%client, listener = name, "connections at the cap: closed the idlest");
            }
            return Some((stream, client, seat));
        }
    }

    /// After a failed accept on the `listener` named (out of descriptors, most likely): tells
    /// the connection idle longest to close, which frees one, logs, and rests before the next
    /// accept. Returns whether a connection was closed.
    pub(crate) async fn rest_after_accept_error(
        &self,
        error: &std::io::Error,
        listener: &str,
    ) -> bool {
        let closed = self.close_idlest();
        warn!(%error, listener, "accept failed");
        tokio::time::sleep(ACCEPT_PAUSE).await;
        closed
    }

    /// A seat holding `slot`, active from now.
    fn seat(self: &Arc<Self>, slot: OwnedSemaphorePermit) -> Seat {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let last_active = Arc::new(AtomicU64::new(self.now()));
        let close = CancellationToken::new();
        self.seats().insert(
            id,
            Holder {
                last_active: last_active.clone(),
                close: close.clone(),
            },
        );
        Seat {
            id,
            occupancy: self.clone(),
            last_active,
            close,
            _slot: slot,
        }
    }

    /// Tells the connection idle longest to close (one not already told); returns whether
    /// there was one. Its slot comes free when it has closed, a moment later.
    fn close_idlest(&self) -> bool {
        let seats = self.seats();
        // Seats are numbered in the order taken: among seats last active in the same
        // millisecond, the one connected first goes.
        let idlest = seats
            .iter()
            .filter(|(_, holder)| !holder.close.is_cancelled())
            .min_by_key(|(id, holder)| (holder.last_active.load(Ordering::Relaxed), **id));
        match idlest {
            Some((_, holder)) => {
                holder.close.cancel();
                true
            }
            None => false,
        }
    }

    /// How long a connection may wait for its client now: the configured timeout while at
    /// most half the slots are held, then shrinking linearly with the free slots to a
    /// twentieth of it when all are held.
    pub(crate) fn idle_timeout(&self) -> Duration {
        shrunk_timeout(self.idle_timeout, self.held(), self.capacity)
    }
}

/// The idle timeout with `held` of `capacity` slots held (see [`Occupancy::idle_timeout`]).
fn shrunk_timeout(configured: Duration, held: usize, capacity: usize) -> Duration {
    let half = capacity.div_ceil(2);
    let floor = configured / 20;
    if held <= half {
        return configured;
    }
    let free = capacity.saturating_sub(held) as u32;
    (configured * free / (capacity - half).max(1) as u32).max(floor)
}

impl Seat {
    /// Records progress: the connection is not idle as of now.
    pub(crate) fn touch(&self) {
        self.last_active
            .store(self.occupancy.now(), Ordering::Relaxed);
    }

    /// How long since the connection last made progress.
    pub(crate) fn idle_for(&self) -> Duration {
        let last = self.last_active.load(Ordering::Relaxed);
        Duration::from_millis(self.occupancy.now().saturating_sub(last))
    }

    /// Completes when the connection has been told to make room for a new one.
    pub(crate) async fn closing(&self) {
        self.close.cancelled().await;
    }

    /// How long the connection may wait for its client now.
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.occupancy.idle_timeout()
    }

    /// Runs `work` until it completes, `limit` passes, or the connection is told to close;
    /// `None` for the last two.
    pub(crate) async fn bounded<F: Future>(&self, limit: Duration, work: F) -> Option<F::Output> {
        tokio::select! {
            done = tokio::time::timeout(limit, work) => done.ok(),
            () = self.closing() => None,
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.occupancy.seats().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_shrinks_past_half_occupancy_to_a_twentieth() {
        let ten = Duration::from_secs(10);
        assert_eq!(shrunk_timeout(ten, 0, 256), ten);
        assert_eq!(shrunk_timeout(ten, 128, 256), ten);
        assert_eq!(shrunk_timeout(ten, 192, 256), Duration::from_secs(5));
        assert_eq!(shrunk_timeout(ten, 256, 256), Duration::from_millis(500));
        assert_eq!(shrunk_timeout(ten, 300, 256), Duration::from_millis(500));
        assert_eq!(
            shrunk_timeout(ten, 1, 1),
            ten,
            "one slot is never under pressure"
        );
    }

    #[test]
    fn the_seat_idle_longest_is_closed_first_and_seats_are_given_back() {
        let occupancy = Occupancy::new(3, Duration::from_secs(10));
        let seats: Vec<Seat> = (0..3)
            .map(|_| occupancy.seat(occupancy.slots.clone().try_acquire_owned().unwrap()))
            .collect();
        // Seat 0 was active most recently, seat 1 longest ago.
        seats[1].last_active.store(0, Ordering::Relaxed);
        seats[2].last_active.store(5, Ordering::Relaxed);
        seats[0].last_active.store(9, Ordering::Relaxed);
        assert_eq!(occupancy.held(), 3);
        let closed = |seats: &[Seat]| -> Vec<bool> {
            seats.iter().map(|s| s.close.is_cancelled()).collect()
        };
        assert!(occupancy.close_idlest());
        assert_eq!(closed(&seats), [false, true, false]);
        assert!(occupancy.close_idlest());
        assert_eq!(closed(&seats), [false, true, true]);
        seats[0].touch();
        assert!(occupancy.close_idlest());
        assert!(!occupancy.close_idlest(), "everyone is closing already");
        drop(seats);
        assert_eq!(occupancy.held(), 0);
    }
}
