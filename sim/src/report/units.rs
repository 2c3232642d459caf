//! Human units for the table: decimal bytes (the seeds' "1.05 TB" is 10^12-based), cores,
//! counts with thousands separators.

/// Bytes in decimal units with three significant digits: `70.0 MB`, `1.05 TB`.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if b < 1000 {
        return format!("{b} B");
    }
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 999.5 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{} {}", significant(value), UNITS[unit])
}

/// Three significant digits: 1.05, 35.0, 123.
fn significant(v: f64) -> String {
    if v >= 99.95 {
        format!("{v:.0}")
    } else if v >= 9.995 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn cores(c: f64) -> String {
    if c == 0.0 {
        "0 cores".into()
    } else if c < 0.01 {
        format!("{c:.4} cores")
    } else {
        format!("{} cores", significant(c))
    }
}

/// An integer with thousands separators: 15,000.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn rate(r: f64) -> String {
    if r >= 1000.0 {
        count(r.round() as u64)
    } else {
        significant(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_seed_figures() {
        assert_eq!(bytes(1_050_000_000_000), "1.05 TB");
        assert_eq!(bytes(35_000_000_000), "35.0 GB");
        assert_eq!(bytes(70_000_000), "70.0 MB");
        assert_eq!(bytes(2_040_000_000), "2.04 GB");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(999_600), "1.00 MB");
        assert_eq!(count(15_000), "15,000");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(cores(3.0), "3.00 cores");
    }
}
