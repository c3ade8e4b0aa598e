//! Fuzz target: any bytes through the request pipeline with TSIG keys, zone transfers allowed,
//! a fixed cookie secret and an IXFR journal (`portsd::fuzzing::Guarded`). The key and the
//! secret are the ones `make_seeds.py` wrote into `fuzz/secrets/` with this target's seeds.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use portsd::fuzzing::Guarded;

static GUARDED: LazyLock<Guarded> = LazyLock::new(|| {
    let secrets = Path::new(env!("CARGO_MANIFEST_DIR")).join("secrets");
    Guarded::load(&secrets)
        .unwrap_or_else(|e| panic!("{e} (run fuzz/make_seeds.py to make the key and secret)"))
});

fuzz_target!(|data: &[u8]| {
    GUARDED.answer(data);
});
