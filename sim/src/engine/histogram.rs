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

/// A latency histogram recorded in two tiers. Values go into `recent`, whose counters are 16
/// bits: the event loop records into hundreds of histograms (one per service), which do not
/// fit in the cache together, and narrower counters halve what each record touches. Before
/// `recent` could overflow (65,535 records), it is folded into `folded` (64-bit counters, read
/// only at the end) and cleared. Bucket for bucket the result is what one histogram would hold.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    recent: Histogram<u16>,
    recent_len: u16,
    folded: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        // 1 ns to 100 s, three significant digits.
        Self::with_bounds(1, 100_000_000_000, 3)
    }

    /// Two significant digits and a 100 ns floor: a tenth of the memory, for the many
    /// per-service histograms.
    pub fn compact() -> Self {
        Self::with_bounds(100, 100_000_000_000, 2)
    }

    fn with_bounds(low: u64, high: u64, digits: u8) -> Self {
        LatencyHistogram {
            recent: Histogram::new_with_bounds(low, high, digits).expect("valid histogram bounds"),
            recent_len: 0,
            folded: Histogram::new_with_bounds(low, high, digits).expect("valid histogram bounds"),
        }
    }

    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        // Fewer than 65,535 records since the last fold: no 16-bit counter can saturate.
        self.recent.saturating_record(ns.max(1));
        self.recent_len += 1;
        if self.recent_len == u16::MAX {
            self.fold();
        }
    }

    #[cold]
    fn fold(&mut self) {
        fold_into(&mut self.folded, &self.recent);
        self.recent.reset();
        self.recent_len = 0;
    }

    /// Everything recorded, in one histogram.
    fn all(&self) -> Histogram<u64> {
        let mut all = self.folded.clone();
        fold_into(&mut all, &self.recent);
        all
    }

    pub fn count(&self) -> u64 {
        self.folded.len() + self.recent.len()
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        self.folded
            .add(other.all())
            .expect("histograms share bounds");
    }

    pub fn percentiles(&self) -> Percentiles {
        let histogram = self.all();
        if histogram.is_empty() {
            return Percentiles::default();
        }
        let us = |ns: u64| round3(ns as f64 / 1000.0);
        // hdrhistogram's quantiles are exact to the bucket; its mean is of bucket midpoints.
        Percentiles {
            p50: us(histogram.value_at_quantile(0.50)),
            p90: us(histogram.value_at_quantile(0.90)),
            p99: us(histogram.value_at_quantile(0.99)),
            p999: us(histogram.value_at_quantile(0.999)),
            mean: round3(histogram.mean() / 1000.0),
        }
    }

    /// (latency in µs, fraction of requests at or below it), for CDF plots.
    pub fn cdf(&self, points: usize) -> Vec<(f64, f64)> {
        let histogram = self.all();
        if histogram.is_empty() {
            return Vec::new();
        }
        (0..=points)
            .map(|i| {
                let q = (i as f64 / points as f64).min(0.9999);
                (histogram.value_at_quantile(q) as f64 / 1000.0, q)
            })
            .collect()
    }
}

/// Adds every bucket of `from` to `into` (same bounds): a bucket's highest equivalent value
/// lands in the same bucket.
fn fold_into(into: &mut Histogram<u64>, from: &Histogram<u16>) {
    for bucket in from.iter_recorded() {
        into.saturating_record_n(bucket.value_iterated_to(), bucket.count_at_value().into());
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

    #[test]
    fn folding_the_16_bit_tier_loses_nothing() {
        // Three folds and a remainder, with most values in a few buckets (16-bit counters
        // would saturate without the folds).
        let mut h = LatencyHistogram::compact();
        let mut reference = Histogram::<u64>::new_with_bounds(100, 100_000_000_000, 2).unwrap();
        for i in 0..200_000u64 {
            let ns = if i % 10 == 0 { 1_000 + i * 37 } else { 250_000 };
            h.record_ns(ns);
            reference.record(ns).unwrap();
        }
        assert_eq!(h.count(), 200_000);
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(h.all().value_at_quantile(q), reference.value_at_quantile(q));
        }
        assert_eq!(h.all().mean(), reference.mean());
        let mut sum = LatencyHistogram::compact();
        sum.add(&h);
        sum.add(&h);
        assert_eq!(sum.count(), 400_000);
        assert_eq!(sum.percentiles(), h.percentiles());
    }
}
