//! The parser for IANA's Service Name and Transport Protocol Port Number Registry, read in
//! IANA's own CSV format (header row, quoted fields that may span lines) so that a newer
//! download can replace the file unchanged. Columns are found by their header names.

use super::common::{DataError, normalise_space};
use crate::core::model::{PortSpan, Protocol, Status};

/// One registry record that says something about a port, on the protocols it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IanaRecord {
    /// The line the record starts on.
    pub(crate) line: usize,
    pub(crate) service: Option<String>,
    pub(crate) ports: PortSpan,
    pub(crate) protocols: &'static [Protocol],
    /// [`Status::Assigned`] or [`Status::Reserved`].
    pub(crate) status: Status,
    pub(crate) description: String,
}

/// The records that become entries, and how many records the file held.
#[derive(Debug)]
pub(crate) struct IanaRecords {
    pub(crate) records: Vec<IanaRecord>,
    pub(crate) records_read: usize,
}

/// A record without a protocol concerns the port number as such; the registry began as the
/// TCP and UDP registry, so such a record is answered on both.
const BLANK_PROTOCOL: &[Protocol] = &[Protocol::Tcp, Protocol::Udp];

const SERVICE_COLUMN: &str = "Service Name";
const PORT_COLUMN: &str = "Port Number";
const PROTOCOL_COLUMN: &str = "Transport Protocol";
const DESCRIPTION_COLUMN: &str = "Description";

/// Parses the CSV. Records without a port (service names only) and records whose description
/// says the port is unassigned are read but produce nothing. A record with a service name is
/// [`Status::Assigned`]; one without is [`Status::Reserved`]: IANA holds the number without
/// registering a service for it (reserved, de-registered, removed, "any private ..." use).
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> IanaRecords {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut records_read = 0;
    let columns = match reader.headers() {
        Ok(headers) => {
            let find = |name: &str| headers.iter().position(|h| h.trim() == name);
            let columns = [
                SERVICE_COLUMN,
                PORT_COLUMN,
                PROTOCOL_COLUMN,
                DESCRIPTION_COLUMN,
            ]
            .map(find);
            for (name, column) in [
                SERVICE_COLUMN,
                PORT_COLUMN,
                PROTOCOL_COLUMN,
                DESCRIPTION_COLUMN,
            ]
            .iter()
            .zip(&columns)
            {
                if column.is_none() {
                    problems.push(DataError::new(
                        file,
                        1,
                        format!("no {name:?} column in the header"),
                    ));
                }
            }
            columns
        }
        Err(e) => {
            problems.push(csv_problem(file, 1, &e));
            return IanaRecords {
                records,
                records_read,
            };
        }
    };
    let [Some(service), Some(port), Some(protocol), Some(description)] = columns else {
        return IanaRecords {
            records,
            records_read,
        };
    };
    let mut lines = LineCounter::new(text);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => records_read += 1,
            Ok(false) => break,
            Err(e) => {
                records_read += 1;
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                problems.push(csv_problem(file, line, &e));
                continue;
            }
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let problem_count = problems.len();
        let protocols = match field(protocol) {
            "" => Some(BLANK_PROTOCOL),
            label => Protocol::ALL
                .iter()
                .position(|p| p.label().eq_ignore_ascii_case(label))
                .map(|i| &Protocol::ALL[i..=i]),
        };
        if protocols.is_none() {
            problems.push(DataError::new(
                file,
                line,
                format!("unknown protocol {:?}", field(protocol)),
            ));
        }
        let ports = match field(port) {
            "" => None,
            text => {
                let parsed = PortSpan::parse(text);
                if parsed.is_none() {
                    problems.push(DataError::new(
                        file,
                        line,
                        format!("bad port or range {text:?}"),
                    ));
                }
                parsed
            }
        };
        if problems.len() > problem_count {
            continue;
        }
        let (Some(ports), Some(protocols)) = (ports, protocols) else {
            continue;
        };
        let description = normalise_space(field(description));
        let service = Some(field(service))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let unassigned = description
            .trim_start_matches('(')
            .get(..10)
            .is_some_and(|start| start.eq_ignore_ascii_case("unassigned"));
        if service.is_none() && unassigned {
            continue;
        }
        records.push(IanaRecord {
            line,
            status: if service.is_some() {
                Status::Assigned
            } else {
                Status::Reserved
            },
            service,
            ports,
            protocols,
            description,
        });
    }
    IanaRecords {
        records,
        records_read,
    }
}

