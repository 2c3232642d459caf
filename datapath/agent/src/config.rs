//! The node configuration: TOML read into raw options (`raw`: every field documented, unknown
//! fields rejected), then resolved into a validated [`NodeConfig`] (`resolve`). Every problem of
//! a file is reported in one pass, each located at the file, line and column of the value at
//! fault (`meshtwin-diagnostics`), and names are checked against the limits they meet later
//! (a workload's name in its pins, an interface's in the kernel).
//!
//! A complete example (docs/datapath.md explains each table; a test checks that every example
//! here and there passes `meshtwin-agent check`):
//!
//! ```toml
//! [agent]
//! bpffs-dir = "/sys/fs/bpf/meshtwin"   # pins live here (default shown)
//! metrics-address = "127.0.0.1:9464"   # loopback only
//! xdp-mode = "skb"                     # or "native"
//! tc-attach = "auto"                   # "tcx" (>= 6.6), "netlink", or "auto"
//!
//! [[identity]]
//! name = "frontend"
//! id = 100
//! addresses = ["10.77.0.2/32"]
//!
//! [[identity]]
//! name = "backend"
//! id = 200
//! addresses = ["10.77.0.3", "10.77.0.4"]   # single addresses are /32 (/128 for IPv6)
//!
//! [[policy]]                           # makes "backend" default-deny for ingress
//! from = "frontend"
//! to = "backend"
//! protocol = "tcp"
//! ports = [8080]                       # omitted: every port
//!
//! [[service]]
//! name = "web"
//! vip = "10.96.0.10"
//! port = 80
//! protocol = "tcp"
//! backends = ["10.77.0.3:8080", "10.77.0.4:8080"]
//! proxy-port = 15080                   # optional: connect4 sends it to this port of the node
//!                                      # proxy, not [node-proxy] port (a listener per service)
//!
//! [[attach]]
//! interface = "eth0"
//! netns = "/run/netns/backend"         # optional: the agent's own namespace by default
//! program = "xdp-policy"               # or "tc-service-lb"
//!
//! # Socket level (docs/datapath.md): every [[workload]] gets the sock_ops program on its
//! # cgroup (cgroup v2), which is what lets the options below act on its sockets.
//! [node-proxy]                         # where redirected connections go
//! address = "10.77.0.1"
//! port = 15001
//! cgroup = "/sys/fs/cgroup/mesh/node-proxy"  # optional; never redirected; needed for sockmap
//! sockmap = true                       # optional: bypass between workloads and the proxy
//!
//! [[workload]]
//! name = "frontend"
//! cgroup = "/sys/fs/cgroup/mesh/frontend"    # cgroup v2 directory of the workload's processes
//! addresses = ["10.77.0.2"]            # the workload's IPv4 addresses on this node
//! sockmap = true                       # sockmap bypass to local workloads that have it too
//! redirect = true                      # connect() to a [[service]] VIP goes to the node proxy
//!
//! [[workload]]
//! name = "backend"
//! cgroup = "/sys/fs/cgroup/mesh/backend"
//! addresses = ["10.77.0.3"]
//! http = ["web"]                       # count HTTP/1.1 of these services on its endpoints
//! ```

mod raw;
mod resolve;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4},
    path::{Path, PathBuf},
    sync::Arc,
};

use meshtwin_datapath_common::{
    policy::PolicyKey,
    service::{Backend, ServiceKey},
};
use meshtwin_diagnostics::{Diagnostics, SourceFile};

pub use meshtwin_datapath_pins::DEFAULT_BPFFS_DIR;
pub use resolve::{MAX_BPFFS_DIR_BYTES, MAX_INTERFACE_NAME_BYTES, MAX_WORKLOAD_NAME_BYTES};
/// Where metrics are served when neither the config nor the command line says.
pub const DEFAULT_METRICS_ADDRESS: &str = "127.0.0.1:9464";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpModeSetting {
    Skb,
    Native,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcAttachSetting {
    Auto,
    Tcx,
    Netlink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProgramKind {
    XdpPolicy,
    TcServiceLb,
    SockopsMesh,
    SkMsgMesh,
    SkMsgHttp,
    Connect4Proxy,
    Getpeername4,
}

impl ProgramKind {
    /// The kernel function's name.
    pub fn program_name(self) -> &'static str {
        use meshtwin_datapath_common::maps as names;
        match self {
            ProgramKind::XdpPolicy => names::PROGRAM_XDP_POLICY,
            ProgramKind::TcServiceLb => names::PROGRAM_TC_SERVICE_LB,
            ProgramKind::SockopsMesh => names::PROGRAM_SOCKOPS_MESH,
            ProgramKind::SkMsgMesh => names::PROGRAM_SK_MSG_MESH,
            ProgramKind::SkMsgHttp => names::PROGRAM_SK_MSG_HTTP,
            ProgramKind::Connect4Proxy => names::PROGRAM_CONNECT4_PROXY,
            ProgramKind::Getpeername4 => names::PROGRAM_GETPEERNAME4,
        }
    }
}

/// The node proxy: where connect4 sends redirected connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeProxy {
    pub address: Ipv4Addr,
    pub port: u16,
    /// Its cgroup v2 directory, if given (required for `sockmap`).
    pub cgroup: Option<PathBuf>,
    pub sockmap: bool,
}

/// A workload: a cgroup whose sockets the socket-level programs act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    pub cgroup: PathBuf,
    pub addresses: Vec<Ipv4Addr>,
    pub sockmap: bool,
    pub redirect: bool,
    /// Monitored endpoints: (service name, the workload's address and port as a backend of it).
    pub http: Vec<(String, SocketAddrV4)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub id: u32,
    pub v4: Vec<(Ipv4Addr, u8)>,
    pub v6: Vec<(Ipv6Addr, u8)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub key: ServiceKey,
    /// In config order: backend `i` is slot `i`.
    pub backends: Vec<Backend>,
    /// Where connect4 sends it on the node proxy's address, if not `[node-proxy] port`.
    pub proxy_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attachment {
    pub interface: String,
    pub netns: Option<PathBuf>,
    pub program: ProgramKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub bpffs_dir: PathBuf,
    pub metrics_address: SocketAddr,
    pub xdp_mode: XdpModeSetting,
    pub tc_attach: TcAttachSetting,
    pub identities: Vec<Identity>,
    /// Identities whose ingress is default-deny.
    pub policed: BTreeSet<u32>,
    pub rules: Vec<PolicyKey>,
    pub services: Vec<Service>,
    pub attachments: Vec<Attachment>,
    pub node_proxy: Option<NodeProxy>,
    pub workloads: Vec<Workload>,
}

impl NodeConfig {
    pub fn identity_names(&self) -> BTreeMap<u32, String> {
        self.identities
            .iter()
            .map(|identity| (identity.id, identity.name.clone()))
            .collect()
    }
}

/// Reads and validates a config file: every problem it has, located.
pub fn load(path: &Path) -> Result<NodeConfig, Diagnostics> {
    let source = SourceFile::read(path)?;
    resolve::resolve(Arc::new(source))
}

/// Validates config text; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<NodeConfig, Diagnostics> {
    resolve::resolve(Arc::new(SourceFile::new(path, text)))
}

#[cfg(test)]
mod tests;
