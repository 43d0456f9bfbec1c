//! Numbers as an operator reads them: UTC times, byte sizes, durations.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-25 11:52:03` (UTC); times before 1970 show as the epoch.
pub fn utc(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `11:52:03` (UTC).
pub fn utc_time(at: SystemTime) -> String {
    utc(at)[11..].to_string()
}

/// Seconds since the Unix epoch, with milliseconds.
pub fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1000.0)
}

/// Howard Hinnant's days-to-civil algorithm for the proleptic Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// `812 B`, `68.5 KiB`, `5.2 MiB`, `1.3 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `850 ms`, `2.35 s`, `1 min 05 s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// `+1.2 s` from the start of a boot attempt.
pub fn offset(d: Duration) -> String {
    format!("+{:.1} s", d.as_secs_f64())
}

/// `5 s ago`, `3 min ago`, `2 h ago`.
pub fn ago(then: SystemTime, now: SystemTime) -> String {
    let s = now.duration_since(then).map_or(0, |d| d.as_secs());
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_and_times() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_607_523);
        assert_eq!(utc(t), "2026-11-25 11:52:03");
        assert_eq!(utc_time(t), "11:52:03");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc(leap), "2000-02-29 00:00:00");
        assert_eq!(
            unix_seconds(t + Duration::from_millis(250)),
            1_795_607_523.25
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(70_144), "68.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 + 200 * 1024), "5.2 MiB");
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(2350)), "2.35 s");
        assert_eq!(duration(Duration::from_secs(65)), "1 min 05 s");
        assert_eq!(offset(Duration::from_millis(1234)), "+1.2 s");
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(ago(now - Duration::from_secs(5), now), "5 s ago");
        assert_eq!(ago(now - Duration::from_secs(300), now), "5 min ago");
        assert_eq!(
            ago(now, now - Duration::from_secs(5)),
            "0 s ago",
            "clock stepped back"
        );
    }
}
