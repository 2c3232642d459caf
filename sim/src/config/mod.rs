//! Scenario files: `raw` is the file as written (serde, unknown keys rejected with their
//! location), `resolve` checks meaning and builds the `Scenario` the models run on.

pub mod histogram_file;
pub mod raw;
pub mod resolve;

use crate::cluster::Cluster;
use crate::config::raw::{
    ArrivalKind, CallMode, Interception, LocalAcceleration, MicroProxyPlacement, PayloadKind,
    ServiceTimeKind, WaypointScope,
};
use crate::cost_model::ModelSet;
use crate::engine::{Distribution, Scheduling};
use crate::mesh::{Architecture, Scoping};
use serde::Serialize;
use std::path::PathBuf;

pub use resolve::{load, load_str, LoadOptions};

/// The 500 nodes × 30 pods reference cluster, run when `sim run` is given no file.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/reference-500x30.toml");
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/reference-500x30.toml (embedded)";

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// The file it came from, as given.
    pub file: PathBuf,
    pub seed: u64,
    pub cluster: Cluster,
    pub traffic: Traffic,
    pub mesh: MeshOptions,
    pub models: ModelSet,
    pub latency: LatencyOptions,
}

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Traffic {
    /// Default requests per second each pod serves (services may override).
    pub rps_per_pod: f64,
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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshOptions {
    pub architectures: Vec<Architecture>,
    pub scopings: Vec<Scoping>,
    pub interception: Interception,
    pub local_acceleration: LocalAcceleration,
    pub micro_proxy: MicroProxyPlacement,
    pub waypoint_scope: WaypointScope,
    pub waypoint_replicas: u32,
}
