//! What `sim run` prints: a table (default), JSON (schema in docs/output.md) or CSV.

pub mod capacity_rows;
pub mod csv;
pub mod json_precision;
pub mod plot;
pub mod plot_scale;
pub mod request_types;
pub mod table;
pub mod units;

use crate::capacity::ArchitectureCapacity;
use crate::config::Scenario;
use crate::engine::Scheduling;
use crate::latency::{Job, LatencyResult, Mesh};
use crate::mesh::{Interception, LocalAcceleration, Scoping};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub meshtwin_version: &'static str,
    pub scenario: ScenarioSummary,
    /// The same requests without any mesh: what added latency is measured against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<LatencyResult>,
    pub architectures: Vec<ArchitectureReport>,
}

/// One architecture under one scoping (and, with latency, one scheduling).
#[derive(Debug, Clone, Serialize)]
pub struct ArchitectureReport {
    #[serde(flatten)]
    pub capacity: ArchitectureCapacity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<Scheduling>,
    #[serde(flatten)]
    pub latency: Option<LatencyResult>,
}

/// The latency simulation's runs and their results, in the same order.
pub struct LatencyRuns {
    pub jobs: Vec<Job>,
    pub results: Vec<LatencyResult>,
    pub duration_s: f64,
    pub warmup_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub file: String,
    pub seed: u64,
    pub nodes: u64,
    pub pods: u64,
    pub services: u64,
    pub namespaces: u64,
    pub service_accounts: u64,
    pub calls: u64,
    pub l7_policy_services: u64,
    /// The same figure as `rps_served_by_pods`, kept for existing readers.
    pub rps_total: f64,
    /// Requests per second served by all pods, summed: a request that crosses three services
    /// counts three times.
    pub rps_served_by_pods: f64,
    /// Requests per second that enter the mesh (sent to the services nobody calls, from
    /// outside or from a load generator in the pod): what `entry_rps_completed` measures.
    pub rps_entering_mesh: f64,
    pub profile: Option<String>,
    pub scopings: Vec<Scoping>,
    pub interception: Interception,
    pub local_acceleration: LocalAcceleration,
    pub connection_reuse: bool,
    /// Products compared (`[mesh] products`), and whether `[bill]` gives a node shape.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<crate::product::Product>,
    pub bill_node_shape: bool,
    /// Simulated seconds measured, after the warm-up (absent without latency simulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_seconds: Option<f64>,
}

impl Report {
    pub fn new(
        scenario: &Scenario,
        file_label: &str,
        capacity: Vec<ArchitectureCapacity>,
        latency: Option<LatencyRuns>,
    ) -> Self {
        let c = &scenario.cluster;
        let rps_served_by_pods: f64 = c
            .services
            .iter()
            .map(|s| s.rps_per_pod * s.replicas as f64)
            .sum();
        let rps_entering_mesh = entering_mesh_rps(c);
        let mut architectures = Vec::new();
        for cap in capacity {
            match &latency {
                None => architectures.push(ArchitectureReport {
                    capacity: cap,
                    scheduling: None,
                    latency: None,
                }),
                Some(runs) => {
                    // A product takes its mesh's simulation (Istio's: its building block's).
                    let simulated = cap
                        .product
                        .and_then(|p| Mesh::of_product(p).name())
                        .unwrap_or(cap.name);
                    for (job, result) in runs.jobs.iter().zip(&runs.results) {
                        if job.mesh.name() == Some(simulated) {
                            architectures.push(ArchitectureReport {
                                capacity: cap.clone(),
                                scheduling: Some(job.scheduling),
                                latency: Some(result.clone()),
                            });
                        }
                    }
                }
            }
        }
        let baseline = latency.as_ref().and_then(|runs| {
            runs.jobs
                .iter()
                .position(|j| j.mesh == Mesh::Baseline)
                .map(|i| runs.results[i].clone())
        });
        Report {
            meshtwin_version: env!("CARGO_PKG_VERSION"),
            scenario: ScenarioSummary {
                name: scenario.name.clone(),
                file: file_label.to_string(),
                seed: scenario.seed,
                nodes: c.nodes() as u64,
                pods: c.pods() as u64,
                services: c.services.len() as u64,
                namespaces: c.namespaces.len() as u64,
                service_accounts: c.service_accounts.len() as u64,
                calls: c.call_graph.calls() as u64,
                l7_policy_services: c.services.iter().filter(|s| s.l7_policy).count() as u64,
                rps_total: rps_served_by_pods,
                rps_served_by_pods,
                rps_entering_mesh,
                profile: scenario.models.profile.clone(),
                scopings: scenario.mesh.scopings.clone(),
                interception: scenario.mesh.interception,
                local_acceleration: scenario.mesh.local_acceleration,
                connection_reuse: scenario.traffic.connection_reuse,
                products: scenario.mesh.products.clone(),
                bill_node_shape: scenario.bill.cores.is_some()
                    || scenario.bill.memory_bytes.is_some(),
                simulated_seconds: latency.as_ref().map(|l| l.duration_s),
                warmup_seconds: latency.as_ref().map(|l| l.warmup_s),
            },
            baseline,
            architectures,
        }
    }

    /// The JSON document, every number rounded to what it means
    /// ([`json_precision::to_pretty_json`]).
    pub fn to_json(&self) -> String {
        let mut s = json_precision::to_pretty_json(self);
        s.push('\n');
        s
    }
}

/// Requests per second sent to the services that no service calls: the entry requests.
fn entering_mesh_rps(cluster: &crate::cluster::Cluster) -> f64 {
    cluster
        .services
        .iter()
        .enumerate()
        .filter(|(i, _)| cluster.call_graph.callers(*i as u32).is_empty())
        .map(|(_, s)| s.rps_per_pod * s.replicas as f64)
        .sum()
}
