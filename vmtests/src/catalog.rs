//! `kernels.toml`: the pinned test kernels, read into validated settings. Raw options mirror
//! the file one to one (unknown keys are errors); `Catalog` is what the rest of the crate uses.
//! Every error names `file:line:column` and shows the line (`meshtwin-diagnostics`). (The `[features]` table is not read here: it is
//! compiled into the tests by datapath/kernel-features, whose build script validates it.)

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};

use serde::Deserialize;
use toml::Spanned;

/// The validated contents of `kernels.toml`.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Where it was read from (the guest reads the same file through the shared root).
    pub path: PathBuf,
    /// The kernels, in file order.
    pub kernels: Vec<KernelSpec>,
}

/// One pinned kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSpec {
    /// Short name, as `just vmtest NAME` takes it ("6.1").
    pub name: String,
    /// Debian suite the packages are fetched from ("bookworm-security").
    pub suite: String,
    /// The packages holding the image and its modules.
    pub packages: Vec<PackagePin>,
    /// Wall-clock limit for the whole run of this kernel.
    pub timeout: Duration,
    /// qemu `-m` value.
    pub memory: String,
    /// Virtual CPUs.
    pub cpus: u8,
    /// Modules the shim loads, in order (dependencies are added by the shim builder).
    pub modules: Vec<String>,
    /// `file:line` of the entry, for messages that tell the user what to edit.
    pub location: String,
}

/// An exact Debian package version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackagePin {
    pub name: String,
    pub version: String,
}

impl std::fmt::Display for PackagePin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.version)
    }
}

/// What can be wrong with `kernels.toml`.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file cannot be read, is not valid TOML, has an unknown key, or a value fails
    /// validation: located, with the line.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A kernel asked for on the command line is not in the file.
    #[error("no kernel named `{name}` in {}; it has: {}", path.display(), known.join(", "))]
    UnknownKernel {
        name: String,
        path: PathBuf,
        known: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(rename = "kernel", default)]
    kernels: Vec<Spanned<RawKernel>>,
    /// Read by datapath/kernel-features' build script, which validates it.
    #[serde(default, rename = "features")]
    _features: toml::Table,
}

/// Settings every kernel inherits.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    timeout_secs: Option<Spanned<u64>>,
    memory: Option<Spanned<String>>,
    cpus: Option<Spanned<u8>>,
    modules: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    name: Spanned<String>,
    suite: Spanned<String>,
    packages: Spanned<Vec<RawPackage>>,
    timeout_secs: Option<Spanned<u64>>,
    memory: Option<Spanned<String>>,
    cpus: Option<Spanned<u8>>,
    /// Modules this kernel needs on top of the defaults.
    extra_modules: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackage {
    name: Spanned<String>,
    version: Spanned<String>,
}

const DEFAULT_TIMEOUT_SECS: u64 = 600;
const DEFAULT_MEMORY: &str = "1G";
const DEFAULT_CPUS: u8 = 1;

