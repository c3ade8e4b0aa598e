//! The converter from the port list's markdown table (`data/source/wikipedia-ports.md`) to the
//! clean TSV the daemon reads (`data/ports.tsv`), and the cleaning rules for wiki leftovers.
//!
//! The converter is deterministic: the same markdown always gives the same bytes, and a test
//! checks that the committed `data/ports.tsv` is exactly what it produces.

use std::fmt::Write;

use super::common::{
    DataError, DataErrors, NOT_LISTED, PORTS_TSV_HEADER, list_status, normalise_space,
};
use crate::core::model::PortSpan;

/// The comment block that opens `ports.tsv`, explaining where it comes from and its columns.
const TSV_PREAMBLE: &str = "\
# The port list: Wikipedia contributors, \"List of TCP and UDP port numbers\" (2025 revision),
# licensed CC BY-SA 4.0. Generated from data/source/wikipedia-ports.md by
# `portsd convert-wikipedia`; do not edit by hand (see data/README.md).
# Tab-separated columns: port or range, then the TCP, UDP, SCTP and DCCP status (a legend word:
# Yes, Unofficial, Assigned, No, Reserved, N/A; `-` when the list names no status for that
# protocol), then the description (may be empty).
";

/// HTML elements the wiki leaves behind whose tags are dropped and whose content is kept.
/// `<sub>` is handled apart (its digits become subscript digits) and `<ref>` is dropped whole.
const DROPPED_TAGS: [&str; 5] = ["code", "span", "abbr", "sup", "small"];

/// Converts the markdown table to the text of `ports.tsv`. Every bad row is reported, each as
/// `file_name:line: reason`.
pub fn convert_markdown(file_name: &str, markdown: &str) -> Result<String, DataErrors> {
    let mut out = String::from(TSV_PREAMBLE);
    out.push_str(PORTS_TSV_HEADER);
    out.push('\n');
    let mut problems = Vec::new();
    let mut in_table = false;
    for (index, line) in markdown.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table {
            // The first row of a table is its header; the next one is the alignment row.
            in_table = true;
            continue;
        }
        if line.starts_with("|-") || line.starts_with("|:") {
            continue;
        }
        match convert_row(line) {
            Ok(row) => {
                out.push_str(&row);
                out.push('\n');
            }
            Err(reason) => problems.push(DataError::new(file_name, line_number, reason)),
        }
    }
    DataErrors::check(problems)?;
    Ok(out)
}

/// One markdown row `| port | tcp | udp | sctp | dccp | description |` as one TSV line.
fn convert_row(line: &str) -> Result<String, String> {
    let inner = line.strip_prefix('|').unwrap_or(line);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
    if cells.len() < 6 {
        return Err(format!("expected 6 cells, found {}", cells.len()));
    }
    let ports =
        PortSpan::parse(cells[0]).ok_or_else(|| format!("bad port or range {:?}", cells[0]))?;
    let mut row = String::new();
    let _ = write!(row, "{ports}");
    for cell in &cells[1..5] {
        if cell.is_empty() {
            row.push('\t');
            row.push_str(NOT_LISTED);
        } else if list_status(cell).is_some() {
            row.push('\t');
            row.push_str(cell);
        } else {
            return Err(format!("bad status {cell:?}"));
        }
    }
    // A `|` inside the description (a wiki link that lost its brackets) splits it into more
    // cells: put them back together before cleaning.
    let description = cells[5..].join("|");
    row.push('\t');
    row.push_str(&clean_description(&description));
    Ok(row)
}

/// Removes wiki and HTML leftovers from a description; see `data/README.md` for the rules.
pub(crate) fn clean_description(text: &str) -> String {
    let text = unbracket_lost_wiki_link(text);
    let text = remove_refs(&text);
    let text = replace_external_links(&text);
    let text = replace_subscripts(&text);
    let text = remove_tags(&text);
    let text = remove_colspans(&text);
    let text: String = text
        .chars()
        .filter(|&c| c != '}' || text.contains('{'))
        .collect();
    normalise_space(&text)
}

/// `[target]|label`, a wiki link `[[target|label]]` that lost a pair of brackets, becomes
/// `label`, as the wiki would show it.
fn unbracket_lost_wiki_link(text: &str) -> String {
    text.strip_prefix('[')
        .and_then(|rest| rest.split_once("]|"))
        .filter(|(target, _)| !target.contains(['[', ']']))
        .map_or_else(|| text.to_owned(), |(_, label)| label.to_owned())
}

