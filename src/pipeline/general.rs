//! The general path: hickory's message parsing, for every message the fast path declines
//! (errors, unusual shapes, EDNS options, signed or multi-record messages); its answers are
//! written by the one response writer ([`crate::wire::response`]), as the fast path's are.
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
use hickory_server::proto::op::{Edns, OpCode};
use hickory_server::server::Request;
use tracing::debug;

use super::cookie::{self, Cookie, CookieSecrets};
use super::edns;
use super::identity::{self, Chaos, Identity};
use super::state::ZoneState;
use crate::core::answer::{self, Answer};
use crate::core::txt::encode_strings;
use crate::transport::Transport;
use crate::wire::request::{Options, hickory_parsed};
use crate::wire::response::{self, Echo, Opt, udp_limit};
use crate::wire::{self, DNSClass, Flags, Header, ResponseCode};

/// The general path: what it answers with besides the zone.
#[derive(Debug)]
pub(crate) struct GeneralPath {
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

impl GeneralPath {
    pub(crate) fn new(identity: Identity, cookies: CookieSecrets) -> GeneralPath {
        GeneralPath { identity, cookies }
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
                self.answer(&context, request, &parsed, out)
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

    /// Answers a parsed request (`view` is the same message's view); the response code sent
    /// and whether the question went with it, or `None` when nothing could be written.
    fn answer(
        &self,
        context: &Context<'_, '_>,
        view: &wire::Request<'_>,
        request: &Request,
        out: &mut Vec<u8>,
    ) -> Option<(ResponseCode, bool)> {
        let questions = view.questions.clone().unwrap_or(12..12);
        let question_count = if questions.is_empty() {
            0
        } else {
            view.counts[0]
        };
        let nsid_asked = context.options.is_some_and(|o| o.nsid);
        let cookie = match &context.cookie {
            Some(Cookie::WellFormed { reply, .. }) => Some(&reply[..]),
            _ => None,
        };
        let opt = request.edns.as_ref().map(|edns| Opt {
            dnssec_ok: edns.flags().dnssec_ok,
            nsid: self.identity.nsid.as_deref().filter(|_| nsid_asked),
            cookie,
            expire: None,
        });
        let mut echo = Echo {
            header: view.response_header(),
            questions: (&view.bytes[questions], question_count),
            labels: &[],
            opt,
        };
        let zone = &context.state.zone;
        if let Some(code) = error_code(request, context.cookie) {
            if code == ResponseCode::NotImp {
                // RD and CD belong to QUERY: a NOTIMP says the opcode was not understood, so
                // it echoes only the opcode (as BIND answers, and ISC's genreport expects).
                echo.header = Header::new(view.header.id, view.opcode(), Flags::QR);
            }
            let error = Answer::empty(code, false);
            let _fits = response::write_answer(&echo, zone, &error, usize::MAX, out);
            return Some((code, true));
        }
        let query = request.queries.queries()[0].original();
        let labels: Vec<&[u8]> = query.name().iter().collect();
        echo.labels = &labels;
        if query.query_class() == DNSClass::CH {
            let chaos = self.identity.chaos(&labels, query.query_type());
            let (rcode, text) = match chaos {
                Chaos::Text(text) => (ResponseCode::NoError, Some(encode_strings(text))),
                Chaos::Hidden | Chaos::Refused => (ResponseCode::Refused, None),
            };
            let error = (chaos == Chaos::Hidden).then_some(identity::PROHIBITED);
            response::write_chaos(&echo, rcode, text.as_deref(), error, out);
            return Some((rcode, true));
        }
        let snapshot = context.state.snapshot.load();
        let answer = match context.forced {
            Some(rcode) => Answer::empty(rcode, false),
            None => answer::answer(
                zone,
                &snapshot,
                &labels,
                query.query_type(),
                query.query_class(),
            ),
        };
        // EDNS EXPIRE (RFC 7314) on every answer from the zone to a client asking for it, as
        // Knot answers: portsd is the primary, so it is the SOA's EXPIRE itself.
        if let Some(opt) = &mut echo.opt {
            opt.expire = context
                .options
                .is_some_and(|o| o.expire)
                .then_some(zone.timers.expire)
                .filter(|_| answer.authoritative);
        }
        let limit = usize::from(context.size.bytes(request.edns.as_ref()));
        if response::write_answer(&echo, zone, &answer, limit, out) {
            return Some((answer.rcode, true));
        }
        // Not even the question fits beside the signature (a long key name, a long name asked
        // at 512 bytes): RFC 8945 5.3's answer, the header alone with TC set and NOERROR, for
        // the signature to be added to; the client asks again over TCP.
        if context.size.room > 0 {
            response::write_header_alone(&echo, answer.authoritative, out);
            return Some((ResponseCode::NoError, false));
        }
        out.clear();
        None
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
