//! From merged settings to what the program uses: every setting left unset takes its default
//! here, and the values that need reading or checking (names, keys, secrets) are read and
//! checked.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;
use super::file;
use super::settings::{
    DEFAULT_CONFIG_FILE, DEFAULT_LISTEN, DEFAULT_TTL, DEFAULT_UDP_THREADS, DEFAULT_ZONE, DataArgs,
    InlineKey, Merge, ServeArgs, ZoneArgs,
};
use crate::core::names::parse_domain;
use crate::core::zone::{SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, SoaTimers, Zone};
use crate::pipeline::Policy;
use crate::pipeline::acl::AccessList;
use crate::pipeline::cookie::CookieSecrets;
use crate::pipeline::identity::{self, Identity};
use crate::pipeline::rrl::{self, RateLimitConfig};
use crate::pipeline::transfer::{DEFAULT_JOURNAL_MAX_BYTES, DEFAULT_MAX_TRANSFERS, TransferPolicy};
use crate::pipeline::tsig::{Key, Keyring, read_key_file};
use crate::serve::state::StateDir;
use crate::serve::{
    DataLocation, DataSource, HttpSettings, Settings, TcpLimits, Tls, TlsFiles, ZoneOverrides,
};
use crate::sources::{DEFAULT_FREQUENCIES, DEFAULT_SERVICES, FrequenciesFile, ServicesFile};

/// The port of multicast DNS (RFC 6762), which the host's mDNS responder holds: a unicast
/// server there would take its queries or be refused them.
const MULTICAST_DNS_PORT: u16 = 5353;

/// Everything `serve` needs, resolved: where to listen, the zone, and the server's
/// [`Settings`] whole, handed to [`crate::serve::Server::new`] as they are.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Addresses to bind (unused under socket activation).
    pub listen: Vec<SocketAddr>,
    /// Where to serve DNS over TLS (unused under socket activation).
    pub tls_listen: Vec<SocketAddr>,
    /// Where to serve HTTPS (`--https`).
    pub https: Vec<SocketAddr>,
    /// Where to serve HTTP (`--http`).
    pub http: Vec<SocketAddr>,
    /// Where `--metrics`, deprecated, asks for HTTP.
    pub metrics: Option<SocketAddr>,
    /// The data directory to reload from whenever its files change (`--watch`).
    pub watch: Option<PathBuf>,
    /// Threads answering UDP: on addresses portsd binds itself, each has a socket on every
    /// address; under socket activation, they share out the passed sockets.
    pub udp_threads: NonZeroUsize,
    /// The zones' settings, in the order given (at least one).
    pub zones: Vec<Zone>,
    /// How the server runs: the data it loads, limits, policy, HTTP, TLS, dnstap, state.
    pub settings: Settings,
}

impl DataArgs {
    /// The data directory, services database and frequency file these settings name.
    pub fn resolve(&self) -> DataSource {
        DataSource {
            location: (self.data.clone()).map_or(DataLocation::Builtin, DataLocation::Dir),
            services: ServicesFile::from_setting(self.services.as_deref(), DEFAULT_SERVICES),
            frequencies: FrequenciesFile::from_setting(
                self.frequencies.as_deref(),
                DEFAULT_FREQUENCIES,
            ),
        }
    }
}

impl ZoneArgs {
    /// The zones and where their data comes from. Each zone's name server is `ns.<zone>`
    /// unless `--ns-name` names one for all; its address defaults to the first of `listen`
    /// that is not a wildcard. Zones are distinct and none is inside another.
    pub fn resolve(&self, listen: &[SocketAddr]) -> Result<(Vec<Zone>, DataSource), ConfigError> {
        let default = [DEFAULT_ZONE.to_owned()];
        let names = self.zone.as_deref().unwrap_or(&default);
        let ns_addresses = if self.ns_address.is_empty() {
            let first = listen.first().map(SocketAddr::ip);
            vec![
                first
                    .filter(|ip| !ip.is_unspecified())
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ]
        } else {
            self.ns_address.clone()
        };
        let ttl = self.ttl.unwrap_or(DEFAULT_TTL);
        let timers = SoaTimers {
            refresh: self.soa_refresh.unwrap_or(SOA_REFRESH),
            retry: self.soa_retry.unwrap_or(SOA_RETRY),
            expire: self.soa_expire.unwrap_or(SOA_EXPIRE),
            minimum: self.soa_minimum.unwrap_or(ttl),
        }
        .checked()?;
        let mut zones: Vec<Zone> = Vec::with_capacity(names.len());
        for zone_text in names {
            let zone_labels = parse_domain(zone_text)?;
            let ns_name = match &self.ns_name {
                Some(name) => parse_domain(name)?,
                None => parse_domain(&format!("ns.{zone_text}"))?,
            };
            let zone =
                Zone::new(zone_labels, ns_name, ns_addresses.clone(), ttl).with_timers(timers);
            for other in &zones {
                let (a, b) = (zone.name.labels(), other.name.labels());
                if a == b {
                    return Err(ConfigError::ZoneTwice(zone.display_name()));
                }
                if a.ends_with(b) || b.ends_with(a) {
                    let (inner, outer) = if a.len() > b.len() {
                        (&zone, other)
                    } else {
                        (other, &zone)
                    };
                    return Err(ConfigError::NestedZones(
                        inner.display_name(),
                        outer.display_name(),
                    ));
                }
            }
            zones.push(zone);
        }
        if zones.is_empty() {
            return Err(ConfigError::NoZone);
        }
        Ok((zones, self.data.resolve()))
    }

