//! The documentation, run: every command example in `README.md`, `CONTRIBUTING.md`,
//! `docs/*.md` and `deploy/**/*.md` is run here exactly as written, or marked in the markdown as not runnable
//! here, with the reason. Three kinds of fenced block hold commands:
//!
//! - **Transcripts**: a block whose lines start with `$ ` (any info string). Each command runs
//!   in `sh` (standard error into standard output) and what it prints must equal the lines
//!   below it, compared by snapbox: a line `...` stands for any lines, `[..]` for the rest of
//!   a line or a part of it. All of them ask one `portsd serve` (plain DNS, HTTP, DoT and DoH on
//!   free ports, with the certificate the `internal-ca` recipe makes) and run the built
//!   `portsd`. `SNAPSHOTS=overwrite` writes what the programs print into the stale blocks
//!   instead of failing (blocks with wildcards other than a last `...` are left for a person).
//! - **Recipes**: a block after a comment `<!-- recipe: NAME -->`, run by the test named for
//!   NAME below, in a scratch directory.
//! - A block after `<!-- not run: REASON -->` is not run (a transcript is then not checked); the reason says why and what tests
//!   the same instead.
//!
//! The only changes made to a command before it runs are [`Substitutions`]: the documented
//! ports become the free ports of the servers under test, and for recipes that write to
//! `/etc`, `/run` or `/var/log`, those directories become the same paths under the scratch
//! directory. Each is printed as it is made.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use hickory_proto::rr::RecordType;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::common::{Daemon, query, udp_exchange};

mod markdown;

pub(crate) use markdown::Block;
use markdown::{Marker, blocks_of, documentation, every_block, steps};

/// The recipes the tests below run, by the name their marker gives.
/// (`systemd-tls` is run under a real systemd by `package.rs`.)
const RECIPES: [&str; 5] = [
    "internal-ca",
    "front-page",
    "dnstap",
    "secondaries-key",
    "systemd-tls",
];

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The blocks of the recipe `name`, in the order of the documentation; at least one.
pub(crate) fn recipe(name: &str) -> Vec<Block> {
    assert!(RECIPES.contains(&name), "{name} is not in RECIPES");
    let found: Vec<Block> = every_block()
        .into_iter()
        .filter(|block| block.marker == Marker::Recipe(name.to_owned()))
        .collect();
    assert!(
        !found.is_empty(),
        "no block is marked <!-- recipe: {name} -->"
    );
    found
}

