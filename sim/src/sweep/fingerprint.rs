//! What makes two values of a sweep the same run: their resolved scenarios, apart from the name
//! and file they are reported under and from settings nothing reads any more. Every input of
//! the capacity model and of the latency simulation is in the `Scenario` (the simulation's
//! generators are seeded from its seed), so equal fingerprints give equal results and one
//! simulation serves both.

use crate::config::Scenario;
use crate::mesh::{Architecture, MeshOptions};
use crate::traffic::Traffic;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

/// A digest of everything a run reads from `scenario`.
pub fn of(scenario: &Scenario) -> u64 {
    let mut read = Scenario {
        name: String::new(),
        file: PathBuf::new(),
        ..scenario.clone()
    };
    // `[traffic]`'s per-service defaults and its scale are copied into every service when the
    // scenario is resolved (`Service` carries its own), and are not read after that: a value
    // that every service overrides leaves the services, and so the runs, as they were.
    read.traffic.rps_per_pod = Traffic::DEFAULT_RPS_PER_POD;
    read.traffic.app_time_us = Traffic::DEFAULT_APP_TIME_US;
    read.traffic.scale = Traffic::DEFAULT_SCALE;
    read.traffic.call_mode = Default::default();
    read.traffic.arrivals = Default::default();
    // The waypoints' options shape only the uproxy architecture.
    if !read.mesh.architectures.contains(&Architecture::Uproxy) {
        read.mesh.waypoint_replicas = MeshOptions::DEFAULT_WAYPOINT_REPLICAS;
        read.mesh.waypoint_scope = Default::default();
        read.mesh.micro_proxy = Default::default();
    }
    // The Debug text holds every field, floats to the bit; `Scenario`'s collections are
    // vectors and ordered maps, so equal scenarios print alike. SipHash with std's fixed keys
    // is stable within a process, which is all a sweep needs.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{read:?}").hash(&mut hasher);
    hasher.finish()
}
