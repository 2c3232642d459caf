//! JSON numbers rounded to what they mean. Sums of model parameters carry binary float noise
//! (0.1 × 6 is 0.6000000000000001), which a reader takes for precision the model does not
//! have; latencies come from histograms that keep three significant digits.
//!
//! Every non-integer number is rounded to [`SIGNIFICANT_DIGITS`] significant digits, which
//! keeps more than the histograms or any model parameter resolve, and drops the noise. Integers
//! (counts, bytes) are written exactly.

use serde::Serialize;

/// Digits kept of every fractional number.
pub const SIGNIFICANT_DIGITS: usize = 6;

/// `value` as pretty JSON, its fractional numbers rounded, fields in their declared order.
pub fn to_pretty_json<T: Serialize>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).expect("the document serialises");
    round_numbers(&text)
}

/// Rewrites every fractional number of a JSON text (one with a `.` or an exponent) rounded,
/// leaving strings, integers and layout as they are. Working on the text keeps the order of
/// fields, which a `serde_json::Value` would sort.
pub fn round_numbers(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut chars = json.char_indices().peekable();
    let mut in_string = false;
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
            continue;
        }
        if c == '-' || c.is_ascii_digit() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-') {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let token = &json[i..end];
            let fractional = token.contains(['.', 'e', 'E']);
            match token.parse::<f64>() {
                Ok(v) if fractional => out.push_str(
                    &serde_json::to_string(&significant(v)).expect("a finite number serialises"),
                ),
                _ => out.push_str(token),
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `v` to [`SIGNIFICANT_DIGITS`] significant digits: printed in scientific notation with that
/// many digits and read back, so the result is the nearest double to the rounded decimal and
/// prints as it (serde_json writes the shortest representation that reads back the same).
fn significant(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{v:.*e}", SIGNIFICANT_DIGITS - 1)
        .parse()
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_noise_is_dropped_and_integers_are_kept() {
        let doc = serde_json::json!({
            "cpu_cores": 0.1 + 0.2 + 0.3,
            "rps": 78354.49999999,
            "latency_us": [123.456789, 0.000123456789, null],
            "bytes": 1_050_000_000_123u64,
            "name": "sidecar",
        });
        let text = to_pretty_json(&doc);
        // Strings keep their digits and escapes; fields keep their order.
        let text = format!(
            "{text}{}",
            round_numbers(r#"{"z": "0.30000000000000004 \" 1.5", "a": 2}"#)
        );
        assert!(
            text.ends_with(r#"{"z": "0.30000000000000004 \" 1.5", "a": 2}"#),
            "{text}"
        );
        assert!(text.contains("\"cpu_cores\": 0.6,"), "{text}");
        assert!(text.contains("\"rps\": 78354.5\n"), "{text}");
        assert!(text.contains("123.457"), "{text}");
        assert!(text.contains("0.000123457"), "{text}");
        assert!(text.contains("1050000000123"), "{text}");
        assert!(!text.contains("0000000001"), "{text}");
    }
}
