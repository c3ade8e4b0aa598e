//! Command line, environment and configuration file, resolved into one [`ServeConfig`].
//!
//! Precedence for every setting: flag, then `PORTSD_*` environment variable, then the TOML
//! configuration file (`--config`, or `/etc/portsd/portsd.toml` when it exists), then the
//! built-in default. File keys are the flag names with underscores (`ns_address`); unknown keys
//! are rejected with the file's line.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use serde::Deserialize;

use crate::core::names::{NameError, parse_domain};
use crate::core::zone::Zone;
use crate::pipeline::Policy;
use crate::pipeline::acl::AccessList;
use crate::pipeline::cookie::{CookieSecretError, CookieSecrets};
use crate::pipeline::identity::{self, Identity, IdentityError};
use crate::pipeline::rrl::{self, RateLimitConfig};
use crate::pipeline::transfer::{DEFAULT_MAX_TRANSFERS, TransferPolicy};
use crate::pipeline::tsig::{Key, KeyFileError, Keyring, read_key_file};
use crate::serve::state::StateDir;
use crate::serve::{DataLocation, TcpLimits};
use crate::sources::ServicesFile;

/// The configuration file read when `--config` is not given and the file exists.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "/etc/portsd/portsd.toml";
/// Where `serve` listens by default (5353 belongs to multicast DNS).
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:5300";
/// The zone served by default.
pub(crate) const DEFAULT_ZONE: &str = "ports.local";
/// TTL of every record by default: the data changes rarely.
pub(crate) const DEFAULT_TTL: u32 = 3600;

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
    Serve(Box<ServeArgs>),
    /// Print what the table says about `443/tcp`, `443`, `https/tcp` or `https`.
    Lookup {
        /// A port, port/protocol, service name or service/protocol.
        query: String,
        /// Where the data comes from.
        #[command(flatten)]
        data: DataArgs,
        /// Print a JSON array, one object per use (schema in the README).
        #[arg(long)]
        json: bool,
    },
    /// Print the uses matching every word, best first (what WORDS.search.<zone> answers).
    Search {
        /// The words; all must match, case is ignored.
        #[arg(required = true)]
        words: Vec<String>,
        /// Where the data comes from.
        #[command(flatten)]
        data: DataArgs,
        /// Print a JSON array, one object per use (schema in the README).
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

/// Where IANA publishes the registry `update-data` downloads by default.
pub const IANA_REGISTRY_URL: &str =
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

/// Where the table's data comes from, for the commands that answer without serving.
#[derive(Debug, Default, Args)]
pub struct DataArgs {
    /// Data directory [default: the data compiled into the binary].
    #[arg(long, env = "PORTSD_DATA")]
    pub data: Option<PathBuf>,
    /// The system's services database, services(5) format, or `none`
    /// [default: /etc/services when it exists].
    #[arg(long, env = "PORTSD_SERVICES", value_name = "FILE")]
    pub services: Option<String>,
}

impl DataArgs {
    /// The data directory and services file these flags name.
    pub fn resolve(&self) -> (DataLocation, Option<ServicesFile>) {
        let data = self
            .data
            .clone()
            .map_or(DataLocation::Builtin, DataLocation::Dir);
        (data, ServicesFile::from_setting(self.services.as_deref()))
    }
}

/// Settings of the zone itself, shared by `serve` and `export-zone`.
#[derive(Debug, Default, Args)]
pub struct ZoneArgs {
    /// Zone to serve [default: ports.local].
    #[arg(long, env = "PORTSD_ZONE")]
    pub zone: Option<String>,
    /// TTL of every record, also the negative-caching TTL [default: 3600].
    #[arg(long, env = "PORTSD_TTL")]
    pub ttl: Option<u32>,
    /// Data directory [default: the data compiled into the binary].
    #[arg(long, env = "PORTSD_DATA")]
    pub data: Option<PathBuf>,
    /// The system's services database, services(5) format, or `none`
    /// [default: /etc/services when it exists].
    #[arg(long, env = "PORTSD_SERVICES", value_name = "FILE")]
    pub services: Option<String>,
    /// The zone's name server [default: ns.<zone>].
    #[arg(long, env = "PORTSD_NS_NAME")]
    pub ns_name: Option<String>,
    /// Address(es) of the name server, served as glue [default: the first --listen address,
    /// or 127.0.0.1 when that is a wildcard].
    #[arg(long = "ns-address", env = "PORTSD_NS_ADDRESS", value_delimiter = ',')]
    pub ns_address: Vec<IpAddr>,
    /// Directory where the served serial is kept across restarts (file `serial`), so that a
    /// serial stepped past the data's date never goes back [default: none].
    #[arg(long, env = "PORTSD_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Flags of `serve`.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Zone settings.
    #[command(flatten)]
    pub zone: ZoneArgs,
    /// Address and port to serve UDP and TCP on; repeatable [default: 127.0.0.1:5300].
    #[arg(long, env = "PORTSD_LISTEN", value_delimiter = ',')]
    pub listen: Vec<SocketAddr>,
    /// Configuration file [default: /etc/portsd/portsd.toml when it exists].
    #[arg(long, env = "PORTSD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log one line per query.
    #[arg(long, env = "PORTSD_LOG_QUERIES")]
    pub log_queries: bool,
    /// Most TCP connections served at once [default: 256].
    #[arg(long, env = "PORTSD_TCP_MAX_CONNECTIONS")]
    pub tcp_max_connections: Option<usize>,
    /// Seconds a TCP connection may stay idle [default: 10].
    #[arg(long, env = "PORTSD_TCP_IDLE_TIMEOUT")]
    pub tcp_idle_timeout: Option<u64>,
    /// Queries answered on one TCP connection before it is closed; 0: no limit [default: 0].
    #[arg(long, env = "PORTSD_TCP_MAX_QUERIES")]
    pub tcp_max_queries: Option<usize>,
    /// Only these networks may query; repeatable [default: everyone].
    #[arg(long, env = "PORTSD_ALLOW", value_delimiter = ',')]
    pub allow: Vec<IpNet>,
    /// These networks may not query; repeatable.
    #[arg(long, env = "PORTSD_DENY", value_delimiter = ',')]
    pub deny: Vec<IpNet>,
    /// UDP responses per second per client /24 (IPv4) or /56 (IPv6); 0 turns rate limiting
    /// off [default: 200].
    #[arg(long, env = "PORTSD_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Every Nth rate-limited response is sent truncated (TC) instead of dropped, so real
    /// clients retry over TCP; 0 never [default: 2].
    #[arg(long, env = "PORTSD_RATE_LIMIT_SLIP")]
    pub rate_limit_slip: Option<u32>,
    /// Networks never rate limited; repeatable; replaces the default
    /// [default: 127.0.0.0/8, ::1/128].
    #[arg(long, env = "PORTSD_RATE_LIMIT_EXEMPT", value_delimiter = ',')]
    pub rate_limit_exempt: Vec<IpNet>,
    /// Networks allowed to transfer the zone (AXFR, IXFR); repeatable [default: nobody].
    #[arg(long, env = "PORTSD_ALLOW_TRANSFER", value_delimiter = ',')]
    pub allow_transfer: Vec<IpNet>,
    /// TSIG key file in the form BIND's tsig-keygen writes; repeatable. With keys, transfers
    /// must be signed, and every signed request is checked [default: none].
    #[arg(long, env = "PORTSD_TSIG_KEY", value_delimiter = ',')]
    pub tsig_key: Vec<PathBuf>,
    /// Secondary to send NOTIFY to when the serial changes (at start and on reload), signed
    /// with the first TSIG key when keys are configured; repeatable [default: none].
    #[arg(long, env = "PORTSD_NOTIFY", value_delimiter = ',')]
    pub notify: Vec<SocketAddr>,
    /// Zone transfers served at once; more are refused [default: 8].
    #[arg(long, env = "PORTSD_MAX_TRANSFERS")]
    pub max_transfers: Option<usize>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics [default: off].
    #[arg(long, env = "PORTSD_METRICS")]
    pub metrics: Option<SocketAddr>,
    /// Reload when the files in the data directory change (needs --data).
    #[arg(long, env = "PORTSD_WATCH")]
    pub watch: bool,
    /// Threads answering UDP, each with its own socket per address (SO_REUSEPORT), or, under
    /// socket activation, the most that share out the passed sockets; 0: one per CPU portsd
    /// may run on [default: 0].
    #[arg(long, env = "PORTSD_UDP_THREADS")]
    pub udp_threads: Option<usize>,
    /// The answer to CHAOS TXT `id.server` and `hostname.bind`; `none` hides it (REFUSED)
    /// [default: the host name].
    #[arg(long, env = "PORTSD_IDENTITY")]
    pub identity: Option<String>,
    /// The answer to CHAOS TXT `version.bind` and `version.server`; `none` hides it (REFUSED)
    /// [default: portsd and its version].
    #[arg(long, env = "PORTSD_VERSION_STRING")]
    pub version_string: Option<String>,
    /// The NSID (RFC 5001) sent to clients that ask for it, written as in NSD: hex digits
    /// (`6e7331`), or `ascii_` and the text (`ascii_ns1`) [default: off].
    #[arg(long, env = "PORTSD_NSID")]
    pub nsid: Option<String>,
    /// The secret DNS server cookies are made with (RFC 9018): 32 hex digits, and while a
    /// rotation is under way `,` and the previous secret. Give every instance of an anycast
    /// group the same one; prefer the environment or the config file to the command line,
    /// which other users can read [default: random at each start].
    #[arg(
        long,
        env = "PORTSD_COOKIE_SECRET",
        value_name = "HEX[,PREVIOUS]",
        hide_env_values = true
    )]
    pub cookie_secret: Option<String>,
}

