//! The catalog zone's answers (`--catalog`, [`crate::core::catalog`]): every plain query (opcode
//! QUERY, one question, class IN, EDNS version 0 or none) whose name is at or under the
//! catalog's apex is answered here, from the catalog's few records; anything else goes on to
//! the steps that answer the ports zone, which give the same errors for both (FORMERR,
//! NOTIMP, BADVERS, REFUSED for NOTIFY and for other classes).
//!
//! Answers are RFC 1034's: the records asked, NODATA or NXDOMAIN with the catalog's SOA in
//! the authority section, AA set. AXFR and IXFR of the catalog are admitted or refused exactly as
//! the zone's (`--allow-transfer`, TSIG, `--max-transfers`, not over UDP or DoH for AXFR). The
//! catalog is small, so a transfer is one message over TCP; an IXFR gets the SOA alone from a
//! client as new as the catalog, and otherwise the whole catalog in AXFR form (RFC 1995 4 lets
//! a server answer so); over UDP it gets the SOA alone, which sends a client that is behind to
//! TCP. DNS cookies are not answered here (RFC 7873 lets a server ignore them).

use std::net::SocketAddr;

use tracing::info;

use super::steps::sign;
use super::transfer::{Kind, TransferRequest};
use super::{Pipeline, Step, Transport, Written, tsig};
use crate::core::answer::Rdata;
use crate::core::catalog::{Catalog, Data, Found, Record, VERSION_RDATA};
use crate::core::serial::is_newer;
use crate::wire::message::TransferMessage;
use crate::wire::response::{Opt, udp_limit};
use crate::wire::{
    self, DNSClass, Flags, Header, OPT_WITH_EXPIRE_BYTES, OpCode, RecordType, Request, ResponseCode,
};

impl Pipeline {
    /// The catalog's step, for a request the TSIG step let through: `None` when there is no
    /// catalog or the request is not a plain query at or under it.
    pub(super) fn catalog_step(
        &self,
        request: &Request<'_>,
        client: SocketAddr,
        transport: Transport,
        signer: &mut Option<tsig::Signer>,
        out: &mut Vec<u8>,
    ) -> Option<Step> {
        let catalog = self.catalog.as_deref()?;
        let question = request.question()?;
        let plain = request.complete
            && request.opcode() == OpCode::Query
            && request.counts[0] == 1
            && question.qclass == DNSClass::IN
            && request.opt.as_ref().is_none_or(|opt| opt.version == 0);
        if !plain {
            return None;
        }
        // Asked for every plain query when a catalog is served: no allocation for a usual name.
        let name: smallvec::SmallVec<[&[u8]; 8]> = question.name().collect();
        let relative = catalog.relative(&name)?;
        let room = signer.as_ref().map_or(0, tsig::Signer::room);
        if relative.is_empty()
            && let Some(parsed) = TransferRequest::read(request, &catalog.zone)
        {
            // The place among concurrent transfers is held while the one message is written.
            let _slot =
                match self.admit_transfer(None, request, &parsed, client, transport, signer, out) {
                    Ok(slot) => slot,
                    Err(refused) => return Some(refused),
                };
            let whole = match parsed.kind {
                Kind::Axfr => true,
                Kind::Ixfr(serial) => {
                    let current = catalog.serial();
                    transport != Transport::Udp && serial != current && !is_newer(serial, current)
                }
            };
            let kind = parsed.kind.label();
            let form = if whole { "axfr" } else { "soa" };
            info!(client = %client.ip(), zone = %catalog.zone.display_name(), kind, form, "zone transfer");
            self.metrics.transfer_started(kind, form);
            let header = Header::new(
                parsed.id,
                OpCode::Query,
                (Flags::QR | Flags::AA).with_if(Flags::RD, parsed.recursion_desired),
            );
            let limit = usize::from(u16::MAX) - room - OPT_WITH_EXPIRE_BYTES;
            let mut message = TransferMessage::begin(out, header, Some(parsed.question), limit);
            let soa = Record {
                owner: catalog.apex(),
                data: Data::Soa,
            };
            let records = if whole { catalog.records() } else { Vec::new() };
            let all = (records.iter().chain([&soa])).all(|r| add(&mut message, catalog, r));
            let fits = all && message.fits();
            message.finish(parsed.opt.as_ref());
            let rcode = if fits {
                ResponseCode::NoError
            } else {
                // More members than one message holds: none of portsd's configurations.
                let failed = ResponseCode::ServFail;
                wire::error_answer(request, failed, out);
                failed
            };
            sign(signer, out);
            return Some(Step::Reply(Written::answer(request, rcode)));
        }
        let qtype = match question.qtype {
            // A transfer asked below the apex, or an IXFR without the client's SOA: RFC
            // 1995 and 5936 say nothing of them; FORMERR as the ports zone answers.
            RecordType::AXFR | RecordType::IXFR => {
                wire::error_answer(request, ResponseCode::FormErr, out);
                sign(signer, out);
                return Some(Step::Reply(Written::answer(request, ResponseCode::FormErr)));
            }
            qtype => qtype,
        };
        let found = catalog.lookup(relative, qtype);
        let rcode = answer(catalog, request, &found, transport, room, out);
        sign(signer, out);
        Some(Step::Reply(Written::answer(request, rcode)))
    }
}

