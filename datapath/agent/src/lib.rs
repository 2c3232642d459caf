//! meshtwin's node agent: loads the eBPF datapath (XDP identity policy, TC service load
//! balancing, and at the socket level sockmap bypass, connect-time redirect to the node proxy
//! and HTTP visibility), attaches it where the node config says, pins everything under a bpffs directory of
//! its own, keeps the maps in sync with the config, and exports counters as Prometheus metrics.
//!
//! Module map: `config` (TOML -> validated node config), `kernel` (feature table, preflight),
//! `netns` (entering network namespaces), `pins` (the bpffs layout), `lifecycle` (load, attach,
//! adopt, down, status), `bpf_syscall` (the bpf(2) commands aya lacks), `socket_level` (the cgroup
//! and socket-hash programs), `map_sync`
//! (config -> maps, in place), `metrics` (HTTP exporter).

pub mod bench;
mod bpf_syscall;
pub mod config;
pub mod http_server;
pub mod kernel;
pub mod lifecycle;
pub mod map_sync;
pub mod metrics;
pub mod netns;
pub mod node_proxy;
pub mod pins;
pub mod socket_level;
pub mod testbed;
pub mod traffic;

/// The kernel programs, built by build.rs.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/meshtwin-ebpf"));
