//! Unit tests of the search index: match classes, vague prefixes, limits, kept-aside postings,
//! acronyms, popularity, partial matches and compound names.

use super::build::{acronyms, compounds_of};
use super::rank::popularity;
use super::*;
use crate::core::model::{Entry, PortSpan, Protocol, Source, Status};

fn entry(port: u16, service: Option<&str>, description: &str) -> Entry {
    Entry {
        ports: PortSpan::single(port),
        protocol: Protocol::Tcp,
        status: Status::Assigned,
        service: service.map(str::to_owned),
        aliases: Vec::new(),
        description: description.to_owned(),
        sources: Source::Iana.bit(),
        registry: None,
    }
}

fn ports(index: &SearchIndex, entries: &[Entry], query: &str) -> Vec<u16> {
    let words: Vec<&[u8]> = query.split('.').map(str::as_bytes).collect();
    let mut ids = Vec::new();
    index.search(&words, &mut ids);
    ids.iter()
        .map(|&id| entries[id as usize].ports.first)
        .collect()
}

#[test]
fn ranks_names_then_words_then_name_prefixes_then_word_prefixes() {
    let entries = vec![
        entry(1, None, "Postgres compatible proxy"),
        entry(2, Some("postgresql"), "PostgreSQL Database"),
        entry(3, None, "Postgresish tool"),
        entry(6, None, "a proxy for Postgres"),
        entry(4, Some("postgres"), "Another database"),
        entry(5, None, "unrelated"),
    ];
    let index = SearchIndex::build(&entries, &[], Vec::new());
    assert_eq!(ports(&index, &entries, "postgres"), [4, 1, 6, 2, 3]);
    assert_eq!(ports(&index, &entries, "POSTGRES"), [4, 1, 6, 2, 3]);
    assert_eq!(ports(&index, &entries, "database"), [2, 4]);
    assert_eq!(
        ports(&index, &entries, "postgres.database"),
        [4, 2, 1, 6, 3],
        "uses matching both words, then those matching one"
    );
    assert_eq!(
        ports(&index, &entries, "postgres.nothing"),
        [4, 1, 6, 2, 3],
        "a word nothing has is left out"
    );
    assert_eq!(
        ports(&index, &entries, "p"),
        Vec::<u16>::new(),
        "no one-letter prefixes"
    );
    assert_eq!(ports(&index, &entries, "compatible-proxy"), [1]);
}

#[test]
fn vague_prefixes_match_whole_words_only() {
    let mut entries: Vec<Entry> = (0..=PREFIX_BUDGET as u16)
        .map(|port| entry(port, None, &format!("server{port}")))
        .collect();
    entries.push(entry(9999, Some("se"), "serial console"));
    let index = SearchIndex::build(&entries, &[], Vec::new());
    assert_eq!(ports(&index, &entries, "se"), [9999]);
    assert_eq!(
        ports(&index, &entries, "server1"),
        [1, 10, 11, 12, 13, 14, 15, 16, 17, 18],
        "a specific prefix still matches as one"
    );
    assert_eq!(ports(&index, &entries, "seri"), [9999]);
}

#[test]
fn at_most_ten_each_entry_once() {
    let entries: Vec<Entry> = (0..30)
        .map(|port| entry(port, Some("game"), "game game server"))
        .collect();
    let index = SearchIndex::build(&entries, &[], Vec::new());
    assert_eq!(
        ports(&index, &entries, "game.game"),
        (0..10).collect::<Vec<u16>>()
    );
    assert_eq!(ports(&index, &entries, "\u{ff}"), Vec::<u16>::new());
    let eight = ["game"; MAX_WORDS].join(".");
    assert_eq!(ports(&index, &entries, &eight).len(), 10);
    let nine = ["game"; MAX_WORDS + 1].join(".");
    assert_eq!(
        ports(&index, &entries, &nine),
        Vec::<u16>::new(),
        "too many words"
    );
    let not_utf8: &[&[u8]] = &[b"\xff"];
    let mut ids = Vec::new();
    index.search(not_utf8, &mut ids);
    assert!(ids.is_empty());
}

