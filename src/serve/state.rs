//! `--state-dir`: what portsd keeps on disk between runs, in one directory per zone served
//! (`<state-dir>/ports.local/`), which is the serial last served and the fingerprint of the
//! zone it was served for (file `serial`), the IXFR differences leading to it (file
//! `journal`), and the zone served itself (file `zone.SERIAL`), the last two in the forms
//! `pipeline::transfer` reads and writes; and, with `--catalog`, the catalog zone's serial and
//! fingerprint in the state directory itself (file `catalog`).
//!
//! After each reload that changes the serial the new zone is written (beside the one before),
//! then the journal, then the zone before is removed. At start, once the first snapshot's
//! digest is computed ([`StateDir::catch_up`]), the zone kept is compared with the zone
//! loaded and their difference appended to the journal: a secondary that was current before
//! the restart gets an IXFR whatever changed meanwhile (the data edited while stopped, a
//! package upgrade, a crash between any two of those writes). A file that is missing is a
//! fresh start; one that is cut short, altered, of another version or of a zone with other
//! settings is one warning, and secondaries behind get the whole zone once.
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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{debug, info, warn};

use crate::core::serial::{Served, is_newer};
use crate::core::zone::{Snapshot, Zone};
use crate::pipeline::transfer::{Journal, StoredZone};
use crate::pipeline::{StartUp, ZoneState};

/// The files in the state directory.
const SERIAL_FILE: &str = "serial";
/// The catalog zone's serial and fingerprint (`--catalog`), in the form of [`SERIAL_FILE`].
const CATALOG_FILE: &str = "catalog";
const JOURNAL_FILE: &str = "journal";
/// A zone served is kept as `zone.SERIAL`.
const ZONE_PREFIX: &str = "zone.";
/// What a file being written is called, before the writer's process ID: a name with it that
/// is still there at start was left by a crash.
const TEMPORARY: &str = "new.";

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
    /// Set once a file of this directory (or of the zones' directories in it) could not be
    /// read or written: that is one warning a run, not one a file.
    trouble: Arc<AtomicBool>,
}

impl StateDir {
    /// The state kept in `dir` (created when first written).
    pub(crate) fn new(dir: PathBuf) -> StateDir {
        StateDir {
            dir,
            trouble: Arc::default(),
        }
    }

    /// Reports a file of the state directory that cannot be read or written (`what` says
    /// which): the first time in a run as a warning saying what it costs and what to check,
    /// after that at debug level, since a directory that cannot be written fails every write
    /// alike.
    fn io_problem(&self, path: &Path, error: &std::io::Error, what: &str) {
        if self.trouble.swap(true, Ordering::Relaxed) {
            debug!(path = %path.display(), %error, "{what}");
        } else {
            warn!(
                path = %path.display(),
                %error,
                "{what}: the state directory is not usable; portsd serves on, but secondaries \
                 behind after a restart may need a full transfer (check --state-dir, its owner \
                 and its permissions)"
            );
        }
    }

    /// Each zone's own directory in this one, named after the zone (`ports.local/`), in the
    /// order of `zones`. The files a version of portsd serving one zone kept in this
    /// directory itself are moved into the first zone's directory the first time (they are
    /// that zone's, under its settings' fingerprint: a first zone that is another one gets
    /// the one warning a zone kept for other settings gets).
    pub(crate) fn zone_dirs(&self, zones: &[Zone]) -> Vec<StateDir> {
        let dirs: Vec<StateDir> = zones.iter().map(|zone| self.zone_dir(zone)).collect();
        if let Some(first) = dirs.first()
            && self.file().exists()
            && !first.dir.exists()
        {
            self.move_into(first);
        }
        dirs
    }

    /// `zone`'s own directory in this one.
    fn zone_dir(&self, zone: &Zone) -> StateDir {
        StateDir {
            dir: self.dir.join(zone.display_name()),
            trouble: self.trouble.clone(),
        }
    }

    /// The serial and zone fingerprint last recorded for `zone`, read only (`export-zone`):
    /// from the zone's own directory, else from this one as a version serving one zone kept
    /// it.
    pub fn served_for(&self, zone: &Zone) -> Option<Served> {
        let own = self.zone_dir(zone);
        if own.file().exists() {
            own.served()
        } else {
            self.served()
        }
    }

    /// Moves the files of one zone kept in this directory itself into `into`'s.
    fn move_into(&self, into: &StateDir) {
        let moved = std::fs::create_dir(&into.dir).and_then(|()| {
            for entry in std::fs::read_dir(&self.dir)?.filter_map(Result::ok) {
                let name = entry.file_name();
                let ours = name.to_str().is_some_and(|name| {
                    [SERIAL_FILE, JOURNAL_FILE].contains(&name) || name.starts_with(ZONE_PREFIX)
                });
                if ours && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                    std::fs::rename(entry.path(), into.dir.join(&name))?;
                }
            }
            std::fs::File::open(&self.dir)?.sync_all()
        });
        match moved {
            Ok(()) => info!(
                into = %into.dir.display(),
                "the state kept for one zone moved into the zone's own directory"
            ),
            Err(error) => self.io_problem(
                &into.dir,
                &error,
                "cannot move the state kept into the zone's own directory",
            ),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(SERIAL_FILE)
    }

