//! The entry points the cargo-fuzz targets in `fuzz/` drive, one function per target, each
//! taking the fuzzer's raw bytes: the request pipeline with the default policy
//! ([`answer_bytes`]) and with keys, transfers and a cookie secret ([`Guarded`]), and every
//! reader of a file that comes from outside (the IANA registry, the port list and `local.tsv`,
//! the services database, TSIG key files, the configuration file). Besides "no panic", each
//! checks what holds for every input: the fast path agrees with the general path, and a file's
//! problems name that file and a line it has, and hickory (the oracle) reads every response
//! and every transfer message sent.
//!
//! The readers stay crate-private; this module is the one door the fuzz crate (and the corpus
//! replay in `tests/server/fuzz_corpus.rs`) goes through.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use crate::config::ZoneArgs;
use crate::core::table::Table;
use crate::file_error::FileError;
use crate::metrics::Metrics;
use crate::pipeline::cookie::CookieSecrets;
use crate::pipeline::tsig::{self, Key, Keyring};
use crate::pipeline::{Outcome, Pipeline, Policy};
use crate::sources::{frequencies, iana, local, port_list, services, synonyms};
use crate::transport::Transport;

/// The name every fuzzed file is read under; problems must name it.
const FILE: &str = "fuzzed";

/// The address fuzzed requests come from (inside the guarded pipeline's transfer ACL).
const CLIENT: ([u8; 4], u16) = ([192, 0, 2, 1], 5353);

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    let (zone, data) = ZoneArgs::default()
        .resolve_one(&[])
        .expect("the default zone is valid");
    let table = Table::new(
        data.location
            .load()
            .expect("the built-in data loads")
            .entries,
    );
    Pipeline::new(zone, table, 1, Policy::default(), Arc::new(Metrics::new()))
});

/// Runs one raw DNS message through the pipeline over UDP and TCP and checks that the fast
/// path, when it answers, agrees with the general path byte for byte, and that hickory reads
/// whatever is sent.
pub fn answer_bytes(request: &[u8]) {
    run_both_transports(&PIPELINE, request);
}

fn run_both_transports(pipeline: &Pipeline, request: &[u8]) {
    let client: SocketAddr = CLIENT.into();
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut fast = Vec::new();
        if pipeline.fast_response(request, transport, &mut fast) {
            let general = pipeline.general_response(request, client, transport);
            assert_eq!(
                Some(fast),
                general,
                "fast and general paths disagree on {transport:?}"
            );
        }
        match pipeline.handle(request, client, transport, Instant::now(), &mut out) {
            Outcome::Reply => parses(&out, transport),
            Outcome::Transfer(mut transfer) => {
                while transfer.next_message(&mut out) {
                    parses(&out, transport);
                }
            }
            Outcome::Silence => {}
        }
    }
}

/// Asserts that hickory, the oracle, reads `response` (one message portsd would send).
fn parses(response: &[u8], transport: Transport) {
    if let Err(error) = hickory_proto::op::Message::from_vec(response) {
        panic!(
            "hickory cannot read the response sent over {transport:?} ({error}): {response:02x?}"
        );
    }
}

/// The request pipeline with every door open that the default policy keeps shut: the TSIG keys
/// of a key file, zone transfers allowed to the fuzzer's client (signed, since keys exist), a
/// fixed cookie secret (so seeds can carry valid server cookies), and a journal holding one
/// difference (so IXFR has a chain to send). The table is a few hundred entries, so a whole
/// transfer costs microseconds.
pub struct Guarded {
    pipeline: Pipeline,
    key: Arc<Key>,
}

impl Guarded {
    /// Builds the pipeline from `tsig.key` (in `tsig-keygen`'s form; its first key signs) and
    /// `cookie-secret` (32 hex digits) in `dir`, the files `fuzz/make_seeds.py` writes.
    ///
    /// # Errors
    ///
    /// A file that is missing or unusable, as one line.
    pub fn load(dir: &Path) -> Result<Guarded, String> {
        let keys = tsig::read_key_file(&dir.join("tsig.key")).map_err(|e| e.to_string())?;
        let keys = Keyring::new(keys)?;
        let key = keys.first().ok_or("tsig.key holds no key")?;
        let secret_file = dir.join("cookie-secret");
        let secret = std::fs::read_to_string(&secret_file)
            .map_err(|e| format!("{}: {e}", secret_file.display()))?;
        let cookies = CookieSecrets::parse(&secret).map_err(|e| e.to_string())?;
        let mut policy = Policy {
            keys,
            cookies,
            ..Policy::default()
        };
        policy.transfer.allow = vec![ipnet::IpNet::from(std::net::IpAddr::from(CLIENT.0))];
        let (zone, data) = ZoneArgs::default()
            .resolve_one(&[])
            .map_err(|e| e.to_string())?;
        let entries = data.location.load().map_err(|e| e.to_string())?.entries;
        let window = |from: usize, to: usize| Table::new(entries[from..to].to_vec());
        let pipeline = Pipeline::new(zone, window(0, 300), 1, policy, Arc::new(Metrics::new()));
        // Serial 2 drops a hundred entries and adds a hundred: the journal's one difference.
        pipeline.replace_table(window(100, 400), &[2]);
        Ok(Guarded { pipeline, key })
    }

