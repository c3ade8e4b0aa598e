//! Loading the port table's sources: reading the files of `data/` (or a `--data DIR`), parsing
//! each one, collecting every problem as `file:line: reason`, and merging the rows into
//! [`Entry`]s for [`Table::new`](crate::core::table::Table::new). Also the `portsd check` report.
//!
//! The sources, their formats and the merge rules are documented in `data/README.md`.

mod changes;
mod common;
pub(crate) mod frequencies;
pub(crate) mod iana;
pub(crate) mod local;
mod merge;
pub(crate) mod port_list;
mod scrape;
pub(crate) mod services;
pub(crate) mod synonyms;
mod vendor;
mod wikipedia;

use std::fmt::Write;
use std::path::Path;

use crate::core::model::{Entry, PortName, Source};
use crate::core::table::{Extras, Table};

pub(crate) use changes::{RegistryChanges, registry_changes};
pub(crate) use common::DataError;
pub use common::DataErrors;
pub use common::HostFile;
pub use frequencies::{DEFAULT_FREQUENCIES, FrequenciesFile};
pub use services::{DEFAULT_SERVICES, ServicesFile};
pub use wikipedia::convert_markdown;

/// The port list converted to TSV.
pub const PORTS_TSV: &str = "ports.tsv";
/// The excerpt of the port list the project was specified from.
pub const EXCERPT: &str = "port-list-excerpt.txt";
/// IANA's registry, in IANA's CSV format.
pub const IANA_CSV: &str = "iana-service-names-port-numbers.csv";
/// The site's own ports (optional).
pub const LOCAL_TSV: &str = "local.tsv";
/// The search's synonym list (optional in a data directory: the compiled-in one otherwise).
pub const SYNONYMS_TSV: &str = "synonyms.tsv";
/// Ports as their vendors document them (optional in a data directory: the compiled-in one
/// otherwise).
pub const VENDOR_TSV: &str = "vendor-ports.tsv";

/// The merged entries and what was read to make them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedData {
    /// One entry per use of a port (or range) on a protocol, ready for `Table::new`.
    pub entries: Vec<Entry>,
    /// Rows (records, for IANA's CSV) read from each source file, in `Source::ALL` order.
    pub rows_per_source: Vec<(Source, usize)>,
    /// The names of the system's services database, each with the port it names.
    pub system_names: Vec<PortName>,
    /// Lines of the services database on protocols portsd does not serve (skipped).
    pub other_protocols: usize,
    /// The data's date, Unix seconds: the newest modification time of the files read (for the
    /// compiled-in data, as recorded at build time; the services database counts too). The SOA
    /// serial derives from it ([`crate::core::serial`]).
    pub(crate) date: u32,
    /// What ranks and widens the search: nmap's frequencies and the synonym list.
    pub(crate) extras: Extras,
}

impl LoadedData {
    /// Joins nmap's frequency file (if configured and present): its frequencies rank the
    /// search and make the `top` answers, its names and comments join the search index, its
    /// date joins the data's date.
    pub fn with_frequencies(
        mut self,
        file: Option<&FrequenciesFile>,
    ) -> Result<LoadedData, DataErrors> {
        let Some(file) = file else { return Ok(self) };
        let text = file.read().map_err(|problem| DataErrors(vec![problem]))?;
        let Some(text) = text else { return Ok(self) };
        let mut problems = Vec::new();
        let label = file.path.display().to_string();
        let frequencies = frequencies::parse(&label, &text, &mut problems);
        DataErrors::check(problems)?;
        self.extras.frequencies = frequencies;
        self.date = self.date.max(modified_seconds(&file.path));
        Ok(self)
    }

