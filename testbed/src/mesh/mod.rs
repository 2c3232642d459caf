//! A real small service mesh on this machine, built from a cluster.toml: issue 13's testbed.
//!
//! The scenario is loaded by the simulator (`sim::config::load`), so the testbed has the
//! simulator's nodes, services, call graph, placement (`Cluster::pod_node`) and call counts
//! (`sim::latency::lookup`). [`up`] builds it:
//!
//! ```text
//! preflight   root, size limits, programs, ports, prefix free        preflight, limits
//! plan        addresses, VIPs, each pod's workload spec, entries     plan
//! network     router, nodes, pods, outside: named namespaces, veths  network (crate::topology)
//! workloads   meshtwin-workload in every pod, pinned, own cgroup     processes, workload
//! data plane  baseline | sidecar | per-node | uproxy | ebpf          dataplane/*
//! ```
//! and [`RunningMesh::down`] (or its drop, or SIGINT/SIGTERM, or `meshtwin-testbed down`
//! after a killed run) removes everything by its prefix ([`cleanup`]).
//!
//! The interface the load generator uses:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use meshtwin_testbed::mesh::{self, MeshOptions};
//! use sim::{config::{load, LoadOptions}, cost_model::Catalog, mesh::Architecture};
//! let catalog = Catalog::embedded();
//! let (scenario, _) = load("chain.toml".as_ref(), &LoadOptions::new(&catalog))
//!     .map_err(|d| d.to_string())?;
//! let running = mesh::up(&scenario, &MeshOptions::new(Some(Architecture::Sidecar)))?;
//! for entry in running.entries() {
//!     // From the outside namespace (entry.netns, usable with setns; or running.outside()),
//!     // send entry.rate_share of the load to entry.address.
//! }
//! for process in running.processes() {
//!     // process.pid, process.kind, process.node, process.pod, process.cgroup (cpu.stat)
//! }
//! running.down()?;
//! # Ok(()) }
//! ```
//!
//! Every mesh process (workloads, proxies, agents) is pinned to [`MeshOptions::mesh_cpus`]
//! (CPU 0 by default); run the load generator on the others.
//!
//! Several meshes may run at once, each with its own prefix (the default, `mt<pid>`, allows
//! one per process). `up` installs a SIGINT/SIGTERM handler that removes the running meshes
//! and exits with 128 + the signal. A service serves on its first port only.

pub mod cleanup;
pub mod dataplane;
pub mod error;
pub mod limits;
pub mod network;
pub mod options;
pub mod plan;
pub mod preflight;
pub mod processes;
pub mod signals;
pub mod workload;

use std::{
    net::SocketAddrV4,
    path::{Path, PathBuf},
};

use sim::{config::Scenario, mesh::Architecture};

pub use cleanup::Removed;
pub use error::MeshError;
pub use limits::Limits;
pub use options::MeshOptions;
pub use plan::Plan;
pub use processes::{MeshProcess, ProcessKind};
pub use workload::WorkloadSpec;

use crate::{binaries, netns::Netns};
use network::Network;
use processes::{Launch, Processes, Ready};

/// Where outside load for one entry service goes in.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub service: String,
    /// The address:port a client in the outside namespace connects to.
    pub address: SocketAddrV4,
    /// The outside namespace (`/run/netns/<prefix>-outside`): open it and setns(2), or
    /// `ip netns exec <prefix>-outside ...`.
    pub netns: PathBuf,
    /// Requests per second the scenario sends it from outside.
    pub rps: f64,
    /// Its share of all outside requests.
    pub rate_share: f64,
    /// What a request meets on its way in.
    pub path: String,
}

/// A testbed that is up. Dropping it removes it, as [`RunningMesh::down`] does.
pub struct RunningMesh {
    prefix: String,
    architecture: Option<Architecture>,
    plan: Plan,
    entries: Vec<Entry>,
    processes: Processes,
    network: Option<Network>,
    run_dir: PathBuf,
    torn_down: bool,
}

