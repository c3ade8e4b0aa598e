//! What the data files' readers share: the one error a problem in a file is, the list of them
//! a load returns, the port list's status words and header, and whitespace folding.

use std::fmt;
use std::path::PathBuf;

use crate::core::model::{PortSpan, Protocol, Status};

/// A status word of the port list's legend (every status but portsd's own Local, System and
/// Unassigned).
pub(super) fn list_status(word: &str) -> Option<Status> {
    Status::from_word(word)
        .filter(|s| !matches!(s, Status::Local | Status::System | Status::Unassigned))
}

/// A status cell of `ports.tsv` for a protocol the list names no status for.
pub(super) const NOT_LISTED: &str = "-";

/// The header line of `ports.tsv`.
pub(super) const PORTS_TSV_HEADER: &str = "port\ttcp\tudp\tsctp\tdccp\tdescription";

/// One problem in one source file: the crate's one `file:line: reason` error.
pub(crate) use crate::file_error::FileError as DataError;

/// Every problem found while loading, in file order. Displays one problem per line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DataErrors(pub Vec<DataError>);

impl DataErrors {
    /// `Err` with the problems, if there are any.
    pub(super) fn check(problems: Vec<DataError>) -> Result<(), DataErrors> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DataErrors(problems))
        }
    }
}

impl fmt::Display for DataErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Parses the rows of a tab-separated file: `#` comments and blank lines are skipped, every
/// other line is one row, and a row `parse_row` refuses is a problem at its line.
pub(super) fn rows<T>(
    file: &str,
    text: &str,
    problems: &mut Vec<DataError>,
    parse_row: impl Fn(&str) -> Result<T, String>,
) -> Vec<T> {
    let mut parsed = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match parse_row(line) {
            Ok(row) => parsed.push(row),
            Err(reason) => problems.push(DataError::new(file, index + 1, reason)),
        }
    }
    parsed
}

/// A row's port or range and protocol cells, read.
pub(super) fn port_and_protocol(
    port: &str,
    protocol: &str,
) -> Result<(PortSpan, Protocol), String> {
    let ports = PortSpan::parse(port).ok_or_else(|| format!("bad port or range {port:?}"))?;
    let protocol = Protocol::from_label(protocol.as_bytes()).ok_or_else(|| {
        format!("unknown protocol {protocol:?} (expected tcp, udp, sctp or dccp)")
    })?;
    Ok((ports, protocol))
}

/// Collapses every run of whitespace (line breaks included) to one space and trims the ends.
pub(super) fn normalise_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A file of the host joined to the data at run time (the services database, nmap's
/// frequencies), decided once from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFile {
    /// The file.
    pub(crate) path: PathBuf,
    /// Whether a missing file is an error: yes when it was named, no for the default.
    pub(crate) required: bool,
}

impl HostFile {
    /// `none` turns the file off, any other text names a file, and no setting means
    /// `default` when it exists.
    pub fn from_setting(setting: Option<&str>, default: &str) -> Option<HostFile> {
        match setting {
            Some("none") => None,
            Some(path) => Some(HostFile {
                path: PathBuf::from(path),
                required: true,
            }),
            None => Some(HostFile {
                path: PathBuf::from(default),
                required: false,
            }),
        }
    }

    /// The file's text; `None` when it is the default and absent.
    pub(crate) fn read(&self) -> Result<Option<String>, DataError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if !self.required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DataError::new(
                &self.path.display().to_string(),
                0,
                format!("cannot read: {e}"),
            )),
        }
    }
}
