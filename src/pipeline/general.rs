//! The general path: hickory's own message parsing and response encoding, for every message the
//! fast path declines (errors, unusual shapes, EDNS options, signed or multi-record messages).
//!
//! It owns the protocol rules the pure answer core does not: no answer to a message shorter
//! than a header or to a response; FORMERR (with the question when it can be read) for
//! anything else that does not parse, and for a question count other than one; NOTIMP for
//! opcodes other than QUERY; BADVERS for EDNS versions above 0; the EDNS options it reads
//! ([`super::edns`]): NSID, and COOKIE ([`super::cookie`]: FORMERR for a malformed one, a
//! fresh server cookie in every other answer); the CHAOS class ([`super::identity`]); and
//! truncation: a UDP answer larger than min(client's size, 1232) (512 without EDNS) goes out
//! with TC set and no records, so the client asks again over TCP and gets everything.

use std::net::SocketAddr;

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::opt::EdnsOption;
use hickory_server::proto::rr::rdata::{A, AAAA, NS, NULL, SOA, TXT};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::server::Request;
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder};
use tracing::debug;

use super::cookie::{self, Cookie, CookieSecrets};
use super::edns;
use super::identity::{self, Chaos, Identity};
use super::state::ZoneState;
use crate::core::answer::{self, Answer, Owner, Rdata};
use crate::core::names::SEARCH_LABEL;
use crate::core::txt::character_strings;
use crate::core::zone::{Zone, rtype};
use crate::pipeline::fast::{MAX_UDP_PAYLOAD, udp_limit};
use crate::transport::Transport;
use crate::wire::request::{Options, hickory_parsed};
use crate::wire::{self, option};

/// The zone's fixed names as hickory names, converted once rather than per message.
#[derive(Debug)]
pub(crate) struct GeneralPath {
    /// `None` only for names hickory itself would refuse, which the zone parser never lets
    /// through; then answers carry no records rather than wrong ones.
    names: Option<ZoneNames>,
    /// What CHAOS questions and NSID get.
    identity: Identity,
    /// What server cookies are made and checked with.
    cookies: CookieSecrets,
}

/// What the general path sent, for the pipeline's steps after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sent {
    /// The request's DNS cookie, when it had one.
    pub(crate) cookie: Option<Cookie>,
    /// The response code sent, extended bits included.
    pub(crate) rcode: ResponseCode,
    /// Whether the question was echoed (all but the header alone of RFC 8945 5.3).
    pub(crate) question: bool,
}

#[derive(Debug)]
struct ZoneNames {
    apex: Name,
    ns: Name,
    search: Name,
    rname: Name,
}

fn name_of(labels: &[Box<[u8]>]) -> Option<Name> {
    Name::from_labels(labels.iter().map(|l| &l[..])).ok()
}

impl GeneralPath {
    pub(crate) fn new(zone: &Zone, identity: Identity, cookies: CookieSecrets) -> GeneralPath {
        let names = (|| {
            Some(ZoneNames {
                apex: name_of(zone.name.labels())?,
                search: Name::from_labels(
                    std::iter::once(SEARCH_LABEL).chain(zone.name.labels().iter().map(|l| &l[..])),
                )
                .ok()?,
                ns: name_of(&zone.ns_name)?,
                rname: name_of(&zone.rname)?,
            })
        })();
        GeneralPath {
            names,
            identity,
            cookies,
        }
    }

