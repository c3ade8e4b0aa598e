//! The SOA serial: a pure function of the data, so that two instances with the same data, a
//! restart and `export-zone` all give the same number, and changed data a larger one.
//!
//! The rule (README, "Zone transfers"): the serial is the data's date, the newest modification
//! time of the data files in Unix seconds (Knot's `serial-policy: unixtime`, fixed to the data
//! instead of the clock). The content fingerprint decides whether anything changed: a reload
//! whose content equals the served table keeps its serial even when a file was only touched;
//! changed content whose date is not past the served serial (a file restored from a backup, a
//! clock set back) gets the served serial plus one. Arithmetic is RFC 1982's; 0 is never used.

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

/// The serial for data dated `date` (Unix seconds) with content fingerprint `hash`, given the
/// serial and fingerprint of the table it replaces, if any.
pub fn serial_for(date: u32, hash: u64, previous: Option<(u32, u64)>) -> u32 {
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

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(is_newer(1, u32::MAX));
        assert!(!is_newer(u32::MAX, 1));
        assert!(is_newer(0x7FFF_FFFF, 0));
        assert!(!is_newer(0x8000_0000, 0), "2^31 apart: incomparable");
        assert!(!is_newer(5, 5));
    }
}