/// Rewrites every occurrence of `marker`: `step` gets the text from the marker on, appends its
/// replacement to the output and returns the text after what it consumed.
fn rewrite_each<'a>(
    text: &'a str,
    marker: &str,
    mut step: impl FnMut(&'a str, &mut String) -> &'a str,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(marker) {
        out.push_str(&rest[..start]);
        rest = step(&rest[start..], &mut out);
    }
    out.push_str(rest);
    out
}

/// Drops footnotes: `<ref .../>` and `<ref ...>...</ref>`, content included.
fn remove_refs(text: &str) -> String {
    rewrite_each(text, "<ref", |tail, _| {
        let open_end = tail.find('>').map_or(tail.len(), |end| end + 1);
        if tail[..open_end].ends_with("/>") {
            return &tail[open_end..];
        }
        match tail.find("</ref>") {
            Some(close) => &tail[close + "</ref>".len()..],
            None => &tail[open_end..],
        }
    })
}

/// `[https://example.org label]` becomes `label`; a link without a label is kept as it is.
fn replace_external_links(text: &str) -> String {
    rewrite_each(text, "[http", |tail, out| {
        let Some(end) = tail.find(']') else {
            out.push_str(tail);
            return "";
        };
        match tail[1..end].split_once(' ') {
            Some((_, label)) => out.push_str(label),
            None => out.push_str(&tail[..=end]),
        }
        &tail[end + 1..]
    })
}

/// `<sub>16</sub>` becomes `₁₆`: dropping the tags alone would glue the base to the number
/// (`47808<sub>10</sub>` would read `4780810`). Non-digits inside keep their form.
fn replace_subscripts(text: &str) -> String {
    rewrite_each(text, "<sub>", |tail, out| {
        let inside = &tail["<sub>".len()..];
        let (content, after) = inside.split_once("</sub>").unwrap_or((inside, ""));
        out.extend(content.chars().map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x2080 + d).unwrap_or(c),
            None => c,
        }));
        after
    })
}

/// Drops the tags of [`DROPPED_TAGS`] (content kept) and turns `<br />` into a space.
fn remove_tags(text: &str) -> String {
    rewrite_each(text, "<", |tail, out| {
        let name: String = tail[1..]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        match tail.find('>') {
            Some(end) if name == "br" => {
                out.push(' ');
                &tail[end + 1..]
            }
            Some(end) if DROPPED_TAGS.contains(&name.as_str()) => &tail[end + 1..],
            _ => {
                out.push('<');
                &tail[1..]
            }
        }
    })
}

