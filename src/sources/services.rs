//! The system's services database (`/etc/services`, services(5)): the names a host's own tools
//! (`getservbyname`, `getent services`) know ports by. Parsing, and joining those names to the
//! merged entries; the rules are in `data/README.md`, section "The system's services database".

use super::common::{DataError, HostFile};
use crate::core::model::{Entry, PortName, PortSpan, Protocol, Source, Status};
use std::collections::HashMap;

/// The services file read when none is configured, if it exists.
pub const DEFAULT_SERVICES: &str = "/etc/services";

/// Which services file to read ([`HostFile::from_setting`] with [`DEFAULT_SERVICES`]).
pub type ServicesFile = HostFile;

/// One line of the database: a port on a protocol and its names, the official one first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServiceLine {
    pub(crate) names: Vec<String>,
    pub(crate) port: u16,
    pub(crate) protocol: Protocol,
}

/// What was read from the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ParsedServices {
    /// The lines on tcp, udp, sctp and dccp, in file order.
    pub(crate) lines: Vec<ServiceLine>,
    /// Lines on other protocols (`ddp`, ...): portsd has no names for those.
    pub(crate) other_protocols: usize,
}

/// Parses services(5) text: `NAME PORT/PROTOCOL [ALIAS...]`, fields separated by blanks,
/// `#` starting a comment anywhere. A line without a valid `PORT/PROTOCOL` is a problem.
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> ParsedServices {
    let mut parsed = ParsedServices::default();
    for (index, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or_default();
        let mut fields = content.split_whitespace();
        let Some(name) = fields.next() else { continue };
        let Some(port_protocol) = fields.next() else {
            problems.push(DataError::new(
                file,
                index + 1,
                "expected NAME PORT/PROTOCOL",
            ));
            continue;
        };
        let Some((port, protocol)) = port_protocol.split_once('/') else {
            let reason = format!("expected PORT/PROTOCOL, found {port_protocol:?}");
            problems.push(DataError::new(file, index + 1, reason));
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            let reason = format!("bad port {port:?}");
            problems.push(DataError::new(file, index + 1, reason));
            continue;
        };
        let Some(protocol) = Protocol::from_label(protocol.as_bytes()) else {
            parsed.other_protocols += 1;
            continue;
        };
        let mut names: Vec<String> = Vec::new();
        for name in std::iter::once(name).chain(fields) {
            if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
                names.push(name.to_owned());
            }
        }
        parsed.lines.push(ServiceLine {
            names,
            port,
            protocol,
        });
    }
    parsed
}

