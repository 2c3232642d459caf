//! The two filesystems the datapath's pins and attachments live on: bpffs, which holds every
//! pin, and cgroup v2, whose directories the socket-level programs are attached to (and whose
//! inode numbers name their pins).

use std::{
    ffi::CString,
    os::unix::ffi::OsStrExt as _,
    path::{Path, PathBuf},
};

/// `BPF_FS_MAGIC` from linux/magic.h.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Whether `path` (which must exist) is on a bpf filesystem.
pub fn is_on_bpffs(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: all-zero bytes are a valid `statfs` (integers only).
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a `statfs` the call may fill, both alive for the call.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut stat) } != 0 {
        return false;
    }
    stat.f_type as i64 == BPF_FS_MAGIC
}

/// Where cgroup v2 is mounted, from /proc/mounts (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on a hybrid layout).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, kind) = (fields.next()?, fields.next()?, fields.next()?);
        (kind == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// `ip netns exec NAME` runs its command in a mount namespace of its own whose /sys is a fresh
/// sysfs for the network namespace: the bpffs mounted at /sys/fs/bpf (and every pin in it) is
/// not there. It mounts that sysfs with the namespace's name as its source, which is how this
/// is told apart from a machine that simply has no bpffs mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysRemounted {
    /// The network namespace `ip netns exec` was given.
    pub netns: String,
}

/// Whether /sys was mounted again by `ip netns exec` (see [`SysRemounted`]).
pub fn sys_remounted_by_ip_netns_exec() -> Option<SysRemounted> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    sys_remount_in(&mountinfo)
}

/// The last mount on /sys in `mountinfo` (the one that is visible), when it is a sysfs whose
/// source is not the usual "sysfs".
fn sys_remount_in(mountinfo: &str) -> Option<SysRemounted> {
    let (kind, source) = mountinfo.lines().rev().find_map(|line| {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER"
        let (before, after) = line.split_once(" - ")?;
        let mount_point = before.split_whitespace().nth(4)?;
        let mut after = after.split_whitespace();
        let (kind, source) = (after.next()?, after.next()?);
        (mount_point == "/sys").then_some((kind, source))
    })?;
    (kind == "sysfs" && source != "sysfs" && source != "none").then(|| SysRemounted {
        netns: source.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sysfs_named_after_a_network_namespace_is_ip_netns_exec() {
        let host = "23 27 0:22 / /sys rw,relatime shared:7 - sysfs sysfs rw\n\
                    45 23 0:40 / /sys/fs/bpf rw,relatime shared:15 - bpf bpf rw\n";
        assert_eq!(sys_remount_in(host), None);
        let inside = format!("{host}52 49 0:41 / /sys rw,relatime - sysfs blue rw\n");
        assert_eq!(
            sys_remount_in(&inside),
            Some(SysRemounted {
                netns: "blue".into()
            })
        );
    }
}
