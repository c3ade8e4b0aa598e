//! A zone transfer's message: records added one by one through the one writer
//! ([`super::compress::Writer`]) until the next would pass the message's limit, its answer
//! count kept, and the OPT record at the end. The catalog zone's answers are written with it
//! too, their negative answers' SOA in the authority section ([`TransferMessage::authority`]).

use super::compress::Writer;
use super::header::{self, Header, ResponseCode};
use super::response::{Opt, write_opt};
use super::types::RecordType;
use super::{Names, write_record_data, write_record_raw};
use crate::core::answer::Rdata;
use crate::core::zone::Zone;

/// One message of a transfer being filled.
pub(crate) struct TransferMessage<'o> {
    writer: Writer<'o>,
    /// Records in the answer and authority sections.
    records: [u16; 2],
    /// The section records go to: 0 the answer, 1 the authority.
    section: usize,
}

impl<'o> TransferMessage<'o> {
    /// Begins a message in `out` within `limit` bytes: `header`, and `question` (name, type
    /// and class as received) when given.
    pub(crate) fn begin(
        out: &'o mut Vec<u8>,
        header: Header,
        question: Option<&[u8]>,
        limit: usize,
    ) -> TransferMessage<'o> {
        let questions = u16::from(question.is_some());
        let counts = [questions, 0, 0, 0];
        let writer = Writer::begin(out, header, counts, question.unwrap_or_default(), limit);
        TransferMessage {
            writer,
            records: [0; 2],
            section: 0,
        }
    }

    /// Adds a record of the zone owned by `owner` (wire form,
    /// [`crate::core::contents::OwnerName::wire`]) when it fits; returns whether it did.
    pub(crate) fn record(&mut self, owner: &[u8], zone: &Zone, data: &Rdata<'_>) -> bool {
        self.add(owner, |writer| write_record_data(writer, zone, data))
    }

    /// Adds a record whose RDATA is already encoded (a journal's) when it fits.
    pub(crate) fn raw(&mut self, owner: &[u8], rtype: RecordType, ttl: u32, rdata: &[u8]) -> bool {
        self.add(owner, |writer| {
            write_record_raw(writer.out(), rtype, ttl, rdata);
        })
    }

    fn add(&mut self, owner: &[u8], rest: impl FnOnce(&mut Writer<'o>)) -> bool {
        let first = self.records == [0; 2];
        let written = self.writer.record_within(first, |writer| {
            writer.name_wire(owner);
            rest(writer);
        });
        self.records[self.section] += u16::from(written);
        written
    }

    /// Records added from now on go to the authority section.
    pub(crate) fn authority(&mut self) {
        self.section = 1;
    }

    /// Whether the message, at its longest, is within its limit (the first record is taken
    /// even when it is not).
    pub(crate) fn fits(&self) -> bool {
        self.writer.fits()
    }

    /// Ends the message: its answer and authority counts, and an OPT record (the response's EDNS) in the
    /// additional section when one is given.
    pub(crate) fn finish(mut self, opt: Option<&Opt<'_>>) {
        let records = self.records;
        if let Some(opt) = opt {
            write_opt(&mut self.writer, ResponseCode::NoError, opt, None);
        }
        let out = self.writer.out();
        header::set_count(out, 1, records[0]);
        header::set_count(out, 2, records[1]);
        header::set_count(out, 3, u16::from(opt.is_some()));
    }
}

#[cfg(test)]
mod tests {
    use hickory_server::proto::op::Message;

    use super::*;
    use crate::wire::header::{Flags, OpCode};

    fn header() -> Header {
        Header::new(7, OpCode::Query, Flags::QR | Flags::AA)
    }

    /// The owners of a message, as hickory reads them.
    fn owners(out: &[u8]) -> Vec<String> {
        let message = Message::from_vec(out).expect("hickory reads the message");
        message.answers.iter().map(|r| r.name.to_string()).collect()
    }

    /// Owners point to the longest suffix already written; a record taken out for want of
    /// room leaves no pointer behind into what it wrote.
    #[test]
    fn owners_are_compressed_and_a_record_that_does_not_fit_leaves_nothing() {
        let mut out = Vec::new();
        let mut message = TransferMessage::begin(&mut out, header(), None, 120);
        let mut sizes = Vec::new();
        let mut add = |message: &mut TransferMessage<'_>, owner: &[u8], rdata: &[u8]| {
            let before = message.writer.out().len();
            let written = message.raw(owner, RecordType::TXT, 60, rdata);
            sizes.push(message.writer.out().len() - before);
            written
        };
        let one = b"\x011\x03tcp\x05ports\x04test";
        assert!(add(&mut message, one, b"\x01x"));
        assert!(add(&mut message, one, b"\x01x"));
        assert!(add(
            &mut message,
            b"\x012\x03tcp\x05ports\x04test",
            b"\x01x"
        ));
        assert!(add(&mut message, b"\x05https\x05ports\x04test", b"\x01x"));
        let long = [b'x'; 40];
        assert!(
            !add(&mut message, b"\x013\x03udp\x05ports\x04test", &long),
            "too long for the message"
        );
        assert!(add(
            &mut message,
            b"\x014\x03udp\x05ports\x04test",
            b"\x01x"
        ));
        message.finish(None);
        // Name, then 10 fixed bytes and 2 of RDATA: the name whole (18), a pointer to it (2),
        // a label and a pointer (2 + 2), a label and a pointer (6 + 2), nothing, and two
        // labels and a pointer to `ports.test` (2 + 4 + 2), not to the `udp` taken out.
        assert_eq!(sizes, [30, 14, 16, 20, 0, 20]);
        let owners = owners(&out);
        assert_eq!(
            owners,
            [
                "1.tcp.ports.test.",
                "1.tcp.ports.test.",
                "2.tcp.ports.test.",
                "https.ports.test.",
                "4.udp.ports.test."
            ]
        );
    }

    /// Past the names searched one by one (40 owners make far more targets than that), the
    /// index finds them; a record taken out takes its names out of the index too.
    #[test]
    fn many_owners_are_found_through_the_index_and_taken_out_of_it() {
        let owner =
            |label: &str| [&[label.len() as u8], label.as_bytes(), b"\x05ports\x04test"].concat();
        let mut out = Vec::new();
        let mut message = TransferMessage::begin(&mut out, header(), None, 1000);
        let add = |message: &mut TransferMessage<'_>, owner: &[u8], rdata: &[u8]| {
            let before = message.writer.out().len();
            let written = message.raw(owner, RecordType::TXT, 60, rdata);
            written.then(|| message.writer.out().len() - before)
        };
        let mut names = Vec::new();
        for n in 0..40 {
            names.push(format!("p{n}.ports.test."));
            let size = add(&mut message, &owner(&format!("p{n}")), b"\x01x");
            assert!(size.is_some(), "{n}");
        }
        assert_eq!(
            add(&mut message, &owner("p3"), b"\x01x"),
            Some(2 + 12),
            "a pointer"
        );
        names.push("p3.ports.test.".into());
        let taken_out = [b"\x01x\x03big" as &[u8], b"\x05ports\x04test"].concat();
        assert_eq!(add(&mut message, &taken_out, &[0; 600]), None, "too long");
        let after = [b"\x01y\x03big" as &[u8], b"\x05ports\x04test"].concat();
        assert_eq!(add(&mut message, &after, b"\x01x"), Some(2 + 4 + 2 + 12));
        names.push("y.big.ports.test.".into());
        message.finish(None);
        assert_eq!(owners(&out), names);
    }
}
