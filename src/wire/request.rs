//! A request read once: a borrowed view over the received bytes that every step of the
//! pipeline reads (the access list, the transfer policy, TSIG, cookies, NOTIFY, the fast path,
//! rate limiting, the metrics and the query log), so that no step scans the message again.
//!
//! [`Request::read`] walks the header, every question and every record once. It copies
//! nothing: names stay where they are, and the view keeps offsets into the message for what
//! later steps need (the first question's labels, the OPT record and the options portsd knows,
//! the TSIG record, the serial of the SOA an IXFR request carries).

use std::ops::Range;

use hickory_proto::rr::rdata::opt::EdnsCode;

use super::header::{Flags, Header, OpCode};
use super::read::{
    FAST_PATH_LABELS, MAX_NAME, Name, Piece, option, piece, read_name_lowercase, read_u16,
    read_u32, skip_name,
};
use super::types::{DNSClass, RecordType};

/// A request as read: the header, where its parts are, and whether it could be read to its end.
#[derive(Debug)]
pub(crate) struct Request<'p> {
    /// The message itself.
    pub(crate) bytes: &'p [u8],
    /// The header: ID, opcode, flags (the response code means nothing in a request).
    pub(crate) header: Header,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
    pub(crate) counts: [u16; 4],
    /// The first question, read in place; meaningful when `has_question`.
    first: Question<'p>,
    /// Every question of the section could be read and the first one's name is uncompressed.
    has_question: bool,
    /// The question section (every question), when it could be read and holds no compression
    /// pointer: what answers echo.
    pub(crate) questions: Option<Range<usize>>,
    /// The first OPT record.
    pub(crate) opt: Option<Opt>,
    /// Where the TSIG record starts, when the last record of the message is one.
    pub(crate) tsig: Option<usize>,
    /// The serial of the first SOA record of the authority section (an IXFR's client serial).
    pub(crate) authority_serial: Option<u32>,
    /// Every section was read to its end and nothing follows it.
    pub(crate) complete: bool,
}

/// A question whose name is written without compression, borrowing from the message.
#[derive(Debug)]
pub(crate) struct Question<'p> {
    /// Name, type and class as received (echoed byte for byte).
    pub(crate) bytes: &'p [u8],
    /// The name's first [`FAST_PATH_LABELS`] labels, leftmost first.
    labels: [&'p [u8]; FAST_PATH_LABELS],
    /// How many labels the name has (all of them, even beyond the array).
    label_count: usize,
    /// The query type.
    pub(crate) qtype: RecordType,
    /// The query class.
    pub(crate) qclass: DNSClass,
}

impl<'p> Question<'p> {
    /// Whether the name has at most [`FAST_PATH_LABELS`] labels.
    #[inline]
    pub(crate) fn has_few_labels(&self) -> bool {
        self.label_count <= FAST_PATH_LABELS
    }

    /// The name's labels, leftmost first, when there are at most [`FAST_PATH_LABELS`].
    #[inline]
    pub(crate) fn labels(&self) -> Option<&[&'p [u8]]> {
        self.has_few_labels()
            .then(|| &self.labels[..self.label_count])
    }

    /// The name's labels, however many there are.
    pub(crate) fn name(&self) -> Name<'p> {
        Name::uncompressed(self.bytes)
    }
}

/// The OPT record of a request (RFC 6891).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Opt {
    /// Offset of the record's TYPE field; CLASS (the payload size), TTL and RDLENGTH follow.
    pub(crate) fixed: usize,
    /// Whether the owner is the root, as RFC 6891 requires.
    pub(crate) root_owner: bool,
    /// The client's UDP payload size.
    pub(crate) payload: u16,
    /// The upper eight bits of the extended RCODE.
    pub(crate) extended_rcode: u8,
    /// The EDNS version.
    pub(crate) version: u8,
    /// The DNSSEC OK bit (RFC 3225).
    pub(crate) dnssec_ok: bool,
    /// The options' bytes.
    pub(crate) rdata: Range<usize>,
    /// What the options ask for.
    pub(crate) options: Options,
}

/// The EDNS options portsd reads, found by one walk of the OPT record's data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// The option lengths add up to the record's data.
    pub(crate) well_formed: bool,
    /// NSID (RFC 5001) was asked for; its content means nothing in a query.
    pub(crate) nsid: bool,
    /// Where the first COOKIE option's data is (RFC 7873).
    pub(crate) cookie: Option<Range<usize>>,
    /// Where the first Client Subnet option's data is (RFC 7871); read, never answered.
    pub(crate) client_subnet: Option<Range<usize>>,
    /// EDNS EXPIRE (RFC 7314) was asked for.
    pub(crate) expire: bool,
    /// The query was padded (RFC 7830).
    pub(crate) padding: bool,
}

