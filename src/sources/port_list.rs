//! Parsers for the two renderings of the port list: the converted `ports.tsv` and the excerpt
//! the project was specified from (`port-list-excerpt.txt`, parsed exactly as captured).
//! Both yield [`ListRow`]s: a port or range, a status per protocol, a description cleaned of
//! scrape artifacts ([`super::scrape`]).

use super::common::{DataError, NOT_LISTED, PORTS_TSV_HEADER, list_status};
use super::scrape;
use crate::core::model::{PortSpan, Protocol, Status};

/// One row of the port list: one use of a port or range, with a status per protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListRow {
    /// The line the row was read from.
    pub(crate) line: usize,
    pub(crate) ports: PortSpan,
    /// Indexed by [`Protocol::index`]; `None` where the row names no status for the protocol.
    pub(crate) statuses: [Option<Status>; 4],
    pub(crate) description: String,
}

impl ListRow {
    /// The protocols the row names a status for, with that status.
    pub(crate) fn listed(&self) -> impl Iterator<Item = (Protocol, Status)> + '_ {
        Protocol::ALL
            .into_iter()
            .filter_map(|p| self.statuses[p.index()].map(|s| (p, s)))
    }
}

/// Parses `ports.tsv`: `#` comments and blank lines, one header line, then rows of six
/// tab-separated columns.
pub(crate) fn parse_tsv(file: &str, text: &str, problems: &mut Vec<DataError>) -> Vec<ListRow> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            if line != PORTS_TSV_HEADER {
                problems.push(DataError::new(
                    file,
                    line_number,
                    format!("expected the header line {PORTS_TSV_HEADER:?}"),
                ));
            }
            continue;
        }
        match parse_tsv_row(line) {
            Ok((ports, statuses, description)) => rows.push(ListRow {
                line: line_number,
                ports,
                statuses,
                description: scrape::clean(description),
            }),
            Err(reason) => problems.push(DataError::new(file, line_number, reason)),
        }
    }
    if !header_seen {
        problems.push(DataError::new(file, 0, "no header line"));
    }
    rows
}

type TsvRow<'a> = (PortSpan, [Option<Status>; 4], &'a str);

fn parse_tsv_row(line: &str) -> Result<TsvRow<'_>, String> {
    let cells: Vec<&str> = line.split('\t').collect();
    let [port, tcp, udp, sctp, dccp, description] = cells[..] else {
        return Err(format!(
            "expected 6 tab-separated columns, found {}",
            cells.len()
        ));
    };
    let ports = PortSpan::parse(port).ok_or_else(|| format!("bad port or range {port:?}"))?;
    let mut statuses = [None; 4];
    for (slot, cell) in statuses.iter_mut().zip([tcp, udp, sctp, dccp]) {
        *slot = parse_status_cell(cell)?;
    }
    Ok((ports, statuses, description))
}

/// A status cell: a legend word, or `-` for "not listed".
fn parse_status_cell(cell: &str) -> Result<Option<Status>, String> {
    if cell == NOT_LISTED {
        return Ok(None);
    }
    list_status(cell)
        .map(Some)
        .ok_or_else(|| format!("bad status {cell:?} (expected a legend word or -)"))
}

/// The line that opens the excerpt's table.
const EXCERPT_TABLE_HEADER: &str = "Port TCP UDP SCTP DCCP Description";

/// The placeholder line of the excerpt's table standing for rows not captured.
const EXCERPT_ELLIPSIS: &str = "... ... ... ... ... In Progress....";