/// The configuration file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<Vec<SocketAddr>>,
    zone: Option<String>,
    ttl: Option<u32>,
    data: Option<PathBuf>,
    services: Option<String>,
    ns_name: Option<String>,
    ns_address: Option<Vec<IpAddr>>,
    state_dir: Option<PathBuf>,
    log_queries: Option<bool>,
    tcp_max_connections: Option<usize>,
    tcp_idle_timeout: Option<u64>,
    tcp_max_queries: Option<usize>,
    allow: Option<Vec<IpNet>>,
    deny: Option<Vec<IpNet>>,
    rate_limit: Option<u32>,
    rate_limit_slip: Option<u32>,
    rate_limit_exempt: Option<Vec<IpNet>>,
    allow_transfer: Option<Vec<IpNet>>,
    tsig_key: Option<Vec<PathBuf>>,
    notify: Option<Vec<SocketAddr>>,
    /// Keys written in the configuration file itself.
    tsig_keys: Option<Vec<InlineKey>>,
    max_transfers: Option<usize>,
    metrics: Option<SocketAddr>,
    watch: Option<bool>,
    udp_threads: Option<usize>,
    identity: Option<String>,
    version_string: Option<String>,
    nsid: Option<String>,
    cookie_secret: Option<String>,
}

/// A TSIG key given in the configuration file: `tsig_keys = [{ name = "xfr", algorithm =
/// "hmac-sha256", secret = "BASE64" }]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InlineKey {
    name: String,
    algorithm: String,
    secret: String,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    /// The configuration file is not valid.
    #[error("{file}:{line}: {reason}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The zone or name server name is not a valid domain name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A TSIG key file that cannot be read or used.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A TSIG key that cannot be used (a name given twice, a bad inline key).
    #[error("tsig key: {0}")]
    Key(String),
    /// An `--nsid`, `--identity` or `--version-string` that cannot be used.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A `--cookie-secret` that cannot be used.
    #[error(transparent)]
    CookieSecret(#[from] CookieSecretError),
    /// No random cookie secret could be drawn.
    #[error("no random cookie secret: {0}")]
    Random(getrandom::Error),
    /// `--watch` without a data directory.
    #[error("--watch needs a data directory (--data or `data` in the config file) to watch")]
    WatchWithoutData,
}

