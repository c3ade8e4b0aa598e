//! The one error for a problem at a line of a file a person wrote: the data files, the
//! configuration file and the TSIG key files all report `file:line: reason`.

use std::fmt;

/// One problem in one file, shown as `file:line: reason` (or `file: reason` when it concerns
/// the whole file), the form editors and compilers use, so the line can be jumped to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", Location(file, *line))]
pub struct FileError {
    /// The file, as named to the user (the path read, or `data/NAME` for the built-in data).
    pub(crate) file: String,
    /// The 1-based line the problem starts on; 0 when it concerns the whole file.
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) reason: String,
}

impl FileError {
    pub(crate) fn new(file: &str, line: usize, reason: impl Into<String>) -> FileError {
        FileError {
            file: file.to_owned(),
            line,
            reason: reason.into(),
        }
    }

    /// A problem at byte `offset` of `text`, named by the line holding that byte.
    pub(crate) fn at_offset(
        file: &str,
        text: &str,
        offset: usize,
        reason: impl Into<String>,
    ) -> FileError {
        let line = text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count()
            + 1;
        FileError::new(file, line, reason)
    }
}

/// `file:line`, or `file` alone for whole-file problems.
struct Location<'a>(&'a str, usize);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            0 => f.write_str(self.0),
            line => write!(f, "{}:{line}", self.0),
        }
    }
}