    /// The serial and zone fingerprint last recorded, if any.
    pub fn served(&self) -> Option<Served> {
        self.served_in(SERIAL_FILE)
    }

    /// The catalog zone's serial and fingerprint last recorded, if any.
    pub(crate) fn catalog_served(&self) -> Option<Served> {
        self.served_in(CATALOG_FILE)
    }

    /// The serial and fingerprint recorded in `file`, if any.
    fn served_in(&self, file: &str) -> Option<Served> {
        let path = self.dir.join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => return None,
            Err(error) => {
                self.io_problem(&path, &error, "cannot read the recorded serial");
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
                self.io_problem(&path, &error, "cannot read the journal; starting a new one");
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
            self.io_problem(&path, &error, "cannot write the journal");
        }
    }

    /// Records `snapshot` served as `zone` (unless it is there already), for the difference
    /// the next start computes.
    pub(crate) fn record_zone(&self, zone: &Zone, snapshot: &Snapshot) {
        let path = self.dir.join(format!("{ZONE_PREFIX}{}", snapshot.serial));
        if path.exists() {
            return;
        }
        if let Err(error) = write_replacing(&self.dir, &path, &StoredZone::write(zone, snapshot)) {
            self.io_problem(&path, &error, "cannot keep the zone served");
        }
    }

    /// The serials of the zones kept, by their files' names.
    fn kept_serials(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                name.to_str()?.strip_prefix(ZONE_PREFIX)?.parse().ok()
            })
            .collect()
    }

    /// The zone kept as served with `serial`, if it reads back whole.
    fn kept_zone(&self, serial: u32) -> Option<StoredZone> {
        let path = self.dir.join(format!("{ZONE_PREFIX}{serial}"));
        let bytes = std::fs::read(&path)
            .inspect_err(|error| self.io_problem(&path, error, "cannot read the zone kept"))
            .ok()?;
        StoredZone::read(bytes)
            .inspect_err(
                |error| warn!(path = %path.display(), %error, "the zone kept is not usable"),
            )
            .ok()
            .filter(|zone| zone.serial() == serial)
    }

    /// Removes every zone kept but the one served with `serial`.
    pub(crate) fn remove_zones_except(&self, serial: u32) {
        for old in self.kept_serials().into_iter().filter(|&s| s != serial) {
            let path = self.dir.join(format!("{ZONE_PREFIX}{old}"));
            if let Err(error) = std::fs::remove_file(&path) {
                self.io_problem(&path, &error, "cannot remove a zone kept before");
            }
        }
    }

    /// The bytes the state directory's files take.
    pub(crate) fn disk_bytes(&self) -> u64 {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        entries
            .filter_map(|entry| entry.ok()?.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|metadata| metadata.len())
            .sum()
    }

    /// At start, once the first snapshot's digest is there (`started`): the journal brought
    /// up to the serial served, and what the next start needs written. The journal read back
    /// is used as it is when it leads to the serial served; otherwise the difference from the
    /// zone kept (the one the journal leads to, else the newest) to the zone loaded is
    /// appended to it. Without either, secondaries behind get the whole zone once. Nothing is
    /// written when nothing changed.
    pub(crate) fn catch_up(&self, state: &ZoneState, max_bytes: u64, started: &StartUp) {
        let (zone, snapshot) = (state.zone(), state.snapshot());
        let served = snapshot.serial;
        self.remove_leftovers();
        let journal = self.journal();
        let leads_to = journal.as_ref().and_then(Journal::last_serial);
        if let Some(journal) = journal.as_ref().filter(|_| leads_to == Some(served)) {
            info!(
                serial = served,
                "IXFR differences read back from the journal"
            );
            state.set_journal(started, journal.clone());
            // A crash after the journal's write may have left the zone unwritten.
            self.record_zone(zone, &snapshot);
        } else {
            let journal = self.journal_to(zone, &snapshot, journal, max_bytes);
            state.set_journal(started, journal.clone());
            // The zone before the journal leading to it, as a reload writes them.
            self.record_zone(zone, &snapshot);
            self.record_journal(&journal);
        }
        self.remove_zones_except(served);
        info!(
            zone = zone.display_name(),
            bytes = self.disk_bytes(),
            "state directory up to date"
        );
    }

    /// The journal leading to `snapshot`'s serial: `journal` (which leads elsewhere, or is
    /// missing) extended by the difference from a zone kept, or empty.
    fn journal_to(
        &self,
        zone: &Zone,
        snapshot: &Snapshot,
        journal: Option<Journal>,
        max_bytes: u64,
    ) -> Journal {
        let (served, leads_to) = (
            snapshot.serial,
            journal.as_ref().and_then(Journal::last_serial),
        );
        let kept = self.kept_serials();
        let base = leads_to
            .filter(|serial| kept.contains(serial))
            .or_else(|| newest(&kept))
            .filter(|&serial| serial != served);
        let Some(old) = base.and_then(|serial| self.kept_zone(serial)) else {
            if leads_to.is_some() {
                info!(
                    leads_to,
                    serial = served,
                    "no zone kept for the journal's serial; starting a new journal"
                );
            }
            return Journal::default();
        };
        if !old.is_of(zone) {
            warn!(
                "the zone kept was served with other zone settings; secondaries behind get the whole zone"
            );
            return Journal::default();
        }
        match old.difference_to(zone, snapshot) {
            Ok(difference) => {
                info!(
                    from = old.serial(),
                    to = served,
                    "the zone changed while portsd was stopped; IXFR difference computed"
                );
                let earlier = journal.filter(|_| leads_to == Some(old.serial()));
                earlier.unwrap_or_default().extended(difference, max_bytes)
            }
            Err(error) => {
                warn!(%error, "the zone kept is not usable; secondaries behind get the whole zone");
                Journal::default()
            }
        }
    }

    /// Removes the files a write cut short by a crash left behind.
    fn remove_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if name
                .to_str()
                .is_some_and(|name| name.contains(&format!(".{TEMPORARY}")))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Records that `served` is now served.
    pub(crate) fn record(&self, served: Served) {
        self.record_in(SERIAL_FILE, served);
    }

    /// Records that the catalog zone is now served as `served`.
    pub(crate) fn record_catalog(&self, served: Served) {
        self.record_in(CATALOG_FILE, served);
    }

    /// Records `served` in `file`.
    fn record_in(&self, file: &str, (serial, fingerprint): Served) {
        let path = self.dir.join(file);
        let text = format!(
            "# portsd: the serial last served and its zone's fingerprint\n{serial} {fingerprint:016x}\n"
        );
        if std::fs::read(&path).is_ok_and(|recorded| recorded == text.as_bytes()) {
            return;
        }
        if let Err(error) = write_replacing(&self.dir, &path, text.as_bytes()) {
            self.io_problem(&path, &error, "cannot record the serial");
        }
    }
}

