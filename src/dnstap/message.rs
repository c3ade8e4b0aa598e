//! The part of dnstap's protobuf schema (`dnstap.proto`) portsd writes, declared by hand with
//! prost's derive, so the build needs no `protoc`: the `Dnstap` envelope and its `Message`,
//! with the field numbers and types of the published schema; and what the request path hands
//! over ([`Event`]), encoded into them ([`encode`]).

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::transport::Transport;

/// One exchange, or one message of a transfer, as the request path hands it over.
#[derive(Debug)]
pub(crate) struct Event {
    pub(super) client: SocketAddr,
    pub(super) transport: Transport,
    /// When the query arrived.
    pub(super) query_time: SystemTime,
    /// When the response was made.
    pub(super) response_time: SystemTime,
    /// The query's bytes (none for a transfer's messages), then the response's (none when
    /// the query got no response, as a transfer's opening).
    pub(super) bytes: Bytes,
    pub(super) query_len: usize,
}

/// Who writes: the identity and version each dnstap message carries (`--identity` and
/// `--version-string`, as the CHAOS answers give them; none when hidden).
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub(crate) identity: Option<Bytes>,
    pub(crate) version: Option<Bytes>,
}

/// Appends `event` to `out` as Frame Streams data frames: an `AUTH_QUERY` when it holds a
/// query, an `AUTH_RESPONSE` when it holds a response. Returns the messages written.
pub(crate) fn encode(event: &Event, origin: &Origin, out: &mut Vec<u8>) -> usize {
    // Slices of the one buffer, shared with the protobuf message rather than copied.
    let query = event.bytes.slice(..event.query_len);
    let response = event.bytes.slice(event.query_len..);
    let mut written = 0;
    for (kind, message) in [(Kind::AuthQuery, query), (Kind::AuthResponse, response)] {
        if message.is_empty() {
            continue;
        }
        let dnstap = Dnstap::new(origin, Message::new(kind, event, message));
        super::frames::data_header(prost::Message::encoded_len(&dnstap), out);
        // Writing into a Vec cannot run out of room.
        let _ = prost::Message::encode(&dnstap, out);
        written += 1;
    }
    written
}

/// `Dnstap.Type.MESSAGE`, the one envelope type.
const ENVELOPE_MESSAGE: i32 = 1;
/// `SocketFamily`: INET, INET6.
const INET: i32 = 1;
const INET6: i32 = 2;
/// `SocketProtocol`: UDP, TCP, DOT (DNS over TLS), DOH (DNS over HTTPS).
const UDP: i32 = 1;
const TCP: i32 = 2;
const DOT: i32 = 3;
const DOH: i32 = 4;

/// `Message.Type`: the two kinds an authoritative server sends.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    AuthQuery = 1,
    AuthResponse = 2,
}

/// `Dnstap`: who wrote it, and the message.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Dnstap {
    #[prost(bytes = "bytes", optional, tag = "1")]
    identity: Option<Bytes>,
    #[prost(bytes = "bytes", optional, tag = "2")]
    version: Option<Bytes>,
    #[prost(message, optional, tag = "14")]
    pub(super) message: Option<Message>,
    #[prost(int32, required, tag = "15")]
    kind: i32,
}

/// `Message`: one DNS message, where it went and when.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Message {
    #[prost(int32, required, tag = "1")]
    kind: i32,
    #[prost(int32, optional, tag = "2")]
    socket_family: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    socket_protocol: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    query_address: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "6")]
    query_port: Option<u32>,
    #[prost(uint64, optional, tag = "8")]
    query_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "9")]
    query_time_nsec: Option<u32>,
    #[prost(bytes = "bytes", optional, tag = "10")]
    query_message: Option<Bytes>,
    #[prost(uint64, optional, tag = "12")]
    response_time_sec: Option<u64>,
    #[prost(fixed32, optional, tag = "13")]
    response_time_nsec: Option<u32>,
    #[prost(bytes = "bytes", optional, tag = "14")]
    response_message: Option<Bytes>,
}

impl Dnstap {
    pub(super) fn new(origin: &Origin, message: Message) -> Dnstap {
        Dnstap {
            identity: origin.identity.clone(),
            version: origin.version.clone(),
            message: Some(message),
            kind: ENVELOPE_MESSAGE,
        }
    }
}

/// Seconds and nanoseconds since 1970.
fn split(time: SystemTime) -> (Option<u64>, Option<u32>) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    (Some(since.as_secs()), Some(since.subsec_nanos()))
}

impl Message {
    /// The `kind` message of `event` carrying `dns`: a query with its arrival time, or a
    /// response with both times.
    pub(super) fn new(kind: Kind, event: &Event, dns: Bytes) -> Message {
        let (family, address) = match event.client.ip().to_canonical() {
            IpAddr::V4(ip) => (INET, ip.octets().to_vec()),
            IpAddr::V6(ip) => (INET6, ip.octets().to_vec()),
        };
        let (query_time_sec, query_time_nsec) = split(event.query_time);
        let (response_time_sec, response_time_nsec) = match kind {
            Kind::AuthQuery => (None, None),
            Kind::AuthResponse => split(event.response_time),
        };
        let (query_message, response_message) = match kind {
            Kind::AuthQuery => (Some(dns), None),
            Kind::AuthResponse => (None, Some(dns)),
        };
        Message {
            kind: kind as i32,
            socket_family: Some(family),
            socket_protocol: Some(match event.transport {
                Transport::Udp => UDP,
                Transport::Tcp => TCP,
                Transport::Dot => DOT,
                Transport::Doh => DOH,
            }),
            query_address: Some(address),
            query_port: Some(u32::from(event.client.port())),
            query_time_sec,
            query_time_nsec,
            query_message,
            response_time_sec,
            response_time_nsec,
            response_message,
        }
    }
}
