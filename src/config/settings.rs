//! The settings, each declared once: one struct per group is both clap's flags (with their
//! `PORTSD_*` variables) and the configuration file's keys. Fields are optional, so a layer
//! that leaves a setting out lets the next one fill it ([`Merge`]); a default is a constant or
//! a `Default` impl that both `--help` and the code read.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};
use ipnet::IpNet;
use serde::Deserialize;

use super::values::{network, socket_address, switch};
use crate::core::zone::{SOA_EXPIRE, SOA_REFRESH, SOA_RETRY};
use crate::pipeline::rrl::{self, RateLimitConfig};
use crate::pipeline::transfer::{DEFAULT_JOURNAL_MAX_BYTES, DEFAULT_MAX_TRANSFERS};
use crate::serve::{HttpSettings, TcpLimits, ZoneOverrides};

/// The configuration file read when `--config` is not given and the file exists.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "/etc/portsd/portsd.toml";
/// Where `serve` listens by default (5353 belongs to multicast DNS).
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5300));
/// The zone served by default.
pub(crate) const DEFAULT_ZONE: &str = "ports.local";
/// TTL of every record by default: the data changes rarely.
pub(crate) const DEFAULT_TTL: u32 = 3600;
/// UDP threads by default: 0, one per CPU portsd may run on.
pub(crate) const DEFAULT_UDP_THREADS: usize = 0;

/// Keeps each setting of `self` that is set, and takes the others from `lower`, the layer
/// below in precedence.
pub(crate) trait Merge {
    /// `self` over `lower`.
    fn merge(self, lower: Self) -> Self;
}

impl<T> Merge for Option<T> {
    fn merge(self, lower: Self) -> Self {
        self.or(lower)
    }
}

/// A list where empty means left out: no flag can give an empty list, and the one such
/// setting, `ns_address`, has no use for one.
impl<T> Merge for Vec<T> {
    fn merge(self, lower: Self) -> Self {
        if self.is_empty() { lower } else { self }
    }
}

/// A configuration file's value that is one string or a list of them (`zone`).
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    }))
}

/// Declares a settings struct as written and derives its [`Merge`] field by field, so a new
/// setting is written once, in the struct.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $type:ty,)*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $type,)*
        }

        impl Merge for $name {
            fn merge(self, lower: Self) -> Self {
                $name { $($field: self.$field.merge(lower.$field),)* }
            }
        }
    };
}

settings! {
    /// Where the table's data comes from, for the commands that answer without serving. In
    /// the file, its keys sit beside the others (see `config::file`).
    #[derive(Clone, Debug, Default, Args, Deserialize)]
    #[serde(default)]
    pub struct DataArgs {
        /// Data directory [default: the data compiled into the binary].
        #[arg(long, env = "PORTSD_DATA")]
        pub(crate) data: Option<PathBuf>,
        /// The system's services database, services(5) format, or `none`
        /// [default: /etc/services when it exists].
        #[arg(long, env = "PORTSD_SERVICES", value_name = "FILE")]
        pub(crate) services: Option<String>,
        /// nmap's port frequencies (`nmap-services` format), which rank the search and make
        /// the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it
        /// exists].
        #[arg(long, env = "PORTSD_FREQUENCIES", value_name = "FILE")]
        pub(crate) frequencies: Option<String>,
    }
}

