//! The pipeline's steps after the access list, in order: TSIG, the catalog zone's questions
//! ([`super::catalog`]), zone transfers (admitted or refused here), NOTIFY, and the answer (the fast path, or the general hickory path), each
//! reading the request's one view and reporting what it wrote ([`Written`]).

use std::net::SocketAddr;

use tracing::{info, warn};

use super::transfer::{self, Refusal, Slot, Transfer, TransferRequest};
use super::{Pipeline, Step, Transport, Written, ZoneState, fast, tsig};
use crate::core::answer::{self, Answer};
use crate::wire::{self, OpCode, Request, ResponseCode};

impl Pipeline {
    /// The steps after the access list, in order: TSIG, the catalog, transfers, NOTIFY, then the answer (the
    /// fast path for the plain shape, else the general path).
    pub(super) fn steps(
        &self,
        request: &Request<'_>,
        client: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Step {
        let mut signer = None;
        if request.tsig.is_some() {
            match tsig::check(&self.keys, request, tsig::now()) {
                // A TSIG record that cannot be read: the general path answers FORMERR.
                tsig::Check::Unsigned => {}
                tsig::Check::Signed(good) => signer = Some(good),
                tsig::Check::Rejected(response, error) => {
                    warn!(client = %client.ip(), error = ?error, "TSIG check failed");
                    self.metrics.tsig_rejected();
                    *out = response;
                    return Step::Reply(Written::answer(request, ResponseCode::NotAuth));
                }
            }
        }
        if let Some(step) = self.catalog_step(request, client, transport, &mut signer, out) {
            return step;
        }
        // Every later step reads the zone the question's name is in.
        let state = self.zones.route_request(request);
        if let Some(step) = self.transfer_step(state, request, client, transport, &mut signer, out)
        {
            return step;
        }
        // A NOTIFY is refused, as NSD answers it: portsd is a primary. One that cannot be
        // read gets FORMERR from the general path like any other message.
        if request.opcode() == OpCode::Notify && request.complete {
            let refused = ResponseCode::Refused;
            if !wire::error_answer(request, refused, out) {
                return Step::Silence;
            }
            sign(&mut signer, out);
            return Step::Reply(Written::answer(request, refused));
        }
        self.answer_step(state, request, client, transport, None, &mut signer, out)
    }

    /// Answers a query from the zone (or with an empty answer of code `forced`): the fast path for the plain shape
    /// (never signed: it accepts no record but OPT), the general hickory path for the rest,
    /// which keeps room for the signature within the client's limit.
    #[allow(clippy::too_many_arguments)]
    fn answer_step(
        &self,
        state: &ZoneState,
        request: &Request<'_>,
        client: SocketAddr,
        transport: Transport,
        forced: Option<ResponseCode>,
        signer: &mut Option<tsig::Signer>,
        out: &mut Vec<u8>,
    ) -> Step {
        if signer.is_none()
            && let Some(query) = fast::Query::of(request)
        {
            let rcode = self.fast_answer(state, &query, transport, forced, out);
            return Step::Reply(Written::answer(request, rcode));
        }
        let room = signer.as_ref().map_or(0, tsig::Signer::room);
        let room = u16::try_from(room).unwrap_or(u16::MAX);
        let general = &self.general;
        let Some(sent) = general.respond(state, request, client, transport, room, forced, out)
        else {
            return Step::Silence;
        };
        sign(signer, out);
        let mut written = Written::answer(request, sent.rcode);
        if !sent.question {
            written.qtype = None;
        }
        if let Some(cookie) = sent.cookie {
            self.metrics.cookie(cookie.label());
            written.verified = cookie.is_valid();
        }
        Step::Reply(written)
    }

    /// Encodes the fast path's answer to `query` (the zone's, or an empty one of code
    /// `forced`); its response code.
    pub(super) fn fast_answer(
        &self,
        state: &ZoneState,
        query: &fast::Query<'_, '_>,
        transport: Transport,
        forced: Option<ResponseCode>,
        out: &mut Vec<u8>,
    ) -> ResponseCode {
        let snapshot = state.snapshot.load();
        let zone = &state.zone;
        let answer = match forced {
            Some(rcode) => Answer::empty(rcode, false),
            None => answer::answer(
                zone,
                &snapshot,
                query.labels(),
                query.qtype(),
                query.qclass(),
            ),
        };
        let limit = match transport {
            Transport::Udp => query.udp_limit(),
            Transport::Tcp | Transport::Dot | Transport::Doh => usize::from(u16::MAX),
        };
        fast::encode_response(query, zone, &answer, limit, out);
        answer.rcode
    }

    /// The transfer step, for a request the TSIG step let through: a query for AXFR or IXFR
    /// of the zone is admitted (the transfer, or over UDP its one message in `out`) or refused
    /// here, logged with its reason and counted; anything else is for the answer steps
    /// (`None`). The access list came first, as for every request: `--allow-transfer` cannot
    /// let in a client that `--deny` keeps out.
    fn transfer_step(
        &self,
        state: &ZoneState,
        request: &Request<'_>,
        client: SocketAddr,
        transport: Transport,
        signer: &mut Option<tsig::Signer>,
        out: &mut Vec<u8>,
    ) -> Option<Step> {
        let zone = &state.zone;
        let parsed = TransferRequest::read(request, zone)?;
        let kind = parsed.kind.label();
        let admitted = self.admit_transfer(
            Some(state),
            request,
            &parsed,
            client,
            transport,
            signer,
            out,
        );
        let slot = match admitted {
            Ok(slot) => slot,
            Err(refused) => return Some(refused),
        };
        let transfer = Transfer::new(
            zone,
            state.snapshot.load_full(),
            &state.journal.load(),
            parsed.kind,
            parsed.id,
            parsed.recursion_desired,
            parsed.question,
        )
        .with_edns(parsed.opt)
        .holding(slot, signer.take());
        info!(client = %client.ip(), kind, form = transfer.form(), "zone transfer");
        self.metrics.transfer_started(kind, transfer.form());
        let written = Written::answer(request, ResponseCode::NoError);
        Some(match transport {
            Transport::Udp => {
                let limit = usize::from(fast::udp_limit(parsed.udp_payload));
                transfer.single_message(limit, out);
                Step::Reply(written)
            }
            // DoH never gets here: refused above.
            Transport::Tcp | Transport::Dot | Transport::Doh => {
                Step::Transfer(Box::new(transfer), written)
            }
        })
    }

    /// Admits the transfer `parsed` (of the zone `state`, or of the catalog: `None`) or
    /// refuses it: AXFR over UDP, any transfer over DoH, a client the zone's own transfer
    /// networks (else `--allow-transfer`) leave out, an unsigned request when keys are
    /// configured, one transfer too many. A refusal is logged with its reason, counted, and
    /// answered here (the step returned as the error).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit_transfer(
        &self,
        state: Option<&ZoneState>,
        request: &Request<'_>,
        parsed: &TransferRequest<'_>,
        client: SocketAddr,
        transport: Transport,
        signer: &mut Option<tsig::Signer>,
        out: &mut Vec<u8>,
    ) -> Result<Slot, Step> {
        let kind = parsed.kind.label();
        let admitted = if transport == Transport::Udp && parsed.kind == transfer::Kind::Axfr {
            // AXFR over UDP is NOTIMP for everyone, allowed or not (as NSD and Knot answer).
            Err(Refusal::OverUdp)
        } else if transport == Transport::Doh {
            // RFC 8484 carries one message per HTTP exchange; a transfer has no place there.
            Err(Refusal::OverDoh)
        } else {
            let own = state.and_then(|state| state.allow_transfer.as_deref());
            self.transfer
                .check(own, client.ip(), signer.is_some())
                .and_then(|()| {
                    Slot::take(&self.transfers_running, self.transfer.max_concurrent)
                        .ok_or(Refusal::Busy)
                })
        };
        admitted.map_err(|refusal| {
            warn!(client = %client.ip(), kind, reason = refusal.label(), "zone transfer refused");
            self.metrics.transfer_refused(kind, refusal.label());
            let state = state.unwrap_or(self.zones.first());
            self.refuse_transfer(state, request, client, transport, refusal, signer, out)
        })
    }

    /// The answer to a refused transfer: NOTIMP alone for AXFR over UDP, REFUSED (without AA)
    /// as any other answer is written, signed when the request was.
    #[allow(clippy::too_many_arguments)]
    fn refuse_transfer(
        &self,
        state: &ZoneState,
        request: &Request<'_>,
        client: SocketAddr,
        transport: Transport,
        refusal: Refusal,
        signer: &mut Option<tsig::Signer>,
        out: &mut Vec<u8>,
    ) -> Step {
        if refusal == Refusal::OverUdp {
            let notimp = ResponseCode::NotImp;
            if !wire::error_answer(request, notimp, out) {
                return Step::Silence;
            }
            sign(signer, out);
            return Step::Reply(Written::answer(request, notimp));
        }
        self.answer_step(
            state,
            request,
            client,
            transport,
            Some(ResponseCode::Refused),
            signer,
            out,
        )
    }
}

/// Signs `out` when the request was signed.
pub(super) fn sign(signer: &mut Option<tsig::Signer>, out: &mut Vec<u8>) {
    if let Some(signer) = signer {
        signer.sign(out, tsig::now());
    }
}
