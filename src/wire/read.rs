//! Reading DNS wire format: numbers, names (compressed or not), and the constants that bound
//! them; what the request view and the TSIG record are read with.

/// The longest a name may be in wire form (RFC 1035 3.1).
pub(crate) const MAX_NAME: usize = 255;
/// The most labels a 255-octet name can have.
pub(crate) const MAX_LABELS: usize = 127;
/// The most labels a question's name may have for the view to keep them. Every name in the
/// zone has far fewer (a port, a protocol, a few zone labels); longer names take the general
/// path, which keeps the per-message label array small.
pub(crate) const FAST_PATH_LABELS: usize = 24;
/// EDNS option codes portsd reads or writes.
pub(crate) mod option {
    /// NSID (RFC 5001).
    pub(crate) const NSID: u16 = 3;
    /// Client Subnet (RFC 7871).
    pub(crate) const CLIENT_SUBNET: u16 = 8;
    /// EDNS EXPIRE (RFC 7314).
    pub(crate) const EXPIRE: u16 = 9;
    /// COOKIE (RFC 7873).
    pub(crate) const COOKIE: u16 = 10;
    /// Padding (RFC 7830).
    pub(crate) const PADDING: u16 = 12;
    /// Extended DNS Error (RFC 8914).
    pub(crate) const EXTENDED_ERROR: u16 = 15;
}

/// The 16 bits at `at`, network order.
#[inline]
pub(crate) fn read_u16(message: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *message.get(at)?,
        *message.get(at + 1)?,
    ]))
}

/// The 32 bits at `at`, network order.
#[inline]
pub(crate) fn read_u32(message: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        message.get(at..at + 4)?.try_into().ok()?,
    ))
}

/// The offset just after the name starting at `at` (a compression pointer ends it).
#[inline]
pub(crate) fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match *message.get(at)? {
            0 => return Some(at + 1),
            len @ 1..=63 => at += 1 + usize::from(len),
            0xC0..=0xFF => return read_u16(message, at).map(|_| at + 2),
            _ => return None,
        }
    }
}

/// The name starting at `at` in lower-case wire form, compression pointers followed (each must
/// lead backwards, so a loop cannot be), into `out`; returns the offset after the name.
pub(crate) fn read_name_lowercase(message: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
    out.clear();
    let mut next = None;
    let mut position = at;
    loop {
        let len = *message.get(position)?;
        match len {
            0 => {
                out.push(0);
                return Some(next.unwrap_or(position + 1));
            }
            1..=63 => {
                let label = message.get(position + 1..position + 1 + usize::from(len))?;
                out.push(len);
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                if out.len() >= MAX_NAME {
                    return None;
                }
                position += 1 + usize::from(len);
            }
            0xC0..=0xFF => {
                let target = usize::from(read_u16(message, position)? & 0x3FFF);
                if target >= position {
                    return None;
                }
                next.get_or_insert(position + 2);
                position = target;
            }
            _ => return None,
        }
    }
}

/// A name written without compression, read label by label.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Name<'p> {
    rest: &'p [u8],
}

impl<'p> Name<'p> {
    /// The name at the start of `bytes` (which may go on past its end).
    pub(crate) fn uncompressed(bytes: &'p [u8]) -> Name<'p> {
        Name { rest: bytes }
    }
}

impl<'p> Iterator for Name<'p> {
    type Item = &'p [u8];

    fn next(&mut self) -> Option<&'p [u8]> {
        let len = usize::from(*self.rest.first()?);
        if len == 0 || len > 63 {
            return None;
        }
        let label = self.rest.get(1..1 + len)?;
        self.rest = &self.rest[1 + len..];
        Some(label)
    }
}
