//! Presentation formats: the zone as an RFC 1035 master file (`portsd export-zone`) and the
//! answers of `portsd lookup` and `portsd search`, as text lines or JSON. All go through
//! `answer::answer` or the `answer::uses` it answers from, so they show exactly what
//! `serve` answers.
//!
//! The JSON form is an array with one object per use; its fields are documented on [`UseView`]
//! and in `docs/names-and-answers.md`, and stay stable: fields may be added, none removed or
//! changed.

use std::io::{self, Write};

use serde::Serialize;

use crate::core::answer::{self, Owner, Rdata, Uses};
use crate::core::contents::{Contents, Position};
use crate::core::model::{FREQUENCY_SCALE, Protocol, RegistryFacts, Source, Status};
use crate::core::names::{SEARCH_LABEL, Target};
use crate::core::owner_name::OwnerName;
use crate::core::table::Table;
use crate::core::txt::{UnassignedText, character_strings};
use crate::core::zone::{Snapshot, Zone};

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
///
/// Keyword search cannot be enumerated, so the file (and a transfer, which carries the same,
/// see `crate::core::contents`) delegates `search.<zone>` to the zone's name server, a
/// portsd that answers it: a secondary serving this file refers resolvers there, and portsd
/// answers the search zone itself.
pub fn write_zone(zone: &Zone, snapshot: &Snapshot, out: &mut impl Write) -> io::Result<()> {
    let apex = absolute_name(labels_of(zone.name.labels()));
    let ns = absolute_name(labels_of(&zone.ns_name));
    let search = absolute_name(std::iter::once(SEARCH_LABEL).chain(labels_of(zone.name.labels())));
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
        for record in &records {
            let name = match record.owner {
                Owner::Query => &owner,
                Owner::Apex => &apex,
                Owner::NameServer => &ns,
                Owner::SearchApex => &search,
            };
            let data = match &record.data {
                Rdata::Txt(_) | Rdata::Ranked(..) | Rdata::Fact(..) | Rdata::Unassigned(_) => {
                    format!(
                        "TXT {}",
                        quoted_strings(&record.data.txt().unwrap_or_default())
                    )
                }
                Rdata::Soa(serial) => format!(
                    "SOA {ns} {} {serial} {} {} {} {}",
                    absolute_name(labels_of(&zone.rname)),
                    zone.timers.refresh,
                    zone.timers.retry,
                    zone.timers.expire,
                    zone.timers.minimum
                ),
                Rdata::Ns => format!("NS {ns}"),
                Rdata::Address(std::net::IpAddr::V4(ip)) => format!("A {ip}"),
                Rdata::Address(std::net::IpAddr::V6(ip)) => format!("AAAA {ip}"),
                Rdata::Zonemd(digest) => zonemd_text(digest.rdata()),
            };
            let ttl = zone.ttl_of(record.data.rtype());
            writeln!(out, "{name} {ttl} IN {data}")?;
        }
    }
    Ok(())
}

/// A ZONEMD record's data in presentation form (RFC 8976 2.3): serial, scheme, hash
/// algorithm, then the digest in hexadecimal.
fn zonemd_text(data: &[u8]) -> String {
    match data {
        [s0, s1, s2, s3, scheme, hash, digest @ ..] => format!(
            "ZONEMD {} {scheme} {hash} {}",
            u32::from_be_bytes([*s0, *s1, *s2, *s3]),
            data_encoding::HEXUPPER.encode(digest)
        ),
        _ => String::new(),
    }
}

/// Why a lookup or search found nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    /// The query text is not `PORT`, `PORT/PROTO`, `SERVICE` or `SERVICE/PROTO`.
    #[error("cannot read {0:?}: expected PORT, PORT/PROTOCOL, SERVICE or SERVICE/PROTOCOL")]
    BadQuery(String),
    /// No service by that name.
    #[error("no service named {0:?}")]
    NotFound(String),
    /// Digits that are no port number: above 65535, or with a leading zero.
    #[error("{0:?} is not a port: ports are 0-65535, written without leading zeros")]
    NotAPort(String),
    /// A search without words.
    #[error("search needs at least one word")]
    NoWords,
    /// No use matches any of the words.
    #[error("no use matches {0:?}")]
    NoMatch(String),
}

