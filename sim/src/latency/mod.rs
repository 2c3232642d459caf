//! The latency simulation: every request, one by one, through each architecture's data path
//! under the scenario's load, on the discrete-event engine (`crate::engine`).
//!
//! Each (architecture, scheduling) pair runs as its own simulation with its own generator,
//! seeded from the scenario's seed and the pair (the architecture by its name), so results
//! depend neither on which thread runs what nor on which other architectures are compared.
//! A baseline without any mesh runs too: added latency is a percentile of the architecture
//! minus the same percentile of the baseline, as Istio's benchmarks report it, made monotone
//! across percentiles ([`Percentiles::added_over`]). It is not a percentile of per-request
//! differences: the baseline's requests draw their own random times, so a request has no
//! unmeshed twin to subtract.

pub mod arrivals;
pub mod host_cpu;
pub mod lookup;
pub mod options;
pub mod plan;
pub mod result;
pub mod saturation;
pub mod world;

use crate::config::Scenario;
use crate::engine::{Percentiles, Scheduling};
pub use plan::Mesh;
pub use result::LatencyResult;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use world::World;

/// One simulation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub mesh: Mesh,
    pub scheduling: Scheduling,
}

impl Job {
    pub fn label(&self) -> String {
        match self.mesh {
            Mesh::Baseline => "baseline (no mesh)".into(),
            Mesh::Architecture(a) => format!("{a} ({})", self.scheduling),
            Mesh::Product(p) => format!("{p} ({})", self.scheduling),
        }
    }

    fn seed(&self, scenario_seed: u64) -> u64 {
        // An architecture's stream comes from its name, not its place in a list, so adding an
        // architecture (or comparing fewer) leaves the others' results as they were. The
        // baseline keeps stream 0.
        let mesh = match self.mesh {
            Mesh::Baseline => 0,
            Mesh::Architecture(a) => fnv1a(a.name()),
            Mesh::Product(p) => fnv1a(p.name()),
        };
        let scheduling = match self.scheduling {
            Scheduling::Fifo => 0,
            Scheduling::Fair => 1,
        };
        // SplitMix64 of the parts: nearby seeds give unrelated streams.
        let mut z = scenario_seed ^ mesh ^ (scheduling << 56);
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// FNV-1a of a name: fixed and the same on every platform (std's hashers promise neither).
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The runs a scenario needs: the baseline, then each architecture and each product's mesh
/// ([`Mesh::of_product`]: Istio's products share their building blocks' runs) under each
/// scheduling.
pub fn jobs(scenario: &Scenario) -> Vec<Job> {
    let mut jobs = vec![Job {
        mesh: Mesh::Baseline,
        scheduling: Scheduling::Fifo,
    }];
    let mut meshes: Vec<Mesh> = scenario
        .mesh
        .architectures
        .iter()
        .map(|&a| Mesh::Architecture(a))
        .collect();
    for &p in &scenario.mesh.products {
        let mesh = Mesh::of_product(p);
        if !meshes.contains(&mesh) {
            meshes.push(mesh);
        }
    }
    for mesh in meshes {
        for &scheduling in &scenario.latency.schedulings {
            jobs.push(Job { mesh, scheduling });
        }
    }
    jobs
}

/// Reports progress of job `i` as a fraction of simulated time.
pub trait Progress: Sync {
    fn update(&self, job: usize, fraction: f64);
}

impl Progress for () {
    fn update(&self, _: usize, _: f64) {}
}

/// A run held more calls in flight than a run may ([`world::MAX_CALLS_IN_FLIGHT`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the {run} simulation had {max} calls in flight at {at_s:.3} s simulated and stopped: the offered load far exceeds what the mesh serves and its queues grow without bound \
     (lower the rates, latency.max_queue or the services' app_time_us, or run the capacity model alone with --no-latency)",
    max = crate::estimate::approximately(world::MAX_CALLS_IN_FLIGHT as f64)
)]
pub struct Overloaded {
    pub run: String,
    pub at_s: f64,
}

/// Runs every job on up to `threads` threads; results in the order of `jobs`, with the
/// added latencies filled in against the baseline (the first job).
pub fn run(
    scenario: &Scenario,
    jobs: &[Job],
    threads: usize,
    progress: &dyn Progress,
) -> Result<Vec<LatencyResult>, Overloaded> {
    let next = AtomicUsize::new(0);
    type Outcome = Option<Result<LatencyResult, world::Overloaded>>;
    let results: Mutex<Vec<Outcome>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let world = World::new(scenario, job.mesh, job.scheduling, job.seed(scenario.seed));
                let result = world.run(&|fraction| progress.update(i, fraction));
                results.lock().expect("no thread panicked")[i] = Some(result);
            });
        }
    });
    let mut results: Vec<LatencyResult> = results
        .into_inner()
        .expect("no thread panicked")
        .into_iter()
        .zip(jobs)
        .map(|(r, job)| {
            r.expect("every job ran").map_err(|o| Overloaded {
                run: job.label(),
                at_s: o.at_s,
            })
        })
        .collect::<Result<_, _>>()?;
    if let Some(baseline) = results.first().cloned() {
        let added = |a: &Option<Percentiles>, b: &Option<Percentiles>| {
            Some(a.as_ref()?.added_over(b.as_ref()?))
        };
        for r in &mut results {
            r.added_latency_us = added(&r.latency_us, &baseline.latency_us);
            r.added_hop_latency_us = added(&r.hop_latency_us, &baseline.hop_latency_us);
            r.added_entry_hop_latency_us =
                added(&r.entry_hop_latency_us, &baseline.entry_hop_latency_us);
            r.added_service_hop_latency_us =
                added(&r.service_hop_latency_us, &baseline.service_hop_latency_us);
            for (t, base) in r
                .per_request_type
                .iter_mut()
                .zip(&baseline.per_request_type)
            {
                t.added_latency_us = added(&t.latency_us, &base.latency_us);
            }
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::Architecture;

    #[test]
    fn every_run_has_its_own_stream() {
        let mut seeds: Vec<u64> = [Scheduling::Fifo, Scheduling::Fair]
            .into_iter()
            .flat_map(|scheduling| {
                let meshes = Architecture::ALL.map(Mesh::Architecture);
                let products = crate::product::Product::ALL.map(Mesh::of_product);
                let mut all: Vec<Mesh> = std::iter::once(Mesh::Baseline)
                    .chain(meshes)
                    .chain(products)
                    .collect();
                all.sort_unstable();
                all.dedup();
                all.into_iter()
                    .map(move |mesh| Job { mesh, scheduling }.seed(42))
            })
            .collect();
        let runs = seeds.len();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), runs);
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference (www.isthe.com/chongo/tech/comp/fnv).
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }
}