/// Line numbers from byte offsets. The csv crate's own line count is off by one in files with
/// CRLF line ends (IANA's), and its byte offset of a record may point at the `\n` ending the
/// previous line, so lines are counted here from the text itself.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record starting at `byte`; offsets must not decrease between calls.
    fn line_at(&mut self, byte: u64) -> usize {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if self.text.get(start) == Some(&b'\n') {
            start += 1;
        }
        if start >= self.offset {
            self.line += self.text[self.offset..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.offset = start;
        }
        self.line
    }
}

fn csv_problem(file: &str, line: usize, error: &csv::Error) -> DataError {
    let reason = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => format!("bad CSV: {error}"),
    };
    DataError::new(file, line, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee\n";

    fn parsed(body: &str) -> (IanaRecords, Vec<String>) {
        let mut problems = Vec::new();
        let records = parse("iana.csv", &format!("{HEADER}{body}"), &mut problems);
        (records, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn records_and_what_they_become() {
        let body = "http,80,tcp,World Wide Web HTTP,x\n\
                    ,0,udp,Reserved,x\n\
                    ,81,,Unassigned,x\n\
                    ,114,,unassigned,x\n\
                    ,15,tcp,Unassigned [was netstat],x\n\
                    remoteware-un,2999,tcp,RemoteWare Unassigned,x\n\
                    arp,,,Address Resolution Protocol,x\n\
                    nexgen-aux,6629,UDP,\"Secondary, multi-protocol\n    interface\",x\n\
                    ,585,,De-registered,x\n\
                    x11,6000-6063,tcp,X Window System,x\n";
        let (records, problems) = parsed(body);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(records.records_read, 10);
        let got: Vec<_> = records
            .records
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.service.as_deref(),
                    r.ports.to_string(),
                    r.protocols,
                    r.status,
                    r.description.as_str(),
                )
            })
            .collect();
        use Protocol::*;
        use Status::*;
        assert_eq!(
            got,
            [
                (
                    2,
                    Some("http"),
                    "80".into(),
                    &[Tcp][..],
                    Assigned,
                    "World Wide Web HTTP"
                ),
                (3, None, "0".into(), &[Udp][..], Reserved, "Reserved"),
                (
                    7,
                    Some("remoteware-un"),
                    "2999".into(),
                    &[Tcp][..],
                    Assigned,
                    "RemoteWare Unassigned"
                ),
                (
                    9,
                    Some("nexgen-aux"),
                    "6629".into(),
                    &[Udp][..],
                    Assigned,
                    "Secondary, multi-protocol interface"
                ),
                (
                    11,
                    None,
                    "585".into(),
                    &[Tcp, Udp][..],
                    Reserved,
                    "De-registered"
                ),
                (
                    12,
                    Some("x11"),
                    "6000-6063".into(),
                    &[Tcp][..],
                    Assigned,
                    "X Window System"
                ),
            ]
        );
    }

    #[test]
    fn problems_carry_the_line_with_lf_or_crlf_line_ends() {
        let body = "a,1,tcp,ok,x\nb,1,icmp,bad protocol,x\nc,99999,tcp,bad port,x\n\"d\nd\",1,tcp,two lines,x\ne,1,tcp\nf,9-7,udp,backwards,x\n";
        let crlf_body = body.replace(",x\n", ",x\r\n").replace("tcp\ne", "tcp\r\ne");
        for text in [
            format!("{HEADER}{body}"),
            format!("{}{crlf_body}", HEADER.replace('\n', "\r\n")),
        ] {
            let mut problems = Vec::new();
            let records = parse("iana.csv", &text, &mut problems);
            assert_eq!(
                records.records.iter().map(|r| r.line).collect::<Vec<_>>(),
                [2, 5]
            );
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            assert_eq!(
                problems,
                [
                    "iana.csv:3: unknown protocol \"icmp\"",
                    "iana.csv:4: bad port or range \"99999\"",
                    "iana.csv:7: expected 5 fields, found 3",
                    "iana.csv:8: bad port or range \"9-7\"",
                ],
                "{text:?}"
            );
        }
    }

    #[test]
    fn missing_columns_are_reported() {
        let mut problems = Vec::new();
        parse(
            "iana.csv",
            "Service Name,Port,Protocol,Description\nx,1,tcp,y\n",
            &mut problems,
        );
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "iana.csv:1: no \"Port Number\" column in the header",
                "iana.csv:1: no \"Transport Protocol\" column in the header",
            ]
        );
    }
}
