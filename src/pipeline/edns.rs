//! EDNS options (RFC 6891) for the general path: the request as hickory should parse it.
//!
//! An option portsd does not implement is ignored, however malformed its contents (RFC 6891
//! 6.1.2), as NSD and Knot do. hickory's parser rejects the whole message over some of them (a
//! Client Subnet option with an impossible prefix length or family, say), which would turn a
//! good query into FORMERR without OPT; so every option is taken out of the copy hickory
//! reads. The options portsd implements were already noted by the request's view
//! ([`crate::wire::request::Options`]): NSID (RFC 5001), whose content means nothing in a
//! query, and COOKIE (RFC 7873), which [`super::cookie`] checks (hickory would reject some
//! malformed cookies before RFC 7873's FORMERR could be given).

use crate::wire::Request;

/// The request as the general path should parse it: every option taken out. Options whose
/// lengths do not add up are left for hickory, which drops them all.
pub(crate) fn prepare(request: &Request<'_>) -> Vec<u8> {
    let bytes = request.bytes;
    match &request.opt {
        Some(opt) if opt.options.well_formed && !opt.rdata.is_empty() => {
            let mut prepared = Vec::with_capacity(bytes.len());
            prepared.extend_from_slice(&bytes[..opt.fixed + 8]);
            prepared.extend_from_slice(&[0, 0]);
            prepared.extend_from_slice(&bytes[opt.rdata.end..]);
            prepared
        }
        _ => bytes.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `a.b` TXT with an OPT record holding `options`, then a trailing record.
    fn query(options: &[u8], version: u8) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 2];
        p.extend_from_slice(b"\x01a\x01b\x00\x00\x10\x00\x01");
        p.push(0);
        p.extend_from_slice(&u16::from(crate::wire::RecordType::OPT).to_be_bytes());
        p.extend_from_slice(&[0x04, 0xd0, 0, version, 0, 0]);
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
        let view = Request::read(&request).unwrap();
        let prepared = prepare(&view);
        let requested = &view.opt.as_ref().unwrap().options;
        assert!(requested.nsid);
        let cookie_at = requested.cookie.clone().expect("the first cookie is noted");
        assert_eq!(request[cookie_at], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(prepared, query(&[], 0));
        assert!(hickory_server::proto::op::Message::from_vec(&prepared).is_ok());
    }

    #[test]
    fn requests_without_options_to_remove_are_unchanged() {
        for options in [&[][..], &[0, 8, 0, 9, 1]] {
            let request = query(options, 1);
            let view = Request::read(&request).unwrap();
            assert_eq!(prepare(&view), request);
            let requested = &view.opt.as_ref().unwrap().options;
            assert!(!requested.nsid && requested.cookie.is_none());
        }
        let no_opt = &query(&[], 0)[..12 + 9];
        assert_eq!(prepare(&Request::read(no_opt).unwrap()), no_opt);
    }

    #[test]
    fn the_opt_record_is_found_behind_other_records() {
        let request = query(&[0, 15, 0, 2, 0, 20], 1);
        let view = Request::read(&request).unwrap();
        let opt = view.opt.unwrap();
        assert_eq!(opt.fixed, 12 + 9 + 1);
        assert_eq!(&request[opt.rdata.clone()], &[0, 15, 0, 2, 0, 20]);
        assert_eq!((opt.extended_rcode, opt.version), (0, 1));
        assert_eq!(
            Request::read(&request[..30]).unwrap().opt,
            None,
            "cut short"
        );
    }
}
