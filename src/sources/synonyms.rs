//! The search's synonym list (`data/synonyms.tsv`): words people use for a port that no source
//! spells, product names mostly (`mariadb` for MySQL's 3306), each with where the port was
//! found. A word of the list becomes a name of every use of its port in the search index.
//!
//! Format: `WORDS<TAB>PORT/PROTOCOL<TAB>SOURCE`, `#` starting a comment line. The words are
//! lower-case letters, digits and `-`, separated by spaces: one word becomes a name of the
//! port's uses, several (a phrase such as `remote desktop`) become words of their
//! descriptions. The source (a URL or document) must not be empty.

use super::common::DataError;
use crate::core::model::{Protocol, Synonym};

/// Parses the list; every malformed line is a problem naming its line.
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> Vec<Synonym> {
    let mut synonyms = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [word, port_protocol, source] = fields[..] else {
            let reason = format!(
                "expected WORD, PORT/PROTOCOL and SOURCE separated by tabs, found {} fields",
                fields.len()
            );
            problems.push(DataError::new(file, line_number, reason));
            continue;
        };
        let good_word = !word.is_empty()
            && word.split(' ').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if !good_word {
            let reason = format!(
                "bad words {word:?}: lower-case letters, digits and - separated by single spaces"
            );
            problems.push(DataError::new(file, line_number, reason));
            continue;
        }
        let target = port_protocol.split_once('/').and_then(|(port, protocol)| {
            Some((
                port.parse::<u16>().ok()?,
                Protocol::from_label(protocol.as_bytes())?,
            ))
        });
        let Some((port, protocol)) = target else {
            let reason = format!("expected PORT/PROTOCOL, found {port_protocol:?}");
            problems.push(DataError::new(file, line_number, reason));
            continue;
        };
        if source.is_empty() {
            problems.push(DataError::new(file, line_number, "no source given"));
            continue;
        }
        synonyms.push(Synonym {
            word: word.to_owned(),
            protocol,
            port,
        });
    }
    synonyms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_problems() {
        let text = "# word\tport\tsource\nmariadb\t3306/tcp\thttps://mariadb.com/kb/\n\
                    Bad\t1/tcp\tx\nk\t1\tx\nk\t1/tcp\t\nonly\n";
        let mut problems = Vec::new();
        let synonyms = parse("synonyms.tsv", text, &mut problems);
        assert_eq!(
            synonyms,
            [Synonym {
                word: "mariadb".into(),
                protocol: Protocol::Tcp,
                port: 3306
            }]
        );
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "synonyms.tsv:3: bad words \"Bad\": lower-case letters, digits and - separated by single spaces",
                "synonyms.tsv:4: expected PORT/PROTOCOL, found \"1\"",
                "synonyms.tsv:5: no source given",
                "synonyms.tsv:6: expected WORD, PORT/PROTOCOL and SOURCE separated by tabs, found 1 fields",
            ]
        );
    }
}