    /// Answers `request` into `out`, keeping `room` bytes free within the size limit for what
    /// the caller appends (a TSIG record); `forced` is the response code of an empty answer
    /// (AA clear) the pipeline decided instead of the zone's (a refused transfer); `None` when the message gets
    /// no answer at all. The one place hickory parses a message.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond(
        &self,
        state: &ZoneState,
        request: &wire::Request<'_>,
        client: SocketAddr,
        transport: Transport,
        room: u16,
        forced: Option<ResponseCode>,
        out: &mut Vec<u8>,
    ) -> Option<Sent> {
        out.clear();
        if request.is_response() {
            return None;
        }
        let protocol = match transport {
            Transport::Udp => Protocol::Udp,
            Transport::Tcp | Transport::Dot | Transport::Doh => Protocol::Tcp,
        };
        hickory_parsed();
        match Request::from_bytes(edns::prepare(request), client, protocol) {
            Ok(parsed) => {
                let options = request.opt.as_ref().map(|opt| &opt.options);
                let cookie = options.and_then(|o| o.cookie.clone()).map(|range| {
                    self.cookies
                        .check(&request.bytes[range], client.ip(), cookie::now())
                });
                let size = SizeLimit { transport, room };
                let context = Context {
                    state,
                    options,
                    cookie,
                    size,
                    forced,
                };
                self.answer(&context, &parsed, out)
                    .map(|(rcode, question)| Sent {
                        cookie,
                        rcode,
                        question,
                    })
            }
            Err(error) => {
                // The question is echoed when it can be read (as Knot does), so the client
                // can match the error to its query.
                debug!(%error, %client, "malformed query");
                let rcode = ResponseCode::FormErr;
                wire::error_answer(request, rcode, out).then_some(Sent {
                    cookie: None,
                    rcode,
                    question: true,
                })
            }
        }
    }

    /// Answers a parsed request; the response code sent and whether the question went with
    /// it, or `None` when nothing could be encoded.
    fn answer(
        &self,
        context: &Context<'_, '_>,
        request: &Request,
        out: &mut Vec<u8>,
    ) -> Option<(ResponseCode, bool)> {
        let response_edns = request
            .edns
            .as_ref()
            .map(|edns| self.response_edns(edns, context));
        let builder = |edns| response_builder(request, edns);
        if let Some(code) = error_code(request, context.cookie) {
            let mut metadata = request.metadata;
            if code == ResponseCode::NotImp {
                // RD and CD belong to QUERY: a NOTIMP says the opcode was not understood, so
                // it echoes only the opcode (as BIND answers, and ISC's genreport expects).
                metadata.recursion_desired = false;
                metadata.checking_disabled = false;
            }
            let response = builder(&response_edns).error_msg(&metadata, code);
            return emit(response, u16::MAX, out).map(|_| (code, true));
        }
        let query = request.queries.queries()[0].original();
        let labels: Vec<&[u8]> = query.name().iter().collect();
        if query.query_class() == DNSClass::CH {
            let chaos = self.identity.chaos(&labels, u16::from(query.query_type()));
            let edns = with_answer_options(
                &response_edns,
                (chaos == Chaos::Hidden).then_some(identity::PROHIBITED),
                None,
            );
            let mut metadata = Metadata::response_from_request(&request.metadata);
            let records = match chaos {
                Chaos::Text(text) => vec![chaos_record(query.name(), text)],
                Chaos::Hidden | Chaos::Refused => {
                    metadata.response_code = ResponseCode::Refused;
                    Vec::new()
                }
            };
            let rcode = metadata.response_code;
            let response = builder(&edns).build(metadata, &records, [], [], []);
            return emit(response, u16::MAX, out).map(|_| (rcode, true));
        }
        let zone = &context.state.zone;
        let snapshot = context.state.snapshot.load();
        let answer = match context.forced {
            Some(rcode) => Answer::empty(rcode, false),
            None => answer::answer(
                zone,
                &snapshot,
                &labels,
                u16::from(query.query_type()),
                u16::from(query.query_class()),
            ),
        };
        let convert = |records: &[answer::Record<'_>]| -> Vec<Record> {
            match &self.names {
                Some(names) => records
                    .iter()
                    .map(|r| to_hickory(names, zone, query.name(), r))
                    .collect(),
                None => Vec::new(),
            }
        };
        let (answers, authority, additional) = (
            convert(&answer.answers),
            convert(&answer.authority),
            convert(&answer.additional),
        );
        let rcode = answer.rcode;
        let metadata = response_metadata(&request.metadata, &answer, false);
        // EDNS EXPIRE (RFC 7314) on every answer from the zone to a client asking for it, as
        // Knot answers: portsd is the primary, so it is the SOA's EXPIRE itself.
        let expire = context
            .options
            .is_some_and(|o| o.expire)
            .then_some(zone.timers.expire)
            .filter(|_| answer.authoritative);
        let edns = with_answer_options(&response_edns, answer.extended_error, expire);
        let full = builder(&edns).build(metadata, &answers, &authority, [], &additional);
        let limit = context.size.bytes(request.edns.as_ref());
        if emit(full, limit, out) == Some(false) {
            return Some((rcode, true));
        }
        let truncated = response_metadata(&request.metadata, &answer, true);
        if emit(builder(&edns).build_no_records(truncated), limit, out).is_some() {
            return Some((rcode, true));
        }
        // Not even the question fits beside the signature (a long key name, a long name asked
        // at 512 bytes): RFC 8945 5.3's answer, the header alone with TC set and NOERROR, for
        // the signature to be added to; the client asks again over TCP.
        (context.size.room > 0 && header_alone(truncated, out))
            .then_some((ResponseCode::NoError, false))
    }

    /// The OPT record of a response to a request that had one: portsd's payload size, the
    /// DNSSEC OK bit echoed, NSID when asked for and configured, a fresh server cookie.
    fn response_edns(&self, edns: &Edns, context: &Context<'_, '_>) -> Edns {
        let mut echoed = Edns::new();
        echoed.set_max_payload(MAX_UDP_PAYLOAD);
        echoed.set_version(0);
        echoed.set_dnssec_ok(edns.flags().dnssec_ok);
        let nsid_asked = context.options.is_some_and(|o| o.nsid);
        if let Some(nsid) = self.identity.nsid.as_ref().filter(|_| nsid_asked) {
            echoed
                .options_mut()
                .insert(EdnsOption::Unknown(u16::from(option::NSID), nsid.clone()));
        }
        if let Some(Cookie::WellFormed { reply, .. }) = context.cookie {
            echoed.options_mut().insert(EdnsOption::Unknown(
                u16::from(option::COOKIE),
                reply.to_vec(),
            ));
        }
        echoed
    }
}

