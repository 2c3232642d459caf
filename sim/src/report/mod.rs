//! What `sim run` prints: a table (default), JSON (schema in docs/output.md) or CSV.

pub mod csv;
pub mod table;
pub mod units;

use crate::capacity::ArchitectureCapacity;
use crate::config::raw::{Interception, LocalAcceleration};
use crate::config::Scenario;
use crate::mesh::Scoping;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub meshtwin_version: &'static str,
    pub scenario: ScenarioSummary,
    pub architectures: Vec<ArchitectureCapacity>,
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
    pub rps_total: f64,
    pub profile: Option<String>,
    pub scopings: Vec<Scoping>,
    pub interception: Interception,
    pub local_acceleration: LocalAcceleration,
    pub connection_reuse: bool,
}

impl Report {
    pub fn new(
        scenario: &Scenario,
        file_label: &str,
        architectures: Vec<ArchitectureCapacity>,
    ) -> Self {
        let c = &scenario.cluster;
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
                rps_total: c
                    .services
                    .iter()
                    .map(|s| s.rps_per_pod * s.replicas as f64)
                    .sum(),
                profile: scenario.models.profile.clone(),
                scopings: scenario.mesh.scopings.clone(),
                interception: scenario.mesh.interception,
                local_acceleration: scenario.mesh.local_acceleration,
                connection_reuse: scenario.traffic.connection_reuse,
            },
            architectures,
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("the report serialises");
        s.push('\n');
        s
    }
}
