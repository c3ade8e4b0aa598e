//! Keeping a data directory's IANA registry fresh (`portsd update-data`) and completing a data
//! directory from the packaged files (`portsd seed-data`).
//!
//! An update never leaves a directory worse than it found it: the download is checked with
//! the loader `serve` uses, together with the directory's other files, before anything is
//! written; the new file is written beside the old one, flushed to disk and renamed over it,
//! so a reader (the daemon reloading, a crash, a full disk) sees the old registry or the new
//! one, never a part.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sources::{self, RegistryChanges};

/// The largest registry accepted: IANA's is about 4 MiB; anything far beyond is not it.
const MAX_REGISTRY_BYTES: u64 = 64 * 1024 * 1024;

/// Why an update did not happen. Each kind has its own exit status (see [`UpdateError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Nothing usable was downloaded: HTTP error, timeout, connection lost, short body.
    #[error("download from {url} failed: {reason}")]
    Download {
        /// The URL asked for.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// What was downloaded is not a registry the loader accepts.
    #[error("{url} did not give a usable registry: {reason}")]
    NotRegistry {
        /// The URL asked for.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The data directory could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The error.
        reason: io::Error,
    },
}

impl UpdateError {
    /// The exit status `portsd update-data` ends with: 3 for a failed download, 4 for a
    /// download that is not a registry, 5 for a directory that cannot be used.
    pub fn exit_code(&self) -> u8 {
        match self {
            UpdateError::Download { .. } => 3,
            UpdateError::NotRegistry { .. } => 4,
            UpdateError::Io { .. } => 5,
        }
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> UpdateError + '_ {
        move |reason| UpdateError::Io {
            path: path.to_owned(),
            reason,
        }
    }
}

/// What an update did.
#[derive(Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The file was replaced.
    Replaced(RegistryChanges),
    /// The download is byte for byte the file already there, which was left untouched.
    AlreadyCurrent {
        /// Records of the registry that answer.
        records: usize,
    },
}

/// Downloads the registry from `url` (within `timeout`) and replaces `dir`'s copy with it when
/// it loads with the rest of `dir` and differs from it.
pub fn update_registry(
    dir: &Path,
    url: &str,
    timeout: Duration,
) -> Result<UpdateOutcome, UpdateError> {
    let target = dir.join(sources::IANA_CSV);
    let old = fs::read_to_string(&target).map_err(UpdateError::io(&target))?;
    let new = download(url, timeout)?;
    let not_registry = |reason: String| UpdateError::NotRegistry {
        url: url.to_owned(),
        reason,
    };
    let new = String::from_utf8(new).map_err(|_| not_registry("not UTF-8 text".into()))?;
    if new.trim_start().starts_with('<') {
        return Err(not_registry(
            "an HTML or XML page, not the CSV (is the URL right?)".into(),
        ));
    }
    if new == old {
        let changes = sources::registry_changes((url, &new), (url, &new))
            .map_err(|errors| not_registry(errors.to_string()))?;
        return Ok(UpdateOutcome::AlreadyCurrent {
            records: changes.records,
        });
    }
    sources::load_dir_with_registry(dir, url, &new)
        .map_err(|errors| not_registry(errors.to_string()))?;
    let old_label = target.display().to_string();
    let changes = sources::registry_changes((&old_label, &old), (url, &new))
        .map_err(|errors| not_registry(errors.to_string()))?;
    // A registry that loads but lost most of its records is a truncated or wrong file that
    // happens to end on a record boundary; IANA's registry only grows.
    let old_records = changes.records + changes.removed - changes.added;
    if changes.records < old_records / 2 {
        return Err(not_registry(format!(
            "it holds {} records where {old_label} holds {old_records}; \
             refusing to drop more than half of the registry",
            changes.records
        )));
    }
    replace_file(&target, new.as_bytes())?;
    Ok(UpdateOutcome::Replaced(changes))
}

/// Fetches `url` whole. Redirects are followed; certificates are checked against the
/// system's trust store (on Debian, the ca-certificates package), as the rest of the system
/// does, rather than a list compiled into the binary.
fn download(url: &str, timeout: Duration) -> Result<Vec<u8>, UpdateError> {
    let failed = |reason: String| UpdateError::Download {
        url: url.to_owned(),
        reason,
    };
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("portsd/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if status != ureq::http::StatusCode::OK {
        return Err(failed(format!("HTTP status {status}")));
    }
    // A body shorter than its Content-Length is an error from ureq, so a connection cut
    // mid-transfer never passes for a complete file.
    response
        .body_mut()
        .with_config()
        .limit(MAX_REGISTRY_BYTES)
        .read_to_vec()
        .map_err(|e| failed(e.to_string()))
}

/// Writes `contents` to a new file in `target`'s directory, flushes it to disk, renames it
/// over `target` (which replaces a symbolic link itself, not what it points to), and flushes
/// the directory so the rename survives a crash. The new file is readable by everyone, as
/// the data files must be for the daemon's dynamic user.
fn replace_file(target: &Path, contents: &[u8]) -> Result<(), UpdateError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".portsd-update-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(UpdateError::io(dir))?;
    file.write_all(contents)
        .and_then(|()| file.as_file().sync_all())
        .map_err(UpdateError::io(file.path()))?;
    file.persist(target)
        .map_err(|e| UpdateError::io(target)(e.error))?;
    fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(UpdateError::io(dir))
}

/// Links into `dir` (created when missing) each data file it lacks, from the first of `from`
/// that has it; returns the links made. A dangling link in `dir` counts as missing.
pub fn seed_data(dir: &Path, from: &[PathBuf]) -> Result<Vec<PathBuf>, UpdateError> {
    fs::create_dir_all(dir).map_err(UpdateError::io(dir))?;
    let mut linked = Vec::new();
    for name in [
        sources::PORTS_TSV,
        sources::EXCERPT,
        sources::IANA_CSV,
        sources::LOCAL_TSV,
    ] {
        let link = dir.join(name);
        if link.exists() {
            continue;
        }
        let Some(source) = from.iter().map(|d| d.join(name)).find(|path| path.exists()) else {
            continue;
        };
        let source = std::path::absolute(&source).map_err(UpdateError::io(&source))?;
        if link.symlink_metadata().is_ok() {
            fs::remove_file(&link).map_err(UpdateError::io(&link))?;
        }
        std::os::unix::fs::symlink(&source, &link).map_err(UpdateError::io(&link))?;
        linked.push(link);
    }
    Ok(linked)
}
