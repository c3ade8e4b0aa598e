//! Small zones and snapshots the transfer tests (AXFR, IXFR, the journal, the zone kept on
//! disk) are checked on.

use std::sync::Arc;

use crate::core::model::{Entry, PortSpan, Protocol, Source, Status};
use crate::core::names::parse_domain;
use crate::core::table::Table;
use crate::core::zone::{Snapshot, Zone};

pub(crate) fn zone() -> Zone {
    Zone::new(
        parse_domain("ports.test").unwrap(),
        parse_domain("ns.ports.test").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
        60,
    )
}

pub(crate) fn snapshot(zone: &Zone, serial: u32, uses: &[(&str, &str)]) -> Arc<Snapshot> {
    let entries = uses
        .iter()
        .map(|&(port, description)| Entry {
            ports: PortSpan::parse(port).unwrap(),
            protocol: Protocol::Tcp,
            status: Status::Yes,
            service: None,
            description: description.to_owned(),
            aliases: Vec::new(),
            sources: Source::Iana.bit(),
            registry: None,
        })
        .collect();
    Arc::new(Snapshot::new(Table::new(entries), serial, zone))
}
