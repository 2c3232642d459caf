//! Scenario files, at the edge of the simulator: `raw` is the file as written (serde, unknown
//! keys rejected with their location), `resolve` checks meaning, locates every problem, and
//! assembles the `Scenario` the models run on from their own types (the cluster itself is
//! built by `crate::cluster::build`). Nothing past this module sees the file's types.

pub mod histogram_file;
pub mod ranges;
pub mod raw;
pub mod raw_requests;
pub mod resolve;

use crate::cluster::Cluster;
use crate::cost_model::ModelSet;
use crate::latency::options::LatencyOptions;
use crate::mesh::MeshOptions;
use crate::traffic::Traffic;
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
    /// Every model parameter at the low, then the high end of its sources' range.
    pub models_low: ModelSet,
    pub models_high: ModelSet,
    pub bill: crate::capacity::bill::NodeShape,
    /// `[cluster] endpoint_changes_per_second`: pods started or stopped per second.
    pub endpoint_changes_per_second: f64,
}

impl Scenario {
    /// The seed used when neither the file nor `--seed` gives one.
    pub const DEFAULT_SEED: u64 = 1;
    /// No endpoint churn: the control planes' figures at rest (Istio publishes no churn rate
    /// for its load test, whose istiod CPU already includes that test's own churn).
    pub const DEFAULT_ENDPOINT_CHANGES_PER_SECOND: f64 = 0.0;
}
