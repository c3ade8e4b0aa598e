//! NOTIFY (RFC 1996): telling the secondaries (`--notify ADDR:PORT`) that the serial changed,
//! at start and after every reload that changes it.
//!
//! Each target gets a NOTIFY over UDP (opcode 4, the zone's SOA as question and answer,
//! signed with the first configured TSIG key when there are keys) and is asked again with
//! exponential backoff (1 s, doubling, at most a minute apart) until it acknowledges: a
//! response with the same ID, NOERROR, and a good signature when the NOTIFY was signed. A newer
//! serial replaces the round still running for an older one. Every NOTIFY sent, acknowledged
//! or failed (timed out, answered with an error) is logged and counted.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::TSigner;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::core::zone::Zone;
use crate::metrics::Metrics;
use crate::pipeline::tsig::{Key, Keyring, now};
use crate::wire::write_notify;

/// The first wait for an answer, doubled after each silence up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two NOTIFYs to one target.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Sends NOTIFYs to the configured secondaries.
pub(crate) struct Notifier {
    targets: Vec<SocketAddr>,
    zone: Arc<Zone>,
    /// Signs the NOTIFYs; its verifier checks the acknowledgements.
    key: Option<Arc<Key>>,
    metrics: Arc<Metrics>,
    /// The serial being announced and the token that ends its round.
    round: Mutex<Option<(u32, CancellationToken)>>,
}

impl std::fmt::Debug for Notifier {
    /// The targets; the key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Notifier({:?}, signed: {})",
            self.targets,
            self.key.is_some()
        )
    }
}

impl Notifier {
    /// A notifier for `targets` (none: it never sends), signing with the first of `keys`.
    pub(crate) fn new(
        targets: Vec<SocketAddr>,
        zone: Zone,
        keys: &Keyring,
        metrics: Arc<Metrics>,
    ) -> Notifier {
        Notifier {
            targets,
            zone: Arc::new(zone),
            key: keys.first(),
            metrics,
            round: Mutex::new(None),
        }
    }

    /// Announces `serial` to every target, unless it is being announced already. Must run
    /// inside the tokio runtime (a blocking task of it included).
    pub(crate) fn announce(&self, serial: u32) {
        if self.targets.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut round = self.round.lock().unwrap_or_else(|e| e.into_inner());
        if round
            .as_ref()
            .is_some_and(|(announced, _)| *announced == serial)
        {
            return;
        }
        if let Some((_, previous)) = round.take() {
            previous.cancel();
        }
        let stop = CancellationToken::new();
        for &target in &self.targets {
            let zone = self.zone.clone();
            let key = self.key.clone();
            let metrics = self.metrics.clone();
            let stop = stop.clone();
            runtime.spawn(async move {
                let round = Round {
                    target,
                    zone: &zone,
                    key: key.as_deref(),
                    serial,
                    metrics: &metrics,
                };
                tokio::select! {
                    () = round.until_acknowledged() => {}
                    () = stop.cancelled() => {}
                }
            });
        }
        *round = Some((serial, stop));
    }
}

/// A message ID that a spoofer cannot guess from the last one.
fn random_id() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u16
}

/// The NOTIFYs of one serial to one target.
struct Round<'a> {
    target: SocketAddr,
    zone: &'a Zone,
    key: Option<&'a Key>,
    serial: u32,
    metrics: &'a Metrics,
}

impl Round<'_> {
    /// Sends a NOTIFY to the target until it is acknowledged, waiting longer after each failure.
    async fn until_acknowledged(&self) {
        let mut wait = FIRST_WAIT;
        let verifier = self.key.and_then(Key::verifier);
        loop {
            let (target, serial) = (self.target, self.serial);
            match self.attempt(wait, verifier.as_ref()).await {
                Ok(()) => {
                    self.metrics.notify("acknowledged");
                    info!(%target, serial, "NOTIFY acknowledged");
                    return;
                }
                Err(failure) => {
                    self.metrics.notify("failed");
                    let reason = match &failure {
                        Failure::Silence => format!("no answer within {wait:?}"),
                        Failure::Answer(reason) => reason.clone(),
                    };
                    warn!(%target, serial, reason, "NOTIFY not acknowledged, trying again");
                    // A silence has used up the wait already; anything else waits it out here.
                    if let Failure::Answer(_) = failure {
                        tokio::time::sleep(wait).await;
                    }
                    wait = (wait * 2).min(LONGEST_WAIT);
                }
            }
        }
    }

    /// One NOTIFY, with a fresh ID (signed when there is a key), and the wait for its answer.
    async fn attempt(&self, wait: Duration, verifier: Option<&TSigner>) -> Result<(), Failure> {
        let id = random_id();
        let mut message = Vec::with_capacity(512);
        write_notify(self.zone, self.serial, id, &mut message);
        let request_mac = self.key.map(|key| key.sign_request(&mut message, now()));
        let local: SocketAddr = match self.target {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|error| Failure::Answer(format!("cannot open a socket: {error}")))?;
        self.metrics.notify("sent");
        socket
            .send_to(&message, self.target)
            .await
            .map_err(|error| Failure::Answer(format!("cannot send: {error}")))?;
        let mut buffer = vec![0u8; 4096];
        let answer = tokio::time::timeout(wait, async {
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buffer).await else {
                    return Err(Failure::Answer("cannot receive".to_owned()));
                };
                // Only the target's answer to this NOTIFY counts.
                if from != self.target {
                    continue;
                }
                if let Some(result) =
                    acknowledgement(&buffer[..n], id, verifier, request_mac.as_deref())
                {
                    return result;
                }
            }
        })
        .await;
        answer.unwrap_or(Err(Failure::Silence))
    }
}

/// Why a NOTIFY was not acknowledged.
enum Failure {
    /// No answer in time.
    Silence,
    /// An answer that is not an acknowledgement, or a local error.
    Answer(String),
}

/// Reads an answer to the NOTIFY with `id`: `None` when it is not one (another ID, a
/// query), else whether it acknowledges.
fn acknowledgement(
    bytes: &[u8],
    id: u16,
    verifier: Option<&TSigner>,
    request_mac: Option<&[u8]>,
) -> Option<Result<(), Failure>> {
    let response = Message::from_vec(bytes).ok()?;
    if response.id != id || response.message_type != MessageType::Response {
        return None;
    }
    if response.op_code != OpCode::Notify {
        return Some(Err(Failure::Answer(format!(
            "answered with opcode {}",
            response.op_code
        ))));
    }
    if response.response_code != ResponseCode::NoError {
        return Some(Err(Failure::Answer(format!(
            "answered {}",
            response.response_code
        ))));
    }
    if let Some(verifier) = verifier
        && verifier
            .verify_message_byte(bytes, request_mac, true)
            .is_err()
    {
        return Some(Err(Failure::Answer(
            "the answer's TSIG does not verify".to_owned(),
        )));
    }
    Some(Ok(()))
}
