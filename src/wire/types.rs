//! Record types and classes, as hickory names them (the stack's vocabulary), in one place for
//! every layer: this file uses nothing of the crate, so the core, which knows no DNS messages,
//! can name the types of its records without depending on the writers and readers of `wire`.

pub use hickory_proto::rr::{DNSClass, RecordType};

/// ZONEMD (RFC 8976), the zone's digest, which hickory 0.26 has no name for.
pub const ZONEMD: RecordType = RecordType::Unknown(63);

#[cfg(test)]
mod tests {
    use super::*;

    /// When hickory learns ZONEMD's name, `RecordType::from` stops returning this constant:
    /// then the constant should become hickory's `RecordType::ZONEMD`.
    #[test]
    fn zonemd_is_the_type_hickory_reads_from_63() {
        assert_eq!(RecordType::from(63), ZONEMD);
        assert_eq!(u16::from(ZONEMD), 63);
    }
}
