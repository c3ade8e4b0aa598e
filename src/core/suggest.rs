//! "Did you mean": when a search finds nothing, the searches that do find something with one
//! of its words replaced by a service name or description word of the table close to it
//! (Damerau-Levenshtein distance, from `strsim`). Only a miss asks, so reading the whole
//! vocabulary of the search index is affordable there; words whose length differs from the
//! query word's by more than the distance allowed are skipped unread.

use crate::core::present;
use crate::core::zone::Snapshot;

/// The most searches offered instead of one that found nothing.
pub(crate) const MAX_SUGGESTIONS: usize = 5;

/// The shortest query word replaced: shorter ones are near too many words to mean one.
const MIN_LENGTH: usize = 3;

/// The candidates per query word tried as replacements.
const CANDIDATES_PER_WORD: usize = 8;

/// The farthest a replacement may be from a word of `length` characters: one edit up to four
/// characters, two up to eight, three beyond.
fn tolerance(length: usize) -> usize {
    match length {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    }
}

/// The distinct words of `vocabulary` within `word`'s tolerance of it (compared in lower
/// case), nearest first, then in byte order; `word` itself is not one of them.
pub(crate) fn nearest<'v>(
    word: &str,
    vocabulary: impl Iterator<Item = &'v [u8]>,
) -> Vec<(usize, &'v str)> {
    let word = word.to_lowercase();
    let length = word.chars().count();
    let most = tolerance(length);
    let mut found: Vec<(usize, &str)> = vocabulary
        .filter(|candidate| candidate.len().abs_diff(word.len()) <= most * 4)
        .filter_map(|candidate| std::str::from_utf8(candidate).ok())
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= most)
        .filter(|&candidate| candidate != word)
        .map(|candidate| (strsim::damerau_levenshtein(&word, candidate), candidate))
        .filter(|&(distance, _)| distance <= most)
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// Searches like `query` (words separated by blanks) that find something, each with one word
/// replaced by a near name or word of the table, the nearest replacements first; at most
/// [`MAX_SUGGESTIONS`].
pub(crate) fn suggestions(snapshot: &Snapshot, query: &str) -> Vec<String> {
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.len() > crate::core::search::MAX_WORDS {
        return Vec::new();
    }
    let mut replacements: Vec<(usize, usize, &str)> = Vec::new();
    for (at, word) in words.iter().enumerate() {
        if word.chars().count() < MIN_LENGTH {
            continue;
        }
        let near = nearest(word, snapshot.table.vocabulary());
        replacements.extend(
            near.into_iter()
                .take(CANDIDATES_PER_WORD)
                .map(|(distance, candidate)| (distance, at, candidate)),
        );
    }
    replacements.sort_by_key(|&(distance, at, _)| (distance, at));
    let mut offered = Vec::new();
    for (_, at, candidate) in replacements {
        let mut changed: Vec<&str> = words.clone();
        changed[at] = candidate;
        let changed = changed.join(" ");
        if !offered.contains(&changed)
            && present::search(snapshot, std::slice::from_ref(&changed)).is_ok()
        {
            offered.push(changed);
            if offered.len() == MAX_SUGGESTIONS {
                break;
            }
        }
    }
    offered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_words_come_first_and_far_ones_not_at_all() {
        let vocabulary: [&[u8]; 6] = [
            b"minecraft",
            b"minecraft",
            b"mindcraft",
            b"ssh",
            b"shh",
            b"x",
        ];
        assert_eq!(
            nearest("Minecraf", vocabulary.into_iter()),
            [(1, "minecraft"), (2, "mindcraft")]
        );
        assert_eq!(nearest("ssh", vocabulary.into_iter()), [(1, "shh")]);
        assert!(nearest("kerberos", vocabulary.into_iter()).is_empty());
    }
}
