//! Tests over the whole of the real data in `data/`: every row of every source is answerable,
//! the merge keeps the facts each source gives, and bad files are reported at the right line.

use std::sync::OnceLock;

use super::iana::{self, IanaRecord};
use super::port_list::{self, ListRow};
use super::*;
use crate::core::model::Status;
use crate::core::model::{PortSpan, Protocol};

fn data_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The built-in data, loaded once for all tests.
fn builtin() -> &'static (LoadedData, Table) {
    static BUILTIN: OnceLock<(LoadedData, Table)> = OnceLock::new();
    BUILTIN.get_or_init(|| {
        let loaded = load_builtin().unwrap_or_else(|e| panic!("built-in data has problems:\n{e}"));
        let table = Table::new(loaded.entries.clone());
        (loaded, table)
    })
}

fn parsed<T>(parse: impl Fn(&str, &str, &mut Vec<DataError>) -> T, name: &str) -> T {
    let mut problems = Vec::new();
    let parsed = parse(name, &data_file(name), &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    parsed
}

fn list_rows() -> Vec<ListRow> {
    parsed(port_list::parse_tsv, PORTS_TSV)
}

fn excerpt_rows() -> Vec<ListRow> {
    parsed(port_list::parse_excerpt, EXCERPT)
}

fn iana_records() -> Vec<IanaRecord> {
    parsed(iana::parse, IANA_CSV).records
}

/// The first, a middle and the last port of a span.
fn probes(ports: PortSpan) -> [u16; 3] {
    [
        ports.first,
        ports.first + (ports.last - ports.first) / 2,
        ports.last,
    ]
}

/// The entries for one port on one protocol that cover exactly `ports`.
fn entries_at(table: &Table, protocol: Protocol, port: u16, ports: PortSpan) -> Vec<&Entry> {
    let mut ids = Vec::new();
    table.port_entries(protocol, port, &mut ids);
    ids.into_iter()
        .map(|id| table.entry(id))
        .filter(|e| e.ports == ports)
        .collect()
}

#[test]
fn ports_tsv_is_what_the_converter_makes_of_the_markdown() {
    let markdown = data_file("source/wikipedia-ports.md");
    let converted = convert_markdown("data/source/wikipedia-ports.md", &markdown).unwrap();
    assert!(
        converted == data_file(PORTS_TSV),
        "data/ports.tsv is stale: regenerate it with `portsd convert-wikipedia` (see data/README.md)"
    );
}

#[test]
fn builtin_data_loads_without_problems_and_counts_every_row() {
    let (loaded, table) = builtin();
    assert_eq!(
        loaded.rows_per_source,
        [
            (Source::Local, 0),
            (Source::Excerpt, 33),
            (Source::PortList, 1980),
            (Source::Iana, 14_447),
            (Source::Services, 0),
            (Source::Vendor, 80)
        ]
    );
    assert_eq!(loaded.entries.len(), table.entries().len());
}

#[test]
fn every_vendor_row_is_answered_and_found_by_its_name() {
    let (_, table) = builtin();
    let rows = parsed(vendor::parse, VENDOR_TSV);
    assert!(rows.len() >= 60, "{} rows", rows.len());
    for row in &rows {
        let found = entries_at(table, row.protocol, row.ports.first, row.ports);
        let answered = found
            .iter()
            .find(|e| e.has_source(Source::Vendor) && e.service == row.service)
            .unwrap_or_else(|| {
                panic!(
                    "{} {} {:?} not answered",
                    row.ports, row.protocol, row.service
                )
            });
        assert_eq!(answered.description, row.description);
        // Unofficial unless IANA assigns the name there.
        let iana = found.iter().find(|e| {
            e.has_source(Source::Iana)
                && e.service.as_deref().map(str::to_lowercase) == row.service.clone()
        });
        assert_eq!(
            answered.status,
            iana.map_or(Status::Unofficial, |e| e.status),
            "{answered:?}"
        );
        let Some(name) = &row.service else { continue };
        let mut ids = Vec::new();
        table.search(&[name.as_bytes()], &mut ids);
        assert!(
            ids.iter()
                .any(|&id| std::ptr::eq(table.entry(id), *answered)),
            "searching {name} does not find {answered:?}"
        );
    }
}

#[test]
fn every_excerpt_row_is_answered_as_it_states() {
    let (_, table) = builtin();
    let rows = excerpt_rows();
    assert_eq!(rows.len(), 33);
    for row in &rows {
        for (protocol, status) in row.listed() {
            let found = entries_at(table, protocol, row.ports.first, row.ports);
            assert!(
                found.iter().any(|e| e.has_source(Source::Excerpt)
                    && e.status == status
                    && (row.description.is_empty() || e.description == row.description)),
                "excerpt line {}: {} {protocol} {status} {:?} not answered; found {found:?}",
                row.line,
                row.ports,
                row.description
            );
        }
    }
}

#[test]
fn every_port_list_row_is_answered() {
    let (_, table) = builtin();
    for row in &list_rows() {
        let mut listed: Vec<(Protocol, Option<Status>)> =
            row.listed().map(|(p, s)| (p, Some(s))).collect();
        if listed.is_empty() && !row.description.is_empty() {
            listed = vec![(Protocol::Tcp, None), (Protocol::Udp, None)];
        }
        for (protocol, status) in listed {
            for port in probes(row.ports) {
                let found = entries_at(table, protocol, port, row.ports);
                // Either the row as listed, or the excerpt's revision of it.
                let answered = found.iter().any(|e| {
                    e.has_source(Source::PortList)
                        && (e.has_source(Source::Excerpt)
                            || (status.is_none_or(|s| e.status == s)
                                && (row.description.is_empty()
                                    || e.description == row.description)))
                });
                assert!(
                    answered,
                    "ports.tsv line {}: {port}/{protocol} {status:?} {:?} not answered; found {found:?}",
                    row.line, row.description
                );
            }
        }
    }
}

#[test]
fn every_iana_record_with_a_port_is_answered_by_port_and_by_name() {
    let (_, table) = builtin();
    let records = iana_records();
    assert!(records.len() > 12_000, "{}", records.len());
    let mut ids = Vec::new();
    for record in &records {
        for &protocol in record.protocols {
            for port in probes(record.ports) {
                let found = entries_at(table, protocol, port, record.ports);
                let answered = found.iter().any(|e| {
                    e.has_source(Source::Iana)
                        && e.service == record.service
                        && (e.has_source(Source::PortList)
                            || e.has_source(Source::Excerpt)
                            || (e.status == record.status && e.description == record.description))
                });
                assert!(
                    answered,
                    "IANA line {}: {port}/{protocol} {:?} not answered; found {found:?}",
                    record.line, record.service
                );
            }
            if let Some(name) = &record.service {
                ids.clear();
                table.service_entries(name.as_bytes(), Some(protocol), &mut ids);
                assert!(
                    ids.iter().any(|&id| table.entry(id).ports == record.ports),
                    "IANA line {}: service {name}/{protocol} not found",
                    record.line
                );
            }
        }
    }
}

/// `(status, service, description, sources)` of every use of `port` on `protocol`.
fn uses(
    protocol: Protocol,
    port: u16,
) -> Vec<(Status, Option<&'static str>, &'static str, Vec<Source>)> {
    let (_, table) = builtin();
    let mut ids = Vec::new();
    table.port_entries(protocol, port, &mut ids);
    ids.into_iter()
        .map(|id| {
            let e = table.entry(id);
            let sources = Source::ALL
                .into_iter()
                .filter(|&s| e.has_source(s))
                .collect();
            (
                e.status,
                e.service.as_deref(),
                e.description.as_str(),
                sources,
            )
        })
        .collect()
}

#[test]
fn merged_uses_of_well_known_ports() {
    use Source::{Excerpt, Iana, PortList};
    use Status::*;
    let apis = "In programming APIs (not in communication between hosts), requests a system-allocated (dynamic) port";
    assert_eq!(
        uses(Protocol::Tcp, 0),
        [
            (NotApplicable, None, apis, vec![Excerpt, PortList]),
            (Reserved, None, "Reserved", vec![Excerpt, Iana]),
        ]
    );
    assert_eq!(
        uses(Protocol::Dccp, 0),
        [(NotApplicable, None, apis, vec![Excerpt, PortList])]
    );
    assert_eq!(
        uses(Protocol::Tcp, 9),
        [
            (
                Yes,
                Some("discard"),
                "Discard Protocol",
                vec![PortList, Iana]
            ),
            (No, None, "Wake-on-LAN", vec![Excerpt, PortList]),
        ]
    );
    assert_eq!(
        uses(Protocol::Udp, 9),
        [
            (
                Yes,
                Some("discard"),
                "Discard Protocol",
                vec![PortList, Iana]
            ),
            (Unofficial, None, "Wake-on-LAN", vec![Excerpt, PortList]),
        ]
    );
    let http = uses(Protocol::Tcp, 80);
    assert_eq!(http[0].1, Some("http"));
    assert_eq!(http[0].3, [PortList, Iana]);
    let aliases: Vec<_> = http.iter().filter(|u| u.3 == [Iana]).map(|u| u.1).collect();
    assert_eq!(aliases, [Some("www"), Some("www-http")]);
    assert_eq!(uses(Protocol::Tcp, 443)[0].1, Some("https"));
    assert_eq!(
        uses(Protocol::Tcp, 47),
        [(
            Reserved,
            None,
            "Removed by IANA on 2017-05-18.",
            vec![Excerpt, PortList, Iana]
        )]
    );
    assert_eq!(
        uses(Protocol::Sctp, 49151),
        [(Reserved, None, "\"IANA Reserved\"", vec![Excerpt, PortList])]
    );
    // Listed without a status: IANA's de-registration supplies it.
    let imaps = uses(Protocol::Tcp, 585);
    assert_eq!(imaps.len(), 1);
    assert_eq!((imaps[0].0, &imaps[0].3), (Reserved, &vec![PortList, Iana]));
}

#[test]
fn check_report_names_every_source_status_and_protocol() {
    let (loaded, table) = builtin();
    let report = check_report(&loaded.rows_per_source, 0, table);
    for word in [
        "local",
        "excerpt",
        "port-list",
        "iana",
        "Yes",
        "Unofficial",
        "N/A",
        "tcp",
        "dccp",
    ] {
        assert!(report.contains(word), "{word} missing from:\n{report}");
    }
    assert!(report.contains("  iana       14447\n"), "{report}");
    assert!(report.contains("memory: "), "{report}");
}

/// A copy of `data/` in a temporary directory, with `changes` applied (`None` removes a file).
fn data_dir_with(changes: &[(&str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [PORTS_TSV, EXCERPT, IANA_CSV] {
        std::fs::write(dir.path().join(name), data_file(name)).unwrap();
    }
    for (name, content) in changes {
        match content {
            Some(text) => std::fs::write(dir.path().join(name), text).unwrap(),
            None => std::fs::remove_file(dir.path().join(name)).unwrap(),
        }
    }
    dir
}

fn problems_in(dir: &tempfile::TempDir) -> Vec<String> {
    let errors = load_dir(dir.path()).unwrap_err();
    let prefix = format!("{}/", dir.path().display());
    errors
        .0
        .iter()
        .map(|e| e.to_string().replacen(&prefix, "", 1))
        .collect()
}

#[test]
fn a_directory_copy_loads_like_the_builtin_data() {
    let dir = data_dir_with(&[]);
    let loaded = load_dir(dir.path()).unwrap();
    let builtin = &builtin().0;
    assert_eq!(loaded.entries, builtin.entries);
    assert_eq!(loaded.rows_per_source, builtin.rows_per_source);
    // The copy's date is its files' modification time, the built-in data's its commit's.
    assert!(loaded.date > 0 && builtin.date > 0);
}

#[test]
fn a_missing_directory_is_one_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent");
    let errors = load_dir(&missing).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    let expected = format!("{}: cannot read the data directory: ", missing.display());
    assert!(errors.to_string().starts_with(&expected), "{errors}");
}

#[test]
fn missing_files_are_named() {
    let dir = data_dir_with(&[(PORTS_TSV, None), (IANA_CSV, None)]);
    let problems = problems_in(&dir);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("ports.tsv: cannot read: "),
        "{problems:?}"
    );
    assert!(problems[1].starts_with("iana-service-names-port-numbers.csv: cannot read: "));
}

#[test]
fn problems_in_every_file_are_reported_together_with_their_lines() {
    let ports = data_file(PORTS_TSV).replacen(
        "7\tYes\tYes\t-\t-\tEcho Protocol",
        "7\tYes\tYes\tEcho Protocol",
        1,
    );
    let ports = ports
        .replacen("13\tYes\tYes", "13\tYes\tyes", 1)
        .replacen("\n17\t", "\n17x\t", 1);
    let iana = data_file(IANA_CSV)
        .replacen("tcpmux,1,tcp,", "tcpmux,1,icmp,", 1)
        .replacen("discard,9,udp,Discard,", "discard,9", 1);
    let local = "8443\ttcp\tbilling-api\tBilling\n8444\tquic\t-\tx\n";
    let dir = data_dir_with(&[
        (PORTS_TSV, Some(&ports)),
        (IANA_CSV, Some(&iana)),
        (LOCAL_TSV, Some(local)),
    ]);
    assert_eq!(
        problems_in(&dir),
        [
            "local.tsv:2: unknown protocol \"quic\" (expected tcp, udp, sctp or dccp)",
            "ports.tsv:12: expected 6 tab-separated columns, found 4",
            "ports.tsv:16: bad status \"yes\" (expected a legend word or -)",
            "ports.tsv:18: bad port or range \"17x\"",
            "iana-service-names-port-numbers.csv:4: unknown protocol \"icmp\"",
            "iana-service-names-port-numbers.csv:21: expected 12 fields, found 9",
        ]
    );
}

#[test]
fn local_entries_come_first_and_are_marked_local() {
    let dir = data_dir_with(&[(
        LOCAL_TSV,
        Some("443\ttcp\tedge-proxy\tThe site's TLS front end\n"),
    )]);
    let table = Table::new(load_dir(dir.path()).unwrap().entries);
    let mut ids = Vec::new();
    table.port_entries(Protocol::Tcp, 443, &mut ids);
    let first = table.entry(ids[0]);
    assert_eq!(
        (first.status, first.service.as_deref()),
        (Status::Local, Some("edge-proxy"))
    );
    assert_eq!(first.sources, Source::Local.bit());
    assert!(table.entry(ids[1]).has_source(Source::PortList));
}

#[test]
fn no_two_entries_are_the_same_record() {
    // The list names 20000 VoIP once for UDP and once for TCP and UDP; an RRset is a set, so a
    // secondary that loads the zone keeps one, and portsd must answer one.
    let (loaded, _) = builtin();
    let mut seen = std::collections::HashSet::new();
    for entry in &loaded.entries {
        assert!(seen.insert(entry), "entry made twice: {entry:?}");
    }
}

/// The table `serve` keeps is the copy `build_aside` makes on the calling thread: it must hold
/// everything the table built on the load's thread held, and a load's errors must come back
/// as they were.
#[test]
fn a_table_built_aside_is_the_table_the_load_built() {
    let here = load_builtin().expect("it loads").into_table();
    let aside = build_aside(|| load_builtin().map(LoadedData::into_table)).expect("it loads");
    assert_eq!(aside.content_hash(), here.content_hash());
    assert_eq!(aside.entries(), here.entries());
    let (kept, built) = (aside.heap_bytes(), here.heap_bytes());
    assert!(
        kept < built,
        "the copy holds no spare capacity: {kept} against {built} bytes"
    );
    assert_eq!(aside.stats(), here.stats());
    let problem = DataErrors(vec![DataError::new("data/ports.tsv", 3, "bad")]);
    let failed = build_aside(|| Err(problem.clone()));
    assert_eq!(failed.err(), Some(problem));
}
