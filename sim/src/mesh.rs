//! The data-plane architectures meshtwin compares and the options that shape them: which
//! configuration proxies receive (scoping), how traffic reaches a proxy (interception), how
//! node-local legs travel (acceleration), and where uproxy puts its micro proxies and
//! waypoints. `[mesh]` sets these; `MeshOptions` holds them resolved.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A service-mesh data-plane architecture; the names are the ones printed in every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// One L7 proxy in every pod (Istio's classic mode, Linkerd).
    Sidecar,
    /// One shared L7 proxy per node (Cilium's per-node Envoy).
    PerNode,
    /// One shared L7 proxy per service account per node.
    PerServiceAccount,
    /// An L4/mTLS micro proxy per node (or pod) plus shared L7 waypoints where L7 policy applies.
    Uproxy,
    /// No proxy: policy, load balancing and visibility in the kernel.
    Ebpf,
}

impl Architecture {
    /// How many architectures there are: the length of every array with one slot each.
    pub const COUNT: usize = 5;
    /// Every architecture, in the order reports list them.
    pub const ALL: [Architecture; Architecture::COUNT] = [
        Architecture::Sidecar,
        Architecture::PerNode,
        Architecture::PerServiceAccount,
        Architecture::Uproxy,
        Architecture::Ebpf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Architecture::Sidecar => "sidecar",
            Architecture::PerNode => "per-node",
            Architecture::PerServiceAccount => "per-service-account",
            Architecture::Uproxy => "uproxy",
            Architecture::Ebpf => "ebpf",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which services' configuration a proxy receives.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scoping {
    /// Every service of the mesh (Istio's default).
    #[default]
    Mesh,
    /// The services of the workload's own namespace, plus the ones it calls elsewhere
    /// (Istio's Sidecar resource with egress `./*`).
    Namespace,
    /// Only the services the workload calls (a Sidecar resource generated from the call graph).
    CallGraph,
}

impl Scoping {
    pub fn name(self) -> &'static str {
        match self {
            Scoping::Mesh => "mesh",
            Scoping::Namespace => "namespace",
            Scoping::CallGraph => "call-graph",
        }
    }
}

impl fmt::Display for Scoping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How traffic reaches the proxy the application did not dial.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interception {
    /// iptables REDIRECT to the proxy (Istio's classic init container).
    #[default]
    Iptables,
    /// A cgroup connect4 program rewrites the destination at connect time.
    Ebpf,
}

/// How legs that stay on one node travel.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalAcceleration {
    /// Local hops go through loopback or veth TCP.
    #[default]
    None,
    /// sock_ops + sk_msg redirect local hops socket to socket.
    Sockmap,
}

/// Where `uproxy` runs its L4 micro proxies.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MicroProxyPlacement {
    /// One per node, shared by the node's pods (ztunnel).
    #[default]
    PerNode,
    /// One in every pod.
    PerPod,
}

/// Which services share one `uproxy` waypoint.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaypointScope {
    /// The services of one service account.
    #[default]
    PerServiceAccount,
    /// The services of one namespace.
    PerNamespace,
}

/// `[mesh]`, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshOptions {
    pub architectures: Vec<Architecture>,
    /// Products compared beside the architectures (`crate::product`), each its own column.
    pub products: Vec<crate::product::Product>,
    pub cilium_encryption: crate::product::CiliumEncryption,
    pub scopings: Vec<Scoping>,
    pub interception: Interception,
    pub local_acceleration: LocalAcceleration,
    pub micro_proxy: MicroProxyPlacement,
    pub waypoint_scope: WaypointScope,
    pub waypoint_replicas: u32,
}

/// What a `[mesh]` key is when the file leaves it out (docs/config.md lists the same; a test
/// holds the two together): every architecture, in `Architecture::ALL`'s order, unless
/// `products` are named (then none); no products; the enums' `#[default]` variants; and this.
impl MeshOptions {
    pub const DEFAULT_WAYPOINT_REPLICAS: u32 = 1;
}
