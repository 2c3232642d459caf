//! From the file as written to a checked `Scenario`. Every problem is reported with the span
//! of the key or value at fault; all problems found in one pass are reported together. What
//! the checks accept becomes the models' own types: options, cost models, and a cluster
//! specification that `cluster::build` turns into nodes, services and placed pods.

mod cluster;
mod cores;
mod models;
mod options;

use super::raw::RawScenario;
use super::Scenario;
use crate::cost_model::{Catalog, ParamValues};
use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

pub struct LoadOptions<'a> {
    /// Overrides the file's `seed`.
    pub seed: Option<u64>,
    pub catalog: &'a Catalog,
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
    let resolved = resolver.scenario(raw, options);
    match resolved {
        Some(scenario) => resolver.problems.into_result(scenario),
        None => Err(resolver.problems),
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

    /// An integer that must be at least `min` and fit in u32.
    fn count(&mut self, value: &Spanned<i64>, what: &str, min: i64) -> Option<u32> {
        let v = *value.get_ref();
        if v < min {
            self.error(
                value.span(),
                format!("{what} must be at least {min}, not {v}"),
            );
            None
        } else if v > u32::MAX as i64 {
            self.error(value.span(), format!("{what} is too large ({v})"));
            None
        } else {
            Some(v as u32)
        }
    }

    fn positive_or(
        &mut self,
        value: &Option<Spanned<f64>>,
        what: &str,
        default: f64,
    ) -> Option<f64> {
        match value {
            Some(v) => self.positive(v, what),
            None => Some(default),
        }
    }

    fn non_negative_or(
        &mut self,
        value: &Option<Spanned<f64>>,
        what: &str,
        default: f64,
    ) -> Option<f64> {
        match value {
            Some(v) => self.non_negative(v, what),
            None => Some(default),
        }
    }

    fn count_or(
        &mut self,
        value: &Option<Spanned<i64>>,
        what: &str,
        min: i64,
        default: u32,
    ) -> Option<u32> {
        match value {
            Some(v) => self.count(v, what, min),
            None => Some(default),
        }
    }

    fn non_negative(&mut self, value: &Spanned<f64>, what: &str) -> Option<f64> {
        let v = *value.get_ref();
        if v.is_finite() && v >= 0.0 {
            Some(v)
        } else {
            self.error(value.span(), format!("{what} must be 0 or more, not {v}"));
            None
        }
    }

    fn positive(&mut self, value: &Spanned<f64>, what: &str) -> Option<f64> {
        let v = *value.get_ref();
        if v.is_finite() && v > 0.0 {
            Some(v)
        } else {
            self.error(
                value.span(),
                format!("{what} must be a positive number, not {v}"),
            );
            None
        }
    }

    fn scenario(
        &mut self,
        raw: RawScenario,
        options: &LoadOptions,
    ) -> Option<(Scenario, ParamValues)> {
        let seed = match (options.seed, &raw.seed) {
            (Some(seed), _) => seed,
            (None, Some(s)) if *s.get_ref() >= 0 => *s.get_ref() as u64,
            (None, Some(s)) => {
                self.error(s.span(), "seed must be 0 or more");
                Scenario::DEFAULT_SEED
            }
            (None, None) => Scenario::DEFAULT_SEED,
        };
        let traffic = self.traffic(&raw.traffic);
        let mesh = self.mesh(&raw.mesh);
        let models = self.models(&raw.models, options.catalog);
        let latency = self.latency(&raw.latency);
        let cluster = self.cluster(&raw, seed, traffic.as_ref());
        let name = raw.name.unwrap_or_else(|| {
            self.file()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        let (models, values) = models?;
        let latency = latency?;
        self.cpu_covers_service_time(&models, &latency, &raw.models)?;
        Some((
            Scenario {
                name,
                file: self.file().to_path_buf(),
                seed,
                cluster: cluster?,
                traffic: traffic?,
                mesh: mesh?,
                models,
                latency,
            },
            values,
        ))
    }
}