    /// Runs `input` through the pipeline over UDP and TCP, as [`answer_bytes`] does. An input
    /// whose first byte is odd is a message to sign: the rest gets a TSIG record made now with
    /// the key, so signed requests verify whenever the fuzzer runs. Any other input is sent
    /// from its second byte on as it is (its own TSIG record, if any, is checked as sent).
    pub fn answer(&self, input: &[u8]) {
        let Some((&mode, message)) = input.split_first() else {
            return;
        };
        if mode & 1 == 1 {
            let mut signed = message.to_vec();
            let _: Vec<u8> = self.key.sign_request(&mut signed, tsig::now());
            run_both_transports(&self.pipeline, &signed);
        } else {
            run_both_transports(&self.pipeline, message);
        }
    }
}

/// Checks that every problem names the fuzzed file and a line it has (0: the whole file).
fn assert_located<'e>(problems: impl IntoIterator<Item = &'e FileError>, text: &str) {
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    for problem in problems {
        assert_eq!(problem.file, FILE, "{problem}");
        assert!(problem.line <= lines, "{problem}: beyond line {lines}");
        assert!(problem.to_string().starts_with(FILE), "{problem}");
    }
}

/// Reads the fuzzer's bytes as a file's text would be read (invalid UTF-8 replaced, as the
/// fuzzer is better spent on text than on the read's one UTF-8 check), through `parse`, whose
/// problems are then checked.
fn parse_text(input: &[u8], parse: impl FnOnce(&str, &mut Vec<FileError>)) {
    let text = String::from_utf8_lossy(input);
    let mut problems = Vec::new();
    parse(&text, &mut problems);
    assert_located(&problems, &text);
}

/// IANA's service name and port number registry (CSV), as `update-data` downloads it.
pub fn iana_csv(input: &[u8]) {
    parse_text(input, |text, problems| {
        let _ = iana::parse(FILE, text, problems);
    });
}

/// The port list in both its forms (`ports.tsv` and the page excerpt), the markdown it is
/// converted from, and the site's `local.tsv`, which share its shape.
pub fn port_list(input: &[u8]) {
    parse_text(input, |text, problems| {
        let _ = port_list::parse_tsv(FILE, text, problems);
        let _ = port_list::parse_excerpt(FILE, text, problems);
        let _ = local::parse(FILE, text, problems);
        if let Err(errors) = crate::sources::convert_markdown(FILE, text) {
            problems.extend(errors.0);
        }
    });
}

/// The services database (`/etc/services`).
pub fn services(input: &[u8]) {
    parse_text(input, |text, problems| {
        let _ = services::parse(FILE, text, problems);
    });
}

/// nmap's port frequencies (`nmap-services`).
pub fn frequencies(input: &[u8]) {
    parse_text(input, |text, problems| {
        let _ = frequencies::parse(FILE, text, problems);
    });
}

/// The search's synonym list (`data/synonyms.tsv`).
pub fn synonyms(input: &[u8]) {
    parse_text(input, |text, problems| {
        let _ = synonyms::parse(FILE, text, problems);
    });
}

/// A TSIG key file in `tsig-keygen`'s form.
pub fn key_file(input: &[u8]) {
    parse_text(input, |text, problems| match tsig::parse_keys(FILE, text) {
        Ok(keys) => {
            let _ = Keyring::new(keys);
        }
        Err(tsig::KeyFileError::Parse(problem)) => problems.push(problem),
        Err(other) => panic!("parsing text cannot fail to read: {other}"),
    });
}

/// The configuration file (TOML).
pub fn config_file(input: &[u8]) {
    parse_text(input, |text, problems| {
        match crate::config::file::parse(FILE, text) {
            Ok(_) => {}
            Err(crate::config::error::ConfigError::Parse(problem)) => problems.push(problem),
            Err(other) => panic!("parsing text gave an error without a line: {other}"),
        }
    });
}