    /// The one zone these settings name, for the commands that write or answer for one
    /// (`export-zone`, `lookup`, `explain`).
    pub fn resolve_one(&self, listen: &[SocketAddr]) -> Result<(Zone, DataSource), ConfigError> {
        let (mut zones, data) = self.resolve(listen)?;
        if zones.len() > 1 {
            let names: Vec<String> = zones.iter().map(Zone::display_name).collect();
            return Err(ConfigError::ExportOneZone(zones.len(), names.join(", ")));
        }
        Ok((zones.remove(0), data))
    }

    /// Where the served serial is kept across restarts.
    pub fn state(&self) -> Option<StateDir> {
        self.state_dir.clone().map(StateDir::new)
    }
}

/// The file's `[zones."NAME"]` tables in the order of `zones`; a table for a zone not served
/// is an error (a typo would otherwise leave the zone with the server's secondaries).
fn zone_overrides(
    zones: &[Zone],
    mut tables: BTreeMap<String, ZoneOverrides>,
) -> Result<Vec<ZoneOverrides>, ConfigError> {
    let mut by_zone = Vec::with_capacity(zones.len());
    for zone in zones {
        let key = tables.keys().find(|key| {
            parse_domain(key).is_ok_and(|labels| labels.as_slice() == zone.name.labels())
        });
        let key = key.cloned();
        by_zone.push(key.and_then(|key| tables.remove(&key)).unwrap_or_default());
    }
    match tables.into_keys().next() {
        Some(unknown) => {
            let names: Vec<String> = zones.iter().map(Zone::display_name).collect();
            Err(ConfigError::UnknownZoneTable(unknown, names.join(", ")))
        }
        None => Ok(by_zone),
    }
}

