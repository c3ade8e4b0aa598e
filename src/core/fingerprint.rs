//! The fingerprint that tells whether the zone changed: a hash of the table's rendered records
//! ([`crate::core::table`]) and of the zone's own settings ([`crate::core::zone`]), which the
//! serial ([`crate::core::serial`]) compares with what was served.

/// FNV-1a, 64 bits: stable across runs and builds, cheap, and good enough to detect change
/// (nobody gains by making two different zones collide here).
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn new() -> Fingerprint {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }

    /// Adds `bytes` and a terminator, so that `ab`,`c` and `a`,`bc` differ.
    pub(crate) fn add(&mut self, bytes: &[u8]) {
        for &byte in bytes.iter().chain(&[0]) {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}
