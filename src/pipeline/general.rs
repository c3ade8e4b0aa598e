//! The general request path: a hickory-server [`RequestHandler`] that answers from the current
//! table snapshot through hickory's own request parsing and response encoding.
//!
//! Every TCP query takes this path, and so does every UDP packet the fast path declines
//! (errors, odd shapes, EDNS options). It owns the protocol rules the pure [`answer`] module
//! does not: NOTIMP for opcodes other than QUERY, FORMERR for a question count other than
//! one, BADVERS for EDNS versions above 0, and truncation: a UDP answer larger than
//! min(client's size, 1232) (512 without EDNS) goes out with TC set and no records, so the
//! client asks again over TCP and gets everything.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use hickory_server::net::NetError;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, NS, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record};
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder};

use crate::core::answer::{
    self, Answer, Owner, Rcode, Rdata, SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Snapshot, Zone,
};
use crate::core::names::SEARCH_LABEL;
use crate::core::txt::character_strings;
use crate::pipeline::fast::{MAX_UDP_PAYLOAD, udp_limit};

/// What every listener shares: the zone's fixed settings and the swappable table snapshot.
#[derive(Debug)]
pub struct Shared {
    /// The zone's name, TTL and name server.
    pub zone: Zone,
    /// The current table. Each query loads it once; a reload stores a new one.
    pub snapshot: ArcSwap<Snapshot>,
}

/// The hickory request handler over [`Shared`] state.
#[derive(Clone, Debug)]
pub struct PortsHandler {
    shared: Arc<Shared>,
    /// The zone's fixed names, converted to hickory's type once rather than per query.
    names: Option<Arc<ZoneNames>>,
}

/// The apex, the name server and the SOA RNAME as hickory names.
#[derive(Debug)]
struct ZoneNames {
    apex: Name,
    ns: Name,
    search: Name,
    rname: Name,
}

impl PortsHandler {
    /// A handler answering from `shared`.
    pub fn new(shared: Arc<Shared>) -> PortsHandler {
        let zone = &shared.zone;
        let names = (|| {
            Some(Arc::new(ZoneNames {
                apex: name_of(zone.name.labels().iter().map(|l| &l[..]))?,
                search: name_of(
                    std::iter::once(SEARCH_LABEL).chain(zone.name.labels().iter().map(|l| &l[..])),
                )?,
                ns: name_of(zone.ns_name.iter().map(|l| &l[..]))?,
                rname: name_of(zone.rname.iter().map(|l| &l[..]))?,
            }))
        })();
        PortsHandler { shared, names }
    }
}

/// Converts labels to a hickory name; only fails on labels hickory itself would have refused.
fn name_of<'l>(labels: impl IntoIterator<Item = &'l [u8]>) -> Option<Name> {
    Name::from_labels(labels).ok()
}

fn to_hickory(
    names: &ZoneNames,
    ttl: u32,
    query_name: &Name,
    record: &answer::Record<'_>,
) -> Record {
    let owner = match record.owner {
        Owner::Query => query_name.clone(),
        Owner::Apex => names.apex.clone(),
        Owner::NameServer => names.ns.clone(),
        Owner::SearchApex => names.search.clone(),
    };
    let data = match &record.data {
        Rdata::Txt(_) | Rdata::Unassigned(_) => {
            let rdata = record.data.txt().unwrap_or_default();
            RData::TXT(TXT::from_bytes(character_strings(&rdata).collect()))
        }
        Rdata::Soa(serial) => RData::SOA(SOA::new(
            names.ns.clone(),
            names.rname.clone(),
            *serial,
            SOA_REFRESH as i32,
            SOA_RETRY as i32,
            SOA_EXPIRE as i32,
            ttl,
        )),
        Rdata::Ns => RData::NS(NS(names.ns.clone())),
        Rdata::Address(std::net::IpAddr::V4(ip)) => RData::A(A(*ip)),
        Rdata::Address(std::net::IpAddr::V6(ip)) => RData::AAAA(AAAA(*ip)),
    };
    Record::from_rdata(owner, ttl, data)
}

fn response_code(rcode: Rcode) -> ResponseCode {
    match rcode {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::FormErr => ResponseCode::FormErr,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::NotImp => ResponseCode::NotImp,
        Rcode::Refused => ResponseCode::Refused,
    }
}

