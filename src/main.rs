//! The `portsd` binary: parses the command line, sets up logging, and hands over to the library.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use portsd::config::{Cli, Command, ZoneArgs};
use portsd::core::present;
use portsd::core::table::Table;
use portsd::core::zone::Snapshot;
use portsd::serve::watch::DataWatcher;
use portsd::serve::{DataSource, Listeners, Server};
use portsd::sources;
use portsd::update::{self, UpdateOutcome};
use portsd::{explain, manual};

fn main() -> ExitCode {
    let cli = match portsd::config::parse() {
        Ok(cli) => cli,
        // --help, --version and a bare `portsd` print clap's full text as usual.
        Err(error)
            if !error.use_stderr()
                || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            error.exit()
        }
        Err(error) => {
            eprintln!("portsd: {} (try --help)", one_line(&error));
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("portsd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// clap's message for a bad command line on one line: the usage, tips and help pointer that
/// follow it are left out. A flag of one value given twice says so and what to do.
fn one_line(error: &clap::Error) -> String {
    if let Some(flag) = given_twice(error) {
        return format!("{flag} is given twice: give it once, with the value you mean");
    }
    let rendered = error.render().to_string();
    let message = rendered.split("\nUsage:").next().unwrap_or_default();
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty() && !line.starts_with("tip:") && !line.starts_with("For more")
        })
        .collect();
    lines.join(" ").trim_start_matches("error: ").to_owned()
}

/// The flag (`--ttl <TTL>`) of a conflict that is a flag taking one value given more than once:
/// clap reports it as a conflict of the flag with itself.
fn given_twice(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    if error.kind() != ErrorKind::ArgumentConflict {
        return None;
    }
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let prior = match error.get(ContextKind::PriorArg) {
        Some(ContextValue::String(prior)) => std::slice::from_ref(prior),
        Some(ContextValue::Strings(prior)) => prior.as_slice(),
        _ => return None,
    };
    (prior == std::slice::from_ref(flag)).then(|| flag.clone())
}

/// The table `source` makes, or the data's problems as the error.
fn load(source: &DataSource) -> anyhow::Result<Table> {
    source.table().map_err(bad_data)
}

/// The error for data that did not load: one line for one problem, one line per problem
/// otherwise.
fn bad_data(errors: sources::DataErrors) -> anyhow::Error {
    match &errors.0[..] {
        [one] => anyhow::anyhow!("bad data: {one}"),
        _ => anyhow::anyhow!("bad data:\n{errors}"),
    }
}

/// Writes to standard output through `write`; a reader that stops early (`| head`) is not an
/// error: the command ends quietly, as other Unix tools do.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints uses as text lines or, with `--json`, as the documented JSON array.
fn print_uses(views: &[present::UseView], json: bool) -> anyhow::Result<()> {
    to_stdout(|out| {
        if json {
            writeln!(out, "{}", present::to_json(views))
        } else {
            views
                .iter()
                .try_for_each(|view| writeln!(out, "{}", view.text))
        }
    })
}

/// The snapshot `lookup` and `search` answer from: the default zone over the given data.
fn offline_snapshot(args: &portsd::config::DataArgs) -> anyhow::Result<Snapshot> {
    let (zone, _) = ZoneArgs::default().resolve_one(&[])?;
    Ok(Snapshot::new(load(&args.resolve())?, 0, &zone))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let config = args.0.resolve()?;
            // Watching starts before the first load so that no change can slip in between.
            let watcher = config.watch.as_deref().map(DataWatcher::new).transpose()?;
            let table = (config.settings.data.first_table()).map_err(bad_data)?;
            let mut listeners = match Listeners::from_service_manager(config.udp_threads)? {
                Some(listeners) => listeners,
                None => {
                    let mut listeners = Listeners::bind(&config.listen, config.udp_threads)?;
                    listeners.bind_tls(&config.tls_listen)?;
                    listeners
                }
            };
            for &addr in &config.http {
                listeners.bind_http(addr)?;
            }
            for &addr in &config.https {
                listeners.bind_https(addr)?;
            }
            if let Some(addr) = config.metrics {
                listeners.bind_metrics(addr)?;
            }
            let server = Server::new(config.zones, table, config.settings);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            runtime.block_on(server.run_until_signalled(listeners, watcher))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lookup { query, data, json } => {
            let (zone, _) = ZoneArgs::default().resolve_one(&[])?;
            let snapshot = offline_snapshot(&data)?;
            let views = match present::lookup(&zone, &snapshot, &query) {
                Err(present::LookupError::NotFound(name)) => anyhow::bail!(
                    "no service named {name:?}; to search names and descriptions for it: \
                     portsd search {name}"
                ),
                found => found?,
            };
            print_uses(&views, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { words, data, json } => {
            let snapshot = offline_snapshot(&data)?;
            print_uses(&present::search(&snapshot, &words)?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { input, data, json } => {
            let (zone, _) = ZoneArgs::default().resolve_one(&[])?;
            let snapshot = offline_snapshot(&data)?;
            let text = match input {
                Some(_) => {
                    let mut text = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut text)
                        .context("cannot read standard input")?;
                    explain::annotate(&zone, &snapshot, &text, json)
                }
                None => explain::host(&zone, &snapshot, std::path::Path::new("/proc"), json)
                    .context("cannot read the socket tables in /proc/net")?
                    .into_bytes(),
            };
            to_stdout(|out| out.write_all(&text))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ExportZone(args) => {
            let (zone, data) = args.resolve_one(&[])?;
            let table = load(&data)?;
            // The serial `serve` would answer on this data: with `--state-dir`, the one it
            // records (read, never written here).
            let served = args.state().and_then(|s| s.served_for(&zone));
            let (serial, _) = portsd::core::serial::serial_of(&zone, &table, served);
            let snapshot = Snapshot::new(table, serial, &zone).with_digest(&zone);
            to_stdout(|mut out| present::write_zone(&zone, &snapshot, &mut out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => {
            match args.resolve().load() {
                Ok(loaded) => {
                    let (rows, skipped) = (loaded.rows_per_source.clone(), loaded.other_protocols);
                    // Built as `serve` builds it, so that the data's identity is the one served.
                    let report = sources::check_report(&rows, skipped, &loaded.into_table());
                    to_stdout(|out| out.write_all(report.as_bytes()))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => Err(bad_data(errors)),
            }
        }
        Command::ConvertWikipedia { file } => {
            let markdown = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let tsv = sources::convert_markdown(&file.display().to_string(), &markdown)
                .map_err(|errors| anyhow::anyhow!("{errors}"))?;
            to_stdout(|out| out.write_all(tsv.as_bytes()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::UpdateData(args) => {
            let timeout = std::time::Duration::from_secs(args.timeout);
            match update::update_registry(&args.dir, &args.url, timeout) {
                Ok(UpdateOutcome::Replaced(changes)) => println!(
                    "updated {}: {} added, {} removed, {} changed ({} records)",
                    args.dir.join(sources::IANA_CSV).display(),
                    changes.added,
                    changes.removed,
                    changes.changed,
                    changes.records
                ),
                Ok(UpdateOutcome::AlreadyCurrent { records }) => println!(
                    "{} is current ({records} records)",
                    args.dir.join(sources::IANA_CSV).display()
                ),
                Err(error) => {
                    eprintln!("portsd: {error}; the old registry is kept");
                    return Ok(ExitCode::from(error.exit_code()));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SeedData { dir, from } => {
            for link in update::seed_data(&dir, &from)? {
                println!("linked {}", link.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            let pages = manual::write_man_pages(&dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            for page in pages {
                println!("{}", page.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            to_stdout(|mut out| manual::write_completions(shell, &mut out))
                .context("cannot write the completion script")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
