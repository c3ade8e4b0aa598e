//! The page of a port, `/port/{port}` and `/port/{port}/{protocol}`: every use, the registry's
//! facts, nmap's frequency in words, the port's range, its nearest neighbours with known uses,
//! and the commands that ask this server the same.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use bytes::Bytes;

use smallvec::SmallVec;

use super::site::{Command, Head, PortFacts, Site, Use, Words, port_path};
use super::{PathRead, error_status, html, page_answer, problem, read_path};
use crate::core::answer::Uses;
use crate::core::model::{PORT_RANGES, Protocol, port_range};
use crate::core::present::{self, UseView};
use crate::core::table::{EntryIds, Table};
use crate::serve::http::api::{Api, Shared, Subject};

/// The nearest port to `port` (below it or above) with a known use on `protocol` (on any
/// when `None`), and its first use's service name or description.
fn neighbour(
    table: &Table,
    port: u16,
    protocol: Option<Protocol>,
    below: bool,
) -> Option<(u16, &str)> {
    let protocols = protocol
        .as_ref()
        .map_or(&Protocol::ALL[..], std::slice::from_ref);
    let mut ids = EntryIds::new();
    let mut known = |candidate: u16| {
        ids.clear();
        for &p in protocols {
            table.port_entries(p, candidate, &mut ids);
        }
        let entry = table.entry(*ids.first()?);
        let known = entry.service.as_deref().unwrap_or(&entry.description);
        Some((candidate, known))
    };
    if below {
        (0..port).rev().find_map(&mut known)
    } else {
        (port.checked_add(1)?..=u16::MAX).find_map(known)
    }
}

/// nmap's frequency of `port` on `protocol` in words: `found open on 23% of hosts scanned;
/// 3rd most common on udp`.
fn frequency_words(table: &Table, port: u16, protocol: Protocol) -> Option<String> {
    let (millionths, rank) = table.frequency_rank(protocol, port)?;
    if millionths == 0 {
        return None;
    }
    let mut words = String::with_capacity(64);
    words.push_str("found open on ");
    percent_to(millionths, &mut words);
    words.push_str("% of hosts scanned; ");
    ordinal_to(rank, &mut words);
    words.push_str(" most common on ");
    words.push_str(protocol.label());
    Some(words)
}

/// `millionths` (more than 0) as a percentage, appended to `out`: whole from 1% up, else to
/// two significant digits (`0.15`, `0.0030`), rounded as the shares are printed as decimals
/// (`{:.N}` of `millionths / 10,000`). In whole numbers where that is exact, which is but
/// for a share halfway between two shown values.
fn percent_to(millionths: u32, out: &mut String) {
    // Decimals shown, and the powers of ten the share has more or fewer of them.
    let decimals: u32 = match millionths {
        10_000.. => 0,
        1_000.. => 2,
        100.. => 3,
        10.. => 4,
        _ => 5,
    };
    let scaled = match 4u32.checked_sub(decimals) {
        Some(dropped) if dropped > 0 => {
            let unit = 10u32.pow(dropped);
            let (whole, rest) = (millionths / unit, millionths % unit);
            if rest * 2 == unit {
                // Halfway in decimals: rounded as the binary fraction it is printed from.
                let percent = f64::from(millionths) / 10_000.0;
                let decimals = decimals as usize;
                out.push_str(&format!("{percent:.decimals$}"));
                return;
            }
            whole + u32::from(rest * 2 > unit)
        }
        _ => millionths * 10u32.pow(decimals.saturating_sub(4)),
    };
    let unit = 10u32.pow(decimals);
    push_number(scaled / unit, out);
    if decimals > 0 {
        out.push('.');
        let fraction = (scaled % unit).to_string();
        for _ in fraction.len()..decimals as usize {
            out.push('0');
        }
        out.push_str(&fraction);
    }
}

