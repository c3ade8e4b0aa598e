//! The message header (RFC 1035 4.1.1): ID, flag bits, opcode and response code, read and
//! written here and nowhere else. The opcode and the response code are hickory's types, the
//! stack's vocabulary; a response code above 15 keeps its upper bits in the OPT record (RFC 6891
//! 6.1.3), which [`super::response::write_opt`] writes.

use std::ops::BitOr;

pub(crate) use hickory_proto::op::{OpCode, ResponseCode};

use super::read::read_u16;

/// The header's flag bits: everything in its second 16 bits but the opcode and the response
/// code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

impl Flags {
    /// No flag.
    pub(crate) const NONE: Flags = Flags(0);
    /// A response (QR).
    pub(crate) const QR: Flags = Flags(0x8000);
    /// Authoritative answer.
    pub(crate) const AA: Flags = Flags(0x0400);
    /// Truncated.
    pub(crate) const TC: Flags = Flags(0x0200);
    /// Recursion desired.
    pub(crate) const RD: Flags = Flags(0x0100);
    /// Recursion available.
    pub(crate) const RA: Flags = Flags(0x0080);
    /// The last reserved bit (must be zero).
    pub(crate) const Z: Flags = Flags(0x0040);
    /// Authentic data (RFC 4035).
    pub(crate) const AD: Flags = Flags(0x0020);
    /// Checking disabled (RFC 4035).
    pub(crate) const CD: Flags = Flags(0x0010);
    /// Every flag bit.
    const ALL: u16 = Self::QR.0
        | Self::AA.0
        | Self::TC.0
        | Self::RD.0
        | Self::RA.0
        | Self::Z.0
        | Self::AD.0
        | Self::CD.0;

    /// Whether every flag of `other` is set.
    #[inline]
    pub(crate) fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags less `other`'s.
    #[inline]
    pub(crate) fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    /// These flags and `other`'s when `on`.
    #[inline]
    pub(crate) fn with_if(self, other: Flags, on: bool) -> Flags {
        if on { self | other } else { self }
    }
}

impl BitOr for Flags {
    type Output = Flags;

    #[inline]
    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

const OPCODE_SHIFT: u16 = 11;
const OPCODE_BITS: u16 = 0x0F;
const RCODE_BITS: u16 = 0x0F;

/// A header without its counts (a writer counts as it goes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The message ID.
    pub(crate) id: u16,
    /// The opcode.
    pub(crate) opcode: OpCode,
    /// The flag bits.
    pub(crate) flags: Flags,
    /// The response code: its low four bits in the header, the rest in the OPT record.
    pub(crate) rcode: ResponseCode,
}

impl Header {
    /// A header of `id`, `opcode`, `flags` and NOERROR.
    #[inline]
    pub(crate) fn new(id: u16, opcode: OpCode, flags: Flags) -> Header {
        Header {
            id,
            opcode,
            flags,
            rcode: ResponseCode::NoError,
        }
    }

    /// The header at the start of `message` and its four counts (QD, AN, NS, AR); the
    /// response code's low bits only.
    #[inline]
    pub(crate) fn from_message(message: &[u8]) -> Option<(Header, [u16; 4])> {
        let word = read_u16(message, 2)?;
        let header = Header {
            id: read_u16(message, 0)?,
            opcode: OpCode::from_u8(((word >> OPCODE_SHIFT) & OPCODE_BITS) as u8),
            flags: Flags(word & Flags::ALL),
            rcode: ResponseCode::from_low((word & RCODE_BITS) as u8),
        };
        let counts = [4, 6, 8, 10].map(|at| read_u16(message, at));
        let [Some(qd), Some(an), Some(ns), Some(ar)] = counts else {
            return None;
        };
        Some((header, [qd, an, ns, ar]))
    }

    /// The response to a request with this header, before AA, TC and the response code: QR,
    /// the ID and the opcode, with RD and CD copied (RFC 1035 4.1.1, RFC 4035 3.1.6).
    #[inline]
    pub(crate) fn response(self) -> Header {
        let copied = self.flags.0 & (Flags::RD.0 | Flags::CD.0);
        Header::new(self.id, self.opcode, Flags::QR | Flags(copied))
    }

    /// This header with `flags` set too.
    #[inline]
    pub(crate) fn with(self, flags: Flags) -> Header {
        Header {
            flags: self.flags | flags,
            ..self
        }
    }

    /// This header with `flags` cleared.
    #[inline]
    pub(crate) fn without(self, flags: Flags) -> Header {
        Header {
            flags: self.flags.without(flags),
            ..self
        }
    }

    /// This header with response code `rcode`.
    #[inline]
    pub(crate) fn rcode(self, rcode: ResponseCode) -> Header {
        Header { rcode, ..self }
    }

    /// The header's second 16 bits: flags, opcode and the response code's low four bits.
    #[inline]
    fn word(self) -> u16 {
        self.flags.0
            | (u16::from(u8::from(self.opcode)) & OPCODE_BITS) << OPCODE_SHIFT
            | u16::from(self.rcode.low())
    }

    /// Writes the header with `counts` (QD, AN, NS, AR) at the end of `out`.
    #[inline]
    pub(crate) fn write(self, counts: [u16; 4], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.word().to_be_bytes());
        for count in counts {
            out.extend_from_slice(&count.to_be_bytes());
        }
    }
}

/// Sets `flags` in the header at the start of `message`; nothing for a message shorter than a
/// header.
pub(crate) fn set_flags(message: &mut [u8], flags: Flags) {
    if let Some(word) = read_u16(message, 2).filter(|_| message.len() >= 12) {
        message[2..4].copy_from_slice(&(word | flags.0).to_be_bytes());
    }
}

/// Writes `count` as the header's count of section `section` (0: questions, 1: answers,
/// 2: authority, 3: additional) of `message`, which holds at least a header.
pub(crate) fn set_count(message: &mut [u8], section: usize, count: u16) {
    let at = 4 + 2 * section;
    message[at..at + 2].copy_from_slice(&count.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

    use super::*;

    #[test]
    fn headers_read_back_as_written_and_as_hickory_reads_them() {
        let flags = Flags::QR | Flags::AA | Flags::CD;
        let header = Header::new(0x1234, OpCode::Unknown(15), flags).rcode(ResponseCode::NotImp);
        let mut out = Vec::new();
        header.write([1, 2, 3, 4], &mut out);
        assert_eq!(Header::from_message(&out), Some((header, [1, 2, 3, 4])));
        let hickory = hickory_proto::op::Header::read(&mut BinDecoder::new(&out)).unwrap();
        assert_eq!(hickory.metadata.op_code, OpCode::Unknown(15));
        assert!(hickory.metadata.authoritative && hickory.metadata.checking_disabled);
        assert!(!hickory.metadata.recursion_desired);
        assert_eq!(hickory.metadata.response_code, ResponseCode::NotImp);
    }

    #[test]
    fn a_response_copies_rd_and_cd_only() {
        let every = Flags(Flags::ALL).without(Flags::QR);
        let request = Header::new(7, OpCode::Query, every);
        assert_eq!(request.response().flags, Flags::QR | Flags::RD | Flags::CD);
        let mut message = vec![0; 12];
        set_flags(&mut message, Flags::TC);
        assert_eq!(Header::from_message(&message).unwrap().0.flags, Flags::TC);
    }
}
