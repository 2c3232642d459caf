//! What `[latency]` asks of the simulation: how long to run, how proxies serve and queue, and
//! when a request counts as timed out or dropped.

use crate::engine::{Distribution, Scheduling};
use serde::{Deserialize, Serialize};

/// `[latency]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyOptions {
    /// Run the discrete-event simulation at all (the capacity model always runs).
    pub enabled: bool,
    /// Simulated time during which requests arrive, after the warm-up.
    pub duration_s: f64,
    /// Simulated time before measurement starts (queues fill to their steady state).
    pub warmup_s: f64,
    pub service_time: ServiceTimeKind,
    pub schedulings: Vec<Scheduling>,
    /// A request that takes longer than this end to end is counted as timed out.
    pub timeout_ms: f64,
    /// Requests waiting at one proxy beyond this are dropped.
    pub max_queue: u32,
    /// Measured service-time histograms that replace the parametric distributions.
    pub envoy_histogram: Option<Distribution>,
    pub ztunnel_histogram: Option<Distribution>,
}

/// What a `[latency]` key is when the file leaves it out (docs/config.md lists the same; a
/// test holds the two together). The service-time shape and the scheduling default to their
/// `#[default]` variants.
impl LatencyOptions {
    pub const DEFAULT_ENABLED: bool = true;
    pub const DEFAULT_DURATION_S: f64 = 10.0;
    pub const DEFAULT_WARMUP_S: f64 = 1.0;
    /// Envoy's route timeout.
    pub const DEFAULT_TIMEOUT_MS: f64 = 15_000.0;
    /// Envoy's circuit breaker's `max_pending_requests`.
    pub const DEFAULT_MAX_QUEUE: u32 = 1024;
}

/// The shape of proxy service times around the models' means.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceTimeKind {
    #[default]
    Lognormal,
    Exponential,
    Deterministic,
}
