//! What ranks the search and makes the `top` answers: the extra names and words each entry is
//! found by, its popularity, nmap's frequency of its port, and the ranked `top` records.

use std::collections::{HashMap, HashSet};

use super::{EntryIds, Extras, TOP_COUNT, Table};
use crate::core::model::{Entry, EntryId, PortFrequency, PortSpan, Protocol, Status};
use crate::core::search::EntryWords;
use crate::core::search::build::words_of;
use crate::core::txt;

/// Words that mean one thing to people asking: a text with one word of a group is also found
/// by the others. TLS's (`docker tls` finds the Docker API over SSL and `ldap secure` LDAP over
/// TLS/SSL: SSL is TLS's former name, and people call either `secure`), and the web's (HTTP is
/// the web's protocol: `secure web` finds HTTPS).
const KINDRED: [&[&str]; 2] = [&["tls", "ssl", "secure"], &["http", "web"]];

/// What one line of nmap's file says about the uses of its port.
#[derive(Default)]
pub(super) struct LineUses<'a> {
    /// The uses the line stands for: nmap's name is theirs, and so is the port's frequency.
    named: EntryIds,
    /// Each part of the comment with the uses it is about, or `None` for the uses the line
    /// stands for (kept small: there is one of these per line of nmap's file while the table is
    /// built).
    words: Vec<(&'a str, Option<Box<[EntryId]>>)>,
}

