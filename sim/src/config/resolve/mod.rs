//! From the file as written to a checked `Scenario`. Every problem is reported with the span
//! of the key or value at fault; all problems found in one pass are reported together. What
//! the checks accept becomes the models' own types: options, cost models, and a cluster
//! specification that `cluster::build` turns into nodes, services and placed pods.

mod bill;
mod cluster;
mod cores;
mod edges;
mod models;
mod options;
mod requests;
mod scale;
mod workload;

use super::ranges::{self, Key};
use super::raw::RawScenario;
use super::Scenario;
use crate::cost_model::{Catalog, ParamValues};
use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// How a scenario will be run, which decides what it is checked against.
pub struct LoadOptions<'a> {
    /// Overrides the file's `seed`.
    pub seed: Option<u64>,
    pub catalog: &'a Catalog,
    /// Overrides `latency.duration_s` (`--duration`).
    pub duration_s: Option<f64>,
    /// The latency simulation will run if the file enables it (no `--no-latency`): its work
    /// and memory are checked against the budget (`crate::estimate`).
    pub simulate: bool,
    /// Simulations at once.
    pub threads: usize,
}

impl<'a> LoadOptions<'a> {
    /// The file's own settings, the simulation on, a thread per core.
    pub fn new(catalog: &'a Catalog) -> Self {
        LoadOptions {
            seed: None,
            catalog,
            duration_s: None,
            simulate: true,
            threads: default_threads(),
        }
    }
}

/// Simulations at once when `--threads` does not say: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads and resolves a scenario file.
pub fn load(path: &Path, options: &LoadOptions) -> Result<(Scenario, ParamValues), Diagnostics> {
    resolve(Arc::new(SourceFile::read(path)?), options)
}

/// Resolves a scenario from its text; `path` names it in diagnostics.
pub fn load_str(
    path: &Path,
    text: &str,
    options: &LoadOptions,
) -> Result<(Scenario, ParamValues), Diagnostics> {
    resolve(Arc::new(SourceFile::new(path, text)), options)
}

fn resolve(
    source: Arc<SourceFile>,
    options: &LoadOptions,
) -> Result<(Scenario, ParamValues), Diagnostics> {
    let raw: RawScenario =
        toml::from_str(source.text()).map_err(|e| Diagnostic::from_toml(&source, &e))?;
    let mut resolver = Resolver {
        source,
        problems: Diagnostics::new(),
    };
    let resolved = resolver.scenario(&raw, options);
    match resolved {
        Some((scenario, values)) if resolver.problems.is_empty() => {
            resolver.workload(&raw, &scenario, options);
            resolver.problems.into_result((scenario, values))
        }
        _ => Err(resolver.problems),
    }
}

/// One pass over a scenario file: every problem is collected, located in `source`.
struct Resolver {
    source: Arc<SourceFile>,
    problems: Diagnostics,
}

impl Resolver {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::at(&self.source, span, message));
    }

    fn file_error(&mut self, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::file(self.source.name(), message));
    }

    /// The path of the scenario file, as given.
    fn file(&self) -> &Path {
        self.source.name()
    }

    /// An integer in its key's range; out of range, a located error that names the range.
    fn integer(&mut self, value: &Spanned<i64>, key: &Key) -> Option<u64> {
        let v = *value.get_ref();
        match key.problem(v as f64) {
            // The ranges' bounds are exact in f64 and at least 0.
            None => Some(v as u64),
            Some(message) => {
                self.error(value.span(), message);
                None
            }
        }
    }

    /// An integer in its key's range that fits 32 bits (every such range does).
    fn integer32(&mut self, value: &Spanned<i64>, key: &Key) -> Option<u32> {
        debug_assert!(key.range.max <= u32::MAX as f64, "{}", key.path);
        self.integer(value, key).map(|v| v as u32)
    }

    fn integer32_or(
        &mut self,
        value: &Option<Spanned<i64>>,
        key: &Key,
        default: u32,
    ) -> Option<u32> {
        match value {
            Some(v) => self.integer32(v, key),
            None => Some(default),
        }
    }

    /// A number in its key's range.
    fn number(&mut self, value: &Spanned<f64>, key: &Key) -> Option<f64> {
        let v = *value.get_ref();
        match key.problem(v) {
            None => Some(v),
            Some(message) => {
                self.error(value.span(), message);
                None
            }
        }
    }

    fn number_or(&mut self, value: &Option<Spanned<f64>>, key: &Key, default: f64) -> Option<f64> {
        match value {
            Some(v) => self.number(v, key),
            None => Some(default),
        }
    }

    fn scenario(
        &mut self,
        raw: &RawScenario,
        options: &LoadOptions,
    ) -> Option<(Scenario, ParamValues)> {
        let seed = match (options.seed, &raw.seed) {
            (Some(seed), _) => seed,
            (None, Some(s)) => self
                .integer(s, &ranges::SEED)
                .unwrap_or(Scenario::DEFAULT_SEED),
            (None, None) => Scenario::DEFAULT_SEED,
        };
        let traffic = self.traffic(&raw.traffic);
        let mesh = self.mesh(&raw.mesh);
        let models = self.models(&raw.models, options.catalog);
        let mut latency = self.latency(&raw.latency);
        if let (Some(latency), Some(duration_s)) = (&mut latency, options.duration_s) {
            latency.duration_s = duration_s;
        }
        let cluster = self.cluster(raw, seed, traffic.as_ref());
        let name = raw.name.clone().unwrap_or_else(|| {
            self.file()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        let bill = self.bill(&raw.bill);
        let endpoint_changes_per_second = self.number_or(
            &raw.cluster.get_ref().endpoint_changes_per_second,
            &ranges::ENDPOINT_CHANGES_PER_SECOND,
            Scenario::DEFAULT_ENDPOINT_CHANGES_PER_SECOND,
        );
        let (models, values) = models?;
        let at =
            |bound| crate::cost_model::ModelSet::at_bound(&values, models.profile.clone(), bound);
        let (models_low, models_high) = match (
            at(crate::cost_model::Bound::Low),
            at(crate::cost_model::Bound::High),
        ) {
            (Ok(low), Ok(high)) => (low, high),
            (Err(e), _) | (_, Err(e)) => {
                self.file_error(e.to_string());
                return None;
            }
        };
        let latency = latency?;
        self.cpu_covers_service_time(&models, &latency, &raw.models)?;
        let mut cluster = cluster?;
        let traffic = traffic?;
        self.scale_rates(raw, &mut cluster, traffic.scale);
        Some((
            Scenario {
                name,
                file: self.file().to_path_buf(),
                seed,
                cluster,
                traffic,
                mesh: mesh?,
                models,
                latency,
                models_low,
                models_high,
                bill: bill?,
                endpoint_changes_per_second: endpoint_changes_per_second?,
            },
            values,
        ))
    }
}
