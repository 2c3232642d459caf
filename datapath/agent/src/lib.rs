//! meshtwin's node agent: loads the eBPF datapath (XDP identity policy, TC service load
//! balancing, and at the socket level sockmap bypass, connect-time redirect to the node proxy
//! and HTTP visibility), attaches it where the node config says, pins everything under a bpffs
//! directory of its own, keeps the maps in sync with the config, and exports counters as
//! Prometheus metrics.
//!
//! Module map:
//! - `config`: TOML -> validated node config;
//! - `kernel`: the feature table and the preflight checks;
//! - `lifecycle`: load, attach, adopt, reload, down, status;
//! - `socket_level`: the cgroup and socket-hash programs;
//! - `map_sync`: config -> maps, in place;
//! - `metrics`: the maps' counters as Prometheus metrics;
//! - `netns`: entering a pod's network namespace to attach there;
//! - `bpf_syscall`: the few bpf(2) commands aya does not expose.
//!
//! The pin layout and the pinned maps are in `meshtwin_datapath_pins`, shared with the node
//! proxy (`datapath/node-proxy`); the testbed that the kernel tests run on is `meshtwin_testbed`
//! (`testbed/`).

mod bpf_syscall;
pub mod config;
pub mod kernel;
pub mod lifecycle;
pub mod map_sync;
pub mod metrics;
pub mod netns;
pub mod socket_level;

/// The kernel programs, built by build.rs.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/meshtwin-ebpf"));
