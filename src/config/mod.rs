//! Command line, environment and configuration file, resolved into one `ServeConfig`.
//!
//! Precedence for every setting: flag, then `PORTSD_*` environment variable, then the TOML
//! configuration file (`--config`, or `/etc/portsd/portsd.toml` when it exists), then the
//! built-in default. File keys are the flag names with underscores (`ns_address`); unknown keys
//! are rejected with the file's line.
//!
//! - `settings`: each setting declared once, for clap and the file alike, and their merge.
//! - `file`: reading the configuration file into those settings.
//! - `resolve`: merged settings to `ServeConfig`, the zone, the data's location.
//! - `values`: reading flag values with errors that say what to write instead.
//! - `error`: `ConfigError`, what makes a configuration unusable.

pub(crate) mod error;
pub(crate) mod file;
mod resolve;
mod settings;
mod values;

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub use settings::{DataArgs, Given, ServeArgs, ZoneArgs};

/// portsd: answers DNS queries about TCP, UDP, SCTP and DCCP port numbers.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the zone over UDP and TCP.
    Serve(Box<Given<ServeArgs>>),
    /// Print what the table says about `443/tcp`, `443`, `https/tcp` or `https`.
    Lookup {
        /// A port, port/protocol, service name or service/protocol.
        query: String,
        /// Where the data comes from.
        #[command(flatten)]
        data: DataArgs,
        /// Print a JSON array, one object per use (schema in docs/names-and-answers.md).
        #[arg(long)]
        json: bool,
    },
    /// Print the uses matching the words, best first (what WORDS.search.<zone> answers).
    Search {
        /// The words, case ignored: uses matching every word come first, then those matching
        /// most of them (`--json` says which words each leaves out).
        #[arg(required = true)]
        words: Vec<String>,
        /// Where the data comes from.
        #[command(flatten)]
        data: DataArgs,
        /// Print a JSON array, one object per use (schema in docs/names-and-answers.md).
        #[arg(long)]
        json: bool,
    },
    /// Print this host's listening sockets (TCP and UDP, as `ss -tulpn` lists them) with the
    /// known uses of their ports; with `-`, copy standard input adding the uses of the ports
    /// it mentions.
    ///
    /// The process holding a socket is shown where the caller may see it (its own
    /// processes, or all of them as root). Ports are recognised in `ss` and `netstat` output,
    /// as ADDR:PORT, [V6]:PORT, PORT/PROTO, and in firewall logs' DPT= and SPT=; each line is
    /// kept as it was, followed by `  # ` and the uses.
    Explain {
        /// `-` to read text from standard input instead of listing the host's sockets.
        #[arg(value_parser = values::standard_input(), value_name = "-")]
        input: Option<String>,
        /// Where the data comes from.
        #[command(flatten)]
        data: DataArgs,
        /// Print a JSON array, one object per socket or port found, each with its `uses` as
        /// `lookup --json` prints them (schema in docs/names-and-answers.md).
        #[arg(long)]
        json: bool,
    },
    /// Print the whole zone as an RFC 1035 master file.
    ExportZone(ZoneArgs),
    /// Load and validate the data; print counts and problems.
    Check(DataArgs),
    /// Convert the Wikipedia port table (markdown) into `ports.tsv` on standard output.
    ConvertWikipedia {
        /// The markdown file (data/source/wikipedia-ports.md).
        file: PathBuf,
    },
    /// Download IANA's registry into DIR, check it with the loader `serve` uses, and replace
    /// the file atomically; print the records added, removed and changed.
    ///
    /// On any failure the old file stays as it was. Exit status: 0 when DIR holds the newest
    /// registry (replaced or already current), 3 when the download failed (HTTP error,
    /// timeout, short body), 4 when what came is not a registry the loader accepts (an HTML
    /// page, a parse error), 5 when DIR could not be read or written.
    UpdateData(UpdateDataArgs),
    /// Link into DIR each data file it lacks, from the first FROM directory holding it.
    ///
    /// Files already in DIR, such as a registry `update-data` downloaded, are left alone; the
    /// Debian package runs this before the daemon and the updater start.
    SeedData {
        /// The data directory to complete (created when missing).
        dir: PathBuf,
        /// Directories to link the missing files from, in order of preference.
        #[arg(required = true)]
        from: Vec<PathBuf>,
    },
    /// Write the man pages of portsd and of each subcommand into DIR.
    Man {
        /// Directory for the `.1` files (created when missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The command line's definition as `portsd` reads it: [`Cli`]'s, with every whole number
/// read so that a negative one is refused as such.
pub fn command() -> clap::Command {
    values::whole_numbers(Cli::command())
}

/// Reads the process's command line (and the `PORTSD_*` variables) with [`command`].
pub fn parse() -> Result<Cli, clap::Error> {
    let mut command = command();
    let mut matches = command.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command))
}

/// Where IANA publishes the registry `update-data` downloads by default.
pub(crate) const IANA_REGISTRY_URL: &str =
    "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.csv";

/// Flags of `update-data`.
#[derive(Debug, Args)]
pub struct UpdateDataArgs {
    /// The data directory whose IANA registry is replaced; its other files are what the new
    /// registry is checked with.
    pub dir: PathBuf,
    /// Where to download the registry from (HTTPS or HTTP).
    #[arg(long, env = "PORTSD_UPDATE_URL", default_value = IANA_REGISTRY_URL)]
    pub url: String,
    /// Seconds the whole download may take.
    #[arg(long, env = "PORTSD_UPDATE_TIMEOUT", default_value_t = 120)]
    pub timeout: u64,
}

#[cfg(test)]
mod tests;
