//! `--state-dir`: what portsd keeps on disk between runs, which is the serial last served and
//! the fingerprint of the zone it was served for (file `serial`), and the IXFR differences
//! leading to it (file `journal`, in the form `pipeline::transfer` reads and writes).
//!
//! The journal is written the same way after each reload that changes the serial, and read at
//! start: a secondary behind by a change made before a restart then gets an IXFR, not the
//! whole zone. One that is missing is a fresh start; one that is cut short, altered or of
//! another version is logged as a warning and the journal starts afresh.
//!
//! The serial is the data's date unless the data changed without a newer date, when it steps
//! past the served one ([`crate::core::serial`]). Without a record of that step a restart would
//! fall back to the date, a smaller serial than the secondaries hold, and they would keep the
//! old zone until it expires. The record is written (to a temporary file, then renamed over
//! the old one, both synced to disk) whenever the served serial is set, at start and on each
//! reload. A record that is missing is no error (a first start). One that cannot be read or
//! parsed is logged and the start goes on from the data alone, as without `--state-dir`; one
//! that cannot be written is logged, and the serial served stays right until the next start.
//! One state directory belongs to one instance: two sharing it would overwrite each other's
//! record.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::core::serial::Served;
use crate::pipeline::transfer::Journal;

/// The files in the state directory.
const SERIAL_FILE: &str = "serial";
const JOURNAL_FILE: &str = "journal";

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state kept in `dir` (created when first written).
    pub(crate) fn new(dir: PathBuf) -> StateDir {
        StateDir { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(SERIAL_FILE)
    }

    /// The serial and zone fingerprint last recorded, if any.
    pub fn served(&self) -> Option<Served> {
        let path = self.file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => return None,
            Err(error) => {
                warn!(path = %path.display(), %error, "cannot read the recorded serial");
                return None;
            }
        };
        let served = parse(&text);
        if served.is_none() {
            warn!(path = %path.display(), "the recorded serial is not `SERIAL FINGERPRINT`; ignored");
        }
        served
    }

    /// The IXFR differences recorded, if a journal is there and reads back whole.
    pub(crate) fn journal(&self) -> Option<Journal> {
        let path = self.dir.join(JOURNAL_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == ErrorKind::NotFound => return None,
            Err(error) => {
                warn!(path = %path.display(), %error, "cannot read the journal; starting a new one");
                return None;
            }
        };
        Journal::from_bytes(&bytes)
            .inspect_err(|error| {
                warn!(path = %path.display(), %error, "the journal is not usable; starting a new one");
            })
            .ok()
    }

    /// Records `journal` as the IXFR differences kept.
    pub(crate) fn record_journal(&self, journal: &Journal) {
        let path = self.dir.join(JOURNAL_FILE);
        if let Err(error) = write_replacing(&self.dir, &path, &journal.to_bytes()) {
            warn!(path = %path.display(), %error, "cannot write the journal");
        }
    }

    /// Records that `served` is now served.
    pub(crate) fn record(&self, (serial, fingerprint): Served) {
        let path = self.file();
        let text = format!(
            "# portsd: the serial last served and its zone's fingerprint\n{serial} {fingerprint:016x}\n"
        );
        if let Err(error) = write_replacing(&self.dir, &path, text.as_bytes()) {
            warn!(path = %path.display(), %error, "cannot record the serial");
        }
    }
}

/// `SERIAL FINGERPRINT` (decimal, hex) on the first line that is neither blank nor a comment.
/// Serial 0 is never served, so a record of it is damage.
fn parse(text: &str) -> Option<Served> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))?;
    let (serial, fingerprint) = line.split_once(' ')?;
    let serial = serial.parse().ok().filter(|&serial| serial != 0)?;
    Some((serial, u64::from_str_radix(fingerprint, 16).ok()?))
}

/// Writes `bytes` to `path` through a temporary file renamed over it, the file synced before
/// the rename and the directory after, so that neither a crash nor a power cut leaves half a
/// record, or none where there was one.
fn write_replacing(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension(format!("new.{}", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("nested"));
        assert_eq!(state.served(), None);
        state.record((1_796_221_276, 0x0123_4567_89ab_cdef));
        assert_eq!(state.served(), Some((1_796_221_276, 0x0123_4567_89ab_cdef)));
        state.record((7, u64::MAX));
        assert_eq!(state.served(), Some((7, u64::MAX)));
    }

    #[test]
    fn damaged_records_are_ignored() {
        for text in [
            "",
            "# only a comment\n",
            "12\n",
            "x 00\n",
            "12 zz\n",
            "4294967296 0\n",
            "0 ff\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        assert_eq!(parse("# c\n\n5 ff\n"), Some((5, 255)));
    }
}
