//! Which server answered: the CHAOS-class TXT names operators ask (`id.server` and
//! `hostname.bind` give the identity, `version.bind` and `version.server` the version) and the
//! NSID option (RFC 5001), so that instances behind one address can be told apart.
//!
//! As NSD and Knot answer them: TXT, class CH, TTL 0, AA clear; a hidden value gets REFUSED
//! (with Extended DNS Error 18, Prohibited, as NSD sends); any other CHAOS name or type,
//! REFUSED. NSID goes into every response with an OPT record to a request carrying the option,
//! when one is configured.

/// Extended DNS Error 18, Prohibited (RFC 8914 4.19): sent with the REFUSED of a hidden name.
pub(crate) const PROHIBITED: u16 = 18;

/// The value of `--identity` or `--version-string` that hides the answer.
pub(crate) const HIDDEN: &str = "none";

/// The identity settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The answer to `id.server` and `hostname.bind`; `None`: hidden.
    pub identity: Option<String>,
    /// The answer to `version.bind` and `version.server`; `None`: hidden.
    pub version: Option<String>,
    /// The NSID payload; `None`: no NSID.
    pub nsid: Option<Vec<u8>>,
}

impl Default for Identity {
    /// The host name, `portsd <version>`, no NSID: NSD's defaults.
    fn default() -> Identity {
        Identity {
            identity: Some(host_name()),
            version: Some(default_version()),
            nsid: None,
        }
    }
}

/// The version string answered by default.
pub(crate) fn default_version() -> String {
    format!("portsd {}", env!("CARGO_PKG_VERSION"))
}

/// This machine's host name (`localhost` when it cannot be read).
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A configured identity or version string: [`HIDDEN`] hides it. At most 255 bytes, one
/// character-string, so that the answer always fits a 512-byte UDP reply.
pub(crate) fn shown(text: &str) -> Result<Option<String>, IdentityError> {
    if text.len() > 255 {
        return Err(IdentityError::TooLong(text.to_owned()));
    }
    Ok((text != HIDDEN).then(|| text.to_owned()))
}

/// Why an identity setting was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// An `--nsid` value that is neither hex nor `ascii_` text, or is empty or too long.
    #[error(
        "--nsid {0:?}: expected hex digits (`6e7331`) or `ascii_` and text (`ascii_ns1`), 1 to 255 bytes"
    )]
    Nsid(String),
    /// An `--identity` or `--version-string` over 255 bytes.
    #[error("identity or version string {0:?} is longer than 255 bytes")]
    TooLong(String),
}

/// Reads an NSID the way NSD's `nsid:` setting is written: hex digits, or `ascii_` followed by
/// the text itself. At most 255 bytes, so that it cannot crowd an answer out of a UDP reply.
pub(crate) fn parse_nsid(text: &str) -> Result<Vec<u8>, IdentityError> {
    let bytes = match text.strip_prefix("ascii_") {
        Some(ascii) => Some(ascii.as_bytes().to_vec()),
        None => data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .ok(),
    };
    bytes
        .filter(|b| (1..=255).contains(&b.len()))
        .ok_or_else(|| IdentityError::Nsid(text.to_owned()))
}

/// What a CHAOS-class question gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chaos<'a> {
    /// One TXT record with this text.
    Text(&'a str),
    /// REFUSED with Extended DNS Error 18: the operator hides it.
    Hidden,
    /// REFUSED: nothing portsd answers.
    Refused,
}

impl Identity {
    /// The answer to a CHAOS question for `labels` (leftmost first, any case) and `qtype`.
    pub(crate) fn chaos(&self, labels: &[&[u8]], qtype: crate::wire::RecordType) -> Chaos<'_> {
        let is = |name: [&[u8]; 2]| {
            labels.len() == 2
                && labels
                    .iter()
                    .zip(name)
                    .all(|(label, want)| label.eq_ignore_ascii_case(want))
        };
        let value = if is([b"id", b"server"]) || is([b"hostname", b"bind"]) {
            &self.identity
        } else if is([b"version", b"bind"]) || is([b"version", b"server"]) {
            &self.version
        } else {
            return Chaos::Refused;
        };
        match value {
            _ if qtype != crate::wire::RecordType::TXT => Chaos::Refused,
            Some(text) => Chaos::Text(text),
            None => Chaos::Hidden,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsid_values_are_hex_or_ascii() {
        assert_eq!(parse_nsid("6E7331"), Ok(b"ns1".to_vec()));
        assert_eq!(parse_nsid("ascii_ns1.example"), Ok(b"ns1.example".to_vec()));
        for bad in ["ns1", "abc", "", "ascii_", &"00".repeat(256)] {
            assert!(parse_nsid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chaos_names_map_to_identity_and_version() {
        let identity = Identity {
            identity: Some("host-a".into()),
            version: None,
            nsid: None,
        };
        let txt = crate::wire::RecordType::TXT;
        assert_eq!(
            identity.chaos(&[b"ID", b"Server"], txt),
            Chaos::Text("host-a")
        );
        assert_eq!(
            identity.chaos(&[b"hostname", b"bind"], txt),
            Chaos::Text("host-a")
        );
        assert_eq!(identity.chaos(&[b"version", b"bind"], txt), Chaos::Hidden);
        assert_eq!(identity.chaos(&[b"version", b"server"], txt), Chaos::Hidden);
        assert_eq!(
            identity.chaos(&[b"id", b"server"], crate::wire::RecordType::A),
            Chaos::Refused
        );
        assert_eq!(identity.chaos(&[b"authors", b"bind"], txt), Chaos::Refused);
        assert_eq!(
            identity.chaos(&[b"id", b"server", b"x"], txt),
            Chaos::Refused
        );
        assert_eq!(shown(HIDDEN), Ok(None));
        assert_eq!(shown("x"), Ok(Some("x".into())));
        assert!(shown(&"x".repeat(256)).is_err());
    }
}