    /// Joins the system's services database (if configured and present) to the entries.
    pub fn with_services(
        mut self,
        services: Option<&ServicesFile>,
    ) -> Result<LoadedData, DataErrors> {
        let Some(services) = services else {
            return Ok(self);
        };
        let text = services
            .read()
            .map_err(|problem| DataErrors(vec![problem]))?;
        let Some(text) = text else { return Ok(self) };
        let mut problems = Vec::new();
        let label = services.path.display().to_string();
        let parsed = services::parse(&label, &text, &mut problems);
        DataErrors::check(problems)?;
        self.system_names = services::join(&mut self.entries, &parsed.lines);
        self.other_protocols = parsed.other_protocols;
        self.date = self.date.max(modified_seconds(&services.path));
        for (source, rows) in &mut self.rows_per_source {
            if *source == Source::Services {
                *rows = parsed.lines.len() + parsed.other_protocols;
            }
        }
        Ok(self)
    }

    /// The table these entries make, carrying the data's date.
    pub fn into_table(self) -> Table {
        Table::build(self.entries, &self.system_names, self.extras).dated(self.date)
    }

    /// The table these entries make, as [`LoadedData::into_table`] does, but with its search
    /// index left for whoever first needs it ([`Table::build_search_later`]).
    pub(crate) fn into_table_search_later(self) -> Table {
        Table::build_search_later(self.entries, &self.system_names, self.extras).dated(self.date)
    }
}

/// Runs `load` (reading the sources, merging them, building the table) on a thread of its own,
/// then copies the table on the calling thread and drops the original: how `serve` builds
/// every table it keeps.
///
/// A load allocates several times what the table keeps, and the table's tens of thousands of
/// small allocations end up scattered between the load's freed temporaries, holding their
/// pages resident. The copy is made in one sweep once the temporaries are gone, in the calling
/// thread's allocator arena, which the load never used: packed, its lists without spare
/// capacity, while the load's arena is left empty for `serve`'s `malloc_trim` to give back
/// (RSS at rest 19.6 -> 17.1 MiB). The allocator's mmap threshold is pinned first
/// ([`crate::memory`]). A system that refuses the thread fails the load (a reload keeps the
/// table it has).
pub fn build_aside<F>(load: F) -> Result<Table, DataErrors>
where
    F: FnOnce() -> Result<Table, DataErrors> + Send,
{
    crate::memory::fix_mmap_threshold();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("portsd-load".into())
            .spawn_scoped(scope, load)
            .map_err(|error| {
                let reason = format!("no thread to load the data on: {error}");
                DataErrors(vec![DataError::new("portsd", 0, reason)])
            })?;
        let original = match worker.join() {
            Ok(built) => built?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The copy, made here, is what is kept; the original goes now, on this thread.
        let copy = original.clone();
        drop(original);
        Ok(copy)
    })
}