/// Drops table attributes that leaked into a cell: `colspan="2"`, `colspan=2`.
fn remove_colspans(text: &str) -> String {
    rewrite_each(text, "colspan=", |tail, _| {
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        &tail[end..]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TSV line (without newline) the converter makes of one markdown row.
    fn converted(row: &str) -> String {
        let markdown = format!(
            "| Port | TCP | UDP | SCTP | DCCP | Description |\n|---|---|---|---|---|---|\n{row}\n"
        );
        let tsv = convert_markdown("test.md", &markdown).unwrap();
        tsv.lines().last().unwrap().to_owned()
    }

    #[test]
    fn golden_rows() {
        let cases = [
            // Plain row, empty SCTP and DCCP cells.
            (
                "| 7 | Yes | Yes |  |  | Echo Protocol |",
                "7\tYes\tYes\t-\t-\tEcho Protocol",
            ),
            // Range kept as a range.
            (
                "| 6881-6887 | Unofficial | Unofficial |  |  | BitTorrent part of full range of ports used most often |",
                "6881-6887\tUnofficial\tUnofficial\t-\t-\tBitTorrent part of full range of ports used most often",
            ),
            // Only UDP listed; empty description.
            (
                "| 62078 | Unofficial |  |  |  |  |",
                "62078\tUnofficial\t-\t-\t-\t",
            ),
            // Every protocol listed.
            (
                "| 9 | Yes | Yes | Yes | Assigned | Discard Protocol |",
                "9\tYes\tYes\tYes\tAssigned\tDiscard Protocol",
            ),
            // <code>.
            (
                "| 1311 | Yes | Yes |  |  | Windows <code>RxMon.exe</code> |",
                "1311\tYes\tYes\t-\t-\tWindows RxMon.exe",
            ),
            // <span ...>.
            (
                "| 1645 |  | Unofficial |  |  | TCP port 1645 <span style=\"text-transform: uppercase;\">must not</span> be used for RADIUS. |",
                "1645\t-\tUnofficial\t-\t-\tTCP port 1645 must not be used for RADIUS.",
            ),
            // <br /> becomes a space.
            (
                "| 5010 | Yes | Yes |  |  | Registered to: TelePath<br />The TCP port is now used for: IBM |",
                "5010\tYes\tYes\t-\t-\tRegistered to: TelePath The TCP port is now used for: IBM",
            ),
            // <ref .../> dropped, and <ref>...</ref> with its content.
            (
                "| 12046 | Unofficial |  |  |  | Second Life, used for LSL HTTP in-bound<ref name=\"wiki.secondlife.com/wiki/LSL_HTTP_server@Functions\"/> |",
                "12046\tUnofficial\t-\t-\t-\tSecond Life, used for LSL HTTP in-bound",
            ),
            (
                "| 1 | Yes |  |  |  | A<ref>note [1]</ref> B |",
                "1\tYes\t-\t-\t-\tA B",
            ),
            // External links become their label.
            (
                "| 22067 | Unofficial |  |  |  | [https://docs.syncthing.net/users/strelaysrv.html Syncthing Relay Server] (strelaysrv) |",
                "22067\tUnofficial\t-\t-\t-\tSyncthing Relay Server (strelaysrv)",
            ),
            // Stray braces, alone or trailing.
            ("| 1023 |  |  |  |  | } |", "1023\t-\t-\t-\t-\t"),
            (
                "| 64738 | Unofficial | Unofficial |  |  | Mumble } |",
                "64738\tUnofficial\tUnofficial\t-\t-\tMumble",
            ),
            // Leaked colspan attribute.
            (
                "| 50160 |  |  |  |  | colspan=\"2\" S-CONNECT protocol - data exchange (TCP) and manual device pairing (UDP). |",
                "50160\t-\t-\t-\t-\tS-CONNECT protocol - data exchange (TCP) and manual device pairing (UDP).",
            ),
            // <abbr> dropped, <sub> digits become subscripts.
            (
                "| 33848 |  | Unofficial |  |  | Jenkins, a continuous integration (<abbr>CI</abbr>) tool |",
                "33848\t-\tUnofficial\t-\t-\tJenkins, a continuous integration (CI) tool",
            ),
            (
                "| 47808-47823 | Yes | Yes |  |  | (47808<sub>10</sub> = BAC0<sub>16</sub>) |",
                "47808-47823\tYes\tYes\t-\t-\t(47808₁₀ = BAC0₁₆)",
            ),
            // The row with an extra cell: a wiki link whose `|` split the description.
            (
                "| 7144-7145 | Unofficial |  |  |  | [Peer Cast]|Peercast |",
                "7144-7145\tUnofficial\t-\t-\t-\tPeercast",
            ),
            // Square brackets that are not links stay.
            (
                "| 45 | Assigned | Assigned |  |  | mpm (Message Processing Module [recv]) |",
                "45\tAssigned\tAssigned\t-\t-\tmpm (Message Processing Module [recv])",
            ),
            // Non-ASCII kept byte for byte; runs of spaces collapsed.
            (
                "| 23 | Yes | Assigned |  |  | Telnet protocol—unencrypted   text communications |",
                "23\tYes\tAssigned\t-\t-\tTelnet protocol—unencrypted text communications",
            ),
            (
                "| 3 | Yes |  |  |  | Café ünïcode – ok |",
                "3\tYes\t-\t-\t-\tCafé ünïcode – ok",
            ),
        ];
        for (row, want) in cases {
            assert_eq!(converted(row), want, "{row}");
        }
    }

    #[test]
    fn long_descriptions_are_kept_whole() {
        let long = "word ".repeat(80);
        let line = converted(&format!("| 1645 |  | Unofficial |  |  | {long} |"));
        assert_eq!(
            line,
            format!("1645\t-\tUnofficial\t-\t-\t{}", long.trim_end())
        );
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let markdown = "# title\n\n| Port | TCP | UDP | SCTP | DCCP | Description |\n|---|---|---|---|---|---|\n\
            | 7 | Yes | Yes |  |  | Echo |\n| 70000 | Yes |  |  |  | too big |\n| 8 | Maybe |  |  |  | odd |\n| 9 | Yes | x |\n";
        let errors = convert_markdown("in.md", markdown).unwrap_err().to_string();
        assert_eq!(
            errors,
            "in.md:6: bad port or range \"70000\"\nin.md:7: bad status \"Maybe\"\nin.md:8: expected 6 cells, found 3"
        );
    }

    #[test]
    fn output_starts_with_comments_and_header() {
        let tsv = convert_markdown("x.md", "").unwrap();
        assert!(
            tsv.lines()
                .all(|l| l.starts_with('#') || l == PORTS_TSV_HEADER)
        );
        assert!(tsv.ends_with(&format!("{PORTS_TSV_HEADER}\n")));
    }
}