impl Options {
    fn read(message: &[u8], rdata: Range<usize>) -> Options {
        let mut options = Options::default();
        let mut at = rdata.start;
        while at < rdata.end {
            let (Some(code), Some(length)) = (read_u16(message, at), read_u16(message, at + 2))
            else {
                return options;
            };
            let data = at + 4..at + 4 + usize::from(length);
            if data.end > rdata.end {
                return options;
            }
            match EdnsCode::from(code) {
                option::NSID => options.nsid = true,
                option::COOKIE if options.cookie.is_none() => options.cookie = Some(data.clone()),
                option::CLIENT_SUBNET if options.client_subnet.is_none() => {
                    options.client_subnet = Some(data.clone());
                }
                option::EXPIRE => options.expire = true,
                option::PADDING => options.padding = true,
                _ => {}
            }
            at = data.end;
        }
        options.well_formed = true;
        options
    }
}

impl<'p> Request<'p> {
    /// Reads `bytes`; `None` when they are shorter than a header.
    pub(crate) fn read(bytes: &'p [u8]) -> Option<Request<'p>> {
        let mut request = Request::unread(bytes);
        request.read_in_place().then_some(request)
    }

    /// A view of `bytes` before anything is read: what [`Self::read_in_place`] fills. The
    /// request path reads in place because the view (the first question's labels with it) is a
    /// few hundred bytes, which a move would copy on every message.
    #[inline]
    pub(crate) fn unread(bytes: &'p [u8]) -> Request<'p> {
        Request {
            bytes,
            header: Header::new(0, OpCode::Query, Flags::NONE),
            counts: [0; 4],
            first: Question {
                bytes: &[],
                labels: [&[]; FAST_PATH_LABELS],
                label_count: 0,
                qtype: RecordType::ZERO,
                qclass: DNSClass::Unknown(0),
            },
            has_question: false,
            questions: None,
            opt: None,
            tsig: None,
            authority_serial: None,
            complete: false,
        }
    }

    /// Reads the header and every section; false when the bytes are shorter than a header.
    pub(crate) fn read_in_place(&mut self) -> bool {
        #[cfg(test)]
        counts::VIEWS.with(|n| n.set(n.get() + 1));
        let Some((header, counts)) = Header::from_message(self.bytes) else {
            return false;
        };
        (self.header, self.counts) = (header, counts);
        self.complete = self.walk().is_some();
        true
    }

    /// Reads the sections; `None` where the message cannot be read further.
    fn walk(&mut self) -> Option<()> {
        let bytes = self.bytes;
        let mut at = 12;
        let mut echoable = true;
        for i in 0..self.counts[0] {
            let first = (i == 0).then_some(&mut self.first);
            let (uncompressed, next) = read_question(bytes, at, first)?;
            echoable &= uncompressed || points_into_questions(bytes, at);
            at = next;
            self.has_question |= i == 0 && uncompressed;
        }
        // The section is copied into responses at the same offset: a pointer into it still
        // points at the same name there, one into the header would not, so such a section is
        // not echoed.
        self.questions = echoable.then_some(12..at);
        let records = [self.counts[1], self.counts[2], self.counts[3]];
        let total: usize = records.iter().map(|&n| usize::from(n)).sum();
        for index in 0..total {
            let owner = at;
            let fixed = skip_name(bytes, at)?;
            let rtype = RecordType::from(read_u16(bytes, fixed)?);
            let length = usize::from(read_u16(bytes, fixed + 8)?);
            let rdata = fixed + 10..fixed + 10 + length;
            if rdata.end > bytes.len() {
                return None;
            }
            let in_authority = (usize::from(records[0])
                ..usize::from(records[0]) + usize::from(records[1]))
                .contains(&index);
            match rtype {
                RecordType::OPT if self.opt.is_none() => {
                    let ttl = read_u32(bytes, fixed + 4)?;
                    self.opt = Some(Opt {
                        fixed,
                        root_owner: owner + 1 == fixed && bytes[owner] == 0,
                        payload: read_u16(bytes, fixed + 2)?,
                        extended_rcode: (ttl >> 24) as u8,
                        version: (ttl >> 16) as u8,
                        dnssec_ok: ttl & 0x8000 != 0,
                        options: Options::read(bytes, rdata.clone()),
                        rdata: rdata.clone(),
                    });
                }
                RecordType::TSIG if index + 1 == total => self.tsig = Some(owner),
                RecordType::SOA if in_authority && self.authority_serial.is_none() => {
                    let serial_at = skip_name(bytes, skip_name(bytes, rdata.start)?)?;
                    if serial_at + 20 <= rdata.end {
                        self.authority_serial = read_u32(bytes, serial_at);
                    }
                }
                _ => {}
            }
            at = rdata.end;
        }
        (at == bytes.len()).then_some(())
    }

    /// The header says this is a response.
    #[inline]
    pub(crate) fn is_response(&self) -> bool {
        self.header.flags.contains(Flags::QR)
    }

    /// The header of a response to this request before AA, TC and the response code.
    #[inline]
    pub(crate) fn response_header(&self) -> Header {
        self.header.response()
    }

    /// The header's opcode.
    #[inline]
    pub(crate) fn opcode(&self) -> OpCode {
        self.header.opcode
    }

    /// Recursion desired, echoed in answers.
    #[inline]
    pub(crate) fn recursion_desired(&self) -> bool {
        self.header.flags.contains(Flags::RD)
    }

    /// The first question, when every question could be read and its name is uncompressed.
    #[inline]
    pub(crate) fn question(&self) -> Option<&Question<'p>> {
        self.has_question.then_some(&self.first)
    }

    /// The first question's type, when it could be read.
    #[inline]
    pub(crate) fn qtype(&self) -> Option<RecordType> {
        self.question().map(|q| q.qtype)
    }

    /// The common shape the fast path answers: a query (not a response) with one question in
    /// class IN, its name uncompressed and of at most [`FAST_PATH_LABELS`] labels, no other
    /// record but at most one OPT record (root owner, version 0, extended RCODE 0, no
    /// options), nothing trailing.
    #[inline]
    pub(crate) fn plain_query(&self) -> Option<(&Question<'p>, Option<&Opt>)> {
        let question = self.question()?;
        let shape = self.complete
            && !self.is_response()
            && self.header.opcode == OpCode::Query
            && self.counts[..3] == [1, 0, 0]
            && self.counts[3] <= 1
            && question.qclass == DNSClass::IN
            && question.has_few_labels();
        let opt = self.opt.as_ref();
        let opt_plain = match (self.counts[3], opt) {
            (0, None) => true,
            (1, Some(opt)) => {
                opt.root_owner
                    && opt.version == 0
                    && opt.extended_rcode == 0
                    && opt.rdata.is_empty()
            }
            _ => false,
        };
        (shape && opt_plain).then_some((question, opt))
    }
}

/// Reads one question at `at`, into `out` when given (the first question, read in place);
/// whether its name is uncompressed, and where the next part starts.
/// Whether every compression pointer met reading the name at `at` leads into the question
/// section (offset 12 or later), which a response copies to the same place.
fn points_into_questions(bytes: &[u8], mut at: usize) -> bool {
    loop {
        match piece(bytes, at) {
            Some(Piece::Root) => return true,
            Some(Piece::Label(label)) => at += 1 + label.len(),
            Some(Piece::Pointer(target)) if (12..at).contains(&target) => at = target,
            _ => return false,
        }
    }
}

fn read_question<'p>(
    bytes: &'p [u8],
    at: usize,
    mut out: Option<&mut Question<'p>>,
) -> Option<(bool, usize)> {
    let mut label_count = 0;
    let mut end = at;
    let mut compressed = false;
    loop {
        match piece(bytes, end)? {
            Piece::Root => {
                end += 1;
                break;
            }
            Piece::Label(label) => {
                if let Some(out) = out.as_deref_mut()
                    && label_count < FAST_PATH_LABELS
                {
                    out.labels[label_count] = label;
                }
                label_count += 1;
                end += 1 + label.len();
            }
            Piece::Pointer(_) => {
                // Rare in a question: the name is followed through its pointers once, to
                // know it can be read (hickory, which answers it, reads it again).
                read_name_lowercase(bytes, at, &mut Vec::new())?;
                compressed = true;
                end += 2;
                break;
            }
        }
        if end - at > MAX_NAME {
            return None;
        }
    }
    // The name's length counts its final zero octet (RFC 1035 3.1).
    if !compressed && end - at > MAX_NAME {
        return None;
    }
    let qtype = read_u16(bytes, end)?;
    let qclass = read_u16(bytes, end + 2)?;
    if let Some(out) = out {
        out.bytes = &bytes[at..end + 4];
        out.label_count = label_count;
        out.qtype = RecordType::from(qtype);
        out.qclass = DNSClass::from(qclass);
    }
    Some((!compressed, end + 4))
}

/// Records that hickory parsed a message (counted in tests only).
pub(crate) fn hickory_parsed() {
    #[cfg(test)]
    counts::HICKORY.with(|n| n.set(n.get() + 1));
}

/// How often requests are read, for the test that holds every message to one reading.
#[cfg(test)]
pub(crate) mod counts {
    use std::cell::Cell;

    thread_local! {
        /// Views made on this thread.
        pub(crate) static VIEWS: Cell<usize> = const { Cell::new(0) };
        /// Messages hickory parsed on this thread (the general path, the only place it does).
        pub(crate) static HICKORY: Cell<usize> = const { Cell::new(0) };
    }

    /// (views, hickory parses) on this thread so far.
    pub(crate) fn now() -> (usize, usize) {
        (VIEWS.with(Cell::get), HICKORY.with(Cell::get))
    }
}
