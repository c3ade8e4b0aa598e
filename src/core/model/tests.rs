//! Unit tests of the vocabulary: protocol labels, status words, port spans and sources.

use super::*;

fn range_name(port: u16) -> &'static str {
    PORT_RANGES[port_range(port)].1
}

#[test]
fn spans_parse_and_print() {
    for (text, want) in [
        ("443", Some((443, 443))),
        (" 6881-6887 ", Some((6881, 6887))),
        ("7-5", None),
        ("65536", None),
        ("x", None),
        ("", None),
    ] {
        let got = PortSpan::parse(text).map(|s| (s.first, s.last));
        assert_eq!(got, want, "{text:?}");
    }
    assert_eq!(
        PortSpan::parse("6881-6887").unwrap().to_string(),
        "6881-6887"
    );
}

#[test]
fn legend_words_round_trip() {
    for word in [
        "Local",
        "Yes",
        "Unofficial",
        "Assigned",
        "No",
        "Reserved",
        "N/A",
        "System",
        "Unassigned",
    ] {
        assert_eq!(Status::from_word(word).unwrap().word(), word);
    }
    assert_eq!(Status::from_word("yes"), None);
}

#[test]
fn protocols_parse_any_case() {
    assert_eq!(Protocol::from_label(b"TcP"), Some(Protocol::Tcp));
    assert_eq!(Protocol::from_label(b"dccp"), Some(Protocol::Dccp));
    assert_eq!(Protocol::from_label(b"icmp"), None);
}

#[test]
fn rfc6335_ranges() {
    assert_eq!(range_name(1023), "system port range 0-1023");
    assert_eq!(range_name(1024), "user port range 1024-49151");
    assert_eq!(range_name(49152), "dynamic/private port range 49152-65535");
}
