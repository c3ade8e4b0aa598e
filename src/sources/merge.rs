//! The merge of the parsed sources into one entry per use of a port (or range) on a protocol.
//! The rules (which rows describe the same use, which facts win) are documented in
//! `data/README.md`, section "Merge rules"; this module is their implementation.

use std::collections::{HashMap, HashSet};

use super::iana::IanaRecord;
use super::port_list::ListRow;
use crate::core::model::{Entry, PortSpan, Protocol, Source, Status};

/// Merges local entries, the excerpt, the port list and IANA's records. Local entries come
/// first, then the port list's uses by port (the excerpt's rows in place of the list rows they
/// revise), then IANA's uses the list does not describe, in registry order.
pub(crate) fn merge(
    local: Vec<Entry>,
    excerpt: &[ListRow],
    list: &[ListRow],
    iana: &[IanaRecord],
) -> Vec<Entry> {
    let uses = apply_excerpt(excerpt, list);
    // The list may name one use twice on a protocol (20000/udp: a UDP row and a TCP and UDP row
    // with the same text); an RRset is a set, so the second is the same record and is dropped.
    let mut made = HashSet::new();
    let mut entries: Vec<Entry> = uses
        .iter()
        .flat_map(Use::entries)
        .filter(|entry| made.insert(entry.clone()))
        .collect();
    let iana_only = attach_iana(&mut entries, iana);
    let mut merged = local;
    merged.append(&mut entries);
    merged.extend(iana_only);
    merged
}

/// One use of a port or range as the port list (or its excerpt) describes it.
struct Use<'a> {
    ports: PortSpan,
    statuses: [Option<Status>; 4],
    description: &'a str,
    sources: u8,
}

impl<'a> Use<'a> {
    fn from_row(row: &'a ListRow, source: Source) -> Use<'a> {
        Use {
            ports: row.ports,
            statuses: row.statuses,
            description: &row.description,
            sources: source.bit(),
        }
    }

    /// One entry per protocol the use names. A row naming no protocol at all (the list gives a
    /// description but no status cell) is answered on TCP and UDP, the protocols the list is
    /// about, with status `Unassigned` until an IANA record for the same use supplies one. A row
    /// with neither status nor description (a leaked table end, `}`) states nothing: no entry.
    fn entries(&self) -> Vec<Entry> {
        let mut listed: Vec<(Protocol, Status)> = Protocol::ALL
            .into_iter()
            .filter_map(|p| self.statuses[p.index()].map(|s| (p, s)))
            .collect();
        if listed.is_empty() && !self.description.is_empty() {
            listed = vec![
                (Protocol::Tcp, Status::Unassigned),
                (Protocol::Udp, Status::Unassigned),
            ];
        }
        listed
            .into_iter()
            .map(|(protocol, status)| Entry {
                ports: self.ports,
                protocol,
                status,
                service: None,
                aliases: Vec::new(),
                description: self.description.to_owned(),
                sources: self.sources,
                registry: None,
            })
            .collect()
    }
}

/// The port list's uses with the excerpt applied. An excerpt row revises the list row on the
/// same port or range that describes the same use: first by text (one normalised description
/// starts with the other), then, for an excerpt row without description, the one list row left
/// on that port. The revised use takes the excerpt's statuses, and its description unless the
/// excerpt has none. Excerpt rows that revise nothing are uses of their own.
fn apply_excerpt<'a>(excerpt: &'a [ListRow], list: &'a [ListRow]) -> Vec<Use<'a>> {
    let mut list_by_span: HashMap<PortSpan, Vec<usize>> = HashMap::new();
    for (i, row) in list.iter().enumerate() {
        list_by_span.entry(row.ports).or_default().push(i);
    }
    let mut revised_by: Vec<Option<usize>> = vec![None; list.len()];
    let unclaimed = |ports: PortSpan, revised_by: &[Option<usize>]| -> Vec<usize> {
        list_by_span
            .get(&ports)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&j| revised_by[j].is_none())
            .collect()
    };
    for (i, row) in excerpt
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.description.is_empty())
    {
        let text = comparable(&row.description);
        if let Some(j) = unclaimed(row.ports, &revised_by).into_iter().find(|&j| {
            let other = comparable(&list[j].description);
            !other.is_empty() && (text.starts_with(&other) || other.starts_with(&text))
        }) {
            revised_by[j] = Some(i);
        }
    }
    for (i, row) in excerpt
        .iter()
        .enumerate()
        .filter(|(_, r)| r.description.is_empty())
    {
        if let [j] = unclaimed(row.ports, &revised_by)[..] {
            revised_by[j] = Some(i);
        }
    }
    let mut uses: Vec<Use<'a>> = list
        .iter()
        .zip(&revised_by)
        .map(|(row, revision)| match revision {
            None => Use::from_row(row, Source::PortList),
            Some(i) => {
                let revision = &excerpt[*i];
                Use {
                    ports: row.ports,
                    statuses: revision.statuses,
                    description: if revision.description.is_empty() {
                        &row.description
                    } else {
                        &revision.description
                    },
                    sources: Source::Excerpt.bit() | Source::PortList.bit(),
                }
            }
        })
        .collect();
    uses.extend(
        excerpt
            .iter()
            .enumerate()
            .filter(|(i, _)| !revised_by.contains(&Some(*i)))
            .map(|(_, row)| Use::from_row(row, Source::Excerpt)),
    );
    uses.sort_by_key(|u| (u.ports.first, u.ports.last));
    uses
}