/// One use as `lookup --json` and `search --json` print it. The fields are a stable interface.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UseView {
    /// The port or range as the TXT record writes it: `443`, `6881-6887`.
    pub(crate) port: String,
    /// The lowest port of the use.
    pub(crate) first: u16,
    /// The highest port of the use (equal to `first` for a single port).
    pub(crate) last: u16,
    /// `tcp`, `udp`, `sctp`, `dccp`, or `any` for a port nobody lists on any protocol.
    pub(crate) protocol: &'static str,
    /// The status word (`Yes`, `Unofficial`, ..., `Local`, `System`, `Unassigned`).
    pub(crate) status: &'static str,
    /// The service name, or null.
    pub(crate) service: Option<String>,
    /// The other names the system's services database gives the port, possibly empty.
    pub(crate) aliases: Vec<String>,
    /// The description, possibly empty.
    pub(crate) description: String,
    /// The sources that contributed (`local`, `excerpt`, `port-list`, `iana`, `services`,
    /// `vendor`);
    /// empty for a port nobody lists.
    pub(crate) sources: Vec<&'static str>,
    /// The TXT record's text, exactly as DNS answers it.
    pub text: String,
    /// IANA's facts beyond name and description, flattened into the object: `references`
    /// (list, `RFC 9110` or a handle), `assignee`, `contact`, `registered`, `modified`,
    /// `service_code`, `unauthorized_use`, `assignment_notes` (text or null).
    #[serde(flatten)]
    pub(crate) registry: RegistryFacts,
    /// The share of hosts nmap found with this port open on this protocol (0 to 1, from
    /// `nmap-services`), or null for a range, a port nmap does not list, or without the file.
    pub(crate) frequency: Option<f64>,
    /// For a search: the words of the search this use does not match (when no use matches
    /// them all, the uses matching most of them answer); left out when it matches every word,
    /// and for a lookup.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unused_words: Vec<String>,
}

impl UseView {
    /// The views of the uses `found` in `table`.
    pub(crate) fn of(table: &Table, found: Uses) -> Vec<UseView> {
        match found {
            Uses::Listed(ids) => ids
                .iter()
                .map(|&id| {
                    let entry = table.entry(id);
                    UseView {
                        port: entry.ports.to_string(),
                        first: entry.ports.first,
                        last: entry.ports.last,
                        protocol: entry.protocol.label(),
                        status: entry.status.word(),
                        service: entry.service.clone(),
                        aliases: entry.aliases.clone(),
                        description: entry.description.clone(),
                        sources: Source::ALL
                            .into_iter()
                            .filter(|&s| entry.has_source(s))
                            .map(Source::name)
                            .collect(),
                        text: text_of(table.rdata(id)),
                        registry: entry.registry.clone().unwrap_or_default(),
                        frequency: table
                            .frequency(id)
                            .map(|f| f64::from(f) / f64::from(FREQUENCY_SCALE)),
                        unused_words: Vec::new(),
                    }
                })
                .collect(),
            Uses::Unlisted(unlisted @ UnassignedText { port, protocol }) => {
                let text = unlisted.to_string();
                let description = text.splitn(5, " | ").nth(4).unwrap_or_default().to_owned();
                vec![UseView {
                    port: port.to_string(),
                    first: port,
                    last: port,
                    protocol: protocol.map_or("any", Protocol::label),
                    status: Status::Unassigned.word(),
                    service: None,
                    aliases: Vec::new(),
                    description,
                    sources: Vec::new(),
                    text,
                    registry: RegistryFacts::default(),
                    frequency: None,
                    unused_words: Vec::new(),
                }]
            }
        }
    }
}

/// The uses `portsd lookup QUERY` shows: those `serve` answers for the query's name.
pub fn lookup(zone: &Zone, snapshot: &Snapshot, query: &str) -> Result<Vec<UseView>, LookupError> {
    lookup_uses(zone, snapshot, query).map(|found| UseView::of(&snapshot.table, found))
}

/// The uses [`lookup`] shows, as the table's entries (or the port nobody lists), for a caller
/// that reads them where they are rather than as copies (a port page).
pub(crate) fn lookup_uses(
    zone: &Zone,
    snapshot: &Snapshot,
    query: &str,
) -> Result<Uses, LookupError> {
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
    // All digits reads as a port, even where DNS would read a service name (`99999`).
    if subject.bytes().all(|b| b.is_ascii_digit()) {
        port_of(subject)?;
    }
    let mut labels: Vec<&[u8]> = subject.split('.').map(str::as_bytes).collect();
    if let Some(protocol) = protocol {
        labels.push(protocol.label().as_bytes());
    }
    labels.extend(labels_of(zone.name.labels()));
    let target = zone.name.classify(&labels);
    match target {
        Target::PortOn(..) | Target::Port(_) | Target::Service(_) | Target::ServiceOn(..) => {}
        _ => return Err(bad()),
    }
    match answer::uses(&snapshot.table, &target) {
        Some(Uses::Listed(ids)) if ids.is_empty() => Err(LookupError::NotFound(query.to_owned())),
        Some(found) => Ok(found),
        None => Err(LookupError::NotFound(query.to_owned())),
    }
}

