//! What a run will cost, from the scenario alone and before anything runs: calls per request,
//! events, wall time and memory, in closed forms over the call graph (no simulation, no loop
//! over pods or requests). `config::resolve` refuses a scenario past the budget below with the
//! figures that put it there; `commands` prints the estimate of a run expected to be long.
//!
//! - Calls per request: a call to `s` makes `k(s→c)` calls to each callee `c` (`⌊k⌋`, plus
//!   one with probability `k − ⌊k⌋`; `k` is the call graph's count per request), so a request
//!   to `s` makes `1 + Σ k·calls(c)` calls on average, computed callees first.
//! - Events of one run: every pod serves its rate by construction, so calls arrive at
//!   `Σ rps_per_pod × replicas` per second; each costs one event for its response and two per
//!   proxy it visits (reach, served), and every request from outside one more (its arrival),
//!   for warm-up plus duration.
//! - Memory: the cluster, then per run its stations, histograms, packed tables and the calls
//!   in flight (Little's law: each service's call rate × the time a call to it stays open,
//!   without queueing); runs going at once share the machine.

use crate::capacity::load::ServiceLoad;
use crate::capacity::uproxy::waypoint_groups;
use crate::config::Scenario;
use crate::engine::histogram::Bounds;
use crate::engine::{HistogramSet, Station};
use crate::latency::world::CALL_BYTES;
use crate::latency::{Job, Mesh};
use crate::mesh::{Architecture, MicroProxyPlacement};
use crate::product::Product;
use crate::request_path::{self, PathKind};

/// The most calls one request may make on average: the work of one request, and of the calls
/// a proxy-less run walks (and holds) at once when it arrives. (The most it can make, every
/// repeat count rounded up, is no measure: a chain of calls made 0.3 times each rounds up to
/// one call each, which multiplies past millions where the mean is a few dozen.)
pub const MAX_CALLS_PER_REQUEST: f64 = 1e6;
/// The most events one simulation run may process: about half an hour at
/// [`EVENTS_PER_SECOND`].
pub const MAX_EVENTS_PER_RUN: f64 = 1e10;
/// The most memory a run of `sim` may take, the cluster and the simulations going at once.
pub const MEMORY_BUDGET_BYTES: f64 = 4.0 * (1u64 << 30) as f64;
/// Events one simulation thread processes per second on a small cluster: 4.7–6.3 M alone on
/// this project's machine (`sim run --threads 1 --format json` on the reference cluster,
/// release build: `events` / `wall_seconds`), 3.2–5 M with two runs at once (`sim run
/// --duration 30` took 13.6 s for 8.8 × 10^7 events on a busy machine, `sim run` 1.6 s for
/// 3.1 × 10^7 on a quiet one). Larger clusters miss the cache more: see [`events_per_second`].
pub const EVENTS_PER_SECOND: f64 = 5e6;
/// Pods at which the rate has halved: 5,000 nodes × 100 pods ran 1.9 × 10^8 events in 63 s on
/// two threads (1.5 M per thread per second).
const PODS_HALVING_THE_RATE: f64 = 200_000.0;
/// What a `sim` process takes before it holds anything (binary, threads, allocator): 19.6 MB
/// peak for the reference cluster, of which its data is about 9 MB.
const PROCESS_BYTES: f64 = 10e6;
/// A run expected to take longer than this prints its estimate first (the quick start's
/// reference run, about 2 s, does not).
pub const ANNOUNCE_AFTER_SECONDS: f64 = 5.0;

/// The cluster's own memory, per pod, service, call and node (`sim run --no-latency` peak RSS:
/// 50 M pods of 1,000 services took 0.68 GB; a million services with ten calls each on 10 M
/// pods, 0.82 GB).
const CLUSTER_BYTES_PER_POD: f64 = 14.0;
const CLUSTER_BYTES_PER_SERVICE: f64 = 300.0;
const CLUSTER_BYTES_PER_CALL: f64 = 40.0;
const CLUSTER_BYTES_PER_NODE: f64 = 100.0;
/// The capacity model's time per pod (12 s for 50 M pods, the same measurement).
const CAPACITY_SECONDS_PER_POD: f64 = 2.5e-7;
/// A pending event in the queue: time, sequence and event.
const EVENT_BYTES: f64 = 32.0;

/// The cost of the capacity model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityEstimate {
    pub seconds: f64,
    pub memory_bytes: f64,
}

pub fn capacity(scenario: &Scenario) -> CapacityEstimate {
    let c = &scenario.cluster;
    let calls = c.call_graph.calls() as f64;
    CapacityEstimate {
        seconds: c.pods() as f64 * CAPACITY_SECONDS_PER_POD,
        memory_bytes: PROCESS_BYTES
            + c.pods() as f64 * CLUSTER_BYTES_PER_POD
            + c.services.len() as f64 * CLUSTER_BYTES_PER_SERVICE
            + calls * CLUSTER_BYTES_PER_CALL
            + c.nodes() as f64 * CLUSTER_BYTES_PER_NODE,
    }
}

