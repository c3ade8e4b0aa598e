//! UDP: one loop per socket, in batches (see [`super::batch`]), and the threads that run them.
//! Each further UDP thread runs its own single-threaded runtime over its own sockets, so no
//! task ever moves between threads; all of them call the one shared [`Pipeline`].

use std::io;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error};

use super::batch::{BATCH, Batch};
use super::bind::ServerError;
use crate::pipeline::{Outcome, Pipeline};
use crate::transport::Transport;

/// Registers a UDP socket with the runtime for `interest` only (`tokio::net::UdpSocket`
/// always asks for both directions).
///
/// tokio deprecates this safe constructor because a generic `AsRawFd` value could later hand
/// back another descriptor than the one registered; a `std::net::UdpSocket` owned by the
/// `AsyncFd` always returns the descriptor it was created with and is closed only when the
/// `AsyncFd` drops it, which is what the unsafe replacement asks its callers to promise.
#[allow(deprecated)]
pub(super) fn register_udp(
    socket: std::net::UdpSocket,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::UdpSocket>> {
    AsyncFd::with_interest(socket, interest)
}

/// Waits until `socket` can take another datagram. The socket's main registration is for
/// reading only, so this registers a duplicate of it for writing just for the wait: a full send
/// buffer is rare, and the registration ends with it.
async fn wait_writable(socket: &std::net::UdpSocket) -> io::Result<()> {
    let duplicate = register_udp(socket.try_clone()?, Interest::WRITABLE)?;
    duplicate.writable().await?.retain_ready();
    Ok(())
}

/// Starts thread `number` of those answering UDP: it runs its own single-threaded runtime and
/// serves `sockets` there until `stop`. Returns once the sockets are registered with that
/// runtime; the receiver returned completes when the thread has finished.
pub(super) async fn start_thread(
    number: usize,
    sockets: Vec<std::net::UdpSocket>,
    pipeline: Arc<Pipeline>,
    stop: &CancellationToken,
) -> Result<oneshot::Receiver<()>, ServerError> {
    let (started, started_receiver) = oneshot::channel();
    let (finished, finished_receiver) = oneshot::channel::<()>();
    let stop = stop.clone();
    // The runtime is built on the thread: one dropped inside an async context, as a failed
    // spawn would, panics.
    let serve = move || {
        let _finished = finished;
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = started.send(Err(error));
                return;
            }
        };
        runtime.block_on(async move {
            let registered: io::Result<Vec<_>> = sockets
                .into_iter()
                .map(|socket| {
                    if let Ok(addr) = socket.local_addr() {
                        debug!("udp thread {number} serves {addr}");
                    }
                    register_udp(socket, Interest::READABLE)
                })
                .collect();
            let sockets = match registered {
                Ok(sockets) => sockets,
                Err(error) => {
                    let _ = started.send(Err(error));
                    return;
                }
            };
            let _ = started.send(Ok(()));
            let mut loops = tokio::task::JoinSet::new();
            for socket in sockets {
                loops.spawn(serve(socket, pipeline.clone(), stop.clone()));
            }
            while let Some(ended) = loops.join_next().await {
                if let Err(failure) = ended {
                    error!("udp thread {number}: a serving loop failed: {failure}");
                }
            }
        });
    };
    std::thread::Builder::new()
        .name(format!("portsd-udp-{number}"))
        .spawn(serve)
        .map_err(|error| ServerError::Thread("UDP", error))?;
    match started_receiver.await {
        Ok(Ok(())) => Ok(finished_receiver),
        Ok(Err(error)) => Err(ServerError::Thread("UDP", error)),
        Err(_) => Err(ServerError::Thread(
            "UDP",
            io::Error::other("the thread ended at once"),
        )),
    }
}

/// One UDP socket's loop. The socket is registered with the runtime for reading only: a UDP
/// socket is almost always writable, and with write interest every answer the client reads
/// (which frees send-buffer space) raises a write event nobody waits for, costing an extra turn
/// of the event loop per query at moderate load, or a wake-up when the loop was already asleep
/// (seen with strace: `epoll_wait` returning `EPOLLOUT` after each answer). Write readiness is
/// waited for only when a send would block (see [`wait_writable`]).
pub(super) async fn serve(
    socket: AsyncFd<std::net::UdpSocket>,
    pipeline: Arc<Pipeline>,
    stop: CancellationToken,
) {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let mut batch = Batch::new();
    loop {
        let received = tokio::select! {
            ready = socket.readable() => match ready {
                Ok(mut guard) => match guard.try_io(|_| batch.receive(fd)) {
                    Ok(received) => {
                        // A short batch means the kernel's queue was empty when it was taken,
                        // so the readiness can go now instead of after one more call that
                        // would only say so. Datagrams that arrive later raise a new event,
                        // which the runtime keeps apart from the one cleared.
                        if received.as_ref().is_ok_and(|&count| count < BATCH) {
                            guard.clear_ready();
                        }
                        received
                    }
                    Err(_would_block) => continue,
                },
                Err(_) => return,
            },
            // When stopping, read what the kernel already holds directly (the runtime's
            // readiness may not know about it), answer it, and leave once the queue is empty.
            () = stop.cancelled() => match batch.receive(fd) {
                Err(_) => return,
                received => received,
            },
        };
        if let Err(error) = received {
            debug!(%error, "udp receive failed");
            continue;
        }
        // One clock reading per batch: the rate limiter's "now" and the start of every query's
        // latency, which thus includes the wait behind earlier queries of the batch.
        let received_at = Instant::now();
        for i in 0..batch.len() {
            let (packet, source, answer) = batch.slot(i);
            let Some(source) = source else { continue };
            // Over UDP a transfer is one message, already in `answer`.
            if !matches!(
                pipeline.handle(packet, source, Transport::Udp, received_at, answer),
                Outcome::Silence
            ) {
                batch.reply(i);
            }
        }
        let replies = batch.replies();
        let mut sent = 0;
        while sent < replies {
            match batch.send(fd, sent) {
                Ok(now) => sent = now,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if wait_writable(socket.get_ref()).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    // One bad destination must not cost the rest of the batch.
                    debug!(%error, "udp send failed");
                    sent += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The write wait registers its own duplicate, so it works beside the read-only
    /// registration of the same socket and returns at once for a socket with room.
    #[tokio::test]
    async fn writable_wait_works_beside_the_read_registration() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
        socket.set_nonblocking(true).expect("non-blocking");
        let reading = register_udp(socket, Interest::READABLE).expect("registered for reading");
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(5), wait_writable(reading.get_ref()))
                .await
                .expect("an empty socket is writable at once")
                .expect("a duplicate registers beside the reading one, again after a drop");
        }
    }
}
