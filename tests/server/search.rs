//! What the search finds and how ranked answers carry their order: the everyday questions of
//! `tests/data/search-questions.tsv` against the compiled-in data and the host's real
//! `nmap-services` (installed by `.ci/setup`), and the `top`, `registry` and ranked search
//! answers over real sockets with a small frequency file made here.

use std::path::Path;

use hickory_proto::rr::RecordType;
use portsd::core::present;
use portsd::core::zone::Snapshot;
use portsd::serve::{DataLocation, TcpLimits};
use portsd::sources::{DEFAULT_FREQUENCIES, FrequenciesFile};

use crate::common::{TestServer, parse, query, test_zone, txt_answers, udp_exchange};

/// The compiled-in data joined with the frequency file at `path`.
pub(crate) fn table_with_frequencies(path: &Path) -> portsd::core::table::Table {
    let file = FrequenciesFile::from_setting(path.to_str(), DEFAULT_FREQUENCIES);
    DataLocation::Builtin
        .load()
        .and_then(|loaded| loaded.with_frequencies(file.as_ref()))
        .expect("builtin data and the frequency file load")
        .into_table()
}

/// Whether a TXT text (`PORT | ...` or `A-B | ...`) covers `port`.
fn covers(text: &str, port: u16) -> bool {
    let span = text.split(" | ").next().unwrap_or_default();
    let (first, last) = span.split_once('-').unwrap_or((span, span));
    matches!((first.parse::<u16>(), last.parse::<u16>()), (Ok(a), Ok(b)) if a <= port && port <= b)
}

#[test]
fn everyday_questions_find_their_port_in_the_first_three() {
    let nmap = Path::new(DEFAULT_FREQUENCIES);
    assert!(
        nmap.exists(),
        "{DEFAULT_FREQUENCIES} is missing: install nmap-common (.ci/setup does)"
    );
    let snapshot = Snapshot::new(table_with_frequencies(nmap), 0, &test_zone());
    let questions = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/search-questions.tsv"),
    )
    .unwrap();
    let mut rows = Vec::new();
    for line in questions
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (question, port) = line.split_once('\t').expect("QUESTION<TAB>PORT");
        let port: u16 = port.parse().expect("a port");
        let found: Vec<String> = present::search(&snapshot, &[question.to_owned()])
            .map(|views| views.into_iter().map(|v| v.text).collect())
            .unwrap_or_default();
        let place = found.iter().position(|text| covers(text, port));
        let firsts: Vec<&str> = found
            .iter()
            .take(3)
            .map(|t| t.split(" | ").next().unwrap_or_default())
            .collect();
        rows.push((question.to_owned(), port, place, firsts.join(", ")));
    }
    let hits = rows
        .iter()
        .filter(|(_, _, place, _)| place.is_some_and(|p| p < 3))
        .count();
    let share = 100.0 * hits as f64 / rows.len() as f64;
    let mut report = format!(
        "# Search quality\n\nMade by `PORTSD_WRITE_SEARCH_REPORT=1 cargo test --test server \
         everyday_questions` from `tests/data/search-questions.tsv`, on the compiled-in data \
         and the host's `{DEFAULT_FREQUENCIES}` (no `/etc/services`).\n\n\
         **{hits} of {} questions ({share:.0}%) find the intended port among the first three \
         results.**\n\n| question | port | place | first three |\n|---|---|---|---|\n",
        rows.len()
    );
    for (question, port, place, firsts) in &rows {
        let place = place.map_or("not found".to_owned(), |p| (p + 1).to_string());
        report.push_str(&format!("| {question} | {port} | {place} | {firsts} |\n"));
    }
    if std::env::var_os("PORTSD_WRITE_SEARCH_REPORT").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/search-quality.md"),
            &report,
        )
        .unwrap();
    }
    assert!(rows.len() >= 60, "at least 60 questions");
    assert!(share >= 95.0, "{report}");
}

#[test]
fn ranked_and_registry_answers_over_dns() {
    let dir = tempfile::tempdir().unwrap();
    let nmap = dir.path().join("nmap-services");
    // 443 is more common than 80 here, so the order is this file's, not the real one's.
    std::fs::write(
        &nmap,
        "# test\nhttp\t80/tcp\t0.2\nhttps\t443/tcp\t0.5\t# secure web\nunknown\t40002/tcp\t0.1\nzero\t7/tcp\t0.0\ndomain\t53/udp\t0.3\n",
    )
    .unwrap();
    let server = TestServer::start_with(
        test_zone(),
        table_with_frequencies(&nmap),
        DataLocation::Builtin,
        TcpLimits::default(),
    );
    let ask = |name: &str| {
        let response = udp_exchange(server.addr, &query(7, name, RecordType::TXT, Some(4096)))
            .expect("an answer");
        let message = parse(&response);
        (message.response_code, txt_answers(&message))
    };
    let (_, top) = ask("top.tcp.ports.local.");
    assert_eq!(
        top.iter()
            .map(|t| t.split(" | ").take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        ["1 443", "2 80", "3 40002"]
    );
    assert!(top[1].starts_with("2 | 80 | tcp | Yes | http"), "{top:?}");
    assert!(top[2].ends_with("no known use; user port range 1024-49151 (RFC 6335)"));
    let (_, udp) = ask("top.udp.ports.local.");
    assert_eq!(udp.len(), 1);
    let (rcode, sctp) = ask("top.sctp.ports.local.");
    assert_eq!(
        (rcode, sctp.len()),
        (hickory_proto::op::ResponseCode::NXDomain, 0)
    );
    let (rcode, node) = ask("top.ports.local.");
    assert_eq!(
        (rcode, node.len()),
        (hickory_proto::op::ResponseCode::NoError, 0)
    );

    let (_, search) = ask("web.search.ports.local.");
    assert!(!search.is_empty());
    for (i, text) in search.iter().enumerate() {
        assert!(text.starts_with(&format!("{} | ", i + 1)), "{search:?}");
    }
    // The port answers keep their five fields.
    let (_, port) = ask("443.tcp.ports.local.");
    assert!(port.iter().all(|t| !t.starts_with("1 | ")));

    let (_, facts) = ask("443.tcp.registry.ports.local.");
    assert!(
        facts.contains(&"443 | tcp | https | reference | RFC 9110".to_owned()),
        "{facts:?}"
    );
    assert!(facts.contains(&"443 | tcp | https | assignee | IESG".to_owned()));
    let (_, finger) = ask("79.tcp.registry.ports.local.");
    assert!(
        finger.iter().any(|t| t.starts_with(
            "79 | tcp | finger | unauthorized-use | Unauthorized use by some mail users"
        )),
        "{finger:?}"
    );
    let (rcode, _) = ask("40002.tcp.registry.ports.local.");
    assert_eq!(rcode, hickory_proto::op::ResponseCode::NXDomain);
    let (rcode, node) = ask("tcp.registry.ports.local.");
    assert_eq!(
        (rcode, node.len()),
        (hickory_proto::op::ResponseCode::NoError, 0)
    );
}
