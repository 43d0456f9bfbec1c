//! How long a transfer took, as the `ms` field of its log line: milliseconds to the
//! microsecond. `as_secs_f64() * 1000.0` prints binary noise (`ms=45.044292999999996`); a
//! whole number of microseconds over 1000 prints as the decimal it is (`ms=45.044`), and JSON
//! logs keep a number.

use std::time::Duration;

pub(crate) fn millis(d: Duration) -> f64 {
    // Exact below 2^53 µs (285 years); the division rounds to the nearest double, whose
    // shortest form is the three-decimal number.
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_decimals_at_most() {
        let shown = |d: Duration| format!("{:?}", millis(d));
        assert_eq!(shown(Duration::from_nanos(45_044_292_999)), "45044.292");
        assert_eq!(shown(Duration::from_nanos(45_044_293)), "45.044");
        assert_eq!(shown(Duration::from_nanos(745_705)), "0.745");
        assert_eq!(shown(Duration::from_millis(2)), "2.0");
        assert_eq!(shown(Duration::ZERO), "0.0");
    }
}
