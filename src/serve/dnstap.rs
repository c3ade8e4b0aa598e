//! The dnstap writer: the one task that takes events off the queue the request path fills
//! ([`crate::dnstap`]), encodes them and writes them to the collector in Frame Streams. It
//! connects and shakes hands (READY, ACCEPT, START), writes batches of data frames, and when
//! the collector goes away or cannot be reached, counts what it cannot deliver as dropped and
//! tries again, a little later each time (up to [`MAX_RETRY`]). At stop it sends what is
//! queued, then STOP, and waits briefly for FINISH.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::dnstap::frames::{self, Control};
use crate::dnstap::{self, Queue, Target};

/// The first wait before connecting again.
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const MAX_RETRY: Duration = Duration::from_secs(4);
/// How long connecting and the handshake, or the closing handshake, may take.
const HANDSHAKE_TIME: Duration = Duration::from_secs(2);
/// Events encoded into one write.
const BATCH_EVENTS: u64 = 256;

/// A connection to a collector, over either kind of socket.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// Runs until `stop` is cancelled, writing the queue's events to `target`.
pub(crate) async fn run(target: Target, mut queue: Queue, stop: CancellationToken) {
    let mut retry = FIRST_RETRY;
    let mut reported = false;
    loop {
        let connected = tokio::select! {
            () = stop.cancelled() => return,
            connected = tokio::time::timeout(HANDSHAKE_TIME, connect(&target)) => connected,
        };
        match connected {
            Ok(Ok(mut stream)) => {
                info!("dnstap: writing to {target}");
                retry = FIRST_RETRY;
                reported = false;
                match write_events(&mut stream, &mut queue, &stop).await {
                    Ok(()) => {
                        finish(&mut stream).await;
                        return;
                    }
                    Err(e) => warn!("dnstap: {target}: {e}; connecting again"),
                }
            }
            Ok(Err(e)) if !reported => {
                warn!("dnstap: cannot write to {target}: {e}; dropping events until it can");
                reported = true;
            }
            Err(_) if !reported => {
                warn!(
                    "dnstap: {target} did not answer the handshake; dropping events until it does"
                );
                reported = true;
            }
            _ => {}
        }
        if !discard_for(retry, &mut queue, &stop).await {
            return;
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// Opens a connection to `target` and completes the Frame Streams handshake.
async fn connect(target: &Target) -> std::io::Result<Box<dyn Stream>> {
    let mut stream: Box<dyn Stream> = match target {
        Target::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        Target::Tcp(address) => Box::new(tokio::net::TcpStream::connect(address).await?),
    };
    stream.write_all(&frames::control(Control::Ready)).await?;
    let (kind, accepted) = {
        let body = read_control(&mut stream).await?;
        let (kind, types) = frames::parse_control(&body).map_err(invalid)?;
        (kind, frames::accepts(kind, &types))
    };
    if !accepted {
        return Err(invalid(format!(
            "the collector answered control frame {kind} instead of accepting {}",
            frames::CONTENT_TYPE
        )));
    }
    stream.write_all(&frames::control(Control::Start)).await?;
    stream.flush().await?;
    Ok(stream)
}

fn invalid(reason: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, reason)
}

/// Reads one control frame from the collector and returns its body.
async fn read_control(stream: &mut Box<dyn Stream>) -> std::io::Result<Vec<u8>> {
    let escape = stream.read_u32().await?;
    let len = stream.read_u32().await? as usize;
    if escape != 0 || len > frames::MAX_CONTROL {
        return Err(invalid("not a Frame Streams control frame".to_owned()));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes events as they come until `stop` (then what is queued is written too, and `Ok`), or
/// until a write fails (the events of that write counted as dropped).
async fn write_events(
    stream: &mut Box<dyn Stream>,
    queue: &mut Queue,
    stop: &CancellationToken,
) -> std::io::Result<()> {
    let mut batch = Vec::new();
    loop {
        let stopping = tokio::select! {
            biased;
            () = stop.cancelled() => true,
            event = queue.events.recv() => match event {
                Some(event) => {
                    batch.clear();
                    let mut events = 1;
                    dnstap::encode(&event, &queue.origin, &mut batch);
                    while events < BATCH_EVENTS && let Ok(event) = queue.events.try_recv() {
                        dnstap::encode(&event, &queue.origin, &mut batch);
                        events += 1;
                    }
                    let written = async {
                        stream.write_all(&batch).await?;
                        stream.flush().await
                    };
                    if let Err(e) = written.await {
                        queue.metrics.dnstap_dropped(events);
                        return Err(e);
                    }
                    queue.metrics.dnstap_sent(events);
                    false
                }
                // Every tap is gone: nothing more will come.
                None => true,
            },
        };
        if stopping {
            batch.clear();
            let mut events = 0;
            while let Ok(event) = queue.events.try_recv() {
                dnstap::encode(&event, &queue.origin, &mut batch);
                events += 1;
            }
            stream.write_all(&batch).await?;
            stream.flush().await?;
            queue.metrics.dnstap_sent(events);
            return Ok(());
        }
    }
}

/// Sends STOP and waits a little for the collector's FINISH.
async fn finish(stream: &mut Box<dyn Stream>) {
    let closing = async {
        stream.write_all(&frames::control(Control::Stop)).await?;
        stream.flush().await?;
        read_control(stream).await
    };
    let finished = tokio::time::timeout(HANDSHAKE_TIME, closing).await;
    let confirmed = matches!(finished, Ok(Ok(body))
        if frames::parse_control(&body).is_ok_and(|(kind, _)| kind == Control::Finish as u32));
    if !confirmed {
        warn!("dnstap: the collector did not confirm the end of the stream");
    }
}

/// Waits `time`, counting the events that arrive meanwhile as dropped; false when `stop`
/// came first.
async fn discard_for(time: Duration, queue: &mut Queue, stop: &CancellationToken) -> bool {
    let deadline = tokio::time::sleep(time);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = stop.cancelled() => return false,
            () = &mut deadline => return true,
            event = queue.events.recv() => match event {
                Some(_) => queue.metrics.dnstap_dropped(1),
                None => return false,
            },
        }
    }
}