impl Catalog {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let source = SourceFile::read(path).map_err(|d| CatalogError::Invalid(d.into()))?;
        Self::parse_source(Arc::new(source))
    }

    /// Validates `text` as if read from `path` (used for messages only).
    pub fn parse(path: &Path, text: &str) -> Result<Self, CatalogError> {
        Self::parse_source(Arc::new(SourceFile::new(path, text)))
    }

    fn parse_source(source: Arc<SourceFile>) -> Result<Self, CatalogError> {
        let path = source.name();
        let at = |span: Range<usize>, message: String| {
            CatalogError::Invalid(Diagnostic::at(&source, span, message).into())
        };
        let raw: RawCatalog = toml::from_str(source.text())
            .map_err(|e| CatalogError::Invalid(Diagnostic::from_toml(&source, &e).into()))?;

        let defaults = &raw.defaults;
        let default_timeout = match &defaults.timeout_secs {
            Some(t) => positive_secs(t).map_err(|m| at(t.span(), m))?,
            None => DEFAULT_TIMEOUT_SECS,
        };
        let default_memory = match &defaults.memory {
            Some(m) => memory_size(m).map_err(|msg| at(m.span(), msg))?,
            None => DEFAULT_MEMORY.to_owned(),
        };
        let default_cpus = match &defaults.cpus {
            Some(c) => cpu_count(c).map_err(|m| at(c.span(), m))?,
            None => DEFAULT_CPUS,
        };
        let default_modules = match &defaults.modules {
            Some(list) => module_names(list).map_err(|(span, m)| at(span, m))?,
            None => Vec::new(),
        };

        if raw.kernels.is_empty() {
            return Err(at(
                0..0,
                "no [[kernel]] entries: list at least one kernel to test".to_owned(),
            ));
        }
        let mut names = HashSet::new();
        let mut kernels = Vec::with_capacity(raw.kernels.len());
        for entry in &raw.kernels {
            let line = source.location(entry.span().start).line;
            let kernel = entry.get_ref();
            let name = kernel.name.get_ref().trim();
            if name.is_empty() || name.contains(char::is_whitespace) || name.contains('/') {
                return Err(at(
                    kernel.name.span(),
                    format!(
                        "kernel name `{name}` must be a non-empty word without `/`, like \"6.1\""
                    ),
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(at(
                    kernel.name.span(),
                    format!("kernel name `{name}` is used twice"),
                ));
            }
            let suite = kernel.suite.get_ref().trim();
            if suite.is_empty() || !suite.chars().all(is_suite_char) {
                return Err(at(
                    kernel.suite.span(),
                    format!(
                        "suite `{suite}` is not a Debian suite name like \"bookworm-security\""
                    ),
                ));
            }
            if kernel.packages.get_ref().is_empty() {
                return Err(at(
                    kernel.packages.span(),
                    "packages is empty: name the image package (and modules package) with exact versions".to_owned(),
                ));
            }
            let mut packages = Vec::new();
            for package in kernel.packages.get_ref() {
                let name = package.name.get_ref().trim();
                if name.is_empty() || !name.chars().all(is_package_char) {
                    return Err(at(
                        package.name.span(),
                        format!("`{name}` is not a Debian package name"),
                    ));
                }
                let version = package.version.get_ref().trim();
                if version.is_empty() || !version.chars().all(is_version_char) {
                    return Err(at(
                        package.version.span(),
                        format!("`{version}` is not an exact Debian version like \"6.1.192-2\""),
                    ));
                }
                packages.push(PackagePin {
                    name: name.to_owned(),
                    version: version.to_owned(),
                });
            }
            let timeout = match &kernel.timeout_secs {
                Some(t) => positive_secs(t).map_err(|m| at(t.span(), m))?,
                None => default_timeout,
            };
            let memory = match &kernel.memory {
                Some(m) => memory_size(m).map_err(|msg| at(m.span(), msg))?,
                None => default_memory.clone(),
            };
            let cpus = match &kernel.cpus {
                Some(c) => cpu_count(c).map_err(|m| at(c.span(), m))?,
                None => default_cpus,
            };
            let mut modules = default_modules.clone();
            if let Some(extra) = &kernel.extra_modules {
                for module in module_names(extra).map_err(|(span, m)| at(span, m))? {
                    if !modules.contains(&module) {
                        modules.push(module);
                    }
                }
            }
            kernels.push(KernelSpec {
                name: name.to_owned(),
                suite: suite.to_owned(),
                packages,
                timeout: Duration::from_secs(timeout),
                memory,
                cpus,
                modules,
                location: format!("{}:{line}", path.display()),
            });
        }

        Ok(Self {
            path: path.to_owned(),
            kernels,
        })
    }

    /// The kernels named, in the order asked; all of them when `names` is empty.
    pub fn select(&self, names: &[String]) -> Result<Vec<KernelSpec>, CatalogError> {
        if names.is_empty() {
            return Ok(self.kernels.clone());
        }
        names
            .iter()
            .map(|wanted| {
                self.kernels
                    .iter()
                    .find(|k| &k.name == wanted)
                    .cloned()
                    .ok_or_else(|| CatalogError::UnknownKernel {
                        name: wanted.clone(),
                        path: self.path.clone(),
                        known: self.kernels.iter().map(|k| k.name.clone()).collect(),
                    })
            })
            .collect()
    }
}

fn positive_secs(value: &Spanned<u64>) -> Result<u64, String> {
    match *value.get_ref() {
        0 => Err("timeout_secs must be at least 1".to_owned()),
        secs => Ok(secs),
    }
}

fn memory_size(value: &Spanned<String>) -> Result<String, String> {
    let text = value.get_ref().trim();
    let digits = text.trim_end_matches(['M', 'G']);
    if digits.is_empty()
        || digits.len() == text.len()
        || digits.len() + 1 != text.len()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "memory `{text}` must be a size qemu's -m takes, like \"512M\" or \"1G\""
        ));
    }
    Ok(text.to_owned())
}

