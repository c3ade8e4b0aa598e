//! DNS wire format, read and written by hand, and its vocabulary: the header ([`header`]), the
//! request view every pipeline step reads ([`request`]), names (the one label reader in
//! `read`), the one writer of every message portsd sends ([`compress`]: names compressed,
//! one size limit) and what is written with it: answers to queries ([`response`]: the fast
//! path's, the general path's, errors, CHAOS), zone transfer messages ([`message`]), the
//! NOTIFY message; the zone's digest ([`zonemd`]), record data (SOA, NS, A, AAAA, TXT,
//! ZONEMD) in one function for every writer, and the TSIG record (read and written).
//!
//! hickory parses the messages the view cannot answer from (the general path), names the
//! vocabulary, and is the oracle: tests and the fuzz targets hold each piece written here
//! against hickory's reading of the same bytes.

pub(crate) mod compress;
pub(crate) mod header;
pub(crate) mod message;
mod read;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod tsig;
pub(crate) mod types;
mod zonemd;

use crate::core::answer::Rdata;
use crate::core::zone::Zone;
pub(crate) use compress::{Names, Uncompressed};
pub(crate) use header::{Flags, Header, OpCode, ResponseCode};
#[cfg(test)]
use read::read_name_lowercase;
pub(crate) use read::{Name, option, read_u16, skip_name};
pub(crate) use request::Request;
pub(crate) use types::{DNSClass, RecordType};

/// The name in presentation form (`443.tcp.ports.local.`), as hickory prints names (IDNA
/// labels shown decoded): for the query log. Builds a hickory name from the labels, which reads
/// nothing of the message.
pub(crate) fn presentation(name: Name<'_>) -> String {
    hickory_proto::rr::Name::from_labels(name).map_or_else(|_| String::new(), |n| n.to_string())
}