/// The port `text` names, read as `portsd lookup` reads one: decimal digits without a leading
/// zero, 0 to 65535. Anything else is [`LookupError::NotAPort`], the message the CLI and the
/// page both give.
pub fn port_of(text: &str) -> Result<u16, LookupError> {
    crate::core::names::parse_port(text.as_bytes())
        .ok_or_else(|| LookupError::NotAPort(text.to_owned()))
}

/// The uses `portsd search WORDS` shows: those `WORDS.search.<zone>` answers, each with the
/// words it does not match ([`UseView::unused_words`]; empty when it matches them all). Each
/// argument may hold several words separated by blanks. The HTTP API and page call this too.
pub fn search(snapshot: &Snapshot, words: &[String]) -> Result<Vec<UseView>, LookupError> {
    let words: Vec<&[u8]> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(str::as_bytes)
        .collect();
    if words.is_empty() {
        return Err(LookupError::NoWords);
    }
    let table = &snapshot.table;
    let mut found = Vec::new();
    table.search_matching(&words, |id, matched| found.push((id, matched)));
    let ids = found.iter().map(|&(id, _)| id).collect();
    let mut views = UseView::of(table, Uses::Listed(ids));
    for (view, (_, matched)) in views.iter_mut().zip(&found) {
        view.unused_words = words
            .iter()
            .enumerate()
            .filter(|&(i, _)| matched & (1 << i) == 0)
            .map(|(_, w)| String::from_utf8_lossy(w).into_owned())
            .collect();
    }
    if views.is_empty() {
        let asked: Vec<String> = words
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        return Err(LookupError::NoMatch(asked.join(" ")));
    }
    Ok(views)
}

/// What the server holds, as `GET /v1/zone` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneView {
    /// The zone's name, without the trailing dot.
    zone: String,
    /// The SOA serial served.
    serial: u32,
    /// The TTL of every record.
    ttl: u32,
    /// The data's fingerprint, 16 hex digits, as the apex TXT record's `data` and `portsd
    /// check` give it: equal fingerprints, equal data.
    data: String,
    /// Uses in the table.
    entries: usize,
    /// Uses that cover a range of ports.
    ranges: usize,
    /// Distinct service names.
    services: usize,
    /// Uses each source contributed to, by source name.
    sources: std::collections::BTreeMap<&'static str, usize>,
    /// The data's date (UTC, `YYYY-MM-DD`): the newest data file's modification, or the
    /// compiled-in data's date; null when unknown.
    data_date: Option<String>,
}

/// What `snapshot` holds, served as `zone`.
pub fn zone_view(zone: &Zone, snapshot: &Snapshot) -> ZoneView {
    let table = &snapshot.table;
    let stats = table.stats();
    ZoneView {
        zone: zone.display_name(),
        serial: snapshot.serial,
        ttl: zone.ttl,
        data: table.data_fingerprint(),
        entries: table.entries().len(),
        ranges: stats.ranges,
        services: stats.services,
        sources: stats
            .by_source
            .iter()
            .map(|&(source, count)| (source.name(), count))
            .collect(),
        data_date: (table.data_date() != 0).then(|| civil_date(table.data_date())),
    }
}

/// The UTC calendar date (`YYYY-MM-DD`) of Unix time `seconds` (the proleptic Gregorian
/// calendar, counted in 400-year eras of 146,097 days from 0000-03-01).
fn civil_date(seconds: u32) -> String {
    let days = i64::from(seconds / 86_400) + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Uses (or `explain`'s sockets and ports) as `--json` prints them: an array, one object per
/// line.
pub fn to_json<T: Serialize>(views: &[T]) -> String {
    let mut out = String::from("[");
    for (i, view) in views.iter().enumerate() {
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        // Serialising plain strings, numbers and lists cannot fail.
        out.push_str(&serde_json::to_string(view).unwrap_or_default());
    }
    out.push_str("\n]");
    out
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
    fn unlisted_ports_have_the_text_dns_answers() {
        let table = Table::new(Vec::new());
        let views = UseView::of(
            &table,
            Uses::Unlisted(UnassignedText {
                port: 3,
                protocol: None,
            }),
        );
        assert_eq!(views[0].protocol, "any");
        assert_eq!(
            views[0].description,
            "no known use; system port range 0-1023 (RFC 6335)"
        );
        assert_eq!(
            crate::core::txt::encode_strings(&views[0].text).len(),
            views[0].text.len() + 1
        );
    }

    #[test]
    fn civil_dates_of_unix_times() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(951_782_400), "2000-02-29");
        assert_eq!(civil_date(1_798_761_599), "2026-12-31");
        assert_eq!(civil_date(u32::MAX), "2106-02-07");
    }

    #[test]
    fn text_of_joins_strings() {
        assert_eq!(text_of(b"\x02ab\x01c"), "abc");
    }
}
