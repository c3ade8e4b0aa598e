//! EDNS options (RFC 6891) on the wire: which options of a request portsd reads, the request
//! as the general path parses it, and where a message's OPT record sits.
//!
//! An option portsd does not implement is ignored, however malformed its contents (RFC 6891
//! 6.1.2), as NSD and Knot do. hickory's parser rejects the whole message over some of them (a
//! Client Subnet option with an impossible prefix length or family, say), which would turn a
//! good query into FORMERR without OPT; so those options are taken out of the copy hickory
//! reads. The two options portsd implements are noted and removed too: NSID (RFC 5001), whose
//! content means nothing in a query, and COOKIE (RFC 7873), which [`super::cookie`] checks
//! (hickory would reject some malformed cookies before RFC 7873's FORMERR could be given).

use std::ops::Range;

/// The NSID option code (RFC 5001).
pub(crate) const NSID: u16 = 3;
/// The COOKIE option code (RFC 7873).
pub(crate) const COOKIE: u16 = 10;
/// The Extended DNS Error option code (RFC 8914).
pub(crate) const EXTENDED_ERROR: u16 = 15;

/// What a request's OPT record asks of the response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Requested {
    /// The NSID option was present (RFC 5001 asks for it empty; its content is not read).
    pub(crate) nsid: bool,
    /// Where the first COOKIE option's data is in the request.
    pub(crate) cookie: Option<Range<usize>>,
}

fn read_u16(message: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *message.get(at)?,
        *message.get(at + 1)?,
    ]))
}

/// The offset just after the name starting at `at` (a pointer ends it).
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match *message.get(at)? {
            0 => return Some(at + 1),
            len @ 1..=63 => at += 1 + usize::from(len),
            0xC0..=0xFF => return Some(at + 2),
            _ => return None,
        }
    }
}

/// Where a message's OPT record is: the offset of its TYPE field and its RDATA's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OptRecord {
    /// Offset of the record's TYPE; CLASS (the payload size) follows, then TTL and RDLENGTH.
    pub(crate) fixed: usize,
    /// The options.
    pub(crate) rdata: Range<usize>,
}

impl OptRecord {
    /// The upper eight bits of the extended RCODE.
    pub(crate) fn extended_rcode(&self, message: &[u8]) -> u8 {
        message[self.fixed + 4]
    }
}

/// Finds the first OPT record of a message; `None` when it has none or is cut short.
pub(crate) fn find_opt(message: &[u8]) -> Option<OptRecord> {
    let count = |at| read_u16(message, at).map(usize::from);
    let (questions, records) = (count(4)?, count(6)? + count(8)? + count(10)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(message, at)? + 4;
    }
    for _ in 0..records {
        let fixed = skip_name(message, at)?;
        let length = usize::from(read_u16(message, fixed + 8)?);
        let rdata = fixed + 10..fixed + 10 + length;
        if rdata.end > message.len() {
            return None;
        }
        if read_u16(message, fixed)? == crate::core::zone::rtype::OPT {
            return Some(OptRecord { fixed, rdata });
        }
        at = rdata.end;
    }
    None
}

/// The request as the general path should parse it, with what its OPT record asks for: every
/// option taken out. Options whose lengths do not add up are left for hickory,
/// which drops them all.
pub(crate) fn prepare(request: &[u8]) -> (Vec<u8>, Requested) {
    let Some(opt) = find_opt(request) else {
        return (request.to_vec(), Requested::default());
    };
    let mut requested = Requested::default();
    let mut at = opt.rdata.start;
    while at < opt.rdata.end {
        let (Some(code), Some(length)) = (read_u16(request, at), read_u16(request, at + 2)) else {
            return (request.to_vec(), requested);
        };
        let end = at + 4 + usize::from(length);
        if end > opt.rdata.end {
            return (request.to_vec(), requested);
        }
        match code {
            NSID => requested.nsid = true,
            COOKIE if requested.cookie.is_none() => requested.cookie = Some(at + 4..end),
            _ => {}
        }
        at = end;
    }
    if opt.rdata.is_empty() {
        return (request.to_vec(), requested);
    }
    let mut prepared = Vec::with_capacity(request.len());
    prepared.extend_from_slice(&request[..opt.fixed + 8]);
    prepared.extend_from_slice(&[0, 0]);
    prepared.extend_from_slice(&request[opt.rdata.end..]);
    (prepared, requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `a.b` TXT with an OPT record holding `options`, then a trailing record.
    fn query(options: &[u8], version: u8) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 2];
        p.extend_from_slice(b"\x01a\x01b\x00\x00\x10\x00\x01");
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, version, 0, 0]);
        p.extend_from_slice(&(options.len() as u16).to_be_bytes());
        p.extend_from_slice(options);
        // A second record after the OPT (where a TSIG record would be).
        p.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x00\x00\x01\x00");
        p
    }

    #[test]
    fn options_are_removed_and_the_implemented_ones_noted() {
        let subnet = [0, 8, 0, 4, 0, 1, 33, 0];
        let nsid = [0, 3, 0, 0];
        let cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        let short_cookie = [0, 10, 0, 1, 9];
        let options = [&subnet[..], &nsid, &cookie, &short_cookie].concat();
        let request = query(&options, 0);
        let (prepared, requested) = prepare(&request);
        assert!(requested.nsid);
        let cookie_at = requested.cookie.expect("the first cookie is noted");
        assert_eq!(request[cookie_at], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(prepared, query(&[], 0));
        assert!(hickory_server::proto::op::Message::from_vec(&prepared).is_ok());
    }

    #[test]
    fn requests_without_options_to_remove_are_unchanged() {
        for options in [&[][..], &[0, 8, 0, 9, 1]] {
            let request = query(options, 1);
            assert_eq!(prepare(&request), (request.clone(), Requested::default()));
        }
        let no_opt = &query(&[], 0)[..12 + 9];
        assert_eq!(prepare(no_opt).0, no_opt);
    }

    #[test]
    fn the_opt_record_is_found_behind_other_records() {
        let request = query(&[0, 15, 0, 2, 0, 20], 1);
        let opt = find_opt(&request).unwrap();
        assert_eq!(opt.fixed, 12 + 9 + 1);
        assert_eq!(&request[opt.rdata.clone()], &[0, 15, 0, 2, 0, 20]);
        assert_eq!(opt.extended_rcode(&request), 0);
        assert_eq!(find_opt(&request[..30]), None, "cut short");
    }
}
