//! A response written whole, for every path that answers a query (the fast path, the general
//! path's answers, errors and CHAOS names): the header, the question section as received, the
//! records of an [`Answer`] and the OPT record, by the one writer ([`super::compress::Writer`])
//! within one size limit. A response that does not fit goes out with TC set, the question and
//! the OPT record only; one whose question does not fit either is not written.

use super::compress::Writer;
use super::types::{DNSClass, RecordType};

use super::header::{Flags, Header, ResponseCode};
use super::read::option;
use super::{Names, write_record_data};
use crate::core::answer::{Answer, Owner, Record};
use crate::core::names::SEARCH_LABEL;
use crate::core::zone::Zone;

/// The largest UDP payload portsd sends (DNS Flag Day 2020), whatever the client offers.
pub(crate) const MAX_UDP_PAYLOAD: u16 = 1232;
/// The limit for clients that do not use EDNS (RFC 1035 4.2.1).
const PLAIN_UDP_PAYLOAD: u16 = 512;

/// The UDP size limit for a client offering `payload` (None: no EDNS): min(offered, 1232),
/// never under 512.
pub(crate) fn udp_limit(payload: Option<u16>) -> u16 {
    payload.map_or(PLAIN_UDP_PAYLOAD, |p| {
        p.clamp(PLAIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
    })
}

/// The OPT record of a response (RFC 6891): portsd's payload size, the DNSSEC OK bit echoed,
/// and the options the response carries besides those that depend on the answer (NSID, a
/// server cookie).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Opt<'a> {
    /// The DNSSEC OK bit, echoed.
    pub(crate) dnssec_ok: bool,
    /// NSID (RFC 5001), when asked for and configured.
    pub(crate) nsid: Option<&'a [u8]>,
    /// The COOKIE option's data (client cookie and a fresh server cookie, RFC 7873).
    pub(crate) cookie: Option<&'a [u8]>,
    /// EDNS EXPIRE's seconds (RFC 7314), when asked for.
    pub(crate) expire: Option<u32>,
}

/// What a response echoes of its request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Echo<'a> {
    /// The response's header before AA, TC and the response code.
    pub(crate) header: Header,
    /// The question section as received, and how many questions it holds.
    pub(crate) questions: (&'a [u8], u16),
    /// The first question's labels as received: the owner of [`Owner::Query`] records.
    pub(crate) labels: &'a [&'a [u8]],
    /// The OPT record, when the request had one.
    pub(crate) opt: Option<Opt<'a>>,
}

/// Writes the response carrying `answer` into `out` (cleared first) within `limit` bytes, or,
/// when it does not fit, the same with TC set and no records. Returns false when not even that
/// fits (it is written all the same).
pub(crate) fn write_answer(
    echo: &Echo<'_>,
    zone: &Zone,
    answer: &Answer<'_>,
    limit: usize,
    out: &mut Vec<u8>,
) -> bool {
    if write(echo, zone, answer, false, limit, out) {
        return true;
    }
    let empty = Answer {
        extended_error: answer.extended_error,
        ..Answer::empty(answer.rcode, answer.authoritative)
    };
    write(echo, zone, &empty, true, limit, out)
}

