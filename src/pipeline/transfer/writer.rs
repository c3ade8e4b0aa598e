//! The bytes of a transfer message: RDATA written uncompressed, and a message filled record
//! by record with owner names compressed against those already in it.

use std::collections::HashMap;

use smallvec::SmallVec;

use crate::core::answer::{CLASS_IN, Rdata, SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Zone};

/// Writes a record's RDATA uncompressed (the SOA's and NS's names included: they are two
/// records per transfer).
pub(super) fn write_rdata(zone: &Zone, data: &Rdata<'_>, out: &mut Vec<u8>) {
    let name = |labels: &[Box<[u8]>], out: &mut Vec<u8>| {
        for label in labels {
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        out.push(0);
    };
    match data {
        Rdata::Txt(_) | Rdata::Unassigned(_) => data.append_txt(out),
        Rdata::Soa(serial) => {
            name(&zone.ns_name, out);
            name(&zone.rname, out);
            for value in [*serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, zone.ttl] {
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        Rdata::Ns => name(&zone.ns_name, out),
        Rdata::Address(std::net::IpAddr::V4(ip)) => out.extend_from_slice(&ip.octets()),
        Rdata::Address(std::net::IpAddr::V6(ip)) => out.extend_from_slice(&ip.octets()),
    }
}

/// Fills one message: header, the question on the first message, records with their owner
/// names compressed against the names already in the message.
pub(super) struct MessageWriter<'o> {
    out: &'o mut Vec<u8>,
    records: u16,
    /// Wire form of every name suffix written so far (lower-case, as the zone's names are),
    /// to the offset it starts at.
    suffixes: &'o mut HashMap<Box<[u8]>, u16>,
}

impl<'o> MessageWriter<'o> {
    pub(super) fn begin(
        out: &'o mut Vec<u8>,
        suffixes: &'o mut HashMap<Box<[u8]>, u16>,
        header: &Header,
        question: Option<&[u8]>,
    ) -> MessageWriter<'o> {
        out.clear();
        suffixes.clear();
        out.extend_from_slice(&header.id.to_be_bytes());
        out.extend_from_slice(&header.flags.to_be_bytes());
        out.extend_from_slice(&u16::from(question.is_some()).to_be_bytes());
        out.extend_from_slice(&[0; 6]);
        if let Some(question) = question {
            out.extend_from_slice(question);
        }
        MessageWriter {
            out,
            records: 0,
            suffixes,
        }
    }

    /// Writes one record unless the message would grow past `limit` (a message always takes
    /// its first record). Returns whether it was written.
    pub(super) fn record(
        &mut self,
        owner: &[&[u8]],
        rtype: u16,
        rdata: &[u8],
        ttl: u32,
        limit: usize,
    ) -> bool {
        let name_bytes: usize = owner.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        if self.records > 0 && self.out.len() + name_bytes + 10 + rdata.len() > limit {
            return false;
        }
        let mut wire: SmallVec<[u8; 256]> = SmallVec::new();
        let mut starts: SmallVec<[usize; 8]> = SmallVec::new();
        for label in owner {
            starts.push(wire.len());
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        let base = self.out.len();
        let mut pointer = None;
        for (i, &start) in starts.iter().enumerate() {
            if let Some(&offset) = self.suffixes.get(&wire[start..]) {
                pointer = Some((i, offset));
                break;
            }
        }
        let written = pointer.map_or(wire.len(), |(i, _)| starts[i]);
        self.out.extend_from_slice(&wire[..written]);
        for &start in starts.iter().take_while(|&&s| s < written) {
            let offset = base + start;
            if offset < 0x3FFF {
                self.suffixes
                    .insert(wire[start..].to_vec().into_boxed_slice(), offset as u16);
            }
        }
        match pointer {
            Some((_, offset)) => self.out.extend_from_slice(&(0xC000 | offset).to_be_bytes()),
            None => self.out.push(0),
        }
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        self.out
            .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.out.extend_from_slice(rdata);
        self.records += 1;
        true
    }

    pub(super) fn finish(self) {
        self.out[6..8].copy_from_slice(&self.records.to_be_bytes());
    }
}

/// The header facts every message of a transfer repeats.
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    pub(super) id: u16,
    pub(super) flags: u16,
}
