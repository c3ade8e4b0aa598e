//! dnstap (<https://dnstap.info>): every query portsd answers and its response, as the
//! `AUTH_QUERY` and `AUTH_RESPONSE` messages NSD, Knot and BIND log, sent in Frame Streams to a
//! collector (`--dnstap unix:PATH` or `tcp:ADDR:PORT`).
//!
//! The request path only copies bytes: [`Tap::exchange`] (called by `Pipeline::handle`) and
//! [`Tap::response`] (each message of a zone transfer) put the raw query and response with the
//! client, transport and times into a bounded queue with `try_send`, never waiting; a full
//! queue drops the event and counts it (`portsd_dnstap_dropped_total`). The serving side's
//! writer task (`crate::serve` runs it) takes events off the queue, encodes them
//! ([`encode`], with `message`'s protobuf types) and writes them as Frame Streams data frames
//! ([`frames`]), reconnecting when the collector goes away.

pub(crate) mod frames;
mod message;

pub(crate) use message::{Event, Origin, encode};

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::transport::Transport;

/// Events the queue holds before new ones are dropped: a few thousand queries, a fraction of a
/// second of a busy server's traffic, so a collector's pause costs events, not memory.
pub(crate) const QUEUE_EVENTS: usize = 4096;

/// Where dnstap messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Unix stream socket (`unix:PATH`), as `fstrm_capture -u` and most collectors listen.
    Unix(std::path::PathBuf),
    /// A TCP address (`tcp:ADDR:PORT`).
    Tcp(SocketAddr),
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        match text.split_once(':') {
            Some(("unix", path)) if !path.is_empty() => Ok(Target::Unix(path.into())),
            Some(("tcp", address)) => address
                .parse()
                .map(Target::Tcp)
                .map_err(|e| format!("{address:?}: {e} (expected tcp:ADDR:PORT)")),
            _ => Err(format!("{text:?}: expected unix:PATH or tcp:ADDR:PORT")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
            Target::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Target, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The request path's end of the queue: cheap to clone, never waits.
#[derive(Clone, Debug)]
pub struct Tap {
    queue: mpsc::Sender<Event>,
    metrics: Arc<Metrics>,
}

/// The writer's end of the queue, and what every message it writes carries.
#[derive(Debug)]
pub struct Queue {
    pub(crate) events: mpsc::Receiver<Event>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) origin: Origin,
}

/// A queue of [`QUEUE_EVENTS`], its two ends.
pub(crate) fn queue(metrics: Arc<Metrics>, origin: Origin) -> (Tap, Queue) {
    let (sender, events) = mpsc::channel(QUEUE_EVENTS);
    let tap = Tap {
        queue: sender,
        metrics: metrics.clone(),
    };
    (
        tap,
        Queue {
            events,
            metrics,
            origin,
        },
    )
}

impl Tap {
    /// Queues `query` from `client` received `elapsed` ago and its `response` (empty when none
    /// was sent: a transfer's opening, whose messages follow through [`Tap::response`]).
    pub(crate) fn exchange(
        &self,
        client: SocketAddr,
        transport: Transport,
        elapsed: Duration,
        query: &[u8],
        response: &[u8],
    ) {
        let now = SystemTime::now();
        let mut bytes = Vec::with_capacity(query.len() + response.len());
        bytes.extend_from_slice(query);
        bytes.extend_from_slice(response);
        self.send(Event {
            client,
            transport,
            query_time: now.checked_sub(elapsed).unwrap_or(now),
            response_time: now,
            bytes: bytes.into(),
            query_len: query.len(),
        });
    }

    /// Queues one message of a zone transfer to `client`.
    pub(crate) fn response(&self, client: SocketAddr, transport: Transport, response: &[u8]) {
        let now = SystemTime::now();
        self.send(Event {
            client,
            transport,
            query_time: now,
            response_time: now,
            bytes: bytes::Bytes::copy_from_slice(response),
            query_len: 0,
        });
    }

    fn send(&self, event: Event) {
        if self.queue.try_send(event).is_err() {
            self.metrics.dnstap_dropped(1);
        }
    }
}

#[cfg(test)]
mod tests;