settings! {
    /// Settings of the zone itself, shared by `serve` and `export-zone`. In the file, its keys
    /// sit beside the others (see `config::file`).
    #[derive(Clone, Debug, Default, Args, Deserialize)]
    #[serde(default)]
    pub struct ZoneArgs {
        /// Zone to serve; repeatable (`ports.local,ports.internal`): every zone answers from
        /// the one table, each with its own apex, serial, digest and journal. In the file, one
        /// name or a list.
        #[arg(long, env = "PORTSD_ZONE", value_delimiter = ',', default_value = DEFAULT_ZONE)]
        #[serde(deserialize_with = "one_or_many")]
        pub zone: Option<Vec<String>>,
        /// TTL of every record, also the negative-caching TTL.
        #[arg(long, env = "PORTSD_TTL", default_value = DEFAULT_TTL.to_string())]
        pub ttl: Option<u32>,
        /// Where the data comes from.
        #[command(flatten)]
        #[serde(skip)]
        pub data: DataArgs,
        /// The zone's name server [default: ns.<zone>].
        #[arg(long, env = "PORTSD_NS_NAME")]
        pub ns_name: Option<String>,
        /// Address(es) of the name server, served as glue [default: the first --listen address,
        /// or 127.0.0.1 when that is a wildcard].
        #[arg(long = "ns-address", env = "PORTSD_NS_ADDRESS", value_delimiter = ',')]
        pub ns_address: Vec<IpAddr>,
        /// The SOA's REFRESH: seconds between a secondary's checks of the serial.
        #[arg(long, env = "PORTSD_SOA_REFRESH", value_name = "SECONDS",
              default_value = SOA_REFRESH.to_string())]
        pub soa_refresh: Option<u32>,
        /// The SOA's RETRY: seconds before a secondary tries again after a failed check; at
        /// most the refresh.
        #[arg(long, env = "PORTSD_SOA_RETRY", value_name = "SECONDS",
              default_value = SOA_RETRY.to_string())]
        pub soa_retry: Option<u32>,
        /// The SOA's EXPIRE: seconds after which a secondary that cannot reach the primary stops
        /// answering; at least refresh plus retry. Also the EDNS EXPIRE answered (RFC 7314).
        #[arg(long, env = "PORTSD_SOA_EXPIRE", value_name = "SECONDS",
              default_value = SOA_EXPIRE.to_string())]
        pub soa_expire: Option<u32>,
        /// The SOA's MINIMUM: how long negative answers are cached (RFC 2308); the SOA record's
        /// own TTL is the smaller of it and the TTL [default: the TTL].
        #[arg(long, env = "PORTSD_SOA_MINIMUM", value_name = "SECONDS")]
        pub soa_minimum: Option<u32>,
        /// Directory where the served serial is kept across restarts (file `serial`), so that a
        /// serial stepped past the data's date never goes back [default: none].
        #[arg(long, env = "PORTSD_STATE_DIR", value_name = "DIR")]
        pub state_dir: Option<PathBuf>,
    }
}

