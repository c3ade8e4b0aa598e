//! The vocabulary of the port table: transport protocols, the status legend, and one use of a
//! port (an [`Entry`]). Pure data, shared by the loaders, the table, the answers and the zone
//! export.

use std::fmt;

/// The transport protocols a port number belongs to. The order is the order answers list them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Transmission Control Protocol.
    Tcp,
    /// User Datagram Protocol.
    Udp,
    /// Stream Control Transmission Protocol.
    Sctp,
    /// Datagram Congestion Control Protocol.
    Dccp,
}

impl Protocol {
    /// Every protocol, in answer order.
    pub const ALL: [Protocol; 4] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp, Protocol::Dccp];

    /// The lower-case label used in query names and in answers (`tcp`).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
            Protocol::Dccp => "dccp",
        }
    }

    /// Parses a protocol label, ignoring ASCII case.
    pub(crate) fn from_label(label: &[u8]) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .find(|p| label.eq_ignore_ascii_case(p.label().as_bytes()))
    }

    /// A dense index (0..4) for per-protocol arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a source says about one use of a port on one protocol.
///
/// The first six are the port list's legend (see `data/README.md`); `Local` marks a site's own
/// entries from `local.tsv`, `System` a use only the system's services database names, and
/// `Unassigned` is what answers for a port nobody lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Status {
    /// A site-local entry: the organisation running portsd published it.
    Local,
    /// Assigned by IANA and standardised, specified or widely used.
    Yes,
    /// Not assigned by IANA but standardised, specified or widely used.
    Unofficial,
    /// Assigned by IANA but not standardised, specified or widely used.
    Assigned,
    /// Not assigned, standardised, specified or widely used for this port.
    No,
    /// Reserved by IANA.
    Reserved,
    /// Not applicable (port 0's meaning in programming APIs).
    NotApplicable,
    /// Named by the system's services database (`/etc/services`) and by no other source: the
    /// host says the port has that name, nobody says more.
    System,
    /// Nobody lists a use of this port.
    Unassigned,
}

impl Status {
    /// Every status, in the order reports list them.
    pub(crate) const ALL: [Status; 9] = [
        Status::Local,
        Status::Yes,
        Status::Unofficial,
        Status::Assigned,
        Status::No,
        Status::Reserved,
        Status::NotApplicable,
        Status::System,
        Status::Unassigned,
    ];

    /// The legend word, exactly as answers and data files spell it.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Status::Local => "Local",
            Status::Yes => "Yes",
            Status::Unofficial => "Unofficial",
            Status::Assigned => "Assigned",
            Status::No => "No",
            Status::Reserved => "Reserved",
            Status::NotApplicable => "N/A",
            Status::System => "System",
            Status::Unassigned => "Unassigned",
        }
    }

    /// What the status word means, in a few words (the legend of the HTTP page).
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Status::Local => "published by the site that runs this server",
            Status::Yes => "assigned by IANA, and standardised, specified or widely used",
            Status::Unofficial => {
                "not assigned by IANA, but standardised, specified or widely used"
            }
            Status::Assigned => "assigned by IANA, but not standardised, specified or widely used",
            Status::No => "not assigned, standardised, specified or widely used for this port",
            Status::Reserved => "reserved by IANA",
            Status::NotApplicable => "not applicable (port 0 means any port to most programs)",
            Status::System => "named only by this host's services database",
            Status::Unassigned => "nobody lists a use of this port",
        }
    }

    /// Parses a legend word (exact spelling, as in the data files).
    pub(crate) fn from_word(word: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.word() == word)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Where an entry's facts came from. An entry merged from several sources carries several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// `local.tsv`, the site's own ports.
    Local,
    /// The port-list excerpt the project was specified from.
    Excerpt,
    /// The full port list (`ports.tsv`, converted from Wikipedia's table).
    PortList,
    /// IANA's service name and port number registry.
    Iana,
    /// The system's services database (`/etc/services` or `--services FILE`).
    Services,
    /// `vendor-ports.tsv`, ports as their software's vendors document them.
    Vendor,
}

impl Source {
    /// Every source, in the order they are reported.
    pub(crate) const ALL: [Source; 6] = [
        Source::Local,
        Source::Excerpt,
        Source::PortList,
        Source::Iana,
        Source::Services,
        Source::Vendor,
    ];

