//! What the running kernel must offer, as data: each feature the agent relies on with the first
//! kernel that has it, and the checks made before touching anything (root, bpffs, versions).
//! The same names and versions are in the repository's kernels.toml, which the tests consult.

use std::{fmt, path::Path};

use meshtwin_datapath_pins::mounts::{cgroup2_mount, is_on_bpffs};

/// A kernel release, major.minor.patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    /// Parses "6.18.44-fc-v595", "5.10.0-43-amd64", "6.6" ...: the leading numbers only.
    pub fn parse(release: &str) -> Option<Self> {
        let numeric: String = release
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = numeric.split('.').filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// The running kernel (uname).
    pub fn running() -> Option<Self> {
        // SAFETY: uname fills the struct it is given.
        let mut name: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut name) } != 0 {
            return None;
        }
        let release = unsafe { std::ffi::CStr::from_ptr(name.release.as_ptr()) };
        Self::parse(&release.to_string_lossy())
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

/// A kernel feature the datapath uses.
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    pub name: &'static str,
    pub since: (u32, u32),
    pub used_for: &'static str,
}

/// XDP links: without them aya falls back to netlink attachments, which cannot be pinned.
pub const XDP_LINK: Feature = Feature {
    name: "xdp_link",
    since: (5, 9),
    used_for: "pinned XDP links that keep policy enforced while the agent restarts",
};

/// Features every `up` needs. Versions match kernels.toml's `[features]` table.
pub const REQUIRED: &[Feature] = &[
    Feature {
        name: "xdp",
        since: (4, 12),
        used_for: "the identity policy program (generic XDP)",
    },
    XDP_LINK,
    Feature {
        name: "tc_clsact",
        since: (4, 5),
        used_for: "the service load balancer on clsact ingress",
    },
    Feature {
        name: "lpm_trie",
        since: (4, 11),
        used_for: "address -> identity lookups",
    },
    Feature {
        name: "lru_hash",
        since: (4, 10),
        used_for: "the conntrack maps",
    },
];

/// Features the socket-level programs need, when the config has workloads. Versions match
/// kernels.toml's `[features]` table.
pub const SOCKET_LEVEL: &[Feature] = &[
    Feature {
        name: "sock_ops",
        since: (4, 13),
        used_for: "putting workload sockets into the socket hash",
    },
    Feature {
        name: "sk_msg",
        since: (4, 17),
        used_for: "the sockmap bypass and HTTP visibility",
    },
    Feature {
        name: "sock_hash",
        since: (4, 18),
        used_for: "the socket hash keyed by 4-tuple",
    },
    Feature {
        name: "cgroup_link",
        since: (5, 7),
        used_for: "pinned cgroup links that stay attached while the agent restarts",
    },
];

/// Features connect-time redirect needs, when a workload has `redirect = true`.
pub const REDIRECT: &[Feature] = &[
    Feature {
        name: "cgroup_connect4",
        since: (4, 17),
        used_for: "redirecting connections to the node proxy",
    },
    Feature {
        name: "cgroup_getpeername4",
        since: (5, 8),
        used_for: "getpeername answering the original destination",
    },
];

/// TC links (pinnable, replaced atomically); older kernels fall back to netlink filters.
pub const TCX: Feature = Feature {
    name: "tcx",
    since: (6, 6),
    used_for: "pinned TC links",
};

impl Feature {
    pub fn available_on(&self, kernel: KernelVersion) -> bool {
        (kernel.major, kernel.minor) >= self.since
    }

    /// The error for a kernel that lacks this feature.
    pub fn missing_on(&self, kernel: KernelVersion) -> PreflightError {
        PreflightError::KernelTooOld {
            kernel,
            feature: self.name,
            since_major: self.since.0,
            since_minor: self.since.1,
            used_for: self.used_for,
        }
    }
}

/// Why the agent cannot start on this machine; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Not running as root.
    #[error("meshtwin-agent must run as root (it loads BPF programs and changes interfaces); run it with sudo or as root")]
    NotRoot,
    /// The kernel is too old for a feature.
    #[error("kernel {kernel} lacks {feature} (needs {since_major}.{since_minor} or newer), used for {used_for}; run on a newer kernel")]
    KernelTooOld {
        kernel: KernelVersion,
        feature: &'static str,
        since_major: u32,
        since_minor: u32,
        used_for: &'static str,
    },
    /// The kernel release could not be read.
    #[error("cannot read the kernel version from uname")]
    UnknownKernel,
    /// A workload's cgroup path is not a cgroup v2 directory.
    #[error("{path} is not a cgroup v2 directory ({mounted}); create it (mkdir) under the cgroup2 mount, or fix the config")]
    NotCgroup2 { path: String, mounted: String },
    /// The pin directory's parent is not on a bpf filesystem.
    #[error("{dir} is not on a bpf filesystem; mount one with `mount -t bpf bpf /sys/fs/bpf` or set bpffs-dir to a directory on a mounted bpffs")]
    NoBpffs { dir: String },
}

/// Checks that every feature in `features` is there.
pub fn check_features(kernel: KernelVersion, features: &[Feature]) -> Result<(), PreflightError> {
    for feature in features {
        if !feature.available_on(kernel) {
            return Err(feature.missing_on(kernel));
        }
    }
    Ok(())
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

/// Checks that every feature in [`REQUIRED`] is there.
pub fn check_kernel(kernel: KernelVersion) -> Result<(), PreflightError> {
    check_features(kernel, REQUIRED)
}

/// Before 5.11 the kernel charges BPF maps and programs to RLIMIT_MEMLOCK, shared by all of the
/// user's processes; the default limit is far too small for meshtwin's maps. Raises it when
/// needed; returns false if that failed (loading will then say EPERM).
pub fn raise_memlock_if_charged(kernel: KernelVersion) -> bool {
    if (kernel.major, kernel.minor) >= (5, 11) {
        return true;
    }
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct it is given.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) == 0 }
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
        Err(PreflightError::NoBpffs {
            dir: dir.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_distribution_releases() {
        let v = KernelVersion::parse("5.10.0-43-amd64").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (5, 10, 0));
        let v = KernelVersion::parse("6.18.44-fc-v595").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (6, 18, 44));
        assert_eq!(KernelVersion::parse("6.6").unwrap().to_string(), "6.6");
        assert_eq!(KernelVersion::parse("garbage"), None);
    }

    #[test]
    fn old_kernels_name_the_missing_feature() {
        let old = KernelVersion::parse("5.4.0").unwrap();
        let error = check_kernel(old).unwrap_err().to_string();
        assert!(
            error.contains("xdp_link") && error.contains("5.9"),
            "{error}"
        );
        assert!(check_kernel(KernelVersion::parse("5.10.0").unwrap()).is_ok());
        assert!(!TCX.available_on(KernelVersion::parse("6.1.0").unwrap()));
        assert!(TCX.available_on(KernelVersion::parse("6.6.0").unwrap()));
    }
}
