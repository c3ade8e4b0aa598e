//! TCP and DNS over TLS: the accept loop with its cap on concurrent connections, and one task
//! per connection (after the TLS handshake for DoT, bounded by the idle timeout) that reads
//! length-prefixed queries (RFC 1035 4.2.2, tokio-util's length-delimited codec),
//! answers each through the [`Pipeline`] and writes the answers back in order (RFC 7766),
//! until the client goes idle, closes, reaches the query cap, is closed to make room, or the
//! server stops.
//!
//! Under pressure ([`super::occupancy`]): a client arriving when the cap is reached, or when
//! the process is out of descriptors, is accepted at once and the connection idle longest
//! closed for it; and idle timeouts shrink as the connections fill the cap. So clients that
//! connect and send nothing, or half a message, can delay nobody.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::occupancy::{Occupancy, Seat};
use super::tls::Tls;
use crate::pipeline::{Outcome, Pipeline, Transfer};
use crate::transport::Transport;

/// How long a stop waits for queries in flight, the last writes of TCP connections included
/// (systemd's stop budget is 10 s in the shipped unit, the usual one 90 s).
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How long a stopping server still waits for the next query on an open TCP connection.
const IN_FLIGHT_GRACE: Duration = Duration::from_millis(100);

/// How many bytes of answers wait in a connection's write buffer before they are written:
/// four transfer messages per write instead of one, which on loopback halves the kernel's
/// share of a zone transfer (each write wakes the reader).
const WRITE_BATCH: usize = 64 * 1024;

/// Limits on TCP clients.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    /// Most connections served at once; a client arriving past it takes the place of the
    /// connection idle longest.
    pub max_connections: usize,
    /// A connection with no complete query for this long is closed (shorter once more than
    /// half of `max_connections` are open).
    pub idle_timeout: Duration,
    /// A connection is closed after answering this many queries; 0 means no limit (NSD's
    /// default too: idle timeout and the connection cap bound what a client can hold).
    pub max_queries: usize,
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            max_connections: 256,
            idle_timeout: Duration::from_secs(10),
            max_queries: 0,
        }
    }
}

