//! What makes a configuration unusable: one error for the flags, the environment, the file and
//! the files it names, each reason written once.

use crate::core::names::NameError;
use crate::core::zone::TimerError;
use crate::file_error::FileError;
use crate::pipeline::cookie::CookieSecretError;
use crate::pipeline::identity::IdentityError;
use crate::pipeline::tsig::KeyFileError;
use crate::serve::TlsError;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("{0}: cannot read the configuration file ({1}): check --config or PORTSD_CONFIG")]
    Read(String, std::io::Error),
    /// The configuration file is not valid.
    #[error(transparent)]
    Parse(FileError),
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
    /// SOA timers a secondary could not follow.
    #[error(transparent)]
    Timers(#[from] TimerError),
    /// An `--http-allow-origin` that is no header value.
    #[error("--http-allow-origin {0:?}: not a header value (printable ASCII), or `none`")]
    AllowOrigin(String),
    /// A TLS certificate or key that cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// `--tls-cert` without `--tls-key`, or the other way round.
    #[error("--tls-cert and --tls-key go together: give both or neither")]
    TlsHalfPair,
    /// `--tls` or `--https` (named) without a certificate.
    #[error("{0} needs --tls-cert and --tls-key")]
    TlsWithoutCertificate(&'static str),
    /// A DNS listening address on port 5353, multicast DNS's.
    #[error(
        "--listen {0}: port 5353 is multicast DNS's (avahi and systemd-resolved answer there): \
         pick another port, e.g. {1}"
    )]
    MulticastDnsPort(std::net::SocketAddr, std::net::SocketAddr),
    /// A zone named twice.
    #[error("--zone {0} is given twice: name each zone once")]
    ZoneTwice(String),
    /// A zone inside another: a name would belong to both.
    #[error(
        "--zone {0} is inside --zone {1}: a name can belong to one zone only; serve one of \
         them, or pick a name outside the other (e.g. ports.internal beside ports.local)"
    )]
    NestedZones(String, String),
    /// No zone at all (an empty list in the file).
    #[error("no zone to serve: give --zone, e.g. --zone ports.local")]
    NoZone,
    /// A `[zones."NAME"]` table for a zone not served.
    #[error(
        "[zones.\"{0}\"] in the configuration file names no zone served ({1}): add it to `zone`, or fix the name"
    )]
    UnknownZoneTable(String, String),
    /// `export-zone` given several zones.
    #[error("export-zone writes one zone and {0} are given ({1}): name one with --zone")]
    ExportOneZone(usize, String),
    /// A `--catalog` name at, above or under a zone served: one would hide the other.
    #[error(
        "--catalog {0}: the catalog's name may be neither a zone served ({1}), nor above or under one"
    )]
    CatalogOverlaps(String, String),
    /// `--watch` without a data directory.
    #[error("--watch needs a data directory (--data or `data` in the config file) to watch")]
    WatchWithoutData,
}