impl ServeArgs {
    /// Merges flags and environment (already in `self`) with the configuration file and the
    /// defaults.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => file::read(path, true)?,
            None => file::read(Path::new(DEFAULT_CONFIG_FILE), false)?,
        };
        let settings = self.merge(file.unwrap_or_default());
        let listen = settings
            .listen
            .clone()
            .unwrap_or_else(|| vec![DEFAULT_LISTEN]);
        if let Some(&mdns) = listen.iter().find(|addr| addr.port() == MULTICAST_DNS_PORT) {
            let instead = SocketAddr::new(mdns.ip(), DEFAULT_LISTEN.port());
            return Err(ConfigError::MulticastDnsPort(mdns, instead));
        }
        let (zones, data) = settings.zone.resolve(&listen)?;
        let zone_overrides = zone_overrides(&zones, settings.zones.clone().unwrap_or_default())?;
        let catalog = settings.catalog(&zones)?;
        let watch = match (settings.watch.unwrap_or(false), &data.location) {
            (false, _) => None,
            (true, DataLocation::Dir(dir)) => Some(dir.clone()),
            (true, DataLocation::Builtin) => return Err(ConfigError::WatchWithoutData),
        };
        let tcp = TcpLimits::default();
        let tls_listen = settings.tls.clone().unwrap_or_default();
        let https = settings.https.clone().unwrap_or_default();
        let tls = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::new(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })?),
            (None, None) if !tls_listen.is_empty() => {
                return Err(ConfigError::TlsWithoutCertificate("--tls"));
            }
            (None, None) if !https.is_empty() => {
                return Err(ConfigError::TlsWithoutCertificate("--https"));
            }
            (None, None) => None,
            _ => return Err(ConfigError::TlsHalfPair),
        };
        Ok(ServeConfig {
            listen,
            tls_listen,
            https,
            http: settings.http.clone().unwrap_or_default(),
            metrics: settings.metrics,
            watch,
            udp_threads: match settings.udp_threads.unwrap_or(DEFAULT_UDP_THREADS) {
                0 => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
                count => NonZeroUsize::new(count).unwrap_or(NonZeroUsize::MIN),
            },
            zones,
            settings: Settings {
                data,
                tcp: TcpLimits {
                    max_connections: settings.tcp_max_connections.unwrap_or(tcp.max_connections),
                    idle_timeout: settings
                        .tcp_idle_timeout
                        .map_or(tcp.idle_timeout, Duration::from_secs),
                    max_queries: settings.tcp_max_queries.unwrap_or(tcp.max_queries),
                },
                policy: settings.policy()?,
                notify: settings.notify.clone().unwrap_or_default(),
                zone_overrides,
                state: settings.zone.state(),
                catalog,
                http: settings.http_settings()?,
                dnstap: settings.dnstap.clone(),
                tls,
            },
        })
    }

    /// The catalog's name (`--catalog`), checked against the `zones` served: a name at, above
    /// or under one of them would hide its records or the catalog's.
    fn catalog(&self, zones: &[Zone]) -> Result<Option<Vec<Box<[u8]>>>, ConfigError> {
        let Some(text) = &self.catalog else {
            return Ok(None);
        };
        let name = parse_domain(text)?;
        let overlaps = |zone: &Zone| {
            let labels = zone.name.labels();
            labels.ends_with(&name) || name.ends_with(labels)
        };
        match zones.iter().find(|zone| overlaps(zone)) {
            Some(zone) => Err(ConfigError::CatalogOverlaps(
                text.clone(),
                zone.display_name(),
            )),
            None => Ok(Some(name)),
        }
    }

    /// The HTTP server's settings; its rate limit exempts the networks the DNS one does.
    fn http_settings(&self) -> Result<HttpSettings, ConfigError> {
        let defaults = HttpSettings::default();
        Ok(HttpSettings {
            allow_origin: match self.http_allow_origin.as_deref() {
                None => defaults.allow_origin,
                Some("none") => None,
                Some(origin)
                    if !origin.is_empty() && origin.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
                {
                    Some(origin.to_owned())
                }
                Some(origin) => return Err(ConfigError::AllowOrigin(origin.to_owned())),
            },
            rate_limit: RateLimitConfig {
                responses_per_second: self
                    .http_rate_limit
                    .unwrap_or(defaults.rate_limit.responses_per_second),
                exempt: self
                    .rate_limit_exempt
                    .clone()
                    .unwrap_or(defaults.rate_limit.exempt),
                ..defaults.rate_limit
            },
            max_connections: self
                .http_max_connections
                .unwrap_or(defaults.max_connections),
            ..defaults
        })
    }

    /// Who may query and transfer, rate limiting, keys, identity and cookies.
    fn policy(&self) -> Result<Policy, ConfigError> {
        let rate_limit = RateLimitConfig::default();
        Ok(Policy {
            access: AccessList::new(
                self.allow.clone().unwrap_or_default(),
                self.deny.clone().unwrap_or_default(),
            ),
            log_queries: self.log_queries.unwrap_or(false),
            rate_limit: RateLimitConfig {
                responses_per_second: self.rate_limit.unwrap_or(rate_limit.responses_per_second),
                slip: self.rate_limit_slip.unwrap_or(rate_limit.slip),
                exempt: self
                    .rate_limit_exempt
                    .clone()
                    .unwrap_or_else(rrl::default_exempt),
                ..rate_limit
            },
            transfer: TransferPolicy {
                allow: self.allow_transfer.clone().unwrap_or_default(),
                max_concurrent: self.max_transfers.unwrap_or(DEFAULT_MAX_TRANSFERS),
                journal_max_bytes: self.journal_max_bytes.unwrap_or(DEFAULT_JOURNAL_MAX_BYTES),
                ..TransferPolicy::default()
            },
            keys: keyring(
                self.tsig_key.as_deref().unwrap_or_default(),
                self.tsig_keys.as_deref().unwrap_or_default(),
            )?,
            identity: Identity {
                identity: match &self.identity {
                    Some(text) => identity::shown(text)?,
                    None => Some(identity::host_name()),
                },
                version: match &self.version_string {
                    Some(text) => identity::shown(text)?,
                    None => Some(identity::default_version()),
                },
                nsid: self.nsid.as_deref().map(identity::parse_nsid).transpose()?,
            },
            cookies: match &self.cookie_secret {
                Some(text) => CookieSecrets::parse(text)?,
                None => CookieSecrets::random().map_err(ConfigError::Random)?,
            },
        })
    }
}

/// The keys of the key files, then those written in the configuration file.
fn keyring(files: &[PathBuf], inline: &[InlineKey]) -> Result<Keyring, ConfigError> {
    let mut keys = Vec::new();
    for path in files {
        keys.extend(read_key_file(path)?);
    }
    for key in inline {
        let secret = data_encoding::BASE64
            .decode(key.secret.as_bytes())
            .map_err(|e| ConfigError::Key(format!("{}: secret is not base64: {e}", key.name)))?;
        keys.push(
            Key::new(&key.name, &key.algorithm, secret)
                .map_err(|e| ConfigError::Key(format!("{}: {e}", key.name)))?,
        );
    }
    Keyring::new(keys).map_err(ConfigError::Key)
}
