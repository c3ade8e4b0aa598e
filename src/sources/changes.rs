//! What changed between two versions of IANA's registry, counted in the records that answer
//! (records without a port and unassigned ones make no entry, so they are not counted): what
//! `update-data` reports after a download.

use std::collections::BTreeMap;

use super::common::DataErrors;
use super::iana::{self, IanaRecord};
use crate::core::model::{PortSpan, Protocol, RegistryFacts, Status};

/// Records added, removed and changed from one registry to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegistryChanges {
    /// Records of the new registry with no counterpart in the old one.
    pub added: usize,
    /// Records of the old registry with no counterpart in the new one.
    pub removed: usize,
    /// Records present in both whose status or description differs.
    pub changed: usize,
    /// Records of the new registry that answer.
    pub records: usize,
}

impl RegistryChanges {
    /// Whether the two registries answer alike.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.added == 0 && self.removed == 0 && self.changed == 0
    }
}

/// What identifies a record from one version of the registry to the next: IANA keys its
/// registry by service name, port and protocol. The service name is compared as DNS compares
/// names, without regard to case.
type RecordKey = (Option<String>, PortSpan, &'static [Protocol]);

/// Compares the registry `old` (named `old_label` in problems) with `new`. Both must parse;
/// `new` is expected to have been checked with the full loader already.
pub(crate) fn registry_changes(
    (old_label, old): (&str, &str),
    (new_label, new): (&str, &str),
) -> Result<RegistryChanges, DataErrors> {
    let old = keyed(old_label, old)?;
    let new = keyed(new_label, new)?;
    let mut changes = RegistryChanges {
        records: new.values().map(Vec::len).sum(),
        ..RegistryChanges::default()
    };
    for (key, new_values) in &new {
        let old_values = old.get(key).map_or(&[][..], Vec::as_slice);
        let (only_old, only_new) = unmatched(old_values, new_values);
        let changed = only_old.min(only_new);
        changes.changed += changed;
        changes.added += only_new - changed;
        changes.removed += only_old - changed;
    }
    for (key, old_values) in &old {
        if !new.contains_key(key) {
            changes.removed += old_values.len();
        }
    }
    Ok(changes)
}

/// How many of `old` and of `new` (both sorted) have no equal in the other: identical records
/// under one key pair off first, so only what is left counts as changed, added or removed.
fn unmatched<T: Ord>(old: &[T], new: &[T]) -> (usize, usize) {
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < old.len() && j < new.len() {
        match old[i].cmp(&new[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (old.len() - common, new.len() - common)
}

/// The records of a registry by key, each key's values sorted so that reordering the file
/// counts as no change.
/// What a record says under its key: status, description and the other columns' facts.
type RecordValue = (Status, String, Option<RegistryFacts>);

fn keyed(label: &str, text: &str) -> Result<BTreeMap<RecordKey, Vec<RecordValue>>, DataErrors> {
    let mut problems = Vec::new();
    let parsed = iana::parse(label, text, &mut problems);
    DataErrors::check(problems)?;
    let mut keyed: BTreeMap<RecordKey, Vec<RecordValue>> = BTreeMap::new();
    for IanaRecord {
        service,
        ports,
        protocols,
        status,
        description,
        facts,
        ..
    } in parsed.records
    {
        let key = (
            service.map(|name| name.to_ascii_lowercase()),
            ports,
            protocols,
        );
        keyed
            .entry(key)
            .or_default()
            .push((status, description, facts));
    }
    for values in keyed.values_mut() {
        values.sort();
    }
    Ok(keyed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\r\n";

    /// Rows of four fields, padded to the registry's twelve.
    fn registry(rows: &str) -> String {
        format!("{HEADER}{}", rows.replace("\r\n", ",,,,,,,,\r\n"))
    }

    fn changes(old: &str, new: &str) -> RegistryChanges {
        let (old, new) = (registry(old), registry(new));
        registry_changes(("old", &old), ("new", &new)).expect("both parse")
    }

    #[test]
    fn additions_removals_and_changes_are_counted_per_record() {
        let old = "http,80,tcp,World Wide Web\r\nftp,21,tcp,File Transfer\r\ngone,7000,udp,Old\r\n";
        let new =
            "http,80,tcp,World Wide Web HTTP\r\nftp,21,tcp,File Transfer\r\nnew,7001,udp,New\r\n";
        assert_eq!(
            changes(old, new),
            RegistryChanges {
                added: 1,
                removed: 1,
                changed: 1,
                records: 3
            }
        );
    }

    #[test]
    fn reordering_and_case_of_service_names_are_no_change() {
        let old = "http,80,tcp,Web\r\nftp,21,tcp,Files\r\n";
        let new = "FTP,21,tcp,Files\r\nhttp,80,tcp,Web\r\n";
        assert!(changes(old, new).is_empty());
    }

    #[test]
    fn a_second_record_under_one_key_is_an_addition() {
        let old = ",7002,tcp,Reserved\r\n";
        let new = ",7002,tcp,Reserved\r\n,7002,tcp,De-registered\r\n";
        let counted = changes(old, new);
        assert_eq!((counted.added, counted.changed, counted.removed), (1, 0, 0));
    }

    #[test]
    fn a_registry_that_does_not_parse_is_a_problem_not_a_count() {
        let result = registry_changes(("old", HEADER), ("new", "no,header\r\n"));
        assert!(result.is_err());
    }
}