/// The newest of `serials` (RFC 1982).
fn newest(serials: &[u32]) -> Option<u32> {
    serials
        .iter()
        .copied()
        .reduce(|a, b| if is_newer(b, a) { b } else { a })
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
/// record, or none where there was one. The rename is `renameat` with both paths whole (not
/// `rename`, which strace's path filter does not read), so a test can kill portsd exactly
/// there (`tests/binary/restarts.rs`).
fn write_replacing(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension(format!("{TEMPORARY}{}", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    let here = nix::fcntl::AT_FDCWD;
    nix::fcntl::renameat(here, &temporary, here, path)?;
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
    fn the_files_of_one_zone_move_into_the_first_zone_s_directory_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = StateDir::new(dir.path().to_path_buf());
        root.record((5, 6));
        std::fs::write(dir.path().join(JOURNAL_FILE), b"j").unwrap();
        std::fs::write(dir.path().join("zone.5"), b"z").unwrap();
        std::fs::write(dir.path().join("unrelated"), b"u").unwrap();
        let zone = |name: &str| {
            let labels = crate::core::names::parse_domain(name).unwrap();
            let ns = crate::core::names::parse_domain(&format!("ns.{name}")).unwrap();
            Zone::new(labels, ns, Vec::new(), 60)
        };
        let zones = [zone("ports.local"), zone("ports.internal")];
        assert_eq!(
            root.served_for(&zones[0]),
            Some((5, 6)),
            "read where it was"
        );
        let dirs = root.zone_dirs(&zones);
        assert_eq!(dirs[0].served(), Some((5, 6)));
        assert_eq!(root.served_for(&zones[0]), Some((5, 6)));
        assert_eq!(dirs[1].served(), None);
        let first = dir.path().join("ports.local");
        for name in [SERIAL_FILE, JOURNAL_FILE, "zone.5"] {
            assert!(first.join(name).is_file(), "{name} moved");
            assert!(!dir.path().join(name).exists(), "{name} gone");
        }
        assert!(
            dir.path().join("unrelated").is_file(),
            "only the zone's files move"
        );
        // Once the zone has its directory, a record left in the root is not moved over it.
        root.record((9, 9));
        assert_eq!(root.zone_dirs(&zones)[0].served(), Some((5, 6)));
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
