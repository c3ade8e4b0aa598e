//! The source files under `src/` use one another without circles: a layer can be read, tested
//! and changed knowing only the files below it.
//!
//! What counts as file A using file B: A names B's module, or an item in it, by a path: in a
//! `use` (re-exports included) or in code, starting `crate::`, `super::`, `self::`, or with the
//! name of one of A's own child modules (`fast::parse_query` in `pipeline/mod.rs`). A path
//! belongs to the deepest module on it that is a file, so `answer::rtype::TXT` is a use of
//! `answer.rs`. A parent's `mod child;` declares the child and uses nothing. A child naming its
//! parent's items uses the parent; a parent naming its child's items uses the child; the two
//! together are a circle like any other. Inline modules, test modules included, count as part of
//! their file. Comments, string literals and `src/main.rs` (a crate of its own, which reaches
//! the library only as `portsd::`) are not read. This reads the text (`paths.rs`), not the
//! compiler's name resolution: a glob import counts as a use of the module it imports from,
//! and a name it brings in is not followed further.
//!
//! `map` holds `docs/ARCHITECTURE.md` against the same tree; and no file is over 500 lines.

mod map;
mod paths;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use paths::paths;

#[test]
fn the_source_files_use_each_other_without_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).unwrap();
        if let Some(module) = module_of(relative) {
            let text = fs::read_to_string(&path).unwrap();
            files.push((format!("src/{}", relative.display()), module, text));
        }
    }
    let uses = uses(&files);
    let report = circles(&files, &uses);
    assert!(report.is_empty(), "import circles between files:\n{report}");
}

