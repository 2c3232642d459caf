//! Latency histograms, log-bucketed (HdrHistogram), reported in microseconds.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The percentiles every latency figure is reported with, in microseconds. A value at or past
/// the histogram's ceiling (100 s) is `None`: beyond its range, where the histogram no longer
/// knows it (serialised as `null`); the mean is `None` when any value was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub mean: Option<f64>,
}

impl Percentiles {
    /// Element-wise difference (what the mesh adds over a baseline), never below zero; beyond
    /// the range when either is.
    pub fn minus(&self, baseline: &Percentiles) -> Percentiles {
        let d = |a: Option<f64>, b: Option<f64>| Some(round3((a? - b?).max(0.0)));
        Percentiles {
            p50: d(self.p50, baseline.p50),
            p90: d(self.p90, baseline.p90),
            p99: d(self.p99, baseline.p99),
            p999: d(self.p999, baseline.p999),
            mean: d(self.mean, baseline.mean),
        }
    }

    /// `a − b` of two measured sets: none when either measured nothing.
    pub fn difference(a: Option<&Percentiles>, b: Option<&Percentiles>) -> Option<Percentiles> {
        Some(a?.minus(b?))
    }

    /// What a mesh adds over the baseline, as reported: [`Percentiles::minus`], then each of
    /// p90, p99 and p99.9 raised to the one before it where it is lower. Percentile differences
    /// need not be ordered (a mesh can add 5.6 µs at p99 and 5.1 µs at p99.9), but a column
    /// read as "added at p50 … p99.9" must not shrink; the running maximum is the least that
    /// is ordered and never reports less than a difference measured at or below that
    /// percentile. The mean is the difference of means (which per-request differences would
    /// give too). A percentile beyond range stays unknown, and so do those after it.
    pub fn added_over(&self, baseline: &Percentiles) -> Percentiles {
        let raw = self.minus(baseline);
        let mut floor = Some(0.0);
        let mut ordered = |v: Option<f64>| {
            floor = match (v, floor) {
                (Some(v), Some(f)) => Some(f64::max(v, f)),
                _ => None,
            };
            floor
        };
        Percentiles {
            p50: ordered(raw.p50),
            p90: ordered(raw.p90),
            p99: ordered(raw.p99),
            p999: ordered(raw.p999),
            mean: raw.mean,
        }
    }
}

/// Microseconds to three decimals (nanosecond resolution) so printed output is stable.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A latency histogram: log-bucketed, 64-bit counters. The event loop does not record into
/// these directly but into a [`HistogramSet`](super::HistogramSet), which folds into them.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Bounds and precision of a histogram: lowest discernible value and highest trackable value
/// (ns), significant digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub low: u64,
    pub high: u64,
    pub digits: u8,
}

impl Bounds {
    /// 1 ns to 100 s, three significant digits.
    pub const PRECISE: Bounds = Bounds {
        low: 1,
        high: 100_000_000_000,
        digits: 3,
    };
    /// Two significant digits and a 100 ns floor: a tenth of `PRECISE`'s memory, once used
    /// for the per-service and per-proxy histograms, whose percentiles it read up to 0.8% high
    /// (every histogram now keeps three digits; docs/performance.md has the cost). Kept for
    /// the histogram set's bucket-layout test over a second set of bounds.
    #[cfg(test)]
    pub const COMPACT: Bounds = Bounds {
        low: 100,
        high: 100_000_000_000,
        digits: 2,
    };
}

impl LatencyHistogram {
    pub fn new() -> Self {
        Self::with_bounds(Bounds::PRECISE)
    }

    #[cfg(test)]
    pub fn compact() -> Self {
        Self::with_bounds(Bounds::COMPACT)
    }

    pub fn with_bounds(bounds: Bounds) -> Self {
        LatencyHistogram {
            histogram: Histogram::new_with_bounds(bounds.low, bounds.high, bounds.digits)
                .expect("valid histogram bounds"),
        }
    }

    /// Records one value; values past the highest trackable one count as that one.
    #[cfg(test)]
    pub fn record_ns(&mut self, ns: u64) {
        self.histogram.saturating_record(ns.max(1));
    }

    /// Records `count` values of `ns` at once.
    pub fn record_ns_n(&mut self, ns: u64, count: u64) {
        self.histogram.saturating_record_n(ns.max(1), count);
    }

