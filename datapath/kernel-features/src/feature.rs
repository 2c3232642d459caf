//! A kernel feature: its name, the first kernel that has it, what the datapath uses it for, and
//! (where one is cheap) how to probe the running kernel for it. The values are kernels.toml's,
//! generated into constants by build.rs.

use std::fmt;

use crate::KernelVersion;

/// One feature of kernels.toml's `[features]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Its name in kernels.toml (`xdp_link`).
    pub name: &'static str,
    /// The first upstream kernel that has it.
    pub since: KernelVersion,
    /// What the datapath needs it for, quoted in messages.
    pub used_for: &'static str,
    /// How to ask the running kernel, when that is cheap; otherwise its version decides.
    pub probe: Option<Probe>,
    /// The kernel config option that builds it, for a feature a distribution may leave out of
    /// a kernel of any version (a bool option: there is no module to load). At or above
    /// `since`, a refused probe then means "built without it", and the tests skip instead of
    /// failing: the one exception to the gate's rule.
    pub config: Option<&'static str>,
}

/// A cheap question to the running kernel (cilium/ebpf's way: probe, don't parse versions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Create a one-entry map of this type.
    Map(MapProbe),
    /// Load a two-instruction program of this type.
    Program(ProgramProbe),
    /// Look for a file the feature puts in place.
    File(&'static str),
    /// Create a device pair of this kind in a throwaway network namespace.
    Device(DeviceProbe),
}

/// Device kinds kernels.toml can probe for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceProbe {
    Netkit,
}

impl DeviceProbe {
    /// The kind's name in netlink (`ip link add type <kind>`).
    pub fn kind(self) -> &'static str {
        match self {
            DeviceProbe::Netkit => "netkit",
        }
    }
}

/// Map types kernels.toml can probe for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapProbe {
    LpmTrie,
    LruHash,
    SockHash,
    RingBuf,
}

/// Program types kernels.toml can probe for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramProbe {
    Xdp,
    SockOps,
    SkMsg,
    /// Loaded with the connect4 attach type.
    CgroupSockAddr,
}

impl Feature {
    /// Whether the table says `kernel` has it (its version is at least `since`).
    pub fn listed_for(&self, kernel: KernelVersion) -> bool {
        kernel >= self.since
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Map(map) => write!(f, "creating a {} map", map.kernel_name()),
            Probe::Program(program) => write!(f, "loading a {} program", program.kernel_name()),
            Probe::File(path) => write!(f, "looking for {path}"),
            Probe::Device(device) => write!(
                f,
                "creating a {} device pair in a new network namespace",
                device.kind()
            ),
        }
    }
}

impl MapProbe {
    /// The kernel's name for the map type.
    pub fn kernel_name(self) -> &'static str {
        match self {
            MapProbe::LpmTrie => "BPF_MAP_TYPE_LPM_TRIE",
            MapProbe::LruHash => "BPF_MAP_TYPE_LRU_HASH",
            MapProbe::SockHash => "BPF_MAP_TYPE_SOCKHASH",
            MapProbe::RingBuf => "BPF_MAP_TYPE_RINGBUF",
        }
    }
}

impl ProgramProbe {
    /// The kernel's name for the program type.
    pub fn kernel_name(self) -> &'static str {
        match self {
            ProgramProbe::Xdp => "BPF_PROG_TYPE_XDP",
            ProgramProbe::SockOps => "BPF_PROG_TYPE_SOCK_OPS",
            ProgramProbe::SkMsg => "BPF_PROG_TYPE_SK_MSG",
            ProgramProbe::CgroupSockAddr => "BPF_PROG_TYPE_CGROUP_SOCK_ADDR (connect4)",
        }
    }
}
