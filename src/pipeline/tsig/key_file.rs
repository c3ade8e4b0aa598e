//! TSIG key files in the form BIND's `tsig-keygen` writes: `key "name" { algorithm ALG;
//! secret "BASE64"; };`, several per file, with `#`, `//` and `/* */` comments. An error names
//! the file and the line.

use std::path::Path;

use super::key::Key;
use crate::file_error::FileError;

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    /// The file is not in the `tsig-keygen` form.
    #[error(transparent)]
    Parse(#[from] FileError),
}

/// Reads the keys of a file in the form `tsig-keygen` writes (several keys may follow each
/// other; `#`, `//` and `/* */` comments are skipped).
pub(crate) fn read_key_file(path: &Path) -> Result<Vec<Key>, KeyFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| KeyFileError::Read(file.clone(), e))?;
    parse_keys(&file, &text)
}

/// A token of a key file and the line it is on.
#[derive(Debug, PartialEq, Eq)]
enum Token<'t> {
    Word(&'t str),
    Quoted(&'t str),
    Open,
    Close,
    End,
}

fn tokens(text: &str) -> Result<Vec<(Token<'_>, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let here = line;
        let take = |n: usize, rest: &mut &str| *rest = &rest[n..];
        if c == '\n' {
            line += 1;
            take(1, &mut rest);
        } else if c.is_whitespace() {
            take(c.len_utf8(), &mut rest);
        } else if c == '#' || rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            take(end, &mut rest);
        } else if rest.starts_with("/*") {
            let end = rest
                .find("*/")
                .ok_or((here, "unterminated comment".to_owned()))?;
            line += rest[..end].matches('\n').count();
            take(end + 2, &mut rest);
        } else if c == '"' {
            let end = rest[1..]
                .find('"')
                .ok_or((here, "unterminated string".to_owned()))?;
            if rest[1..1 + end].contains('\n') {
                return Err((here, "line break inside a string".to_owned()));
            }
            out.push((Token::Quoted(&rest[1..1 + end]), here));
            take(end + 2, &mut rest);
        } else if c == '{' || c == '}' || c == ';' {
            out.push((
                match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    _ => Token::End,
                },
                here,
            ));
            take(1, &mut rest);
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || "{};\"#".contains(c))
                .unwrap_or(rest.len());
            out.push((Token::Word(&rest[..end]), here));
            take(end, &mut rest);
        }
    }
    Ok(out)
}

/// Parses `key "name" { algorithm ALG; secret "BASE64"; };` clauses.
pub(crate) fn parse_keys(file: &str, text: &str) -> Result<Vec<Key>, KeyFileError> {
    let error =
        |line: usize, reason: String| KeyFileError::from(FileError::new(file, line, reason));
    let tokens = tokens(text).map_err(|(line, reason)| error(line, reason))?;
    let last_line = text.lines().count().max(1);
    let at = std::cell::Cell::new(0);
    let next = |what: &str| -> Result<(&Token<'_>, usize), KeyFileError> {
        let token = tokens.get(at.get()).map(|(t, l)| (t, *l)).ok_or_else(|| {
            error(
                last_line,
                format!("expected {what}, found the end of the file"),
            )
        })?;
        at.set(at.get() + 1);
        Ok(token)
    };
    let mut keys = Vec::new();
    while at.get() < tokens.len() {
        let (keyword, line) = next("key")?;
        if *keyword != Token::Word("key") {
            return Err(error(line, format!("expected `key`, found {keyword:?}")));
        }
        let name = match next("a key name")? {
            (Token::Word(name) | Token::Quoted(name), _) => *name,
            (other, line) => {
                return Err(error(line, format!("expected a key name, found {other:?}")));
            }
        };
        if let (token, line) = next("{")?
            && *token != Token::Open
        {
            return Err(error(line, format!("expected {{, found {token:?}")));
        }
        let (mut algorithm, mut secret) = (None, None);
        loop {
            let (token, line) = next("algorithm, secret or }")?;
            let value = |token: &Token<'_>| match token {
                Token::Word(v) | Token::Quoted(v) => Some(v.to_string()),
                _ => None,
            };
            match token {
                Token::Close => break,
                Token::Word("algorithm") => {
                    let (v, l) = next("an algorithm")?;
                    algorithm = Some((
                        value(v).ok_or_else(|| error(l, "expected an algorithm".into()))?,
                        l,
                    ));
                }
                Token::Word("secret") => {
                    let (v, l) = next("a secret")?;
                    secret = Some((
                        value(v).ok_or_else(|| error(l, "expected a secret".into()))?,
                        l,
                    ));
                }
                other => return Err(error(line, format!("unknown setting {other:?}"))),
            }
            if let (token, line) = next(";")?
                && *token != Token::End
            {
                return Err(error(line, format!("expected ;, found {token:?}")));
            }
        }
        if let (token, line) = next(";")?
            && *token != Token::End
        {
            return Err(error(line, format!("expected ; after }}, found {token:?}")));
        }
        let (algorithm, _) =
            algorithm.ok_or_else(|| error(line, format!("key {name:?} has no algorithm")))?;
        let (secret, secret_line) =
            secret.ok_or_else(|| error(line, format!("key {name:?} has no secret")))?;
        let secret = data_encoding::BASE64
            .decode(secret.as_bytes())
            .map_err(|e| error(secret_line, format!("secret is not base64: {e}")))?;
        keys.push(Key::new(name, &algorithm, secret).map_err(|reason| error(line, reason))?);
    }
    Ok(keys)
}