/// `n` in decimal digits, appended to `out`.
fn push_number(n: impl maud::Render, out: &mut String) {
    // maud writes numbers as they are (with `itoa`), nothing to escape.
    n.render_to(out);
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, appended to `out`.
fn ordinal_to(n: usize, out: &mut String) {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    push_number(n, out);
    out.push_str(suffix);
}

/// `GET /port/{port}` and `GET /port/{port}/{protocol}`.
pub(crate) async fn port(
    State(api): Shared,
    site: Site,
    path: Result<Path<Vec<String>>, PathRejection>,
) -> Response<Body> {
    port_page(&api, &site, read_path(Subject::Port, path))
}

/// The page of a port (on a protocol), or one saying why the path names none.
fn port_page(api: &Api, site: &Site, read: PathRead) -> Response<Body> {
    let snapshot = api.pipeline.snapshot();
    let zone = api.pipeline.zone();
    let read = read.and_then(|(query, digits, protocol)| {
        // `lookup_query` let only a port through, in decimal digits without a leading zero.
        let port = present::port_of(&digits).map_err(|error| error.to_string())?;
        let protocol = protocol.and_then(|label| Protocol::from_label(label.as_bytes()));
        Ok((query, port, digits, protocol))
    });
    let (query, port, digits, protocol) = match read {
        Ok(read) => read,
        Err(message) => {
            let head = Head::plain("Not a port", &message);
            return problem(api, site, StatusCode::BAD_REQUEST, head, &message, &[]);
        }
    };
    // Beside the data, the page depends on the site (as the reader reached it, where DNS is
    // served, the zone) and the path alone.
    let dns = site.dns.as_deref().unwrap_or_default();
    let key = [&site.base, "\n", dns, "\n", &site.zone, "\n", &query].concat();
    if let Some(page) = api.pages.get(&snapshot, &key) {
        return page_answer(api, &snapshot, StatusCode::OK, page);
    }
    let found = match present::lookup_uses(zone, &snapshot, &query) {
        Ok(found) => found,
        Err(error) => {
            let head = Head {
                title: format!("Port {query}").into(),
                description: error.to_string().into(),
                path: port_path(port, protocol.map(Protocol::label)),
                query: &query,
                protocol,
            };
            return problem(
                api,
                site,
                error_status(&error),
                head,
                &error.to_string(),
                &[],
            );
        }
    };
    let table = &snapshot.table;
    // The entries are read where they are; a port nobody lists is a view made for it. A port
    // has a few uses, protocols and names: kept on the stack.
    let unlisted: Vec<UseView>;
    let uses: SmallVec<[Use<'_>; 4]> = match found {
        Uses::Listed(ids) => ids
            .iter()
            .map(|&id| Use::of_entry(table.entry(id)))
            .collect(),
        found @ Uses::Unlisted(_) => {
            unlisted = UseView::of(table, found);
            unlisted.iter().map(Use::of_view).collect()
        }
    };
    let on: SmallVec<[Protocol; 4]> = Protocol::ALL
        .into_iter()
        .filter(|p| uses.iter().any(|u| u.protocol == p.label()))
        .collect();
    let facts = PortFacts {
        port,
        protocol,
        range: PORT_RANGES[port_range(port)].1,
        below: neighbour(table, port, protocol, true),
        above: neighbour(table, port, protocol, false),
        frequencies: on
            .iter()
            .filter_map(|&p| Some((p.label(), frequency_words(table, port, p)?)))
            .collect(),
        commands: port_commands(site, &digits, protocol, &on),
    };
    let mut services: SmallVec<[&str; 4]> = uses.iter().filter_map(|u| u.service).collect();
    services.dedup();
    // What the port is used for: its service names, else its first use's description.
    let mut description = SmallVec::from_slice(&["What port ", &query, " is used for: "]);
    match services[..] {
        [] => description.push(uses[0].description),
        _ => {
            for (i, service) in services.iter().enumerate() {
                if i > 0 {
                    description.push(", ");
                }
                description.push(*service);
            }
        }
    }
    description.push(".");
    let head = Head {
        title: Words::of(&["Port ", &query]),
        description: Words::Pieces(description),
        path: port_path(port, protocol.map(Protocol::label)),
        query: &query,
        protocol,
    };
    let body = html::port(&query, &facts, &uses);
    let page = Bytes::from(html::layout(site, &head, &snapshot, body));
    api.pages.keep(&snapshot, key, page.clone());
    page_answer(api, &snapshot, StatusCode::OK, page)
}

/// The commands that ask this server about `port` (on `protocol`): the DNS name, the
/// registry's names for the protocols the port has uses on, and the API. `port` is the port
/// in decimal digits.
fn port_commands(
    site: &Site,
    port: &str,
    protocol: Option<Protocol>,
    on: &[Protocol],
) -> Vec<Command> {
    let zone = &*site.zone;
    let label = protocol.map(Protocol::label);
    let mut commands = Vec::with_capacity(2 + on.len());
    if let Some(dns) = site.dns.as_deref() {
        let text = match label {
            Some(p) => ["dig TXT ", port, ".", p, ".", zone, " ", dns, " +short"].concat(),
            None => ["dig TXT ", port, ".", zone, " ", dns, " +short"].concat(),
        };
        commands.push(Command {
            what: "Over DNS",
            text,
        });
        for p in protocol.as_ref().map_or(on, std::slice::from_ref) {
            let p = p.label();
            commands.push(Command {
                what: "IANA's registry facts over DNS",
                text: [
                    "dig TXT ",
                    port,
                    ".",
                    p,
                    ".registry.",
                    zone,
                    " ",
                    dns,
                    " +short",
                ]
                .concat(),
            });
        }
    }
    let text = match label {
        Some(p) => ["curl ", &site.base, "/v1/ports/", port, "/", p].concat(),
        None => ["curl ", &site.base, "/v1/ports/", port].concat(),
    };
    commands.push(Command {
        what: "As JSON",
        text,
    });
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_read_as_words() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 102]
            .map(|n| {
                let mut word = String::new();
                ordinal_to(n, &mut word);
                word
            })
            .into();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd"
            ]
        );
    }

    /// Every share nmap can give is printed as the decimals of the binary fraction are: whole
    /// from 1%, else two significant digits.
    #[test]
    fn percentages_are_the_decimals_of_every_share() {
        for millionths in 1..=1_000_000u32 {
            let percent = f64::from(millionths) / 10_000.0;
            let expected = if percent >= 1.0 {
                format!("{percent:.0}")
            } else {
                let decimals = (1.0 - percent.log10().floor()).clamp(1.0, 6.0) as usize;
                format!("{percent:.decimals$}")
            };
            let mut shown = String::new();
            percent_to(millionths, &mut shown);
            assert_eq!(shown, expected, "{millionths} millionths");
        }
    }
}
