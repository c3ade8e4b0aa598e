//! What every page is made of beside its uses: how the reader reached this server (`Site`,
//! from which links and ready-to-paste commands are written), each page's head, the lines of
//! the `top` lists and the facts of a port page, and the addresses of the pages.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::uri::Authority;

use crate::core::model::Protocol;
use crate::serve::http::api::{Api, is_service_name};

/// How a request reached this server: the scheme of the listener and the address the client
/// connected to, which the pages print when the client sent no usable `Host`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reached {
    pub(crate) scheme: &'static str,
    pub(crate) local: SocketAddr,
}

/// Where the reader reached this server, and where it answers DNS: what links and commands
/// on a page are made of.
#[derive(Debug)]
pub(crate) struct Site {
    /// `http://HOST:PORT`, as the reader reached the page (the `Host` it sent, else the
    /// address it connected to).
    pub(super) base: String,
    /// The arguments that point `dig` at this server's DNS (`@ADDR -p PORT`), when it serves
    /// DNS.
    pub(super) dns: Option<Arc<str>>,
    /// The zone's name.
    pub(super) zone: Arc<str>,
}

impl FromRequestParts<Arc<Api>> for Site {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        api: &Arc<Api>,
    ) -> Result<Site, Self::Rejection> {
        let reached = parts.extensions.get::<Reached>().copied();
        let sent = parts.uri.authority().cloned().or_else(|| {
            let host = parts.headers.get(header::HOST)?.to_str().ok()?;
            host.parse::<Authority>().ok()
        });
        // A host with user information, or none, is not one to print: the address connected
        // to is.
        let authority = sent
            .filter(|a| !a.as_str().contains('@'))
            .map(|a| a.as_str().to_owned())
            .or_else(|| reached.map(|r| r.local.to_string()))
            .unwrap_or_else(|| "localhost".to_owned());
        let scheme = reached.map_or("http", |r| r.scheme);
        let host = authority
            .parse::<Authority>()
            .map(|a| a.host().trim_matches(['[', ']']).to_owned())
            .unwrap_or_default();
        Ok(Site {
            base: format!("{scheme}://{authority}"),
            dns: api.dig_target(&host),
            zone: api.zone_name.clone(),
        })
    }
}

/// `dig`'s arguments for a server at `addr`: `@ADDR`, and `-p PORT` but for port 53. A
/// wildcard address is where the reader reached the page, `host`.
pub(crate) fn dig_target(addr: SocketAddr, host: &str) -> String {
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

/// `text` percent-encoded for a URL's query value or path segment: all but the unreserved
/// characters of RFC 3986, with a blank as `+` in a query.
pub(super) fn encode(text: &str, blank: &'static str) -> String {
    Encoded { text, blank }.to_string()
}

/// [`encode`]'s text, written where it is displayed: a link written into a page allocates
/// nothing of its own.
struct Encoded<'a> {
    text: &'a str,
    blank: &'static str,
}

impl fmt::Display for Encoded<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unreserved = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        let mut rest = self.text.as_bytes();
        loop {
            // A run of unreserved characters is ASCII, written as it is.
            let run = rest.iter().position(|b| !unreserved(b)).unwrap_or(rest.len());
            let (plain, tail) = rest.split_at(run);
            out.write_str(std::str::from_utf8(plain).map_err(|_| fmt::Error)?)?;
            let Some((&byte, after)) = tail.split_first() else {
                return Ok(());
            };
            match byte {
                b' ' => out.write_str(self.blank)?,
                _ => write!(out, "%{byte:02X}")?,
            }
            rest = after;
        }
    }
}

/// The search page's address for `q`: `/?q=ssh+server`.
pub(super) fn search_path(q: &str) -> String {
    format!("/?q={}", encode(q, "+"))
}

/// A port page's address: `/port/443`, `/port/443/tcp`.
pub(super) fn port_path(port: u16, protocol: Option<&str>) -> String {
    PortPath { port, protocol }.to_string()
}

/// [`port_path`], written where it is displayed (a page's links).
pub(super) struct PortPath<'a> {
    pub(super) port: u16,
    pub(super) protocol: Option<&'a str>,
}

impl fmt::Display for PortPath<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Some(protocol) if protocol != "any" => write!(out, "/port/{}/{protocol}", self.port),
            _ => write!(out, "/port/{}", self.port),
        }
    }
}

/// The page of service `name`, for names a service page can have (a lookup can read them:
/// some lists give services names with blanks).
pub(super) fn service_link(name: &str) -> Option<ServicePath<'_>> {
    is_service_name(name).then_some(ServicePath(name))
}

/// A service page's address: `/service/https`.
pub(super) fn service_path(name: &str) -> String {
    ServicePath(name).to_string()
}

/// [`service_path`], written where it is displayed (a page's links).
pub(super) struct ServicePath<'a>(&'a str);

impl fmt::Display for ServicePath<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Encoded {
            text: self.0,
            blank: "%20",
        };
        write!(out, "/service/{name}")
    }
}

/// What the head of every page holds beside the site's.
pub(super) struct Head<'a> {
    /// The title, before ` – portsd`.
    pub(super) title: String,
    /// The meta description.
    pub(super) description: String,
    /// The page's own path (and query): its canonical address under the site's base.
    pub(super) path: String,
    /// What the search box shows.
    pub(super) query: &'a str,
    /// The protocol the search is limited to.
    pub(super) protocol: Option<Protocol>,
}

impl Head<'static> {
    /// The head of a page that shows no query: an error's.
    pub(super) fn plain(title: &str, description: &str) -> Head<'static> {
        Head {
            title: title.to_owned(),
            description: description.to_owned(),
            path: "/".to_owned(),
            query: "",
            protocol: None,
        }
    }
}

/// One line of a `top.<protocol>` list: rank, port, service names and description, read from
/// the record's text (`RANK | PORT | PROTOCOL | STATUS | NAMES | DESCRIPTION`).
pub(super) struct TopLine {
    pub(super) rank: String,
    pub(super) port: u16,
    pub(super) names: String,
    pub(super) description: String,
}

/// What a port page shows beside the uses.
pub(super) struct PortFacts<'t> {
    pub(super) port: u16,
    pub(super) protocol: Option<Protocol>,
    /// The range the port is in: `system port range 0-1023`.
    pub(super) range: &'static str,
    /// The nearest ports below and above with known uses, each with what it is known as.
    pub(super) below: Option<(u16, &'t str)>,
    pub(super) above: Option<(u16, &'t str)>,
    /// nmap's frequency in words, by protocol label.
    pub(super) frequencies: Vec<(&'static str, String)>,
    /// The commands that ask this server the same.
    pub(super) commands: Vec<(&'static str, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_percent_encoded() {
        assert_eq!(search_path("443/tcp"), "/?q=443%2Ftcp");
        assert_eq!(search_path("ssh server"), "/?q=ssh+server");
        assert_eq!(search_path("é\"<"), "/?q=%C3%A9%22%3C");
        assert_eq!(service_path("a b/c"), "/service/a%20b%2Fc");
        assert_eq!(port_path(443, Some("any")), "/port/443");
    }

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
