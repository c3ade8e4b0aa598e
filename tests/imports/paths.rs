//! The paths a Rust source file names, read from its text: each leaf of a `use` tree and each
//! path of two or more segments in code, with its line and the inline modules around it.
//! Comments and string, character and number literals are skipped.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    PathSep,
    Punct(char),
}

/// The paths a file's text names, with their line and the inline modules they sit in: each
/// leaf of a `use` tree, and each path of two or more segments in code.
pub(crate) fn paths(text: &str) -> Vec<(usize, Vec<String>, Vec<String>)> {
    let tokens = tokens(text);
    let mut found = Vec::new();
    // Inline modules open around the current token, with the brace depth inside each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let (token, line) = &tokens[i];
        let here: Vec<String> = inline.iter().map(|(name, _)| name.clone()).collect();
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|&(_, at)| at == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Token::Word(word) if word == "mod" => {
                if let (Some((Token::Word(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Token::Word(word) if word == "use" => {
                let end = tokens[i..]
                    .iter()
                    .position(|(t, _)| *t == Token::Punct(';'))
                    .map_or(tokens.len(), |n| i + n);
                let tree: Vec<Token> = tokens[i + 1..end].iter().map(|(t, _)| t.clone()).collect();
                let mut leaves = Vec::new();
                let mut at = 0;
                use_tree(&tree, &mut at, Vec::new(), &mut leaves);
                found.extend(leaves.into_iter().map(|leaf| (*line, leaf, here.clone())));
                i = end + 1;
                continue;
            }
            Token::Word(first)
                if tokens.get(i + 1).is_some_and(|(t, _)| *t == Token::PathSep)
                    && (i == 0 || tokens[i - 1].0 != Token::PathSep) =>
            {
                let mut path = vec![first.clone()];
                let mut at = i + 1;
                while let (Some((Token::PathSep, _)), Some((Token::Word(next), _))) =
                    (tokens.get(at), tokens.get(at + 1))
                {
                    path.push(next.clone());
                    at += 2;
                }
                found.push((*line, path, here));
                i = at;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Appends the leaves of the `use` tree at `tokens[*at..]` to `leaves`, each with `prefix`
/// in front; a glob names the module it imports from.
fn use_tree(tokens: &[Token], at: &mut usize, prefix: Vec<String>, leaves: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    while let Some(token) = tokens.get(*at) {
        match token {
            Token::Word(word) => path.push(word.clone()),
            Token::Punct('*') => {
                *at += 1;
                break;
            }
            Token::Punct('{') => {
                *at += 1;
                while let Some(token) = tokens.get(*at) {
                    match token {
                        Token::Punct('}') => break,
                        Token::Punct(',') => *at += 1,
                        _ => {
                            let before = *at;
                            use_tree(tokens, at, path.clone(), leaves);
                            if *at == before {
                                *at += 1;
                            }
                        }
                    }
                }
                *at += 1;
                return;
            }
            Token::PathSep => {}
            Token::Punct(_) => break,
        }
        *at += 1;
        if matches!(tokens.get(*at), Some(Token::Word(word)) if word == "as") {
            *at += 2;
            break;
        }
    }
    leaves.push(path);
}

/// The words, `::` and punctuation of Rust source, each with its line; comments and
/// string, character and number literals are left out.
fn tokens(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1, None, &mut line);
        } else if c == '\'' {
            // A character literal, or else a lifetime's quote.
            if at(i + 1) == '\\' {
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if matches!(word.as_str(), "b" | "c" | "r" | "br" | "cr") && at(i) == '"' {
                i = skip_string(&chars, i + 1, if raw { Some(0) } else { None }, &mut line);
            } else if raw && at(i) == '#' && at(i + 1) != '[' {
                let hashes = chars[i..].iter().take_while(|&&h| h == '#').count();
                if at(i + hashes) == '"' {
                    i = skip_string(&chars, i + hashes + 1, Some(hashes), &mut line);
                } else {
                    // A raw identifier, `r#type`.
                    i += 1;
                }
            } else if !c.is_ascii_digit() {
                found.push((Token::Word(word), line));
            }
        } else if c == ':' && at(i + 1) == ':' {
            found.push((Token::PathSep, line));
            i += 2;
        } else {
            found.push((Token::Punct(c), line));
            i += 1;
        }
    }
    found
}

/// The index just past a string literal whose text starts at `i`: escapes apply unless it is
/// raw, in which case it ends at a quote followed by that many `#`.
fn skip_string(chars: &[char], mut i: usize, raw: Option<usize>, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' if raw.is_none() => {
                *line += usize::from(chars.get(i + 1) == Some(&'\n'));
                i += 2;
            }
            '"' => {
                let hashes = raw.unwrap_or(0);
                if chars[i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&h| h == '#')
                    .count()
                    == hashes
                {
                    return i + 1 + hashes;
                }
                i += 1;
            }
            c => {
                *line += usize::from(c == '\n');
                i += 1;
            }
        }
    }
    i
}