/// Calls one request makes, by the service it enters at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallsPerRequest {
    /// The entry service whose requests make the most calls.
    pub service: u32,
    /// With request types: the type whose requests make the most calls.
    pub request_type: Option<u32>,
    pub mean: f64,
}

/// The entry service (one nobody in the mesh calls) whose requests make the most calls on
/// average.
pub fn calls_per_request(scenario: &Scenario) -> Option<CallsPerRequest> {
    let cluster = &scenario.cluster;
    if let Some(requests) = &cluster.requests {
        // A request's calls: every node of its tree, each as often as it is called.
        let mut per_type = vec![0.0f64; requests.types.len()];
        for (&mean, t) in requests.mean_calls().iter().zip(requests.node_types()) {
            per_type[t as usize] += mean;
        }
        return (0..per_type.len())
            .max_by(|&a, &b| per_type[a].total_cmp(&per_type[b]))
            .map(|t| CallsPerRequest {
                service: requests.nodes[requests.types[t].root as usize].service,
                request_type: Some(t as u32),
                mean: per_type[t],
            });
    }
    let load = ServiceLoad::new(cluster, 1);
    let order = cluster
        .call_graph
        .callees_first()
        .expect("a checked call graph has no cycle");
    let services = &cluster.services;
    let mut mean = vec![1.0f64; services.len()];
    for s in order {
        let g = &cluster.call_graph;
        for (&c, &k) in g.callees(s).iter().zip(g.per_request(s)) {
            mean[s as usize] += k * mean[c as usize];
        }
    }
    (0..services.len())
        .filter(|&s| load.caller_pods[s] == 0)
        .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))
        .map(|s| CallsPerRequest {
            service: s as u32,
            request_type: None,
            mean: mean[s],
        })
}

/// The cost of the latency simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyEstimate {
    pub runs: usize,
    /// Runs going at once.
    pub parallel: usize,
    pub events_total: f64,
    /// The run with the most events, and how many.
    pub busiest_run: Job,
    pub events_busiest_run: f64,
    /// Calls in flight in the run with the most, without queueing.
    pub calls_in_flight: f64,
    pub seconds: f64,
    /// The simulations' memory at their peak, the cluster's not included.
    pub memory_bytes: f64,
}

/// The latency simulation's cost with `threads` simulation threads.
pub fn latency(scenario: &Scenario, jobs: &[Job], threads: usize) -> LatencyEstimate {
    let cluster = &scenario.cluster;
    let load = ServiceLoad::new(cluster, 1);
    let services = &cluster.services;
    let calls_per_second: f64 = services
        .iter()
        .map(|s| s.rps_per_pod * s.replicas as f64)
        .sum();
    let external_per_second: f64 = match &cluster.requests {
        Some(requests) => requests.types.iter().map(|t| t.rate).sum(),
        None => services
            .iter()
            .zip(&load.caller_pods)
            .filter(|(_, &callers)| callers == 0)
            .map(|(s, _)| s.rps_per_pod * s.replicas as f64)
            .sum(),
    };
    let seconds_simulated = scenario.latency.warmup_s + scenario.latency.duration_s;
    let in_flight = calls_in_flight(scenario);
    let shared_bytes = (cluster.pods() * 12 + services.len() * 32) as f64
        + cluster.call_graph.calls() as f64 * 16.0
        // One histogram per service, and end to end, three hops and five proxy kinds.
        + (services.len() + 9) as f64 * HistogramSet::bytes_per_member(Bounds::PRECISE) as f64;
    let mut busiest = (jobs[0], 0.0);
    let mut events_total = 0.0;
    let mut memory_max: f64 = 0.0;
    for job in jobs {
        let proxies = proxies_per_call(scenario, job.mesh) as f64;
        let events =
            seconds_simulated * (calls_per_second * (1.0 + 2.0 * proxies) + external_per_second);
        events_total += events;
        if events > busiest.1 {
            busiest = (*job, events);
        }
        let memory = shared_bytes
            + stations(scenario, job.mesh) * Station::BYTES as f64
            + in_flight * (CALL_BYTES as f64 + EVENT_BYTES);
        memory_max = memory_max.max(memory);
    }
    let parallel = threads.clamp(1, jobs.len().max(1));
    LatencyEstimate {
        runs: jobs.len(),
        parallel,
        events_total,
        busiest_run: busiest.0,
        events_busiest_run: busiest.1,
        calls_in_flight: in_flight,
        seconds: events_total / (events_per_second(scenario) * parallel as f64),
        memory_bytes: memory_max * parallel as f64,
    }
}

/// Events per second one simulation thread processes on this scenario's cluster.
pub fn events_per_second(scenario: &Scenario) -> f64 {
    EVENTS_PER_SECOND / (1.0 + scenario.cluster.pods() as f64 / PODS_HALVING_THE_RATE)
}

/// Proxies a call visits on the longest path of a mesh (the ones that cost events).
fn proxies_per_call(scenario: &Scenario, mesh: Mesh) -> u32 {
    let shape = |kind| {
        request_path::shape(
            &mesh.legs(kind),
            scenario.mesh.interception,
            scenario.mesh.local_acceleration,
        )
        .proxies
    };
    shape(PathKind::CrossNode).max(shape(PathKind::CrossNodeL7))
}

