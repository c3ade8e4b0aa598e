//! Compresses the two large compiled-in data files into `OUT_DIR` (DEFLATE; src/sources/mod.rs
//! inflates them at load), and records the date of the compiled-in data (`PORTSD_DATA_DATE`,
//! Unix seconds), from which the SOA serial of the built-in table derives (src/core/serial.rs).
//!
//! Compressed, the 1.3 MB of text are some 250 KB of the binary: the daemon reads them once
//! at start, and pages of the binary it has read stay in its resident memory, where the
//! inflated copy is freed as soon as the table is built. The date must be the same for
//! every build of the same data, so it is, in order: `SOURCE_DATE_EPOCH` when set (reproducible
//! builds); the date of the last commit touching `data/` when the files are as committed; the
//! newest modification time of the files otherwise (a source tarball keeps them; an edited
//! checkout gets the time of the edit).

use std::path::Path;
use std::process::Command;
use std::time::UNIX_EPOCH;

/// The files compiled in compressed: `data/NAME` becomes `$OUT_DIR/NAME.deflate`.
const COMPRESSED: [&str; 2] = ["iana-service-names-port-numbers.csv", "ports.tsv"];

const FILES: [&str; 6] = [
    "data/ports.tsv",
    "data/port-list-excerpt.txt",
    "data/iana-service-names-port-numbers.csv",
    "data/local.tsv",
    "data/synonyms.tsv",
    "data/vendor-ports.tsv",
];

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    for file in FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(committed_date)
        .unwrap_or_else(newest_mtime);
    println!("cargo:rustc-env=PORTSD_DATA_DATE={date}");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    for name in COMPRESSED {
        let text = std::fs::read(Path::new("data").join(name))
            .unwrap_or_else(|e| panic!("data/{name}: {e}"));
        let packed = miniz_oxide::deflate::compress_to_vec(&text, 9);
        std::fs::write(Path::new(&out).join(format!("{name}.deflate")), packed)
            .unwrap_or_else(|e| panic!("writing {name}.deflate: {e}"));
    }
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The commit date of the data files, when they are exactly as committed.
fn committed_date() -> Option<u64> {
    let mut status = vec!["status", "--porcelain", "--"];
    status.extend(FILES);
    if !git(&status)?.is_empty() {
        return None;
    }
    let mut log = vec!["log", "-1", "--format=%ct", "--"];
    log.extend(FILES);
    git(&log)?.parse().ok()
}

fn newest_mtime() -> u64 {
    FILES
        .iter()
        .filter_map(|file| std::fs::metadata(Path::new(file)).ok()?.modified().ok())
        .filter_map(|time| time.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .max()
        .unwrap_or(0)
}