/// Writes the answer to a CHAOS-class question (never large): `text`, when given, as one TXT
/// record of class CH and TTL 0 owned by the name asked, and the OPT record with `error`.
pub(crate) fn write_chaos(
    echo: &Echo<'_>,
    rcode: ResponseCode,
    text: Option<&[u8]>,
    error: Option<u16>,
    out: &mut Vec<u8>,
) {
    let header = echo.header.rcode(rcode);
    let (questions, question_count) = echo.questions;
    let additional = u16::from(echo.opt.is_some());
    let counts = [question_count, u16::from(text.is_some()), 0, additional];
    let mut writer = Writer::begin(out, header, counts, questions, usize::MAX);
    if let Some(rdata) = text {
        writer.name(echo.labels.iter().copied());
        let out = writer.out();
        out.extend_from_slice(&u16::from(RecordType::TXT).to_be_bytes());
        out.extend_from_slice(&u16::from(DNSClass::CH).to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    if let Some(opt) = &echo.opt {
        write_opt(&mut writer, rcode, opt, error);
    }
}

/// Writes the response carrying `answer`, with TC when `truncated`; returns whether it fits
/// `limit` (see [`Writer::fits`]).
fn write(
    echo: &Echo<'_>,
    zone: &Zone,
    answer: &Answer<'_>,
    truncated: bool,
    limit: usize,
    out: &mut Vec<u8>,
) -> bool {
    let flags = Flags::NONE
        .with_if(Flags::AA, answer.authoritative)
        .with_if(Flags::TC, truncated);
    let header = echo.header.with(flags).rcode(answer.rcode);
    let additional = answer.additional.len() + usize::from(echo.opt.is_some());
    let counts = [answer.answers.len(), answer.authority.len(), additional];
    let [answers, authority, additional] = counts.map(|n| n as u16);
    let (questions, question_count) = echo.questions;
    let counts = [question_count, answers, authority, additional];
    let mut writer = Writer::begin(out, header, counts, questions, limit);
    let sections = [&answer.answers[..], &answer.authority, &answer.additional];
    for record in sections.into_iter().flatten() {
        write_record(&mut writer, echo.labels, zone, record);
    }
    if let Some(opt) = &echo.opt {
        let error = answer.extended_error;
        write_opt(&mut writer, answer.rcode, opt, error);
    }
    writer.fits()
}

fn write_record(writer: &mut Writer<'_>, query: &[&[u8]], zone: &Zone, record: &Record<'_>) {
    let zone_labels = zone.name.labels().iter().map(|l| &l[..]);
    match record.owner {
        Owner::Query => writer.name(query.iter().copied()),
        Owner::Apex => writer.name(zone_labels),
        Owner::NameServer => writer.name(zone.ns_name.iter().map(|l| &l[..])),
        Owner::SearchApex => writer.name(std::iter::once(SEARCH_LABEL).chain(zone_labels)),
    }
    write_record_data(writer, zone, &record.data);
}

/// Appends the OPT record of a response with `rcode` (its upper bits go here): root owner,
/// portsd's UDP payload size, the DNSSEC OK bit, and the options: NSID, COOKIE, an Extended
/// DNS Error (RFC 8914) when there is one, EDNS EXPIRE, in that order.
pub(crate) fn write_opt(
    names: &mut impl Names,
    rcode: ResponseCode,
    opt: &Opt<'_>,
    error: Option<u16>,
) {
    names.name(std::iter::empty());
    let out = names.out();
    out.extend_from_slice(&u16::from(RecordType::OPT).to_be_bytes());
    out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
    let dnssec_ok = if opt.dnssec_ok { 0x8000 } else { 0 };
    out.extend_from_slice(&[rcode.high(), 0]);
    out.extend_from_slice(&u16::to_be_bytes(dnssec_ok));
    let length_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let error = error.map(u16::to_be_bytes);
    let expire = opt.expire.map(u32::to_be_bytes);
    let options = [
        (option::NSID, opt.nsid),
        (option::COOKIE, opt.cookie),
        (option::EXTENDED_ERROR, error.as_ref().map(|e| &e[..])),
        (option::EXPIRE, expire.as_ref().map(|e| &e[..])),
    ];
    for (code, data) in options {
        if let Some(data) = data {
            out.extend_from_slice(&u16::from(code).to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
    }
    let length = (out.len() - length_at - 2) as u16;
    out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
}

/// The response to `echo` that is its header alone, TC set, every count 0 and NOERROR (RFC
/// 8945 5.3's answer when not even the question fits beside a signature).
pub(crate) fn write_header_alone(echo: &Echo<'_>, authoritative: bool, out: &mut Vec<u8>) {
    let flags = Flags::TC.with_if(Flags::AA, authoritative);
    let header = echo.header.with(flags).rcode(ResponseCode::NoError);
    Writer::begin(out, header, [0; 4], &[], usize::MAX);
}
