//! Axes people read: latency in the unit its size asks for (µs, ms or s, never "5000.0"), and
//! a percentile axis stretched at the tail, where the decisions are (p99 and p99.9 would share
//! the top 1% of a linear axis).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use std::ops::Range;

/// The unit a latency axis shows, chosen from the largest value on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyUnit {
    pub name: &'static str,
    /// Microseconds per unit.
    pub us: f64,
}

impl LatencyUnit {
    /// The largest unit in which `max_us` is at least 2: 1,500 µs stays µs, 2,000 µs is 2 ms.
    pub fn for_max(max_us: f64) -> LatencyUnit {
        if max_us >= 2_000_000.0 {
            LatencyUnit {
                name: "s",
                us: 1_000_000.0,
            }
        } else if max_us >= 2_000.0 {
            LatencyUnit {
                name: "ms",
                us: 1_000.0,
            }
        } else {
            LatencyUnit {
                name: "µs",
                us: 1.0,
            }
        }
    }
}

/// A tick value with as few digits as it needs: 5000 → "5000", 2.5 → "2.5", 0.25 → "0.25".
pub fn axis_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

/// Where quantile `q` sits on the tail axis.
pub fn tail_position(quantile: f64) -> f64 {
    -(1.0 - quantile).log10()
}

/// The quantile at a tail-axis position: the inverse of [`tail_position`].
pub fn quantile_at(position: f64) -> f64 {
    1.0 - 10f64.powf(-position)
}

/// Quantiles evenly spaced on the tail axis from p0 to `top` (p99.99 at 4).
pub fn tail_quantiles(top: f64, points: usize) -> Vec<f64> {
    (0..=points)
        .map(|i| quantile_at(top * i as f64 / points as f64))
        .collect()
}

/// The label of a tail-axis position: "p50", "p99.9".
pub fn percentile_label(position: &f64) -> String {
    let percent = 100.0 * quantile_at(*position);
    // Rounded to the digits the axis's marks have (p99.99 has four nines).
    let digits = (position.ceil() as usize).saturating_sub(2);
    let text = format!("{percent:.digits$}");
    format!("p{text}")
}

/// The fraction of requests on the y axis as `-log10(1 - q)`: p0 at 0, p90 at 1, p99 at 2,
/// p99.9 at 3, p99.99 at 4, with marks at those and at the median.
#[derive(Debug, Clone, Copy)]
pub struct TailAxis {
    pub top: f64,
}

impl TailAxis {
    /// p99.99: four nines.
    pub const P9999: TailAxis = TailAxis { top: 4.0 };
}

impl Ranged for TailAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value / self.top).clamp(0.0, 1.0);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        [0.0, tail_position(0.5), 1.0, 2.0, 3.0, 4.0]
            .into_iter()
            .filter(|&p| p <= self.top + 1e-9)
            .collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.top
    }
}

/// A log axis whose marks are 1, 2 and 5 times powers of ten (only the powers of ten when
/// those would crowd it): plotters' own log axis leaves whole decades unmarked and crowds the
/// last one ("700800").
#[derive(Debug, Clone, Copy)]
pub struct LogAxis {
    pub low: f64,
    pub high: f64,
}

impl LogAxis {
    /// Marks at most this many.
    const MARKS: usize = 12;

    pub fn new(low: f64, high: f64) -> Self {
        let low = low.max(f64::MIN_POSITIVE);
        LogAxis {
            low,
            high: high.max(low * 1.0001),
        }
    }

    fn marks(&self, multiples: &[f64]) -> Vec<f64> {
        let first = self.low.log10().floor() as i32;
        let last = self.high.log10().ceil() as i32;
        (first..=last)
            .flat_map(|e| multiples.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= self.low * (1.0 - 1e-9) && *v <= self.high * (1.0 + 1e-9))
            .collect()
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = (self.high / self.low).ln();
        let fraction = (value.max(self.low * 1e-3) / self.low).ln() / span;
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        for multiples in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0], &[1.0]] {
            let marks = self.marks(multiples);
            if marks.len() <= Self::MARKS {
                return marks;
            }
        }
        self.marks(&[1.0])
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_with_the_values() {
        assert_eq!(LatencyUnit::for_max(1_500.0).name, "µs");
        assert_eq!(LatencyUnit::for_max(5_000.0).name, "ms");
        assert_eq!(LatencyUnit::for_max(3e6).name, "s");
        assert_eq!(axis_number(5000.0), "5000");
        assert_eq!(axis_number(2.5), "2.5");
        assert_eq!(axis_number(0.25), "0.25");
        assert_eq!(axis_number(0.0), "0");
    }

    #[test]
    fn the_log_axis_marks_every_decade_without_crowding() {
        let marks = |low, high| LogAxis::new(low, high).key_points(10usize);
        assert_eq!(marks(8.0, 800.0), [10.0, 20.0, 50.0, 100.0, 200.0, 500.0]);
        let wide = marks(0.02, 9000.0);
        assert!(
            wide.len() <= 12 && wide.contains(&1.0) && wide.contains(&1000.0),
            "{wide:?}"
        );
        let axis = LogAxis::new(10.0, 1000.0);
        assert_eq!(axis.map(&100.0, (0, 200)), 100);
    }

    #[test]
    fn the_tail_axis_marks_the_percentiles_people_quote() {
        let labels: Vec<String> = TailAxis::P9999
            .key_points(5usize)
            .iter()
            .map(percentile_label)
            .collect();
        assert_eq!(labels, ["p0", "p50", "p90", "p99", "p99.9", "p99.99"]);
        assert!((quantile_at(tail_position(0.999)) - 0.999).abs() < 1e-12);
        let q = tail_quantiles(4.0, 200);
        assert_eq!(q.len(), 201);
        assert!(q.windows(2).all(|w| w[0] < w[1]));
        // Half the points are past p99: the tail gets as much of the curve as the body.
        assert_eq!(q.iter().filter(|&&q| q >= 0.99 - 1e-12).count(), 101);
    }
}
