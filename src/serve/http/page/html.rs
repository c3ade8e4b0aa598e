//! The pages' markup, written with maud's `html!`: every value inserted is escaped by maud, and
//! nothing here builds HTML out of strings. What a page shows is gathered by the parent
//! module.

use std::sync::OnceLock;

use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

use super::site::{
    Command, Head, PortFacts, PortPath, Site, TopLine, Use, Words, search_path, service_link,
};
use crate::core::model::{Protocol, RegistryFacts, Status};
use crate::core::present::UseView;
use crate::core::zone::Snapshot;

/// The whole page: head, header with the search form, `main`, footer.
pub(super) fn layout(site: &Site, head: &Head<'_>, snapshot: &Snapshot, main: Markup) -> String {
    let page = html! {
        // The page's fixed markup is about 1.7 KB: room for it, the head's texts and `main`
        // at once.
        (Room(main.0.len() + head.title.len() + head.description.len() + 2048))
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (head.title) " – portsd" }
                meta name="description" content=(head.description);
                link rel="canonical" href={ (Text(&site.base)) (Text(&head.path)) };
                link rel="search" type="application/opensearchdescription+xml" title="portsd" href="/opensearch.xml";
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    a.site href="/" { "portsd" }
                    p { "What TCP, UDP, SCTP and DCCP ports are used for" }
                }
                main {
                    form method="get" action="/" role="search" {
                        div.field {
                            label for="q" { "Port, service or words" }
                            input #q name="q" type="search" value=(Text(head.query))
                                placeholder="443/tcp, https, minecraft" autocomplete="off" spellcheck="false";
                        }
                        div.choice {
                            label for="protocol" { "Protocol" }
                            (protocol_menu(head.protocol))
                        }
                        button type="submit" { "Look up" }
                    }
                    (main)
                }
                footer {
                    p {
                        "The data: IANA's service name and port number registry, Wikipedia's list \
                         of TCP and UDP port numbers, nmap's port frequencies, and this system's \
                         services file. The same answers over DNS (zone "
                        code { (Text(&site.zone)) } ", serial " (snapshot.serial) ") and as JSON ("
                        a href="/v1/openapi.json" { "the API's description" } ")."
                    }
                }
            }
        }
    };
    page.into_string()
}

/// The search form's protocol menu with `selected` chosen (none: `any`): one of five, each
/// made once.
fn protocol_menu(selected: Option<Protocol>) -> PreEscaped<&'static str> {
    static MENUS: OnceLock<Vec<String>> = OnceLock::new();
    let menus = MENUS.get_or_init(|| {
        let choices = std::iter::once(None).chain(Protocol::ALL.map(Some));
        let menu = |selected: Option<Protocol>| html! {
            select #protocol name="protocol" {
                option value="" selected[selected.is_none()] { "any" }
                @for protocol in Protocol::ALL {
                    option value=(protocol.label()) selected[selected == Some(protocol)] { (protocol.label()) }
                }
            }
        };
        choices.map(|selected| menu(selected).into_string()).collect()
    });
    let at = selected.map_or(0, |p| {
        1 + Protocol::ALL.iter().position(|&q| q == p).unwrap_or(0)
    });
    PreEscaped(menus.get(at).map_or("", String::as_str))
}