impl Table {
    /// What one line of nmap's file (its name for a port and its comment) says about the uses of
    /// the port ([`LineUses`]).
    ///
    /// nmap's name stands for the uses that carry it, whose description has every part of it,
    /// or an uncommon part of five letters or more (`squid-http`: the Squid proxy, not the
    /// `ndl-aas` API server that shares 3128). When it stands for none, the line stands for the
    /// uses its comment names or describes; when none of those either, for every use of the port
    /// if nmap has no comment, else none: the Buildbot page on 8010 is not what nmap calls
    /// `xmpp`, `XMPP File Transfer`.
    ///
    /// Each part of the comment between ` | ` is about the uses it names (a part of one word
    /// that is a name of the use: `etlservicemgr`) or describes (sharing an uncommon word of five
    /// letters or more with the use's description: `Tor ORPort`; not `server`, see
    /// [`Table::common_words`]), else about the uses the line stands for.
    fn line_uses<'a>(
        &self,
        line: &'a PortFrequency,
        name: &str,
        common: &HashSet<String>,
    ) -> LineUses<'a> {
        let mut all = EntryIds::new();
        self.port_entries(line.protocol, line.port, &mut all);
        let segments: Vec<&str> = line.comment.iter().flat_map(|c| c.split(" | ")).collect();
        let uncommon = |text: &str| -> Vec<String> {
            words_of(text)
                .filter(|w| w.chars().count() >= 5 && !common.contains(w))
                .collect()
        };
        let carries = |id: EntryId, wanted: &str| {
            let entry = self.entry(id);
            entry
                .service
                .iter()
                .chain(&entry.aliases)
                .any(|s| s.eq_ignore_ascii_case(wanted))
        };
        let described: Vec<Vec<String>> = all
            .iter()
            .map(|&id| words_of(&self.entry(id).description).collect())
            .collect();
        // The uses a comment segment names or describes.
        let about = |segment: &str| -> EntryIds {
            let long = uncommon(segment);
            all.iter()
                .zip(&described)
                .filter(|&(&id, words)| {
                    (!segment.contains(' ') && carries(id, segment))
                        || words.iter().any(|w| long.contains(w))
                })
                .map(|(&id, _)| id)
                .collect()
        };
        let parts: Vec<String> = words_of(name).collect();
        let long_parts = uncommon(name);
        let mut named: EntryIds = all
            .iter()
            .zip(&described)
            .filter(|&(&id, words)| {
                carries(id, name)
                    || parts.iter().all(|part| words.contains(part))
                    || words.iter().any(|w| long_parts.contains(w))
            })
            .map(|(&id, _)| id)
            .collect();
        let by_segment: Vec<EntryIds> = segments.iter().map(|s| about(s)).collect();
        if named.is_empty() {
            named = all
                .iter()
                .copied()
                .filter(|id| by_segment.iter().any(|uses| uses.contains(id)))
                .collect();
        }
        if named.is_empty() && line.comment.is_none() {
            named = all;
        }
        let words = segments
            .iter()
            .zip(by_segment)
            .map(|(&segment, uses)| (segment, (!uses.is_empty()).then(|| uses[..].into())))
            .collect();
        LineUses { named, words }
    }

    /// The words in more than one description in a hundred (`server`, `protocol`): sharing one
    /// says nothing about which use a text means.
    fn common_words(&self) -> HashSet<String> {
        let mut count: HashMap<String, usize> = HashMap::new();
        for entry in &self.entries {
            let mut words: Vec<String> = words_of(&entry.description).collect();
            words.sort_unstable();
            words.dedup();
            for word in words {
                *count.entry(word).or_default() += 1;
            }
        }
        let most = self.entries.len() / 100;
        count
            .into_iter()
            .filter(|&(_, n)| n > most)
            .map(|(word, _)| word)
            .collect()
    }

    /// For each line of nmap's file, what it says about the uses of its port
    /// ([`Table::line_uses`]); lines calling the port `unknown` stand for none.
    pub(super) fn nmap_uses<'a>(&self, extras: &'a Extras) -> Vec<LineUses<'a>> {
        let common = self.common_words();
        extras
            .frequencies
            .iter()
            .map(|line| match line.name.as_deref() {
                Some(name) => self.line_uses(line, name, &common),
                None => LineUses::default(),
            })
            .collect()
    }

    /// The extra names and words each entry is found by: nmap's name and comment for its port
    /// (given to the uses nmap's line stands for, [`Table::line_uses`]: a name nmap gives a
    /// port is not a name of every use sharing the port), the synonym list's words for it, and
    /// the expansions of the acronyms its texts use, where some description or comment defines
    /// them (`Remote Desktop Protocol (RDP)`), and, when its texts say a word of a group of
    /// [`KINDRED`] words (`TLS`, `SSL`, `secure`; `HTTP`, `web`), the others of the group.
    pub(super) fn search_words(&self, extras: &Extras, nmap: &[LineUses<'_>]) -> Vec<EntryWords> {
        let mut words = vec![EntryWords::default(); self.entries.len()];
        for (f, line) in extras.frequencies.iter().zip(nmap) {
            for &id in &line.named {
                words[id as usize].names.extend(f.name.clone());
            }
            for (said, uses) in &line.words {
                for &id in uses.as_deref().unwrap_or(&line.named) {
                    words[id as usize].words.extend(words_of(said));
                }
            }
        }
        for synonym in &extras.synonyms {
            let mut ids = EntryIds::new();
            self.port_entries(synonym.protocol, synonym.port, &mut ids);
            for id in ids {
                let w = &mut words[id as usize];
                if synonym.word.contains(' ') {
                    w.words.extend(synonym.word.split(' ').map(str::to_owned));
                } else {
                    w.names.push(synonym.word.clone());
                }
            }
        }
        let texts = self.entries.iter().map(|e| e.description.as_str()).chain(
            extras
                .frequencies
                .iter()
                .filter_map(|f| f.comment.as_deref()),
        );
        let acronyms = crate::core::search::build::acronyms(texts);
        for (entry, words) in self.entries.iter().zip(&mut words) {
            let mut expansions: Vec<String> = Vec::new();
            let own = words_of(&entry.description)
                .chain(words.words.iter().cloned())
                .chain(entry.service.iter().map(|s| s.to_lowercase()));
            let mut kin = [false; KINDRED.len()];
            for word in own {
                if let Some(expansion) = acronyms.get(&word) {
                    expansions.extend(expansion.iter().cloned());
                }
                for (group, found) in KINDRED.iter().zip(&mut kin) {
                    *found |= group.contains(&word.as_str());
                }
            }
            // `LDAPS` (or the name `ldaps`) beside `TLS`, `SSL` or `secure` is LDAP made secure:
            // found by `ldap` and what it stands for, as the text of LDAP itself is.
            if kin[0] {
                let written = entry
                    .description
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|token| !token.bytes().any(|b| b.is_ascii_lowercase()))
                    .map(str::to_lowercase)
                    .chain(entry.service.iter().map(|s| s.to_lowercase()));
                for base in written.filter_map(|word| secure_variant(&word, &acronyms)) {
                    expansions.push(base.to_owned());
                    expansions.extend(acronyms[base].iter().cloned());
                }
            }
            for (group, found) in KINDRED.iter().zip(kin) {
                if found {
                    expansions.extend(group.iter().map(|w| (*w).to_owned()));
                }
            }
            words.words.extend(expansions);
        }
        words
    }

    /// How common each use is, for ranking: nmap's frequency of its port (in millionths, scaled
    /// to TCP's by [`protocol_scales`]), then its status, how many sources agree on it and how
    /// many other uses of the port on its protocol begin with its first word (up to three). A
    /// frequency counts for the uses nmap's line for the port stands for ([`Table::line_uses`]),
    /// or for every use of the port when it stands for none of them; a range takes the highest
    /// of its first port's and of the ports whose line stands for it (IRC's 6665-6669 counts
    /// 6667's); where nmap calls the port `unknown`, its count speaks for no use (19133/udp, open
    /// on VoIP gear, is not Minecraft's). A use whose description says it is of the past
    /// ([`is_past`]: `Old radacct port`) has [`PAST`](crate::core::search::rank::PAST)'s: it
    /// comes after the uses of today.
    pub(super) fn popularity(&self, extras: &Extras, nmap: &[LineUses<'_>]) -> Vec<i32> {
        let mut frequency = vec![0u32; self.entries.len()];
        let scales = protocol_scales(&extras.frequencies);
        for (f, line) in extras.frequencies.iter().zip(nmap) {
            let uses = &line.named;
            if f.name.is_none() {
                continue;
            }
            let scaled = (f64::from(f.frequency) * scales[f.protocol.index()]).round() as u32;
            let mut ids = uses.clone();
            if ids.is_empty() {
                self.port_entries(f.protocol, f.port, &mut ids);
            }
            for id in ids {
                if self.entry(id).ports.first == f.port || uses.contains(&id) {
                    let kept = &mut frequency[id as usize];
                    *kept = (*kept).max(scaled);
                }
            }
        }
        let subject = |entry: &Entry| {
            words_of(&entry.description)
                .next()
                .map(|word| (entry.ports, entry.protocol, word))
        };
        let mut told: HashMap<(PortSpan, Protocol, String), u32> = HashMap::new();
        for key in self.entries.iter().filter_map(subject) {
            *told.entry(key).or_default() += 1;
        }
        self.entries
            .iter()
            .zip(frequency)
            .map(|(entry, frequency)| {
                // The port's traffic and standing are not those of a use it had once.
                if is_past(&entry.description) {
                    return crate::core::search::rank::PAST;
                }
                let status = match entry.status {
                    Status::Local => 4,
                    Status::Yes => 3,
                    Status::Unofficial => 2,
                    Status::Assigned | Status::System => 1,
                    _ => 0,
                };
                let sources = entry.sources.count_ones();
                // The further uses of the port its texts begin with the same word (`Steam (game
                // client traffic)`, `Steam (matchmaking and HLTV)`), up to three: the port is
                // known for what they name.
                let retold = subject(entry).map_or(0, |key| (told[&key] - 1).min(3));
                // Frequency dominates; status and agreement order the ports nmap does not know.
                crate::core::search::rank::popularity(frequency, status + sources + retold)
            })
            .collect()
    }

    /// nmap's frequency of the entry's port on its protocol, in millionths; `None` for a range
    /// or a port nmap does not list (or without the file).
    pub(crate) fn frequency(&self, id: EntryId) -> Option<u32> {
        let entry = self.entry(id);
        if entry.ports.is_range() {
            return None;
        }
        let list = &self.frequencies[entry.protocol.index()];
        list.binary_search_by_key(&entry.ports.first, |&(port, _, _)| port)
            .ok()
            .map(|at| list[at].1)
    }

    /// nmap's frequency of `port` on `protocol` (millionths) and the port's rank there by it
    /// (1 for the commonest; ports found equally often share a rank); `None` for a port nmap
    /// does not list (or without the file).
    pub(crate) fn frequency_rank(&self, protocol: Protocol, port: u16) -> Option<(u32, usize)> {
        let list = &self.frequencies[protocol.index()];
        let at = list.binary_search_by_key(&port, |&(p, _, _)| p).ok()?;
        Some((list[at].1, usize::from(list[at].2)))
    }

    /// The ranked records of `top.<protocol>`: the [`TOP_COUNT`] ports nmap found open most
    /// often, each with its main use (the one carrying nmap's name for it, else the first
    /// listed), `RANK | ` before the use's own text.
    pub(super) fn top_records(
        &self,
        protocol: Protocol,
        frequencies: &[PortFrequency],
    ) -> Vec<Box<[u8]>> {
        let mut common: Vec<&PortFrequency> = frequencies
            .iter()
            .filter(|f| f.protocol == protocol && f.frequency > 0)
            .collect();
        common.sort_by_key(|f| (std::cmp::Reverse(f.frequency), f.port));
        common.dedup_by_key(|f| f.port);
        common
            .iter()
            .take(TOP_COUNT)
            .enumerate()
            .map(|(rank, f)| {
                let mut ids = EntryIds::new();
                self.port_entries(protocol, f.port, &mut ids);
                let named = |&&id: &&EntryId| {
                    let entry = self.entry(id);
                    f.name.as_deref().is_some_and(|name| {
                        entry
                            .service
                            .iter()
                            .chain(&entry.aliases)
                            .any(|s| s.eq_ignore_ascii_case(name))
                    })
                };
                let main = ids.iter().find(named).or(ids.first());
                let text = match main {
                    Some(&id) => txt::entry_text(self.entry(id)),
                    None => txt::UnassignedText {
                        port: f.port,
                        protocol: Some(protocol),
                    }
                    .to_string(),
                };
                txt::encode_strings(&format!("{} | {text}", rank + 1))
            })
            .collect()
    }
}

