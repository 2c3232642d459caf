//! The agent's bpffs directory as every process on a node sees it: the agent, which pins
//! everything there; the node proxy, which reads the original destinations connect4 recorded;
//! the testbed and the kernel tests, which read counters. One crate, so that the layout and the
//! type of each pinned map are written once, and so that the node proxy need not depend on the
//! agent (its loader, config and embedded kernel programs).
//!
//! - [`layout`]: the directories and pin names under `<bpffs-dir>`;
//! - [`pinned_maps`]: every map opened from its pin, with its key and value types;
//! - [`mounts`]: whether a directory is on bpffs, and where cgroup v2 is mounted;
//! - `policy_lookups`: the policy decision's lookups over the pinned maps (the node proxy
//!   decides with the XDP program's code and maps).

pub mod layout;
pub mod mounts;
pub mod pinned_maps;
mod policy_lookups;

pub use layout::{AttachmentPin, CgroupPin, PinDir};
pub use pinned_maps::{OpenError, PinnedMaps};

/// Where the agent pins everything when neither its config nor its command line says.
pub const DEFAULT_BPFFS_DIR: &str = "/sys/fs/bpf/meshtwin";