    /// A short lower-case name for reports and metrics labels.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Excerpt => "excerpt",
            Source::PortList => "port-list",
            Source::Iana => "iana",
            Source::Services => "services",
            Source::Vendor => "vendor",
        }
    }

    /// A bit for [`Entry::sources`].
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A first..=last port span; a single port has `first == last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpan {
    /// Lowest port of the span.
    pub first: u16,
    /// Highest port of the span (inclusive).
    pub last: u16,
}

impl PortSpan {
    /// A span of one port.
    pub(crate) fn single(port: u16) -> PortSpan {
        PortSpan {
            first: port,
            last: port,
        }
    }

    /// Whether the span covers more than one port.
    pub(crate) fn is_range(self) -> bool {
        self.first != self.last
    }

    /// Parses `443` or `6881-6887`; `None` for anything else or a backwards range.
    pub(crate) fn parse(text: &str) -> Option<PortSpan> {
        let text = text.trim();
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let p = text.parse().ok()?;
                (p, p)
            }
        };
        (first <= last).then_some(PortSpan { first, last })
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_range() {
            write!(f, "{}-{}", self.first, self.last)
        } else {
            write!(f, "{}", self.first)
        }
    }
}

/// One use of a port (or range) on one protocol, after merging the sources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The port or range this use covers.
    pub ports: PortSpan,
    /// The transport protocol.
    pub protocol: Protocol,
    /// The status, in the legend's words.
    pub(crate) status: Status,
    /// The use's service name (as IANA, the site or the system's services database spells it),
    /// when there is one.
    pub service: Option<String>,
    /// The other names the system's services database gives this port on this protocol, in
    /// its order (`whois` for IANA's `nicname` on 43/tcp); empty without that database.
    pub(crate) aliases: Vec<String>,
    /// What the port is used for: cleaned UTF-8 text, possibly empty.
    pub description: String,
    /// A bit set of `Source::bit`s naming every source that contributed.
    pub sources: u8,
    /// What IANA's registry records about this use beyond its name and description, when the
    /// registry lists it.
    pub(crate) registry: Option<RegistryFacts>,
}

/// The columns of an IANA registry record that the five-field answer leaves out, as read from
/// the file. Text as the registry gives it, but for references (`[RFC9110]` becomes
/// `RFC 9110`) and handles (the brackets around `[IESG]` dropped). The table keeps them packed,
/// as [`RegistryFacts`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RegistryColumns {
    /// The documents and people the record cites, in its order: `RFC 9110`, `Jon_Postel`.
    pub(crate) references: Vec<String>,
    /// Who the use is assigned to (handles, `, ` between several).
    pub(crate) assignee: Option<String>,
    /// Whom to contact about it (handles).
    pub(crate) contact: Option<String>,
    /// The registration date, `YYYY-MM-DD`.
    pub(crate) registered: Option<String>,
    /// The last modification date, `YYYY-MM-DD`.
    pub(crate) modified: Option<String>,
    /// The DCCP service code (RFC 4340 8.1.2).
    pub(crate) service_code: Option<String>,
    /// The registry's note that unauthorized use of the port was reported.
    pub(crate) unauthorized_use: Option<String>,
    /// The registry's assignment notes.
    pub(crate) notes: Option<String>,
}

/// The single-valued facts in packed order: the name a `registry` record gives each, and its
/// field in the `--json` objects.
const SINGLE_FACTS: [(&str, &str); 7] = [
    ("assignee", "assignee"),
    ("contact", "contact"),
    ("registered", "registered"),
    ("modified", "modified"),
    ("service-code", "service_code"),
    ("unauthorized-use", "unauthorized_use"),
    ("notes", "assignment_notes"),
];

/// What separates the packed facts: the registry's cells have their whitespace folded, so no
/// value holds one.
const FACT_SEPARATOR: char = '\n';

/// A use's [`RegistryColumns`] as the table keeps them: one string holding the seven
/// single-valued facts in [`SINGLE_FACTS`] order, then the references, each ended or started
/// by a line break (an absent fact is empty). One allocation of about 60 bytes per record
/// instead of a struct of 192 bytes and a string per fact: the table holds some 9,000 of them.
/// Serialised as fields of the `--json` output's objects (`references` a list, the others text
/// or null, `notes` as `assignment_notes`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RegistryFacts {
    packed: Box<str>,
}

impl RegistryFacts {
    /// The facts of `columns`, or `None` when the record states none. A line break inside a
    /// value, which the registry's parsing leaves none of, would become a space.
    pub(crate) fn new(columns: RegistryColumns) -> Option<RegistryFacts> {
        if columns == RegistryColumns::default() {
            return None;
        }
        let references = columns.references;
        let singles = [
            columns.assignee,
            columns.contact,
            columns.registered,
            columns.modified,
            columns.service_code,
            columns.unauthorized_use,
            columns.notes,
        ];
        let mut packed = String::new();
        let values = singles
            .iter()
            .map(|value| value.as_deref().unwrap_or_default())
            .chain(references.iter().map(String::as_str));
        for (i, value) in values.enumerate() {
            if i > 0 {
                packed.push(FACT_SEPARATOR);
            }
            packed.extend(
                value
                    .chars()
                    .map(|c| if c == FACT_SEPARATOR { ' ' } else { c }),
            );
        }
        Some(RegistryFacts {
            packed: packed.into_boxed_str(),
        })
    }

    /// The single-valued facts in [`SINGLE_FACTS`] order, and the references.
    fn unpack(&self) -> ([Option<&str>; 7], impl Iterator<Item = &str>) {
        let mut parts = self.packed.split(FACT_SEPARATOR);
        let singles = std::array::from_fn(|_| parts.next().filter(|v| !v.is_empty()));
        (singles, parts)
    }

    /// The facts as (field name, value) pairs in a fixed order, one pair per reference: what
    /// the `registry` name form answers, one record each.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let (singles, references) = self.unpack();
        references.map(|r| ("reference", r)).chain(
            SINGLE_FACTS
                .iter()
                .zip(singles)
                .filter_map(|(&(name, _), value)| value.map(|v| (name, v))),
        )
    }
}

impl serde::Serialize for RegistryFacts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (singles, references) = self.unpack();
        let mut out = serializer.serialize_struct("RegistryFacts", 1 + SINGLE_FACTS.len())?;
        out.serialize_field("references", &references.collect::<Vec<&str>>())?;
        for (&(_, field), value) in SINGLE_FACTS.iter().zip(singles) {
            out.serialize_field(field, &value)?;
        }
        out.end()
    }
}

impl Entry {
    /// Whether `source` contributed to this entry.
    pub(crate) fn has_source(&self, source: Source) -> bool {
        self.sources & source.bit() != 0
    }
}

/// The scale of [`PortFrequency::frequency`]: a frequency is a count of millionths.
pub(crate) const FREQUENCY_SCALE: u32 = 1_000_000;

/// How often a port was found open on one protocol, from nmap's `nmap-services`, with
/// nmap's name and comment for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortFrequency {
    /// The protocol.
    pub(crate) protocol: Protocol,
    /// The port.
    pub(crate) port: u16,
    /// The share of scanned hosts with the port open, in millionths.
    pub(crate) frequency: u32,
    /// nmap's name for the port, lower-cased; `None` where nmap says `unknown`.
    pub(crate) name: Option<String>,
    /// nmap's comment.
    pub(crate) comment: Option<String>,
}

/// A word of the search's synonym list and the port it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Synonym {
    /// The word, lower-case.
    pub(crate) word: String,
    /// The protocol of the port.
    pub(crate) protocol: Protocol,
    /// The port.
    pub(crate) port: u16,
}

/// An entry's place in the table's list of entries ([`crate::core::table::Table::entries`]):
/// what the indexes and answers hold instead of the entry.
pub(crate) type EntryId = u32;

/// A name the system's services database gives a port: it answers every use of that port on
/// that protocol, as `getservbyname` would give the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortName {
    /// The name, lower-cased.
    pub(crate) name: String,
    /// The protocol it names the port on.
    pub(crate) protocol: Protocol,
    /// The port it names.
    pub(crate) port: u16,
}

/// The well-known ranges of RFC 6335 section 6, each by its first port and its name, as
/// answers for ports nobody lists name it.
pub(crate) const PORT_RANGES: [(u16, &str); 3] = [
    (0, "system port range 0-1023"),
    (1024, "user port range 1024-49151"),
    (49152, "dynamic/private port range 49152-65535"),
];

/// The index in [`PORT_RANGES`] of the range `port` is in.
pub(crate) fn port_range(port: u16) -> usize {
    PORT_RANGES
        .iter()
        .rposition(|&(first, _)| first <= port)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
