//! What the data files' readers share: the one error a problem in a file is, the list of them
//! a load returns, the port list's status words and header, and whitespace folding.

use std::fmt;

use crate::core::model::Status;

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
