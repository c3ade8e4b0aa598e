//! Where this server answers DNS, learnt when it starts serving, and the `dig` arguments the
//! pages print for it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// Where this server answers DNS (the first address it serves), and `dig`'s arguments for it.
#[derive(Debug, Default)]
pub(super) struct DnsAddress {
    addr: OnceLock<SocketAddr>,
    /// `dig`'s arguments for that address, made once when it is not a wildcard one.
    dig: OnceLock<Arc<str>>,
}

impl DnsAddress {
    /// Records where this server answers DNS (the first address it serves; later calls
    /// change nothing).
    pub(super) fn set(&self, addr: SocketAddr) {
        let _ = self.addr.set(addr);
    }

    /// Where this server answers DNS, if it does.
    pub(super) fn get(&self) -> Option<SocketAddr> {
        self.addr.get().copied()
    }

    /// `dig`'s arguments for this server's DNS ([`dig_target`]) as a page reached at the
    /// host `host` gives prints them, if it serves DNS. `host` is called only when the
    /// arguments name it (DNS served on a wildcard address) or are made the first time.
    pub(super) fn dig_target<'h>(&self, host: impl FnOnce() -> &'h str) -> Option<Arc<str>> {
        let addr = self.get()?;
        if addr.ip().is_unspecified() {
            return Some(dig_target(addr, host()).into());
        }
        Some(
            self.dig
                .get_or_init(|| dig_target(addr, host()).into())
                .clone(),
        )
    }
}

/// `dig`'s arguments for a server at `addr`: `@ADDR`, and `-p PORT` but for port 53. A
/// wildcard address is where the reader reached the page, `host`.
fn dig_target(addr: SocketAddr, host: &str) -> String {
    let ip = if addr.ip().is_unspecified() && !host.is_empty() {
        host.to_owned()
    } else {
        addr.ip().to_string()
    };
    match addr.port() {
        53 => format!("@{ip}"),
        port => format!("@{ip} -p {port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dig_is_pointed_at_the_address_served() {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 5353));
        assert_eq!(dig_target(loopback, "x"), "@127.0.0.1 -p 5353");
        let loopback = SocketAddr::from(([127, 0, 0, 1], 53));
        assert_eq!(dig_target(loopback, "x"), "@127.0.0.1");
        let any = SocketAddr::from(([0, 0, 0, 0], 53));
        assert_eq!(dig_target(any, "ports.example"), "@ports.example");
    }
}
