//! Unit tests of the table: lookups by port and name, merging alike entries, the fingerprint
//! and nmap's frequencies.

use super::*;
use crate::core::model::PortSpan;

fn entry(ports: &str, protocol: Protocol, service: Option<&str>, source: Source) -> Entry {
    Entry {
        ports: PortSpan::parse(ports).unwrap(),
        protocol,
        status: Status::Yes,
        service: service.map(str::to_owned),
        aliases: Vec::new(),
        description: format!("use of {ports}"),
        sources: source.bit(),
        registry: None,
    }
}

fn ports_of(table: &Table, protocol: Protocol, port: u16) -> Vec<String> {
    let mut ids = Vec::new();
    table.port_entries(protocol, port, &mut ids);
    ids.iter()
        .map(|&id| table.entry(id).ports.to_string())
        .collect()
}

#[test]
fn singles_and_ranges_are_found_in_entry_order() {
    let table = Table::new(vec![
        entry("6881-6887", Protocol::Tcp, None, Source::PortList),
        entry("6881", Protocol::Tcp, Some("bt"), Source::PortList),
        entry("6880-6890", Protocol::Tcp, None, Source::Iana),
        entry("6881", Protocol::Udp, None, Source::PortList),
        entry("9000", Protocol::Tcp, None, Source::Local),
    ]);
    assert_eq!(
        table.entry(0).ports.to_string(),
        "9000",
        "local entries move first"
    );
    assert_eq!(
        ports_of(&table, Protocol::Tcp, 6881),
        ["6881-6887", "6881", "6880-6890"]
    );
    assert_eq!(
        ports_of(&table, Protocol::Tcp, 6887),
        ["6881-6887", "6880-6890"]
    );
    assert_eq!(ports_of(&table, Protocol::Tcp, 6888), ["6880-6890"]);
    assert_eq!(ports_of(&table, Protocol::Tcp, 6891), Vec::<String>::new());
    assert_eq!(ports_of(&table, Protocol::Tcp, 6879), Vec::<String>::new());
    assert_eq!(ports_of(&table, Protocol::Udp, 6881), ["6881"]);
    assert_eq!(ports_of(&table, Protocol::Sctp, 6881), Vec::<String>::new());
}

#[test]
fn ranges_reaching_the_ends_of_the_port_axis() {
    let table = Table::new(vec![
        entry("0-10", Protocol::Dccp, None, Source::Iana),
        entry("65530-65535", Protocol::Dccp, None, Source::Iana),
    ]);
    assert_eq!(ports_of(&table, Protocol::Dccp, 0), ["0-10"]);
    assert_eq!(ports_of(&table, Protocol::Dccp, 65535), ["65530-65535"]);
    assert_eq!(ports_of(&table, Protocol::Dccp, 11), Vec::<String>::new());
}

#[test]
fn services_match_any_case_and_filter_by_protocol() {
    let table = Table::new(vec![
        entry("443", Protocol::Tcp, Some("https"), Source::Iana),
        entry("443", Protocol::Udp, Some("https"), Source::Iana),
        entry("5004", Protocol::Tcp, Some("RTP-Media"), Source::Iana),
    ]);
    let mut ids = Vec::new();
    table.service_entries(b"HTTPS", Some(Protocol::Udp), &mut ids);
    assert_eq!(ids.len(), 1);
    assert_eq!(table.entry(ids[0]).protocol, Protocol::Udp);
    ids.clear();
    table.service_entries(b"rtp-media", None, &mut ids);
    assert_eq!(ids.len(), 1);
}

#[test]
fn entries_reading_alike_are_kept_once_with_every_source() {
    let table = Table::new(vec![
        entry("7", Protocol::Udp, Some("echo"), Source::PortList),
        entry("7", Protocol::Tcp, Some("echo"), Source::Iana),
        entry("7", Protocol::Udp, Some("echo"), Source::Iana),
    ]);
    assert_eq!(table.entries().len(), 2);
    assert_eq!(ports_of(&table, Protocol::Udp, 7), ["7"]);
    assert!(table.entry(0).has_source(Source::PortList));
    assert!(table.entry(0).has_source(Source::Iana));
    let mut ids = Vec::new();
    table.service_entries(b"echo", None, &mut ids);
    assert_eq!(ids, [0, 1]);
}