/// The text of each source file and the name to report problems under.
struct SourceTexts<'a> {
    ports_tsv: (String, &'a str),
    excerpt: (String, &'a str),
    iana_csv: (String, &'a str),
    local_tsv: Option<(String, &'a str)>,
    synonyms_tsv: (String, &'a str),
    vendor_tsv: (String, &'a str),
}

/// Loads the four files from `dir`. `local.tsv` is optional; a missing or unreadable required
/// file is a problem naming it, and a directory that cannot be read is one problem naming it.
pub(crate) fn load_dir(dir: &Path) -> Result<LoadedData, DataErrors> {
    load_dir_replacing_registry(dir, None)
}

/// Loads `dir` as [`load_dir`] does, but with `text` (named `label` in problems) read in place
/// of the directory's own IANA registry: how `update-data` checks a download with the rest of
/// the data it will be served with, before it replaces the file.
pub(crate) fn load_dir_with_registry(
    dir: &Path,
    label: &str,
    text: &str,
) -> Result<LoadedData, DataErrors> {
    load_dir_replacing_registry(dir, Some((label, text)))
}

fn load_dir_replacing_registry(
    dir: &Path,
    registry: Option<(&str, &str)>,
) -> Result<LoadedData, DataErrors> {
    if let Err(e) = std::fs::read_dir(dir) {
        let label = dir.display().to_string();
        let reason = format!("cannot read the data directory: {e}");
        return Err(DataErrors(vec![DataError::new(&label, 0, reason)]));
    }
    let mut problems = Vec::new();
    let mut date = 0u32;
    let mut read = |name: &str, required: bool| {
        let path = dir.join(name);
        let label = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                date = date.max(modified_seconds(&path));
                Some((label, text))
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                problems.push(DataError::new(&label, 0, format!("cannot read: {e}")));
                None
            }
        }
    };
    let ports_tsv = read(PORTS_TSV, true);
    let excerpt = read(EXCERPT, true);
    let iana_csv = match registry {
        Some((label, text)) => Some((label.to_owned(), text.to_owned())),
        None => read(IANA_CSV, true),
    };
    let local_tsv = read(LOCAL_TSV, false);
    let synonyms_tsv = read(SYNONYMS_TSV, false);
    let vendor_tsv = read(VENDOR_TSV, false);
    let (Some(ports_tsv), Some(excerpt), Some(iana_csv)) = (ports_tsv, excerpt, iana_csv) else {
        return Err(DataErrors(problems));
    };
    DataErrors::check(problems)?;
    fn borrow((label, text): &(String, String)) -> (String, &str) {
        (label.clone(), text.as_str())
    }
    load(
        date,
        &SourceTexts {
            ports_tsv: borrow(&ports_tsv),
            excerpt: borrow(&excerpt),
            iana_csv: borrow(&iana_csv),
            local_tsv: local_tsv.as_ref().map(borrow),
            synonyms_tsv: match &synonyms_tsv {
                Some(own) => borrow(own),
                None => builtin_synonyms(),
            },
            vendor_tsv: match &vendor_tsv {
                Some(own) => borrow(own),
                None => builtin_vendor(),
            },
        },
    )
}

/// A file's modification time in Unix seconds; 0 when the file system cannot say.
fn modified_seconds(path: &Path) -> u32 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// The compiled-in synonym list, for data directories without one.
fn builtin_synonyms() -> (String, &'static str) {
    (
        format!("data/{SYNONYMS_TSV}"),
        include_str!("../../data/synonyms.tsv"),
    )
}

/// The compiled-in vendor ports, for data directories without their own.
fn builtin_vendor() -> (String, &'static str) {
    (
        format!("data/{VENDOR_TSV}"),
        include_str!("../../data/vendor-ports.tsv"),
    )
}

/// A compiled-in data file that build.rs stored compressed, inflated.
fn inflate(name: &str, packed: &[u8]) -> Result<String, DataErrors> {
    miniz_oxide::inflate::decompress_to_vec(packed)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            let reason = "the compiled-in copy does not inflate to UTF-8 text (a broken build)";
            DataErrors(vec![DataError::new(&format!("data/{name}"), 0, reason)])
        })
}

/// Loads the data compiled into the binary from the repository's `data/` directory, so the
/// daemon works from any directory with no files around. The two large files are compiled
/// in compressed (build.rs) and inflated here, for this load only.
pub fn load_builtin() -> Result<LoadedData, DataErrors> {
    fn builtin<'t>(name: &str, text: &'t str) -> (String, &'t str) {
        (format!("data/{name}"), text)
    }
    // build.rs records the compiled-in data's date (see there for how it is chosen).
    let date = env!("PORTSD_DATA_DATE").parse().unwrap_or(0);
    let ports_tsv = inflate(
        PORTS_TSV,
        include_bytes!(concat!(env!("OUT_DIR"), "/ports.tsv.deflate")),
    )?;
    let iana_csv = inflate(
        IANA_CSV,
        include_bytes!(concat!(
            env!("OUT_DIR"),
            "/iana-service-names-port-numbers.csv.deflate"
        )),
    )?;
    load(
        date,
        &SourceTexts {
            ports_tsv: builtin(PORTS_TSV, &ports_tsv),
            excerpt: builtin(EXCERPT, include_str!("../../data/port-list-excerpt.txt")),
            iana_csv: builtin(IANA_CSV, &iana_csv),
            local_tsv: Some(builtin(LOCAL_TSV, include_str!("../../data/local.tsv"))),
            synonyms_tsv: builtin_synonyms(),
            vendor_tsv: builtin_vendor(),
        },
    )
}

