//! The parser for IANA's Service Name and Transport Protocol Port Number Registry, read in
//! IANA's own CSV format (header row, quoted fields that may span lines) so that a newer
//! download can replace the file unchanged. Columns are found by their header names.

use super::common::{DataError, normalise_space};
use crate::core::model::{PortSpan, Protocol, RegistryColumns, RegistryFacts, Status};

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
    /// The record's other columns; `None` when all of them are empty.
    pub(crate) facts: Option<RegistryFacts>,
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

/// The registry's columns by their header names, in IANA's order. Every one must be present
/// (in any order): a renamed or missing column is a problem on the header line, so a changed
/// format is noticed instead of its facts silently dropped.
const COLUMNS: [&str; 12] = [
    "Service Name",
    "Port Number",
    "Transport Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Registration Date",
    "Modification Date",
    "Reference",
    "Service Code",
    "Unauthorized Use Reported",
    "Assignment Notes",
];

/// Parses the CSV. Records without a port (service names only) and records whose description
/// says the port is unassigned are read but produce nothing. A record with a service name is
/// [`Status::Assigned`]; one without is [`Status::Reserved`]: IANA holds the number without
/// registering a service for it (reserved, de-registered, removed, "any private ..." use).
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> IanaRecords {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut records_read = 0;
    let found = match reader.headers() {
        Ok(headers) => COLUMNS.map(|name| headers.iter().position(|h| h.trim() == name)),
        Err(e) => {
            problems.push(csv_problem(file, 1, &e));
            return IanaRecords {
                records,
                records_read,
            };
        }
    };
    for (name, column) in COLUMNS.iter().zip(&found) {
        if column.is_none() {
            problems.push(DataError::new(
                file,
                1,
                format!("no {name:?} column in the header"),
            ));
        }
    }
    let Some(
        [
            service,
            port,
            protocol,
            description,
            assignee,
            contact,
            registered,
            modified,
            reference,
            service_code,
            unauthorized,
            notes,
        ],
    ) = found
        .into_iter()
        .collect::<Option<Vec<usize>>>()
        .and_then(|c| <[usize; 12]>::try_from(c).ok())
    else {
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
            facts: RegistryFacts::new(RegistryColumns {
                references: references(field(reference)),
                assignee: handles(field(assignee)),
                contact: handles(field(contact)),
                registered: cell(field(registered)),
                modified: cell(field(modified)),
                service_code: cell(field(service_code)),
                unauthorized_use: cell(field(unauthorized)),
                notes: cell(field(notes)),
            }),
        });
    }
    IanaRecords {
        records,
        records_read,
    }
}

/// A column's text with its whitespace folded; `None` when empty.
fn cell(field: &str) -> Option<String> {
    Some(normalise_space(field)).filter(|t| !t.is_empty())
}

/// The bracketed items of a cell (`[RFC6335][Jon_Postel]`) and any text between them, in
/// order, each trimmed.
fn bracketed(field: &str) -> Vec<String> {
    field
        .split(['[', ']'])
        .map(normalise_space)
        .filter(|item| !item.is_empty())
        .collect()
}

/// A reference cell as a list: `[RFC9110]` becomes `RFC 9110`, anything else stays as IANA
/// wrote it, brackets dropped.
fn references(field: &str) -> Vec<String> {
    bracketed(field)
        .into_iter()
        .map(|item| match item.strip_prefix("RFC") {
            Some(number) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                format!("RFC {number}")
            }
            _ => item,
        })
        .collect()
}

/// An assignee or contact cell: its handles without brackets, `, ` between several.
fn handles(field: &str) -> Option<String> {
    Some(bracketed(field).join(", ")).filter(|h| !h.is_empty())
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

    const HEADER: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n";

    /// Rows ending in an assignee `x`, padded with the seven columns after it.
    fn padded(body: &str) -> String {
        body.replace(",x\n", ",x,,,,,,,\n")
            .replace(",x\r\n", ",x,,,,,,,\r\n")
    }

    fn parsed(body: &str) -> (IanaRecords, Vec<String>) {
        let mut problems = Vec::new();
        let records = parse(
            "iana.csv",
            &format!("{HEADER}{}", padded(body)),
            &mut problems,
        );
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
            format!("{HEADER}{}", padded(body)),
            format!("{}{}", HEADER.replace('\n', "\r\n"), padded(&crlf_body)),
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
                    "iana.csv:7: expected 12 fields, found 3",
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
                "iana.csv:1: no \"Assignee\" column in the header",
                "iana.csv:1: no \"Contact\" column in the header",
                "iana.csv:1: no \"Registration Date\" column in the header",
                "iana.csv:1: no \"Modification Date\" column in the header",
                "iana.csv:1: no \"Reference\" column in the header",
                "iana.csv:1: no \"Service Code\" column in the header",
                "iana.csv:1: no \"Unauthorized Use Reported\" column in the header",
                "iana.csv:1: no \"Assignment Notes\" column in the header",
            ]
        );
        let mut problems = Vec::new();
        let renamed = HEADER.replace("Service Code", "DCCP Service Code");
        parse(
            "iana.csv",
            &format!("{renamed}x,1,tcp,y,,,,,,,,\n"),
            &mut problems,
        );
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            ["iana.csv:1: no \"Service Code\" column in the header"]
        );
    }

    #[test]
    fn every_column_is_kept() {
        let body = "finger,79,tcp,Finger,[David_Zimmerman],[David_Zimmerman],,,,,Unauthorized use by some mail users (see [RFC4146] for details),\n\
                    https,443,tcp,http protocol over TLS/SSL,[IESG],[IETF_Chair],,2021-10-01,[RFC9110],,,\n\
                    x,7,dccp,X,[A][B],[C],2001-02-03,,[RFC6335][Jon_Postel],1145656131,,\"Defined TXT keys: u=<user>\"\n\
                    ,9,tcp,Reserved,,,,,,,,\n";
        let mut problems = Vec::new();
        let records = parse("iana.csv", &format!("{HEADER}{body}"), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let facts: Vec<_> = records.records.iter().map(|r| r.facts.clone()).collect();
        assert_eq!(
            facts,
            [
                RegistryFacts::new(RegistryColumns {
                    assignee: Some("David_Zimmerman".into()),
                    contact: Some("David_Zimmerman".into()),
                    unauthorized_use: Some(
                        "Unauthorized use by some mail users (see [RFC4146] for details)".into()
                    ),
                    ..RegistryColumns::default()
                }),
                RegistryFacts::new(RegistryColumns {
                    references: vec!["RFC 9110".into()],
                    assignee: Some("IESG".into()),
                    contact: Some("IETF_Chair".into()),
                    modified: Some("2021-10-01".into()),
                    ..RegistryColumns::default()
                }),
                RegistryFacts::new(RegistryColumns {
                    references: vec!["RFC 6335".into(), "Jon_Postel".into()],
                    assignee: Some("A, B".into()),
                    contact: Some("C".into()),
                    registered: Some("2001-02-03".into()),
                    service_code: Some("1145656131".into()),
                    notes: Some("Defined TXT keys: u=<user>".into()),
                    ..RegistryColumns::default()
                }),
                None,
            ]
        );
    }
}
