//! A private apt root: apt's own lists, cache and sources in a directory of ours, so kernels
//! of any Debian suite can be downloaded (`apt-get download`, no install) without touching the
//! host's apt state. Its sources reuse the host's mirror.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::catalog::PackagePin;
use crate::host_mirror::{HostMirrors, MirrorError};

/// A prepared private apt root.
#[derive(Debug)]
pub struct AptRoot {
    dir: PathBuf,
    config: PathBuf,
    /// Package lists are present (maybe from an earlier run).
    has_lists: bool,
    /// Package lists were refreshed by this process.
    fresh: bool,
}

/// What went wrong talking to apt.
#[derive(Debug, thiserror::Error)]
pub enum AptError {
    /// Files of the apt root could not be written.
    #[error("cannot write the private apt root at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `*-security` suite is wanted but the host has no security mirror to reuse.
    #[error(
        "suite `{suite}` comes from Debian's security archive, but the host's apt sources \
         name no security mirror; pick the package from a regular suite in kernels.toml"
    )]
    NoSecurityMirror { suite: String },
    /// The host's apt sources name no mirror to reuse.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// apt-get is not installed (not a Debian-like host).
    #[error("apt-get not found: downloading kernels needs apt (a Debian or Ubuntu host)")]
    AptMissing,
    /// `apt-get update` failed.
    #[error("`apt-get update` in the private apt root failed ({status}):\n{tail}")]
    Update { status: String, tail: String },
    /// A pinned package could not be downloaded.
    #[error(transparent)]
    Download(Box<DownloadFailure>),
}

/// A pinned package apt could not fetch, with what the suite offers instead.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot download {package} from suite `{suite}`: {detail}\n  \
     versions of {name} that suite offers: {offered}\n  \
     fix: change the package's version (or the kernel's suite) in {location}",
    name = package.name,
    offered = if available.is_empty() { "none".to_owned() } else { available.join(", ") }
)]
pub struct DownloadFailure {
    pub package: PackagePin,
    pub suite: String,
    pub detail: String,
    pub available: Vec<String>,
    /// `kernels.toml:LINE` of the kernel entry.
    pub location: String,
}

