//! The Prometheus endpoint (`--metrics ADDR:PORT`): `GET /metrics` answered with the
//! exposition text of [`Metrics`], anything else with 404.
//!
//! It is no second way in: at most [`MAX_CONNECTIONS`] connections at once (a client past
//! that takes the place of the one idle longest, as on the DNS port), each given
//! [`REQUEST_TIMEOUT`] to send its request head of at most 8 KiB and as long to take the
//! answer; a failed accept (out of descriptors) rests before the next instead of spinning.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info};

use super::occupancy::{Occupancy, Seat};
use crate::metrics::Metrics;

/// Scrapers connected at once; Prometheus uses one connection per target.
const MAX_CONNECTIONS: usize = 16;
/// How long a client has to send its request, and again to read the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read.
const MAX_HEAD: usize = 8192;

/// Serves `GET /metrics` on `listener` until the task is dropped. Anything else gets 404.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    if let Ok(addr) = listener.local_addr() {
        info!("metrics on http://{addr}/metrics");
    }
    let occupancy = Occupancy::new(MAX_CONNECTIONS, REQUEST_TIMEOUT);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                occupancy.rest_after_accept_error(&error, "metrics").await;
                continue;
            }
        };
        let Some((seat, _)) = occupancy.take_seat().await else {
            return;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            answer(stream, &metrics, &seat).await;
        });
    }
}

/// Reads one request head from `stream` and answers it.
async fn answer(mut stream: TcpStream, metrics: &Metrics, seat: &Seat) {
    let mut request = Vec::with_capacity(1024);
    let read_head = async {
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_HEAD {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&chunk[..n]);
        }
        std::io::Result::Ok(())
    };
    if !matches!(seat.bounded(REQUEST_TIMEOUT, read_head).await, Some(Ok(()))) {
        return;
    }
    seat.touch();
    let (status, kind, body) =
        if request.starts_with(b"GET /metrics ") || request.starts_with(b"GET /metrics?") {
            (
                "200 OK",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                metrics.render(),
            )
        } else {
            ("404 Not Found", "text/plain", "try /metrics\n".to_owned())
        };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let response = [head.as_bytes(), body.as_bytes()].concat();
    match seat
        .bounded(REQUEST_TIMEOUT, stream.write_all(&response))
        .await
    {
        Some(Ok(())) => {}
        Some(Err(error)) => debug!(%error, "metrics client went away"),
        None => debug!("metrics client too slow to take the answer"),
    }
}