/// Parses the excerpt as captured: the prose before the table header is skipped; each table
/// line is `PORT STATUS... DESCRIPTION` separated by spaces, where up to four legend words are
/// read greedily and given to TCP, UDP, SCTP and DCCP in that order (the capture lost empty
/// cells, so a row's statuses always fill the first columns); the table ends at the first line
/// that is neither a row nor the `...` placeholder (the page text after it is skipped).
pub(crate) fn parse_excerpt(file: &str, text: &str, problems: &mut Vec<DataError>) -> Vec<ListRow> {
    let mut lines = text.lines().enumerate();
    if !lines.any(|(_, line)| line.trim() == EXCERPT_TABLE_HEADER) {
        problems.push(DataError::new(
            file,
            0,
            format!("no table header line {EXCERPT_TABLE_HEADER:?}"),
        ));
        return Vec::new();
    }
    let mut rows = Vec::new();
    for (index, line) in lines {
        let line = line.trim();
        if line == EXCERPT_ELLIPSIS {
            continue;
        }
        let mut words = line.split(' ');
        let Some(ports) = words.next().and_then(PortSpan::parse) else {
            break;
        };
        let mut words = words.peekable();
        let mut statuses = [None; 4];
        for slot in &mut statuses {
            match words.peek().and_then(|w| list_status(w)) {
                Some(status) => {
                    *slot = Some(status);
                    words.next();
                }
                None => break,
            }
        }
        let row = ListRow {
            line: index + 1,
            ports,
            statuses,
            description: scrape::clean(&words.collect::<Vec<_>>().join(" ")),
        };
        if row.listed().next().is_none() {
            problems.push(DataError::new(file, row.line, "row names no status"));
        } else {
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsv(text: &str) -> (Vec<ListRow>, Vec<String>) {
        let mut problems = Vec::new();
        let rows = parse_tsv("ports.tsv", text, &mut problems);
        (rows, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn tsv_rows_and_their_problems() {
        let text = format!(
            "# comment\n{PORTS_TSV_HEADER}\n7\tYes\tYes\t-\t-\tEcho\n6881-6887\tUnofficial\t-\t-\t-\t\n\
             8\tYes\n70000\tYes\t-\t-\t-\tx\n9\tyes\t-\t-\t-\tx\n"
        );
        let (rows, problems) = tsv(&text);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1].ports,
            PortSpan {
                first: 6881,
                last: 6887
            }
        );
        assert_eq!(
            rows[1].statuses,
            [Some(Status::Unofficial), None, None, None]
        );
        assert_eq!(rows[1].description, "");
        assert_eq!(
            problems,
            [
                "ports.tsv:5: expected 6 tab-separated columns, found 2",
                "ports.tsv:6: bad port or range \"70000\"",
                "ports.tsv:7: bad status \"yes\" (expected a legend word or -)",
            ]
        );
    }

    #[test]
    fn tsv_without_its_header_is_reported() {
        assert_eq!(tsv("# only comments\n").1, ["ports.tsv: no header line"]);
        let (_, problems) = tsv("port\ttcp\n7\tYes\tYes\t-\t-\tEcho\n");
        assert_eq!(
            problems,
            [format!(
                "ports.tsv:1: expected the header line {PORTS_TSV_HEADER:?}"
            )]
        );
    }

    #[test]
    fn excerpt_statuses_are_read_greedily() {
        let text = "prose\nPort TCP UDP SCTP DCCP Description\n0 Reserved Reserved\n\
                    0 N/A N/A N/A N/A In programming APIs\n9 No Unofficial Wake-on-LAN\n\
                    ... ... ... ... ... In Progress....\n49151 Reserved Reserved Reserved\nBack to List\n1 Yes page text\n";
        let mut problems = Vec::new();
        let rows = parse_excerpt("excerpt", text, &mut problems);
        assert!(problems.is_empty());
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.ports.to_string(),
                    r.listed().collect::<Vec<_>>(),
                    r.description.as_str(),
                )
            })
            .collect();
        use Protocol::*;
        use Status::*;
        assert_eq!(
            got,
            [
                (3, "0".into(), vec![(Tcp, Reserved), (Udp, Reserved)], ""),
                (
                    4,
                    "0".into(),
                    vec![
                        (Tcp, NotApplicable),
                        (Udp, NotApplicable),
                        (Sctp, NotApplicable),
                        (Dccp, NotApplicable)
                    ],
                    "In programming APIs"
                ),
                (
                    5,
                    "9".into(),
                    vec![(Tcp, No), (Udp, Unofficial)],
                    "Wake-on-LAN"
                ),
                (
                    7,
                    "49151".into(),
                    vec![(Tcp, Reserved), (Udp, Reserved), (Sctp, Reserved)],
                    ""
                ),
            ]
        );
    }

    #[test]
    fn excerpt_problems() {
        let mut problems = Vec::new();
        parse_excerpt("excerpt", "no table here\n", &mut problems);
        parse_excerpt(
            "excerpt",
            "Port TCP UDP SCTP DCCP Description\n7 Echo\n",
            &mut problems,
        );
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                format!("excerpt: no table header line {EXCERPT_TABLE_HEADER:?}"),
                "excerpt:2: row names no status".to_owned(),
            ]
        );
    }
}
