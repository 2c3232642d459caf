//! Whether a run's load exceeds what its mesh serves, judged from the run itself rather than
//! from a utilisation threshold: a queue that is stable at 96% busy is not saturated, and one
//! that grows at 90% (bursts, fair queueing, a slow tail) is.
//!
//! A run is saturated when a proxy dropped a call (its queue was full) or when what waits grows
//! over the measured window: the mean of the calls in flight (or of a proxy kind's waiting
//! calls) over the window's last quarter is more than [`GROWTH_FACTOR`] times, plus
//! [`GROWTH_SLACK`] calls, its mean over the first quarter. A queue past capacity grows
//! linearly, so its last-quarter mean is about seven times its first-quarter mean; a stable
//! queue's two means differ by its fluctuation, which the factor and the slack leave room for
//! (the tests check both sides on a single M/M/1 station at 96% and 104%).

use serde::Serialize;

/// Busy at or past this fraction of the time: the `busy` band.
pub const BUSY_UTILISATION: f64 = 0.8;
/// How much the last quarter's mean must exceed the first quarter's to count as growth.
pub const GROWTH_FACTOR: f64 = 2.0;
/// Calls of growth that never count, so that a queue of a few calls is not called growing.
pub const GROWTH_SLACK: f64 = 8.0;
/// Samples taken over the measured window.
pub const CHECKPOINTS: u64 = 64;

/// The first and last quarter's mean of a quantity sampled over the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct InFlightTrend {
    pub first_quarter_mean: f64,
    pub last_quarter_mean: f64,
}

impl InFlightTrend {
    /// From samples evenly spaced over the window, in order.
    pub fn of(samples: &[u32]) -> InFlightTrend {
        let quarter = (samples.len() / 4).max(1).min(samples.len());
        let mean = |s: &[u32]| {
            if s.is_empty() {
                0.0
            } else {
                s.iter().map(|&v| f64::from(v)).sum::<f64>() / s.len() as f64
            }
        };
        InFlightTrend {
            first_quarter_mean: mean(&samples[..quarter]),
            last_quarter_mean: mean(&samples[samples.len() - quarter..]),
        }
    }

    pub fn grows(&self) -> bool {
        self.last_quarter_mean > GROWTH_FACTOR * self.first_quarter_mean + GROWTH_SLACK
    }
}

/// Samples taken as the run passes evenly spaced times of the measured window.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    next_ns: u64,
    step_ns: u64,
    end_ns: u64,
}

impl Checkpoints {
    pub fn new(start_ns: u64, end_ns: u64) -> Self {
        let step_ns = (end_ns.saturating_sub(start_ns) / CHECKPOINTS).max(1);
        Checkpoints {
            next_ns: start_ns + step_ns,
            step_ns,
            end_ns,
        }
    }

    /// Whether a sample is due at `now` (at most one per event: the loop's events are far
    /// denser than the checkpoints).
    #[inline]
    pub fn due(&mut self, now: u64) -> bool {
        if now < self.next_ns || self.next_ns > self.end_ns {
            return false;
        }
        self.next_ns += self.step_ns;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_growth_is_growth_and_a_level_queue_is_not() {
        let growing: Vec<u32> = (0..64).map(|i| i * 3).collect();
        assert!(InFlightTrend::of(&growing).grows());
        let level: Vec<u32> = (0..64).map(|i| 40 + (i * 7) % 13).collect();
        assert!(!InFlightTrend::of(&level).grows());
        // A handful of calls is never growth.
        let small: Vec<u32> = (0..64).map(|i| u32::from(i > 48) * 6).collect();
        assert!(!InFlightTrend::of(&small).grows());
        assert_eq!(InFlightTrend::of(&[]), InFlightTrend::default());
    }

    #[test]
    fn checkpoints_fall_evenly_inside_the_window() {
        let mut c = Checkpoints::new(1_000, 1_000 + 64 * 10);
        let due: Vec<u64> = (0..2_000).filter(|&t| c.due(t)).collect();
        assert_eq!(due.len(), CHECKPOINTS as usize);
        assert_eq!((due[0], due[63]), (1_010, 1_640));
    }
}
