//! The SOA serial: a function of the data and of what was served before, so that two
//! instances with the same data, a restart and `export-zone` all give the same number, and
//! changed data a larger one.
//!
//! The rule (docs/zone-transfers.md): the serial is the data's date, the newest modification
//! time of the data files in Unix seconds (Knot's `serial-policy: unixtime`, fixed to the data
//! instead of the clock). The zone's fingerprint (its records: the table's content and the
//! zone's own settings, name, TTL and name server) decides whether anything changed: content
//! equal to what was served keeps its serial even when a file was only touched; changed
//! content whose date is not past the served serial (a file restored from a backup, a clock
//! set back) gets the served serial plus one. What was served is the running table on a
//! reload, and the state directory's record (`--state-dir`) at start, so a stepped serial
//! survives a restart. Arithmetic is RFC 1982's; 0 is never used.

use crate::core::fingerprint::Fingerprint;
use crate::core::table::Table;
use crate::core::zone::Zone;

/// The serial and zone fingerprint last served.
pub(crate) type Served = (u32, u64);

/// The fingerprint of everything the zone's records are made of: `table` served as `zone`.
pub(crate) fn fingerprint(zone: &Zone, table: &Table) -> u64 {
    let mut hash = Fingerprint::new();
    hash.add(&table.content_hash().to_be_bytes());
    zone.add_settings_to(&mut hash);
    hash.finish()
}

/// The serial of `table` served as `zone`, given what was served before, if anything, with
/// the fingerprint it is served for.
pub fn serial_of(zone: &Zone, table: &Table, previous: Option<Served>) -> Served {
    let hash = fingerprint(zone, table);
    (serial_for(table.data_date(), hash, previous), hash)
}

/// Whether `a` is greater than `b` in RFC 1982 serial arithmetic (32 bits). Serials exactly
/// 2^31 apart are incomparable; this says `false` for them, so the caller steps forward.
pub(crate) fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// The serial after `serial`, skipping 0 (which many tools read as "no serial").
fn step(serial: u32) -> u32 {
    match serial.wrapping_add(1) {
        0 => 1,
        next => next,
    }
}

/// The serial for data dated `date` (Unix seconds) with zone fingerprint `hash`, given the
/// serial and fingerprint served before, if any. The catalog zone's serial follows it too
/// ([`crate::core::catalog`]), with the start's clock as its date.
pub(crate) fn serial_for(date: u32, hash: u64, previous: Option<Served>) -> u32 {
    let dated = date.max(1);
    match previous {
        Some((serial, old)) if old == hash => serial,
        Some((serial, _)) if !is_newer(dated, serial) => step(serial),
        _ => dated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_serial_is_the_data_date() {
        assert_eq!(serial_for(1_700_000_000, 7, None), 1_700_000_000);
        assert_eq!(serial_for(0, 7, None), 1, "never 0");
    }

    #[test]
    fn unchanged_content_keeps_its_serial_even_with_a_newer_date() {
        assert_eq!(serial_for(2_000, 7, Some((1_000, 7))), 1_000);
    }

    #[test]
    fn changed_content_moves_forward() {
        assert_eq!(serial_for(2_000, 8, Some((1_000, 7))), 2_000);
        assert_eq!(
            serial_for(500, 8, Some((1_000, 7))),
            1_001,
            "an older date steps"
        );
        assert_eq!(
            serial_for(1_000, 8, Some((1_000, 7))),
            1_001,
            "an equal date steps"
        );
        assert_eq!(
            serial_for(5, 8, Some((u32::MAX, 7))),
            5,
            "wraps forward (RFC 1982)"
        );
        assert_eq!(serial_for(0, 8, Some((u32::MAX, 7))), 1, "skips 0");
    }

    fn zone(name: &str, ns: &str, address: [u8; 4], ttl: u32) -> Zone {
        let labels = |text: &str| -> Vec<Box<[u8]>> {
            text.split('.').map(|l| l.as_bytes().into()).collect()
        };
        Zone::new(labels(name), labels(ns), vec![address.into()], ttl)
    }

    #[test]
    fn the_zone_settings_are_part_of_the_fingerprint() {
        let table = Table::new(Vec::new()).dated(1_000);
        let served = zone("ports.test", "ns.ports.test", [192, 0, 2, 1], 3600);
        let previous = Some((1_000, fingerprint(&served, &table)));
        assert_eq!(
            serial_of(&served, &table, previous).0,
            1_000,
            "nothing changed"
        );
        for changed in [
            zone("ports.example", "ns.ports.test", [192, 0, 2, 1], 3600),
            zone("ports.test", "ns2.ports.test", [192, 0, 2, 1], 3600),
            zone("ports.test", "ns.ports.test", [192, 0, 2, 2], 3600),
            zone("ports.test", "ns.ports.test", [192, 0, 2, 1], 60),
            // the same labels split differently between the zone and its name server
            zone("ports", "test.ns.ports.test", [192, 0, 2, 1], 3600),
        ] {
            assert_eq!(serial_of(&changed, &table, previous).0, 1_001);
        }
    }

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(is_newer(1, u32::MAX));
        assert!(!is_newer(u32::MAX, 1));
        assert!(is_newer(0x7FFF_FFFF, 0));
        assert!(!is_newer(0x8000_0000, 0), "2^31 apart: incomparable");
        assert!(!is_newer(5, 5));
    }
}
