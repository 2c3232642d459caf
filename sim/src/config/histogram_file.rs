//! Empirical service-time histograms: a CSV of `latency_us,count` rows (a header row and `#`
//! comments allowed), e.g. exported from a proxy's own latency histogram. Becomes the
//! distribution a proxy's service times are drawn from.

use crate::engine::Distribution;
use meshtwin_diagnostics::{Diagnostic, SourceFile};
use std::path::Path;
use std::sync::Arc;

/// The longest latency a row may give: the histograms' ceiling (100 s), in µs.
const MAX_LATENCY_US: f64 = 1e8;

pub fn load(path: &Path) -> Result<Distribution, Diagnostic> {
    parse(&Arc::new(SourceFile::read(path)?))
}

pub fn parse(source: &Arc<SourceFile>) -> Result<Distribution, Diagnostic> {
    let mut rows: Vec<(f64, f64)> = Vec::new();
    let mut offset = 0;
    for (i, line) in source.text().split_inclusive('\n').enumerate() {
        let span = offset..offset + line.trim_end().len();
        offset += line.len();
        let content = line.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let error = |message: String| Diagnostic::at(source, span.clone(), message);
        let fields: Vec<&str> = content.split(',').map(str::trim).collect();
        let numbers: Option<Vec<f64>> = fields.iter().map(|f| f.parse::<f64>().ok()).collect();
        match (fields.len(), numbers) {
            (2, Some(n)) => {
                let (latency, count) = (n[0], n[1]);
                let valid = |v: f64| v.is_finite() && v >= 0.0;
                if !(valid(latency) && valid(count)) {
                    return Err(error(
                        "latency and count must be numbers of 0 or more".into(),
                    ));
                }
                if latency > MAX_LATENCY_US {
                    return Err(error(format!(
                        "latency {latency} µs is past 100 s ({MAX_LATENCY_US} µs), what the simulation's histograms measure"
                    )));
                }
                if rows
                    .last()
                    .is_some_and(|&(previous, _)| latency <= previous)
                {
                    return Err(error(
                        "latencies must increase from one row to the next".into(),
                    ));
                }
                rows.push((latency, count));
            }
            // A header row: only as the first row.
            (2, None) if rows.is_empty() && i == 0 => {}
            _ => {
                return Err(error(format!(
                    "expected `latency_us,count`, found `{content}`"
                )))
            }
        }
    }
    let total: f64 = rows.iter().map(|r| r.1).sum();
    if total <= 0.0 {
        return Err(Diagnostic::file(
            source.name(),
            "the histogram has no counts (no rows, or every count is 0)",
        ));
    }
    if !total.is_finite() {
        return Err(Diagnostic::file(
            source.name(),
            "the counts add up past what a number holds; scale them down",
        ));
    }
    let mut cumulative = 0.0;
    let points = rows
        .into_iter()
        .map(|(latency_us, count)| {
            cumulative += count;
            (latency_us * 1000.0, cumulative / total)
        })
        .collect();
    Ok(Distribution::Empirical { points })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Distribution, Diagnostic> {
        super::parse(&Arc::new(SourceFile::new("h.csv", text)))
    }

    #[test]
    fn parses_rows_into_a_cumulative_distribution() {
        let d = parse("latency_us,count\n# comment\n50,1\n100,3\n").unwrap();
        assert_eq!(
            d,
            Distribution::Empirical {
                points: vec![(50_000.0, 0.25), (100_000.0, 1.0)]
            }
        );
    }

    #[test]
    fn counts_that_add_up_to_infinity_and_latencies_past_the_ceiling_are_refused() {
        let e = parse("50,1e308\n60,1e308\n").unwrap_err();
        assert!(e.message().contains("add up past"), "{e}");
        let e = parse("50,1\n2e8,1\n").unwrap_err();
        assert_eq!(e.location().map(|l| l.line), Some(2));
        assert!(e.message().contains("past 100 s"), "{e}");
    }

    #[test]
    fn a_bad_row_is_located() {
        let e = parse("50,1\n40,2\n").unwrap_err();
        let location = e.location().unwrap();
        assert_eq!((location.line, location.column), (2, 1));
        let e = parse("50,1\nfifty,2\n").unwrap_err();
        assert!(e.to_string().contains("expected `latency_us,count`"), "{e}");
    }
}
