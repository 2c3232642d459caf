//! The namespaces and links of a mesh testbed: a router namespace, a namespace per node
//! joined to it by a veth pair, the pods on each node (`crate::topology::Node`, the same
//! routed node the kernel tests use), and an "outside" namespace for the load generator.
//!
//! ```text
//!  outside [eth0 10.255.2.1] ==veth== [out] router [n0] ==veth== [up 10.255.1.1] node 0 ── pods 10.1.0.x
//!                                     10.255.0.1   [n1] ==veth== [up 10.255.1.2] node 1 ── pods 10.1.1.x
//! ```
//! Every namespace is mounted at `/run/netns/<prefix>-<name>` (router, outside, n<i>,
//! p<pod>), so `ip netns exec`/`nsenter` reach it and `meshtwin-testbed down` finds it.
//! The wire between nodes is a plain veth: this kernel has no netem (no `sch_netem`), so no
//! delay stands for the wire; same-host veth hops are what the testbed's nodes pay.

use std::net::Ipv4Addr;

use crate::{netns::Netns, topology::Node};

use super::{
    plan::{Plan, OUTSIDE_IP, ROUTER_IP},
    MeshError,
};

pub struct Network {
    pub router: Netns,
    pub outside: Netns,
    /// Indexed like the plan's nodes; each node's pods in its pod order.
    pub nodes: Vec<Node>,
}

/// The router's side of node `node`'s link.
pub fn router_interface(node: usize) -> String {
    format!("n{node}")
}

/// The node's side of its link to the router.
pub const UPLINK: &str = "up";
/// The router's side of the outside link.
pub const OUTSIDE_LINK: &str = "out";

/// The name a namespace of this run is mounted under.
pub fn netns_name(prefix: &str, name: &str) -> String {
    format!("{prefix}-{name}")
}

fn named(prefix: &str, name: &str) -> Result<Netns, MeshError> {
    let full = netns_name(prefix, name);
    Netns::named(&full).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            MeshError::PrefixInUse {
                prefix: prefix.to_owned(),
                found: format!("/run/netns/{full}"),
            }
        } else {
            MeshError::io(format!("create network namespace /run/netns/{full}"))(error)
        }
    })
}

/// Creates every namespace and link of `plan`. On an error, what was made is dropped, which
/// removes it.
pub fn build(plan: &Plan, prefix: &str) -> Result<Network, MeshError> {
    let router = named(prefix, "router")?;
    router.sysctl("net/ipv4/ip_forward", "1");
    let outside = named(prefix, "outside")?;
    link(&router, OUTSIDE_LINK, &outside, "eth0", OUTSIDE_IP);
    outside.run(|| crate::topology::disable_tx_checksum_offload("eth0"));
    let mut nodes = Vec::with_capacity(plan.nodes.len());
    for node_plan in &plan.nodes {
        let ns = named(prefix, &format!("n{}", node_plan.index))?;
        let interface = router_interface(node_plan.index);
        link(&router, &interface, &ns, UPLINK, node_plan.uplink);
        let [a, b, c, _] = node_plan.gateway.octets();
        router.add_route(
            Ipv4Addr::new(a, b, c, 0),
            24,
            Some(node_plan.uplink),
            &interface,
        );
        let mut node = Node::in_namespace(ns, node_plan.gateway);
        for &pod in &node_plan.pods {
            let pod = &plan.pods[pod];
            let pod_ns = named(prefix, &pod.name)?;
            node.add_pod_in(&pod.name, pod.host, pod_ns);
        }
        nodes.push(node);
    }
    Ok(Network {
        router,
        outside,
        nodes,
    })
}

/// A veth from the router to `peer`, whose end `peer_interface` gets `peer_ip`: /32
/// addresses and a route each way, the peer's default route via the router.
fn link(router: &Netns, interface: &str, peer: &Netns, peer_interface: &str, peer_ip: Ipv4Addr) {
    router.add_veth(interface, peer, peer_interface);
    router.add_address(interface, ROUTER_IP.into(), 32);
    router.set_up(interface);
    router.add_route(peer_ip, 32, None, interface);
    peer.add_address(peer_interface, peer_ip.into(), 32);
    peer.set_up(peer_interface);
    peer.add_route(ROUTER_IP, 32, None, peer_interface);
    peer.add_route(Ipv4Addr::UNSPECIFIED, 0, Some(ROUTER_IP), peer_interface);
    router.wait_link_up(interface);
    peer.wait_link_up(peer_interface);
}

impl Network {
    /// The namespace of pod `pod` (a simulator pod index).
    pub fn pod_ns(&self, plan: &Plan, pod: usize) -> &Netns {
        let node = plan.pods[pod].node;
        let name = &plan.pods[pod].name;
        &self.nodes[node].pod(name).ns
    }
}