/// Accepts connections on `listener` until `stop`, then waits for the open ones to finish
/// what they have in hand. With `tls`, each connection is DNS over TLS.
pub(super) async fn serve(
    listener: TcpListener,
    pipeline: Arc<Pipeline>,
    limits: TcpLimits,
    tls: Option<Tls>,
    stop: CancellationToken,
) {
    let transport = if tls.is_some() {
        Transport::Dot
    } else {
        Transport::Tcp
    };
    let name = transport.label();
    let occupancy = Occupancy::new(limits.max_connections, limits.idle_timeout);
    let connections = TaskTracker::new();
    let closed_one = || pipeline.metrics().tcp_closed_under_pressure();
    while let Some((stream, client, seat)) = occupancy
        .accept(&listener, name, &stop, |_| true, closed_one)
        .await
    {
        let pipeline = pipeline.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let peer = Peer {
                client,
                transport,
                pipeline: &pipeline,
                limits,
                seat: &seat,
            };
            let Some(tls) = tls else {
                return serve_connection(stream, peer, stop).await;
            };
            // A client that stalls in the handshake is as idle as one that sends no query.
            let handshake = tls.dot().accept(stream);
            match seat.bounded(seat.idle_timeout(), handshake).await {
                Some(Ok(stream)) => serve_connection(stream, peer, stop).await,
                Some(Err(error)) => debug!(%client, %error, "tls handshake failed"),
                None => debug!(%client, "tls handshake not finished in time, closing"),
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// Whether `buffered` starts with a whole length-prefixed message.
fn holds_complete_message(buffered: &[u8]) -> bool {
    match buffered {
        [high, low, rest @ ..] => rest.len() >= usize::from(u16::from_be_bytes([*high, *low])),
        _ => false,
    }
}

type Connection<S> = Framed<S, LengthDelimitedCodec>;

/// What a connection's task works with besides its stream.
#[derive(Clone, Copy)]
struct Peer<'a> {
    client: SocketAddr,
    transport: Transport,
    pipeline: &'a Pipeline,
    limits: TcpLimits,
    seat: &'a Seat,
}

/// Appends `message` with its length prefix to the connection's write buffer: one copy of the
/// message, where handing the codec a `Bytes` cost two. `false` for a message too long to
/// frame (the pipeline never builds one).
fn queue<S: AsyncWrite>(framed: &mut Connection<S>, message: &[u8]) -> bool {
    let Ok(length) = u16::try_from(message.len()) else {
        return false;
    };
    let buffer = framed.write_buffer_mut();
    buffer.put_u16(length);
    buffer.extend_from_slice(message);
    true
}

/// Whether the write buffer holds enough to be written now.
fn batch_full<S>(framed: &Connection<S>) -> bool {
    framed.write_buffer().len() >= WRITE_BATCH
}

/// Writes out the buffered answers within `limit`; `false` when that failed or took longer.
async fn flush_within<S: AsyncWrite + Unpin>(
    framed: &mut Connection<S>,
    seat: &Seat,
    limit: Duration,
) -> bool {
    let flushed = seat.bounded(limit, SinkExt::<Bytes>::flush(framed)).await;
    matches!(flushed, Some(Ok(())))
}

/// The next request on the connection; `None` when the connection should close (the client
/// closed it, sent a bad frame, stayed idle, or was chosen to make room). Once stopping,
/// queries already on their way still get a moment to arrive and be answered.
async fn next_request<S: AsyncRead + Unpin>(
    framed: &mut Connection<S>,
    peer: &Peer<'_>,
    stop: &CancellationToken,
    stopping: &mut bool,
) -> Option<BytesMut> {
    loop {
        let (client, seat) = (peer.client, peer.seat);
        let wait = if *stopping {
            IN_FLIGHT_GRACE
        } else {
            seat.idle_timeout()
        };
        let next = tokio::select! {
            next = tokio::time::timeout(wait, framed.next()) => next,
            () = stop.cancelled(), if !*stopping => {
                *stopping = true;
                continue;
            }
            () = seat.closing() => {
                debug!(%client, "{} connection closed to make room", peer.transport.label());
                return None;
            }
        };
        return match next {
            Ok(Some(Ok(request))) => Some(request),
            Ok(Some(Err(error))) => {
                debug!(%error, %client, "{} connection closed", peer.transport.label());
                None
            }
            Ok(None) => None,
            Err(_) => {
                debug!(%client, "{} connection idle, closing", peer.transport.label());
                None
            }
        };
    }
}

/// Queues a transfer's messages as they are built, writing them out in batches: a transfer
/// holds a few messages in memory, and a secondary that stops reading stalls only its own
/// connection. False when the connection failed or the secondary stopped reading.
async fn send_transfer<S: AsyncWrite + Unpin>(
    framed: &mut Connection<S>,
    transfer: &mut Transfer,
    response: &mut Vec<u8>,
    seat: &Seat,
    limits: TcpLimits,
) -> bool {
    while transfer.next_message(response) {
        if !queue(framed, response) {
            return false;
        }
        if batch_full(framed) {
            if !flush_within(framed, seat, limits.idle_timeout).await {
                return false;
            }
            seat.touch();
        }
    }
    true
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: Peer<'_>,
    stop: CancellationToken,
) {
    let Peer {
        client,
        transport,
        pipeline,
        limits,
        seat,
    } = peer;
    let codec = LengthDelimitedCodec::builder()
        .length_field_type::<u16>()
        .new_codec();
    let mut framed = Framed::new(stream, codec);
    let mut response = Vec::new();
    // Answers wait in the write buffer only while the next query is already complete in the
    // read buffer, so a burst of pipelined queries costs one write and no answer waits for the
    // network.
    let mut unflushed = false;
    let mut answered = 0usize;
    let mut flush_limit = limits.idle_timeout;
    let mut stopping = false;
    loop {
        if unflushed && !holds_complete_message(framed.read_buffer()) {
            // A client that does not read its answers is idle too.
            unflushed = false;
            if !flush_within(&mut framed, seat, seat.idle_timeout()).await {
                return;
            }
            seat.touch();
        }
        if limits.max_queries != 0 && answered >= limits.max_queries {
            break;
        }
        let next = next_request(&mut framed, &peer, &stop, &mut stopping).await;
        if stopping {
            flush_limit = SHUTDOWN_GRACE;
        }
        let Some(request) = next else { break };
        answered += 1;
        seat.touch();
        started_for(pipeline, &request).await;
        match pipeline.handle(&request, client, transport, Instant::now(), &mut response) {
            Outcome::Silence => continue,
            Outcome::Reply => {}
            Outcome::Transfer(mut transfer) => {
                if !send_transfer(&mut framed, &mut transfer, &mut response, seat, limits).await {
                    debug!(%client, "zone transfer cut short");
                    return;
                }
                unflushed = true;
                continue;
            }
        }
        if !queue(&mut framed, &response) {
            return;
        }
        unflushed = true;
        // A client that pipelines queries without reading its answers gets them written as
        // they pile up, within its idle timeout.
        if batch_full(&framed) {
            if !flush_within(&mut framed, seat, seat.idle_timeout()).await {
                return;
            }
            unflushed = false;
        }
    }
    // Whatever ended the connection, the answers already built go out.
    if unflushed {
        let _ = tokio::time::timeout(flush_limit, SinkExt::<Bytes>::flush(&mut framed)).await;
    }
}

/// Waits, off the serving thread, for the start-up work (the first snapshot's digest, the
/// journal brought up to its serial) when the answer to `request` needs it
/// (`Pipeline::start_up_pending_for`), so that a ZONEMD question or a transfer asked meanwhile
/// neither goes out without it nor holds up the other connections the thread serves; returns
/// at once otherwise.
pub(crate) async fn started_for(pipeline: &Pipeline, request: &[u8]) {
    if let Some(pending) = pipeline.start_up_pending_for(request) {
        let _ = tokio::task::spawn_blocking(move || pending.wait()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_messages_are_recognised_in_the_read_buffer() {
        assert!(!holds_complete_message(&[]));
        assert!(!holds_complete_message(&[0]));
        assert!(holds_complete_message(&[0, 0]));
        assert!(!holds_complete_message(&[0, 3, 1, 2]));
        assert!(holds_complete_message(&[0, 3, 1, 2, 3, 9]));
    }
}