/// What an answer depends on besides the request.
struct Context<'s, 'v> {
    state: &'s ZoneState,
    /// The request's EDNS options, as the view read them.
    options: Option<&'v Options>,
    cookie: Option<Cookie>,
    size: SizeLimit,
    /// The response code of the empty answer (AA clear) the pipeline decided instead of the
    /// zone's.
    forced: Option<ResponseCode>,
}

/// The error a request gets before its question is looked at: NOTIMP for opcodes other than
/// QUERY, FORMERR for a question count other than one or a malformed cookie, BADVERS for EDNS
/// versions above 0.
fn error_code(request: &Request, cookie: Option<Cookie>) -> Option<ResponseCode> {
    if request.metadata.op_code != OpCode::Query {
        Some(ResponseCode::NotImp)
    } else if request.queries.queries().len() != 1 {
        Some(ResponseCode::FormErr)
    } else if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
        Some(ResponseCode::BADVERS)
    } else if cookie == Some(Cookie::Malformed) {
        Some(ResponseCode::FormErr)
    } else {
        None
    }
}

/// The response's OPT record with what depends on the answer: an Extended DNS Error and the
/// EDNS EXPIRE seconds, each when there is one to give.
fn with_answer_options(
    edns: &Option<Edns>,
    error: Option<u16>,
    expire: Option<u32>,
) -> Option<Edns> {
    let mut edns = edns.clone();
    if let Some(edns) = &mut edns {
        if let Some(code) = error {
            let info = EdnsOption::Unknown(
                u16::from(option::EXTENDED_ERROR),
                code.to_be_bytes().to_vec(),
            );
            edns.options_mut().insert(info);
        }
        if let Some(seconds) = expire {
            let option =
                EdnsOption::Unknown(u16::from(option::EXPIRE), seconds.to_be_bytes().to_vec());
            edns.options_mut().insert(option);
        }
    }
    edns
}

