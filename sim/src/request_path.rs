//! The shape of one request's path through each architecture: which TCP connections (legs)
//! it takes, where their ends live, which legs are intercepted (redirected to a proxy the
//! application did not dial) and which stay on the node. The capacity model counts from these
//! shapes; the latency simulation turns each leg into kernel and proxy stations.
//!
//! ```text
//! sidecar   app ─▶ sidecar ══▶ sidecar' ─▶ app'         3 connections, 2 proxies
//! per-node  app ─▶ node proxy ══▶ app'                   2 connections, 1 proxy
//! uproxy    app ─▶ ztunnel ══▶ ztunnel' ─▶ app'          3 connections (L4 path)
//!           app ─▶ ztunnel ══▶ waypoint ══▶ ztunnel' ─▶ app'   4 (L7 path)
//! ebpf      app ══▶ app'                                  1 connection
//! ─▶ a leg on one node   ══▶ a leg across nodes (or between pods on one node)
//! ```

use crate::mesh::{Architecture, Interception, LocalAcceleration};
use crate::product::Product;
use serde::Serialize;

/// Where one end of a leg lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// The application, in its pod's network namespace.
    App,
    /// A proxy inside the application's pod (shares its network namespace).
    Sidecar,
    /// A proxy in the node's network namespace (per-node, per-service-account, ztunnel).
    NodeProxy,
    /// A proxy in a pod of its own (a waypoint).
    ProxyPod,
    /// A client outside the mesh (reaches the node over the wire).
    Outside,
}

impl Endpoint {
    pub fn in_pod_namespace(self) -> bool {
        matches!(self, Endpoint::App | Endpoint::Sidecar | Endpoint::ProxyPod)
    }

    pub fn is_proxy(self) -> bool {
        matches!(
            self,
            Endpoint::Sidecar | Endpoint::NodeProxy | Endpoint::ProxyPod
        )
    }
}

/// One TCP connection on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Leg {
    pub from: Endpoint,
    pub to: Endpoint,
    /// Both ends on the same node.
    pub same_node: bool,
    /// Both ends in the same pod (sidecar and its application): loopback.
    pub same_pod: bool,
    /// The caller dialled someone else; the kernel redirected the connection to `to`.
    pub intercepted: bool,
}

impl Leg {
    pub fn new(
        from: Endpoint,
        to: Endpoint,
        same_node: bool,
        same_pod: bool,
        intercepted: bool,
    ) -> Leg {
        Leg {
            from,
            to,
            same_node,
            same_pod,
            intercepted,
        }
    }
}

/// Which way the request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    CrossNode,
    SameNode,
    /// Across nodes to a service under L7 policy (through a waypoint in `uproxy`; the latency
    /// simulation takes the same path on one node, `latency::plan`).
    CrossNodeL7,
}

/// Counts that summarise a path, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PathShape {
    pub connections: u32,
    pub proxies: u32,
    /// Legs between nodes.
    pub wire_crossings: u32,
    /// Times the bytes enter or leave a pod's network namespace over a veth pair.
    pub veth_crossings: u32,
    /// Passes through the kernel's TCP/IP stack (two per leg: sender and receiver), fewer
    /// where sockmap carries a local leg socket to socket.
    pub tcp_stack_traversals: u32,
    pub iptables_redirects: u32,
    pub ebpf_redirects: u32,
    pub sockmap_redirects: u32,
}

pub fn legs(architecture: Architecture, kind: PathKind) -> Vec<Leg> {
    use Endpoint::*;
    let leg = Leg::new;
    let local = matches!(kind, PathKind::SameNode);
    match (architecture, kind) {
        (Architecture::Sidecar, _) => vec![
            leg(App, Sidecar, true, true, true),
            // The destination pod's sidecar captures inbound traffic too.
            leg(Sidecar, Sidecar, local, false, true),
            leg(Sidecar, App, true, true, false),
        ],
        (Architecture::PerNode | Architecture::PerServiceAccount, _) => vec![
            leg(App, NodeProxy, true, false, true),
            leg(NodeProxy, App, local, false, false),
        ],
        (Architecture::Uproxy, PathKind::SameNode) => vec![
            leg(App, NodeProxy, true, false, true),
            leg(NodeProxy, App, true, false, false),
        ],
        (Architecture::Uproxy, PathKind::CrossNode) => vec![
            leg(App, NodeProxy, true, false, true),
            leg(NodeProxy, NodeProxy, false, false, false),
            leg(NodeProxy, App, true, false, false),
        ],
        (Architecture::Uproxy, PathKind::CrossNodeL7) => vec![
            leg(App, NodeProxy, true, false, true),
            leg(NodeProxy, ProxyPod, false, false, false),
            leg(ProxyPod, NodeProxy, false, false, false),
            leg(NodeProxy, App, true, false, false),
        ],
        (Architecture::Ebpf, _) => vec![leg(App, App, local, false, false)],
    }
}

