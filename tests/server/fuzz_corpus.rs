//! Replays the fuzzer's seed corpus, and seeded mutations of it, through the whole request
//! path (both the fast and the general path, which must agree), so the normal suite catches a
//! regression the fuzzer once covered.

use std::path::Path;

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/request");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the seed corpus is in fuzz/corpus/request")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn seed_corpus_replays_without_panic() {
    let seeds = seeds();
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    for seed in &seeds {
        portsd::fuzzing::answer_bytes(seed);
    }
}

#[test]
fn mutated_seeds_replay_without_panic() {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in seeds() {
        for _ in 0..400 {
            let mut packet = seed.clone();
            for _ in 0..(1 + next() % 4) {
                match next() % 3 {
                    0 if !packet.is_empty() => {
                        let at = (next() as usize) % packet.len();
                        packet[at] = next() as u8;
                    }
                    1 if !packet.is_empty() => {
                        let keep = (next() as usize) % packet.len();
                        packet.truncate(keep);
                    }
                    _ => packet.push(next() as u8),
                }
            }
            portsd::fuzzing::answer_bytes(&packet);
        }
    }
}