#[async_trait::async_trait]
impl RequestHandler for PortsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let zone = &self.shared.zone;
        let response_edns = request.edns.as_ref().map(|edns| {
            let mut out = Edns::new();
            out.set_max_payload(MAX_UDP_PAYLOAD);
            out.set_version(0);
            out.set_dnssec_ok(edns.flags().dnssec_ok);
            out
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &response_edns {
            builder.edns(edns);
        }
        let error = if request.metadata.op_code != OpCode::Query {
            Some(ResponseCode::NotImp)
        } else if request.queries.queries().len() != 1 {
            Some(ResponseCode::FormErr)
        } else if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            Some(ResponseCode::BADVERS)
        } else {
            None
        };
        if let Some(code) = error {
            return send(
                &mut response_handle,
                builder.error_msg(&request.metadata, code),
            )
            .await;
        }
        let query = request.queries.queries()[0].original();
        let qname = query.name();
        let labels: Vec<&[u8]> = qname.iter().collect();
        let snapshot = self.shared.snapshot.load();
        let answer = answer::answer(
            zone,
            &snapshot,
            &labels,
            u16::from(query.query_type()),
            u16::from(query.query_class()),
        );
        let convert = |records: &[answer::Record<'_>]| -> Vec<Record> {
            match &self.names {
                Some(names) => records
                    .iter()
                    .map(|r| to_hickory(names, zone.ttl, qname, r))
                    .collect(),
                None => Vec::new(),
            }
        };
        let (answers, authority, additional) = (
            convert(&answer.answers),
            convert(&answer.authority),
            convert(&answer.additional),
        );
        let metadata = response_metadata(&request.metadata, &answer, false);
        let limit = udp_limit(request.edns.as_ref().map(Edns::max_payload));
        let full = || {
            let mut builder = MessageResponseBuilder::from_message_request(request);
            if let Some(edns) = &response_edns {
                builder.edns(edns);
            }
            builder.build(metadata, &answers, &authority, [], &additional)
        };
        // Only UDP has a limit an answer could exceed; there, encode once to see if it fits.
        let fits = request.protocol() != Protocol::Udp || {
            let mut scratch = Vec::with_capacity(usize::from(limit));
            let mut encoder = BinEncoder::new(&mut scratch);
            encoder.set_max_size(limit);
            full()
                .destructive_emit(&mut encoder)
                .is_ok_and(|info| !info.truncation)
        };
        if fits {
            send(&mut response_handle, full()).await
        } else {
            let truncated = response_metadata(&request.metadata, &answer, true);
            send(&mut response_handle, builder.build_no_records(truncated)).await
        }
    }
}

fn response_metadata(request: &Metadata, answer: &Answer<'_>, truncated: bool) -> Metadata {
    let mut metadata = Metadata::response_from_request(request);
    metadata.authoritative = answer.authoritative;
    metadata.response_code = response_code(answer.rcode);
    metadata.truncation = truncated;
    metadata
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let code = response.metadata().response_code;
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            tracing::debug!(%error, "could not send a response");
            let mut metadata = Metadata::new(
                0,
                hickory_server::proto::op::MessageType::Response,
                OpCode::Query,
            );
            metadata.response_code = code;
            ResponseInfo::from(hickory_server::proto::op::Header {
                metadata,
                counts: Default::default(),
            })
        }
    }
}

/// A [`ResponseHandler`] that encodes the response into a buffer the caller then sends, the
/// same way hickory-server's own handle encodes it (UDP capped at the response's EDNS size or
/// 512, other transports at 65535).
#[derive(Clone, Debug)]
pub struct EncodedReply {
    protocol: Protocol,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl EncodedReply {
    /// A reply for a request that came in over `protocol`.
    pub fn new(protocol: Protocol) -> EncodedReply {
        EncodedReply {
            protocol,
            bytes: Arc::default(),
        }
    }

    /// The encoded response (empty if none was sent).
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .bytes
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }
}

#[async_trait::async_trait]
impl ResponseHandler for EncodedReply {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let max_size = match self.protocol {
            Protocol::Udp => response.edns().map_or(512, Edns::max_payload),
            _ => u16::MAX,
        };
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max_size);
        let info = response.destructive_emit(&mut encoder)?;
        *self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = bytes;
        Ok(info)
    }
}
