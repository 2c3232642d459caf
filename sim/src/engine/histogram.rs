//! Latency histograms, log-bucketed with three significant digits (HdrHistogram), reported
//! in microseconds.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The percentiles every latency figure is reported with, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub mean: f64,
}

impl Percentiles {
    /// Element-wise difference (what the mesh adds over a baseline), never below zero.
    pub fn minus(&self, baseline: &Percentiles) -> Percentiles {
        let d = |a: f64, b: f64| round3((a - b).max(0.0));
        Percentiles {
            p50: d(self.p50, baseline.p50),
            p90: d(self.p90, baseline.p90),
            p99: d(self.p99, baseline.p99),
            p999: d(self.p999, baseline.p999),
            mean: d(self.mean, baseline.mean),
        }
    }
}

/// Microseconds to three decimals (nanosecond resolution) so printed output is stable.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// 32-bit counters: half the memory of 64-bit ones, so recording stays in cache (a run
/// records far fewer than 4 billion values into one bucket).
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u32>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            // 1 ns to 100 s, three significant digits.
            histogram: Histogram::new_with_bounds(1, 100_000_000_000, 3)
                .expect("valid histogram bounds"),
        }
    }

    /// Two significant digits and a 100 ns floor: a tenth of the memory, for the many
    /// per-service histograms.
    pub fn compact() -> Self {
        LatencyHistogram {
            histogram: Histogram::new_with_bounds(100, 100_000_000_000, 2)
                .expect("valid histogram bounds"),
        }
    }

    pub fn record_ns(&mut self, ns: u64) {
        self.histogram.saturating_record(ns.max(1));
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms share bounds");
    }

    pub fn percentiles(&self) -> Percentiles {
        if self.histogram.is_empty() {
            return Percentiles::default();
        }
        let us = |ns: u64| round3(ns as f64 / 1000.0);
        // hdrhistogram's quantiles are exact to the bucket; its mean is of bucket midpoints.
        Percentiles {
            p50: us(self.histogram.value_at_quantile(0.50)),
            p90: us(self.histogram.value_at_quantile(0.90)),
            p99: us(self.histogram.value_at_quantile(0.99)),
            p999: us(self.histogram.value_at_quantile(0.999)),
            mean: round3(self.histogram.mean() / 1000.0),
        }
    }

    /// (latency in µs, fraction of requests at or below it), for CDF plots.
    pub fn cdf(&self, points: usize) -> Vec<(f64, f64)> {
        if self.histogram.is_empty() {
            return Vec::new();
        }
        (0..=points)
            .map(|i| {
                let q = (i as f64 / points as f64).min(0.9999);
                (self.histogram.value_at_quantile(q) as f64 / 1000.0, q)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_three_significant_digits() {
        let mut h = LatencyHistogram::new();
        for us in 1..=1000u64 {
            h.record_ns(us * 1000);
        }
        let p = h.percentiles();
        assert!((p.p50 - 500.0).abs() <= 0.5, "{p:?}");
        assert!((p.p99 - 990.0).abs() <= 1.0, "{p:?}");
        assert!((p.mean - 500.5).abs() <= 0.5, "{p:?}");
    }
}
