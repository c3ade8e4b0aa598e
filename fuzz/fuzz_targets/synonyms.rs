//! Fuzz target: any bytes as the search's synonym list (`data/synonyms.tsv`). Fails only on a panic, or on a problem that does not
//! name the file and one of its lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portsd::fuzzing::synonyms(data);
});
