//! The zone's contents: every name `serve` answers with data, in one fixed order, with the
//! records at each. This is the one enumeration that `export-zone` and the zone transfers
//! (AXFR, and the differences IXFR sends) walk, so a transfer carries exactly what the master
//! file holds.
//!
//! Keyword search cannot be listed name by name, so the zone carries a delegation of
//! `search.<zone>` to its own name server instead: a secondary that loaded the zone refers
//! resolvers asking a search to the primary, which answers the search zone itself. `help.<zone>`
//! is an ordinary name with records.
//!
//! The walk is driven by a [`Position`], a small copyable value, so a transfer can stop after
//! any name, send what it has, and resume later without holding a borrow or a list of names:
//! nothing of the size of the zone is ever built.

use hickory_proto::op::ResponseCode;

use crate::core::answer::{self, Record, Section};
use crate::core::model::Protocol;
use crate::core::names::{HELP_LABEL, REGISTRY_LABEL, SEARCH_LABEL, TOP_LABEL, Target};
use crate::core::owner_name::OwnerName;
use crate::core::txt::decimal;
use crate::core::zone::{Snapshot, Zone};
use crate::wire::types::{DNSClass, RecordType};

/// Where the walk is. Variants are in walk order: the apex, `help`, the most common ports of
/// each protocol, the delegation of `search`, the name server (when its name is in the zone),
/// every port on each protocol, every port on all protocols, the registry's facts of every
/// port on each protocol, then each service name (sorted) on each protocol and on all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Position {
    /// The zone apex.
    Apex,
    /// `help.<zone>`.
    Help,
    /// `top.<protocol>.<zone>`, the protocol as an index into [`Protocol::ALL`].
    Top(u8),
    /// `search.<zone>`, where the zone delegates keyword search: NS records only.
    SearchCut,
    /// The name server's name.
    NameServer,
    /// `<port>.<protocol>.<zone>`, the protocol as an index into [`Protocol::ALL`].
    PortOn(u8, u16),
    /// `<port>.<zone>`.
    Port(u16),
    /// `<port>.<protocol>.registry.<zone>`, the protocol as an index into [`Protocol::ALL`].
    Registry(u8, u16),
    /// The `n`th service name (sorted, as the table lists them) on protocol `p` (an index into
    /// [`Protocol::ALL`], or 4 for the name without a protocol).
    Service(u32, u8),
    /// Past the last name.
    End,
}

/// The index used in [`Position::Service`] for a service name without a protocol label.
const ALL_PROTOCOLS: u8 = 4;

/// The protocol a position's index names: `None` for [`ALL_PROTOCOLS`].
fn protocol_at(p: u8) -> Option<Protocol> {
    Protocol::ALL.get(usize::from(p)).copied()
}

/// One table snapshot's contents, ready to walk. Cheap to make: it borrows, and copies the
/// zone's labels.
pub(crate) struct Contents<'s> {
    zone: &'s Zone,
    snapshot: &'s Snapshot,
    /// The zone's own labels, which end every name.
    apex: OwnerName,
}

