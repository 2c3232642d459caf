//! From the file as written to a checked `Scenario`. Every problem is reported with the span
//! of the key or value at fault; all problems found in one pass are reported together. What
//! the checks accept becomes the models' own types: options, cost models, and a cluster
//! specification that `cluster::build` turns into nodes, services and placed pods.

mod cluster;
mod models;
mod options;

use super::raw::RawScenario;
use super::Scenario;
use crate::cost_model::{Catalog, ParamValues};
use crate::diagnostic::{from_toml_error, Diagnostic, Diagnostics};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

pub struct LoadOptions<'a> {
    /// Overrides the file's `seed`.
    pub seed: Option<u64>,
    pub catalog: &'a Catalog,
}

/// Reads and resolves a scenario file.
pub fn load(path: &Path, options: &LoadOptions) -> Result<(Scenario, ParamValues), Diagnostics> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(path, "", None, format!("cannot read: {e}")))?;
    load_str(path, &text, options)
}

/// Resolves a scenario from its text; `path` names it in diagnostics.
pub fn load_str(
    path: &Path,
    text: &str,
    options: &LoadOptions,
) -> Result<(Scenario, ParamValues), Diagnostics> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| from_toml_error(path, text, &e))?;
    let mut resolver = Resolver {
        file: path,
        text,
        problems: Vec::new(),
    };
    let resolved = resolver.scenario(raw, options);
    match resolved {
        Some(scenario) if resolver.problems.is_empty() => Ok(scenario),
        _ => Err(Diagnostics(resolver.problems)),
    }
}

struct Resolver<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Resolver<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::new(self.file, self.text, Some(span), message));
    }

    fn file_error(&mut self, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::new(self.file, self.text, None, message));
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
            self.file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        });
        let (models, values) = models?;
        Some((
            Scenario {
                name,
                file: self.file.to_path_buf(),
                seed,
                cluster: cluster?,
                traffic: traffic?,
                mesh: mesh?,
                models,
                latency: latency?,
            },
            values,
        ))
    }
}
