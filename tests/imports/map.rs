//! `docs/ARCHITECTURE.md` held against the tree, so its code map cannot drift: every path it
//! names in backticks exists, every item it names in backticks is declared somewhere under
//! `src/`, and its code map has one line for every module of `src/`.
//!
//! What is read as what, in backticks:
//! - a path: starts with one of the repository's folders (`src/`, `tests/`, ...) or is a bare
//!   file name ending `.rs` (which must be the name of a file at the top, or under `src/`,
//!   `tests/`, `benches/` or `fuzz/`);
//! - an item: a path with `::` (`Pipeline::handle`, `core::answer::answer`), each segment
//!   declared under `src/` (`fn`, `struct`, `enum`, `trait`, `type`, `const`, `static`, `mod`,
//!   or an enum variant), unless its first segment is a dependency of `Cargo.toml` or `std`;
//!   or one CamelCase word (`Snapshot`) or snake_case name with a `_` (`write_zone`), declared
//!   under `src/`.
//!
//! Anything else in backticks (flags, variables, file contents) is prose.
//!
//! The code map is the section `## Code map`: each of its lines `- \`src/...\`` is one
//! module, a folder (`src/core/`) standing for its `mod.rs`. A module's `tests.rs` is left out.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The repository's top-level folders whose paths the document may name.
const FOLDERS: [&str; 8] = [
    "src/", "tests/", "fuzz/", "benches/", "deploy/", "data/", "docs/", ".ci/",
];

#[test]
fn the_architecture_document_names_what_exists_and_maps_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let problems = check(root, &text);
    assert!(
        problems.is_empty(),
        "docs/ARCHITECTURE.md disagrees with the tree (fix the document, or the code):\n{}",
        problems.join("\n")
    );
}

/// Every disagreement between the document `text` and the tree at `root`, one line each.
fn check(root: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let declared = declared_names(&root.join("src"));
    let dependencies = dependencies(&fs::read_to_string(root.join("Cargo.toml")).unwrap());
    let top_level = fs::read_dir(root).into_iter().flatten().flatten();
    let file_names: BTreeSet<String> = ["src", "tests", "benches", "fuzz"]
        .iter()
        .flat_map(|dir| files_under(&root.join(dir)))
        .chain(top_level.map(|entry| entry.path()))
        .filter_map(|path| Some(path.file_name()?.to_str()?.to_owned()))
        .collect();
    for (line, token) in backticked(text) {
        let token = token.trim_end_matches("()");
        if FOLDERS.iter().any(|folder| token.starts_with(folder)) {
            if !root.join(token).exists() {
                problems.push(format!("line {line}: `{token}` does not exist"));
            }
        } else if token.ends_with(".rs") && !token.contains('/') {
            if !file_names.contains(token) {
                problems.push(format!("line {line}: no file is named `{token}`"));
            }
        } else if token.contains("::") && token.split("::").all(is_identifier) {
            let mut segments = token.split("::");
            let first = segments.next().unwrap_or_default();
            if first == "std" || dependencies.contains(first) {
                continue;
            }
            for segment in std::iter::once(first).chain(segments) {
                if !declared.contains(segment) {
                    problems.push(format!(
                        "line {line}: `{segment}` of `{token}` is declared nowhere in src/"
                    ));
                }
            }
        } else if (is_camel_case(token) || is_snake_case(token)) && !declared.contains(token) {
            problems.push(format!(
                "line {line}: `{token}` is declared nowhere in src/"
            ));
        }
    }
    let mapped = code_map(text);
    let mut seen = BTreeSet::new();
    for (line, module) in &mapped {
        if !seen.insert(module.clone()) {
            problems.push(format!(
                "line {line}: `{module}` has a second line in the code map"
            ));
        }
    }
    for module in modules(root) {
        if !seen.contains(&module) {
            problems.push(format!("`{module}` is missing from the code map"));
        }
    }
    problems
}

/// Each backticked span outside fenced blocks, with its line number.
fn backticked(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            found.push((n + 1, inside.to_owned()));
        }
    }
    found
}