impl<'s> Contents<'s> {
    /// The contents of `snapshot` in `zone`.
    pub(crate) fn new(zone: &'s Zone, snapshot: &'s Snapshot) -> Contents<'s> {
        let mut apex = OwnerName::default();
        for label in zone.name.labels() {
            apex.push(label);
        }
        Contents {
            zone,
            snapshot,
            apex,
        }
    }

    /// The zone's apex name.
    pub(crate) fn apex(&self) -> &OwnerName {
        &self.apex
    }

    /// The position after `position`, whether or not a name is there.
    pub(crate) fn after(&self, position: Position) -> Position {
        let services = self.snapshot.table.service_count() as u32;
        let first_service = if services == 0 {
            Position::End
        } else {
            Position::Service(0, 0)
        };
        match position {
            Position::Apex => Position::Help,
            Position::Help => Position::Top(0),
            Position::Top(p) if usize::from(p) + 1 < Protocol::ALL.len() => Position::Top(p + 1),
            Position::Top(_) => Position::SearchCut,
            Position::SearchCut => Position::NameServer,
            Position::NameServer => Position::PortOn(0, 0),
            Position::PortOn(p, u16::MAX) if usize::from(p) + 1 < Protocol::ALL.len() => {
                Position::PortOn(p + 1, 0)
            }
            Position::PortOn(_, u16::MAX) => Position::Port(0),
            Position::PortOn(p, port) => Position::PortOn(p, port + 1),
            Position::Port(u16::MAX) => Position::Registry(0, 0),
            Position::Port(port) => Position::Port(port + 1),
            Position::Registry(p, u16::MAX) if usize::from(p) + 1 < Protocol::ALL.len() => {
                Position::Registry(p + 1, 0)
            }
            Position::Registry(_, u16::MAX) => first_service,
            Position::Registry(p, port) => Position::Registry(p, port + 1),
            Position::Service(n, ALL_PROTOCOLS) if n + 1 < services => Position::Service(n + 1, 0),
            Position::Service(_, ALL_PROTOCOLS) | Position::End => Position::End,
            Position::Service(n, p) => Position::Service(n, p + 1),
        }
    }

    /// Writes the name at `position` into `name`; `false` when no name of the zone is there
    /// (the name server outside the zone, a service spelled like another kind of name).
    pub(crate) fn name_at(&self, position: Position, name: &mut OwnerName) -> bool {
        name.clear();
        let protocol_label = |p: u8| Protocol::ALL[usize::from(p)].label().as_bytes();
        match position {
            Position::Apex => {}
            Position::Help => name.push(HELP_LABEL),
            Position::Top(p) => {
                name.push(TOP_LABEL);
                name.push(protocol_label(p));
            }
            Position::Registry(p, port) => {
                let table = &self.snapshot.table;
                let mut ids = crate::core::table::EntryIds::new();
                table.port_entries(Protocol::ALL[usize::from(p)], port, &mut ids);
                if ids.iter().all(|&id| table.fact_count(id) == 0) {
                    return false;
                }
                name.push(decimal(port, &mut [0; 5]));
                name.push(protocol_label(p));
                name.push(REGISTRY_LABEL);
            }
            Position::SearchCut => name.push(SEARCH_LABEL),
            Position::NameServer => {
                if !self.zone.name.ns_in_zone() {
                    return false;
                }
                // The name server's name holds the zone's labels already.
                for label in &self.zone.ns_name {
                    name.push(label);
                }
                return true;
            }
            Position::PortOn(p, port) => {
                name.set_port(port, Some(protocol_label(p)), &self.apex);
                return true;
            }
            Position::Port(port) => {
                name.set_port(port, None, &self.apex);
                return true;
            }
            Position::Service(n, p) => {
                let service = self.snapshot.table.service_name(n as usize);
                // A service name that cannot be spelled in DNS labels has no name here.
                if service
                    .split(|&b| b == b'.')
                    .any(|label| label.is_empty() || label.len() > 63)
                {
                    return false;
                }
                for label in service.split(|&b| b == b'.') {
                    name.push(label);
                }
                if p != ALL_PROTOCOLS {
                    name.push(protocol_label(p));
                }
            }
            Position::End => return false,
        }
        name.append(&self.apex);
        match position {
            // Keep a service only where the naming rules read it as this service on this
            // protocol: a service called like the name server is listed under that meaning,
            // and one whose last label is a protocol's (`x.tcp`) reads, without a protocol,
            // as another service on that protocol, listed at that position.
            Position::Service(_, p) => match self.zone.name.classify(&name.labels()) {
                Target::Service(_) => p == ALL_PROTOCOLS,
                Target::ServiceOn(_, on) => protocol_at(p) == Some(on),
                _ => false,
            },
            _ => true,
        }
    }

    /// The records at a name of the zone (every type), or `None` when it holds none. At the
    /// search delegation only its NS records belong to this zone (portsd also answers the
    /// search zone's apex, SOA included, as that zone's server).
    pub(crate) fn records(&self, position: Position, name: &OwnerName) -> Option<Section<'s>> {
        let mut records = Section::new();
        self.records_into(position, name, &mut records);
        (!records.is_empty()).then_some(records)
    }

    /// Replaces `records` with what the zone answers at the name at `position`, for every
    /// type it holds there (nothing for a name without records). A port's or a service's name
    /// is what the naming rules read as that port or service ([`Contents::name_at`] keeps no
    /// other), so its records are looked up without parsing the name again or building a
    /// whole answer: they are all but four names of the zone.
    fn records_into(&self, position: Position, name: &OwnerName, records: &mut Section<'s>) {
        records.clear();
        let table = &self.snapshot.table;
        match position {
            Position::PortOn(p, port) => answer::port_records(table, port, protocol_at(p), records),
            Position::Port(port) => answer::port_records(table, port, None, records),
            Position::Top(p) => answer::top_records(table, Protocol::ALL[usize::from(p)], records),
            Position::Registry(p, port) => {
                answer::registry_records(table, port, Protocol::ALL[usize::from(p)], records);
            }
            Position::Service(n, p) => {
                let service = table.service_name(n as usize);
                answer::service_records(table, service, protocol_at(p), records);
            }
            _ => {
                let qtype = match position {
                    Position::SearchCut => RecordType::NS,
                    _ => RecordType::ANY,
                };
                let answer = answer::every_record(
                    self.zone,
                    self.snapshot,
                    &name.labels(),
                    qtype,
                    DNSClass::IN,
                );
                if answer.rcode == ResponseCode::NoError {
                    *records = answer.answers;
                }
            }
        }
    }

    /// Walks from `position` to the next name holding records; returns where it stands (or
    /// [`Position::End`]) with the name and its records.
    pub(crate) fn next_from(
        &self,
        position: Position,
        name: &mut OwnerName,
    ) -> (Position, Option<Section<'s>>) {
        let mut found = None;
        let at = self.visit_from(position, name, |_, _, records| {
            found = Some(records.iter().cloned().collect());
            false
        });
        (at, found)
    }

    /// Walks from `position` on and shows `visit` each name holding records, with its records,
    /// until `visit` returns false; returns the position it stopped at, or [`Position::End`].
    /// The records are lent, in one buffer for the whole walk: a zone transfer walks every
    /// name, and building an answer for each cost a fifth of it.
    pub(crate) fn visit_from(
        &self,
        mut position: Position,
        name: &mut OwnerName,
        mut visit: impl FnMut(Position, &OwnerName, &[Record<'s>]) -> bool,
    ) -> Position {
        let mut records = Section::new();
        // The position whose name `name` holds.
        let mut spelled = None;
        while position != Position::End {
            if self.name_after(spelled, position, name) {
                spelled = Some(position);
                self.records_into(position, name, &mut records);
                if !records.is_empty() && !visit(position, name, &records) {
                    return position;
                }
            } else {
                spelled = None;
            }
            position = self.after(position);
        }
        Position::End
    }

    /// [`Contents::name_at`], given that `name` holds the name at `previous`: from one port
    /// to the next on the same protocol only the port's label changes, and while its length
    /// stays it is overwritten in place.
    fn name_after(
        &self,
        previous: Option<Position>,
        position: Position,
        name: &mut OwnerName,
    ) -> bool {
        let port = match (previous, position) {
            (Some(Position::PortOn(was, _)), Position::PortOn(is, port)) if was == is => port,
            (Some(Position::Port(_)), Position::Port(port)) => port,
            _ => return self.name_at(position, name),
        };
        name.replace_first_label(decimal(port, &mut [0; 5])) || self.name_at(position, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::answer::Owner;
    use crate::core::model::{Entry, PortSpan, Source, Status};
    use crate::core::names::parse_domain;
    use crate::core::table::Table;

    fn small_zone() -> (Zone, Snapshot) {
        let zone = Zone::new(
            parse_domain("ports.test").unwrap(),
            parse_domain("ns.ports.test").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
            60,
        );
        let entry = |port: &str, protocol, service: Option<&str>| Entry {
            ports: PortSpan::parse(port).unwrap(),
            protocol,
            status: Status::Yes,
            service: service.map(str::to_owned),
            description: String::new(),
            aliases: Vec::new(),
            sources: Source::Iana.bit(),
            registry: None,
        };
        let table = Table::new(vec![
            entry("443", Protocol::Tcp, Some("https")),
            entry("53", Protocol::Udp, Some("domain")),
            entry("1", Protocol::Tcp, Some("ns")),
            // A range, and a port both in it and listed alone.
            entry("6881-6887", Protocol::Udp, None),
            entry("6883", Protocol::Udp, None),
            // Service names of several labels; `a.tcp` ends in a protocol's label, so without
            // a protocol it reads as `a` on TCP.
            entry("2000", Protocol::Tcp, Some("a.tcp")),
            entry("2001", Protocol::Udp, Some("x.y")),
            entry("2002", Protocol::Tcp, Some("a")),
        ]);
        let snapshot = Snapshot::new(table, 7, &zone);
        (zone, snapshot)
    }

    fn walk(contents: &Contents<'_>) -> Vec<(Position, String, usize)> {
        let mut out = Vec::new();
        let mut name = OwnerName::default();
        let mut position = Position::Apex;
        loop {
            let (at, records) = contents.next_from(position, &mut name);
            let Some(records) = records else { break };
            let text = name
                .labels()
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect::<Vec<_>>()
                .join(".");
            assert!(records.iter().all(|r| r.owner == Owner::Query));
            out.push((at, text, records.len()));
            position = contents.after(at);
        }
        out
    }

    #[test]
    fn the_walk_finds_at_each_name_what_a_query_for_it_gets() {
        let (zone, snapshot) = small_zone();
        let contents = Contents::new(&zone, &snapshot);
        let mut name = OwnerName::default();
        let mut position = Position::Apex;
        let mut ports = 0;
        while position != Position::End {
            if contents.name_at(position, &mut name) && position != Position::SearchCut {
                let asked = answer::every_record(
                    &zone,
                    &snapshot,
                    &name.labels(),
                    RecordType::ANY,
                    DNSClass::IN,
                );
                let expected = match asked.rcode {
                    ResponseCode::NoError => asked.answers,
                    _ => Section::new(),
                };
                let mut walked = Section::new();
                contents.records_into(position, &name, &mut walked);
                assert_eq!(walked, expected, "{position:?}");
                ports += usize::from(matches!(position, Position::Port(_) | Position::PortOn(..)));
            }
            position = contents.after(position);
        }
        assert_eq!(
            ports,
            5 * 65536,
            "every port on every protocol, and on none"
        );
    }

    /// One walk through the whole zone rewrites its name from one port to the next; each
    /// comes out as spelled from scratch.
    #[test]
    fn one_walk_spells_each_name_as_from_scratch() {
        let (zone, snapshot) = small_zone();
        let contents = Contents::new(&zone, &snapshot);
        let (mut walked, mut alone) = (OwnerName::default(), OwnerName::default());
        let mut visited = 0;
        contents.visit_from(Position::Apex, &mut walked, |at, name, _| {
            assert!(contents.name_at(at, &mut alone));
            assert_eq!(name.wire(), alone.wire(), "{at:?}");
            visited += 1;
            true
        });
        assert_eq!(visited, 4 + 5 * 65_536 + 10);
    }

    #[test]
    fn every_name_with_data_is_visited_once_in_order() {
        let (zone, snapshot) = small_zone();
        let contents = Contents::new(&zone, &snapshot);
        let names = walk(&contents);
        assert_eq!(
            names.len(),
            4 + 5 * 65_536 + 10,
            "apex, help, search, ns, ports, services"
        );
        assert_eq!(names[0], (Position::Apex, "ports.test".into(), 3));
        assert_eq!(
            names[1],
            (
                Position::Help,
                "help.ports.test".into(),
                snapshot.help(&zone).len()
            )
        );
        assert_eq!(
            names[2],
            (Position::SearchCut, "search.ports.test".into(), 1)
        );
        assert_eq!(names[3], (Position::NameServer, "ns.ports.test".into(), 2));
        assert_eq!(names[4].1, "0.tcp.ports.test");
        let services: Vec<&str> = names[names.len() - 10..]
            .iter()
            .map(|(_, name, _)| name.as_str())
            .collect();
        // `ns.ports.test` is the name server's name, listed once above (its TXT beside the
        // address); on a protocol it is a service name like any other. `a.tcp.ports.test` is
        // `a` on TCP, listed there and not again as the service `a.tcp`.
        assert_eq!(
            services,
            [
                "a.tcp.ports.test",
                "a.ports.test",
                "a.tcp.tcp.ports.test",
                "domain.udp.ports.test",
                "domain.ports.test",
                "https.tcp.ports.test",
                "https.ports.test",
                "ns.tcp.ports.test",
                "x.y.udp.ports.test",
                "x.y.ports.test",
            ]
        );
        let distinct: std::collections::HashSet<&str> =
            names.iter().map(|(_, name, _)| name.as_str()).collect();
        assert_eq!(distinct.len(), names.len(), "no name twice");
        let positions: Vec<Position> = names.iter().map(|(p, _, _)| *p).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "strictly ordered"
        );
    }
}
