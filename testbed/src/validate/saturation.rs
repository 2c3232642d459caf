//! Saturation, defined once for the testbed and the simulator: the highest total rate at which
//! a run is *sustained*:
//!
//! - it delivers at least [`KEEP_UP`] of the offered rate over the measured window,
//! - at most [`MAX_ERRORS`] of its requests fail (errors, drops, timeouts), and
//! - its p99 stays under a bound (`--p99-bound-ms`, 100 ms by default): an overloaded queue
//!   grows for the whole window, so its p99 runs to the window's length, far above any bound
//!   a sustained run comes near.
//!
//! The search doubles the rate from a start until a run is not sustained, then bisects
//! between the last sustained and the first failed rate until they are within
//! [`RESOLUTION`] of each other; the saturation is the last sustained rate.

use serde::{Deserialize, Serialize};

/// Delivered over offered throughput a sustained run keeps.
pub const KEEP_UP: f64 = 0.95;
/// Failed requests a sustained run may have, as a fraction of its requests.
pub const MAX_ERRORS: f64 = 0.01;
/// The bisection stops when the failed rate is within this factor of the sustained one.
pub const RESOLUTION: f64 = 1.1;

/// What the definition looks at in one run, measured or simulated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub rate: f64,
    pub throughput_rps: f64,
    pub error_fraction: f64,
    pub p99_us: f64,
    pub sustained: bool,
}

impl Probe {
    pub fn new(
        rate: f64,
        throughput_rps: f64,
        error_fraction: f64,
        p99_us: f64,
        p99_bound_us: f64,
    ) -> Self {
        let sustained = throughput_rps >= KEEP_UP * rate
            && error_fraction <= MAX_ERRORS
            && p99_us <= p99_bound_us;
        Self {
            rate,
            throughput_rps,
            error_fraction,
            p99_us,
            sustained,
        }
    }
}

/// A search's result: the saturation rate (none when even the start failed or the cap
/// held) and every probe it ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    pub rate: Option<f64>,
    /// The search stopped at the cap while still sustained: the saturation is above it.
    pub above_cap: bool,
    pub probes: Vec<Probe>,
}

/// Searches with `probe(rate)` from `start` up to `cap`.
pub fn search<E>(
    start: f64,
    cap: f64,
    mut probe: impl FnMut(f64) -> Result<Probe, E>,
) -> Result<Saturation, E> {
    let mut result = Saturation::default();
    let mut low: Option<f64> = None;
    let mut rate = start;
    // Doubling, up to the first rate that is not sustained.
    let high = loop {
        let p = probe(rate)?;
        let sustained = p.sustained;
        result.probes.push(p);
        if sustained {
            low = Some(rate);
            if rate >= cap {
                result.above_cap = true;
                result.rate = low;
                return Ok(result);
            }
            rate = (rate * 2.0).min(cap);
        } else {
            break rate;
        }
    };
    let Some(mut lo) = low else {
        // Even the start failed: halve down a few times to find a sustained rate.
        let mut rate = start / 2.0;
        for _ in 0..4 {
            let p = probe(rate)?;
            let sustained = p.sustained;
            result.probes.push(p);
            if sustained {
                result.rate = Some(rate);
                return Ok(result);
            }
            rate /= 2.0;
        }
        return Ok(result);
    };
    let mut hi = high;
    while hi / lo > RESOLUTION {
        let mid = (lo * hi).sqrt();
        let p = probe(mid)?;
        let sustained = p.sustained;
        result.probes.push(p);
        if sustained {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    result.rate = Some(lo);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(capacity: f64) -> impl FnMut(f64) -> Result<Probe, ()> {
        move |rate| {
            let delivered = rate.min(capacity);
            let p99 = if rate < capacity {
                1_000.0
            } else {
                5_000_000.0
            };
            Ok(Probe::new(rate, delivered, 0.0, p99, 100_000.0))
        }
    }

    #[test]
    fn the_search_finds_the_capacity_within_its_resolution() {
        let found = search(500.0, 100_000.0, system(7_300.0)).unwrap();
        let rate = found.rate.unwrap();
        assert!(rate <= 7_300.0 && rate * RESOLUTION >= 7_300.0, "{found:?}");
        assert!(!found.above_cap);
    }

    #[test]
    fn a_cap_and_a_failing_start_are_reported() {
        let found = search(500.0, 4_000.0, system(1e9)).unwrap();
        assert!(found.above_cap);
        assert_eq!(found.rate, Some(4_000.0));
        let found = search(500.0, 4_000.0, system(200.0)).unwrap();
        assert_eq!(found.rate, Some(125.0));
        let found = search(500.0, 4_000.0, system(1.0)).unwrap();
        assert_eq!(found.rate, None);
    }

    #[test]
    fn errors_or_a_long_tail_are_not_sustained() {
        assert!(!Probe::new(1000.0, 1000.0, 0.02, 10.0, 100.0).sustained);
        assert!(!Probe::new(1000.0, 1000.0, 0.0, 101.0, 100.0).sustained);
        assert!(!Probe::new(1000.0, 940.0, 0.0, 10.0, 100.0).sustained);
        assert!(Probe::new(1000.0, 960.0, 0.005, 99.0, 100.0).sustained);
    }
}
