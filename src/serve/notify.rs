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

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigner};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::core::zone::{SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Zone};
use crate::metrics::Metrics;
use crate::pipeline::tsig::{Keyring, now};

/// The first wait for an answer, doubled after each silence up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two NOTIFYs to one target.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Sends NOTIFYs to the configured secondaries.
pub(crate) struct Notifier {
    targets: Vec<SocketAddr>,
    zone: Zone,
    signer: Option<TSigner>,
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
            self.signer.is_some()
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
            zone,
            signer: keys.first_signer(),
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
            let message = self.message(serial);
            let signer = self.signer.clone();
            let metrics = self.metrics.clone();
            let stop = stop.clone();
            runtime.spawn(async move {
                tokio::select! {
                    () = notify_until_acknowledged(target, message, signer, serial, &metrics) => {}
                    () = stop.cancelled() => {}
                }
            });
        }
        *round = Some((serial, stop));
    }

    /// The NOTIFY for `serial`: the SOA as question and as the answer (RFC 1996 3.7).
    fn message(&self, serial: u32) -> Message {
        let name = |labels: &[Box<[u8]>]| {
            Name::from_labels(labels.iter().map(|l| &l[..])).unwrap_or_else(|_| Name::root())
        };
        let apex = name(self.zone.name.labels());
        let mut message = Message::new(0, MessageType::Query, OpCode::Notify);
        message.metadata.authoritative = true;
        message.add_query(Query::query(apex.clone(), RecordType::SOA));
        let soa = SOA::new(
            name(&self.zone.ns_name),
            name(&self.zone.rname),
            serial,
            SOA_REFRESH as i32,
            SOA_RETRY as i32,
            SOA_EXPIRE as i32,
            self.zone.ttl,
        );
        message
            .answers
            .push(Record::from_rdata(apex, self.zone.ttl, RData::SOA(soa)));
        message
    }
}

/// A message ID that a spoofer cannot guess from the last one.
fn random_id() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) as u16
}

/// Sends `message` to `target` until it is acknowledged.
async fn notify_until_acknowledged(
    target: SocketAddr,
    mut message: Message,
    signer: Option<TSigner>,
    serial: u32,
    metrics: &Metrics,
) {
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let mut wait = FIRST_WAIT;
    let mut buffer = vec![0u8; 4096];
    loop {
        message.metadata.id = random_id();
        message.signature = None;
        let mut request_mac = None;
        if let Some(signer) = &signer
            && let Ok((tsig, _)) = signer.sign_message(&message, now())
        {
            request_mac = Some(tsig.data.mac.clone());
            message.signature = Some(tsig);
        }
        let outcome = match (UdpSocket::bind(local).await, message.to_vec()) {
            (Ok(socket), Ok(bytes)) => {
                metrics.notify("sent");
                match socket.send_to(&bytes, target).await {
                    Ok(_) => {
                        let answer = tokio::time::timeout(wait, async {
                            loop {
                                let Ok((n, from)) = socket.recv_from(&mut buffer).await else {
                                    return Err(Failure::Answer("cannot receive".to_owned()));
                                };
                                // Only the target's answer to this NOTIFY counts.
                                if from != target {
                                    continue;
                                }
                                match acknowledgement(
                                    &buffer[..n],
                                    message.metadata.id,
                                    &signer,
                                    request_mac.as_deref(),
                                ) {
                                    Some(result) => return result,
                                    None => continue,
                                }
                            }
                        })
                        .await;
                        answer.unwrap_or(Err(Failure::Silence))
                    }
                    Err(error) => Err(Failure::Answer(format!("cannot send: {error}"))),
                }
            }
            (Err(error), _) => Err(Failure::Answer(format!("cannot open a socket: {error}"))),
            (_, Err(error)) => Err(Failure::Answer(format!("cannot encode: {error}"))),
        };
        match outcome {
            Ok(()) => {
                metrics.notify("acknowledged");
                info!(%target, serial, "NOTIFY acknowledged");
                return;
            }
            Err(failure) => {
                metrics.notify("failed");
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
    signer: &Option<TSigner>,
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
    if let Some(signer) = signer
        && signer
            .verify_message_byte(bytes, request_mac, true)
            .is_err()
    {
        return Some(Err(Failure::Answer(
            "the answer's TSIG does not verify".to_owned(),
        )));
    }
    Some(Ok(()))
}