    /// The underlying histogram: a [`HistogramSet`](super::HistogramSet) takes its number of
    /// counters from it, and the set's tests compare buckets with it.
    pub(super) fn inner(&self) -> &Histogram<u64> {
        &self.histogram
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    #[cfg(test)]
    pub fn add(&mut self, other: &LatencyHistogram) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms share bounds");
    }

    /// The percentiles of what was recorded; `None` when nothing was.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let histogram = &self.histogram;
        if histogram.is_empty() {
            return None;
        }
        // Values past the highest trackable one were recorded as it (saturating): its bucket
        // holds "this much or more".
        let ceiling = histogram.lowest_equivalent(histogram.high());
        let us = |ns: u64| (ns < ceiling).then(|| round3(ns as f64 / 1000.0));
        // hdrhistogram's quantiles are exact to the bucket; its mean is of bucket midpoints.
        Some(Percentiles {
            p50: us(histogram.value_at_quantile(0.50)),
            p90: us(histogram.value_at_quantile(0.90)),
            p99: us(histogram.value_at_quantile(0.99)),
            p999: us(histogram.value_at_quantile(0.999)),
            mean: (histogram.max() < ceiling).then(|| round3(histogram.mean() / 1000.0)),
        })
    }

    /// (latency in µs, quantile) at each of `quantiles`, for CDF plots; empty when nothing
    /// was recorded.
    pub fn quantile_curve(&self, quantiles: &[f64]) -> Vec<(f64, f64)> {
        let histogram = &self.histogram;
        if histogram.is_empty() {
            return Vec::new();
        }
        quantiles
            .iter()
            .map(|&q| (histogram.value_at_quantile(q) as f64 / 1000.0, q))
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
        let p = h.percentiles().unwrap();
        assert!((p.p50.unwrap() - 500.0).abs() <= 0.5, "{p:?}");
        assert!((p.p99.unwrap() - 990.0).abs() <= 1.0, "{p:?}");
        assert!((p.mean.unwrap() - 500.5).abs() <= 0.5, "{p:?}");
        let mut sum = h.clone();
        sum.add(&h);
        assert_eq!(sum.count(), 2000);
        assert_eq!(sum.percentiles(), Some(p));
    }

    #[test]
    fn added_latency_is_ordered_across_percentiles() {
        let p = |p50, p90, p99, p999, mean| Percentiles {
            p50: Some(p50),
            p90: Some(p90),
            p99: Some(p99),
            p999: Some(p999),
            mean: Some(mean),
        };
        // The eBPF run: 5.6 µs added at p99 but 5.1 µs at p99.9, as raw differences.
        let mesh = p(103.0, 150.0, 305.6, 405.1, 120.0);
        let base = p(100.0, 146.0, 300.0, 400.0, 116.5);
        let raw = mesh.minus(&base);
        assert_eq!((raw.p99, raw.p999), (Some(5.6), Some(5.1)));
        let added = mesh.added_over(&base);
        assert_eq!(
            [added.p50, added.p90, added.p99, added.p999],
            [Some(3.0), Some(4.0), Some(5.6), Some(5.6)]
        );
        assert_eq!(added.mean, Some(3.5));
        // Beyond range stays unknown, and so does every later percentile.
        let far = Percentiles {
            p99: None,
            p999: None,
            ..mesh
        };
        let added = far.added_over(&base);
        assert_eq!((added.p90, added.p99, added.p999), (Some(4.0), None, None));
    }

    #[test]
    fn nothing_recorded_has_no_percentiles_and_the_ceiling_is_beyond_range() {
        assert_eq!(LatencyHistogram::new().percentiles(), None);
        let mut h = LatencyHistogram::new();
        for _ in 0..98 {
            h.record_ns(1_000);
        }
        // 100 s is the ceiling; 10^4 s saturates into its bucket.
        h.record_ns(Bounds::PRECISE.high);
        h.record_ns(10_000 * Bounds::PRECISE.high);
        let p = h.percentiles().unwrap();
        assert_eq!(p.p50, Some(1.0));
        assert_eq!((p.p99, p.p999, p.mean), (None, None, None));
        let below = LatencyHistogram::new();
        let mut below = below;
        below.record_ns(Bounds::PRECISE.high / 2);
        assert!(below.percentiles().unwrap().p50.unwrap() > 49_000_000.0);
    }
}