impl RunningMesh {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every process of the mesh, workloads first.
    pub fn processes(&self) -> &[MeshProcess] {
        self.processes.list()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `None` for the baseline.
    pub fn architecture(&self) -> Option<Architecture> {
        self.architecture
    }

    /// The layout: nodes, pods, services with VIPs and workload specs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The outside namespace, for a client in this process (`outside().run(...)`).
    pub fn outside(&self) -> &Netns {
        &self.network.as_ref().expect("up").outside
    }

    /// Where configs and logs are (`/tmp/meshtwin-<prefix>`).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Removes the testbed; returns what the final sweep by prefix still found.
    pub fn down(mut self) -> Result<Removed, MeshError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<Removed, MeshError> {
        if self.torn_down {
            return Ok(Removed::default());
        }
        self.torn_down = true;
        self.processes.stop();
        self.network.take();
        let removed = cleanup::down(&self.prefix);
        signals::unregister(&self.prefix);
        removed
    }
}

impl Drop for RunningMesh {
    fn drop(&mut self) {
        if let Err(error) = self.teardown() {
            eprintln!("meshtwin-testbed: removing mesh {}: {error}", self.prefix);
        }
    }
}

/// Builds the testbed of `scenario` with `options` (module documentation). On an error,
/// nothing it made is left.
pub fn up(scenario: &Scenario, options: &MeshOptions) -> Result<RunningMesh, MeshError> {
    preflight::check(scenario, options)?;
    signals::register(&options.prefix);
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(scenario, options)));
    let error = match built {
        Ok(Ok(mesh)) => return Ok(mesh),
        Ok(Err(error)) => error,
        Err(panic) => MeshError::Setup(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a set-up step panicked".into()),
        ),
    };
    let _ = cleanup::down(&options.prefix);
    signals::unregister(&options.prefix);
    Err(error)
}

fn build(scenario: &Scenario, options: &MeshOptions) -> Result<RunningMesh, MeshError> {
    let prefix = options.prefix.clone();
    let plan = Plan::new(scenario);
    let run_dir = cleanup::run_dir(&prefix);
    std::fs::create_dir_all(&run_dir)
        .map_err(MeshError::io(format!("create {}", run_dir.display())))?;
    std::fs::write(run_dir.join(cleanup::RUN_MARKER), &prefix)
        .map_err(MeshError::io(format!("write {}", run_dir.display())))?;
    let mut processes = Processes::new(&prefix, &options.mesh_cpus, &run_dir.join("logs"))?;
    let network = network::build(&plan, &prefix)?;
    let workload = binaries::WORKLOAD.path()?;
    for pod in &plan.pods {
        let spec_path = run_dir.join(format!("{}.json", pod.name));
        let spec = plan.pod_spec(pod.index);
        std::fs::write(
            &spec_path,
            serde_json::to_string_pretty(&spec).expect("a spec serializes"),
        )
        .map_err(MeshError::io(format!("write {}", spec_path.display())))?;
        processes.start(Launch {
            kind: ProcessKind::Workload,
            name: format!("{}-workload", pod.name),
            node: Some(pod.node),
            pod: Some(pod.index),
            service: Some(spec.service.clone()),
            program: workload.clone(),
            args: vec!["--spec".into(), spec_path.into()],
            netns: network.pod_ns(&plan, pod.index),
            ready: Ready::Listening(vec![spec.port]),
        })?;
    }
    let entries = dataplane::build(
        options.architecture,
        &mut dataplane::Build {
            scenario,
            plan: &plan,
            network: &network,
            processes: &mut processes,
            options,
            run_dir: &run_dir,
            prefix: &prefix,
        },
    )?;
    Ok(RunningMesh {
        prefix,
        architecture: options.architecture,
        plan,
        entries,
        processes,
        network: Some(network),
        run_dir,
        torn_down: false,
    })
}