/// Writes a record's RDATA: the one place SOA, NS, A, AAAA, TXT and ZONEMD data are spelled.
#[inline]
pub(crate) fn write_rdata(names: &mut impl Names, zone: &Zone, data: &Rdata<'_>) {
    match data {
        Rdata::Txt(_) | Rdata::Ranked(..) | Rdata::Fact(..) | Rdata::Unassigned(_) => {
            data.append_txt(names.out())
        }
        Rdata::Soa(serial) => {
            names.name(zone.ns_name.iter().map(|l| &l[..]));
            names.name(zone.rname.iter().map(|l| &l[..]));
            let out = names.out();
            let t = zone.timers;
            for value in [*serial, t.refresh, t.retry, t.expire, t.minimum] {
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        Rdata::Ns => names.name(zone.ns_name.iter().map(|l| &l[..])),
        Rdata::Address(std::net::IpAddr::V4(ip)) => names.out().extend_from_slice(&ip.octets()),
        Rdata::Address(std::net::IpAddr::V6(ip)) => names.out().extend_from_slice(&ip.octets()),
        Rdata::Zonemd(digest) => names.out().extend_from_slice(digest.rdata()),
    }
}

/// Writes a record's type, class IN, TTL, RDLENGTH and RDATA, after its owner.
#[inline]
pub(crate) fn write_record_data(names: &mut impl Names, zone: &Zone, data: &Rdata<'_>) {
    let length_at = record_fields(names.out(), data.rtype(), zone.ttl_of(data.rtype()));
    write_rdata(names, zone, data);
    end_rdata(names.out(), length_at);
}

/// Writes a record's type, class IN, TTL, RDLENGTH and `rdata`, already encoded, after its
/// owner.
pub(crate) fn write_record_raw(out: &mut Vec<u8>, rtype: RecordType, ttl: u32, rdata: &[u8]) {
    let length_at = record_fields(out, rtype, ttl);
    out.extend_from_slice(rdata);
    end_rdata(out, length_at);
}

/// Appends type, class IN, TTL and a place for RDLENGTH; returns where that place is.
#[inline]
fn record_fields(out: &mut Vec<u8>, rtype: RecordType, ttl: u32) -> usize {
    out.extend_from_slice(&u16::from(rtype).to_be_bytes());
    out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.len() - 2
}

/// Fills in RDLENGTH at `length_at` for the RDATA written after it.
#[inline]
fn end_rdata(out: &mut [u8], length_at: usize) {
    let length = (out.len() - length_at - 2) as u16;
    out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
}

/// A NOTIFY (RFC 1996 3.7) for `zone` at `serial` with `id` into `out`: AA set, the apex SOA
/// as the question and as the answer.
pub(crate) fn write_notify(zone: &Zone, serial: u32, id: u16, out: &mut Vec<u8>) {
    let header = Header::new(id, OpCode::Notify, Flags::AA);
    let mut writer = compress::Writer::begin(out, header, [1, 1, 0, 0], &[], usize::MAX);
    let apex = || zone.name.labels().iter().map(|l| &l[..]);
    writer.name(apex());
    let out = writer.out();
    out.extend_from_slice(&u16::from(RecordType::SOA).to_be_bytes());
    out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    writer.name(apex());
    write_record_data(&mut writer, zone, &Rdata::Soa(serial));
}

/// The bytes [`response::write_opt`] writes with an EDNS EXPIRE option and nothing else.
pub(crate) const OPT_WITH_EXPIRE_BYTES: usize = 11 + 8;

/// An error answer (FORMERR, NOTIMP, REFUSED, NOTAUTH) into `out`: the header and the
/// question section echoed as received when it could be read, no records, no OPT, exactly as
/// hickory's `error_msg` encodes it. `false` (and `out` empty) for a response, which gets no
/// answer.
pub(crate) fn error_answer(request: &Request<'_>, rcode: ResponseCode, out: &mut Vec<u8>) -> bool {
    out.clear();
    if request.is_response() {
        return false;
    }
    let questions = request.questions.clone().unwrap_or(12..12);
    let count = if questions.is_empty() {
        0
    } else {
        request.counts[0]
    };
    let header = request.response_header().rcode(rcode);
    let questions = &request.bytes[questions];
    compress::Writer::begin(out, header, [count, 0, 0, 0], questions, usize::MAX);
    true
}

/// Where the question section of a one-question message ends (after QTYPE and QCLASS).
pub(crate) fn question_end(message: &[u8]) -> Option<usize> {
    if read_u16(message, 4)? != 1 {
        return None;
    }
    Some(skip_name(message, 12)? + 4).filter(|&end| end <= message.len())
}

/// Turns a response into the rate limiter's "slip": the header and question only, with TC set,
/// so a genuine client retries over TCP while a spoofed victim receives a small packet.
pub(crate) fn truncate_for_slip(response: &mut Vec<u8>) {
    if response.len() < 12 {
        return;
    }
    let end = question_end(response).unwrap_or(12);
    response.truncate(end);
    header::set_flags(response, Flags::TC);
    for section in 0..4 {
        let count = u16::from(section == 0 && end > 12);
        header::set_count(response, section, count);
    }
}

#[cfg(test)]
mod tests;

/// The block length responses are padded to (RFC 8467's recommendation for servers).
pub(crate) const PADDING_BLOCK: usize = 468;

/// One record of a message, as [`walk_records`] finds it.
struct Walked {
    /// Where the record starts (its owner name).
    start: usize,
    /// 0 for the answer section, 1 for authority, 2 for additional.
    section: usize,
    kind: RecordType,
    ttl: u32,
    /// Where its RDATA ends.
    end: usize,
}

/// Calls `each` with every record of `message` in order; `false` (after some calls, maybe)
/// when the message cannot be walked to exactly its end.
fn walk_records(message: &[u8], mut each: impl FnMut(Walked)) -> bool {
    let mut walk = || {
        let count = |at| read_u16(message, at).map(usize::from);
        let mut at = 12;
        for _ in 0..count(4)? {
            at = skip_name(message, at)? + 4;
        }
        for (section, counted_at) in [6, 8, 10].into_iter().enumerate() {
            for _ in 0..count(counted_at)? {
                let start = at;
                let owner_end = skip_name(message, at)?;
                let kind = RecordType::from(read_u16(message, owner_end)?);
                let ttl = read::read_u32(message, owner_end + 4)?;
                let data = usize::from(read_u16(message, owner_end + 8)?);
                at = owner_end + 10 + data;
                each(Walked {
                    start,
                    section,
                    kind,
                    ttl,
                    end: at,
                });
            }
        }
        Some(at)
    };
    walk() == Some(message.len())
}

/// Where the last record of a response starts and what type it is, by one walk of the
/// message; `None` for a message without records or one that cannot be walked.
fn last_record(message: &[u8]) -> Option<(usize, RecordType)> {
    let mut last = None;
    let walked = walk_records(message, |record| last = Some((record.start, record.kind)));
    walked.then_some(last).flatten()
}

/// How long a response may be cached, in seconds, as DNS over HTTPS states it (RFC 8484
/// 5.1): the smallest TTL of its answer section; without answers, the time a negative answer
/// is kept (RFC 2308 5: the lesser of the authority SOA's TTL and its MINIMUM). `None` for a
/// response with neither, or one that cannot be walked.
pub(crate) fn freshness(response: &[u8]) -> Option<u32> {
    let mut answers: Option<u32> = None;
    let mut negative = None;
    let walked = walk_records(response, |record| match record.section {
        0 => answers = Some(answers.map_or(record.ttl, |least| least.min(record.ttl))),
        1 if record.kind == RecordType::SOA => {
            // MINIMUM is the SOA data's last field.
            let minimum = record
                .end
                .checked_sub(4)
                .and_then(|at| read::read_u32(response, at));
            negative = minimum.map(|minimum| minimum.min(record.ttl));
        }
        _ => {}
    });
    walked.then_some(answers.or(negative)).flatten()
}

/// Pads `response` with an EDNS Padding option (RFC 7830) so that its length is a multiple
/// of [`PADDING_BLOCK`], when its last record is its OPT record: a signed response (TSIG
/// last) is left as it is, since padding after signing would break the signature. Returns
/// whether it padded.
pub(crate) fn pad_response(response: &mut Vec<u8>) -> bool {
    let Some((start, RecordType::OPT)) = last_record(response) else {
        return false;
    };
    let length_at = start + 1 + 8;
    let (Some(old), true) = (read_u16(response, length_at), response[start] == 0) else {
        return false;
    };
    let with_header = response.len() + 4;
    let fill = (PADDING_BLOCK - with_header % PADDING_BLOCK) % PADDING_BLOCK;
    let (Ok(new), Ok(fill16)) = (
        u16::try_from(usize::from(old) + 4 + fill),
        u16::try_from(fill),
    ) else {
        return false;
    };
    if with_header + fill > usize::from(u16::MAX) {
        return false;
    }
    response[length_at..length_at + 2].copy_from_slice(&new.to_be_bytes());
    response.extend_from_slice(&u16::from(option::PADDING).to_be_bytes());
    response.extend_from_slice(&fill16.to_be_bytes());
    response.resize(response.len() + fill, 0);
    true
}
