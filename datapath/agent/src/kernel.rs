//! What the running kernel must offer before the agent touches anything: root, bpffs, cgroup v2,
//! and the kernel features each part of the datapath needs. The features themselves (minimum
//! versions, what they are for, how to probe them) are kernels.toml's, compiled into
//! `meshtwin_kernel_features`; this module only says which parts need which.

use std::path::Path;

use meshtwin_datapath_pins::mounts::{cgroup2_mount, is_on_bpffs, sys_remounted_by_ip_netns_exec};
pub use meshtwin_kernel_features::{
    probe::{raise_memlock_if_charged, Finding, MissingFeature},
    Feature, KernelVersion,
};
use meshtwin_kernel_features::{
    CGROUP_CONNECT4, CGROUP_GETPEERNAME4, CGROUP_LINK, LPM_TRIE, LRU_HASH, SK_MSG, SOCK_HASH,
    SOCK_OPS, TC_CLSACT, XDP, XDP_LINK,
};

/// Features every `up` needs.
pub const REQUIRED: &[Feature] = &[XDP, XDP_LINK, TC_CLSACT, LPM_TRIE, LRU_HASH];

/// Features the socket-level programs need, when the config has workloads or a node proxy.
pub const SOCKET_LEVEL: &[Feature] = &[SOCK_OPS, SK_MSG, SOCK_HASH, CGROUP_LINK];

/// Features connect-time redirect needs, when a workload has `redirect = true`.
pub const REDIRECT: &[Feature] = &[CGROUP_CONNECT4, CGROUP_GETPEERNAME4];

/// Why the agent cannot start on this machine; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Not running as root.
    #[error("meshtwin-agent must run as root (it loads BPF programs and changes interfaces); run it with sudo or as root")]
    NotRoot,
    /// The kernel lacks a feature (found by probing it, or by its version where no cheap
    /// probe exists).
    #[error(transparent)]
    MissingFeature(#[from] MissingFeature),
    /// The kernel release could not be read.
    #[error("cannot tell the kernel's version: {0}")]
    UnknownKernel(String),
    /// A workload's cgroup path is not a cgroup v2 directory.
    #[error("{path} is not a cgroup v2 directory ({mounted}); create it (mkdir) under the cgroup2 mount, or fix the config")]
    NotCgroup2 { path: String, mounted: String },
    /// The pin directory's parent is not on a bpf filesystem.
    #[error("{dir} is not on a bpf filesystem; mount one with `mount -t bpf bpf /sys/fs/bpf` or set bpffs-dir to a directory on a mounted bpffs")]
    NoBpffs { dir: String },
    /// The bpffs is hidden by the mount namespace `ip netns exec` made.
    #[error("{dir} is out of sight: `ip netns exec {netns}` runs this in a mount namespace of its own and mounts a new /sys there for the network namespace, which hides the bpffs at /sys/fs/bpf and every pin in it (mounting another bpffs here would not reach them); enter only the network namespace instead: `nsenter --net=/run/netns/{netns} meshtwin-agent ...`")]
    BpffsHidden { dir: String, netns: String },
}

/// The running kernel's version.
pub fn running_kernel() -> Result<KernelVersion, PreflightError> {
    KernelVersion::running().map_err(PreflightError::UnknownKernel)
}

/// Checks that `kernel` (the running one) has every feature in `features`, probing those with
/// a cheap probe; says how each was found.
pub fn check_features(
    kernel: KernelVersion,
    features: &[Feature],
) -> Result<Vec<Finding>, PreflightError> {
    Ok(meshtwin_kernel_features::probe::require_all(
        kernel, features,
    )?)
}

/// The features a config needs: [`REQUIRED`], plus the socket-level and redirect ones when it
/// uses them.
pub fn features_for(socket_level: bool, redirect: bool) -> Vec<Feature> {
    let mut features = REQUIRED.to_vec();
    if socket_level {
        features.extend_from_slice(SOCKET_LEVEL);
    }
    if redirect {
        features.extend_from_slice(REDIRECT);
    }
    features
}

/// `CGROUP2_SUPER_MAGIC` from linux/magic.h.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Checks that `path` is a directory on cgroup v2.
pub fn check_cgroup2(path: &Path) -> Result<(), PreflightError> {
    use std::os::unix::ffi::OsStrExt as _;
    let on_cgroup2 = std::ffi::CString::new(path.as_os_str().as_bytes())
        .ok()
        .is_some_and(|c_path| {
            // SAFETY: statfs fills the struct it is given.
            let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
            (unsafe { libc::statfs(c_path.as_ptr(), &mut stat) }) == 0
                && stat.f_type as i64 == CGROUP2_SUPER_MAGIC
        });
    if on_cgroup2 && path.is_dir() {
        return Ok(());
    }
    let mounted = cgroup2_mount().map_or_else(
        || "no cgroup2 is mounted".to_string(),
        |dir| format!("cgroup2 is mounted at {}", dir.display()),
    );
    Err(PreflightError::NotCgroup2 {
        path: path.display().to_string(),
        mounted,
    })
}

pub fn check_root() -> Result<(), PreflightError> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(PreflightError::NotRoot);
    }
    Ok(())
}

/// The pin directory must be on a bpffs: checks it, or its nearest existing ancestor.
pub fn check_bpffs(dir: &Path) -> Result<(), PreflightError> {
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    if is_on_bpffs(existing) {
        Ok(())
    } else {
        Err(
            bpffs_hidden(dir).unwrap_or_else(|| PreflightError::NoBpffs {
                dir: dir.display().to_string(),
            }),
        )
    }
}

/// When `dir` cannot be seen because `ip netns exec` remounted /sys, the error that says so.
pub fn bpffs_hidden(dir: &Path) -> Option<PreflightError> {
    sys_remounted_by_ip_netns_exec().map(|remount| PreflightError::BpffsHidden {
        dir: dir.display().to_string(),
        netns: remount.netns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_kernels_name_the_missing_feature() {
        // Features without a probe are decided by version, so this holds on any machine.
        let old = KernelVersion::new(5, 4, 0);
        let error = check_features(old, &[XDP_LINK]).unwrap_err().to_string();
        assert!(
            error.contains("xdp_link") && error.contains("5.9"),
            "{error}"
        );
        assert!(check_features(KernelVersion::new(5, 10, 0), &[XDP_LINK]).is_ok());
    }

    #[test]
    fn each_part_adds_its_features() {
        assert_eq!(features_for(false, false), REQUIRED);
        let all = features_for(true, true);
        assert!(all.contains(&SOCK_HASH) && all.contains(&CGROUP_GETPEERNAME4));
    }
}