/// The modules the code map lists: the first backticked `src/` path of each `- ` line in the
/// section `## Code map`.
fn code_map(text: &str) -> Vec<(usize, String)> {
    let mut inside = false;
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(title) = line.strip_prefix("## ") {
            inside = title == "Code map";
        } else if inside
            && let Some(rest) = line.strip_prefix("- `")
            && let Some((path, _)) = rest.split_once('`')
            && path.starts_with("src/")
        {
            found.push((n + 1, path.to_owned()));
        }
    }
    found
}

/// Every module of `src/` as the code map names it: `src/a/b.rs`, or `src/a/` for
/// `src/a/mod.rs`; `tests.rs` files left out.
fn modules(root: &Path) -> BTreeSet<String> {
    files_under(&root.join("src"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter_map(|path| {
            let relative = path.strip_prefix(root).ok()?.to_str()?.to_owned();
            match relative.rsplit_once('/')? {
                (_, "tests.rs") => None,
                (folder, "mod.rs") => Some(format!("{folder}/")),
                _ => Some(relative),
            }
        })
        .collect()
}

/// The names declared by the Rust files under `dir`: after `fn`, `struct`, `enum`, `trait`,
/// `type`, `const`, `static` or `mod`, and enum variants (a line that starts with a
/// capitalised name followed by `(`, `{`, `,` or `=`).
fn declared_names(dir: &Path) -> BTreeSet<String> {
    const KEYWORDS: [&str; 8] = [
        "fn", "struct", "enum", "trait", "type", "const", "static", "mod",
    ];
    let mut names = BTreeSet::new();
    for path in files_under(dir) {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let words: Vec<&str> = line
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            for pair in words.windows(2) {
                if KEYWORDS.contains(&pair[0]) {
                    names.insert(pair[1].to_owned());
                }
            }
            let trimmed = line.trim_start();
            let name: String = trimmed
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = trimmed[name.len()..].trim_start();
            if name.starts_with(|c: char| c.is_ascii_uppercase())
                && after.starts_with(['(', '{', ',', '='])
            {
                names.insert(name);
            }
        }
    }
    names
}

/// The dependency names of a `Cargo.toml`, as Rust spells them (`-` as `_`).
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            inside = line.contains("dependencies]");
        } else if inside && let Some((name, _)) = line.split_once('=') {
            names.insert(name.trim().replace('-', "_"));
        }
    }
    names
}

/// Every file under `dir`, recursively (nothing when it does not exist).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn is_identifier(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One word in CamelCase: a capital, then lower-case letters or digits somewhere, no `_`.
fn is_camel_case(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word.chars().all(|c| c.is_ascii_alphanumeric())
        && word.chars().any(|c| c.is_ascii_lowercase())
}

/// A name in snake_case with at least one `_` (`write_zone`): a function, not a word of prose.
fn is_snake_case(word: &str) -> bool {
    word.contains('_')
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn the_map_check_finds_a_missing_path_an_unknown_item_and_an_unmapped_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = "## Code map\n\n- `src/lib.rs`: x\n- `src/lib.rs`: again\n\n## Invariants\n\n\
        `src/core/nowhere.rs`, `NoSuchType`, `Pipeline::no_such_fn`, `tokio_util::Anything`, `Pipeline`, \
        `no_such_function`\n";
    let problems = check(root, text).join("\n");
    assert!(
        problems.contains("`src/core/nowhere.rs` does not exist"),
        "{problems}"
    );
    assert!(
        problems.contains("`NoSuchType` is declared nowhere"),
        "{problems}"
    );
    assert!(
        problems.contains("`no_such_fn` of `Pipeline::no_such_fn`"),
        "{problems}"
    );
    assert!(
        problems.contains("`src/lib.rs` has a second line"),
        "{problems}"
    );
    assert!(
        problems.contains("`src/main.rs` is missing from the code map"),
        "{problems}"
    );
    assert!(
        problems.contains("`no_such_function` is declared nowhere"),
        "{problems}"
    );
    assert!(!problems.contains("tokio_util"), "{problems}");
    assert!(!problems.contains("`Pipeline` is"), "{problems}");
}
