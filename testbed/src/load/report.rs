//! What a load run reports: throughput, errors and latency percentiles, each latency measured
//! from the request's intended send time, and the generator's own lateness and CPU.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::Arrivals;

/// Latency percentiles in µs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_us: f64,
    /// Absent in reports written before it was added.
    #[serde(default)]
    pub p75_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl Percentiles {
    /// From a histogram of nanoseconds; zeros when it is empty.
    pub fn of_ns(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Self {
            p50_us: us(histogram.value_at_quantile(0.50)),
            p75_us: us(histogram.value_at_quantile(0.75)),
            p90_us: us(histogram.value_at_quantile(0.90)),
            p99_us: us(histogram.value_at_quantile(0.99)),
            p999_us: us(histogram.value_at_quantile(0.999)),
            max_us: us(histogram.max()),
            mean_us: histogram.mean() / 1000.0,
        }
    }
}

/// Requests of the measured window that got no successful answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    /// Answered with a status outside 200–299.
    pub status: u64,
    /// The connection could not be made.
    pub connect: u64,
    /// The connection failed or closed while the request was on it, or the answer was not HTTP.
    pub io: u64,
    /// Not answered when the run ended (the drain after the last arrival).
    pub timeout: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.status + self.connect + self.io + self.timeout
    }
}

/// One run of the load generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub offered_rps: f64,
    pub arrivals: Arrivals,
    /// Keep-alive connections per target (0 with a new connection per request).
    pub connections: usize,
    pub new_connection_per_request: bool,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// The CPU the generator ran on (null: unpinned).
    pub cpu: Option<usize>,
    pub seed: u64,
    /// Requests whose intended send time fell in the measured window.
    pub scheduled: u64,
    /// Of those, answered with 2xx.
    pub completed: u64,
    /// Every answer of the run, warm-up and drain included (what the servers' CPU time over
    /// the whole run is divided by).
    pub answered: u64,
    pub errors: Errors,
    /// 2xx answers that arrived during the measured window, per second: what the system
    /// delivered, which falls below the offered rate once it cannot keep up.
    pub throughput_rps: f64,
    /// From each request's intended send time to its whole answer (2xx, measured window).
    pub latency_us: Percentiles,
    /// How late the generator itself dispatched requests after their intended time: its own
    /// overhead, part of the latency above.
    pub send_lag_us: Percentiles,
    /// The most requests waiting for a free keep-alive connection at once.
    pub queued_max: u64,
    /// The generator's CPU time (its thread) per answered request.
    pub generator_cpu_us_per_request: f64,
}
