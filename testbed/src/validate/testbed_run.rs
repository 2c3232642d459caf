//! The testbed's side: bring the mesh of one architecture up, drive its entries with the load
//! generator from the outside namespace, and measure its processes over the measured window.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sim::{config::Scenario, traffic::ArrivalKind};

use super::{saturation::Probe, Arch};
use crate::{
    load::{self, Arrivals, LoadReport, LoadSpec, Target},
    measure::{Usage, Watched, Window},
    mesh::{self, MeshOptions, RunningMesh},
};

/// How the testbed is driven and pinned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Drive {
    pub mesh_cpus: Vec<usize>,
    pub load_cpu: usize,
    /// Keep-alive connections per entry.
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// One measured run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Repeat {
    pub load: LoadReport,
    pub usage: Usage,
}

/// Process kinds the simulator's proxy CPU and memory stand for.
pub const PROXY_KINDS: [&str; 3] = ["sidecar", "node-proxy", "waypoint"];

impl Repeat {
    pub fn proxy_cpu_cores(&self) -> f64 {
        PROXY_KINDS
            .iter()
            .filter_map(|k| self.usage.by_kind.get(*k))
            .map(|t| t.cpu_cores)
            .fold(0.0, |a, b| a + b)
    }

    pub fn proxy_memory_bytes(&self) -> (u64, u64) {
        let totals = PROXY_KINDS
            .iter()
            .filter_map(|k| self.usage.by_kind.get(*k));
        totals.fold((0, 0), |(sum, max), t| {
            (sum + t.peak_rss_bytes_total, max.max(t.peak_rss_bytes_max))
        })
    }

    pub fn mesh_cpu_cores(&self) -> f64 {
        self.usage
            .by_kind
            .values()
            .map(|t| t.cpu_cores)
            .fold(0.0, |a, b| a + b)
    }

    pub fn error_fraction(&self) -> f64 {
        self.load.errors.total() as f64 / self.load.scheduled.max(1) as f64
    }

    pub fn probe(&self, rate: f64, p99_bound_us: f64) -> Probe {
        Probe::new(
            rate,
            self.load.throughput_rps,
            self.error_fraction(),
            self.load.latency_us.p99_us,
            p99_bound_us,
        )
    }
}

/// The load generator's arrival process for the file's.
pub fn arrivals(scenario: &Scenario) -> Result<Arrivals> {
    match scenario.traffic.arrivals {
        ArrivalKind::Poisson => Ok(Arrivals::Poisson),
        ArrivalKind::Constant => Ok(Arrivals::Constant),
        ArrivalKind::Bursty => anyhow::bail!(
            "the load generator sends Poisson or constant arrivals; bursty arrivals are not validated"
        ),
    }
}

/// Brings the mesh of `arch` up for `scenario`, pinned as `drive` says.
pub fn up(scenario: &Scenario, arch: Arch, drive: &Drive) -> Result<RunningMesh> {
    let mut options = MeshOptions::new(arch.0);
    options.mesh_cpus = drive.mesh_cpus.clone();
    mesh::up(scenario, &options).with_context(|| format!("bringing up the {} mesh", arch.name()))
}

/// Drives `mesh` at `rate` (total over its entries) and measures its processes over the
/// measured window (after the warm-up, for the window's length).
pub fn drive(
    running: &RunningMesh,
    rate: f64,
    arrivals: Arrivals,
    drive: &Drive,
    window: (Duration, Duration),
    seed: u64,
) -> Result<Repeat> {
    let targets: Vec<Target> = running
        .entries()
        .iter()
        .map(|e| Target {
            address: SocketAddr::V4(e.address),
            netns: Some(e.netns.clone()),
            share: e.rate_share,
            host: Some(e.service.clone()),
        })
        .collect();
    anyhow::ensure!(!targets.is_empty(), "the mesh has no entry to send load to");
    let spec = LoadSpec {
        targets,
        arrivals,
        connections: drive.connections,
        body_bytes: body_bytes(running),
        warmup: window.0,
        duration: window.1,
        cpu: Some(drive.load_cpu),
        seed,
        ..LoadSpec::new(SocketAddr::from(([0, 0, 0, 0], 0)), rate)
    };
    let watched: Vec<Watched> = running
        .processes()
        .iter()
        .map(|p| Watched {
            pid: p.pid,
            kind: p.kind.name().to_string(),
            node: p.node.map_or("router".into(), |n| format!("node-{n}")),
            pod: p.pod.map(|i| format!("pod-{i}")),
        })
        .collect();
    let (report, usage) = std::thread::scope(|s| {
        let measuring = s.spawn(|| {
            // The generator's first arrival comes a millisecond after it starts (its lead):
            // the measured window starts after the warm-up.
            std::thread::sleep(window.0 + Duration::from_millis(1));
            let w = Window::start(&watched);
            std::thread::sleep(window.1);
            w.finish()
        });
        let report = load::run(&spec);
        let usage = measuring.join().expect("the measuring thread");
        (report, usage)
    });
    Ok(Repeat {
        load: report?,
        usage,
    })
}

/// The request body the entries get: the file's payload, as the workloads send one another.
fn body_bytes(running: &RunningMesh) -> usize {
    running.plan().pods.first().map_or(0, |p| {
        running.plan().pod_spec(p.index).payload_bytes as usize
    })
}
