//! The documentation's fenced blocks as `tests/binary/docs.rs` reads them: where each is, its
//! info string, the marker comment before it (`<!-- recipe: NAME -->`, `<!-- not run: REASON
//! -->`), and a transcript's commands with the lines each must print.

use std::fs;
use std::path::{Path, PathBuf};

use super::repository;

/// A fenced block of a markdown file.
#[derive(Debug)]
pub(crate) struct Block {
    /// The file, relative to the repository.
    pub(crate) file: String,
    /// The line of the opening fence (1-based).
    pub(crate) line: usize,
    pub(crate) info: String,
    pub(crate) marker: Marker,
    /// The lines between the fences, with the indentation of the opening fence removed.
    pub(crate) lines: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Marker {
    None,
    Recipe(String),
    NotRun(String),
}

impl Block {
    pub(crate) fn is_transcript(&self) -> bool {
        self.lines.iter().any(|line| line.starts_with("$ "))
    }

    /// Whether the block holds commands: a transcript, or a block of shell.
    pub(crate) fn has_commands(&self) -> bool {
        self.is_transcript() || matches!(self.info.as_str(), "sh" | "bash" | "shell" | "console")
    }

    pub(crate) fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    pub(crate) fn text(&self) -> String {
        self.lines.iter().map(|line| format!("{line}\n")).collect()
    }
}

/// The documentation files whose examples are run: `README.md`, `CONTRIBUTING.md`, `docs/*.md`,
/// `deploy/**/*.md`.
pub(crate) fn documentation() -> Vec<String> {
    fn markdown_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                markdown_under(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut paths = vec![
        repository().join("README.md"),
        repository().join("CONTRIBUTING.md"),
    ];
    markdown_under(&repository().join("docs"), &mut paths);
    markdown_under(&repository().join("deploy"), &mut paths);
    let mut files: Vec<String> = paths
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(repository()).unwrap();
            relative.to_str().unwrap().to_owned()
        })
        .collect();
    files.sort();
    files
}

/// The fenced blocks of `text` (the file `file`), each with the marker comment on the nearest
/// non-blank line before it, if that line is one.
pub(crate) fn blocks_of(file: &str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut indent = 0;
    let mut before = "";
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(block) = open.as_mut() {
            if trimmed.starts_with("```") {
                blocks.push(open.take().unwrap());
            } else {
                let cut = line.len() - line.trim_start().len();
                block.lines.push(line[cut.min(indent)..].to_owned());
            }
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            indent = line.len() - trimmed.len();
            open = Some(Block {
                file: file.to_owned(),
                line: n + 1,
                info: info.trim().to_owned(),
                marker: marker(before),
                lines: Vec::new(),
            });
        } else if !trimmed.is_empty() {
            before = trimmed;
        }
    }
    blocks
}

fn marker(line: &str) -> Marker {
    let Some(inside) = line
        .strip_prefix("<!--")
        .and_then(|rest| rest.strip_suffix("-->"))
        .map(str::trim)
    else {
        return Marker::None;
    };
    if let Some(name) = inside.strip_prefix("recipe:") {
        Marker::Recipe(name.trim().to_owned())
    } else if let Some(reason) = inside.strip_prefix("not run:") {
        Marker::NotRun(reason.trim().to_owned())
    } else {
        Marker::None
    }
}

pub(crate) fn every_block() -> Vec<Block> {
    documentation()
        .iter()
        .flat_map(|file| blocks_of(file, &fs::read_to_string(repository().join(file)).unwrap()))
        .collect()
}

/// One command of a transcript and the lines it must print.
pub(crate) struct Step {
    pub(crate) command: String,
    pub(crate) expected: Vec<String>,
    /// The index of the command's line in the block.
    pub(crate) at: usize,
}

pub(crate) fn steps(block: &Block) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for (at, line) in block.lines.iter().enumerate() {
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                expected: Vec::new(),
                at,
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.clone());
        }
    }
    steps
}

#[test]
fn the_docs_reader_finds_markers_indented_blocks_and_transcripts() {
    let text = "intro\n\n<!-- recipe: dnstap -->\n\n```sh\nmkdir x\n```\n\n- item:\n\n  ```ini\n  [A]\n  ```\n\
        \n<!-- not run: needs root -->\n```sh\nsudo x\n```\n```text\n$ portsd lookup 1\nout\n$ b\n```\n";
    let blocks = blocks_of("f.md", text);
    assert_eq!(blocks.len(), 4);
    assert_eq!(blocks[0].marker, Marker::Recipe("dnstap".to_owned()));
    assert_eq!(
        (blocks[0].line, blocks[0].text().as_str()),
        (5, "mkdir x\n")
    );
    assert_eq!(
        (blocks[1].info.as_str(), blocks[1].lines[0].as_str()),
        ("ini", "[A]")
    );
    assert!(!blocks[1].has_commands());
    assert_eq!(blocks[2].marker, Marker::NotRun("needs root".to_owned()));
    assert!(blocks[3].is_transcript());
    let steps = steps(&blocks[3]);
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (steps[0].command.as_str(), steps[0].expected.len()),
        ("portsd lookup 1", 1)
    );
}