/// A response of `metadata`'s header and nothing else (all counts 0, NOERROR) into `out`.
fn header_alone(mut metadata: Metadata, out: &mut Vec<u8>) -> bool {
    metadata.response_code = ResponseCode::NoError;
    let header = Header {
        metadata,
        counts: Default::default(),
    };
    out.clear();
    header.emit(&mut BinEncoder::new(out)).is_ok()
}

/// How large an answer may be: the transport's limit (the client's for UDP), less the room
/// the caller needs for what it appends.
#[derive(Clone, Copy)]
struct SizeLimit {
    transport: Transport,
    room: u16,
}

impl SizeLimit {
    fn bytes(self, edns: Option<&Edns>) -> u16 {
        let transport_limit = match self.transport {
            Transport::Udp => udp_limit(edns.map(Edns::max_payload)),
            Transport::Tcp | Transport::Dot | Transport::Doh => u16::MAX,
        };
        transport_limit.saturating_sub(self.room)
    }
}

/// A response builder for `request`, with `edns` as its OPT record when the request had one.
fn response_builder<'a>(
    request: &'a Request,
    edns: &'a Option<Edns>,
) -> MessageResponseBuilder<'a> {
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if let Some(edns) = edns {
        builder.edns(edns);
    }
    builder
}

/// Encodes `response` into `out` within `limit` bytes. Returns whether the message went out
/// with TC set (asked for, or records left out to fit), or `None` when it could not be
/// encoded at all (`out` is then empty).
fn emit<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    limit: u16,
    out: &mut Vec<u8>,
) -> Option<bool> {
    out.clear();
    let mut encoder = BinEncoder::new(out);
    encoder.set_max_size(limit);
    let encoded = response.destructive_emit(&mut encoder);
    match encoded {
        Ok(info) => Some(info.truncation),
        Err(_) => {
            out.clear();
            None
        }
    }
}

/// The TXT record of a CHAOS answer: the name as asked, TTL 0, class CH.
fn chaos_record(name: &Name, text: &str) -> Record {
    let rdata = crate::core::txt::encode_strings(text);
    let txt = TXT::from_bytes(character_strings(&rdata).collect());
    let mut record = Record::from_rdata(name.clone(), 0, RData::TXT(txt));
    record.dns_class = DNSClass::CH;
    record
}

fn to_hickory(
    names: &ZoneNames,
    zone: &Zone,
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
        Rdata::Txt(_) | Rdata::Ranked(..) | Rdata::Fact(..) | Rdata::Unassigned(_) => {
            let rdata = record.data.txt().unwrap_or_default();
            RData::TXT(TXT::from_bytes(character_strings(&rdata).collect()))
        }
        Rdata::Soa(serial) => RData::SOA(SOA::new(
            names.ns.clone(),
            names.rname.clone(),
            *serial,
            zone.timers.refresh as i32,
            zone.timers.retry as i32,
            zone.timers.expire as i32,
            zone.timers.minimum,
        )),
        Rdata::Ns => RData::NS(NS(names.ns.clone())),
        Rdata::Address(std::net::IpAddr::V4(ip)) => RData::A(A(*ip)),
        Rdata::Address(std::net::IpAddr::V6(ip)) => RData::AAAA(AAAA(*ip)),
        // hickory 0.26 has no ZONEMD type: its data goes out as the bytes it is.
        Rdata::Zonemd(data) => RData::Unknown {
            code: RecordType::Unknown(rtype::ZONEMD),
            rdata: NULL::with(data.to_vec()),
        },
    };
    Record::from_rdata(owner, zone.ttl_of(record.data.rtype()), data)
}

fn response_metadata(request: &Metadata, answer: &Answer<'_>, truncated: bool) -> Metadata {
    let mut metadata = Metadata::response_from_request(request);
    metadata.authoritative = answer.authoritative;
    metadata.response_code = answer.rcode;
    metadata.truncation = truncated;
    metadata
}
