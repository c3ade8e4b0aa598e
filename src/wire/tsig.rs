//! The TSIG record (RFC 8945 4.2) on the wire: reading a request's, writing portsd's, and the
//! bytes a request's MAC covers.
//!
//! Written by hand rather than through hickory's `TSigner` and `signed_bitmessage_to_buf`:
//! those parse the whole message (twice, in the check of a request), while the pipeline has
//! already read it once into its [`Request`] view; and a transfer's later messages are signed
//! over the previous MAC, which hickory's response context does not do. The tests hold the
//! bytes covered and the records written against hickory's own.

use super::read::{read_name_lowercase, read_u16, read_u32};
use super::request::Request;
use super::types::{DNSClass, RecordType};

/// The class of a TSIG record, as 16 bits.
fn class_any() -> [u8; 2] {
    u16::from(DNSClass::ANY).to_be_bytes()
}

/// A request's TSIG record, read.
#[derive(Debug)]
pub(crate) struct TsigRecord<'p> {
    /// The key's name, lower-case wire form.
    pub(crate) key_name: Vec<u8>,
    /// The algorithm's name, lower-case wire form.
    pub(crate) algorithm: Vec<u8>,
    /// Time signed, seconds since the epoch (48 bits).
    pub(crate) time: u64,
    /// Seconds of skew the signer allows.
    pub(crate) fudge: u16,
    /// The MAC.
    pub(crate) mac: &'p [u8],
    /// The message's ID when it was signed.
    pub(crate) original_id: u16,
    /// The TSIG error field.
    pub(crate) error: u16,
    /// Other data.
    pub(crate) other: &'p [u8],
}

impl<'p> TsigRecord<'p> {
    /// Reads the TSIG record the view found; `None` when it is malformed.
    pub(crate) fn read(request: &Request<'p>) -> Option<TsigRecord<'p>> {
        let bytes = request.bytes;
        let mut key_name = Vec::new();
        let fixed = read_name_lowercase(bytes, request.tsig?, &mut key_name)?;
        if RecordType::from(read_u16(bytes, fixed)?) != RecordType::TSIG {
            return None;
        }
        let length = usize::from(read_u16(bytes, fixed + 8)?);
        let rdata = bytes.get(fixed + 10..fixed + 10 + length)?;
        let mut algorithm = Vec::new();
        // The algorithm's name is never compressed (RFC 8945 4.2); offsets are the RDATA's.
        let at = read_name_lowercase(rdata, 0, &mut algorithm)?;
        let time = u64::from(read_u16(rdata, at)?) << 32 | u64::from(read_u32(rdata, at + 2)?);
        let fudge = read_u16(rdata, at + 6)?;
        let mac_len = usize::from(read_u16(rdata, at + 8)?);
        let mac = rdata.get(at + 10..at + 10 + mac_len)?;
        let at = at + 10 + mac_len;
        let other_len = usize::from(read_u16(rdata, at + 4)?);
        let other = rdata.get(at + 6..at + 6 + other_len)?;
        if at + 6 + other_len != rdata.len() {
            return None;
        }
        Some(TsigRecord {
            key_name,
            algorithm,
            time,
            fudge,
            mac,
            original_id: read_u16(rdata, at)?,
            error: read_u16(rdata, at + 2)?,
            other,
        })
    }

    /// The bytes a request's MAC covers (RFC 8945 4.3.3): the message as the client signed it
    /// (original ID, the TSIG record left out of the count and the message), then the TSIG
    /// variables.
    pub(crate) fn covered(&self, request: &Request<'_>) -> Vec<u8> {
        let bytes = request.bytes;
        let end = request.tsig.unwrap_or(bytes.len());
        let mut covered = Vec::with_capacity(end + 64);
        covered.extend_from_slice(&self.original_id.to_be_bytes());
        covered.extend_from_slice(&bytes[2..10]);
        covered.extend_from_slice(&request.counts[3].saturating_sub(1).to_be_bytes());
        covered.extend_from_slice(&bytes[12..end]);
        variables(
            &mut covered,
            &self.key_name,
            &self.algorithm,
            &time48(self.time),
            self.fudge,
            self.error,
            self.other,
        );
        covered
    }
}

/// Appends the TSIG variables a first message's MAC covers (RFC 8945 4.3.3).
pub(crate) fn variables(
    out: &mut Vec<u8>,
    key_name: &[u8],
    algorithm: &[u8],
    time: &[u8; 6],
    fudge: u16,
    error: u16,
    other: &[u8],
) {
    out.extend_from_slice(key_name);
    out.extend_from_slice(&class_any());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(algorithm);
    out.extend_from_slice(time);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
}

/// A time as TSIG carries it: 48 bits, network order.
pub(crate) fn time48(now: u64) -> [u8; 6] {
    let bytes = now.to_be_bytes();
    [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// The bytes of a TSIG RDATA: algorithm name, time (6), fudge, MAC size, MAC, original ID,
/// error, other length and other data.
pub(crate) fn rdata_len(algorithm_len: usize, mac_len: usize, other_len: usize) -> usize {
    algorithm_len + 6 + 2 + 2 + mac_len + 2 + 2 + 2 + other_len
}

/// The fields of a TSIG record portsd writes.
pub(crate) struct Fields<'a> {
    /// The key's name, wire form.
    pub(crate) key_name: &'a [u8],
    /// The algorithm's name, wire form.
    pub(crate) algorithm: &'a [u8],
    /// Time signed.
    pub(crate) time: [u8; 6],
    /// Allowed skew.
    pub(crate) fudge: u16,
    /// The MAC (empty on BADKEY and BADSIG answers).
    pub(crate) mac: &'a [u8],
    /// The request's original ID.
    pub(crate) original_id: u16,
    /// The TSIG error.
    pub(crate) error: u16,
    /// Other data (the server's time on BADTIME).
    pub(crate) other: &'a [u8],
}

/// Appends a TSIG record to `message` and counts it in ARCOUNT.
pub(crate) fn append(message: &mut Vec<u8>, fields: &Fields<'_>) {
    message.extend_from_slice(fields.key_name);
    message.extend_from_slice(&u16::from(RecordType::TSIG).to_be_bytes());
    message.extend_from_slice(&class_any());
    message.extend_from_slice(&0u32.to_be_bytes());
    let length = rdata_len(fields.algorithm.len(), fields.mac.len(), fields.other.len());
    message.extend_from_slice(&(length as u16).to_be_bytes());
    message.extend_from_slice(fields.algorithm);
    message.extend_from_slice(&fields.time);
    message.extend_from_slice(&fields.fudge.to_be_bytes());
    message.extend_from_slice(&(fields.mac.len() as u16).to_be_bytes());
    message.extend_from_slice(fields.mac);
    message.extend_from_slice(&fields.original_id.to_be_bytes());
    message.extend_from_slice(&fields.error.to_be_bytes());
    message.extend_from_slice(&(fields.other.len() as u16).to_be_bytes());
    message.extend_from_slice(fields.other);
    if message.len() >= 12 {
        let count = u16::from_be_bytes([message[10], message[11]]).saturating_add(1);
        message[10..12].copy_from_slice(&count.to_be_bytes());
    }
}
