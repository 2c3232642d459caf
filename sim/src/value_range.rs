//! A range of allowed values, written the way docs/config.md writes it (`integer in [1, 10]`,
//! `number in (0, 1]`): the cluster file's keys (`config::ranges`) and the models' parameters
//! (`cost_model::ranges`) each have one.

use std::fmt;

/// Integers or numbers between two bounds; the lower one may be excluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueRange {
    pub integer: bool,
    pub min: f64,
    /// `min` itself is not allowed (`(0, 1]`: positive numbers).
    pub min_excluded: bool,
    pub max: f64,
}

impl ValueRange {
    /// Whole numbers from `min` to `max`, both included.
    pub const fn integers(min: i64, max: i64) -> Self {
        ValueRange {
            integer: true,
            min: min as f64,
            min_excluded: false,
            max: max as f64,
        }
    }

    /// Numbers from `min` to `max`, both included.
    pub const fn numbers(min: f64, max: f64) -> Self {
        ValueRange {
            integer: false,
            min,
            min_excluded: false,
            max,
        }
    }

    /// Numbers above `min`, up to `max` included.
    pub const fn above(min: f64, max: f64) -> Self {
        ValueRange {
            integer: false,
            min,
            min_excluded: true,
            max,
        }
    }

    pub fn contains(&self, value: f64) -> bool {
        let above_min = if self.min_excluded {
            value > self.min
        } else {
            value >= self.min
        };
        // NaN fails both comparisons.
        above_min && value <= self.max && (!self.integer || value.fract() == 0.0)
    }
}

impl fmt::Display for ValueRange {
    /// `integer in [1, 1,000,000]`, `number in (0, 1,000,000]`: as docs/config.md writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, open) = match (self.integer, self.min_excluded) {
            (true, _) => ("integer", '['),
            (false, true) => ("number", '('),
            (false, false) => ("number", '['),
        };
        write!(
            f,
            "{kind} in {open}{}, {}]",
            with_separators(self.min),
            with_separators(self.max)
        )
    }
}

/// `1000000` as `1,000,000`; fractions, and numbers past 64-bit integers, as Rust prints them.
pub fn with_separators(value: f64) -> String {
    // `as` saturates: `i64::MAX as f64` (2^63, a range's top) prints as i64::MAX.
    if value.fract() != 0.0 || value.abs() > 9.3e18 {
        return value.to_string();
    }
    let whole = value as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    if whole < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A value as a message shows it: whole numbers with separators, very large or very small
/// ones in exponent form (`1e308`, not three hundred digits).
pub fn shown(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e16 || (magnitude > 0.0 && magnitude < 1e-4) {
        format!("{value:e}")
    } else if value.fract() == 0.0 {
        with_separators(value)
    } else {
        value.to_string()
    }
}
