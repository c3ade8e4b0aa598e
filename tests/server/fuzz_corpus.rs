//! Replays the fuzz targets' seeds, and seeded mutations of them, through the functions the
//! targets call (`portsd::fuzzing`), so the normal suite catches a regression the fuzzer once
//! covered. The committed request seeds are read from `fuzz/corpus/request`; every target's
//! seeds are also made fresh by `fuzz/make_seeds.py` into a temporary directory, with the
//! random TSIG key and cookie secret the guarded pipeline is built from.

use std::path::Path;
use std::process::Command;

use portsd::fuzzing;

fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

/// `count` mutations of each seed: bytes replaced, the end cut off, bytes appended.
fn mutations(seeds: &[Vec<u8>], count: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for seed in seeds {
        for _ in 0..count {
            let mut input = seed.clone();
            for _ in 0..(1 + next() % 4) {
                match next() % 3 {
                    0 if !input.is_empty() => {
                        let at = (next() as usize) % input.len();
                        input[at] = next() as u8;
                    }
                    1 if !input.is_empty() => {
                        let keep = (next() as usize) % input.len();
                        input.truncate(keep);
                    }
                    _ => input.push(next() as u8),
                }
            }
            out.push(input);
        }
    }
    out
}

fn committed_request_seeds() -> Vec<Vec<u8>> {
    seeds(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/request"))
}

#[test]
fn seed_corpus_replays_without_panic() {
    let seeds = committed_request_seeds();
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    for seed in &seeds {
        fuzzing::answer_bytes(seed);
    }
}

#[test]
fn mutated_seeds_replay_without_panic() {
    for input in mutations(&committed_request_seeds(), 400) {
        fuzzing::answer_bytes(&input);
    }
}

/// A fuzz target's name and the function it calls.
type Target<'a> = (&'static str, &'a dyn Fn(&[u8]));

/// Every target's fresh seeds, and mutations of them, through the target's function.
#[test]
fn every_target_replays_its_fresh_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/make_seeds.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "make_seeds.py: {status}");
    let guarded = fuzzing::Guarded::load(&dir.path().join("secrets")).unwrap();
    let targets: [Target<'_>; 9] = [
        ("request", &fuzzing::answer_bytes),
        ("request_guarded", &|input| guarded.answer(input)),
        ("iana_csv", &fuzzing::iana_csv),
        ("port_list", &fuzzing::port_list),
        ("services", &fuzzing::services),
        ("frequencies", &fuzzing::frequencies),
        ("synonyms", &fuzzing::synonyms),
        ("key_file", &fuzzing::key_file),
        ("config_file", &fuzzing::config_file),
    ];
    for (target, run) in targets {
        let seeds = seeds(&dir.path().join("corpus").join(target));
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for input in seeds.iter().chain(&mutations(&seeds, 50)) {
            run(input);
        }
    }
}
