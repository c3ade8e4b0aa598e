//! The naming scheme: what a query name under the zone refers to.
//!
//! ```text
//! <zone>                        apex: SOA, NS, TXT about the server
//! <proto>.<zone>                empty non-terminal (tcp, udp, sctp, dccp)
//! <port>.<proto>.<zone>         uses of one port on one protocol
//! <port>.<zone>                 uses of one port on every protocol
//! <service>.<proto>.<zone>      uses carrying an IANA service name, on one protocol
//! <service>.<zone>              the same on every protocol
//! help.<zone>                   one TXT record per name form, with an example
//! search.<zone>                 apex of the search zone: SOA and NS (delegated to portsd itself)
//! <words>.search.<zone>         keyword search, each label a word, answers ranked
//! top.<proto>.<zone>            the most common ports of a protocol (nmap's frequencies), ranked
//! <port>.<proto>.registry.<zone>  IANA's registry facts about a port's uses, one per record
//! top.<zone>, registry.<zone>, <proto>.registry.<zone>  empty non-terminals
//! <ns-name>                     the server's own address records, when inside the zone
//! ```
//!
//! `help` and `search` as service names (IANA has `search` on 2010/tcp) are still found on one
//! protocol (`search.tcp.<zone>`); on their own they are these special names. Likewise `top`
//! and `registry` (no source names a service so today) are these names, and `top.<proto>`
//! the common ports rather than a service `top` on that protocol.
//!
//! Labels compare without regard to ASCII case. A port label is the canonical decimal form
//! (`443`, not `0443`), so every port has exactly one name. A service name with a dot in it
//! (`z39.50`) spans two labels; a name is a sequence of labels (RFC 1034 3.1), so the one label
//! `z39\.50` (a dot inside it) is a different name, which does not exist. Pure: no I/O, no
//! allocation unless a service name spans labels.

use crate::core::model::Protocol;

/// What a query name refers to, before looking anything up in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// The name is not at or below the zone.
    OutOfZone,
    /// The zone apex.
    Apex,
    /// The server's own name (the NS target), when it lies inside the zone: its labels below
    /// the zone, which may also be a service name (IANA has a service called `ns`).
    NameServer(&'a [&'a [u8]]),
    /// `<proto>.<zone>`: an empty non-terminal.
    ProtocolNode(Protocol),
    /// `<port>.<proto>.<zone>`.
    PortOn(u16, Protocol),
    /// `<port>.<zone>`.
    Port(u16),
    /// `<service>.<proto>.<zone>`: the service name's labels, leftmost first.
    ServiceOn(&'a [&'a [u8]], Protocol),
    /// `<service>.<zone>`.
    Service(&'a [&'a [u8]]),
    /// `help.<zone>`.
    Help,
    /// `search.<zone>`: the apex of the search zone.
    SearchApex,
    /// `<words>.search.<zone>`: the words, leftmost first.
    Search(&'a [&'a [u8]]),
    /// `top.<proto>.<zone>`: the most common ports of a protocol.
    Top(Protocol),
    /// `<port>.<proto>.registry.<zone>`: IANA's facts about a port's uses.
    Registry(u16, Protocol),
    /// `top.<zone>`, `registry.<zone>` and `<proto>.registry.<zone>`: empty non-terminals
    /// above the two forms.
    FormNode,
}

/// The label of the help name.
pub(crate) const HELP_LABEL: &[u8] = b"help";
/// The label under which keyword searches are asked.
pub(crate) const SEARCH_LABEL: &[u8] = b"search";
/// The label of the most common ports (`top.tcp.<zone>`).
pub(crate) const TOP_LABEL: &[u8] = b"top";
/// The label under which the registry's facts are asked (`443.tcp.registry.<zone>`).
pub(crate) const REGISTRY_LABEL: &[u8] = b"registry";

/// A zone's name as lower-case labels, leftmost first, plus the server's own name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZoneName {
    labels: Vec<Box<[u8]>>,
    /// The NS target's labels relative to the zone when it lies inside it (`["ns"]`).
    ns_relative: Option<Vec<Box<[u8]>>>,
}

/// Why a configured domain name was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// A label was empty (`a..b`), over 63 octets, or had a character outside letters, digits,
    /// hyphen and underscore.
    #[error("invalid label {0:?} in domain name {1:?}")]
    BadLabel(String, String),
    /// The whole name exceeded 255 octets on the wire.
    #[error("domain name {0:?} is longer than 255 octets")]
    TooLong(String),
    /// The name was the root, which portsd cannot serve.
    #[error("the zone cannot be the root")]
    Root,
}

/// Splits a presentation-format name (`ports.local` or `ports.local.`) into lower-case labels,
/// accepting letters, digits, hyphen and underscore only.
pub(crate) fn parse_domain(text: &str) -> Result<Vec<Box<[u8]>>, NameError> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() {
        return Err(NameError::Root);
    }
    let labels: Vec<Box<[u8]>> = trimmed
        .split('.')
        .map(|label| {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if ok {
                Ok(label.to_ascii_lowercase().into_bytes().into_boxed_slice())
            } else {
                Err(NameError::BadLabel(label.to_owned(), text.to_owned()))
            }
        })
        .collect::<Result<_, _>>()?;
    let wire_len: usize = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    if wire_len > 255 {
        return Err(NameError::TooLong(text.to_owned()));
    }
    Ok(labels)
}

