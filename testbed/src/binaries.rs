//! The workspace programs the testbed starts as processes: the agent, the traffic tool, the
//! mesh testbed's workload server and the node proxy. Each belongs to its own package, and cargo builds a package's binaries only for
//! that package's own tests (`CARGO_BIN_EXE_*`), so a test or benchmark elsewhere finds them in
//! this order:
//!
//! 1. the environment variable of the program (`MESHTWIN_AGENT_BIN`, `MESHTWIN_TRAFFIC_BIN`,
//!    `MESHTWIN_WORKLOAD_BIN`, `MESHTWIN_PROXY_BIN`): a binary chosen by hand;
//! 2. the binary beside the running executable, in the same target directory and profile
//!    (`target/<profile>/NAME`; a test runs from `target/<profile>/deps/`). When cargo runs us
//!    (`cargo test`, `cargo run`: `$CARGO` is set), it first builds the program there, with
//!    the same profile, so what runs is never older than its source (a no-op when it is up to
//!    date). Without cargo (the VM tests' guests, a benchmark started by hand) the binary must
//!    already be there: vmtests builds them on the host, and a guest sees the host's target
//!    directory, read-only, at the same path.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

/// A program of the workspace, by binary name, package and override variable.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    pub name: &'static str,
    pub package: &'static str,
    pub env: &'static str,
}

/// `meshtwin-agent` (datapath/agent).
pub const AGENT: Program = Program {
    name: "meshtwin-agent",
    package: "meshtwin-agent",
    env: "MESHTWIN_AGENT_BIN",
};

/// `meshtwin-traffic` (this crate).
pub const TRAFFIC: Program = Program {
    name: "meshtwin-traffic",
    package: "meshtwin-testbed",
    env: "MESHTWIN_TRAFFIC_BIN",
};

/// `meshtwin-workload` (this crate): the mesh testbed's workload server.
pub const WORKLOAD: Program = Program {
    name: "meshtwin-workload",
    package: "meshtwin-testbed",
    env: "MESHTWIN_WORKLOAD_BIN",
};

/// `meshtwin-node-proxy` (datapath/node-proxy).
pub const NODE_PROXY: Program = Program {
    name: "meshtwin-node-proxy",
    package: "meshtwin-node-proxy",
    env: "MESHTWIN_PROXY_BIN",
};

/// Why a program was not found.
#[derive(Clone, Debug, thiserror::Error)]
pub enum BinaryError {
    /// The running executable's path is unknown, so its target directory is too.
    #[error("cannot find the running executable: {0}")]
    CurrentExe(String),
    /// cargo could not build the program.
    #[error("`{command}` failed:\n{stderr}")]
    Build { command: String, stderr: String },
    /// The program is not built beside the running executable.
    #[error("{path} does not exist: build it beside {running} (`cargo build -p {package} --bin {name}`, with --release for a release build) or name a binary in ${env}")]
    Missing {
        path: PathBuf,
        package: &'static str,
        name: &'static str,
        running: PathBuf,
        env: &'static str,
    },
}

impl Program {
    /// The program's path (see the module documentation for where it comes from).
    pub fn path(&self) -> Result<PathBuf, BinaryError> {
        if let Some(path) = std::env::var_os(self.env) {
            return Ok(PathBuf::from(path));
        }
        // Once per program and process: tests ask from many threads.
        static FOUND: OnceLock<Mutex<HashMap<&'static str, Result<PathBuf, BinaryError>>>> =
            OnceLock::new();
        let mut found = FOUND
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        found
            .entry(self.name)
            .or_insert_with(|| self.locate())
            .clone()
    }

    fn locate(&self) -> Result<PathBuf, BinaryError> {
        let running =
            std::env::current_exe().map_err(|error| BinaryError::CurrentExe(error.to_string()))?;
        let profile_dir = profile_dir(&running).ok_or_else(|| {
            BinaryError::CurrentExe(format!("{} has no parent", running.display()))
        })?;
        if let Some(cargo) = std::env::var_os("CARGO") {
            self.build(Path::new(&cargo), profile_dir)?;
        }
        let path = profile_dir.join(self.name);
        if !path.exists() {
            return Err(BinaryError::Missing {
                path,
                package: self.package,
                name: self.name,
                running,
                env: self.env,
            });
        }
        Ok(path)
    }

    /// `cargo build` of this program into `profile_dir` (`<target dir>/<profile>`).
    fn build(&self, cargo: &Path, profile_dir: &Path) -> Result<(), BinaryError> {
        let target_dir = profile_dir.parent().unwrap_or(profile_dir);
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            // cargo's dev and test profiles write to `debug`.
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .args(["-p", self.package, "--bin", self.name, "--profile", profile])
            .arg("--target-dir")
            .arg(target_dir);
        let shown = format!("{command:?}");
        let output = command.output().map_err(|error| BinaryError::Build {
            command: shown.clone(),
            stderr: error.to_string(),
        })?;
        if !output.status.success() {
            return Err(BinaryError::Build {
                command: shown,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(())
    }
}

/// `target/<profile>` for an executable in it or in its `deps/` (where cargo puts tests).
fn profile_dir(executable: &Path) -> Option<&Path> {
    let dir = executable.parent()?;
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent()
    } else {
        Some(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_and_binaries_share_their_profile_directory() {
        assert_eq!(
            profile_dir(Path::new("/w/target/debug/deps/datapath-0123")),
            Some(Path::new("/w/target/debug"))
        );
        assert_eq!(
            profile_dir(Path::new("/w/target/release/meshtwin-testbed")),
            Some(Path::new("/w/target/release"))
        );
    }
}
