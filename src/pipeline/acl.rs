//! Access control by client address: the `--allow` and `--deny` network lists and the rule that
//! decides between them.
//!
//! # Rule
//! The most specific matching network decides: among all networks of both lists that contain the
//! client, the one with the longest prefix wins, and when the same prefix length appears in both
//! lists, deny wins. So `--deny 10.0.0.0/8 --allow 10.1.0.0/16` admits 10.1.2.3 and refuses
//! 10.2.3.4, whatever the order of the flags. A client that no network matches is admitted when the
//! allow list is empty (a pure deny list) and refused otherwise (an allow list names everyone
//! admitted).
//!
//! With both lists empty, the default, everyone is admitted: an open authoritative server, as DNS
//! expects, whose abuse for amplification is bounded by [`crate::pipeline::rrl`] rather than by this list.
//!
//! IPv4 clients reaching a dual-stack socket appear as IPv4-mapped IPv6 addresses
//! (`::ffff:192.0.2.1`); they are matched as IPv4, and rules written in the mapped form are
//! turned into IPv4 rules, so one rule covers both spellings. Other IPv6 rules never match an
//! IPv4 client: `::/0` means every IPv6 client, and `0.0.0.0/0` every IPv4 one.
//!
//! Checking a client walks the rules once, most specific first, with no allocation: lists are
//! expected to hold a handful of networks.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// The bits an IPv4-mapped IPv6 address spends on its `::ffff:0:0/96` marker.
const MAPPED_PREFIX_LEN: u8 = 96;

/// Compiled allow and deny lists; the default admits everyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessList {
    /// Every network of both lists with its verdict (true: admit), most specific first and deny
    /// before allow at equal length, so the first match decides.
    rules: Vec<(IpNet, bool)>,
    /// Verdict for a client no rule matches.
    admit_unmatched: bool,
}

impl Default for AccessList {
    fn default() -> Self {
        AccessList::new(Vec::new(), Vec::new())
    }
}

impl AccessList {
    /// Compiles the two lists; see the module docs for how they combine.
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> AccessList {
        let admit_unmatched = allow.is_empty();
        let mut rules: Vec<(IpNet, bool)> = deny
            .into_iter()
            .map(|net| (unmapped(net), false))
            .chain(allow.into_iter().map(|net| (unmapped(net), true)))
            .collect();
        // Stable sort: deny rules were placed first, so they stay ahead at equal length.
        rules.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        AccessList {
            rules,
            admit_unmatched,
        }
    }

    /// Whether `client` may be answered.
    pub fn permits(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        self.rules
            .iter()
            .find(|(net, _)| net.contains(&client))
            .map_or(self.admit_unmatched, |&(_, admit)| admit)
    }
}

/// `net` with an IPv4-mapped IPv6 network (inside `::ffff:0:0/96`) rewritten as the IPv4 network
/// it stands for, so it matches clients after [`IpAddr::to_canonical`]; other networks unchanged.
pub(crate) fn unmapped(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else {
        return net;
    };
    let mapped_v4 = v6.addr().to_ipv4_mapped();
    match mapped_v4 {
        Some(addr) if v6.prefix_len() >= MAPPED_PREFIX_LEN => {
            Ipv4Net::new(addr, v6.prefix_len() - MAPPED_PREFIX_LEN).map_or(net, IpNet::V4)
        }
        _ => net,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|text| text.parse().expect("test network"))
            .collect()
    }

    #[test]
    fn decisions() {
        // (allow, deny, client, admitted)
        let cases: &[(&[&str], &[&str], &str, bool)] = &[
            (&[], &[], "192.0.2.1", true),
            (&[], &[], "2001:db8::1", true),
            (&["10.0.0.0/8"], &[], "10.1.2.3", true),
            (&["10.0.0.0/8"], &[], "11.1.2.3", false),
            (&["10.0.0.0/8"], &[], "2001:db8::1", false),
            (&[], &["10.0.0.0/8"], "10.1.2.3", false),
            (&[], &["10.0.0.0/8"], "11.1.2.3", true),
            (&["10.1.0.0/16"], &["10.0.0.0/8"], "10.1.2.3", true),
            (&["10.1.0.0/16"], &["10.0.0.0/8"], "10.2.3.4", false),
            (&["10.0.0.0/8"], &["10.1.0.0/16"], "10.1.2.3", false),
            (&["10.0.0.0/8"], &["10.1.0.0/16"], "10.2.3.4", true),
            (&["10.0.0.0/8"], &["10.0.0.0/8"], "10.2.3.4", false),
            (
                &["10.0.0.0/8", "10.1.2.3/32"],
                &["10.1.0.0/16"],
                "10.1.2.3",
                true,
            ),
            (
                &["10.0.0.0/8", "10.1.2.3/32"],
                &["10.1.0.0/16"],
                "10.1.2.4",
                false,
            ),
            (&["0.0.0.0/0"], &["192.0.2.0/24"], "198.51.100.1", true),
            (&["::/0"], &[], "192.0.2.1", false),
            (
                &["2001:db8::/32"],
                &["2001:db8:bad::/48"],
                "2001:db8:1::1",
                true,
            ),
            (
                &["2001:db8::/32"],
                &["2001:db8:bad::/48"],
                "2001:db8:bad::1",
                false,
            ),
            (&["192.0.2.0/24"], &[], "::ffff:192.0.2.77", true),
            (&[], &["192.0.2.0/24"], "::ffff:192.0.2.77", false),
            (&["::ffff:192.0.2.0/120"], &[], "192.0.2.77", true),
            (&["::ffff:192.0.2.0/120"], &[], "192.0.3.77", false),
            (&[], &["::ffff:0:0/96"], "203.0.113.1", false),
            (&[], &["::ffff:0:0/96"], "2001:db8::1", true),
        ];
        for &(allow, deny, client, admitted) in cases {
            let list = AccessList::new(nets(allow), nets(deny));
            let ip: IpAddr = client.parse().expect("test address");
            assert_eq!(
                list.permits(ip),
                admitted,
                "allow {allow:?} deny {deny:?} client {client}"
            );
        }
    }

    #[test]
    fn default_admits_everyone() {
        let list = AccessList::default();
        for client in ["0.0.0.0", "255.255.255.255", "::", "2001:db8::1"] {
            assert!(
                list.permits(client.parse().expect("test address")),
                "{client}"
            );
        }
    }

    #[test]
    fn mapped_networks_become_ipv4() {
        // (rule as written, rule as compiled)
        let cases = [
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::ffff:0:0/96", "0.0.0.0/0"),
            ("::ffff:192.0.2.1/128", "192.0.2.1/32"),
            ("::/0", "::/0"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("10.0.0.0/8", "10.0.0.0/8"),
        ];
        for (written, compiled) in cases {
            let written: IpNet = written.parse().expect("test network");
            let compiled: IpNet = compiled.parse().expect("test network");
            assert_eq!(unmapped(written), compiled);
        }
    }
}
