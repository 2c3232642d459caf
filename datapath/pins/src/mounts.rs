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