settings! {
    /// Flags of `serve`, and the keys of its configuration file. In the file, the zone's keys
    /// sit beside these (see `config::file`).
    #[derive(Clone, Debug, Default, Args, Deserialize)]
    #[serde(default)]
    pub struct ServeArgs {
        /// Zone settings.
        #[command(flatten)]
        #[serde(skip)]
        pub(crate) zone: ZoneArgs,
        /// Address and port to serve UDP and TCP on; repeatable.
        #[arg(long, env = "PORTSD_LISTEN", value_delimiter = ',', value_name = "ADDR:PORT",
              value_parser = socket_address(), default_value = DEFAULT_LISTEN.to_string())]
        pub(crate) listen: Option<Vec<SocketAddr>>,
        /// Configuration file; the default one is read only when it exists.
        #[arg(long, env = "PORTSD_CONFIG", default_value = DEFAULT_CONFIG_FILE)]
        #[serde(skip)]
        pub(crate) config: Option<PathBuf>,
        /// Log one line per query; `--log-queries=false` turns it off again.
        #[arg(long, env = "PORTSD_LOG_QUERIES", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_name = "BOOL", value_parser = switch())]
        pub(crate) log_queries: Option<bool>,
        /// Most TCP connections served at once.
        #[arg(long, env = "PORTSD_TCP_MAX_CONNECTIONS",
              default_value = TcpLimits::default().max_connections.to_string())]
        pub(crate) tcp_max_connections: Option<usize>,
        /// Seconds a TCP connection may stay idle.
        #[arg(long, env = "PORTSD_TCP_IDLE_TIMEOUT",
              default_value = TcpLimits::default().idle_timeout.as_secs().to_string())]
        pub(crate) tcp_idle_timeout: Option<u64>,
        /// Queries answered on one TCP connection before it is closed; 0: no limit.
        #[arg(long, env = "PORTSD_TCP_MAX_QUERIES",
              default_value = TcpLimits::default().max_queries.to_string())]
        pub(crate) tcp_max_queries: Option<usize>,
        /// Only these networks may query; repeatable [default: everyone].
        #[arg(long, env = "PORTSD_ALLOW", value_delimiter = ',', value_name = "CIDR",
              value_parser = network())]
        pub(crate) allow: Option<Vec<IpNet>>,
        /// These networks may not query; repeatable.
        #[arg(long, env = "PORTSD_DENY", value_delimiter = ',', value_name = "CIDR",
              value_parser = network())]
        pub(crate) deny: Option<Vec<IpNet>>,
        /// UDP responses per second per client /24 (IPv4) or /56 (IPv6); 0 turns rate limiting
        /// off.
        #[arg(long, env = "PORTSD_RATE_LIMIT",
              default_value = RateLimitConfig::default().responses_per_second.to_string())]
        pub(crate) rate_limit: Option<u32>,
        /// Every Nth rate-limited response is sent truncated (TC) instead of dropped, so real
        /// clients retry over TCP; 0 never.
        #[arg(long, env = "PORTSD_RATE_LIMIT_SLIP",
              default_value = RateLimitConfig::default().slip.to_string())]
        pub(crate) rate_limit_slip: Option<u32>,
        /// Networks never rate limited; repeatable; replaces the default.
        #[arg(long, env = "PORTSD_RATE_LIMIT_EXEMPT", value_delimiter = ',', value_name = "CIDR",
              value_parser = network(),
              default_values = rrl::default_exempt().iter().map(IpNet::to_string))]
        pub(crate) rate_limit_exempt: Option<Vec<IpNet>>,
        /// Networks allowed to transfer the zone (AXFR, IXFR); repeatable [default: nobody].
        #[arg(long, env = "PORTSD_ALLOW_TRANSFER", value_delimiter = ',', value_name = "CIDR",
              value_parser = network())]
        pub(crate) allow_transfer: Option<Vec<IpNet>>,
        /// TSIG key file in the form BIND's tsig-keygen writes; repeatable. With keys,
        /// transfers must be signed, and every signed request is checked [default: none].
        #[arg(long, env = "PORTSD_TSIG_KEY", value_delimiter = ',')]
        pub(crate) tsig_key: Option<Vec<PathBuf>>,
        /// Keys written in the configuration file itself (no flag: a secret on the command
        /// line is visible to every user).
        #[arg(skip)]
        pub(crate) tsig_keys: Option<Vec<InlineKey>>,
        /// Secondary to send NOTIFY to when the serial changes (at start and on reload), signed
        /// with the first TSIG key when keys are configured; repeatable [default: none].
        #[arg(long, env = "PORTSD_NOTIFY", value_delimiter = ',', value_name = "ADDR:PORT",
              value_parser = socket_address())]
        pub(crate) notify: Option<Vec<SocketAddr>>,
        /// Serve a catalog zone (RFC 9432, version 2) of the zones served under this name, e.g.
        /// `catalog.invalid`: Knot and BIND secondaries configured with it alone transfer every
        /// zone it lists; transferred and notified like the zones [default: none].
        #[arg(long, env = "PORTSD_CATALOG", value_name = "NAME")]
        pub(crate) catalog: Option<String>,
        /// Zone transfers served at once; more are refused.
        #[arg(long, env = "PORTSD_MAX_TRANSFERS", default_value = DEFAULT_MAX_TRANSFERS.to_string())]
        pub(crate) max_transfers: Option<usize>,
        /// The most bytes the IXFR differences kept may take, in memory and in the state
        /// directory's journal; the oldest are dropped first.
        #[arg(long, env = "PORTSD_JOURNAL_MAX_BYTES", value_name = "BYTES",
              default_value = DEFAULT_JOURNAL_MAX_BYTES.to_string())]
        pub(crate) journal_max_bytes: Option<u64>,
        /// Serve HTTP on ADDR:PORT: the JSON API under /v1/, the page at /, Prometheus metrics
        /// at /metrics, DNS over HTTPS (in clear) at /dns-query; repeatable [default: off].
        #[arg(long, env = "PORTSD_HTTP", value_delimiter = ',', value_name = "ADDR:PORT",
              value_parser = socket_address())]
        pub(crate) http: Option<Vec<SocketAddr>>,
        /// Send every query answered and its response as dnstap (AUTH_QUERY, AUTH_RESPONSE) in
        /// Frame Streams to a collector at unix:PATH or tcp:ADDR:PORT; events are dropped
        /// and counted, never waited for, when it is slow or away [default: off].
        #[arg(long, env = "PORTSD_DNSTAP", value_name = "unix:PATH|tcp:ADDR:PORT")]
        pub(crate) dnstap: Option<crate::dnstap::Target>,
        /// Deprecated: the same as --http ADDR:PORT, which serves /metrics too [default: off].
        #[arg(long, env = "PORTSD_METRICS", value_name = "ADDR:PORT",
              value_parser = socket_address())]
        pub(crate) metrics: Option<SocketAddr>,
        /// The Access-Control-Allow-Origin header of HTTP answers (the data is public); `none`
        /// leaves it out.
        #[arg(long, env = "PORTSD_HTTP_ALLOW_ORIGIN",
              default_value = HttpSettings::default().allow_origin.unwrap_or_default())]
        pub(crate) http_allow_origin: Option<String>,
        /// HTTP requests per second per client /24 (IPv4) or /56 (IPv6), also the burst;
        /// more get 429. 0 turns the limit off; the networks of --rate-limit-exempt are exempt.
        #[arg(long, env = "PORTSD_HTTP_RATE_LIMIT",
              default_value = HttpSettings::default().rate_limit.responses_per_second.to_string())]
        pub(crate) http_rate_limit: Option<u32>,
        /// Most HTTP connections served at once; a client arriving past it takes the place of
        /// the connection idle longest.
        #[arg(long, env = "PORTSD_HTTP_MAX_CONNECTIONS",
              default_value = HttpSettings::default().max_connections.to_string())]
        pub(crate) http_max_connections: Option<usize>,
        /// Address and port to serve DNS over TLS on (RFC 7858; usually port 853); repeatable
        /// [default: none].
        #[arg(long, env = "PORTSD_TLS", value_delimiter = ',', value_name = "ADDR:PORT",
              value_parser = socket_address())]
        pub(crate) tls: Option<Vec<SocketAddr>>,
        /// Serve HTTPS on ADDR:PORT (usually port 443): everything --http serves, DNS over
        /// HTTPS at /dns-query included, over TLS with --tls-cert and --tls-key; repeatable
        /// [default: none].
        #[arg(long, env = "PORTSD_HTTPS", value_delimiter = ',', value_name = "ADDR:PORT",
              value_parser = socket_address())]
        pub(crate) https: Option<Vec<SocketAddr>>,
        /// PEM certificate chain for DNS over TLS and HTTPS, the server's certificate first;
        /// reread on reload.
        #[arg(long, env = "PORTSD_TLS_CERT", value_name = "FILE")]
        pub(crate) tls_cert: Option<PathBuf>,
        /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1); reread on reload.
        #[arg(long, env = "PORTSD_TLS_KEY", value_name = "FILE")]
        pub(crate) tls_key: Option<PathBuf>,
        /// Reload when the files in the data directory change (needs --data);
        /// `--watch=false` turns it off again.
        #[arg(long, env = "PORTSD_WATCH", num_args = 0..=1, require_equals = true,
              default_missing_value = "true", value_name = "BOOL", value_parser = switch())]
        pub(crate) watch: Option<bool>,
        /// Threads answering UDP, each with its own socket per address (SO_REUSEPORT), or,
        /// under socket activation, the most that share out the passed sockets; 0: one per CPU
        /// portsd may run on.
        #[arg(long, env = "PORTSD_UDP_THREADS", default_value = DEFAULT_UDP_THREADS.to_string())]
        pub(crate) udp_threads: Option<usize>,
        /// The answer to CHAOS TXT `id.server` and `hostname.bind`; `none` hides it (REFUSED)
        /// [default: the host name].
        #[arg(long, env = "PORTSD_IDENTITY")]
        pub(crate) identity: Option<String>,
        /// The answer to CHAOS TXT `version.bind` and `version.server`; `none` hides it
        /// (REFUSED) [default: portsd and its version].
        #[arg(long, env = "PORTSD_VERSION_STRING")]
        pub(crate) version_string: Option<String>,
        /// The NSID (RFC 5001) sent to clients that ask for it, written as in NSD: hex digits
        /// (`6e7331`), or `ascii_` and the text (`ascii_ns1`) [default: off].
        #[arg(long, env = "PORTSD_NSID")]
        pub(crate) nsid: Option<String>,
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
        pub(crate) cookie_secret: Option<String>,
        /// What one zone has instead of the settings above, in the file only:
        /// `[zones."ports.internal"]` with `allow_transfer` and `notify`.
        #[arg(skip)]
        pub(crate) zones: Option<BTreeMap<String, ZoneOverrides>>,
    }
}