impl FileConfig {
    /// Reads `path`; `None` when `path` is the default file and it does not exist.
    pub(crate) fn read(path: &Path, required: bool) -> Result<Option<FileConfig>, ConfigError> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ConfigError::Read(file, e)),
        };
        FileConfig::parse(&file, &text).map(Some)
    }

    /// Parses TOML text, naming `file` and the line in errors.
    pub(crate) fn parse(file: &str, text: &str) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_owned(),
            line: e.span().map_or(1, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            }),
            reason: e.message().to_owned(),
        })
    }
}

/// Everything `serve` needs, resolved.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Addresses to bind (unused under socket activation).
    pub listen: Vec<SocketAddr>,
    /// The zone's settings.
    pub zone: Zone,
    /// Where the table comes from.
    pub data: DataLocation,
    /// The system's services database, when one is read.
    pub services: Option<ServicesFile>,
    /// TCP limits.
    pub tcp: TcpLimits,
    /// Who may query, rate limiting, the query log.
    pub policy: Policy,
    /// Secondaries to NOTIFY.
    pub notify: Vec<SocketAddr>,
    /// Where the served serial is kept across restarts.
    pub state: Option<StateDir>,
    /// Where to serve metrics.
    pub metrics: Option<SocketAddr>,
    /// The data directory to reload from whenever its files change (`--watch`).
    pub watch: Option<PathBuf>,
    /// Threads answering UDP: on addresses portsd binds itself, each has a socket on every
    /// address; under socket activation, they share out the passed sockets.
    pub udp_threads: NonZeroUsize,
}

