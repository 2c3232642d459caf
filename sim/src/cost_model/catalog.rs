//! The model catalog: every parameter of every component with its value, unit and source,
//! read from `models/*.toml` (embedded at build time, or from a directory given with
//! `--models`), and the named profiles in `models/profiles/`.

use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Component model files, in the order reports list them.
pub const COMPONENTS: [&str; 8] = [
    "envoy",
    "ztunnel",
    "linkerd2-proxy",
    "kernel",
    "ebpf",
    "app",
    "resources",
    "control-plane",
];

const EMBEDDED_COMPONENTS: [(&str, &str); 8] = [
    ("envoy", include_str!("../../../models/envoy.toml")),
    ("ztunnel", include_str!("../../../models/ztunnel.toml")),
    (
        "linkerd2-proxy",
        include_str!("../../../models/linkerd2-proxy.toml"),
    ),
    ("kernel", include_str!("../../../models/kernel.toml")),
    ("ebpf", include_str!("../../../models/ebpf.toml")),
    ("app", include_str!("../../../models/app.toml")),
    ("resources", include_str!("../../../models/resources.toml")),
    (
        "control-plane",
        include_str!("../../../models/control-plane.toml"),
    ),
];

/// In file-name order, as `from_dir` reads them.
const EMBEDDED_PROFILES: [(&str, &str); 4] = [
    (
        "envoy-ci-bounds",
        include_str!("../../../models/profiles/envoy-ci-bounds.toml"),
    ),
    (
        "flat-70MB",
        include_str!("../../../models/profiles/flat-70MB.toml"),
    ),
    (
        "meshtwin-node-proxy",
        include_str!("../../../models/profiles/meshtwin-node-proxy.toml"),
    ),
    (
        "qubership-sizing",
        include_str!("../../../models/profiles/qubership-sizing.toml"),
    ),
];

/// One number of a cost model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub value: f64,
    /// The lowest and highest values the sources give (both or neither), when they disagree:
    /// the report's ranges evaluate the model with every parameter at its `low`, then at its
    /// `high` (docs/architecture.md, "Ranges"). `source` names where each comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    pub unit: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub name: String,
    pub description: String,
    pub params: BTreeMap<String, Param>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub source: String,
    /// component → parameter → value
    pub overrides: BTreeMap<String, BTreeMap<String, ProfileValue>>,
}

/// A value in a profile: a bare number, whose source is the profile's own `source`, or a
/// number with a source of its own (`{ value = 41.5, source = "..." }`), as a profile measured
/// by several commands needs (`meshtwin-testbed calibrate` writes one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProfileValue {
    Number(f64),
    Sourced(SourcedValue),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcedValue {
    pub value: f64,
    pub source: String,
}

impl ProfileValue {
    pub fn value(&self) -> f64 {
        match self {
            ProfileValue::Number(v) => *v,
            ProfileValue::Sourced(s) => s.value,
        }
    }

    /// Its own source, if it has one.
    pub fn source(&self) -> Option<&str> {
        match self {
            ProfileValue::Number(_) => None,
            ProfileValue::Sourced(s) => Some(&s.source),
        }
    }
}

