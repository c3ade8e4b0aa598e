//! Presentation formats: the zone as an RFC 1035 master file (`portsd export-zone`) and the
//! plain-text answer of `portsd lookup`. Both go through [`answer::answer`], so they show
//! exactly what `serve` answers.

use std::io::{self, Write};

use crate::core::answer::{
    self, Owner, Rcode, Rdata, SOA_EXPIRE, SOA_REFRESH, SOA_RETRY, Snapshot, Zone, rtype,
};
use crate::core::contents::{Contents, OwnerName, Position};
use crate::core::model::Protocol;
use crate::core::names::Target;
use crate::core::txt::character_strings;

/// Writes a label in master-file syntax: letters, digits, `-` and `_` as is, the specials
/// escaped with a backslash, everything else as `\DDD`.
fn write_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(char::from(b)),
            b'.' | b'(' | b')' | b';' | b'"' | b'\\' | b'@' | b'$' => {
                out.push('\\');
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
}

/// An absolute name (`443.tcp.ports.local.`).
fn absolute_name<'l>(labels: impl IntoIterator<Item = &'l [u8]>) -> String {
    let mut out = String::new();
    for label in labels {
        write_label(&mut out, label);
        out.push('.');
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// A TXT RDATA's character-strings, quoted, bytes outside printable ASCII as `\DDD`.
fn quoted_strings(rdata: &[u8]) -> String {
    let mut out = String::new();
    for string in character_strings(rdata) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('"');
        for &b in string {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x20..=0x7E => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('"');
    }
    out
}

fn labels_of(names: &[Box<[u8]>]) -> impl Iterator<Item = &[u8]> {
    names.iter().map(|l| &l[..])
}

/// Writes the whole zone as a master file.
pub fn write_zone(zone: &Zone, snapshot: &Snapshot, out: &mut impl Write) -> io::Result<()> {
    let apex = absolute_name(labels_of(zone.name.labels()));
    let ns = absolute_name(labels_of(&zone.ns_name));
    writeln!(out, "; portsd zone {apex} serial {}", snapshot.serial)?;
    writeln!(out, "$ORIGIN {apex}")?;
    let contents = Contents::new(zone, snapshot);
    let mut name = OwnerName::default();
    let mut position = Position::Apex;
    loop {
        let (at, records) = contents.next_from(position, &mut name);
        let Some(records) = records else { break };
        position = contents.after(at);
        let owner = absolute_name(name.labels().iter().copied());
        for record in &records.answers {
            let name = match record.owner {
                Owner::Query => &owner,
                Owner::Apex => &apex,
                Owner::NameServer => &ns,
            };
            let data = match &record.data {
                Rdata::Txt(_) | Rdata::Unassigned(_) => {
                    format!(
                        "TXT {}",
                        quoted_strings(&record.data.txt().unwrap_or_default())
                    )
                }
                Rdata::Soa(serial) => format!(
                    "SOA {ns} {} {serial} {SOA_REFRESH} {SOA_RETRY} {SOA_EXPIRE} {}",
                    absolute_name(labels_of(&zone.rname)),
                    zone.ttl
                ),
                Rdata::Ns => format!("NS {ns}"),
                Rdata::Address(std::net::IpAddr::V4(ip)) => format!("A {ip}"),
                Rdata::Address(std::net::IpAddr::V6(ip)) => format!("AAAA {ip}"),
            };
            writeln!(out, "{name} {} IN {data}", zone.ttl)?;
        }
    }
    Ok(())
}

/// Why a lookup found nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    /// The query text is not `PORT`, `PORT/PROTO`, `SERVICE` or `SERVICE/PROTO`.
    #[error("cannot read {0:?}: expected PORT, PORT/PROTOCOL, SERVICE or SERVICE/PROTOCOL")]
    BadQuery(String),
    /// No service by that name.
    #[error("no service named {0:?}")]
    NotFound(String),
}

/// The lines `portsd lookup QUERY` prints: one per use, as the TXT records say it.
pub fn lookup(zone: &Zone, snapshot: &Snapshot, query: &str) -> Result<Vec<String>, LookupError> {
    let bad = || LookupError::BadQuery(query.to_owned());
    let (subject, protocol) = match query.split_once('/') {
        Some((subject, proto)) => (
            subject,
            Some(Protocol::from_label(proto.as_bytes()).ok_or_else(bad)?),
        ),
        None => (query, None),
    };
    if subject.is_empty() || subject.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(bad());
    }
    let mut labels: Vec<&[u8]> = subject.split('.').map(str::as_bytes).collect();
    if let Some(protocol) = protocol {
        labels.push(protocol.label().as_bytes());
    }
    labels.extend(labels_of(zone.name.labels()));
    match zone.name.classify(&labels) {
        Target::PortOn(..) | Target::Port(_) | Target::Service(_) | Target::ServiceOn(..) => {}
        _ => return Err(bad()),
    }
    let answer = answer::answer(zone, snapshot, &labels, rtype::TXT, answer::CLASS_IN);
    if answer.rcode != Rcode::NoError || answer.answers.is_empty() {
        return Err(LookupError::NotFound(query.to_owned()));
    }
    Ok(answer
        .answers
        .iter()
        .filter_map(|record| record.data.txt().map(|rdata| text_of(&rdata)))
        .collect())
}

/// The text of TXT RDATA: its character-strings joined.
pub(crate) fn text_of(rdata: &[u8]) -> String {
    String::from_utf8_lossy(&character_strings(rdata).collect::<Vec<_>>().concat()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_strings_are_escaped() {
        let mut out = String::new();
        write_label(&mut out, b"Apple Remote (x)");
        assert_eq!(out, "Apple\\032Remote\\032\\(x\\)");
        assert_eq!(
            quoted_strings(b"\x03a\"b\x02\xc3\xa9"),
            "\"a\\\"b\" \"\\195\\169\""
        );
        assert_eq!(absolute_name([&b"ports"[..], b"local"]), "ports.local.");
    }

    #[test]
    fn text_of_joins_strings() {
        assert_eq!(text_of(b"\x02ab\x01c"), "abc");
    }
}
