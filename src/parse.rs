//! Parsers for settings given as text (flags, environment variables, files, the browser's
//! query string). Each checks the value's range as it parses, so that a bad value is one
//! [`Error::InvalidSetting`] (exit 2) at start-up, never a panic or a silent clamp deep
//! inside a run. None of them panics on any input (a property test checks this).

use crate::error::{Error, Result};
use std::time::Duration;

/// Longest time budget accepted: a week, in seconds. Longer values are typos, and much
/// longer ones overflow a `Duration`.
pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// One number of type `T`.
pub fn number<T: std::str::FromStr>(what: &str, text: &str) -> Result<T> {
    text.trim().parse::<T>().map_err(|_| Error::InvalidSetting {
        what: what.into(),
        value: text.into(),
        expected: "a number".into(),
    })
}

/// A comma-separated list of numbers, at least one; an empty item (`1,,2`, `,`) is refused
/// rather than skipped.
pub fn list<T: std::str::FromStr>(what: &str, text: &str) -> Result<Vec<T>> {
    text.split(',')
        .map(str::trim)
        .map(|s| {
            s.parse::<T>().map_err(|_| Error::InvalidSetting {
                what: what.into(),
                value: text.into(),
                expected: "a comma-separated list of numbers, e.g. 256,1024 (no empty items)"
                    .into(),
            })
        })
        .collect()
}

/// A u32 within `range`.
pub fn u32_in(what: &str, text: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32> {
    let value: u32 = number(what, text)?;
    check_u32_in(what, value, range)
}

/// Checks that `value` lies in `range`.
pub fn check_u32_in(what: &str, value: u32, range: std::ops::RangeInclusive<u32>) -> Result<u32> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Error::InvalidSetting {
            what: what.into(),
            value: value.to_string(),
            expected: format!("a whole number in {}..={}", range.start(), range.end()),
        })
    }
}

/// Shortest time budget accepted: a millisecond (shorter ones round to nothing).
pub const MIN_SECONDS: f64 = 1e-3;

/// A number of seconds from [`MIN_SECONDS`] to [`MAX_SECONDS`].
pub fn seconds(what: &str, text: &str) -> Result<Duration> {
    seconds_from_f64(what, number(what, text)?)
}

/// Like [`seconds`] for a value already parsed as a float (a flag).
pub fn seconds_from_f64(what: &str, secs: f64) -> Result<Duration> {
    if !(secs.is_finite() && (MIN_SECONDS..=MAX_SECONDS).contains(&secs)) {
        return Err(Error::InvalidSetting {
            what: what.into(),
            // `{:?}`: 1e300 as `1e300`, not as 301 digits.
            value: format!("{secs:?}"),
            expected: format!("a number of seconds from {MIN_SECONDS} to {MAX_SECONDS} (a week)"),
        });
    }
    Duration::try_from_secs_f64(secs).map_err(|e| Error::InvalidSetting {
        what: what.into(),
        value: secs.to_string(),
        expected: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_refuse_what_a_duration_cannot_hold() {
        for bad in ["0", "-1", "1e-10", "1e300", "1e19", "NaN", "inf", "abc", ""] {
            assert!(seconds("t", bad).is_err(), "{bad}");
        }
        assert_eq!(seconds("t", "0.5").unwrap(), Duration::from_millis(500));
        let huge = seconds("t", "1e300").unwrap_err().to_string();
        assert!(huge.contains("\"1e300\"") && huge.len() < 200, "{huge}");
    }

    #[test]
    fn ranges_are_checked() {
        assert!(u32_in("d", "300", 1..=256).is_err());
        assert!(u32_in("d", "0", 1..=256).is_err());
        assert_eq!(u32_in("d", " 64 ", 1..=256).unwrap(), 64);
    }
}
