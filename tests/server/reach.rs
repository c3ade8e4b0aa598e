//! Every entry of the merged table, hence every port-list row and every IANA record with a port
//! (the data tests in `src/sources/tests.rs` tie rows to entries), is reachable through the DNS
//! answer path by its `<port>.<proto>` name (first and last port of a range) and by its
//! `<service>.<proto>` and `<service>` names (but `search` and `help`, which name the keyword
//! search and the help records on their own and are reached on one protocol only).

use crate::common::{builtin_table, test_zone};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};
use portsd::core::answer::{self, Rdata};
use portsd::core::zone::Snapshot;

fn answers_contain(snapshot: &Snapshot, name: &str, wanted: &[u8]) -> bool {
    let zone = test_zone();
    let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
    let answer = answer::answer(&zone, snapshot, &labels, RecordType::TXT, DNSClass::IN);
    answer.rcode == ResponseCode::NoError
        && answer.authoritative
        && answer
            .answers
            .iter()
            .any(|r| matches!(&r.data, Rdata::Txt(strings) if *strings == wanted))
}

#[test]
fn every_entry_answers_by_port_and_by_service_name() {
    let zone = test_zone();
    let snapshot = Snapshot::new(builtin_table(), 1, &zone);
    let table = &snapshot.table;
    let mut checked = 0;
    for (id, entry) in table.entries().iter().enumerate() {
        let rdata = table.rdata(id as u32);
        let proto = entry.protocol.label();
        for port in [entry.ports.first, entry.ports.last] {
            for name in [
                format!("{port}.{proto}.ports.local"),
                format!("{port}.ports.local"),
            ] {
                assert!(
                    answers_contain(&snapshot, &name, rdata),
                    "{name} lacks {entry:?}"
                );
            }
        }
        if let Some(service) = &entry.service {
            let service = service.to_ascii_lowercase();
            if service.split('.').all(|l| !l.is_empty() && l.len() <= 63) {
                let special = service == "search" || service == "help";
                let mut names = vec![format!("{service}.{proto}.ports.local")];
                if !special {
                    names.push(format!("{service}.ports.local"));
                }
                for name in names {
                    assert!(
                        answers_contain(&snapshot, &name, rdata),
                        "{name} lacks {entry:?}"
                    );
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 14_000, "{checked} entries");
}
