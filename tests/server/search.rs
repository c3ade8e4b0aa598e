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

/// One question's outcome: the question, its port, where that port came (0 for first) and the
/// first three results' ports.
type Outcome = (String, u16, Option<usize>, String);

/// Asks every question of `file` (`QUESTION<TAB>PORT` lines) and returns the outcomes.
fn ask_all(snapshot: &Snapshot, file: &str) -> Vec<Outcome> {
    let questions =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let mut rows = Vec::new();
    for line in questions
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (question, port) = line.split_once('\t').expect("QUESTION<TAB>PORT");
        let port: u16 = port.parse().expect("a port");
        let found: Vec<String> = present::search(snapshot, &[question.to_owned()])
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
    rows
}

/// The share (percent) of outcomes whose port came within the first `n`.
fn share(rows: &[Outcome], n: usize) -> f64 {
    let hits = rows.iter().filter(|r| r.2.is_some_and(|p| p < n)).count();
    100.0 * hits as f64 / rows.len() as f64
}

/// The report's section for one set of questions.
fn section(title: &str, file: &str, rows: &[Outcome]) -> String {
    let mut out = format!(
        "## {title}\n\n`{file}`: {} questions. **First: {:.1}%. Among the first three: {:.1}%.**\n\n\
         | question | port | place | first three |\n|---|---|---|---|\n",
        rows.len(),
        share(rows, 1),
        share(rows, 3),
    );
    for (question, port, place, firsts) in rows {
        let place = place.map_or("not found".to_owned(), |p| (p + 1).to_string());
        out.push_str(&format!("| {question} | {port} | {place} | {firsts} |\n"));
    }
    out
}

#[test]
fn everyday_questions_find_their_port_first() {
    let nmap = Path::new(DEFAULT_FREQUENCIES);
    assert!(
        nmap.exists(),
        "{DEFAULT_FREQUENCIES} is missing: install nmap-common (.ci/setup does)"
    );
    let snapshot = Snapshot::new(table_with_frequencies(nmap), 0, &test_zone());
    let main = ask_all(&snapshot, "tests/data/search-questions.tsv");
    let held_out = ask_all(&snapshot, "tests/data/search-heldout.tsv");
    let report = format!(
        "# Search quality\n\nMade by `PORTSD_WRITE_SEARCH_REPORT=1 cargo test --test server \
         everyday_questions` on the compiled-in data and the host's `{DEFAULT_FREQUENCIES}` (no \
         `/etc/services`). A question counts when the use it means (its port) comes first, or \
         among the first three. The search is tuned on the first set; the held-out set is \
         measured on every run and never tuned on.\n\n{}\n{}",
        section("Tuned questions", "tests/data/search-questions.tsv", &main),
        section(
            "Held-out questions",
            "tests/data/search-heldout.tsv",
            &held_out
        ),
    );
    if std::env::var_os("PORTSD_WRITE_SEARCH_REPORT").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/search-quality.md"),
            &report,
        )
        .unwrap();
    }
    assert!(main.len() >= 120, "at least 120 questions");
    // Issue 33's goal: 95% first and 98% among the first three.
    assert!(share(&main, 1) >= 95.0, "{report}");
    assert!(share(&main, 3) >= 98.0, "{report}");
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

#[test]
fn a_word_the_data_never_uses_is_reported_and_the_rest_still_answer() {
    let table = || {
        DataLocation::Builtin
            .load()
            .expect("builtin data loads")
            .into_table()
    };
    let snapshot = Snapshot::new(table(), 0, &test_zone());
    let kubelet = "10250 | tcp | Unofficial | kubelet | Kubernetes kubelet API on every node";
    let views = present::search(&snapshot, &["kubelet zzqxunknown".to_owned()]).unwrap();
    assert_eq!(views[0].text, kubelet);
    assert_eq!(views[0].unused_words, ["zzqxunknown"]);
    let json = present::to_json(&views[..1]);
    assert!(json.contains(r#""unused_words":["zzqxunknown"]"#), "{json}");
    let plain = present::search(&snapshot, &["kubelet".to_owned()]).unwrap();
    assert_eq!(plain[0].text, kubelet);
    assert!(plain[0].unused_words.is_empty());
    assert!(!present::to_json(&plain[..1]).contains("unused_words"));

    // Over DNS the answer has the same form as any search: ranked TXT records.
    let server = TestServer::start_with(
        test_zone(),
        table(),
        DataLocation::Builtin,
        TcpLimits::default(),
    );
    let response = udp_exchange(
        server.addr,
        &query(
            9,
            "kubelet.zzqxunknown.search.ports.local.",
            RecordType::TXT,
            Some(4096),
        ),
    )
    .expect("an answer");
    let texts = txt_answers(&parse(&response));
    assert_eq!(texts[0], format!("1 | {kubelet}"));
}