#[test]
fn fingerprint_tracks_content() {
    let a = Table::new(vec![entry("1", Protocol::Tcp, None, Source::Iana)]);
    let b = Table::new(vec![entry("1", Protocol::Tcp, None, Source::Iana)]);
    let c = Table::new(vec![entry("2", Protocol::Tcp, None, Source::Iana)]);
    assert_eq!(a.content_hash(), b.content_hash());
    assert_ne!(a.content_hash(), c.content_hash());
}

#[test]
fn frequencies_rank_make_top_and_join_the_fingerprint() {
    let entries = || {
        vec![
            entry("80", Protocol::Tcp, Some("http"), Source::Iana),
            entry("80", Protocol::Tcp, None, Source::PortList),
            entry("22", Protocol::Tcp, Some("ssh"), Source::Iana),
        ]
    };
    let frequency = |port, frequency, name: &str| PortFrequency {
        protocol: Protocol::Tcp,
        port,
        frequency,
        name: Some(name.into()),
        comment: (port == 80).then(|| "World Wide Web".into()),
    };
    let extras = |f: u32| Extras {
        frequencies: vec![
            frequency(22, 100, "ssh"),
            frequency(80, f, "http"),
            frequency(7, 5, "echo"),
        ],
        synonyms: Vec::new(),
    };
    let plain = Table::new(entries());
    let a = Table::build(entries(), &[], extras(400));
    let b = Table::build(entries(), &[], extras(400));
    let c = Table::build(entries(), &[], extras(50));
    assert_eq!(a.content_hash(), b.content_hash());
    assert_ne!(a.content_hash(), c.content_hash(), "a frequency changed");
    // Each port's rank by frequency on its protocol, kept with it.
    assert_eq!(a.frequency_rank(Protocol::Tcp, 80), Some((400, 1)));
    assert_eq!(c.frequency_rank(Protocol::Tcp, 80), Some((50, 2)));
    assert_eq!(c.frequency_rank(Protocol::Tcp, 7), Some((5, 3)));
    assert_eq!(a.frequency_rank(Protocol::Tcp, 443), None);
    assert_eq!(a.frequency_rank(Protocol::Udp, 80), None);
    assert_ne!(a.content_hash(), plain.content_hash());
    let texts = |table: &Table| -> Vec<String> {
        table
            .top(Protocol::Tcp)
            .iter()
            .map(|r| {
                String::from_utf8_lossy(&txt::character_strings(r).collect::<Vec<_>>().concat())
                    .into_owned()
            })
            .collect()
    };
    assert_eq!(
        texts(&a),
        [
            "1 | 80 | tcp | Yes | http | use of 80",
            "2 | 22 | tcp | Yes | ssh | use of 22",
            "3 | 7 | tcp | Unassigned | - | no known use; system port range 0-1023 (RFC 6335)",
        ]
    );
    assert_eq!(texts(&c)[0], "1 | 22 | tcp | Yes | ssh | use of 22");
    assert!(plain.top(Protocol::Tcp).is_empty());
    assert_eq!(a.frequency(0), Some(400));
    // nmap's comment is found on the use carrying nmap's name only.
    let mut ids = Vec::new();
    a.search(&[b"world"], &mut ids);
    assert_eq!(ids, [0]);
}

