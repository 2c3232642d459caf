//! What makes two values of a sweep the same run: their resolved scenarios, apart from the name
//! and file they are reported under and from settings nothing reads any more. Every input of
//! the capacity model and of the latency simulation is in the `Scenario` (the simulation's
//! generators are seeded from its seed), so equal fingerprints give equal results and one
//! simulation serves both.

use crate::config::Scenario;
use crate::mesh::{Architecture, MeshOptions};
use crate::traffic::Traffic;
use std::fmt::Write as _;
use std::hash::Hasher;

/// A digest of everything a run reads from `scenario`.
pub fn of(scenario: &Scenario) -> u64 {
    // Every field named, so that a field added to `Scenario` must be placed here too.
    let Scenario {
        name: _,
        file: _,
        seed,
        cluster,
        traffic,
        mesh,
        models,
        models_low,
        models_high,
        latency,
        bill,
        endpoint_changes_per_second,
    } = scenario;
    // `[traffic]`'s per-service defaults and its scale are copied into every service when the
    // scenario is resolved (`Service` carries its own), and are not read after that: a value
    // that every service overrides leaves the services, and so the runs, as they were.
    let traffic = Traffic {
        rps_per_pod: Traffic::DEFAULT_RPS_PER_POD,
        app_time_us: Traffic::DEFAULT_APP_TIME_US,
        scale: Traffic::DEFAULT_SCALE,
        call_mode: Default::default(),
        arrivals: Default::default(),
        ..traffic.clone()
    };
    // The waypoints' options shape only the uproxy architecture (and the products built on it,
    // which keep them).
    let mut mesh = mesh.clone();
    if !mesh.architectures.contains(&Architecture::Uproxy) && mesh.products.is_empty() {
        mesh.waypoint_replicas = MeshOptions::DEFAULT_WAYPOINT_REPLICAS;
        mesh.waypoint_scope = Default::default();
        mesh.micro_proxy = Default::default();
    }
    // The Debug text holds every field, floats to the bit; `Scenario`'s collections are
    // vectors and ordered maps, so equal scenarios print alike. It is hashed as it is written
    // (a cluster of millions of pods prints hundreds of megabytes). SipHash with std's fixed
    // keys is stable within a process, which is all a sweep needs.
    let mut digest = Digest(std::collections::hash_map::DefaultHasher::new());
    write!(
        digest,
        "{seed:?}{cluster:?}{traffic:?}{mesh:?}{models:?}{models_low:?}{models_high:?}{latency:?}{bill:?}{endpoint_changes_per_second:?}"
    )
    .expect("hashing never fails");
    digest.0.finish()
}

/// Text written into a hasher.
struct Digest(std::collections::hash_map::DefaultHasher);

impl std::fmt::Write for Digest {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}
