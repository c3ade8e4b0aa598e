//! The kernel's socket tables as `/proc/net/{tcp,tcp6,udp,udp6}` print them, read as `ss
//! -tulpn` reads them: TCP sockets in state LISTEN and UDP sockets not connected to a peer.
//! Pure: the files' text in, sockets out; reading the files is `host`'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::core::model::Protocol;

/// TCP's LISTEN state as the tables write it (`include/net/tcp_states.h`).
const TCP_LISTEN: &str = "0A";
/// The state of a UDP socket with no peer (TCP_CLOSE): what `ss` shows as UNCONN.
const UDP_UNCONNECTED: &str = "07";

/// A socket waiting for peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Listening {
    pub(crate) protocol: Protocol,
    pub(crate) address: IpAddr,
    pub(crate) port: u16,
    /// The socket's inode, which `/proc/PID/fd` links name as `socket:[INODE]`.
    pub(crate) inode: u64,
}

/// The listening sockets of one table's text. `protocol` is the table's (`tcp`, `tcp6` are
/// TCP); lines that cannot be read are skipped, as `ss` skips them.
pub(crate) fn parse(protocol: Protocol, text: &str) -> Vec<Listening> {
    let wanted = match protocol {
        Protocol::Tcp => TCP_LISTEN,
        _ => UDP_UNCONNECTED,
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != wanted {
                return None;
            }
            let (address, port) = local.split_once(':')?;
            Some(Listening {
                protocol,
                address: address_of(address)?,
                port: u16::from_str_radix(port, 16).ok()?,
                inode: inode.parse().ok()?,
            })
        })
        .collect()
}

/// An address as the tables write it: the address's bytes in network order, printed as
/// 32-bit words in the host's own byte order (8 hex digits for IPv4, 32 for IPv6).
fn address_of(hex: &str) -> Option<IpAddr> {
    if !hex.is_ascii() || !hex.len().is_multiple_of(8) {
        return None;
    }
    let mut bytes = Vec::with_capacity(16);
    for word in hex.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(bytes).ok()?,
        ))),
        _ => None,
    }
}

/// The inode of a `/proc/PID/fd` link's target, when it is a socket (`socket:[12345]`).
pub(crate) fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as a little-endian kernel writes them (the test runs on such a machine; on a
    /// big-endian one the words would be printed the other way round).
    #[cfg(target_endian = "little")]
    #[test]
    fn listening_tcp_and_unconnected_udp_are_read_the_rest_skipped() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 3500007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 20336 1 0000000000000000 100 0 0 10 5\n\
   1: 0100007F:9C40 0100007F:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0000000000000000 20 4 30 10 -1\n\
   2: garbage\n";
        assert_eq!(
            parse(Protocol::Tcp, tcp),
            [Listening {
                protocol: Protocol::Tcp,
                address: "127.0.0.53".parse().unwrap(),
                port: 53,
                inode: 20336,
            }]
        );
        let udp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  10: 00000000000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 19054 2 0000000000000000 0\n\
  11: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 01 00000000:00000000 00:00000000 00000000   104        0 19055 2 0000000000000000 0\n";
        assert_eq!(
            parse(Protocol::Udp, udp6),
            [Listening {
                protocol: Protocol::Udp,
                address: "::1".parse().unwrap(),
                port: 5353,
                inode: 19054,
            }]
        );
    }

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode("socket:[20336]"), Some(20336));
        assert_eq!(socket_inode("pipe:[20336]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }
}