/// Joins the database's names to the entries. For each line, on its port and protocol: the
/// single-port uses whose service name is one of the line's names take the line's other names
/// as aliases; when none is, every single-port use with a service name takes them; when there is
/// no such use, the line becomes a use of its own (status System). Returns every name with its
/// port and protocol, for lookups by name.
pub(crate) fn join(entries: &mut Vec<Entry>, lines: &[ServiceLine]) -> Vec<PortName> {
    let mut named: HashMap<(Protocol, u16), Vec<usize>> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if !entry.ports.is_range() && entry.service.is_some() {
            named
                .entry((entry.protocol, entry.ports.first))
                .or_default()
                .push(index);
        }
    }
    let mut system_names = Vec::new();
    for line in lines {
        system_names.extend(line.names.iter().map(|name| PortName {
            name: name.to_ascii_lowercase(),
            protocol: line.protocol,
            port: line.port,
        }));
        let uses = named.entry((line.protocol, line.port)).or_default();
        let carries = |entry: &Entry| {
            entry
                .service
                .as_deref()
                .is_some_and(|s| line.names.iter().any(|n| n.eq_ignore_ascii_case(s)))
        };
        let matching: Vec<usize> = uses
            .iter()
            .copied()
            .filter(|&i| carries(&entries[i]))
            .collect();
        let targets = if matching.is_empty() {
            uses.clone()
        } else {
            matching
        };
        if targets.is_empty() {
            uses.push(entries.len());
            entries.push(Entry {
                ports: PortSpan::single(line.port),
                protocol: line.protocol,
                status: Status::System,
                service: Some(line.names[0].clone()),
                aliases: line.names[1..].to_vec(),
                description: "named in the system's services database".to_owned(),
                sources: Source::Services.bit(),
                registry: None,
            });
            continue;
        }
        for index in targets {
            let entry = &mut entries[index];
            entry.sources |= Source::Services.bit();
            for name in &line.names {
                let known = entry
                    .service
                    .iter()
                    .chain(&entry.aliases)
                    .any(|k| k.eq_ignore_ascii_case(name));
                if !known {
                    entry.aliases.push(name.clone());
                }
            }
        }
    }
    system_names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(port: u16, protocol: Protocol, service: Option<&str>) -> Entry {
        Entry {
            ports: PortSpan::single(port),
            protocol,
            status: Status::Assigned,
            service: service.map(str::to_owned),
            aliases: Vec::new(),
            description: String::new(),
            sources: Source::Iana.bit(),
            registry: None,
        }
    }

    #[test]
    fn lines_comments_and_problems() {
        let text = "# comment\n\nwhois\t\t43/tcp\t\tnicname # Whois\nhttp 80/tcp www WWW\n\
                    rtmp 1/ddp\nbroken\nbad 99999/tcp\nnoslash 80\nkerberos4 750/UDP kerberos-iv kdc\n";
        let mut problems = Vec::new();
        let parsed = parse("services", text, &mut problems);
        let lines: Vec<String> = parsed
            .lines
            .iter()
            .map(|l| format!("{} {}/{}", l.names.join(","), l.port, l.protocol))
            .collect();
        assert_eq!(
            lines,
            [
                "whois,nicname 43/tcp",
                "http,www 80/tcp",
                "kerberos4,kerberos-iv,kdc 750/udp"
            ]
        );
        assert_eq!(parsed.other_protocols, 1);
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "services:6: expected NAME PORT/PROTOCOL",
                "services:7: bad port \"99999\"",
                "services:8: expected PORT/PROTOCOL, found \"80\"",
            ]
        );
    }

    #[test]
    fn names_join_the_uses_that_carry_them_or_make_their_own() {
        let mut entries = vec![
            entry(43, Protocol::Tcp, Some("nicname")),
            entry(750, Protocol::Udp, Some("kerberos-iv")),
            entry(750, Protocol::Udp, Some("loadav")),
            entry(5061, Protocol::Tcp, Some("sips")),
            entry(6001, Protocol::Tcp, None),
        ];
        let mut problems = Vec::new();
        let parsed = parse(
            "services",
            "whois 43/tcp nicname\nkerberos4 750/udp kerberos-iv kdc\nsip-tls 5061/tcp\n\
             x11-1 6001/tcp\nx11-one 6001/tcp\n",
            &mut problems,
        );
        let names = join(&mut entries, &parsed.lines);
        assert!(problems.is_empty());
        let texts: Vec<String> = entries.iter().map(crate::core::txt::entry_text).collect();
        assert_eq!(
            texts,
            [
                "43 | tcp | Assigned | nicname whois | -",
                "750 | udp | Assigned | kerberos-iv kerberos4 kdc | -",
                "750 | udp | Assigned | loadav | -",
                "5061 | tcp | Assigned | sips sip-tls | -",
                "6001 | tcp | Assigned | - | -",
                "6001 | tcp | System | x11-1 x11-one | named in the system's services database",
            ]
        );
        assert!(entries[0].has_source(Source::Services));
        assert!(!entries[2].has_source(Source::Services));
        assert_eq!(names.len(), 8);
        assert_eq!(
            names[0],
            PortName {
                name: "whois".into(),
                protocol: Protocol::Tcp,
                port: 43
            }
        );
    }

    #[test]
    fn the_default_file_may_be_missing_a_named_one_may_not() {
        assert_eq!(
            ServicesFile::from_setting(Some("none"), DEFAULT_SERVICES),
            None
        );
        let missing = "/nonexistent/services";
        let default = ServicesFile {
            path: missing.into(),
            required: false,
        };
        assert_eq!(default.read(), Ok(None));
        let named = ServicesFile::from_setting(Some(missing), DEFAULT_SERVICES).unwrap();
        let problem = named.read().unwrap_err().to_string();
        assert!(
            problem.starts_with("/nonexistent/services: cannot read"),
            "{problem}"
        );
    }
}
