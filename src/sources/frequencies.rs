//! nmap's `nmap-services`: how often each port was found open on the hosts nmap's authors
//! scanned, the signal `nmap --top-ports` ranks by. Read at run time from the host (Debian's
//! `nmap-common` installs it as `/usr/share/nmap/nmap-services`), never bundled: it is
//! licensed with nmap. The parser is a pure function of the text, for the fuzzer.
//!
//! Format, one port per line: `NAME<TAB>PORT/PROTOCOL<TAB>FREQUENCY[<TAB># COMMENT]`, the
//! frequency a decimal fraction between 0 and 1; lines starting with `#` and blank lines are
//! comments. Lines on protocols portsd does not serve are skipped; `unknown` as a name means
//! nmap has none.

use super::common::{DataError, HostFile};
use crate::core::model::{FREQUENCY_SCALE, PortFrequency, Protocol};

/// The frequency file read when none is configured, if it exists.
pub const DEFAULT_FREQUENCIES: &str = "/usr/share/nmap/nmap-services";

/// Which frequency file to read ([`HostFile::from_setting`] with [`DEFAULT_FREQUENCIES`]).
pub type FrequenciesFile = HostFile;

/// Parses `nmap-services` text into one record per line on a protocol portsd serves, in file
/// order; every malformed line is a problem naming its line.
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> Vec<PortFrequency> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (content, comment) = match line.split_once('#') {
            Some((content, comment)) => (content, Some(comment.trim())),
            None => (line, None),
        };
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [name, port_protocol, frequency] = fields[..] else {
            problems.push(DataError::new(
                file,
                line_number,
                format!(
                    "expected NAME PORT/PROTOCOL FREQUENCY, found {} fields",
                    fields.len()
                ),
            ));
            continue;
        };
        let Some((port, protocol)) = port_protocol.split_once('/') else {
            let reason = format!("expected PORT/PROTOCOL, found {port_protocol:?}");
            problems.push(DataError::new(file, line_number, reason));
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            let reason = format!("bad port {port:?}");
            problems.push(DataError::new(file, line_number, reason));
            continue;
        };
        let Some(frequency) = millionths(frequency) else {
            let reason = format!("bad frequency {frequency:?}: expected a number from 0 to 1");
            problems.push(DataError::new(file, line_number, reason));
            continue;
        };
        let Some(protocol) = Protocol::from_label(protocol.as_bytes()) else {
            continue;
        };
        records.push(PortFrequency {
            protocol,
            port,
            frequency,
            name: (name != "unknown").then(|| name.to_ascii_lowercase()),
            comment: comment.filter(|c| !c.is_empty()).map(str::to_owned),
        });
    }
    records
}

/// A decimal fraction from 0 to 1 in millionths, rounded; `None` for anything else.
fn millionths(text: &str) -> Option<u32> {
    let value: f64 = text.parse().ok()?;
    // `contains` is false for NaN.
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * f64::from(FREQUENCY_SCALE)).round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Vec<PortFrequency>, Vec<String>) {
        let mut problems = Vec::new();
        let records = parse("nmap-services", text, &mut problems);
        (records, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn lines_become_frequencies() {
        let text = "# Fields: name port/proto frequency\n\
                    \n\
                    http\t80/tcp\t0.484143\t# World Wide Web HTTP\n\
                    unknown\t1/udp\t0.000500\n\
                    ms-wbt-server\t3389/tcp\t0.083904\t# Microsoft Remote Display Protocol\n\
                    sctp-thing\t9/sctp\t0.000001\n\
                    x\t9/ddp\t0.1\n";
        let (records, problems) = parsed(text);
        assert!(problems.is_empty(), "{problems:?}");
        let got: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    r.protocol,
                    r.port,
                    r.frequency,
                    r.name.as_deref(),
                    r.comment.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Protocol::Tcp,
                    80,
                    484_143,
                    Some("http"),
                    Some("World Wide Web HTTP")
                ),
                (Protocol::Udp, 1, 500, None, None),
                (
                    Protocol::Tcp,
                    3389,
                    83_904,
                    Some("ms-wbt-server"),
                    Some("Microsoft Remote Display Protocol")
                ),
                (Protocol::Sctp, 9, 1, Some("sctp-thing"), None),
            ]
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let text = "ok\t1/tcp\t0.1\nshort\t2/tcp\nnoproto\t3\t0.1\nbig\t70000/tcp\t0.1\nmuch\t4/tcp\t1.5\nnan\t5/tcp\tNaN\n";
        let (records, problems) = parsed(text);
        assert_eq!(records.len(), 1);
        assert_eq!(
            problems,
            [
                "nmap-services:2: expected NAME PORT/PROTOCOL FREQUENCY, found 2 fields",
                "nmap-services:3: expected PORT/PROTOCOL, found \"3\"",
                "nmap-services:4: bad port \"70000\"",
                "nmap-services:5: bad frequency \"1.5\": expected a number from 0 to 1",
                "nmap-services:6: bad frequency \"NaN\": expected a number from 0 to 1",
            ]
        );
    }
}