impl Profile {
    /// A profile file outside the catalog's directory (its name is the file's stem).
    pub fn from_file(path: &Path) -> Result<Profile, Diagnostic> {
        let text = read(path)?;
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        parse_profile(&name, path, &text)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    pub components: Vec<Component>,
    pub profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct RawComponentFile {
    description: String,
    #[serde(flatten)]
    params: BTreeMap<String, Param>,
}

#[derive(Deserialize)]
struct RawProfileFile {
    description: String,
    source: String,
    #[serde(flatten)]
    overrides: BTreeMap<String, BTreeMap<String, ProfileValue>>,
}

impl Catalog {
    /// The models compiled into the binary (the repository's `models/` at build time).
    pub fn embedded() -> Catalog {
        let components = EMBEDDED_COMPONENTS.iter().map(|(name, text)| {
            let path = PathBuf::from(format!("models/{name}.toml"));
            parse_component(name, &path, text)
        });
        let profiles = EMBEDDED_PROFILES.iter().map(|(name, text)| {
            let path = PathBuf::from(format!("models/profiles/{name}.toml"));
            parse_profile(name, &path, text)
        });
        let catalog = Catalog {
            components: components
                .collect::<Result<_, _>>()
                .expect("embedded models parse (checked by tests)"),
            profiles: profiles
                .collect::<Result<_, _>>()
                .expect("embedded profiles parse (checked by tests)"),
        };
        catalog
            .check()
            .expect("embedded profiles name known parameters (checked by tests)");
        catalog
    }

    /// Models read from a directory laid out like the repository's `models/`.
    pub fn from_dir(dir: &Path) -> Result<Catalog, Diagnostics> {
        let mut components = Vec::new();
        for name in COMPONENTS {
            let path = dir.join(format!("{name}.toml"));
            let text = read(&path)?;
            components.push(parse_component(name, &path, &text)?);
        }
        let mut profiles = Vec::new();
        let profile_dir = dir.join("profiles");
        if profile_dir.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&profile_dir)
                .map_err(|e| io_diagnostic(&profile_dir, &e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let name = path.file_stem().unwrap_or_default().to_string_lossy();
                let text = read(&path)?;
                profiles.push(parse_profile(&name, &path, &text)?);
            }
        }
        let catalog = Catalog {
            components,
            profiles,
        };
        catalog.check()?;
        Ok(catalog)
    }

    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// Adds a profile (replacing one of the same name) after checking that it names known
    /// parameters.
    pub fn add_profile(&mut self, profile: Profile) -> Result<(), Diagnostics> {
        let replaced = self
            .profiles
            .iter()
            .position(|p| p.name == profile.name)
            .map(|i| self.profiles.remove(i));
        self.profiles.push(profile);
        let checked = self.check();
        if checked.is_err() {
            self.profiles.pop();
            self.profiles.extend(replaced);
        }
        checked
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Every parameter has a range and its value is in it; every profile override names a
    /// parameter that exists, with a value in its range.
    fn check(&self) -> Result<(), Diagnostics> {
        let mut problems = Diagnostics::new();
        for component in &self.components {
            let path = PathBuf::from(format!("models/{}.toml", component.name));
            for (name, param) in &component.params {
                if let Some(message) = out_of_range(name, param.value) {
                    problems.push(Diagnostic::file(&path, format!("`{name}`: {message}")));
                }
                if let Some(message) = bounds_problem(name, param) {
                    problems.push(Diagnostic::file(&path, format!("`{name}`: {message}")));
                }
            }
        }
        for profile in &self.profiles {
            for (component, params) in &profile.overrides {
                let path = PathBuf::from(format!("models/profiles/{}.toml", profile.name));
                let Some(c) = self.component(component) else {
                    problems.push(Diagnostic::file(
                        &path,
                        format!(
                            "profile `{}` overrides unknown component `{component}`",
                            profile.name
                        ),
                    ));
                    continue;
                };
                for (param, value) in params {
                    if let Some(message) = out_of_range(param, value.value()) {
                        problems.push(Diagnostic::file(
                            &path,
                            format!(
                                "profile `{}`: `{component}.{param}`: {message}",
                                profile.name
                            ),
                        ));
                    }
                    if !c.params.contains_key(param) {
                        problems.push(Diagnostic::file(
                            &path,
                            format!(
                                "profile `{}` overrides unknown parameter `{component}.{param}`",
                                profile.name
                            ),
                        ));
                    }
                }
            }
        }
        problems.into_result(())
    }
}

/// Why `value` cannot be parameter `name`'s, if it cannot.
fn out_of_range(name: &str, value: f64) -> Option<String> {
    match super::ranges::of(name) {
        None => Some(
            "no range: a parameter's name must end in _bytes, _us, _sigma, _gbps, _ns_per_byte, _ratio, _exponent, _vcpu, _per_second or vcpu_per_krps, or be worker_threads (cost_model/ranges.rs)"
                .to_string(),
        ),
        Some(range) if !range.contains(value) => Some(format!(
            "{value} is not {} {range}",
            if range.integer { "an" } else { "a" }
        )),
        Some(_) => None,
    }
}

/// Why a parameter's `low` and `high` cannot be its range, if they cannot: both or neither,
/// each in the parameter's range, `low ≤ value ≤ high`.
fn bounds_problem(name: &str, param: &Param) -> Option<String> {
    match (param.low, param.high) {
        (None, None) => None,
        (Some(low), Some(high)) => {
            for bound in [low, high] {
                if let Some(message) = out_of_range(name, bound) {
                    return Some(format!("its low or high: {message}"));
                }
            }
            (!(low <= param.value && param.value <= high)).then(|| {
                format!(
                    "low {low} ≤ value {} ≤ high {high} does not hold",
                    param.value
                )
            })
        }
        _ => Some("give both `low` and `high`, or neither".to_string()),
    }
}

fn read(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path).map_err(|e| io_diagnostic(path, &e))
}

fn io_diagnostic(path: &Path, err: &std::io::Error) -> Diagnostic {
    Diagnostic::file(path, format!("cannot read: {err}"))
}

/// A TOML error of a model file, located; the source is made only when there is an error.
fn toml_diagnostic(path: &Path, text: &str, err: &toml::de::Error) -> Diagnostic {
    Diagnostic::from_toml(&Arc::new(SourceFile::new(path, text)), err)
}

fn parse_component(name: &str, path: &Path, text: &str) -> Result<Component, Diagnostic> {
    let raw: RawComponentFile =
        toml::from_str(text).map_err(|e| toml_diagnostic(path, text, &e))?;
    Ok(Component {
        name: name.to_string(),
        description: raw.description,
        params: raw.params,
    })
}

fn parse_profile(name: &str, path: &Path, text: &str) -> Result<Profile, Diagnostic> {
    let raw: RawProfileFile = toml::from_str(text).map_err(|e| toml_diagnostic(path, text, &e))?;
    Ok(Profile {
        name: name.to_string(),
        description: raw.description,
        source: raw.source,
        overrides: raw.overrides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_models_parse_and_every_parameter_has_a_source() {
        let catalog = Catalog::embedded();
        assert_eq!(catalog.components.len(), COMPONENTS.len());
        for c in &catalog.components {
            assert!(!c.params.is_empty(), "{} has no parameters", c.name);
            for (name, p) in &c.params {
                assert!(p.source.len() > 20, "{}.{name} needs a real source", c.name);
                assert!(p.value.is_finite() && p.value >= 0.0, "{}.{name}", c.name);
            }
        }
    }

    #[test]
    fn a_profile_value_may_carry_its_own_source() {
        let dir = std::env::temp_dir().join(format!("meshtwin-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("measured.toml");
        std::fs::write(
            &path,
            r#"
description = "measured here"
source = "the profile's own source"

[envoy]
base_bytes = 5_000_000
l7_service_time_mean_us = { value = 41.5, source = "meshtwin-testbed calibrate (haproxy, 1 KiB)" }
"#,
        )
        .unwrap();
        let mut catalog = Catalog::embedded();
        catalog
            .add_profile(Profile::from_file(&path).unwrap())
            .unwrap();
        let mut values = catalog.values();
        catalog.apply_profile(&mut values, "measured");
        let envoy = &values["envoy"];
        assert_eq!(envoy["l7_service_time_mean_us"].value, 41.5);
        assert_eq!(
            envoy["l7_service_time_mean_us"].source,
            "profile measured: meshtwin-testbed calibrate (haproxy, 1 KiB)"
        );
        assert_eq!(envoy["base_bytes"].value, 5e6);
        assert_eq!(
            envoy["base_bytes"].source,
            "profile measured: the profile's own source"
        );

        // A misspelt key of a sourced value, and an unknown parameter, are errors.
        std::fs::write(
            &path,
            "description = \"d\"\nsource = \"s\"\n[envoy]\nbase_bytes = { value = 1, sorce = \"x\" }\n",
        )
        .unwrap();
        assert!(Profile::from_file(&path).is_err());
        std::fs::write(
            &path,
            "description = \"d\"\nsource = \"s\"\n[envoy]\nno_such_parameter = 1\n",
        )
        .unwrap();
        let unknown = Profile::from_file(&path).unwrap();
        let error = catalog.add_profile(unknown).unwrap_err().to_string();
        assert!(
            error.contains("unknown parameter `envoy.no_such_parameter`"),
            "{error}"
        );
        assert!(catalog.profile("measured").is_some(), "the first one stays");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_range_needs_both_ends_around_the_value() {
        let param = |value, low, high| Param {
            value,
            low,
            high,
            unit: "bytes".into(),
            source: "a test".into(),
        };
        assert_eq!(bounds_problem("x_bytes", &param(5.0, None, None)), None);
        assert_eq!(
            bounds_problem("x_bytes", &param(5.0, Some(1.0), Some(9.0))),
            None
        );
        let one_end = bounds_problem("x_bytes", &param(5.0, Some(1.0), None)).unwrap();
        assert!(one_end.contains("both"), "{one_end}");
        let outside = bounds_problem("x_bytes", &param(10.0, Some(1.0), Some(9.0))).unwrap();
        assert!(outside.contains("does not hold"), "{outside}");
        let past = bounds_problem("x_bytes", &param(5.0, Some(-1.0), Some(9.0))).unwrap();
        assert!(past.contains("low or high"), "{past}");
        // Every shipped range holds.
        for c in &Catalog::embedded().components {
            for (name, p) in &c.params {
                assert_eq!(bounds_problem(name, p), None, "{}.{name}", c.name);
            }
        }
    }

    #[test]
    fn the_repository_models_directory_matches_the_embedded_copy() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let from_dir = Catalog::from_dir(&dir).unwrap();
        let embedded = Catalog::embedded();
        assert_eq!(
            serde_json::to_string(&from_dir).unwrap(),
            serde_json::to_string(&embedded).unwrap(),
            "a profile file was added to models/profiles without being embedded"
        );
    }
}