/// Stations of a mesh's simulation (an upper bound for per-service-account proxies).
fn stations(scenario: &Scenario, mesh: Mesh) -> f64 {
    let cluster = &scenario.cluster;
    let (pods, nodes) = (cluster.pods() as f64, cluster.nodes() as f64);
    match mesh {
        Mesh::Baseline | Mesh::Architecture(Architecture::Ebpf) => 0.0,
        Mesh::Architecture(Architecture::Sidecar) => pods,
        Mesh::Architecture(Architecture::PerNode) => nodes,
        Mesh::Architecture(Architecture::PerServiceAccount) => {
            pods.min(nodes * cluster.service_accounts.len() as f64)
        }
        Mesh::Architecture(Architecture::Uproxy) => {
            let micro = match scenario.mesh.micro_proxy {
                MicroProxyPlacement::PerNode => nodes,
                MicroProxyPlacement::PerPod => pods,
            };
            let groups = waypoint_groups(cluster, scenario.mesh.waypoint_scope).len() as f64;
            micro + groups * scenario.mesh.waypoint_replicas as f64
        }
        Mesh::Product(Product::Linkerd) => pods,
        Mesh::Product(Product::Cilium) => nodes,
        Mesh::Product(Product::Kmesh) => {
            waypoint_groups(cluster, scenario.mesh.waypoint_scope).len() as f64
                * scenario.mesh.waypoint_replicas as f64
        }
        // Simulated as their building blocks.
        Mesh::Product(p @ (Product::IstioSidecar | Product::IstioAmbient)) => {
            stations(scenario, Mesh::of_product(p))
        }
    }
}

/// Calls open at once without queueing (Little's law: each service's call rate × the time a
/// call to it stays open: its legs there and back, its proxies' service, its own time and its
/// calls' times, as if sequential).
fn calls_in_flight(scenario: &Scenario) -> f64 {
    let cluster = &scenario.cluster;
    let costs = &scenario.models.latency;
    let leg_us = costs.stack_us
        + costs.wire_us
        + scenario.traffic.payload_bytes as f64 * costs.wire_ns_per_byte() / 1000.0;
    // Up to four legs and three proxies on a path, there and back.
    let hop_us = 8.0 * leg_us
        + 3.0
            * costs
                .l7_service_time_mean_us
                .max(costs.l4_service_time_mean_us);
    if let Some(requests) = &cluster.requests {
        // Each call of each tree, children first (they follow their parents in `nodes`).
        let mut open_us = vec![0.0f64; requests.nodes.len()];
        for (n, node) in requests.nodes.iter().enumerate().rev() {
            let mut t = hop_us + cluster.services[node.service as usize].app_time_us;
            for c in node.children() {
                t += requests.nodes[c].per_request * open_us[c];
            }
            open_us[n] = t;
        }
        let mean = requests.mean_calls();
        let of_type = requests.node_types();
        return (0..requests.nodes.len())
            .map(|n| requests.types[of_type[n] as usize].rate * mean[n] * open_us[n] / 1e6)
            .sum();
    }
    let order = cluster
        .call_graph
        .callees_first()
        .expect("a checked call graph has no cycle");
    let mut open_us = vec![0.0f64; cluster.services.len()];
    for s in order {
        let mut t = hop_us + cluster.services[s as usize].app_time_us;
        let g = &cluster.call_graph;
        for (&c, &k) in g.callees(s).iter().zip(g.per_request(s)) {
            t += k * open_us[c as usize];
        }
        open_us[s as usize] = t;
    }
    cluster
        .services
        .iter()
        .zip(&open_us)
        .map(|(s, &us)| s.rps_per_pod * s.replicas as f64 * us / 1e6)
        .sum()
}

/// `1234567` as `1.2 × 10^6`, smaller numbers as they are: for estimates, not figures.
pub fn approximately(value: f64) -> String {
    if !value.is_finite() {
        return "more than 10^308".into();
    }
    if value < 1e5 {
        return format!("{}", value.round());
    }
    let mut exponent = value.log10().floor();
    let mut mantissa = value / 10f64.powf(exponent);
    if mantissa >= 9.95 {
        mantissa /= 10.0;
        exponent += 1.0;
    }
    format!("{mantissa:.1} × 10^{exponent}")
}

/// Seconds as `45 s`, `12 min`, `3.5 h`.
pub fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{:.0} s", seconds.max(1.0))
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// Bytes as `350 MB`, `4.2 GB`.
pub fn bytes(b: f64) -> String {
    if b < 1e9 {
        format!("{:.0} MB", (b / 1e6).max(1.0))
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_read_as_approximations() {
        assert_eq!(approximately(1234.0), "1234");
        assert_eq!(approximately(2.34e12), "2.3 × 10^12");
        assert_eq!(approximately(9.99e7), "1.0 × 10^8");
        assert_eq!(approximately(f64::INFINITY), "more than 10^308");
        assert_eq!(duration(30.0), "30 s");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(bytes(3.5e9), "3.5 GB");
    }
}
