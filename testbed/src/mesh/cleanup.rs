//! Removing a run by its prefix alone: what `RunningMesh::down`, the signal handler and
//! `meshtwin-testbed down [--prefix P]` (for a killed run) all do.
//!
//! 1. every process in `<cgroup2>/<prefix>/*` is killed and the cgroups removed (the
//!    namespaces they held go with them);
//! 2. every agent's pins, `/sys/fs/bpf/<prefix>-*`, go with `meshtwin-agent down --bpffs-dir`
//!    (links detached, pins removed), or by removing the directory if the agent is missing;
//! 3. the namespaces mounted at `/run/netns/<prefix>-*` are unmounted (with them go their
//!    veths, addresses, routes and iptables rules);
//! 4. the run directory (`/tmp/meshtwin-<prefix>`: configs, logs) is removed.

use std::path::{Path, PathBuf};

use meshtwin_datapath_pins::mounts::cgroup2_mount;

use crate::{binaries, cgroup::remove_tree, netns};

use super::MeshError;

/// What `down` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub cgroups: Vec<PathBuf>,
    pub bpffs_dirs: Vec<PathBuf>,
    pub namespaces: Vec<PathBuf>,
    pub run_dir: Option<PathBuf>,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.cgroups.is_empty()
            && self.bpffs_dirs.is_empty()
            && self.namespaces.is_empty()
            && self.run_dir.is_none()
    }
}

/// Where a run keeps its configs and logs.
pub fn run_dir(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("meshtwin-{prefix}"))
}

/// The file that marks a run directory as a mesh testbed's (so `down` without a prefix
/// never takes another program's `/tmp/meshtwin-*` for a run).
pub const RUN_MARKER: &str = "meshtwin-testbed-run";

/// The bpffs root the runs' agents pin under.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";

/// Entries of `dir` named `<prefix>-*`.
fn prefixed(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let start = format!("{prefix}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&start))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// What a run with `prefix` left behind, without removing anything.
pub fn leftovers(prefix: &str) -> Removed {
    let cgroup = cgroup2_mount()
        .map(|m| m.join(prefix))
        .filter(|p| p.exists());
    Removed {
        cgroups: cgroup.into_iter().collect(),
        bpffs_dirs: prefixed(Path::new(BPFFS_ROOT), prefix),
        namespaces: prefixed(Path::new(netns::NAMED_NETNS_DIR), prefix),
        run_dir: Some(run_dir(prefix)).filter(|p| p.exists()),
    }
}

/// Removes everything of the run `prefix` (module documentation); what it found is returned.
pub fn down(prefix: &str) -> Result<Removed, MeshError> {
    super::options::check_prefix(prefix)?;
    let found = leftovers(prefix);
    for root in &found.cgroups {
        let mut children: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        children.sort();
        for child in &children {
            remove_tree(child);
        }
        remove_tree(root);
    }
    for dir in &found.bpffs_dirs {
        agent_down(dir);
    }
    for mount in &found.namespaces {
        netns::unmount_named(mount);
    }
    if let Some(dir) = &found.run_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(found)
}

/// `meshtwin-agent down --bpffs-dir DIR`; if the agent cannot be found or fails, the pins
/// are removed directly (releasing a link's last pin detaches it).
pub fn agent_down(dir: &Path) {
    let ran = binaries::AGENT.path().ok().and_then(|agent| {
        std::process::Command::new(agent)
            .arg("down")
            .arg("--bpffs-dir")
            .arg(dir)
            .output()
            .ok()
    });
    if !ran.is_some_and(|output| output.status.success()) || dir.exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
