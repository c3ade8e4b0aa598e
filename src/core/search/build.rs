//! Building the index of one table: the names and words of every entry, sorted and bucketed
//! so that a word's matches are a range, and the best postings of long lists kept aside.

use std::collections::HashMap;

use super::rank::repeat_bonus;
use super::{EntryWords, MAX_RESULTS, Position, SearchIndex, TOP_AFTER, first_at, place, repeats};
use crate::core::model::{Entry, EntryId};
use crate::core::packed::Packed;

/// The acronyms the texts define, each with its expansion: an all-capital word of two to six
/// letters in parentheses right after as many words whose initials spell it (`Remote Desktop
/// Protocol (RDP)`), lower-cased. The first definition of an acronym wins.
pub(crate) fn acronyms<'t>(texts: impl Iterator<Item = &'t str>) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for text in texts {
        let mut rest = text;
        while let Some(open) = rest.find('(') {
            let before = &rest[..open];
            let after = &rest[open + 1..];
            rest = after;
            let Some(close) = after.find(')') else { break };
            let acronym = &after[..close];
            let letters = acronym.len();
            if !(2..=6).contains(&letters) || !acronym.bytes().all(|b| b.is_ascii_uppercase()) {
                continue;
            }
            let words: Vec<&str> = before
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            let Some(start) = words.len().checked_sub(letters) else {
                continue;
            };
            let expansion = &words[start..];
            let spelled = expansion.iter().zip(acronym.chars()).all(|(word, letter)| {
                word.chars()
                    .next()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&letter))
            });
            if spelled {
                found
                    .entry(acronym.to_lowercase())
                    .or_insert_with(|| expansion.iter().map(|w| w.to_lowercase()).collect());
            }
        }
    }
    found
}

/// A text's words: runs of letters and digits, lower-cased.
pub(crate) fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The joined forms of a text's compounds: runs of letters and digits tied by `-` or `.` whose
/// every part starts with a letter (`Counter-Strike`, `Node.js`, `xmpp-client`), lower-cased
/// without the ties (`counterstrike`, `nodejs`, `xmppclient`). Their parts are words already.
pub(crate) fn compounds_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.'))
        .map(|token| token.trim_matches(['-', '.']))
        .filter(|token| {
            token.contains(['-', '.'])
                && token
                    .split(['-', '.'])
                    .all(|part| part.chars().next().is_some_and(char::is_alphabetic))
        })
        .map(|token| {
            token
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        })
}

/// Where a key's first two bytes put it among [`BUCKETS`] buckets, in the keys' sort order:
/// each byte counts by its class (before the digits, each digit, between the digits and the
/// letters, each letter, after the letters), a missing second byte before all.
pub(super) fn bucket(key: &[u8]) -> usize {
    fn class(byte: u8) -> usize {
        match byte {
            ..b'0' => 0,
            b'0'..=b'9' => usize::from(byte - b'0') + 1,
            b':'..b'a' => 11,
            b'a'..=b'z' => usize::from(byte - b'a') + 12,
            _ => 38,
        }
    }
    let bytes = key;
    let first = bytes.first().map_or(0, |&b| class(b));
    let second = bytes.get(1).map_or(0, |&b| class(b) + 1);
    first * 40 + second
}

/// How many buckets [`bucket`] sorts keys into.
const BUCKETS: usize = 39 * 40;

/// For sorted keys, where each bucket starts: `starts[b]..starts[b + 1]` are the keys in
/// bucket `b`.
fn bucket_starts(sorted: &Packed) -> Box<[u32]> {
    let mut starts = vec![0; BUCKETS + 1];
    for i in 0..sorted.len() {
        starts[bucket(sorted.get(i)) + 1] += 1;
    }
    for b in 0..BUCKETS {
        starts[b + 1] += starts[b];
    }
    starts.into_boxed_slice()
}
impl SearchIndex {
    /// The index of `entries`, each also found by its `extra` names and words (`extra` is
    /// empty or has one item per entry) and ranked by its `popularity` (likewise).
    pub(crate) fn build(
        entries: &[Entry],
        extra: &[EntryWords],
        popularity: Vec<i32>,
    ) -> SearchIndex {
        let mut names = Vec::new();
        let mut pairs: Vec<(String, EntryId, u16)> = Vec::new();
        let none = EntryWords::default();
        for (id, entry) in entries.iter().enumerate() {
            let more = extra.get(id).unwrap_or(&none);
            let id = id as EntryId;
            let own = entry.service.iter().chain(&entry.aliases);
            // A compound name (`counter-strike`) is also found by its joined form, as a name,
            // and by its parts, as words coming after the description's.
            let mut parts = Vec::new();
            for name in own
                .map(|n| n.to_lowercase())
                .chain(more.names.iter().cloned())
            {
                for joined in compounds_of(&name) {
                    parts.extend(words_of(&name));
                    names.push((joined.into_boxed_str(), id));
                }
                names.push((name.into_boxed_str(), id));
            }
            pairs.extend(
                words_of(&entry.description)
                    .chain(compounds_of(&entry.description))
                    .chain(more.words.iter().cloned())
                    .chain(parts)
                    .enumerate()
                    .map(|(at, word)| (word, id, u16::try_from(at).unwrap_or(u16::MAX))),
            );
        }
        names.sort_unstable();
        names.dedup();
        pairs.sort_unstable();
        let mut words: Vec<Box<str>> = Vec::new();
        let mut offsets = vec![0];
        let mut postings: Vec<(EntryId, Position)> = Vec::with_capacity(pairs.len());
        let mut last: Option<(String, EntryId)> = None;
        let mut further = 0;
        for (word, id, at) in pairs {
            // Each word keeps its first place in each entry and counts its further uses there.
            if last.as_ref().is_some_and(|(w, i)| *w == word && *i == id) {
                further += 1;
                if let Some(kept) = postings.last_mut() {
                    kept.1 = place(first_at(kept.1) as usize, further);
                }
                continue;
            }
            further = 0;
            if words.last().is_none_or(|last| **last != *word) {
                if !words.is_empty() {
                    offsets.push(postings.len() as u32);
                }
                words.push(word.as_str().into());
            }
            postings.push((id, place(usize::from(at), 0)));
            last = Some((word, id));
        }
        offsets.push(postings.len() as u32);
        // The lists grew by doubling (or were sized before the duplicates went): the index
        // lives as long as the table, so it keeps no spare room.
        offsets.shrink_to_fit();
        postings.shrink_to_fit();
        let name_ids = names.iter().map(|&(_, id)| id).collect();
        let names = Packed::new(names.iter().map(|(name, _)| name.as_bytes()));
        let words = Packed::new(words.iter().map(|word| word.as_bytes()));
        let mut index = SearchIndex {
            name_starts: bucket_starts(&names),
            names,
            name_ids,
            word_starts: bucket_starts(&words),
            words,
            offsets,
            postings,
            tops: Vec::new(),
            popularity,
        };
        index.tops = (0..index.words.len())
            .filter_map(|word| {
                let mut list = index.postings_of(word).to_vec();
                if list.len() <= TOP_AFTER {
                    return None;
                }
                list.select_nth_unstable_by_key(MAX_RESULTS - 1, |&(id, at)| {
                    (
                        -index.bonus(id) - repeat_bonus(repeats(at)),
                        first_at(at),
                        id,
                    )
                });
                let best = std::array::from_fn(|i| list[i]);
                Some((word as u32, best))
            })
            .collect();
        index.tops.shrink_to_fit();
        index
    }
}
