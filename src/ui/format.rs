//! How times, durations and sizes read in the console.

use chrono::{DateTime, Local, Utc};

/// A time in the user's time zone, to the second: `2026-11-24 18:02:46`.
pub fn local_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A time of day with milliseconds, for log lines: `18:02:46.123`.
pub fn clock_millis(time: DateTime<Utc>) -> String {
    time.with_timezone(&Local)
        .format("%H:%M:%S%.3f")
        .to_string()
}

/// A duration as `45s`, `12m 05s` or `3h 02m 10s`.
pub fn duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Seconds as `m:ss` or `h:mm:ss`, for time axes.
pub fn clock_seconds(secs: f64) -> String {
    let total = secs.max(0.0).round() as i64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Bytes in binary units: `512 B`, `12.5 MiB`, `1.25 GiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[0])
    } else if value < 10.0 {
        format!("{value:.2} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(duration(chrono::Duration::seconds(45)), "45s");
        assert_eq!(duration(chrono::Duration::seconds(725)), "12m 05s");
        assert_eq!(duration(chrono::Duration::seconds(10930)), "3h 02m 10s");
        assert_eq!(clock_seconds(65.0), "1:05");
        assert_eq!(clock_seconds(3725.0), "1:02:05");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(12.5 * 1024.0 * 1024.0), "12.5 MiB");
        assert_eq!(bytes(1.25 * 1024.0 * 1024.0 * 1024.0), "1.25 GiB");
    }
}
