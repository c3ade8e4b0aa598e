//! Fuzz target: any bytes, as a DNS request, through the whole request-to-response path. The
//! only failure is a panic (or a sanitizer report); every input must produce an answer or silence.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portsd::fuzzing::answer_bytes(data);
});
