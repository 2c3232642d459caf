//! The simulator's side: the same file, the calibrated profile, the testbed's window and
//! cores (`overlay`), run through the `sim` crate as a library.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use sim::{
    config::{LoadOptions, Scenario},
    cost_model::{Catalog, Profile},
    latency::Mesh,
    mesh::Architecture,
};

use super::{
    overlay::{self, Overlay},
    saturation::Probe,
    Arch,
};

/// What the simulator predicts for one architecture at one rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub rate: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub throughput_rps: f64,
    /// Dropped and timed-out requests over requests.
    pub error_fraction: f64,
    /// The simulator's own flag: a proxy over 95% busy or dropping.
    pub saturated: bool,
    pub proxy_cpu_cores: f64,
    pub proxy_memory_bytes: u64,
    pub proxy_memory_bytes_max: u64,
    pub proxies: u64,
}

/// The simulator set up for one validation file.
pub struct Simulator {
    catalog: Catalog,
    file: PathBuf,
    text: String,
    base_rate: f64,
    profile: Option<String>,
    warmup_s: f64,
    duration_s: f64,
    mesh_cpus: usize,
    /// Profile values this simulator has no parameter for (left out of the prediction).
    pub ignored: Vec<String>,
}

impl Simulator {
    pub fn new(
        file: &Path,
        profile: Option<&Path>,
        warmup_s: f64,
        duration_s: f64,
        mesh_cpus: usize,
    ) -> Result<Self> {
        let mut catalog = Catalog::embedded();
        let mut ignored = Vec::new();
        let profile = match profile {
            Some(path) => {
                let mut p = Profile::from_file(path).map_err(|d| anyhow!("{d}"))?;
                // Values of components or parameters this simulator does not have yet (the
                // workload's own CPU, say) are kept out, and said so.
                for (component, params) in &mut p.overrides {
                    let known = catalog.component(component).map(|c| c.params.clone());
                    params.retain(|name, _| {
                        let keep = known.as_ref().is_some_and(|k| k.contains_key(name));
                        if !keep {
                            ignored.push(format!("{component}.{name}"));
                        }
                        keep
                    });
                }
                p.overrides.retain(|_, params| !params.is_empty());
                let name = p.name.clone();
                catalog.add_profile(p).map_err(|d| anyhow!("{d}"))?;
                Some(name)
            }
            None => None,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
        let (scenario, _) = load(&catalog, file, &text)?;
        Ok(Self {
            base_rate: overlay::entry_rate(&scenario),
            catalog,
            file: file.to_path_buf(),
            text,
            profile,
            warmup_s,
            duration_s,
            mesh_cpus,
            ignored,
        })
    }

    /// The file as loaded with the calibrated profile (what the mesh is built from).
    pub fn scenario(&self) -> Result<Scenario> {
        let overlay = self.overlay(self.base_rate, &[]);
        let text = overlay::apply(&self.text, self.base_rate, &overlay)?;
        // The file's own architectures: the mesh needs only the cluster.
        let mut doc: toml::Table = text.parse()?;
        if let Some(mesh) = doc.get_mut("mesh").and_then(|m| m.as_table_mut()) {
            mesh.remove("architectures");
        }
        Ok(load(&self.catalog, &self.file, &toml::to_string(&doc)?)?.0)
    }

    /// The simulated warm-up and window (the saturation probes are shorter than the levels).
    pub fn set_window(&mut self, warmup_s: f64, duration_s: f64) {
        self.warmup_s = warmup_s;
        self.duration_s = duration_s;
    }

    pub fn base_rate(&self) -> f64 {
        self.base_rate
    }

    fn overlay(&self, rate: f64, architectures: &[Architecture]) -> Overlay {
        Overlay {
            rate,
            warmup_s: self.warmup_s,
            duration_s: self.duration_s,
            architectures: architectures.to_vec(),
            profile: self.profile.clone(),
            mesh_cpus: self.mesh_cpus,
        }
    }

    fn scenario_at(&mut self, rate: f64, architectures: &[Architecture]) -> Result<Scenario> {
        let overlay = self.overlay(rate, architectures);
        let text = overlay::apply(&self.text, self.base_rate, &overlay)?;
        Ok(load(&self.catalog, &self.file, &text)?.0)
    }

    /// Predictions at `rate` for each of `archs`, in their order.
    pub fn predict(&mut self, rate: f64, archs: &[Arch]) -> Result<Vec<Prediction>> {
        let mut real: Vec<Architecture> = archs.iter().filter_map(|a| a.0).collect();
        if real.is_empty() {
            // The simulator always runs the baseline beside at least one architecture.
            real.push(Architecture::Ebpf);
        }
        let scenario = self.scenario_at(rate, &real)?;
        let capacity = sim::capacity::evaluate(&scenario).map_err(|e| anyhow!("{e}"))?;
        let jobs = sim::latency::jobs(&scenario);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let results =
            sim::latency::run(&scenario, &jobs, threads, &()).map_err(|e| anyhow!("{e}"))?;
        let mut out = Vec::new();
        for arch in archs {
            let mesh = match arch.0 {
                None => Mesh::Baseline,
                Some(a) => Mesh::Architecture(a),
            };
            let index = jobs
                .iter()
                .position(|j| j.mesh == mesh)
                .ok_or_else(|| anyhow!("the simulator ran no job for {}", arch.name()))?;
            let l = &results[index];
            let latency = l.latency_us.ok_or_else(|| {
                anyhow!(
                    "the simulator measured no requests of {} at {rate} rps",
                    arch.name()
                )
            })?;
            // A percentile past the histograms' ceiling (100 s) is slower than any bound.
            let us = |v: Option<f64>| v.unwrap_or(f64::INFINITY);
            let mut p = Prediction {
                rate,
                p50_us: us(latency.p50),
                p90_us: us(latency.p90),
                p99_us: us(latency.p99),
                mean_us: us(latency.mean),
                throughput_rps: l.throughput_rps,
                error_fraction: if l.requests == 0 {
                    0.0
                } else {
                    (l.dropped + l.timed_out) as f64 / l.requests as f64
                },
                saturated: l.saturated,
                ..Prediction::default()
            };
            if let Some(a) = arch.0 {
                if let Some(c) = capacity.iter().find(|c| c.name == a.name()) {
                    p.proxy_cpu_cores = c.cpu_cores;
                    p.proxy_memory_bytes = c.proxy_memory_bytes_total;
                    p.proxy_memory_bytes_max = c.memory_bytes_per_proxy_max;
                    p.proxies = c.proxies;
                }
            }
            out.push(p);
        }
        Ok(out)
    }

    /// One saturation probe of `arch` at `rate`.
    pub fn probe(&mut self, arch: Arch, rate: f64, p99_bound_us: f64) -> Result<Probe> {
        let p = self.predict(rate, &[arch])?.remove(0);
        // The simulation completes every request it starts, so its throughput is the count of
        // its own Poisson arrivals in a short window, a few percent off the rate by chance
        // alone (at 250 rps over 1 s, under 95% one probe in five). Whether it keeps up is in
        // its drops, timeouts and p99: the rate less what failed.
        Ok(Probe::new(
            rate,
            rate * (1.0 - p.error_fraction),
            p.error_fraction,
            p.p99_us,
            p99_bound_us,
        ))
    }
}

fn load(
    catalog: &Catalog,
    file: &Path,
    text: &str,
) -> Result<(Scenario, sim::cost_model::ParamValues)> {
    sim::config::load_str(file, text, &LoadOptions::new(catalog)).map_err(|d| anyhow!("{d}"))
}
