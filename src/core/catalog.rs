//! The catalog zone (RFC 9432, version 2) of the zones portsd serves (`--catalog NAME`): a
//! secondary that transfers it (Knot's `catalog-role: interpret`, BIND's `catalog-zones`)
//! learns from it which zones to transfer from portsd, and follows additions and removals.
//!
//! Its records: the apex SOA and NS (the NS is `invalid.`, as RFC 9432 4.1 suggests, since
//! nobody resolves through a catalog), `version.<catalog> TXT "2"`, and one
//! `<label>.zones.<catalog> PTR <member>.` per member zone. A member's label is made from its
//! name alone (16 hex digits of the SHA-256 of its lower-case wire form), so it stays the same
//! while the member stays, and a member removed and added again gets the same one back.
//!
//! The serial follows [`crate::core::serial`]'s rule with the start's clock as the date: it stays
//! while the catalog's fingerprint (its settings and member names) is the one served before, and
//! otherwise moves past it. Pure: no I/O; the pipeline answers from it and writes it.

use ring::digest::{SHA256, digest};

use crate::core::fingerprint::Fingerprint;
use crate::core::serial::{self, Served};
use crate::core::zone::Zone;
use crate::wire::types::RecordType;

/// The catalog's NS target (RFC 9432 4.1): a name that resolves nowhere.
const INVALID: &[u8] = b"invalid";
/// The label under which the members sit.
const ZONES: &[u8] = b"zones";
/// The label of the version record.
const VERSION: &[u8] = b"version";
/// The RDATA of the version record: one character-string, `2`.
pub(crate) const VERSION_RDATA: &[u8] = b"\x012";
/// Hex digits of a member's label.
const LABEL_DIGITS: usize = 16;

/// One member zone: its unique label and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    label: Box<[u8]>,
    /// The member's name in wire form (lower case, the root's zero last): the PTR's data.
    wire: Box<[u8]>,
}

/// The catalog zone, built once at start: its apex (a [`Zone`] whose name server is
/// `invalid.`), its serial and its members, sorted by label.
#[derive(Clone, Debug)]
pub(crate) struct Catalog {
    /// The apex's settings: the catalog's name, NS `invalid.`, TTL and SOA timers.
    pub(crate) zone: Zone,
    /// The serial served, with the fingerprint it was settled for.
    pub(crate) served: Served,
    members: Vec<Member>,
}

/// One of the catalog's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Data<'c> {
    /// The apex SOA.
    Soa,
    /// The apex NS, `invalid.`.
    Ns,
    /// `version TXT "2"`.
    Version,
    /// A member's PTR: the member's name in wire form, the root's zero last.
    Ptr(&'c [u8]),
}

impl Data<'_> {
    /// The record's type.
    pub(crate) fn rtype(self) -> RecordType {
        match self {
            Data::Soa => RecordType::SOA,
            Data::Ns => RecordType::NS,
            Data::Version => RecordType::TXT,
            Data::Ptr(_) => RecordType::PTR,
        }
    }
}

/// A record of the catalog: its owner in wire form ([`wire_of`]) and its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record<'c> {
    pub(crate) owner: Vec<u8>,
    pub(crate) data: Data<'c>,
}

/// What the catalog holds for a question at or under its apex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found<'c> {
    /// The records of the name and type asked (never empty).
    Records(Vec<Record<'c>>),
    /// The name exists without records of the type asked (NOERROR, the SOA in authority).
    NoData,
    /// No such name (NXDOMAIN, the SOA in authority).
    NxDomain,
}

/// A name's labels in wire form (each after its length, without the root's zero, as
/// [`crate::core::owner_name::OwnerName::wire`] holds owners), from labels leftmost first.
fn wire_of<'l>(labels: impl IntoIterator<Item = &'l [u8]>) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in labels {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire
}

/// The unique label (RFC 9432 4.3) of the member whose wire form is `wire`.
fn member_label(wire: &[u8]) -> Box<[u8]> {
    let sum = digest(&SHA256, wire);
    let hex = data_encoding::HEXLOWER.encode(&sum.as_ref()[..LABEL_DIGITS / 2]);
    hex.into_bytes().into_boxed_slice()
}

impl Catalog {
    /// The catalog named `name` (lower-case labels) of `members`, its TTL and SOA timers those
    /// of `template`, its serial settled against `previous` (what was served before, if
    /// anything) with `now` (Unix seconds) as the date.
    pub(crate) fn new(
        name: Vec<Box<[u8]>>,
        members: &[Zone],
        template: &Zone,
        previous: Option<Served>,
        now: u32,
    ) -> Catalog {
        let invalid = vec![Box::<[u8]>::from(INVALID)];
        let zone = Zone::new(name, invalid, Vec::new(), template.ttl).with_timers(template.timers);
        let mut members: Vec<Member> = members
            .iter()
            .map(|member| {
                let mut wire = wire_of(member.name.labels().iter().map(|l| &l[..]));
                wire.push(0);
                Member {
                    label: member_label(&wire),
                    wire: wire.into_boxed_slice(),
                }
            })
            .collect();
        members.sort_by(|a, b| a.label.cmp(&b.label));
        members.dedup();
        let mut hash = Fingerprint::new();
        zone.add_settings_to(&mut hash);
        for member in &members {
            hash.add(&member.wire);
        }
        let hash = hash.finish();
        let served = (serial::serial_for(now, hash, previous), hash);
        Catalog {
            zone,
            served,
            members,
        }
    }

