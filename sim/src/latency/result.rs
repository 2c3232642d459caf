//! What one latency simulation reports (merged into each architecture's JSON item; the
//! schema is in docs/output.md).

use crate::engine::{LatencyHistogram, Percentiles};
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencyResult {
    /// End to end, for requests from outside the mesh, in µs; `None` (`null`) when no request
    /// was measured.
    pub latency_us: Option<Percentiles>,
    /// What the mesh adds: each percentile minus the baseline's (no mesh) same percentile,
    /// raised where needed to the one before it (see [`Percentiles::added_over`]): a
    /// difference of percentiles, not a percentile of per-request differences.
    pub added_latency_us: Option<Percentiles>,
    /// Every hop, the entry hop and service-to-service hops together (request path plus
    /// response path, without the callee's own work and calls). Kept for existing readers:
    /// `entry_hop_latency_us` and `service_hop_latency_us` say which hop is which.
    pub hop_latency_us: Option<Percentiles>,
    pub added_hop_latency_us: Option<Percentiles>,
    /// The hop from outside the mesh to the entry service (one proxy where proxies are
    /// per pod or per node: the destination's).
    pub entry_hop_latency_us: Option<Percentiles>,
    pub added_entry_hop_latency_us: Option<Percentiles>,
    /// One service-to-service hop (the caller's proxy and the callee's).
    pub service_hop_latency_us: Option<Percentiles>,
    pub added_service_hop_latency_us: Option<Percentiles>,
    /// Requests from outside the mesh started in the measured window.
    pub requests: u64,
    /// Service-to-service calls completed (the entry requests not counted).
    pub calls: u64,
    /// Requests that lost a call to a full proxy queue.
    pub dropped: u64,
    /// Requests slower end to end than `latency.timeout_ms`.
    pub timed_out: u64,
    /// Entry requests completed per simulated second (the same figure as
    /// `entry_rps_completed`, kept for existing readers).
    pub throughput_rps: f64,
    /// Entry requests (from outside the mesh) completed per simulated second, where the
    /// scenario's `rps_served_by_pods` sums what every pod serves.
    pub entry_rps_completed: f64,
    /// A proxy or a host's cores were busy at least 80% of the time
    /// ([`super::saturation::BUSY_UTILISATION`]).
    pub busy: bool,
    /// The simulation showed the load past capacity: requests dropped, a proxy was offered
    /// more work than its workers could do, or the calls in flight grew over the measured
    /// window ([`super::saturation`]).
    pub saturated: bool,
    /// The calls in flight over the measured window, what `saturated` is judged from.
    pub in_flight: InFlightTrend,
    pub proxies: Vec<StationKindLatency>,
    /// Where cores are simulated: how busy the hosts' cores were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<CoreUtilisation>,
    pub per_service: Vec<ServiceLatency>,
    /// End to end by `[[request]]` type (absent without request types).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_request_type: Vec<RequestTypeLatency>,
    /// The request type with the highest end-to-end p99: what an SLO is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_p99_request_type: Option<String>,
    /// Events the engine processed, and the wall time it took (the only fields that vary from
    /// run to run with the same seed).
    pub events: u64,
    pub wall_seconds: f64,
    #[serde(skip)]
    pub end_to_end: LatencyHistogram,
    #[serde(skip)]
    pub hop: LatencyHistogram,
    #[serde(skip)]
    pub entry_hop: LatencyHistogram,
    #[serde(skip)]
    pub service_hop: LatencyHistogram,
}

pub use super::saturation::InFlightTrend;

/// The hosts' cores over a run, where the scenario simulates them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoreUtilisation {
    /// The busiest host's cores: busy time over cores × run time.
    pub utilisation_max: f64,
    pub utilisation_mean: f64,
    /// Cores busy on average, over every host.
    pub cores_busy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StationKindLatency {
    pub kind: &'static str,
    pub stations: u64,
    pub visits: u64,
    /// Queueing plus service at one visit, in µs (`None` without visits).
    pub latency_us: Option<Percentiles>,
    pub utilisation_max: f64,
    /// The largest offered load of one station of this kind over the measured window: work
    /// started plus the queue's growth in work, over workers × window
    /// ([`super::saturation::offered_load`]); 1 or more is past capacity.
    pub offered_load_max: f64,
    pub utilisation_mean: f64,
    /// `saturated` (dropped calls, or offered load at or past 1), `busy` (a station busy at
    /// least 80% of the time) or `ok`.
    pub band: &'static str,
    pub dropped: u64,
    pub max_queued: u32,
}

/// One request type's requests end to end, from entering the mesh to the response leaving it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestTypeLatency {
    pub name: String,
    /// Requests of this type started in the measured window.
    pub requests: u64,
    /// Of them, those that lost a call to a full proxy queue.
    pub dropped: u64,
    /// In µs, over the requests not dropped (`None` without any).
    pub latency_us: Option<Percentiles>,
    /// What the mesh adds: each percentile minus the baseline's for the same type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_latency_us: Option<Percentiles>,
}

impl RequestTypeLatency {
    /// The type with the highest p99 (the first of equals), if any type has one.
    pub fn worst_p99(types: &[RequestTypeLatency]) -> Option<String> {
        types
            .iter()
            .filter_map(|t| Some((t, t.latency_us?.p99?)))
            .fold(
                None,
                |worst: Option<(&RequestTypeLatency, f64)>, (t, p99)| match worst {
                    Some((_, w)) if w >= p99 => worst,
                    _ => Some((t, p99)),
                },
            )
            .map(|(t, _)| t.name.clone())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceLatency {
    pub name: String,
    pub calls: u64,
    /// From the caller's send to the response back at the caller, in µs.
    pub latency_us: Option<Percentiles>,
}