fn cpu_count(value: &Spanned<u8>) -> Result<u8, String> {
    match *value.get_ref() {
        0 => Err("cpus must be at least 1".to_owned()),
        n if n > 16 => Err(format!(
            "cpus = {n} is more than this harness supports (16)"
        )),
        n => Ok(n),
    }
}

fn module_names(list: &[Spanned<String>]) -> Result<Vec<String>, (Range<usize>, String)> {
    list.iter()
        .map(|m| {
            let name = m.get_ref().trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                Err((
                    m.span(),
                    format!("`{name}` is not a kernel module name like \"sch_ingress\""),
                ))
            } else {
                Ok(name.replace('-', "_"))
            }
        })
        .collect()
}

fn is_suite_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn is_package_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
}

fn is_version_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[defaults]
timeout_secs = 60
modules = ["virtio_pci", "9p"]

[[kernel]]
name = "6.1"
suite = "bookworm-security"
packages = [{ name = "linux-image-6.1.0-56-amd64-unsigned", version = "6.1.192-2" }]

[[kernel]]
name = "7.3"
suite = "trixie-backports"
cpus = 1
extra_modules = ["dummy"]
packages = [
  { name = "linux-binary-7.3.4+deb13-amd64", version = "7.3.4-1~bpo13+1" },
  { name = "linux-modules-7.3.4+deb13-amd64", version = "7.3.4-1~bpo13+1" },
]

[features]
xdp = { since = "4.12", used_for = "the policy" }
"#;

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(Path::new("kernels.toml"), text)
    }

    /// The error as `file:line:column: message`, without the shown line.
    fn error(text: &str) -> String {
        match parse(text).unwrap_err() {
            CatalogError::Invalid(problems) => {
                let d = problems.iter().next().unwrap();
                let at = d.location().expect("located");
                format!("{}:{at}: {}", d.path().display(), d.message())
            }
            other => other.to_string(),
        }
    }

    #[test]
    fn reads_kernels_and_defaults() {
        let catalog = parse(GOOD).unwrap();
        assert_eq!(catalog.kernels.len(), 2);
        let k = &catalog.kernels[1];
        assert_eq!(k.name, "7.3");
        assert_eq!(k.packages.len(), 2);
        assert_eq!(k.timeout, Duration::from_secs(60));
        assert_eq!(k.cpus, 1);
        assert_eq!(k.memory, "1G");
        assert_eq!(k.modules, ["virtio_pci", "9p", "dummy"]);
        assert_eq!(k.location, "kernels.toml:11");
    }

    #[test]
    fn selects_by_exact_name() {
        let catalog = parse(GOOD).unwrap();
        let picked = catalog.select(&["7.3".to_owned()]).unwrap();
        assert_eq!(picked[0].name, "7.3");
        let err = catalog.select(&["6".to_owned()]).unwrap_err().to_string();
        assert_eq!(err, "no kernel named `6` in kernels.toml; it has: 6.1, 7.3");
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = error("[[kernel]]\nname = \"6.1\nsuite = 1\n");
        assert!(err.starts_with("kernels.toml:2:"), "{err}");
    }

    #[test]
    fn unknown_keys_are_located() {
        let text = GOOD.replace("cpus = 1", "cpu = 1");
        let err = error(&text);
        assert!(
            err.starts_with("kernels.toml:14:1: unknown field `cpu`"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_names_and_empty_packages_are_errors() {
        let text = GOOD.replace("name = \"7.3\"", "name = \"6.1\"");
        assert!(error(&text).contains("kernel name `6.1` is used twice"));
        let text = GOOD.replace(
            "packages = [{ name = \"linux-image-6.1.0-56-amd64-unsigned\", version = \"6.1.192-2\" }]",
            "packages = []",
        );
        assert!(error(&text).starts_with("kernels.toml:9:12: packages is empty"));
    }

    #[test]
    fn the_repository_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels.toml");
        let catalog = Catalog::load(&path).unwrap();
        assert!(catalog.kernels.len() >= 5);
    }
}