    /// The serial served.
    pub(crate) fn serial(&self) -> u32 {
        self.served.0
    }

    /// The apex in wire form ([`wire_of`]).
    pub(crate) fn apex(&self) -> Vec<u8> {
        wire_of(self.zone.name.labels().iter().map(|l| &l[..]))
    }

    /// The wire form of the name `relative` (labels, leftmost first) under the apex.
    fn owner(&self, relative: &[&[u8]]) -> Vec<u8> {
        let apex = self.zone.name.labels().iter().map(|l| &l[..]);
        wire_of(relative.iter().copied().chain(apex))
    }

    /// Every record, the SOA first, in the order a transfer sends them (the closing SOA is
    /// the transfer's to add).
    pub(crate) fn records(&self) -> Vec<Record<'_>> {
        let apex = self.apex();
        let mut records = vec![
            Record {
                owner: apex.clone(),
                data: Data::Soa,
            },
            Record {
                owner: apex,
                data: Data::Ns,
            },
            Record {
                owner: self.owner(&[VERSION]),
                data: Data::Version,
            },
        ];
        records.extend(self.members.iter().map(|member| Record {
            owner: self.owner(&[&member.label, ZONES]),
            data: Data::Ptr(&member.wire),
        }));
        records
    }

    /// The labels of `name` (as received, leftmost first) below the apex, leftmost first,
    /// when `name` is at or under the apex; compared without regard to case.
    pub(crate) fn relative<'n>(&self, name: &'n [&'n [u8]]) -> Option<&'n [&'n [u8]]> {
        let apex = self.zone.name.labels();
        let below = name.len().checked_sub(apex.len())?;
        let at_apex = name[below..]
            .iter()
            .zip(apex)
            .all(|(label, apex)| label.eq_ignore_ascii_case(apex));
        at_apex.then_some(&name[..below])
    }

    /// What the catalog holds for `qtype` at the name whose labels under the apex are
    /// `relative` (from [`Catalog::relative`]), owners in lower case. ANY gets every record
    /// of the name.
    pub(crate) fn lookup(&self, relative: &[&[u8]], qtype: RecordType) -> Found<'_> {
        let lower: Vec<Vec<u8>> = relative.iter().map(|l| l.to_ascii_lowercase()).collect();
        let owner = self.owner(&lower.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let at_name: Vec<Record<'_>> = match &lower[..] {
            [] => self.records().into_iter().take(2).collect(),
            [label] if label == VERSION => vec![Record {
                owner,
                data: Data::Version,
            }],
            // `zones` itself: a name with no records of its own (RFC 8020: not NXDOMAIN).
            [label] if label == ZONES => return Found::NoData,
            [label, zones] if zones == ZONES => {
                match self.members.iter().find(|m| m.label[..] == label[..]) {
                    Some(member) => vec![Record {
                        owner,
                        data: Data::Ptr(&member.wire),
                    }],
                    None => return Found::NxDomain,
                }
            }
            _ => return Found::NxDomain,
        };
        let asked: Vec<Record<'_>> = at_name
            .into_iter()
            .filter(|r| qtype == RecordType::ANY || r.data.rtype() == qtype)
            .collect();
        if asked.is_empty() {
            Found::NoData
        } else {
            Found::Records(asked)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::names::parse_domain;

    fn zone(name: &str) -> Zone {
        Zone::new(
            parse_domain(name).unwrap(),
            parse_domain(&format!("ns.{name}")).unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
            3600,
        )
    }

    fn catalog(members: &[&str], previous: Option<Served>, now: u32) -> Catalog {
        let zones: Vec<Zone> = members.iter().map(|m| zone(m)).collect();
        let name = parse_domain("catalog.invalid").unwrap();
        Catalog::new(name, &zones, &zone("ports.local"), previous, now)
    }

    /// The records as presentation-like text, for comparing.
    fn text(records: &[Record<'_>]) -> Vec<String> {
        let name = |wire: &[u8]| {
            let (mut at, mut labels) = (0, Vec::new());
            while at < wire.len() && wire[at] != 0 {
                let length = usize::from(wire[at]);
                labels.push(String::from_utf8_lossy(&wire[at + 1..=at + length]).into_owned());
                at += length + 1;
            }
            labels.join(".") + "."
        };
        records
            .iter()
            .map(|r| {
                let data = match r.data {
                    Data::Ptr(member) => format!("PTR {}", name(member)),
                    other => format!("{}", other.rtype()),
                };
                format!("{} {data}", name(&r.owner))
            })
            .collect()
    }

    #[test]
    fn the_catalog_has_its_apex_its_version_and_one_ptr_per_member() {
        let catalog = catalog(&["ports.local", "Ports.Internal"], None, 1_000);
        let records = text(&catalog.records());
        assert_eq!(
            records[..3],
            [
                "catalog.invalid. SOA",
                "catalog.invalid. NS",
                "version.catalog.invalid. TXT"
            ]
        );
        let mut ptrs: Vec<&str> = records[3..].iter().map(String::as_str).collect();
        ptrs.sort_by_key(|r| r.rsplit(' ').next().unwrap().to_owned());
        assert_eq!(ptrs.len(), 2);
        assert!(ptrs[0].ends_with(".zones.catalog.invalid. PTR ports.internal."));
        assert!(ptrs[1].ends_with(".zones.catalog.invalid. PTR ports.local."));
        assert_eq!(catalog.serial(), 1_000, "the first serial is the date");
    }

    #[test]
    fn a_member_keeps_its_label_while_others_come_and_go() {
        let label_of = |catalog: &Catalog, member: &str| {
            text(&catalog.records())
                .into_iter()
                .find(|r| r.ends_with(&format!("PTR {member}.")))
                .map(|r| r.split('.').next().unwrap().to_owned())
        };
        let one = catalog(&["ports.local"], None, 1);
        let two = catalog(&["ports.internal", "ports.local"], None, 1);
        let label = label_of(&one, "ports.local").unwrap();
        assert_eq!(label.len(), LABEL_DIGITS);
        assert_eq!(label_of(&two, "ports.local"), Some(label.clone()));
        assert_ne!(label_of(&two, "ports.internal"), Some(label));
    }

    #[test]
    fn the_serial_stays_with_the_members_and_moves_when_they_change() {
        let first = catalog(&["ports.local"], None, 1_000);
        let again = catalog(&["ports.local"], Some(first.served), 5_000);
        assert_eq!(again.served, first.served, "same members: same serial");
        let added = catalog(
            &["ports.local", "ports.internal"],
            Some(first.served),
            5_000,
        );
        assert_eq!(added.serial(), 5_000);
        let removed = catalog(&["ports.internal"], Some(added.served), 4_000);
        assert_eq!(
            removed.serial(),
            5_001,
            "a clock behind steps past the served serial"
        );
        let renamed = {
            let name = parse_domain("other.invalid").unwrap();
            Catalog::new(
                name,
                &[zone("ports.local")],
                &zone("ports.local"),
                Some(first.served),
                1,
            )
        };
        assert_ne!(renamed.served.1, first.served.1, "the name is part of it");
    }

    #[test]
    fn lookups_answer_as_rfc_9432_and_rfc_8020_say() {
        let catalog = catalog(&["ports.local"], None, 7);
        let member = text(&catalog.records())[3]
            .split('.')
            .next()
            .unwrap()
            .to_owned();
        let ask = |name: &str, qtype: RecordType| {
            let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
            match catalog.relative(&labels) {
                None => "outside".to_owned(),
                Some(relative) => match catalog.lookup(relative, qtype) {
                    Found::Records(records) => text(&records).join(", "),
                    Found::NoData => "nodata".to_owned(),
                    Found::NxDomain => "nxdomain".to_owned(),
                },
            }
        };
        assert_eq!(
            ask("CATALOG.invalid", RecordType::SOA),
            "catalog.invalid. SOA"
        );
        assert_eq!(
            ask("catalog.invalid", RecordType::NS),
            "catalog.invalid. NS"
        );
        assert_eq!(
            ask("catalog.invalid", RecordType::ANY),
            "catalog.invalid. SOA, catalog.invalid. NS"
        );
        assert_eq!(ask("catalog.invalid", RecordType::A), "nodata");
        assert_eq!(
            ask("Version.catalog.invalid", RecordType::TXT),
            "version.catalog.invalid. TXT"
        );
        assert_eq!(ask("version.catalog.invalid", RecordType::PTR), "nodata");
        assert_eq!(ask("zones.catalog.invalid", RecordType::PTR), "nodata");
        assert_eq!(
            ask(&format!("{member}.zones.catalog.invalid"), RecordType::PTR),
            format!("{member}.zones.catalog.invalid. PTR ports.local.")
        );
        assert_eq!(
            ask(&format!("{member}.zones.catalog.invalid"), RecordType::TXT),
            "nodata"
        );
        assert_eq!(
            ask("0000000000000000.zones.catalog.invalid", RecordType::PTR),
            "nxdomain"
        );
        assert_eq!(
            ask(
                &format!("x.{member}.zones.catalog.invalid"),
                RecordType::PTR
            ),
            "nxdomain"
        );
        assert_eq!(
            ask("x.version.catalog.invalid", RecordType::TXT),
            "nxdomain"
        );
        assert_eq!(ask("nothing.catalog.invalid", RecordType::A), "nxdomain");
        assert_eq!(ask("invalid", RecordType::SOA), "outside");
        assert_eq!(ask("ports.local", RecordType::SOA), "outside");
    }
}