#[test]
fn every_command_block_in_the_docs_is_run_or_marked_not_runnable() {
    let mut problems = Vec::new();
    for block in every_block() {
        match &block.marker {
            Marker::Recipe(name) if !RECIPES.contains(&name.as_str()) => {
                problems.push(format!(
                    "{}: no test runs the recipe {name:?}",
                    block.place()
                ));
            }
            Marker::Recipe(_) if block.is_transcript() => {
                problems.push(format!(
                    "{}: a transcript cannot also be a recipe",
                    block.place()
                ));
            }
            Marker::NotRun(reason) if reason.is_empty() => {
                problems.push(format!("{}: `not run` needs its reason", block.place()));
            }
            Marker::None if block.has_commands() && !block.is_transcript() => {
                problems.push(format!(
                    "{}: commands that no test runs: make it a transcript (`$ ` lines and their \
                     output), mark it <!-- recipe: NAME --> and run it in tests/binary/docs.rs, \
                     or mark it <!-- not run: REASON -->",
                    block.place()
                ))
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The ports and directories the documentation names, replaced by those of the test's
/// servers and scratch directory. A port is replaced only where no digit follows it.
#[derive(Default)]
pub(crate) struct Substitutions(Vec<(String, String)>);

impl Substitutions {
    fn add(&mut self, from: &str, to: impl Into<String>) {
        let to = to.into();
        eprintln!("docs: substituting `{from}` -> `{to}`");
        self.0.push((from.to_owned(), to));
    }

    fn ports(&mut self, documented: &str, port: u16) {
        // `@` and `#` are how kdig and dig print a server's port.
        for form in [
            "-p ",
            "127.0.0.1:",
            "ns1.example.net:",
            "127.0.0.1@",
            "127.0.0.1#",
        ] {
            self.add(&format!("{form}{documented}"), format!("{form}{port}"));
        }
    }

    fn apply(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.0 {
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(from.as_str()) {
                let after = &rest[at + from.len()..];
                out.push_str(&rest[..at]);
                if after.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push_str(from);
                } else {
                    out.push_str(to);
                }
                rest = after;
            }
            out.push_str(rest);
            text = out;
        }
        text
    }

    /// `text` with the substituted ports put back as documented: for comparing output that
    /// names them, and writing it back into the documentation.
    fn undo(&self, text: &str) -> String {
        self.0.iter().fold(text.to_owned(), |text, (from, to)| {
            text.replace(to.as_str(), from)
        })
    }
}

/// `sh -c SCRIPT` in `dir`, with the built `portsd` and the daemons of `/usr/sbin` on the
/// `PATH`; `-e` stops a recipe at its first failing command.
fn shell(script: &str, dir: &Path, stop_on_error: bool) -> Command {
    let binary = Path::new(env!("CARGO_BIN_EXE_portsd"));
    let path = format!(
        "{}:{}:/usr/sbin",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("sh");
    command
        .arg(if stop_on_error { "-ec" } else { "-c" })
        .arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1");
    command
}

/// Runs a recipe's block, failing with its output when a command fails, or with the program
/// to install when one is missing.
pub(crate) fn run_recipe_block(block: &Block, dir: &Path, substitutions: &Substitutions) -> String {
    let script = substitutions.apply(&block.text());
    eprintln!(
        "docs: running {} in {}:\n{script}",
        block.place(),
        dir.display()
    );
    let output = shell(&script, dir, true).output().unwrap();
    let printed = printed(&output);
    assert_no_missing_program(&printed, &block.place());
    assert!(
        output.status.success(),
        "{} failed ({}):\n{script}\n{printed}",
        block.place(),
        output.status
    );
    printed
}

fn printed(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Fails with one line naming the program when the shell could not find one.
fn assert_no_missing_program(printed: &str, place: &str) {
    if let Some(line) = printed.lines().find(|line| line.ends_with(": not found")) {
        let program = line
            .trim_end_matches(": not found")
            .rsplit(": ")
            .next()
            .unwrap_or(line);
        panic!("{place} needs `{program}`, which is not installed: run .ci/setup");
    }
}

/// The lines a stale step's expected output is replaced with when overwriting, or `None` when
/// its wildcards need a person: only a last `...` (the first lines shown, the rest left out)
/// is kept.
fn rewritten(expected: &[String], actual: &str) -> Option<Vec<String>> {
    let actual: Vec<String> = actual.lines().map(str::to_owned).collect();
    let shown = expected.iter().position(|line| line == "...");
    let wildcards = expected
        .iter()
        .filter(|line| *line == "..." || line.contains("[..]"));
    match (shown, wildcards.count()) {
        (None, 0) => Some(actual),
        (Some(n), 1) if n + 1 == expected.len() => {
            let mut kept: Vec<String> = actual.into_iter().take(n).collect();
            kept.push("...".to_owned());
            Some(kept)
        }
        _ => None,
    }
}

#[test]
fn the_transcripts_and_the_internal_ca_recipe_in_the_docs_are_what_the_programs_print() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    // The certificate the encrypted DNS examples are tried with, made as the docs say.
    for block in recipe("internal-ca") {
        run_recipe_block(&block, dir, &Substitutions::default());
    }
    // One server for every transcript: `portsd serve` with the defaults the docs assume, and
    // HTTP, DoT and DoH with that certificate, every address on a free port.
    let daemon = Daemon::start_command(
        Command::new(env!("CARGO_BIN_EXE_portsd"))
            .current_dir(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--tls", "127.0.0.1:0", "--https", "127.0.0.1:0"])
            .args(["--tls-cert", "fullchain.pem", "--tls-key", "privkey.pem"]),
    );
    let mut substitutions = Substitutions::default();
    substitutions.ports("5300", daemon.addr.port());
    substitutions.ports("8053", daemon.http_addr().port());
    substitutions.ports("853", daemon.dot_addr().port());
    substitutions.ports("443", daemon.logged_addr("https on https://").port());

    for block in recipe("front-page") {
        run_recipe_block(&block, dir, &substitutions);
    }

    let overwrite = std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite");
    let mut stale = Vec::new();
    for file in documentation() {
        let path = repository().join(&file);
        let text = fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // Replacements of expected output, as (first line, lines replaced, new lines), made
        // from the end of the file backwards so that earlier line numbers stay right.
        let mut replacements = Vec::new();
        // A transcript marked not run (its output depends on the host) is shown, not checked.
        let checked = |b: &&Block| b.is_transcript() && !matches!(b.marker, Marker::NotRun(_));
        for block in blocks_of(&file, &text).iter().filter(checked) {
            for step in steps(block) {
                let command = substitutions.apply(&step.command);
                eprintln!("docs: {}: $ {command}", block.place());
                let output = shell(&format!("exec 2>&1\n{command}"), dir, false)
                    .output()
                    .unwrap();
                let actual = printed(&output);
                let place = format!("{}:{}", block.file, block.line + 1 + step.at);
                assert_no_missing_program(&actual, &place);
                let expected = step
                    .expected
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect::<String>();
                // The output compared with the ports it names put back as documented.
                let actual = substitutions.undo(&actual);
                let checked = snapbox::Assert::new().normalize_paths(false).try_eq(
                    Some(&"what the command prints"),
                    actual.clone().into(),
                    expected.into(),
                );
                let Err(difference) = checked else {
                    continue;
                };
                match rewritten(&step.expected, &actual).filter(|_| overwrite) {
                    Some(new) => {
                        replacements.push((block.line + 1 + step.at, step.expected.len(), new))
                    }
                    None => stale.push(format!("{place}: $ {}\n{difference}", step.command)),
                }
            }
        }
        if !replacements.is_empty() {
            for (first, count, new) in replacements.into_iter().rev() {
                lines.splice(first..first + count, new);
            }
            fs::write(&path, lines.join("\n") + "\n").unwrap();
            eprintln!("docs: rewrote the stale transcripts of {file}");
        }
    }
    assert!(
        stale.is_empty(),
        "transcripts in the docs that the programs no longer print (SNAPSHOTS=overwrite \
         rewrites those without wildcards):\n\n{}",
        stale.join("\n")
    );
}

/// Starts a recipe block in `dir` in its own process group, with portsd's DNS on a free port
/// (`PORTSD_LISTEN`), and waits for portsd's "listening" line.
fn start_recipe_block(block: &Block, dir: &Path, substitutions: &Substitutions) -> Daemon {
    let script = substitutions.apply(&block.text());
    eprintln!(
        "docs: starting {} in {}:\n{script}",
        block.place(),
        dir.display()
    );
    let mut command = shell(&script, dir, true);
    command.env("PORTSD_LISTEN", "127.0.0.1:0").process_group(0);
    Daemon::try_start_command(&mut command, |_| {}).unwrap_or_else(|log| {
        let log = log.join("\n");
        assert_no_missing_program(&log, &block.place());
        panic!("{} did not start portsd:\n{log}", block.place())
    })
}

/// Substitutions that put `/etc`, `/run` and `/var/log` under `root`, with those directories
/// made there as a system has them (empty).
fn system_directories(root: &Path) -> Substitutions {
    let mut substitutions = Substitutions::default();
    for system in ["/etc/", "/run/", "/var/log/"] {
        let moved = format!("{}{system}", root.display());
        fs::create_dir_all(&moved).unwrap();
        substitutions.add(system, moved);
    }
    substitutions
}

#[test]
fn the_dnstap_recipe_runs_as_written_and_names_the_error_of_a_missing_directory() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let substitutions = system_directories(dir);
    let blocks = recipe("dnstap");
    let [collector_and_server, read] = &blocks[..] else {
        panic!("the dnstap recipe is two blocks: start, then read; found {blocks:?}");
    };

    // Without the directory fstrm_capture fails with the message the docs quote.
    let capture = collector_and_server
        .lines
        .iter()
        .find(|line| line.starts_with("fstrm_capture"))
        .expect("the recipe starts fstrm_capture");
    let alone = substitutions.apply(capture.trim_end_matches('&'));
    let failed = printed(&shell(&alone, dir, false).output().unwrap());
    assert_no_missing_program(&failed, &collector_and_server.place());
    let docs = fs::read_to_string(repository().join(&collector_and_server.file)).unwrap();
    let quoted = failed
        .lines()
        .find(|line| docs.contains(line.trim()) && !line.trim().is_empty());
    assert!(
        quoted.is_some(),
        "{}: fstrm_capture without its directory printed {failed:?}, which the docs do not quote",
        collector_and_server.place()
    );

    let mut running = start_recipe_block(collector_and_server, dir, &substitutions);
    let _group = Group(Pid::from_raw(running.child.id() as i32));
    let asked = udp_exchange(
        running.addr,
        &query(7, "443.tcp.ports.local", RecordType::TXT, None),
    );
    assert!(
        asked.is_some(),
        "portsd did not answer while logging to dnstap"
    );
    assert!(
        running.wait_for_log("dnstap: writing to"),
        "portsd never reached the collector"
    );
    // What Ctrl-C and then `kill %1` do in the terminal: portsd stopped first (it writes what
    // is queued and ends the stream), then the collector, which closes its file.
    let shell_pid = running.child.id();
    let portsd = child_named(shell_pid, "portsd").expect("the recipe runs portsd");
    kill(portsd, Signal::SIGINT).unwrap();
    until_gone(|| kill(portsd, None).is_ok(), "portsd after SIGINT");
    running.child.wait().unwrap();
    let group = Pid::from_raw(shell_pid as i32);
    killpg(group, Signal::SIGTERM).unwrap();
    until_gone(
        || killpg(group, None).is_ok(),
        "fstrm_capture after SIGTERM",
    );
    let read = run_recipe_block(read, dir, &substitutions);
    assert!(
        read.contains("AQ") && read.contains("AR") && read.contains("443.tcp.ports.local"),
        "dnstap-read shows the query and its response: {read}"
    );
}

/// A recipe's process group, killed whole when the test ends however it ends (the recipe's
/// shell is the `Daemon`'s child; the programs it started are not).
struct Group(Pid);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(self.0, Signal::SIGKILL);
    }
}

/// The child of `parent` whose command is `name` (from `/proc`).
fn child_named(parent: u32, name: &str) -> Option<Pid> {
    let children = fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    children
        .split_whitespace()
        .find(|pid| fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name))
        .and_then(|pid| pid.parse().ok())
        .map(Pid::from_raw)
}

/// Waits (at most 10 s) until `alive` is false: a process that was told to stop has ended.
fn until_gone(alive: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} is still running"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn the_secondaries_key_recipe_runs_as_written_and_every_server_reads_its_file() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let substitutions = system_directories(dir);
    // The directories the packages of portsd, NSD and Knot make.
    for package in ["portsd", "nsd", "knot"] {
        fs::create_dir_all(dir.join("etc").join(package)).unwrap();
    }
    for block in recipe("secondaries-key") {
        run_recipe_block(&block, dir, &substitutions);
    }
    let key = dir.join("etc/portsd/portsd-transfer.key");
    let bind = fs::read_to_string(&key).unwrap();
    let secret = bind
        .split('"')
        .nth(3)
        .unwrap_or_else(|| panic!("no secret in {bind}"));
    for converted in [
        "etc/nsd/portsd-transfer.key",
        "etc/knot/portsd-transfer.key",
    ] {
        let text = fs::read_to_string(dir.join(converted)).unwrap();
        assert!(
            text.contains("portsd-transfer") && text.contains(secret),
            "{converted}: {text}"
        );
    }
    // portsd reads BIND's file as it is; NSD reads its own.
    let daemon = Daemon::start(&["--tsig-key", key.to_str().unwrap()]);
    drop(daemon);
    let nsd_conf = dir.join("nsd.conf");
    fs::write(
        &nsd_conf,
        format!(
            "include: \"{}\"\n",
            dir.join("etc/nsd/portsd-transfer.key").display()
        ),
    )
    .unwrap();
    let checked = shell(&format!("nsd-checkconf {}", nsd_conf.display()), dir, false)
        .output()
        .unwrap();
    assert_no_missing_program(&printed(&checked), "nsd-checkconf");
    assert!(
        checked.status.success(),
        "nsd-checkconf: {}",
        printed(&checked)
    );
}

#[test]
fn substitutions_replace_whole_ports_and_overwriting_keeps_a_last_ellipsis() {
    let mut substitutions = Substitutions::default();
    substitutions.ports("443", 40443);
    assert_eq!(
        substitutions.apply("dig -p 443 443.tcp -p 4430 https://ns1.example.net:443/"),
        "dig -p 40443 443.tcp -p 4430 https://ns1.example.net:40443/"
    );
    let shown = ["a".to_owned(), "...".to_owned()];
    assert_eq!(
        rewritten(&shown, "x\ny\nz\n"),
        Some(vec!["x".to_owned(), "...".to_owned()])
    );
    assert_eq!(rewritten(&["id: [..]".to_owned()], "id: 4\n"), None);
}