#[test]
fn long_posting_lists_rank_as_if_read_whole() {
    let count = 3 * TOP_AFTER as u16;
    let entries: Vec<Entry> = (0..count)
        .map(|port| {
            let text = if port % 3 == 0 {
                "a common word"
            } else {
                "common"
            };
            entry(port, None, text)
        })
        .collect();
    let popular: Vec<i32> = (0..i32::from(count)).map(|i| i * 37 % 50).collect();
    let index = SearchIndex::build(&entries, &[], popular.clone());
    // Most popular first, then the word earlier in the description, then by port.
    let mut expected: Vec<u16> = (0..count).collect();
    expected.sort_by_key(|&port| {
        (
            std::cmp::Reverse(popular[usize::from(port)]),
            u16::from(port % 3 == 0),
            port,
        )
    });
    expected.truncate(MAX_RESULTS);
    assert_eq!(ports(&index, &entries, "common"), expected);
    assert_eq!(
        ports(&index, &entries, "common.common"),
        expected,
        "the same order when every posting is read"
    );
}

#[test]
fn acronyms_are_learned_from_their_definitions() {
    let found = acronyms(
        [
            "Microsoft Remote Desktop Protocol (RDP) server",
            "Server Message Block (SMB) over IP",
            "Something (XYZ) that does not spell it",
            "Network File System (NFS); also (nfs) in lower case",
        ]
        .into_iter(),
    );
    assert_eq!(found["rdp"], ["remote", "desktop", "protocol"]);
    assert_eq!(found["smb"], ["server", "message", "block"]);
    assert_eq!(found["nfs"], ["network", "file", "system"]);
    assert!(!found.contains_key("xyz"));
}

#[test]
fn common_uses_outrank_slightly_better_matches() {
    let entries = vec![
        entry(546, Some("dhcpv6-client"), "DHCP client for IPv6"),
        entry(
            67,
            Some("bootps"),
            "Bootstrap Protocol server; also used by DHCP",
        ),
        entry(9, Some("rare"), "rare service"),
        entry(10, None, "a rare thing"),
    ];
    let extra = [
        EntryWords::default(),
        EntryWords::default(),
        EntryWords::default(),
        EntryWords {
            names: vec!["rarely".into()],
            words: vec!["remote".into()],
        },
    ];
    let popular = vec![popularity(840, 3), popularity(228_010, 3), 0, 0];
    let index = SearchIndex::build(&entries, &extra, popular);
    assert_eq!(ports(&index, &entries, "dhcp"), [67, 546]);
    let flat = SearchIndex::build(&entries, &extra, Vec::new());
    assert_eq!(
        ports(&flat, &entries, "dhcp"),
        [546, 67],
        "alone, the word coming earlier in its text wins"
    );
    assert_eq!(
        ports(&index, &entries, "rarely"),
        [10],
        "extra names are names"
    );
    assert_eq!(
        ports(&index, &entries, "remote"),
        [10],
        "extra words are words"
    );
    assert_eq!(popularity(0, 2), 2);
    assert_eq!(popularity(999_999, 0), 60);
}

/// The ports a query finds, each with the words of the query it does not match.
fn unused(index: &SearchIndex, entries: &[Entry], query: &str) -> Vec<(u16, Vec<&'static str>)> {
    let words: Vec<&[u8]> = query.split('.').map(str::as_bytes).collect();
    let mut found = Vec::new();
    index.search_matching(&words, |id, matched| {
        let left: Vec<&'static str> = query
            .split('.')
            .enumerate()
            .filter(|&(i, _)| matched & (1 << i) == 0)
            .map(|(_, w)| &*w.to_owned().leak())
            .collect();
        found.push((entries[id as usize].ports.first, left));
    });
    found
}

#[test]
fn questions_answer_from_the_uses_matching_most_words() {
    let entries = vec![
        entry(
            25,
            Some("smtp"),
            "Simple Mail Transfer Protocol, email between servers",
        ),
        entry(587, Some("submission"), "email message submission"),
        entry(2525, None, "alternate email relay for sending"),
        entry(9, None, "unrelated"),
    ];
    let popular = vec![popularity(50_000, 3), popularity(20_000, 3), 0, 0];
    let index = SearchIndex::build(&entries, &[], popular);
    assert_eq!(
        unused(&index, &entries, "sending.email"),
        [
            (2525, vec![]),
            (25, vec!["sending"]),
            (587, vec!["sending"])
        ],
        "the use matching both words first, then the others by popularity"
    );
    assert_eq!(
        unused(&index, &entries, "email.nowhere.submission"),
        [
            (587, vec!["nowhere"]),
            (25, vec!["nowhere", "submission"]),
            (2525, vec!["nowhere", "submission"])
        ],
        "two words matched before one"
    );
    assert_eq!(unused(&index, &entries, "nowhere.nothing"), []);
}