/// Parses every source, then merges. Problems from all files are reported together.
fn load(date: u32, texts: &SourceTexts<'_>) -> Result<LoadedData, DataErrors> {
    let mut problems = Vec::new();
    let local = match &texts.local_tsv {
        Some((file, text)) => local::parse(file, text, &mut problems),
        None => Vec::new(),
    };
    let excerpt = port_list::parse_excerpt(&texts.excerpt.0, texts.excerpt.1, &mut problems);
    let list = port_list::parse_tsv(&texts.ports_tsv.0, texts.ports_tsv.1, &mut problems);
    let iana = iana::parse(&texts.iana_csv.0, texts.iana_csv.1, &mut problems);
    let synonyms = synonyms::parse(&texts.synonyms_tsv.0, texts.synonyms_tsv.1, &mut problems);
    let vendor = vendor::parse(&texts.vendor_tsv.0, texts.vendor_tsv.1, &mut problems);
    DataErrors::check(problems)?;
    let rows_per_source = vec![
        (Source::Local, local.len()),
        (Source::Excerpt, excerpt.len()),
        (Source::PortList, list.len()),
        (Source::Iana, iana.records_read),
        (Source::Services, 0),
        (Source::Vendor, vendor.len()),
    ];
    let mut entries = merge::merge(local, &excerpt, &list, &iana.records);
    vendor::join(&mut entries, vendor);
    Ok(LoadedData {
        entries,
        rows_per_source,
        system_names: Vec::new(),
        other_protocols: 0,
        date,
        extras: Extras {
            frequencies: Vec::new(),
            synonyms,
        },
    })
}

/// What `portsd check` prints for data that loaded: rows read per source, then the table's
/// entries per source, status and protocol, ranges, service names and memory.
/// `other_protocols` counts the services database's lines on protocols portsd does not serve.
pub fn check_report(
    rows_per_source: &[(Source, usize)],
    other_protocols: usize,
    table: &Table,
) -> String {
    let stats = table.stats();
    let mut out = String::new();
    let _ = writeln!(out, "rows read:");
    for (source, rows) in rows_per_source {
        let _ = writeln!(out, "  {:<10} {rows}", source.name());
    }
    let _ = writeln!(
        out,
        "services lines skipped (protocols other than tcp, udp, sctp, dccp): {other_protocols}"
    );
    let _ = writeln!(out, "data fingerprint: {}", table.data_fingerprint());
    let _ = writeln!(out, "entries: {}", table.entries().len());
    let _ = writeln!(out, "entries per source (a merged entry counts for each):");
    for (source, count) in &stats.by_source {
        let _ = writeln!(out, "  {:<10} {count}", source.name());
    }
    let _ = writeln!(out, "entries per status:");
    for (status, count) in &stats.by_status {
        let _ = writeln!(out, "  {:<10} {count}", status.word());
    }
    let _ = writeln!(out, "entries per protocol:");
    for (protocol, count) in &stats.by_protocol {
        let _ = writeln!(out, "  {:<10} {count}", protocol.label());
    }
    let _ = writeln!(out, "ranges: {}", stats.ranges);
    let _ = writeln!(out, "service names: {}", stats.services);
    let _ = writeln!(
        out,
        "memory: {:.1} MiB ({} bytes)",
        table.heap_bytes() as f64 / 1048576.0,
        table.heap_bytes()
    );
    let _ = writeln!(out, "problems: none");
    out
}

#[cfg(test)]
mod tests;
