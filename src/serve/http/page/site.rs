//! What every page is made of: how the reader reached this server (`Site`, from which links
//! and ready-to-paste commands are written), each page's head, a use as a page shows it
//! (`Use`, borrowed), the lines of the `top` lists and the facts of a port page, and the
//! addresses of the pages.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use maud::Render;
use smallvec::SmallVec;

use crate::core::model::{Entry, Protocol, RegistryFacts, Source};
use crate::core::present::UseView;
use crate::serve::http::api::{Api, is_service_name};

/// How a request reached this server: the scheme of the listener, the address the client
/// connected to (which the pages print when the client sent no usable `Host`), and the
/// client's own address (which DNS over HTTPS answers as DNS would).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reached {
    pub(crate) scheme: &'static str,
    pub(crate) local: SocketAddr,
    pub(crate) client: SocketAddr,
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
            .or_else(|| reached.and_then(|r| r.local.to_string().parse().ok()))
            .unwrap_or_else(|| Authority::from_static("localhost"));
        let scheme = reached.map_or("http", |r| r.scheme);
        let host = || authority.host().trim_matches(['[', ']']);
        Ok(Site {
            base: [scheme, "://", authority.as_str()].concat(),
            dns: api.dns.dig_target(host),
            zone: api.zone_name.clone(),
        })
    }
}

/// `text` percent-encoded for a URL's query value or path segment: all but the unreserved
/// characters of RFC 3986, with a blank as `+` in a query.
pub(super) fn encode(text: &str, blank: &str) -> String {
    let mut out = String::with_capacity(text.len());
    encode_to(text, blank, &mut out);
    out
}

/// [`encode`], appended to `out`. What it appends is unreserved characters, `%` and hex
/// digits (and `blank`), none of which HTML escapes: a page's links are written with it
/// straight into the page.
fn encode_to(text: &str, blank: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push_str(blank),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
}

/// The search page's address for `q`: `/?q=ssh+server`.
pub(super) fn search_path(q: &str) -> String {
    format!("/?q={}", encode(q, "+"))
}

/// A port page's address: `/port/443`, `/port/443/tcp`.
pub(super) fn port_path(port: u16, protocol: Option<&str>) -> String {
    PortPath { port, protocol }.render().into_string()
}

/// [`port_path`], written straight into a page (its links).
pub(super) struct PortPath<'a> {
    pub(super) port: u16,
    pub(super) protocol: Option<&'a str>,
}

impl Render for PortPath<'_> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str("/port/");
        self.port.render_to(buffer);
        if let Some(protocol) = self.protocol.filter(|&p| p != "any") {
            buffer.push('/');
            encode_to(protocol, "%20", buffer);
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
    ServicePath(name).render().into_string()
}

/// [`service_path`], written straight into a page (its links).
pub(super) struct ServicePath<'a>(&'a str);

impl Render for ServicePath<'_> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str("/service/");
        encode_to(self.0, "%20", buffer);
    }
}

/// A text a page shows, made for it (`Owned`) or the pieces it is joined from, each borrowed
/// (`Pieces`: a port page's title and description, written into the page as they are rather
/// than joined into a string first).
pub(super) enum Words<'a> {
    Owned(String),
    Pieces(SmallVec<[&'a str; 10]>),
}

impl From<String> for Words<'_> {
    fn from(text: String) -> Self {
        Words::Owned(text)
    }
}

impl<'a> Words<'a> {
    /// Its length in bytes (before escaping).
    pub(super) fn len(&self) -> usize {
        match self {
            Words::Owned(text) => text.len(),
            Words::Pieces(pieces) => pieces.iter().map(|p| p.len()).sum(),
        }
    }

    /// The text joined from `pieces`.
    pub(super) fn of(pieces: &[&'a str]) -> Words<'a> {
        Words::Pieces(SmallVec::from_slice(pieces))
    }
}

/// A command that asks this server the same, ready to paste: what it asks, and its text.
pub(super) struct Command {
    pub(super) what: &'static str,
    pub(super) text: String,
}

/// What the head of every page holds beside the site's.
pub(super) struct Head<'a> {
    /// The title, before ` – portsd`.
    pub(super) title: Words<'a>,
    /// The meta description.
    pub(super) description: Words<'a>,
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
            title: Words::Owned(title.to_owned()),
            description: Words::Owned(description.to_owned()),
            path: "/".to_owned(),
            query: "",
            protocol: None,
        }
    }
}

/// One use as a page shows it, borrowed from the table's entry (a port page renders the
/// entries where they are) or from a [`UseView`] (a search's or a service's).
pub(super) struct Use<'a> {
    /// The lowest port of the use, and the highest (the same for a single port).
    pub(super) first: u16,
    pub(super) last: u16,
    /// `tcp`, `udp`, `sctp`, `dccp`, or `any` for a port nobody lists on any protocol.
    pub(super) protocol: &'static str,
    pub(super) status: &'static str,
    pub(super) service: Option<&'a str>,
    pub(super) aliases: &'a [String],
    pub(super) description: &'a str,
    /// The sources that contributed, a bit each ([`Source::bit`]).
    pub(super) sources: u8,
    pub(super) registry: Option<&'a RegistryFacts>,
}

impl<'a> Use<'a> {
    /// The use `entry` is.
    pub(super) fn of_entry(entry: &'a Entry) -> Use<'a> {
        Use {
            first: entry.ports.first,
            last: entry.ports.last,
            protocol: entry.protocol.label(),
            status: entry.status.word(),
            service: entry.service.as_deref(),
            aliases: &entry.aliases,
            description: &entry.description,
            sources: entry.sources,
            registry: entry.registry.as_ref(),
        }
    }

    /// The use `view` shows.
    pub(super) fn of_view(view: &'a UseView) -> Use<'a> {
        Use {
            first: view.first,
            last: view.last,
            protocol: view.protocol,
            status: view.status,
            service: view.service.as_deref(),
            aliases: &view.aliases,
            description: &view.description,
            sources: Source::ALL
                .into_iter()
                .filter(|s| view.sources.contains(&s.name()))
                .fold(0, |bits, s| bits | s.bit()),
            registry: Some(&view.registry),
        }
    }

    /// The names of the sources, in [`Source::ALL`]'s order.
    pub(super) fn sources(&self) -> impl Iterator<Item = &'static str> {
        let bits = self.sources;
        Source::ALL
            .into_iter()
            .filter(move |s| bits & s.bit() != 0)
            .map(Source::name)
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
    pub(super) frequencies: SmallVec<[(&'static str, String); 4]>,
    /// The commands that ask this server the same.
    pub(super) commands: Vec<Command>,
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
}