/// Parses a canonical decimal port label: digits only, no leading zero, at most 65535.
pub(crate) fn parse_port(label: &[u8]) -> Option<u16> {
    if label.is_empty() || label.len() > 5 || (label.len() > 1 && label[0] == b'0') {
        return None;
    }
    let mut value: u32 = 0;
    for &b in label {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    u16::try_from(value).ok()
}

impl ZoneName {
    /// A zone and the server's own name (`ns`), both lower-case labels, leftmost first.
    pub(crate) fn new(zone: Vec<Box<[u8]>>, ns_name: &[Box<[u8]>]) -> ZoneName {
        let ns_relative = (ns_name.len() > zone.len() && ns_name.ends_with(&zone))
            .then(|| ns_name[..ns_name.len() - zone.len()].to_vec());
        ZoneName {
            labels: zone,
            ns_relative,
        }
    }

    /// The zone's labels, leftmost first.
    pub(crate) fn labels(&self) -> &[Box<[u8]>] {
        &self.labels
    }

    /// Whether the server's own name lies inside the zone (and so needs glue).
    pub(crate) fn ns_in_zone(&self) -> bool {
        self.ns_relative.is_some()
    }

    /// The labels of a name (leftmost first, any case) relative to the zone: `None` when the
    /// name is not at or below the zone's apex.
    pub(crate) fn relative<'a>(&self, labels: &'a [&'a [u8]]) -> Option<&'a [&'a [u8]]> {
        let split = labels.len().checked_sub(self.labels.len())?;
        let (relative, suffix) = labels.split_at(split);
        let in_zone = suffix
            .iter()
            .zip(&self.labels)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
        in_zone.then_some(relative)
    }

    /// Classifies a query name given as labels, leftmost first (any case).
    pub(crate) fn classify<'a>(&self, labels: &'a [&'a [u8]]) -> Target<'a> {
        let Some(relative) = self.relative(labels) else {
            return Target::OutOfZone;
        };
        if let Some(ns) = &self.ns_relative
            && relative.len() == ns.len()
            && relative
                .iter()
                .zip(ns)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        {
            return Target::NameServer(relative);
        }
        match relative {
            [] => Target::Apex,
            [only] if only.eq_ignore_ascii_case(HELP_LABEL) => Target::Help,
            [only] if only.eq_ignore_ascii_case(SEARCH_LABEL) => Target::SearchApex,
            [words @ .., last] if last.eq_ignore_ascii_case(SEARCH_LABEL) => Target::Search(words),
            [only] if only.eq_ignore_ascii_case(TOP_LABEL) => Target::FormNode,
            [only] if only.eq_ignore_ascii_case(REGISTRY_LABEL) => Target::FormNode,
            [top, protocol]
                if top.eq_ignore_ascii_case(TOP_LABEL)
                    && Protocol::from_label(protocol).is_some() =>
            {
                Protocol::from_label(protocol).map_or(Target::OutOfZone, Target::Top)
            }
            [protocol, registry]
                if registry.eq_ignore_ascii_case(REGISTRY_LABEL)
                    && Protocol::from_label(protocol).is_some() =>
            {
                Target::FormNode
            }
            [port, protocol, registry] if registry.eq_ignore_ascii_case(REGISTRY_LABEL) => {
                match (parse_port(port), Protocol::from_label(protocol)) {
                    (Some(port), Some(protocol)) => Target::Registry(port, protocol),
                    _ => Target::Service(relative),
                }
            }
            [only] => match (Protocol::from_label(only), parse_port(only)) {
                (Some(protocol), _) => Target::ProtocolNode(protocol),
                (None, Some(port)) => Target::Port(port),
                (None, None) => Target::Service(relative),
            },
            [rest @ .., last] => match Protocol::from_label(last) {
                Some(protocol) => match rest {
                    [port] if parse_port(port).is_some() => {
                        Target::PortOn(parse_port(port).unwrap_or_default(), protocol)
                    }
                    _ => Target::ServiceOn(rest, protocol),
                },
                None => Target::Service(relative),
            },
        }
    }
}

/// A service name being looked up, joined from its labels; inline for names of usual length.
pub(crate) type ServiceName = smallvec::SmallVec<[u8; 64]>;

/// Joins a service name's labels with dots into `out` (cleared first), in lower case: the
/// form the table keys its names by, so a mixed-case query (0x20 randomisation) is looked up
/// without a second copy. Returns false, for a name no service has, when a label holds a dot
/// itself: joined, `z39\.50` would read as the two labels `z39` and `50`.
#[must_use]
pub(crate) fn join_service(labels: &[&[u8]], out: &mut ServiceName) -> bool {
    out.clear();
    if labels.iter().any(|label| label.contains(&b'.')) {
        return false;
    }
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> ZoneName {
        ZoneName::new(
            parse_domain("ports.local").unwrap(),
            &parse_domain("ns.ports.local").unwrap(),
        )
    }

    fn classify(name: &str) -> String {
        let labels: Vec<&[u8]> = name
            .split('.')
            .filter(|l| !l.is_empty())
            .map(str::as_bytes)
            .collect();
        format!("{:?}", zone().classify(&labels))
    }

    #[test]
    fn names_map_to_targets() {
        let rows = [
            ("ports.local", "Apex"),
            ("PORTS.Local", "Apex"),
            ("tcp.ports.local", "ProtocolNode(Tcp)"),
            ("443.tcp.ports.local", "PortOn(443, Tcp)"),
            ("443.TCP.pOrTs.LOCAL", "PortOn(443, Tcp)"),
            ("0.dccp.ports.local", "PortOn(0, Dccp)"),
            ("65535.sctp.ports.local", "PortOn(65535, Sctp)"),
            ("443.ports.local", "Port(443)"),
            (
                "https.tcp.ports.local",
                "ServiceOn([[104, 116, 116, 112, 115]], Tcp)",
            ),
            ("https.ports.local", "Service([[104, 116, 116, 112, 115]])"),
            (
                "z39.50.tcp.ports.local",
                "ServiceOn([[122, 51, 57], [53, 48]], Tcp)",
            ),
            ("ns.ports.local", "NameServer([[110, 115]])"),
            ("help.ports.local", "Help"),
            ("SEARCH.ports.local", "SearchApex"),
            ("db.Search.ports.local", "Search([[100, 98]])"),
            ("a.b.search.ports.local", "Search([[97], [98]])"),
            (
                "search.tcp.ports.local",
                "ServiceOn([[115, 101, 97, 114, 99, 104]], Tcp)",
            ),
            ("NS.ports.local", "NameServer([[78, 83]])"),
            ("top.TCP.ports.local", "Top(Tcp)"),
            ("top.ports.local", "FormNode"),
            (
                "top.icmp.ports.local",
                "Service([[116, 111, 112], [105, 99, 109, 112]])",
            ),
            ("registry.ports.local", "FormNode"),
            ("udp.registry.ports.local", "FormNode"),
            ("443.tcp.Registry.ports.local", "Registry(443, Tcp)"),
            (
                "0443.tcp.registry.ports.local",
                "Service([[48, 52, 52, 51], [116, 99, 112], [114, 101, 103, 105, 115, 116, 114, 121]])",
            ),
            (
                "registry.tcp.ports.local",
                "ServiceOn([[114, 101, 103, 105, 115, 116, 114, 121]], Tcp)",
            ),
            ("example.com", "OutOfZone"),
            ("local", "OutOfZone"),
            ("ports.example", "OutOfZone"),
        ];
        for (name, want) in rows {
            assert_eq!(classify(name), want, "{name}");
        }
    }

    #[test]
    fn non_canonical_ports_are_not_ports() {
        for label in ["0443", "65536", "99999", "", "4a", "123456", "-1"] {
            assert_eq!(parse_port(label.as_bytes()), None, "{label:?}");
        }
        assert_eq!(parse_port(b"0"), Some(0));
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(
            classify("99999.tcp.ports.local"),
            "ServiceOn([[57, 57, 57, 57, 57]], Tcp)"
        );
    }

    #[test]
    fn zone_names_are_validated() {
        assert_eq!(parse_domain("Ports.Internal.").unwrap().len(), 2);
        assert_eq!(parse_domain("."), Err(NameError::Root));
        assert!(matches!(parse_domain("a..b"), Err(NameError::BadLabel(..))));
        assert!(matches!(
            parse_domain("bad name"),
            Err(NameError::BadLabel(..))
        ));
        assert!(matches!(
            parse_domain(&"a".repeat(64)),
            Err(NameError::BadLabel(..))
        ));
        let long = vec!["abcdefghij"; 25].join(".");
        assert!(matches!(parse_domain(&long), Err(NameError::TooLong(_))));
    }

    #[test]
    fn ns_outside_the_zone_is_not_special() {
        let zone = ZoneName::new(
            parse_domain("ports.local").unwrap(),
            &parse_domain("ns1.example.net").unwrap(),
        );
        assert!(!zone.ns_in_zone());
        let labels: Vec<&[u8]> = vec![b"ns", b"ports", b"local"];
        assert_eq!(zone.classify(&labels), Target::Service(&labels[..1]));
    }

    #[test]
    fn service_labels_join_with_dots() {
        let mut out = ServiceName::from_slice(b"stale");
        assert!(join_service(&[b"z39", b"50"], &mut out));
        assert_eq!(&out[..], b"z39.50");
    }

    #[test]
    fn a_label_holding_a_dot_is_no_service_name() {
        let mut out = ServiceName::new();
        assert!(!join_service(&[b"z39.50"], &mut out));
        assert!(!join_service(&[b"a", b"b.c"], &mut out));
    }
}
