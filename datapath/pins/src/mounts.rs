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

/// Whether /sys was mounted again by `ip netns exec` (see [`SysRemounted`]): a sysfs on /sys
/// whose source is not "sysfs", in a mount namespace that an ancestor process is not in (a
/// machine whose init mounts sysfs under another name, as the VM tests' guests do, has it in
/// every process's namespace).
pub fn sys_remounted_by_ip_netns_exec() -> Option<SysRemounted> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let remounted = sys_remount_in(&mountinfo)?;
    mount_namespace_of_our_own().then_some(remounted)
}

/// Whether an ancestor of this process (as far as /proc lets us see) is in another mount
/// namespace.
fn mount_namespace_of_our_own() -> bool {
    let namespace = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let Some(ours) = namespace(std::process::id()) else {
        return false;
    };
    let mut pid = std::process::id();
    // Bounded: a process tree is shallow, and /proc may show a loop in a torn-down tree.
    for _ in 0..64 {
        let Some(parent) = parent_of(pid) else {
            return false;
        };
        if parent == 0 {
            return false;
        }
        match namespace(parent) {
            Some(theirs) if theirs != ours => return true,
            Some(_) => pid = parent,
            None => return false,
        }
    }
    false
}

/// The parent process id from /proc/PID/stat (the field after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(1)?.parse().ok()
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
    fn this_process_shares_its_parents_mount_namespace() {
        assert_eq!(
            parent_of(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
        assert!(!mount_namespace_of_our_own());
    }

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
