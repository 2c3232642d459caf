//! The load a scenario puts on the mesh: request rates, payloads, connection reuse, how
//! requests from outside arrive and how a service issues its calls. `[traffic]` sets these for
//! every service; a `[[service]]` entry may override the rate, call mode, arrivals and
//! application time (`crate::cluster::Service` carries each service's own).

use serde::{Deserialize, Serialize};

/// `[traffic]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Traffic {
    /// Default requests per second each pod serves (services may override).
    pub rps_per_pod: f64,
    /// Multiplies every rate of the scenario (applied to each service's rate when the
    /// scenario is resolved; kept here to be reported).
    pub scale: f64,
    pub payload_bytes: u64,
    /// Persistent connections (pooled) rather than a new connection per request.
    pub connection_reuse: bool,
    /// With reuse: connections each pool keeps per upstream.
    pub connections_per_upstream: u32,
    /// Without reuse: how long one request's connection stays open.
    pub connection_lifetime_ms: f64,
    pub arrivals: ArrivalKind,
    pub burst_on_ms: f64,
    pub burst_off_ms: f64,
    pub payload: PayloadKind,
    pub call_mode: CallMode,
    pub app_time_us: f64,
    /// Where cores are simulated: the application's time is spent on a core (a computation)
    /// rather than waiting (for a disk, a database outside the mesh).
    pub app_time_on_cpu: bool,
}

/// What a `[traffic]` key is when the file leaves it out (docs/config.md lists the same; a
/// test holds the two together). The enums' defaults are their `#[default]` variants.
impl Traffic {
    pub const DEFAULT_RPS_PER_POD: f64 = 10.0;
    pub const DEFAULT_SCALE: f64 = 1.0;
    pub const DEFAULT_PAYLOAD_BYTES: u64 = 1024;
    pub const DEFAULT_CONNECTION_REUSE: bool = true;
    pub const DEFAULT_CONNECTIONS_PER_UPSTREAM: u32 = 1;
    pub const DEFAULT_CONNECTION_LIFETIME_MS: f64 = 5.0;
    pub const DEFAULT_BURST_ON_MS: f64 = 100.0;
    pub const DEFAULT_BURST_OFF_MS: f64 = 900.0;
    pub const DEFAULT_APP_TIME_US: f64 = 0.0;
    pub const DEFAULT_APP_TIME_ON_CPU: bool = false;
}

/// How a client workload's requests arrive.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalKind {
    /// Exponential gaps at the configured rate.
    #[default]
    Poisson,
    /// Evenly spaced at the configured rate.
    Constant,
    /// On/off: Poisson during `burst_on_ms` at the rate that keeps the mean, silent during
    /// `burst_off_ms`.
    Bursty,
}

/// Where the requests of a service nobody in the mesh calls come from.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Clients outside the mesh: a request meets only the destination side of the mesh
    /// (the service's sidecar, its node's proxy or micro proxy, its waypoint).
    #[default]
    Outside,
    /// A load generator inside each pod of the service (as fortio runs in Istio's benchmark):
    /// a request starts in the application, with no hop before it.
    InPod,
}

/// How payload sizes vary around `payload_bytes`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadKind {
    /// Every request and response carries `payload_bytes`.
    #[default]
    Fixed,
    /// Exponentially distributed sizes with mean `payload_bytes`.
    Exponential,
}

/// How a service issues its calls to the services it calls.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallMode {
    /// One after the other; the response waits for the last.
    #[default]
    Sequential,
    /// All at once (fan-out); the response waits for the slowest.
    Parallel,
}
