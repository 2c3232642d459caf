//! The model catalog: every parameter of every component with its value, unit and source,
//! read from `models/*.toml` (embedded at build time, or from a directory given with
//! `--models`), and the named profiles in `models/profiles/`.

use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Component model files, in the order reports list them.
pub const COMPONENTS: [&str; 4] = ["envoy", "ztunnel", "kernel", "ebpf"];

const EMBEDDED_COMPONENTS: [(&str, &str); 4] = [
    ("envoy", include_str!("../../../models/envoy.toml")),
    ("ztunnel", include_str!("../../../models/ztunnel.toml")),
    ("kernel", include_str!("../../../models/kernel.toml")),
    ("ebpf", include_str!("../../../models/ebpf.toml")),
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
    pub overrides: BTreeMap<String, BTreeMap<String, f64>>,
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
    overrides: BTreeMap<String, BTreeMap<String, f64>>,
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

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Every profile override must name a parameter that exists.
    fn check(&self) -> Result<(), Diagnostics> {
        let mut problems = Diagnostics::new();
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
                for param in params.keys() {
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
