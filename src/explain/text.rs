//! Finding the ports in text people paste: `ss` and `netstat` lines, `ADDR:PORT`,
//! `[V6]:PORT`, `PORT/PROTO` (nmap, services(5)), and firewall logs' `DPT=`/`SPT=`. Pure:
//! text in, the ports it mentions out, each with the protocol the line names, if any.

use crate::core::model::Protocol;

/// A port the text mentions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mention {
    /// The port number.
    pub(crate) port: u16,
    /// The protocol, when the mention or its line says it (`22/tcp`, `tcp` in `ss`'s first
    /// column, `PROTO=UDP` in a firewall log); `None` when the text does not.
    pub(crate) protocol: Option<Protocol>,
}

/// The ports `line` mentions, in order of appearance, each once.
pub(crate) fn mentions(line: &str) -> Vec<Mention> {
    let line_protocol = line_protocol(line);
    let mut found: Vec<Mention> = Vec::new();
    for token in line.split_whitespace() {
        let token = token
            .trim_start_matches(['(', '"', '\'', '<'])
            .trim_end_matches([')', ',', ';', '"', '\'', '>']);
        let Some((port, protocol)) = port_of(token) else {
            continue;
        };
        let mention = Mention {
            port,
            protocol: protocol.or(line_protocol),
        };
        if !found.contains(&mention) {
            found.push(mention);
        }
    }
    found
}

/// The protocol a whole line is about: `ss`'s and `netstat`'s first column (`tcp`, `udp6`),
/// or a firewall log's `PROTO=`.
fn line_protocol(line: &str) -> Option<Protocol> {
    let first = line.split_whitespace().next()?;
    let netid = first.strip_suffix('6').unwrap_or(first);
    Protocol::from_label(netid.as_bytes()).or_else(|| {
        line.split_whitespace()
            .find_map(|token| token.strip_prefix("PROTO="))
            .and_then(|label| Protocol::from_label(label.as_bytes()))
    })
}

/// The port a token is, with the protocol it names itself, if it is one of the forms.
fn port_of(token: &str) -> Option<(u16, Option<Protocol>)> {
    if let Some(digits) = token
        .strip_prefix("DPT=")
        .or_else(|| token.strip_prefix("SPT="))
    {
        return Some((port_number(digits)?, None));
    }
    if let Some((digits, label)) = token.split_once('/') {
        let protocol = Protocol::from_label(label.as_bytes())?;
        return Some((port_number(digits)?, Some(protocol)));
    }
    let (address, digits) = token.rsplit_once(':')?;
    let port = port_number(digits)?;
    is_address(address).then_some((port, None))
}

/// A port number as people write it: 1 to 5 digits, no leading zero, at most 65535.
fn port_number(digits: &str) -> Option<u16> {
    let bytes = digits.as_bytes();
    let plain = !bytes.is_empty()
        && bytes.len() <= 5
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || bytes.len() == 1);
    plain.then(|| digits.parse().ok()).flatten()
}

/// Whether the part before `:PORT` is an address or host name: `*`, an IPv4 address (with
/// `ss`'s `%interface`), `[V6]`, netstat's bare `::` forms, or a host name with a letter.
/// Anything else (a clock's `10:42`, a MAC address) is not.
fn is_address(address: &str) -> bool {
    let address = address.split_once('%').map_or(address, |(ip, _)| ip);
    if address == "*" {
        return true;
    }
    if let Some(inner) = address
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let inner = inner.split_once('%').map_or(inner, |(ip, _)| ip);
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if address.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    // netstat writes IPv6 without brackets: `:::22`, `::1:631`, `fe80::1:123`.
    if address.contains("::") {
        return address.parse::<std::net::Ipv6Addr>().is_ok();
    }
    is_host_name(address)
}

/// A DNS host name with at least one letter (`localhost`, `db.example.net`).
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.bytes().any(|b| b.is_ascii_alphabetic())
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(line: &str) -> Vec<(u16, Option<&'static str>)> {
        mentions(line)
            .into_iter()
            .map(|m| (m.port, m.protocol.map(Protocol::label)))
            .collect()
    }

    #[test]
    fn ss_lines_give_the_local_port_on_the_netid_protocol() {
        assert_eq!(
            found(
                "tcp   LISTEN 0      4096       127.0.0.53%lo:53         0.0.0.0:*    users:((\"systemd-resolve\",pid=512,fd=15))"
            ),
            [(53, Some("tcp"))]
        );
        assert_eq!(
            found("udp   UNCONN 0      0                   [::]:5353            [::]:*"),
            [(5353, Some("udp"))]
        );
        assert_eq!(
            found("tcp   LISTEN 0      128                    *:8080               *:*"),
            [(8080, Some("tcp"))]
        );
        assert_eq!(
            found("tcp   LISTEN 0 511 [::ffff:127.0.0.1]:8443 *:*"),
            [(8443, Some("tcp"))]
        );
        assert_eq!(found("Netid State  Recv-Q Send-Q Local Address:Port"), []);
    }

    #[test]
    fn netstat_lines_give_both_ends() {
        assert_eq!(
            found(
                "tcp6       0      0 :::22                   :::*                    LISTEN      812/sshd"
            ),
            [(22, Some("tcp"))]
        );
        assert_eq!(
            found(
                "tcp        0     36 192.0.2.10:22           198.51.100.7:50122      ESTABLISHED"
            ),
            [(22, Some("tcp")), (50122, Some("tcp"))]
        );
        assert_eq!(
            found("udp6 0 0 fe80::1%eth0:123 :::*"),
            [(123, Some("udp"))]
        );
    }

    #[test]
    fn firewall_logs_give_dpt_and_spt_on_their_proto() {
        let line = "Dec  7 10:42:01 gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.9 DST=192.0.2.1 LEN=60 PROTO=TCP SPT=51234 DPT=3389 WINDOW=64240";
        assert_eq!(found(line), [(51234, Some("tcp")), (3389, Some("tcp"))]);
    }

    #[test]
    fn port_slash_protocol_and_plain_addresses() {
        assert_eq!(
            found("22/tcp   open  ssh; 161/UDP open|filtered snmp"),
            [(22, Some("tcp")), (161, Some("udp"))]
        );
        assert_eq!(
            found("connect to localhost:6379 (db.example.net:5432, [2001:db8::1]:443)"),
            [(6379, None), (5432, None), (443, None)]
        );
    }

    #[test]
    fn what_only_looks_like_a_port_is_left_alone() {
        for line in [
            "at 10:42:01 the job ran",
            "ratio 3/4 and 1/2",
            "version 1.2.3:0443",
            "http://example.net:99999/",
            "MAC=00:16:3e:aa:bb:cc",
            "a:b c:",
        ] {
            assert_eq!(found(line), [], "{line}");
        }
    }
}