impl AptRoot {
    /// Writes the apt configuration and sources for `suites` under `dir`.
    pub fn prepare(
        dir: &Path,
        mirrors: &HostMirrors,
        suites: &BTreeSet<String>,
    ) -> Result<Self, AptError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| AptError::Io { path, source }
        };
        for sub in [
            "etc/apt.conf.d",
            "etc/preferences.d",
            "etc/sources.list.d",
            "state/lists/partial",
            "cache/archives/partial",
        ] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        let status = dir.join("state/status");
        if !status.exists() {
            // An empty dpkg status: nothing is "installed" in this root, so apt resolves
            // nothing against the host's packages.
            std::fs::write(&status, "").map_err(io(&status))?;
        }

        let mut sources = String::new();
        for suite in suites {
            let uri = mirrors
                .uri_for(suite)
                .ok_or_else(|| AptError::NoSecurityMirror {
                    suite: suite.clone(),
                })?;
            sources.push_str(&format!(
                "Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: main\nSigned-By: {}\n\n",
                mirrors.keyring.display()
            ));
        }
        let sources_path = dir.join("etc/sources.list.d/kernels.sources");
        let sources_changed =
            std::fs::read_to_string(&sources_path).ok().as_deref() != Some(&sources);
        if sources_changed {
            std::fs::write(&sources_path, &sources).map_err(io(&sources_path))?;
        }

        let d = dir.display();
        let config_text = format!(
            "// Private apt root of meshtwin's vmtests: everything apt reads or writes is here.\n\
Dir::Etc \"{d}/etc\";\n\
Dir::Etc::main \"/dev/null\";\n\
Dir::Etc::parts \"{d}/etc/apt.conf.d\";\n\
Dir::Etc::sourcelist \"/dev/null\";\n\
Dir::Etc::sourceparts \"{d}/etc/sources.list.d\";\n\
Dir::Etc::preferencesparts \"{d}/etc/preferences.d\";\n\
Dir::State \"{d}/state\";\n\
Dir::State::status \"{d}/state/status\";\n\
Dir::Cache \"{d}/cache\";\n\
APT::Architecture \"amd64\";\n\
APT::Architectures {{ \"amd64\"; }};\n\
Acquire::Languages \"none\";\n\
// Packages are pinned to exact versions and still verified against the signed indexes;\n\
// an index past its Valid-Until (a mirror snapshot, or sid between pushes) is fine for that.\n\
Acquire::Check-Valid-Until \"false\";\n\
// The _apt sandbox user cannot write into a root-owned cache in $HOME.\n\
APT::Sandbox::User \"root\";\n"
        );
        let config = dir.join("apt.conf");
        std::fs::write(&config, config_text).map_err(io(&config))?;
        let mut root = Self {
            dir: dir.to_owned(),
            config,
            has_lists: false,
            fresh: false,
        };
        // Lists left by an earlier run with the same sources are good enough to try first; a
        // failed download refreshes them and tries once more.
        root.has_lists = !sources_changed && root.lists_present();
        Ok(root)
    }

    fn lists_present(&self) -> bool {
        std::fs::read_dir(self.dir.join("state/lists"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
            })
            .unwrap_or(false)
    }

    fn apt(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("APT_CONFIG", &self.config)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LC_ALL", "C");
        command
    }

    fn run(&self, mut command: Command) -> Result<Output, AptError> {
        command.output().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AptError::AptMissing,
            _ => AptError::Io {
                path: self.dir.clone(),
                source: e,
            },
        })
    }

    /// Refreshes the package lists of the root's suites.
    pub fn update(&mut self) -> Result<(), AptError> {
        let mut command = self.apt("apt-get");
        command.args(["-q", "update"]);
        let output = self.run(command)?;
        // apt-get update exits 0 even when one index failed; its `E:`/`W:` lines say so.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let failed = stderr.lines().any(|l| l.starts_with("E:"));
        if !output.status.success() || failed {
            return Err(AptError::Update {
                status: output.status.to_string(),
                tail: tail(&stderr, 8),
            });
        }
        self.has_lists = true;
        self.fresh = true;
        Ok(())
    }

    /// Downloads `package` from `suite` into `dest_dir` and returns the `.deb`'s path.
    /// `location` (kernels.toml:line) is named in the error when the download fails.
    pub fn download(
        &mut self,
        package: &PackagePin,
        suite: &str,
        dest_dir: &Path,
        location: &str,
    ) -> Result<PathBuf, AptError> {
        if !self.has_lists {
            self.update()?;
        }
        match self.try_download(package, suite, dest_dir, location) {
            Err(AptError::Download(_)) if !self.fresh => {
                self.update()?;
                self.try_download(package, suite, dest_dir, location)
            }
            result => result,
        }
    }

    fn try_download(
        &self,
        package: &PackagePin,
        suite: &str,
        dest_dir: &Path,
        location: &str,
    ) -> Result<PathBuf, AptError> {
        let staging = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(dest_dir)
            .map_err(|source| AptError::Io {
                path: dest_dir.to_owned(),
                source,
            })?;
        let mut command = self.apt("apt-get");
        command
            .args(["-q", "download"])
            .arg(format!("{}={}", package.name, package.version))
            .current_dir(staging.path());
        let output = self.run(command)?;
        let debs: Vec<PathBuf> = std::fs::read_dir(staging.path())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "deb"))
                    .collect()
            })
            .unwrap_or_default();
        if !output.status.success() || debs.len() != 1 {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let detail = stderr
                .lines()
                .filter(|l| l.starts_with("E:") || l.starts_with("Err:"))
                .map(|l| l.trim_start_matches("E: "))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(AptError::Download(Box::new(DownloadFailure {
                package: package.clone(),
                suite: suite.to_owned(),
                detail: if detail.is_empty() {
                    format!("apt-get download exited {}", output.status)
                } else {
                    detail
                },
                available: self.versions_in(&package.name, suite),
                location: location.to_owned(),
            })));
        }
        let final_path = dest_dir.join(deb_file_name(package));
        std::fs::rename(&debs[0], &final_path).map_err(|source| AptError::Io {
            path: final_path.clone(),
            source,
        })?;
        Ok(final_path)
    }

    /// Versions of `name` that `suite` offers, per `apt-cache madison` (for error messages).
    pub fn versions_in(&self, name: &str, suite: &str) -> Vec<String> {
        let mut command = self.apt("apt-cache");
        command.args(["madison", name]);
        let Ok(output) = self.run(command) else {
            return Vec::new();
        };
        // Lines look like: ` name | 6.1.192-2 | <uri> bookworm-security/main amd64 Packages`.
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split('|').map(str::trim).collect();
                let origin = fields.get(2)?;
                let in_suite = origin
                    .split_whitespace()
                    .any(|w| w.split('/').next() == Some(suite));
                in_suite.then(|| fields[1].to_owned())
            })
            .collect()
    }
}

/// An apt root set up only when something has to be downloaded: a run with every kernel
/// cached never reads the host's sources or touches the network.
#[derive(Debug)]
pub struct LazyAptRoot {
    dir: PathBuf,
    suites: BTreeSet<String>,
    root: Option<AptRoot>,
}

impl LazyAptRoot {
    pub fn new(dir: PathBuf, suites: BTreeSet<String>) -> Self {
        Self {
            dir,
            suites,
            root: None,
        }
    }

    /// The apt root, prepared on first use with the host's mirrors.
    pub fn get(&mut self) -> Result<&mut AptRoot, AptError> {
        if self.root.is_none() {
            let mirrors = HostMirrors::from_host()?;
            self.root = Some(AptRoot::prepare(&self.dir, &mirrors, &self.suites)?);
        }
        Ok(self.root.as_mut().expect("set just above"))
    }
}

/// The file name a package is cached under: name and exact version, as apt names it.
pub fn deb_file_name(package: &PackagePin) -> String {
    format!(
        "{}_{}_amd64.deb",
        package.name,
        package.version.replace(':', "%3a")
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