/// Lower-case letters and digits only, so that punctuation and spacing differences between
/// two renderings of the same text do not matter.
fn comparable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a list entry's status can describe the same use as an IANA record of `status`:
/// the legend's Yes and Assigned mean "assigned by IANA", Reserved means "reserved by IANA";
/// Unofficial, No and N/A say IANA has no part in the use. `Unassigned` here marks a list row
/// with no status, which any record may complete.
fn compatible(list_status: Status, iana_status: Status) -> bool {
    match list_status {
        Status::Unassigned => true,
        Status::Yes | Status::Assigned => iana_status == Status::Assigned,
        Status::Reserved => iana_status == Status::Reserved,
        _ => false,
    }
}

/// Whether the list's description names the record: its service name as a word, or its
/// description (compared as [`comparable`] text) inside the list's, or the other way round.
fn names_record(list_description: &str, record: &IanaRecord) -> bool {
    let lowered = list_description.to_ascii_lowercase();
    let is_name_char = |c: char| c.is_alphanumeric() || c == '-';
    let service_named = record.service.as_deref().is_some_and(|name| {
        let name = name.to_ascii_lowercase();
        lowered.match_indices(&name).any(|(at, _)| {
            let before = lowered[..at].chars().next_back();
            let after = lowered[at + name.len()..].chars().next();
            !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
        })
    });
    let (list_text, iana_text) = (
        comparable(list_description),
        comparable(&record.description),
    );
    service_named
        || (!iana_text.is_empty() && list_text.contains(&iana_text))
        || (!list_text.is_empty() && iana_text.contains(&list_text))
}

/// Gives each IANA record (per protocol) to the list entry describing the same use, if any,
/// and returns entries for the rest. Same use: same port or range, same protocol, compatible
/// statuses, and either the list's description names the record or that port and protocol
/// have exactly one such list entry and one such record left. A list entry takes the record's
/// service name, its status if the list had none, its description if the list's is empty.
fn attach_iana(entries: &mut [Entry], records: &[IanaRecord]) -> Vec<Entry> {
    let mut by_key: HashMap<(PortSpan, Protocol), Vec<usize>> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        by_key
            .entry((entry.ports, entry.protocol))
            .or_default()
            .push(i);
    }
    let uses: Vec<(&IanaRecord, Protocol)> = records
        .iter()
        .flat_map(|r| r.protocols.iter().map(move |&p| (r, p)))
        .collect();
    let mut taken = vec![false; entries.len()];
    let mut partner: Vec<Option<usize>> = vec![None; uses.len()];
    let candidates = |record: &IanaRecord, protocol: Protocol, taken: &[bool]| -> Vec<usize> {
        by_key
            .get(&(record.ports, protocol))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| !taken[i] && compatible(entries[i].status, record.status))
            .collect()
    };
    for (k, &(record, protocol)) in uses.iter().enumerate() {
        let found = candidates(record, protocol, &taken)
            .into_iter()
            .find(|&i| names_record(&entries[i].description, record));
        if let Some(i) = found {
            taken[i] = true;
            partner[k] = Some(i);
        }
    }
    let mut unmatched_per_key: HashMap<(PortSpan, Protocol), usize> = HashMap::new();
    for (&(record, protocol), _) in uses.iter().zip(&partner).filter(|(_, p)| p.is_none()) {
        *unmatched_per_key
            .entry((record.ports, protocol))
            .or_default() += 1;
    }
    for (k, &(record, protocol)) in uses.iter().enumerate() {
        if partner[k].is_some() || unmatched_per_key[&(record.ports, protocol)] != 1 {
            continue;
        }
        if let [i] = candidates(record, protocol, &taken)[..] {
            taken[i] = true;
            partner[k] = Some(i);
        }
    }
    let mut iana_only = Vec::new();
    for (&(record, protocol), partner) in uses.iter().zip(&partner) {
        match *partner {
            Some(i) => {
                let entry = &mut entries[i];
                entry.service.clone_from(&record.service);
                entry.sources |= Source::Iana.bit();
                if entry.status == Status::Unassigned {
                    entry.status = record.status;
                }
                if entry.description.is_empty() {
                    entry.description.clone_from(&record.description);
                }
                entry.registry = record.facts.clone();
            }
            None => iana_only.push(Entry {
                ports: record.ports,
                protocol,
                status: record.status,
                service: record.service.clone(),
                aliases: Vec::new(),
                description: record.description.clone(),
                sources: Source::Iana.bit(),
                registry: record.facts.clone(),
            }),
        }
    }
    iana_only
}