/// A TSIG key given in the configuration file: `tsig_keys = [{ name = "xfr", algorithm =
/// "hmac-sha256", secret = "BASE64" }]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InlineKey {
    pub(crate) name: String,
    pub(crate) algorithm: String,
    pub(crate) secret: String,
}

/// Settings as the command line and the environment give them. clap fills in the defaults it
/// shows in `--help`; they are taken back out here, so that the configuration file, lower in
/// precedence than the flags but higher than the defaults, can still set what they cover.
#[derive(Debug)]
pub struct Given<T>(pub T);

impl<T: Args> Args for Given<T> {
    fn augment_args(command: clap::Command) -> clap::Command {
        T::augment_args(command)
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        T::augment_args_for_update(command)
    }
}

impl<T: Args + FromArgMatches> FromArgMatches for Given<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut matches.clone())
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        forget_defaults::<T>(matches)?;
        T::from_arg_matches_mut(matches).map(Given)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.update_from_arg_matches_mut(&mut matches.clone())
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        forget_defaults::<T>(matches)?;
        self.0.update_from_arg_matches_mut(matches)
    }
}

/// Removes from `matches` the values of `T`'s flags that clap took from their defaults.
fn forget_defaults<T: Args>(matches: &mut ArgMatches) -> Result<(), clap::Error> {
    for arg in T::augment_args(clap::Command::new("settings")).get_arguments() {
        let id = arg.get_id().as_str();
        if arg.get_action().takes_values()
            && matches.value_source(id) == Some(ValueSource::DefaultValue)
        {
            matches
                .try_clear_id(id)
                .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
        }
    }
    Ok(())
}