/// Builds the zone settings from flags (and file values, already merged in).
pub fn resolve_zone(
    args: &ZoneArgs,
    file: &FileConfig,
    listen: &[SocketAddr],
) -> Result<(Zone, DataLocation), ConfigError> {
    let zone_text = args
        .zone
        .clone()
        .or_else(|| file.zone.clone())
        .unwrap_or_else(|| DEFAULT_ZONE.to_owned());
    let zone_labels = parse_domain(&zone_text)?;
    let ns_name = match args.ns_name.clone().or_else(|| file.ns_name.clone()) {
        Some(name) => parse_domain(&name)?,
        None => parse_domain(&format!("ns.{zone_text}"))?,
    };
    let ns_addresses = if !args.ns_address.is_empty() {
        args.ns_address.clone()
    } else if let Some(addresses) = &file.ns_address {
        addresses.clone()
    } else {
        let first = listen.first().map(SocketAddr::ip);
        vec![
            first
                .filter(|ip| !ip.is_unspecified())
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ]
    };
    let ttl = args.ttl.or(file.ttl).unwrap_or(DEFAULT_TTL);
    let data = match args.data.clone().or_else(|| file.data.clone()) {
        Some(dir) => DataLocation::Dir(dir),
        None => DataLocation::Builtin,
    };
    Ok((Zone::new(zone_labels, ns_name, ns_addresses, ttl), data))
}

/// The state directory from the flag, then the file's `state_dir`.
pub fn resolve_state(args: &ZoneArgs, file: &FileConfig) -> Option<StateDir> {
    args.state_dir
        .clone()
        .or_else(|| file.state_dir.clone())
        .map(StateDir::new)
}

/// The services file from flags (and file values): the flag, then the file's `services`, then
/// the default.
pub fn resolve_services(args: &ZoneArgs, file: &FileConfig) -> Option<ServicesFile> {
    ServicesFile::from_setting(args.services.as_deref().or(file.services.as_deref()))
}

