//! `--watch`: turns changes to the data files into "reload now" signals.
//!
//! The data directory is watched with inotify (through the `notify` crate). Only events that
//! change one of the data files count: the reload's own reading of the files must not set off
//! another reload, and an editor's swap files are none of portsd's business. Changes are
//! debounced: a signal comes once the files have been left alone for `SETTLE_TIME`, so copying
//! several files in, or a write followed by a rename, costs one reload.

use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{ErrorKind, Event, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::warn;

use crate::sources::{EXCERPT, IANA_CSV, LOCAL_TSV, PORTS_TSV, SYNONYMS_TSV};

/// How long the data files must stay untouched after a change before the reload starts.
pub(crate) const SETTLE_TIME: Duration = Duration::from_millis(200);

/// The files of the data directory whose changes matter.
const DATA_FILES: [&str; 5] = [PORTS_TSV, EXCERPT, IANA_CSV, LOCAL_TSV, SYNONYMS_TSV];

/// The data directory cannot be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir}: {reason}")]
pub struct WatchError {
    /// The directory.
    pub(crate) dir: String,
    /// Why, in words (notify's own message repeats the path).
    pub(crate) reason: String,
}

impl WatchError {
    fn new(dir: &Path, error: notify::Error) -> WatchError {
        let reason = match error.kind {
            ErrorKind::PathNotFound => "no such directory".to_owned(),
            ErrorKind::Io(io) => io.to_string(),
            ErrorKind::MaxFilesWatch => {
                "the system's limit on inotify watches is reached (fs.inotify.max_user_watches)"
                    .to_owned()
            }
            ErrorKind::Generic(reason) => reason,
            other => format!("{other:?}"),
        };
        WatchError {
            dir: dir.display().to_string(),
            reason,
        }
    }
}

/// Reports changes to the data files of one directory.
pub struct DataWatcher {
    /// Owns the inotify watch; dropping it ends the events.
    _watcher: RecommendedWatcher,
    /// One unit per batch of events; capacity 1, as an unread unit already means "changed".
    changes: mpsc::Receiver<()>,
}

impl DataWatcher {
    /// Starts watching `dir` (not its subdirectories).
    pub fn new(dir: &Path) -> Result<DataWatcher, WatchError> {
        let error = |error| WatchError::new(dir, error);
        let (sender, changes) = mpsc::channel(1);
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
            match event {
                Ok(event) if changes_data(&event) => {
                    // Full means a change is already waiting to be read: nothing is lost.
                    let _ = sender.try_send(());
                }
                Ok(_) => {}
                Err(error) => warn!(%error, "watching the data directory"),
            }
        })
        .map_err(error)?;
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(error)?;
        Ok(DataWatcher {
            _watcher: watcher,
            changes,
        })
    }

    /// Waits until the data files have changed and then settled.
    pub(crate) async fn changed(&mut self) {
        if !settle(&mut self.changes, SETTLE_TIME).await {
            // The watch ended (it cannot while `self` owns it); never report again.
            std::future::pending::<()>().await;
        }
    }
}

/// Waits for the next settled change of `watcher`'s files; forever when there is no watcher.
pub(crate) async fn next_change(watcher: &mut Option<DataWatcher>) {
    match watcher {
        Some(watcher) => watcher.changed().await,
        None => std::future::pending().await,
    }
}

/// Whether `event` wrote, created, renamed or removed one of the data files. Opening a file (as
/// the reload itself does) is not a change; closing one that was open for writing is. When the
/// kernel dropped events (its queue overflowed), anything may have changed.
fn changes_data(event: &Event) -> bool {
    if event.need_rescan() {
        return true;
    }
    let relevant = match event.kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    };
    relevant
        && event.paths.iter().any(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| DATA_FILES.contains(&name))
        })
}

/// Waits for a unit on `changes`, then until `quiet` passes without another. False when the
/// sender is gone and nothing was received.
async fn settle(changes: &mut mpsc::Receiver<()>, quiet: Duration) -> bool {
    if changes.recv().await.is_none() {
        return false;
    }
    // A closed channel ends the burst as surely as a quiet period does.
    while let Ok(Some(())) = tokio::time::timeout(quiet, changes.recv()).await {}
    true
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use notify::event::{CreateKind, DataChange, ModifyKind, RenameMode};
    use tokio::time::Instant;

    use super::*;

    fn event(kind: EventKind, file: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from("/srv/data").join(file))
    }

    #[test]
    fn only_changes_to_data_files_count() {
        let written = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let cases = [
            (written, LOCAL_TSV, true),
            (written, IANA_CSV, true),
            (EventKind::Create(CreateKind::File), PORTS_TSV, true),
            (
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                EXCERPT,
                true,
            ),
            (
                EventKind::Remove(notify::event::RemoveKind::File),
                LOCAL_TSV,
                true,
            ),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                LOCAL_TSV,
                true,
            ),
            (
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                LOCAL_TSV,
                false,
            ),
            (EventKind::Access(AccessKind::Read), PORTS_TSV, false),
            (written, ".local.tsv.swp", false),
            (written, "README", false),
            (EventKind::Create(CreateKind::File), "local.tsv~", false),
        ];
        let overflow = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert!(
            changes_data(&overflow),
            "events were lost: reload to be safe"
        );
        for (kind, file, expected) in cases {
            assert_eq!(
                changes_data(&event(kind, file)),
                expected,
                "{kind:?} {file}"
            );
        }
    }

    /// Sends one unit after each pause, then drops the sender.
    fn send_after(pauses: Vec<u64>) -> mpsc::Receiver<()> {
        let (sender, receiver) = mpsc::channel(1);
        tokio::spawn(async move {
            for pause in pauses {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let _ = sender.try_send(());
            }
            std::future::pending::<()>().await;
        });
        receiver
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_settles_into_one_signal() {
        let start = Instant::now();
        let mut changes = send_after(vec![10, 50, 50, 150]);
        assert!(settle(&mut changes, SETTLE_TIME).await);
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(260) + SETTLE_TIME,
            "the signal comes one quiet period after the last event of the burst"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn separate_changes_give_separate_signals() {
        let start = Instant::now();
        let mut changes = send_after(vec![10, 1_000]);
        assert!(settle(&mut changes, SETTLE_TIME).await);
        assert_eq!(start.elapsed(), Duration::from_millis(10) + SETTLE_TIME);
        assert!(settle(&mut changes, SETTLE_TIME).await);
        assert_eq!(start.elapsed(), Duration::from_millis(1_010) + SETTLE_TIME);
    }

    #[tokio::test]
    async fn an_ended_watch_reports_nothing() {
        let (sender, mut changes) = mpsc::channel(1);
        drop(sender);
        assert!(!settle(&mut changes, SETTLE_TIME).await);
    }

    #[tokio::test]
    async fn writing_a_data_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = DataWatcher::new(dir.path()).unwrap();
        std::fs::write(dir.path().join(LOCAL_TSV), "8443\ttcp\t-\tx\n").unwrap();
        tokio::time::timeout(Duration::from_secs(10), watcher.changed())
            .await
            .expect("the write is reported");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let err = DataWatcher::new(Path::new("/nonexistent/portsd-data"))
            .err()
            .expect("no such directory")
            .to_string();
        assert_eq!(
            err,
            "cannot watch /nonexistent/portsd-data: no such directory"
        );
    }
}
