//! The discrete-event core: simulated time in integer nanoseconds, an event queue that pops
//! equal times first-in first-out, the random distributions service and network times are
//! drawn from, multi-worker queueing stations and latency histograms. No I/O here: the mesh
//! model (`crate::latency`) drives it, tests drive it directly.
//!
//! ```
//! use sim::engine::{EventQueue, SimTime};
//! let mut queue = EventQueue::new();
//! queue.schedule(SimTime(20), "second");
//! queue.schedule(SimTime(10), "first");
//! queue.schedule(SimTime(20), "third");
//! assert_eq!(queue.pop(), Some((SimTime(10), "first")));
//! assert_eq!(queue.pop(), Some((SimTime(20), "second"))); // equal times: FIFO
//! assert_eq!(queue.pop(), Some((SimTime(20), "third")));
//! ```

pub mod distribution;
pub mod histogram;
pub mod histogram_set;
pub mod jitter;
pub mod prefetch;
pub mod queue;
pub mod station;

pub use distribution::Distribution;
pub use histogram::{Bounds, LatencyHistogram, Percentiles};
pub use histogram_set::HistogramSet;
pub use queue::EventQueue;
pub use station::{Scheduling, Station};

/// Simulated time in nanoseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime((s * 1e9).round() as u64)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// This time plus a duration in nanoseconds (rounded, never negative).
    pub fn after(self, ns: f64) -> SimTime {
        SimTime(self.0 + round_ns(ns))
    }
}

/// A duration in nanoseconds rounded to a whole number: adding 0.5 rounds without a libm
/// call; negatives and NaN give 0, durations past 2^63 ns (292 years) give 2^63 - 1. The
/// conversion goes through `i64`, one instruction on x86-64 where `u64`'s takes a dozen (no
/// unsigned conversion before AVX-512), and the event loop converts several times per event.
#[inline]
pub fn round_ns(ns: f64) -> u64 {
    ((ns + 0.5) as i64).max(0) as u64
}

/// The simulation's random generator: fast, and the same sequence on every platform.
pub type SimRng = rand_xoshiro::Xoshiro256PlusPlus;