#[test]
fn whole_words_and_names_come_before_prefixes_of_longer_words() {
    let entries = vec![
        entry(
            4243,
            None,
            "Docker implementations, redistributions, and setups",
        ),
        entry(6379, Some("redis"), "key-value data store"),
        entry(6380, None, "Redis replica"),
    ];
    // The prefix match is far more popular, and still comes last.
    let popular = vec![popularity(900_000, 3), 0, 0];
    let index = SearchIndex::build(&entries, &[], popular);
    assert_eq!(ports(&index, &entries, "redis"), [6379, 6380, 4243]);
    assert_eq!(ports(&index, &entries, "redis.data"), [6379, 6380, 4243]);
}

#[test]
fn compound_names_match_their_parts_and_their_joined_form() {
    let entries = vec![
        entry(27015, None, "Counter-Strike dedicated server"),
        entry(5222, Some("xmpp-client"), "messaging client connection"),
        entry(80, None, "counter of strikes"),
    ];
    let index = SearchIndex::build(&entries, &[], Vec::new());
    for query in [
        "counter-strike",
        "counter.strike",
        "counterstrike",
        "COUNTERSTRIKE",
    ] {
        assert_eq!(ports(&index, &entries, query)[0], 27015, "{query}");
    }
    assert_eq!(
        ports(&index, &entries, "xmppclient"),
        [5222],
        "a name's joined form"
    );
    assert_eq!(
        ports(&index, &entries, "client"),
        [5222],
        "a name's parts are words"
    );
    assert_eq!(
        compounds_of("Node.js and IPv6-only, not 802.1X or v1.2").collect::<Vec<_>>(),
        ["nodejs", "ipv6only"]
    );
}

#[test]
fn a_common_use_leaving_out_a_rarer_word_can_still_come_first() {
    let entries = vec![
        entry(25, Some("smtp"), "mail routing"),
        entry(19771, None, "sending messages"),
        entry(26, None, "mail a"),
        entry(27, None, "mail b"),
        entry(28, None, "mail c"),
    ];
    // 25 is found open on a quarter of hosts; `sending` is four times rarer than `mail`.
    let popular = vec![popularity(226_000, 3), 0, 0, 0, 0];
    let index = SearchIndex::build(&entries, &[], popular);
    assert_eq!(ports(&index, &entries, "sending.mail")[..2], [25, 19771]);
}

#[test]
fn a_word_ending_in_a_silent_e_matches_the_forms_of_its_stem() {
    let entries = vec![
        entry(443, Some("https"), "secure web"),
        entry(8443, None, "Common alternative https port"),
        entry(8008, None, "HTTP Alternate"),
        entry(9, None, "alternates"),
    ];
    let index = SearchIndex::build(&entries, &[], Vec::new());
    assert_eq!(ports(&index, &entries, "https.alternate")[0], 8443);
    assert_eq!(
        ports(&index, &entries, "alternate"),
        [8008, 9, 8443],
        "the word itself, then the longer words it starts, then its stem's other forms"
    );
}

#[test]
fn a_word_keeps_the_place_it_first_comes() {
    let entries = vec![
        entry(1, None, "a minecraft server minecraft"),
        entry(2, None, "minecraft proxy for this and minecraft"),
    ];
    let index = SearchIndex::build(&entries, &[], Vec::new());
    assert_eq!(ports(&index, &entries, "minecraft"), [2, 1]);
}

#[test]
fn a_common_word_left_out_costs_its_rarity_not_a_tier() {
    let mut entries = vec![
        entry(
            389,
            Some("ldap"),
            "Lightweight Directory Access Protocol (LDAP)",
        ),
        entry(3407, Some("ldap-admin"), "LDAP admin server port"),
        entry(3408, Some("server"), "a directory speaking LDAP"),
    ];
    // `server` is in more than one use in twenty, `admin` in one.
    entries.extend((0..12).map(|i| entry(100 + i, None, "some server")));
    entries.extend((0..46).map(|i| entry(200 + i, None, "other use")));
    let mut popular = vec![0; entries.len()];
    popular[0] = popularity(4717, 3);
    let index = SearchIndex::build(&entries, &[], popular);
    assert_eq!(
        unused(&index, &entries, "ldap.server")[..3],
        [(389, vec!["server"]), (3408, vec![]), (3407, vec![])],
        "LDAP's own port, as if the question had not said `server`; the others match both \
         words, by name and by description"
    );
    assert_eq!(
        ports(&index, &entries, "ldap.admin"),
        [3407, 389, 3408],
        "a rarer word left out still ranks below every full match"
    );
    let flat = SearchIndex::build(&entries, &[], Vec::new());
    assert_eq!(
        ports(&flat, &entries, "ldap.server")[..3],
        [3408, 3407, 389],
        "with nothing else between them, the full matches win"
    );
}
