//! Where the table comes from: the data files (compiled in or a directory), the system's
//! services database and nmap's frequencies, loaded and merged through one value
//! ([`DataSource`]) by every command that needs the table.

use std::path::PathBuf;

use crate::core::table::Table;
use crate::sources::{self, DataErrors, LoadedData};

/// Where the table comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataLocation {
    /// The data compiled into the binary.
    Builtin,
    /// A directory holding the data files.
    Dir(PathBuf),
}

impl DataLocation {
    /// Reads and merges every source.
    pub fn load(&self) -> Result<LoadedData, DataErrors> {
        match self {
            DataLocation::Builtin => sources::load_builtin(),
            DataLocation::Dir(dir) => sources::load_dir(dir),
        }
    }
}

/// Everything a table is made from: the data files, the system's services database and nmap's
/// frequencies. Every command that needs the table (`serve` at start and on reload, `lookup`,
/// `search`, `explain`, `export-zone`, `check`) loads it through this one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSource {
    /// The data files.
    pub location: DataLocation,
    /// The system's services database, when one is read.
    pub services: Option<sources::ServicesFile>,
    /// nmap's frequency file, when one is read.
    pub frequencies: Option<sources::FrequenciesFile>,
}

impl DataSource {
    /// The data files of `location` alone, without a services database or frequencies.
    pub fn new(location: DataLocation) -> DataSource {
        DataSource {
            location,
            services: None,
            frequencies: None,
        }
    }

    /// Reads and merges every source, the services database and the frequencies.
    pub fn load(&self) -> Result<LoadedData, DataErrors> {
        self.location
            .load()
            .and_then(|loaded| loaded.with_services(self.services.as_ref()))
            .and_then(|loaded| loaded.with_frequencies(self.frequencies.as_ref()))
    }

    /// The table the sources make, built aside ([`sources::build_aside`]).
    pub fn table(&self) -> Result<Table, DataErrors> {
        sources::build_aside(|| self.load().map(LoadedData::into_table))
    }

    /// The table `serve` starts with: as [`DataSource::table`], but without its search index,
    /// which [`Server::run`] has built once the loops answer (a search asked before waits).
    pub fn first_table(&self) -> Result<Table, DataErrors> {
        sources::build_aside(|| self.load().map(LoadedData::into_table_search_later))
    }
}