/// No file under `src/` is longer than a reader can hold at once: 500 lines, tests included
/// (issue 34's "rooms that fit"). A file that grows past it is split along its seams.
#[test]
fn no_source_file_is_over_500_lines() {
    const MOST: usize = 500;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter_map(|path| {
            let lines = fs::read_to_string(&path).unwrap().lines().count();
            (lines > MOST).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "over {MOST} lines: {long:?}");
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The module a file under `src/` is (`core/answer.rs`: `core::answer`, `lib.rs`: the crate
/// root); `None` for the binary's root.
fn module_of(relative: &Path) -> Option<Vec<String>> {
    if relative == Path::new("main.rs") {
        return None;
    }
    let mut module: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if module == ["lib"] || module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    Some(module)
}

/// For each of `files` (name, module, text), the files it uses, each with where: `(line,
/// path)` pairs.
fn uses(files: &[(String, Vec<String>, String)]) -> Vec<BTreeMap<usize, Vec<(usize, String)>>> {
    let modules: BTreeMap<&[String], usize> = files
        .iter()
        .enumerate()
        .map(|(index, (_, module, _))| (module.as_slice(), index))
        .collect();
    let mut uses: Vec<BTreeMap<usize, Vec<(usize, String)>>> = vec![BTreeMap::new(); files.len()];
    for (from, (_, module, text)) in files.iter().enumerate() {
        for (line, path, here) in paths(text) {
            let mut scope = module.clone();
            scope.extend(here);
            if let Some(to) = resolve(&path, module, &scope, &modules)
                && to != from
            {
                uses[from]
                    .entry(to)
                    .or_default()
                    .push((line, path.join("::")));
            }
        }
    }
    uses
}

/// A description of every circle among `files` given what each uses, empty when there is
/// none.
fn circles(
    files: &[(String, Vec<String>, String)],
    uses: &[BTreeMap<usize, Vec<(usize, String)>>],
) -> String {
    let mut report = String::new();
    let mut seen = BTreeSet::new();
    for start in 0..files.len() {
        if seen.contains(&start) {
            continue;
        }
        let Some(circle) = shortest_circle(start, uses) else {
            continue;
        };
        // One report for each group of files that reach one another.
        let group: BTreeSet<usize> = (0..files.len())
            .filter(|&other| reaches(start, other, uses) && reaches(other, start, uses))
            .collect();
        let names: Vec<&str> = group.iter().map(|&i| files[i].0.as_str()).collect();
        writeln!(report, "files in a circle: {}", names.join(", ")).unwrap();
        for pair in circle.windows(2) {
            let (line, path) = &uses[pair[0]][&pair[1]][0];
            writeln!(
                report,
                "  {} -> {} ({}:{line} names {path})",
                files[pair[0]].0, files[pair[1]].0, files[pair[0]].0,
            )
            .unwrap();
        }
        seen.extend(group);
    }
    report
}

/// The file a path names, if it is one of `modules`: `file` is the module of the file the
/// path is in, `scope` the module the path sits in (the file's, or an inline one inside it).
fn resolve(
    path: &[String],
    file: &[String],
    scope: &[String],
    modules: &BTreeMap<&[String], usize>,
) -> Option<usize> {
    let (first, rest) = path.split_first()?;
    let mut full: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => scope.to_vec(),
        "super" => scope[..scope.len().checked_sub(1)?].to_vec(),
        child => {
            let mut module = file.to_vec();
            module.push(child.to_owned());
            if !modules.contains_key(module.as_slice()) {
                return None;
            }
            file.to_vec()
        }
    };
    let mut rest = match first.as_str() {
        "crate" | "self" | "super" => rest,
        _ => path,
    };
    while let Some(("super", after)) = rest.split_first().map(|(s, a)| (s.as_str(), a)) {
        full.pop()?;
        rest = after;
    }
    full.extend(rest.iter().filter(|s| *s != "self").cloned());
    (0..=full.len())
        .rev()
        .find_map(|len| modules.get(&full[..len]).copied())
}

/// The shortest chain of uses from `start` back to itself, if there is one.
fn shortest_circle(
    start: usize,
    uses: &[BTreeMap<usize, Vec<(usize, String)>>],
) -> Option<Vec<usize>> {
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(file) = queue.pop_front() {
        for &next in uses[file].keys() {
            if next == start {
                let mut chain = vec![start, file];
                let mut at = file;
                while at != start {
                    at = came_from[&at];
                    chain.push(at);
                }
                chain.reverse();
                return Some(chain);
            }
            if let std::collections::btree_map::Entry::Vacant(slot) = came_from.entry(next) {
                slot.insert(file);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Whether a chain of uses leads from `from` to `to`.
fn reaches(from: usize, to: usize, uses: &[BTreeMap<usize, Vec<(usize, String)>>]) -> bool {
    let mut seen = BTreeSet::from([from]);
    let mut stack = vec![from];
    while let Some(file) = stack.pop() {
        if file == to {
            return true;
        }
        for &next in uses[file].keys() {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    false
}

/// The files of a small crate, named by module path (`a::b` is `src/a/b.rs`).
fn crate_of(files: &[(&str, &str)]) -> Vec<(String, Vec<String>, String)> {
    files
        .iter()
        .map(|(module, text)| {
            let module: Vec<String> = module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (
                format!("{}.rs", module.join("/")),
                module,
                (*text).to_owned(),
            )
        })
        .collect()
}

/// The circles among `files`.
fn report_of(files: &[(String, Vec<String>, String)]) -> String {
    circles(files, &uses(files))
}

#[test]
fn two_files_naming_each_other_are_a_circle() {
    let report = report_of(&crate_of(&[
        ("", "pub mod core;"),
        ("core", "pub mod answer;\npub mod serial;"),
        (
            "core::answer",
            "use crate::core::serial::Fingerprint;\npub struct Zone;",
        ),
        (
            "core::serial",
            "fn f(z: &crate::core::answer::Zone) {}\npub struct Fingerprint;",
        ),
    ]));
    assert_eq!(
        report,
        "files in a circle: core/answer.rs, core/serial.rs\n  \
         core/answer.rs -> core/serial.rs (core/answer.rs:1 names crate::core::serial::Fingerprint)\n  \
         core/serial.rs -> core/answer.rs (core/serial.rs:1 names crate::core::answer::Zone)\n"
    );
}

#[test]
fn a_parent_and_a_child_naming_each_other_are_a_circle() {
    let report = report_of(&crate_of(&[
        ("", "pub mod pipeline;"),
        (
            "pipeline",
            "mod fast;\nuse fast::parse;\npub struct Transport;",
        ),
        ("pipeline::fast", "use super::{Transport, other};"),
    ]));
    assert!(
        report.starts_with("files in a circle: pipeline.rs, pipeline/fast.rs\n"),
        "{report}"
    );
    let report = report_of(&crate_of(&[
        ("", "pub mod pipeline;"),
        (
            "pipeline",
            "mod fast;\npub(crate) fn respond() { fast::answer() }",
        ),
        ("pipeline::fast", "fn f() { self::super::Transport }"),
    ]));
    assert!(!report.is_empty(), "a child module's name in code is a use");
}

#[test]
fn declarations_comments_strings_and_one_way_uses_are_no_circle() {
    let report = report_of(&crate_of(&[
        ("", "pub mod core;\npub mod metrics;"),
        (
            "core",
            "//! Uses [`crate::metrics`] in a doc only.\npub mod zone;\npub mod answer { pub mod rtype {} }",
        ),
        (
            "core::zone",
            "/* crate::metrics::M */ const S: &str = \"crate::metrics::M\";\nconst R: &str = r#\"crate::metrics\"#; const C: char = '\"';",
        ),
        (
            "metrics",
            "use crate::core::{zone::{self, Zone as Z}, answer::rtype::TXT};\n#[cfg(test)]\nmod tests { use super::*; fn f<'a>(x: &'a str) -> crate::core::zone::Zone {} }",
        ),
    ]));
    assert_eq!(report, "");
}