/// The home page: examples and the commonest ports.
pub(super) fn home(top: &[(Protocol, Vec<TopLine>)]) -> Markup {
    html! {
        h1 { "What is this port used for?" }
        p.examples {
            "For example "
            @for (i, example) in ["443/tcp", "53", "ssh", "minecraft"].iter().enumerate() {
                @if i > 0 { ", " }
                a href=(search_path(example)) { (example) }
            }
            "."
        }
        @for (protocol, lines) in top {
            @if !lines.is_empty() {
                section aria-labelledby={ "top-" (protocol.label()) } {
                    h2 id={ "top-" (protocol.label()) } {
                        "The ports most often found open on " (protocol.label())
                    }
                    ol.top {
                        @for line in lines {
                            li value=(line.rank) {
                                a href=(PortPath { port: line.port, protocol: Some(protocol.label()) }) {
                                    (line.port) "/" (protocol.label())
                                }
                                @if !line.names.is_empty() { " " strong { (line.names) } }
                                ": " (Text(&line.description))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A search's results, with their ranks.
pub(super) fn results(
    query: &str,
    protocol: Option<Protocol>,
    ranked: &[(usize, UseView)],
) -> Markup {
    let count = match ranked.len() {
        1 => "1 use".to_owned(),
        n => format!("{n} uses"),
    };
    html! {
        h1 { (count) " matching " q { (query) } @if let Some(p) = protocol { " on " (p.label()) } }
        p { "Best first, ranked as " code { "WORDS.search.ZONE" } " ranks them over DNS." }
        ol.uses {
            @for (rank, view) in ranked {
                li { (one_use(Some(*rank), &Use::of_view(view), false)) }
            }
        }
        (legend(ranked.iter().map(|(_, view)| view.status)))
    }
}

/// A port's page.
pub(super) fn port(query: &str, facts: &PortFacts<'_>, uses: &[Use<'_>]) -> Markup {
    html! {
        h1 { "Port " (Text(query)) }
        p {
            "Port " (facts.port) " is in the " (Text(facts.range)) " (RFC 6335)"
            @if facts.protocol.is_some() {
                "; its uses on other protocols are on "
                a href=(PortPath { port: facts.port, protocol: None }) { "the page of port " (facts.port) }
            }
            "."
        }
        ul.uses {
            @for one in uses {
                li { (one_use(None, one, true)) }
            }
        }
        @if !facts.frequencies.is_empty() {
            h2 { "How common it is" }
            ul {
                @for (protocol, words) in &facts.frequencies {
                    li { (Text(protocol)) ": " (Text(words)) " (nmap)" }
                }
            }
        }
        (legend(uses.iter().map(|one| one.status)))
        @if facts.below.is_some() || facts.above.is_some() {
            h2 { "Nearest ports with known uses" }
            ul.neighbours {
                @for (direction, neighbour) in [("below", &facts.below), ("above", &facts.above)] {
                    @if let Some((port, known)) = neighbour {
                        li {
                            (Text(direction)) ": "
                            a href=(PortPath { port: *port, protocol: facts.protocol.map(Protocol::label) }) { "port " (port) }
                            " (" (Text(known)) ")"
                        }
                    }
                }
            }
        }
        (commands(&facts.commands))
    }
}

/// A service's page.
pub(super) fn service(query: &str, views: &[UseView], commands_run: &[Command]) -> Markup {
    html! {
        h1 { "Service " (query) }
        ul.uses {
            @for view in views {
                li { (one_use(None, &Use::of_view(view), false)) }
            }
        }
        (legend(views.iter().map(|view| view.status)))
        (commands(commands_run))
    }
}

/// A page's message saying what went wrong, and the searches to try instead.
pub(super) fn problem(message: &str, suggestions: &[String]) -> Markup {
    html! {
        h1 { "Nothing to show" }
        p role="status" { (message) }
        @if !suggestions.is_empty() {
            h2 { "Did you mean" }
            ul.suggestions {
                @for suggestion in suggestions {
                    li { a href=(search_path(suggestion)) { (suggestion) } }
                }
            }
        }
    }
}

/// The OpenSearch description of the search (OpenSearch 1.1): the page's address with the
/// words as `q`.
pub(super) fn opensearch(site: &Site) -> String {
    let xml = html! {
        (maud::PreEscaped("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
        OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/" {
            ShortName { "portsd" }
            Description { "What a TCP, UDP, SCTP or DCCP port is used for" }
            InputEncoding { "UTF-8" }
            Url type="text/html" method="get" template={ (Text(&site.base)) "/?q={searchTerms}" } {}
            Url type="application/opensearchdescription+xml" rel="self"
                template={ (Text(&site.base)) "/opensearch.xml" } {}
        }
    };
    xml.into_string()
}

/// One use: rank, port, status, service names, description; with `detailed`, its sources and
/// every registry fact.
fn one_use(rank: Option<usize>, view: &Use<'_>, detailed: bool) -> Markup {
    let protocol = (view.protocol != "any").then_some(view.protocol);
    html! {
        p.use-head {
            @if let Some(rank) = rank { span.rank { "#" (rank) } }
            a.port href=(PortPath { port: view.first, protocol }) {
                (view.first) @if view.last != view.first { "-" (view.last) }
                @if let Some(p) = protocol { "/" (Text(p)) }
            }
            span.status { (Text(view.status)) }
            @if let Some(service) = view.service {
                (service_name(service))
            }
            @if !view.aliases.is_empty() {
                span {
                    "also "
                    @for (i, alias) in view.aliases.iter().enumerate() {
                        @if i > 0 { ", " }
                        (service_name(alias))
                    }
                }
            }
        }
        p.description { @if view.description.is_empty() { "(no description)" } @else { (Text(view.description)) } }
        @if detailed {
            dl.facts {
                @if view.sources != 0 {
                    dt { "Listed by" }
                    dd {
                        @for (i, source) in view.sources().enumerate() {
                            @if i > 0 { ", " }
                            (Text(source_name(source)))
                        }
                    }
                }
                @for (field, value) in view.registry.into_iter().flat_map(RegistryFacts::fields) {
                    dt { (Text(fact_label(field))) }
                    dd {
                        // An RFC reference is linked to the RFC Editor's page, a date is
                        // marked as a date.
                        @if let (Some(number), "reference") = (rfc_number(value), field) {
                            a href={ "https://www.rfc-editor.org/rfc/rfc" (number) } { (Text(value)) }
                        } @else if field == "registered" || field == "modified" {
                            time datetime=(Text(value)) { (Text(value)) }
                        } @else {
                            (Text(value))
                        }
                    }
                }
            }
        }
    }
}

/// Text escaped as maud escapes what it inserts (`&`, `<`, `>` and `"`), each run of other
/// characters copied at once where maud copies byte by byte: descriptions, registry facts and
/// the legend are most of what a page inserts.
struct Text<'a>(&'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        let mut rest = self.0;
        loop {
            let at = first_special(rest.as_bytes());
            // `at` is the place of an ASCII character, or the end: a character boundary.
            let (plain, tail) = rest.split_at(at);
            buffer.push_str(plain);
            let entity = match tail.bytes().next() {
                None => return,
                Some(b'&') => "&amp;",
                Some(b'<') => "&lt;",
                Some(b'>') => "&gt;",
                Some(_) => "&quot;",
            };
            buffer.push_str(entity);
            rest = tail.get(1..).unwrap_or_default();
        }
    }
}

/// Room for `.0` more bytes in the page, made at once where the page would grow into it
/// in steps (a fragment's first size is a guess from its template's length).
struct Room(usize);

impl Render for Room {
    fn render_to(&self, buffer: &mut String) {
        buffer.reserve(self.0);
    }
}

/// A text escaped as [`Text`] escapes it, piece by piece.
impl Render for Words<'_> {
    fn render_to(&self, buffer: &mut String) {
        match self {
            Words::Owned(text) => Text(text).render_to(buffer),
            Words::Pieces(pieces) => pieces
                .iter()
                .for_each(|piece| Text(piece).render_to(buffer)),
        }
    }
}

/// Where the first byte HTML escapes is in `text`, or its length: eight bytes at a time, the
/// last few as a word padded with zero bytes (which are not escaped). An OR folds `"` onto `&`
/// and `<` onto `>`, and a byte equal to another's is a zero byte in their XOR; the lowest
/// byte the zero test marks is the first zero (a borrow marks only bytes above a zero), so
/// the word's first special byte is its lowest marked one.
fn first_special(text: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zeros = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    let specials = |word: u64| {
        zeros((word | (ONES * 0x04)) ^ (ONES * u64::from(b'&')))
            | zeros((word | (ONES * 0x02)) ^ (ONES * u64::from(b'>')))
    };
    let first = |marked: u64| (marked.trailing_zeros() / 8) as usize;
    let mut chunks = text.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let marked = specials(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        if marked != 0 {
            return at + first(marked);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    match specials(u64::from_le_bytes(last)) {
        0 => text.len(),
        marked => at + first(marked),
    }
}

/// A service name, linked to its page when it can have one.
fn service_name(name: &str) -> Markup {
    html! {
        @if let Some(link) = service_link(name) { a href=(link) { (Text(name)) } } @else { (Text(name)) }
    }
}

/// The number of an RFC reference (`RFC 9110`).
fn rfc_number(value: &str) -> Option<&str> {
    value
        .strip_prefix("RFC ")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What a registry fact is called on the page.
fn fact_label(field: &str) -> &str {
    match field {
        "reference" => "Reference",
        "assignee" => "Assignee",
        "contact" => "Contact",
        "registered" => "Registered",
        "modified" => "Last changed",
        "service-code" => "DCCP service code",
        "unauthorized-use" => "Unauthorized use reported",
        "notes" => "Assignment notes",
        other => other,
    }
}

/// A source of a use, named for people.
fn source_name(name: &str) -> &str {
    match name {
        "local" => "this site's own list",
        "excerpt" => "the port list this project started from",
        "port-list" => "Wikipedia's list of port numbers",
        "iana" => "IANA's registry",
        "services" => "this system's services file",
        other => other,
    }
}

/// What the status words of some uses mean, each once.
fn legend(statuses: impl Iterator<Item = &'static str>) -> Markup {
    // A bit per status in `Status::ALL`.
    let seen = statuses.fold(0u32, |seen, status| {
        let at = Status::ALL.iter().position(|s| s.word() == status);
        at.map_or(seen, |at| seen | 1 << at)
    });
    let shown = (0..)
        .zip(Status::ALL)
        .filter(|&(at, _)| seen & 1 << at != 0);
    html! {
        section.legend aria-labelledby="legend" {
            h2 #legend { "What the status words mean" }
            dl {
                @for (_, status) in shown {
                    dt { (Text(status.word())) }
                    dd { (Text(status.meaning())) }
                }
            }
        }
    }
}

/// The commands that ask this server the same, ready to paste.
fn commands(commands: &[Command]) -> Markup {
    // Each command's markup is about 50 bytes beside its text.
    let room = commands.iter().map(|c| c.text.len() + 64).sum::<usize>() + 64;
    html! {
        (Room(room))
        h2 { "Ask this server yourself" }
        ul.commands {
            @for command in commands {
                li { (Text(command.what)) ":" pre { code { (Text(&command.text)) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every special character at every place in texts of up to 19 bytes (the words and the
    /// padded tail), beside another one and beside characters of more than one byte.
    #[test]
    fn text_finds_every_special_character_wherever_it_is() {
        for length in 0..20 {
            for at in 0..length {
                for special in ['&', '<', '>', '"'] {
                    for filler in ['a', 'é', '\'', '=', '\u{22}'] {
                        let mut text: Vec<char> = std::iter::repeat_n(filler, length).collect();
                        text[at] = special;
                        let text: String = text.into_iter().collect();
                        assert_eq!(
                            Text(&text).render().into_string(),
                            html! { (text) }.into_string(),
                            "{text:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn text_is_escaped_as_maud_escapes() {
        for text in [
            "",
            "plain",
            "<a href=\"x\">&amp;</a>",
            "&&<<>>\"\"",
            "é – ü <ß> ‘quoted’ & \"more\"",
            "ends with <",
            "a longer text, without any character to escape at all",
            "eight b\"eight by&eight b<eight b>",
            "!#$%'()*+,-./0123456789:;=?@[\\]^_`{|}~ $%'* .,;=!?# 7",
        ] {
            assert_eq!(
                Text(text).render().into_string(),
                html! { (text) }.into_string()
            );
        }
    }
}