#[test]
fn nmap_names_and_counts_go_to_the_uses_they_stand_for() {
    let named = |port: u16, service: Option<&str>, description: &str| Entry {
        description: description.into(),
        ..entry(&port.to_string(), Protocol::Udp, service, Source::PortList)
    };
    let entries = vec![
        named(8010, None, "Buildbot web status page"),
        named(8010, None, "XMPP file transfer"),
        named(8020, None, "Some game server"),
        named(19132, None, "Minecraft Bedrock server"),
        named(19133, None, "Minecraft Bedrock server, IPv6"),
        named(3000, None, "Minecraft lobby"),
    ];
    let frequency = |port, frequency, name: Option<&str>| PortFrequency {
        protocol: Protocol::Udp,
        port,
        frequency,
        name: name.map(str::to_owned),
        comment: None,
    };
    let extras = Extras {
        frequencies: vec![
            frequency(8010, 2000, Some("xmpp")),
            PortFrequency {
                comment: Some("Zephyr notices".into()),
                ..frequency(8020, 2000, Some("zephyr"))
            },
            // nmap does not know what listens on 19133: its count speaks for no use.
            frequency(19133, 900_000, None),
            // A name standing for no use of the port: the count is the port's.
            frequency(3000, 500, Some("ppp")),
        ],
        synonyms: Vec::new(),
    };
    let table = Table::build(entries, &[], extras);
    let found = |query: &[u8]| {
        let mut ids = Vec::new();
        table.search(&[query], &mut ids);
        ids.iter()
            .map(|&id| table.entry(id).description.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(found(b"xmpp"), ["XMPP file transfer"], "not Buildbot");
    assert!(found(b"zephyr").is_empty(), "a line no use answers to");
    assert_eq!(
        found(b"minecraft"),
        [
            "Minecraft lobby",
            "Minecraft Bedrock server",
            "Minecraft Bedrock server, IPv6"
        ]
    );
}

#[test]
fn udp_counts_scale_to_tcp_ranges_count_their_named_ports_and_ssl_is_tls() {
    let described = |ports: &str, protocol, service: &str, description: &str| Entry {
        description: description.into(),
        ..entry(ports, protocol, Some(service), Source::PortList)
    };
    let entries = vec![
        described("1433", Protocol::Tcp, "ms-sql-s", "SQL database server"),
        described("1434", Protocol::Udp, "ms-sql-m", "SQL database monitor"),
        described("194", Protocol::Tcp, "irc", "Relay chat"),
        described("6665-6669", Protocol::Tcp, "ircu", "Relay chat"),
        described("2376", Protocol::Tcp, "docker-s", "Docker API (SSL)"),
    ];
    let frequency = |port, protocol, frequency, name: &str| PortFrequency {
        protocol,
        port,
        frequency,
        name: Some(name.to_owned()),
        comment: None,
    };
    let extras = Extras {
        frequencies: vec![
            frequency(1433, Protocol::Tcp, 10_000, "ms-sql-s"),
            frequency(9999, Protocol::Tcp, 10_000, "other"),
            // UDP's counts add up to five times TCP's: 40000 on UDP weighs 8000 on TCP.
            frequency(1434, Protocol::Udp, 40_000, "ms-sql-m"),
            frequency(9998, Protocol::Udp, 60_000, "other"),
            frequency(194, Protocol::Tcp, 500, "irc"),
            // nmap names the range's middle port: its count is the range's.
            frequency(6667, Protocol::Tcp, 1_000, "ircu"),
        ],
        synonyms: Vec::new(),
    };
    let table = Table::build(entries, &[], extras);
    let found = |query: &[u8]| {
        let mut ids = Vec::new();
        table.search(&[query], &mut ids);
        ids.iter()
            .map(|&id| table.entry(id).ports.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(found(b"sql"), ["1433", "1434"]);
    assert_eq!(found(b"relay"), ["6665-6669", "194"]);
    assert_eq!(found(b"tls"), ["2376"]);
    assert_eq!(found(b"secure"), ["2376"]);
}

/// A table of `entries` on UDP with nmap's `lines` (port, name, comment; each found on one in a
/// thousand hosts) and enough other uses that a word of one description is uncommon.
fn with_nmap(entries: &[(u16, Option<&str>, &str)], lines: &[(u16, u32, &str, &str)]) -> Table {
    let on = |port: u16, service: Option<&str>, description: &str| Entry {
        description: description.into(),
        ..entry(&port.to_string(), Protocol::Udp, service, Source::PortList)
    };
    let mut all: Vec<Entry> = entries.iter().map(|&(p, s, d)| on(p, s, d)).collect();
    all.extend((0..200).map(|i| on(40_000 + i, None, "other use")));
    let frequencies = lines
        .iter()
        .map(|&(port, frequency, name, comment)| PortFrequency {
            protocol: Protocol::Udp,
            port,
            frequency,
            name: Some(name.to_owned()),
            comment: Some(comment.to_owned()),
        })
        .collect();
    let extras = Extras {
        frequencies,
        synonyms: Vec::new(),
    };
    Table::build(all, &[], extras)
}

/// The descriptions of what a search for `words` finds, best first.
fn found(table: &Table, words: &[&[u8]]) -> Vec<String> {
    let mut ids = Vec::new();
    table.search(words, &mut ids);
    ids.iter()
        .map(|&id| table.entry(id).description.clone())
        .collect()
}

#[test]
fn nmap_names_and_comments_go_to_the_uses_they_name_not_to_every_use_of_the_port() {
    let table = with_nmap(
        &[
            (9001, Some("etlservicemgr"), "ETL Service Manager"),
            (9001, None, "Tor network default (ORPort)"),
            (3128, Some("ndl-aas"), "Active API Server Port"),
            (3128, None, "Squid caching web proxy"),
        ],
        &[
            (
                9001,
                1000,
                "tor-orport",
                "etlservicemgr | Tor ORPort | ETL Service Manager",
            ),
            (3128, 1000, "squid-http", "ndl-aas | Active API Server Port"),
        ],
    );
    assert_eq!(found(&table, &[b"tor"]), ["Tor network default (ORPort)"]);
    assert_eq!(
        found(&table, &[b"orport"]),
        ["Tor network default (ORPort)"]
    );
    // `squid`, an uncommon part of nmap's name, is the Squid proxy's: so is the name and the
    // port's count, which puts Squid first among the port's proxies.
    assert_eq!(found(&table, &[b"squidhttp"]), ["Squid caching web proxy"]);
    assert_eq!(found(&table, &[b"active"]), ["Active API Server Port"]);
}

#[test]
fn a_use_its_text_calls_past_comes_after_the_uses_of_today() {
    let table = with_nmap(
        &[
            (1646, None, "Old radacct port, RADIUS accounting protocol"),
            (1813, Some("radius-acct"), "RADIUS accounting protocol"),
            (994, None, "Previously assigned to IRC over TLS/SSL (IRCS)"),
            (6697, Some("ircs-u"), "IRC over TLS/SSL"),
        ],
        &[
            (1646, 9000, "radacct", "radius accounting"),
            (1813, 100, "radacct", "RADIUS accounting protocol"),
            (994, 9000, "ircs", "irc protocol over TLS/SSL"),
        ],
    );
    assert_eq!(
        found(&table, &[b"radius", b"accounting"]),
        [
            "RADIUS accounting protocol",
            "Old radacct port, RADIUS accounting protocol"
        ]
    );
    assert_eq!(found(&table, &[b"irc", b"ssl"])[0], "IRC over TLS/SSL");
    for past in [
        "De-registered",
        "Message Send Protocol (historic)",
        "Deprecated June 2004",
    ] {
        assert!(ranking::is_past(past), "{past}");
    }
    for today in [
        "de-noc",
        "Oldham relay",
        "MQTT (formerly MQ Telemetry Transport)",
    ] {
        assert!(!ranking::is_past(today), "{today}");
    }
}

#[test]
fn http_is_the_web() {
    let table = with_nmap(
        &[
            (443, Some("https"), "HTTP over TLS"),
            (80, None, "World Wide Web"),
            (8, None, "a web of trust"),
        ],
        &[(443, 5000, "https", "secure http (SSL)")],
    );
    assert_eq!(found(&table, &[b"secure", b"web"])[0], "HTTP over TLS");
    assert_eq!(
        found(&table, &[b"http"])[..2],
        ["HTTP over TLS", "World Wide Web"]
    );
}

#[test]
fn an_acronym_made_secure_is_found_by_the_acronym_it_extends() {
    let table = with_nmap(
        &[
            (
                636,
                Some("ldaps"),
                "Lightweight Directory Access Protocol over TLS/SSL (LDAPS)",
            ),
            (3269, None, "Global Catalog over SSL (like LDAP over SSL)"),
            (
                389,
                Some("ldap"),
                "Lightweight Directory Access Protocol (LDAP)",
            ),
            (8443, None, "Secure REST APIs"),
            (9443, None, "Application Programming Interface (API)"),
        ],
        &[
            (636, 2083, "ldapssl", "LDAP over SSL"),
            (3269, 1142, "globalcatldapssl", "Global Catalog"),
        ],
    );
    // Without the rule, `ldap` is only the start of 636's `ldaps` and the catalog comes first.
    assert_eq!(
        found(&table, &[b"ldap", b"secure"])[0],
        "Lightweight Directory Access Protocol over TLS/SSL (LDAPS)"
    );
    // A plural is not an acronym made secure.
    assert_eq!(
        found(&table, &[b"interface"]),
        ["Application Programming Interface (API)"]
    );
}

#[test]
fn a_port_several_uses_name_alike_is_known_for_what_they_name() {
    let table = with_nmap(
        &[
            (7777, Some("cbt"), "Steam common default game server ports"),
            (7777, None, "Terraria default server"),
            (27015, None, "Steam (game client traffic)"),
            (27015, None, "Steam (matchmaking and HLTV)"),
            (27015, None, "Steam (downloads)"),
        ],
        &[
            (7777, 600, "cbt", ""),
            (27015, 500, "halflife", "Half-life game server"),
        ],
    );
    // 7777 is a little more common, but three of 27015's uses begin with `Steam`.
    assert_eq!(found(&table, &[b"steam"])[0], "Steam (game client traffic)");
}