/// A product's path where the latency simulation walks it differently from its building
/// block: Linkerd's is the sidecar's; across nodes to a service under L7 policy, Cilium's
/// eBPF steers the request into the destination node's Envoy (ingress L7 policy), and
/// Kmesh's into a waypoint, with no ztunnel on either side. Everything else is the
/// block's (`ebpf` for Cilium and Kmesh).
///
/// ```text
/// cilium L7  app ══▶ node Envoy' ─▶ app'    2 connections, 1 proxy
/// kmesh L7   app ══▶ waypoint ══▶ app'      2 connections, 1 proxy
/// ```
pub fn product_legs(product: Product, kind: PathKind) -> Vec<Leg> {
    use Endpoint::*;
    let leg = Leg::new;
    match (product, kind) {
        (Product::Cilium, PathKind::CrossNodeL7) => vec![
            leg(App, NodeProxy, false, false, true),
            leg(NodeProxy, App, true, false, false),
        ],
        (Product::Kmesh, PathKind::CrossNodeL7) => vec![
            leg(App, ProxyPod, false, false, true),
            leg(ProxyPod, App, false, false, false),
        ],
        _ => legs(product.building_block(), kind),
    }
}

pub fn shape(
    legs: &[Leg],
    interception: Interception,
    acceleration: LocalAcceleration,
) -> PathShape {
    let sockmap = acceleration == LocalAcceleration::Sockmap;
    let mut s = PathShape {
        connections: legs.len() as u32,
        proxies: legs.iter().filter(|l| l.to.is_proxy()).count() as u32,
        wire_crossings: 0,
        veth_crossings: 0,
        tcp_stack_traversals: 0,
        iptables_redirects: 0,
        ebpf_redirects: 0,
        sockmap_redirects: 0,
    };
    for l in legs {
        if !l.same_node {
            s.wire_crossings += 1;
        }
        let bypassed = sockmap && l.same_node;
        if bypassed {
            s.sockmap_redirects += 1;
        } else {
            s.tcp_stack_traversals += 2;
            if !l.same_pod {
                s.veth_crossings +=
                    l.from.in_pod_namespace() as u32 + l.to.in_pod_namespace() as u32;
            }
        }
        if l.intercepted {
            match interception {
                Interception::Iptables => s.iptables_redirects += 1,
                Interception::Ebpf => s.ebpf_redirects += 1,
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connections(a: Architecture, kind: PathKind) -> u32 {
        shape(
            &legs(a, kind),
            Interception::Iptables,
            LocalAcceleration::None,
        )
        .connections
    }

    #[test]
    fn cross_node_connections_match_seed_003() {
        assert_eq!(connections(Architecture::Ebpf, PathKind::CrossNode), 1);
        assert_eq!(connections(Architecture::PerNode, PathKind::CrossNode), 2);
        assert_eq!(connections(Architecture::Sidecar, PathKind::CrossNode), 3);
        assert_eq!(connections(Architecture::Uproxy, PathKind::CrossNodeL7), 4);
    }

    #[test]
    fn sockmap_removes_stack_traversals_of_local_legs_only() {
        let l = legs(Architecture::Sidecar, PathKind::CrossNode);
        let plain = shape(&l, Interception::Iptables, LocalAcceleration::None);
        let fast = shape(&l, Interception::Ebpf, LocalAcceleration::Sockmap);
        assert_eq!(plain.tcp_stack_traversals, 6);
        assert_eq!(fast.tcp_stack_traversals, 2);
        assert_eq!(plain.iptables_redirects, 2);
        assert_eq!(fast.ebpf_redirects, 2);
        assert_eq!(fast.sockmap_redirects, 2);
        assert_eq!(plain.veth_crossings, 2);
    }
}