/// Adds `record` of `catalog` to `message`; whether it fitted.
fn add(message: &mut TransferMessage<'_>, catalog: &Catalog, record: &Record<'_>) -> bool {
    let owner = &record.owner;
    match record.data {
        Data::Soa => message.record(owner, &catalog.zone, &Rdata::Soa(catalog.serial())),
        Data::Ns => message.record(owner, &catalog.zone, &Rdata::Ns),
        Data::Version => message.raw(owner, RecordType::TXT, catalog.zone.ttl, VERSION_RDATA),
        Data::Ptr(member) => message.raw(owner, RecordType::PTR, catalog.zone.ttl, member),
    }
}

/// Writes the answer to a query of the catalog into `out`: the records found, or the SOA in
/// the authority section for NODATA and NXDOMAIN; over UDP, an answer larger than the
/// client's limit goes with TC set and no records. Returns the response code.
fn answer(
    catalog: &Catalog,
    request: &Request<'_>,
    found: &Found<'_>,
    transport: Transport,
    room: usize,
    out: &mut Vec<u8>,
) -> ResponseCode {
    let client_opt = request.opt.as_ref();
    let opt = client_opt.map(|opt| Opt {
        dnssec_ok: opt.dnssec_ok,
        expire: opt.options.expire.then_some(catalog.zone.timers.expire),
        ..Opt::default()
    });
    let limit = match transport {
        Transport::Udp => usize::from(udp_limit(client_opt.map(|opt| opt.payload))),
        Transport::Tcp | Transport::Dot | Transport::Doh => usize::from(u16::MAX),
    };
    let limit = limit.saturating_sub(room + opt.map_or(0, |_| OPT_WITH_EXPIRE_BYTES));
    let rcode = match found {
        Found::NxDomain => ResponseCode::NXDomain,
        Found::Records(_) | Found::NoData => ResponseCode::NoError,
    };
    let header = request.response_header().with(Flags::AA).rcode(rcode);
    let question = request.question().map(|q| q.bytes);
    let soa = [Record {
        owner: catalog.apex(),
        data: Data::Soa,
    }];
    let complete = {
        let mut message = TransferMessage::begin(out, header, question, limit);
        let records = match found {
            Found::Records(records) => &records[..],
            Found::NoData | Found::NxDomain => {
                message.authority();
                &soa[..]
            }
        };
        let complete = records.iter().all(|r| add(&mut message, catalog, r)) && message.fits();
        if complete {
            message.finish(opt.as_ref());
        }
        complete
    };
    if !complete {
        let truncated = header.with(Flags::TC);
        TransferMessage::begin(out, truncated, question, usize::MAX).finish(opt.as_ref());
    }
    rcode
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Instant;

    use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

    use super::super::tests::{parts, query, signed};
    use crate::core::catalog::Catalog;
    use crate::core::names::parse_domain;
    use crate::metrics::Metrics;
    use crate::pipeline::{Outcome, Pipeline, Transport};

    /// `ports.test` (keys configured, transfers allowed from loopback) with the catalog
    /// `catalog.test` listing it, serial 5; and the client's signer.
    fn pipeline() -> (Pipeline, hickory_proto::rr::TSigner) {
        let (zone, table, policy, client) = parts();
        let name = parse_domain("catalog.test").unwrap();
        let catalog = Catalog::new(name, std::slice::from_ref(&zone), &zone, None, 5);
        let metrics = Arc::new(Metrics::new());
        let pipeline = Pipeline::new(zone, table, 10, policy, metrics).with_catalog(catalog);
        (pipeline, client)
    }

    /// The response `pipeline` gives `request` over `transport`, one message.
    fn ask(pipeline: &Pipeline, request: &[u8], transport: Transport) -> Message {
        let client: SocketAddr = ([127, 0, 0, 1], 5353).into();
        let mut out = Vec::new();
        match pipeline.handle(request, client, transport, Instant::now(), &mut out) {
            Outcome::Reply => Message::from_vec(&out).expect("hickory reads the response"),
            other => panic!("not one message: {other:?}"),
        }
    }

    /// The records of a section as `owner TYPE data` lines.
    fn lines(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
            .collect()
    }

    const SOA_LINE: &str =
        "catalog.test. SOA invalid. hostmaster.catalog.test. 5 3600 600 604800 60";

    #[test]
    fn the_catalog_answers_its_soa_ns_version_and_nothing_else() {
        let (pipeline, _) = pipeline();
        let udp = |name: &str, qtype| {
            let request = query(name, qtype).to_vec().unwrap();
            ask(&pipeline, &request, Transport::Udp)
        };
        let soa = udp("catalog.test.", RecordType::SOA);
        assert!(soa.authoritative && soa.response_code == ResponseCode::NoError);
        assert_eq!(lines(&soa.answers), [SOA_LINE]);
        let ns = udp("Catalog.Test.", RecordType::NS);
        assert_eq!(lines(&ns.answers), ["catalog.test. NS invalid."]);
        let version = udp("version.catalog.test.", RecordType::TXT);
        assert_eq!(lines(&version.answers), ["version.catalog.test. TXT 2"]);
        for (name, qtype, rcode) in [
            ("catalog.test.", RecordType::A, ResponseCode::NoError),
            (
                "zones.catalog.test.",
                RecordType::PTR,
                ResponseCode::NoError,
            ),
            (
                "version.catalog.test.",
                RecordType::PTR,
                ResponseCode::NoError,
            ),
            (
                "nothing.catalog.test.",
                RecordType::TXT,
                ResponseCode::NXDomain,
            ),
            (
                "0.zones.catalog.test.",
                RecordType::PTR,
                ResponseCode::NXDomain,
            ),
        ] {
            let negative = udp(name, qtype);
            assert_eq!(negative.response_code, rcode, "{name} {qtype}");
            assert!(negative.authoritative && negative.answers.is_empty());
            assert_eq!(lines(&negative.authorities), [SOA_LINE], "{name} {qtype}");
        }
        let zone = udp("443.tcp.ports.test.", RecordType::TXT);
        assert_eq!(zone.answers.len(), 1, "the ports zone still answers");
    }

    #[test]
    fn a_signed_axfr_of_the_catalog_lists_the_member_and_its_ptr_answers() {
        let (pipeline, client) = pipeline();
        let request = signed(query("catalog.test.", RecordType::AXFR), &client);
        let axfr = ask(&pipeline, &request, Transport::Tcp);
        assert!(axfr.signature.is_some(), "signed as the request was");
        let records = lines(&axfr.answers);
        assert_eq!(records.len(), 5, "{records:?}");
        assert_eq!(records[0], SOA_LINE);
        assert_eq!(records[4], SOA_LINE);
        assert_eq!(
            records[1..3],
            ["catalog.test. NS invalid.", "version.catalog.test. TXT 2"]
        );
        let ptr = &axfr.answers[3];
        assert_eq!(
            ptr.data,
            RData::PTR(hickory_proto::rr::rdata::PTR(
                Name::from_ascii("ports.test.").unwrap()
            ))
        );
        let member = ptr.name.to_ascii();
        assert!(member.ends_with(".zones.catalog.test."), "{member}");
        let asked = ask(
            &pipeline,
            &query(&member, RecordType::PTR).to_vec().unwrap(),
            Transport::Udp,
        );
        assert_eq!(lines(&asked.answers), [records[3].clone()]);
    }

    #[test]
    fn catalog_transfers_are_refused_and_answered_as_the_zone_s() {
        let (pipeline, client) = pipeline();
        let unsigned = query("catalog.test.", RecordType::AXFR).to_vec().unwrap();
        let refused = ask(&pipeline, &unsigned, Transport::Tcp);
        assert_eq!(refused.response_code, ResponseCode::Refused);
        assert!(refused.answers.is_empty());
        let over_udp = signed(query("catalog.test.", RecordType::AXFR), &client);
        assert_eq!(
            ask(&pipeline, &over_udp, Transport::Udp).response_code,
            ResponseCode::NotImp
        );
        let ixfr = |serial: u32, transport| {
            let mut message = query("catalog.test.", RecordType::IXFR);
            message.add_authority(Record::from_rdata(
                Name::from_ascii("catalog.test.").unwrap(),
                60,
                RData::SOA(SOA::new(Name::root(), Name::root(), serial, 1, 1, 1, 1)),
            ));
            lines(&ask(&pipeline, &signed(message, &client), transport).answers)
        };
        assert_eq!(
            ixfr(5, Transport::Tcp),
            [SOA_LINE],
            "up to date: the SOA alone"
        );
        assert_eq!(
            ixfr(4, Transport::Tcp).len(),
            5,
            "behind: the whole catalog"
        );
        assert_eq!(
            ixfr(4, Transport::Udp),
            [SOA_LINE],
            "over UDP: the SOA, to go to TCP"
        );
        let below = signed(query("version.catalog.test.", RecordType::AXFR), &client);
        assert_eq!(
            ask(&pipeline, &below, Transport::Tcp).response_code,
            ResponseCode::FormErr
        );
    }

    #[test]
    fn unusual_catalog_questions_get_the_zone_s_errors_and_edns_is_echoed() {
        let (pipeline, _) = pipeline();
        let mut notify = query("catalog.test.", RecordType::SOA);
        notify.metadata.op_code = OpCode::Notify;
        let mut opcode = query("catalog.test.", RecordType::SOA);
        opcode.metadata.op_code = OpCode::Unknown(15);
        let mut chaos = query("catalog.test.", RecordType::TXT);
        chaos.queries[0].set_query_class(DNSClass::CH);
        let mut version_1 = query("catalog.test.", RecordType::SOA);
        let mut edns = Edns::new();
        edns.set_version(1);
        version_1.set_edns(edns);
        for (message, rcode) in [
            (notify, ResponseCode::Refused),
            (opcode, ResponseCode::NotImp),
            (chaos, ResponseCode::Refused),
            (version_1, ResponseCode::BADVERS),
        ] {
            let response = ask(&pipeline, &message.to_vec().unwrap(), Transport::Tcp);
            // BADVERS and BADSIG share code 16, which hickory reads as BADSIG.
            let code = u16::from(response.response_code);
            assert_eq!(code, u16::from(rcode), "{:?}", message.metadata.op_code);
            assert!(response.answers.is_empty());
        }
        let mut with_edns = query("catalog.test.", RecordType::SOA);
        with_edns.set_edns(Edns::new());
        let response = ask(&pipeline, &with_edns.to_vec().unwrap(), Transport::Udp);
        assert!(response.edns.is_some(), "EDNS answered with EDNS");
        assert_eq!(lines(&response.answers), [SOA_LINE]);
    }
}
