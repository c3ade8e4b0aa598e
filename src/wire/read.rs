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
/// EDNS option codes portsd reads or writes, as hickory's `EdnsCode` names them (Extended DNS
/// Error, which hickory 0.26 does not name, by its number).
pub(crate) mod option {
    use hickory_proto::rr::rdata::opt::EdnsCode;

    /// NSID (RFC 5001).
    pub(crate) const NSID: EdnsCode = EdnsCode::NSID;
    /// Client Subnet (RFC 7871).
    pub(crate) const CLIENT_SUBNET: EdnsCode = EdnsCode::Subnet;
    /// EDNS EXPIRE (RFC 7314).
    pub(crate) const EXPIRE: EdnsCode = EdnsCode::Expire;
    /// COOKIE (RFC 7873).
    pub(crate) const COOKIE: EdnsCode = EdnsCode::Cookie;
    /// Padding (RFC 7830).
    pub(crate) const PADDING: EdnsCode = EdnsCode::Padding;
    /// Extended DNS Error (RFC 8914).
    pub(crate) const EXTENDED_ERROR: EdnsCode = EdnsCode::Unknown(15);
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

/// What the byte at a position in a name starts (RFC 1035 4.1.4): the one reader of labels,
/// which every loop over a name's labels steps with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Piece<'p> {
    /// The root's zero octet: the name ends.
    Root,
    /// A label (1 to 63 octets).
    Label(&'p [u8]),
    /// A compression pointer to this offset: the name goes on there, and ends here.
    Pointer(usize),
}

/// The piece of a name at `at` in `message`; `None` when it runs past the end or uses the
/// reserved label types.
#[inline]
pub(crate) fn piece(message: &[u8], at: usize) -> Option<Piece<'_>> {
    match *message.get(at)? {
        0 => Some(Piece::Root),
        len @ 1..=63 => message
            .get(at + 1..at + 1 + usize::from(len))
            .map(Piece::Label),
        0xC0..=0xFF => read_u16(message, at).map(|word| Piece::Pointer(usize::from(word & 0x3FFF))),
        _ => None,
    }
}

/// The offset just after the name starting at `at` (a compression pointer ends it).
#[inline]
pub(crate) fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match piece(message, at)? {
            Piece::Root => return Some(at + 1),
            Piece::Label(label) => at += 1 + label.len(),
            Piece::Pointer(_) => return Some(at + 2),
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
        match piece(message, position)? {
            Piece::Root => {
                out.push(0);
                return Some(next.unwrap_or(position + 1));
            }
            Piece::Label(label) => {
                out.push(label.len() as u8);
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                if out.len() >= MAX_NAME {
                    return None;
                }
                position += 1 + label.len();
            }
            Piece::Pointer(target) => {
                if target >= position {
                    return None;
                }
                next.get_or_insert(position + 2);
                position = target;
            }
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
        let Piece::Label(label) = piece(self.rest, 0)? else {
            return None;
        };
        self.rest = &self.rest[1 + label.len()..];
        Some(label)
    }
}