/// For each protocol, what its nmap frequencies are multiplied by for ranking: TCP's total over
/// the protocol's total (1 for TCP, and for a protocol nmap lists nothing on). nmap measures each
/// protocol in a scan of its own, and its UDP frequencies add up to five times TCP's: unscaled,
/// the SQL Server monitor on 1434/udp looks forty times as common as SQL Server on 1433/tcp, and
/// Apple Remote Desktop on 3283/udp more common than RDP on 3389/tcp.
fn protocol_scales(frequencies: &[PortFrequency]) -> [f64; Protocol::ALL.len()] {
    let mut totals = [0f64; Protocol::ALL.len()];
    for f in frequencies {
        totals[f.protocol.index()] += f64::from(f.frequency);
    }
    let tcp = totals[Protocol::Tcp.index()];
    totals.map(|total| {
        if total > 0.0 && tcp > 0.0 {
            tcp / total
        } else {
            1.0
        }
    })
}

/// The acronym a word extends by a final `s` (`ldaps`: `ldap`), when the texts define that
/// acronym and it has three letters or more (so `dns` is not `dn` made secure). The word is a
/// service name or written in capitals (`LDAPS`), so a plural (`APIs`) is not one.
fn secure_variant<'a>(word: &str, acronyms: &'a HashMap<String, Vec<String>>) -> Option<&'a str> {
    let base = word.strip_suffix('s')?;
    if base.len() < 3 {
        return None;
    }
    acronyms.get_key_value(base).map(|(key, _)| key.as_str())
}

/// Whether a use's description says it is of the past: its first word is `Previously`, `Old`,
/// `Historically`, `Obsolete`, `Deprecated`, `De-assigned`, `De-registered` or
/// `De-commissioned` (not IANA's `de-noc`, a name), or it calls the use `historic` or
/// `deprecated` anywhere (`Previously assigned to Internet Relay Chat over TLS/SSL (IRCS)`, `Old
/// radacct port`, `Message Send Protocol (historic)`).
pub(super) fn is_past(description: &str) -> bool {
    const FIRST: [&str; 8] = [
        "previously",
        "old",
        "historically",
        "obsolete",
        "deprecated",
        "de-assigned",
        "de-registered",
        "de-commissioned",
    ];
    let first = description
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .next()
        .unwrap_or_default()
        .to_lowercase();
    FIRST.contains(&first.as_str())
        || words_of(description).any(|w| w == "historic" || w == "deprecated")
}
