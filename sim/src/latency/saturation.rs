//! Whether a run's load exceeds what its mesh serves, judged from the run itself rather than
//! from a utilisation threshold: a queue that is stable at 96% busy is not saturated, and one
//! offered 104% of its capacity is, even before it fills and drops.
//!
//! A proxy station is saturated when it dropped a call (its queue was full) or when the work
//! offered to it over the measured window was more than its workers could do in it: the
//! offered load is the work its workers started in the window plus the work by which its queue
//! grew (the change in waiting calls times the mean work of a visit), over workers × window.
//! Past capacity the workers never idle and the queue grows, so it is above 1; a stable queue
//! only fluctuates, so it reads its utilisation give or take a few waiting calls.
//!
//! The hosts' cores (where simulated) have no such count: there the run is saturated when the
//! calls in flight grow, the last quarter's mean more than [`GROWTH_FACTOR`] times, plus
//! [`GROWTH_SLACK`] calls, the first quarter's. Over a window shorter than a few relaxation
//! times of a queue near capacity (about 1 / (1 − √ρ)² service times) this can call a queue
//! still filling towards a stable level growing; the tests measure how often.

use serde::Serialize;

/// Busy at or past this fraction of the time: the `busy` band.
pub const BUSY_UTILISATION: f64 = 0.8;
/// How much the last quarter's mean must exceed the first quarter's to count as growth.
pub const GROWTH_FACTOR: f64 = 2.0;
/// Calls of growth that never count, so that a queue of a few calls is not called growing.
pub const GROWTH_SLACK: f64 = 8.0;
/// Samples taken over the measured window (plus one at its start).
pub const CHECKPOINTS: u64 = 64;

/// Work offered to a station over a window, as a fraction of what its workers could do in it:
/// `busy_ns` started, plus `queued_change` waiting calls of `mean_work_ns` each.
pub fn offered_load(
    busy_ns: u64,
    queued_change: i64,
    mean_work_ns: f64,
    workers: u32,
    window_ns: u64,
) -> f64 {
    let offered = busy_ns as f64 + queued_change as f64 * mean_work_ns;
    offered / (f64::from(workers.max(1)) * window_ns.max(1) as f64)
}

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
    /// Due at `start_ns`, then every 1/[`CHECKPOINTS`] of the window up to `end_ns`.
    pub fn new(start_ns: u64, end_ns: u64) -> Self {
        let step_ns = (end_ns.saturating_sub(start_ns) / CHECKPOINTS).max(1);
        Checkpoints {
            next_ns: start_ns,
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
    fn offered_load_counts_the_queue_s_growth_as_work() {
        // Two workers busy the whole second and 100 more calls of 2 ms waiting: 1.1.
        assert!((offered_load(2_000_000_000, 100, 2e6, 2, 1_000_000_000) - 1.1).abs() < 1e-12);
        // A queue that shrank gives back its work.
        assert!((offered_load(960_000_000, -10, 1e6, 1, 1_000_000_000) - 0.95).abs() < 1e-12);
    }

    #[test]
    fn checkpoints_fall_evenly_inside_the_window() {
        let mut c = Checkpoints::new(1_000, 1_000 + 64 * 10);
        let due: Vec<u64> = (0..2_000).filter(|&t| c.due(t)).collect();
        assert_eq!(due.len(), CHECKPOINTS as usize + 1);
        assert_eq!((due[0], due[64]), (1_000, 1_640));
    }
}