impl ServeArgs {
    /// Merges flags and environment (already in `self`) with the configuration file and the
    /// defaults.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => FileConfig::read(path, true)?,
            None => FileConfig::read(Path::new(DEFAULT_CONFIG_FILE), false)?,
        }
        .unwrap_or_default();
        let listen = if !self.listen.is_empty() {
            self.listen.clone()
        } else if let Some(listen) = &file.listen {
            listen.clone()
        } else {
            vec![
                DEFAULT_LISTEN
                    .parse()
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 5300))),
            ]
        };
        let (zone, data) = resolve_zone(&self.zone, &file, &listen)?;
        let watch = match (self.watch || file.watch.unwrap_or(false), &data) {
            (false, _) => None,
            (true, DataLocation::Dir(dir)) => Some(dir.clone()),
            (true, DataLocation::Builtin) => return Err(ConfigError::WatchWithoutData),
        };
        let key_files = if self.tsig_key.is_empty() {
            file.tsig_key.clone().unwrap_or_default()
        } else {
            self.tsig_key.clone()
        };
        let mut keys = Vec::new();
        for path in &key_files {
            keys.extend(read_key_file(path)?);
        }
        for inline in file.tsig_keys.iter().flatten() {
            let secret = data_encoding::BASE64
                .decode(inline.secret.as_bytes())
                .map_err(|e| {
                    ConfigError::Key(format!("{}: secret is not base64: {e}", inline.name))
                })?;
            keys.push(
                Key::new(&inline.name, &inline.algorithm, secret)
                    .map_err(|e| ConfigError::Key(format!("{}: {e}", inline.name)))?,
            );
        }
        let keys = Keyring::new(keys).map_err(ConfigError::Key)?;
        let defaults = TcpLimits::default();
        let pick = |flag: &Vec<IpNet>, file: &Option<Vec<IpNet>>| {
            if flag.is_empty() {
                file.clone().unwrap_or_default()
            } else {
                flag.clone()
            }
        };
        Ok(ServeConfig {
            listen,
            zone,
            services: resolve_services(&self.zone, &file),
            data,
            tcp: TcpLimits {
                max_connections: self
                    .tcp_max_connections
                    .or(file.tcp_max_connections)
                    .unwrap_or(defaults.max_connections),
                idle_timeout: self
                    .tcp_idle_timeout
                    .or(file.tcp_idle_timeout)
                    .map_or(defaults.idle_timeout, Duration::from_secs),
                max_queries: self
                    .tcp_max_queries
                    .or(file.tcp_max_queries)
                    .unwrap_or(defaults.max_queries),
            },
            policy: Policy {
                access: AccessList::new(
                    pick(&self.allow, &file.allow),
                    pick(&self.deny, &file.deny),
                ),
                log_queries: self.log_queries || file.log_queries.unwrap_or(false),
                rate_limit: RateLimitConfig {
                    responses_per_second: self
                        .rate_limit
                        .or(file.rate_limit)
                        .unwrap_or(RateLimitConfig::default().responses_per_second),
                    slip: self
                        .rate_limit_slip
                        .or(file.rate_limit_slip)
                        .unwrap_or(RateLimitConfig::default().slip),
                    exempt: if !self.rate_limit_exempt.is_empty() {
                        self.rate_limit_exempt.clone()
                    } else {
                        file.rate_limit_exempt
                            .clone()
                            .unwrap_or_else(rrl::default_exempt)
                    },
                    ..RateLimitConfig::default()
                },
                transfer: TransferPolicy {
                    allow: pick(&self.allow_transfer, &file.allow_transfer),
                    max_concurrent: self
                        .max_transfers
                        .or(file.max_transfers)
                        .unwrap_or(DEFAULT_MAX_TRANSFERS),
                    ..TransferPolicy::default()
                },
                keys,
                identity: Identity {
                    identity: match self.identity.as_ref().or(file.identity.as_ref()) {
                        Some(text) => identity::shown(text)?,
                        None => Some(identity::host_name()),
                    },
                    version: match self
                        .version_string
                        .as_ref()
                        .or(file.version_string.as_ref())
                    {
                        Some(text) => identity::shown(text)?,
                        None => Some(identity::default_version()),
                    },
                    nsid: self
                        .nsid
                        .as_ref()
                        .or(file.nsid.as_ref())
                        .map(|text| identity::parse_nsid(text))
                        .transpose()?,
                },
                cookies: match self.cookie_secret.as_ref().or(file.cookie_secret.as_ref()) {
                    Some(text) => CookieSecrets::parse(text)?,
                    None => CookieSecrets::random().map_err(ConfigError::Random)?,
                },
            },
            notify: if self.notify.is_empty() {
                file.notify.clone().unwrap_or_default()
            } else {
                self.notify.clone()
            },
            state: resolve_state(&self.zone, &file),
            metrics: self.metrics.or(file.metrics),
            watch,
            udp_threads: match self.udp_threads.or(file.udp_threads).unwrap_or(0) {
                0 => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
                count => NonZeroUsize::new(count).unwrap_or(NonZeroUsize::MIN),
            },
        })
    }
}

#[cfg(test)]
mod tests;
