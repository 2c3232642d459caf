//! A "node" namespace that routes between "pods": namespaces joined to it by veth pairs.
//!
//! ```text
//!   pod "a" [eth0 10.77.0.2/32] ==veth== [h-a 10.77.0.1/32] --+   node namespace: forwarding
//!   pod "b" [eth0 10.77.0.3/32] ==veth== [h-b 10.77.0.1/32] --+-- on, a /32 route per pod
//! ```
//! Every packet between pods crosses the node, as with a routed CNI, so the node side of each
//! veth sees both directions. Routes rather than a bridge: only veth is needed from the kernel
//! (a Debian test kernel has the bridge as a module). Every test builds its own node, so tests
//! can run in parallel with the same addresses, and none of this is visible outside them.
//! Interfaces of a pod can be read with [`interface_counters`].
//!
//! The kernel tests use one node on 10.77.0.0/24 ([`Node::new`]); the mesh testbed
//! (`crate::mesh`) builds several, each on its own /24 and in a namespace it names
//! ([`Node::in_namespace`], [`Node::add_pod_in`]), and joins them through a router.
//!
//! Two nodes (a cluster of two, for the tunnels between node proxies) are two `Node`s with
//! different pod subnets ([`Node::with_subnet`]) whose namespaces [`link_nodes`] joins by a
//! veth pair on an "underlay" subnet of their own. No route leads from one node's pods to the
//! other's: what crosses between nodes is what the node proxies carry.

use std::{net::Ipv4Addr, os::fd::AsRawFd as _};

use crate::netns::Netns;

/// The node's address on every pod link: the pods' gateway.
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

pub struct Pod {
    pub name: String,
    pub ip: Ipv4Addr,
    /// The node side of the pod's veth pair.
    pub host_interface: String,
    pub ns: Netns,
}

pub struct Node {
    pub pods: Vec<Pod>,
    pub ns: Netns,
    /// The first three octets of the pods' addresses; the gateway is `.1`.
    subnet: [u8; 3],
}

impl Default for Node {
    fn default() -> Self {
        Self::new()
    }
}

impl Node {
    /// A node of its own namespace whose pods are 10.77.0.x, with gateway [`GATEWAY_IP`].
    pub fn new() -> Self {
        Self::in_namespace(Netns::new(), GATEWAY_IP)
    }

    /// A node of its own namespace whose pods are `subnet`.x, with gateway `subnet`.1.
    pub fn with_subnet(subnet: [u8; 3]) -> Self {
        let [a, b, c] = subnet;
        Self::in_namespace(Netns::new(), Ipv4Addr::new(a, b, c, 1))
    }

    /// A node in `ns` whose pods get addresses of `gateway`'s /24; `gateway` (`.1`) is the
    /// node's side of every pod link.
    pub fn in_namespace(ns: Netns, gateway: Ipv4Addr) -> Self {
        let [a, b, c, _] = gateway.octets();
        let subnet = [a, b, c];
        ns.sysctl("net/ipv4/ip_forward", "1");
        Self {
            pods: Vec::new(),
            ns,
            subnet,
        }
    }

    /// The node's address on every pod link: the pods' gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 1)
    }

    /// Adds pod `name` at `subnet`.`host` (10.77.0.`host` for [`Node::new`]), on a veth pair.
    pub fn add_pod(&mut self, name: &str, host: u8) -> &Pod {
        self.add_pod_in(name, host, Netns::new())
    }

    /// Adds pod `name` at `subnet`.`host` in the namespace `pod_ns`, on a veth pair; the node
    /// side is `h-<name>`.
    pub fn add_pod_in(&mut self, name: &str, host: u8, pod_ns: Netns) -> &Pod {
        self.attach_pod(name, host, pod_ns, PodLink::Veth)
            .expect("a veth pair is always possible")
    }

    /// Adds pod `name` on `link`; fails only when the kernel cannot make a netkit pair (built
    /// without it, or older than 6.7).
    pub fn add_pod_on(&mut self, name: &str, host: u8, link: PodLink) -> std::io::Result<&Pod> {
        self.attach_pod(name, host, Netns::new(), link)
    }

    fn attach_pod(
        &mut self,
        name: &str,
        host: u8,
        pod_ns: Netns,
        link: PodLink,
    ) -> std::io::Result<&Pod> {
        let host_interface = format!("h-{name}");
        let [a, b, c] = self.subnet;
        let ip = Ipv4Addr::new(a, b, c, host);
        let gateway = self.gateway();
        match link {
            PodLink::Veth => self.ns.add_veth(&host_interface, &pod_ns, "eth0"),
            PodLink::Netkit => self.ns.add_netkit(&host_interface, &pod_ns, "eth0")?,
        }
        self.ns.add_address(&host_interface, gateway.into(), 32);
        self.ns.set_up(&host_interface);
        self.ns.add_route(ip, 32, None, &host_interface);
        pod_ns.add_address("eth0", ip.into(), 32);
        pod_ns.set_up("eth0");
        pod_ns.add_route(gateway, 32, None, "eth0");
        pod_ns.add_route(Ipv4Addr::UNSPECIFIED, 0, Some(gateway), "eth0");
        // Make the stack compute full checksums instead of leaving them to "hardware": a
        // translated packet with a wrong checksum is then really dropped by the receiver.
        if link == PodLink::Veth {
            pod_ns.run(|| disable_tx_checksum_offload("eth0"));
        }
        self.ns.wait_link_up(&host_interface);
        pod_ns.wait_link_up("eth0");
        self.pods.push(Pod {
            name: name.to_string(),
            ip,
            host_interface,
            ns: pod_ns,
        });
        Ok(self.pods.last().expect("just pushed"))
    }

    pub fn pod(&self, name: &str) -> &Pod {
        self.pods
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no pod {name}"))
    }
}

/// The device pair between a pod and its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodLink {
    /// A veth pair (`h-<pod>` on the node, `eth0` in the pod).
    Veth,
    /// A netkit pair in L2 mode (6.7+, `CONFIG_NETKIT`): `h-<pod>` is the primary, where BPF
    /// programs attach for both directions; `eth0` the peer.
    Netkit,
}

/// The interface that joins two nodes, on both sides.
pub const NODE_LINK: &str = "node-link";

/// Joins the namespaces of nodes `a` and `b` by a veth pair named [`NODE_LINK`] on both sides,
/// `a` at `underlay`.1/24 and `b` at `underlay`.2/24; returns the two addresses.
pub fn link_nodes(a: &Node, b: &Node, underlay: [u8; 3]) -> (Ipv4Addr, Ipv4Addr) {
    let [x, y, z] = underlay;
    let (address_a, address_b) = (Ipv4Addr::new(x, y, z, 1), Ipv4Addr::new(x, y, z, 2));
    a.ns.add_veth(NODE_LINK, &b.ns, NODE_LINK);
    a.ns.add_address(NODE_LINK, address_a.into(), 24);
    b.ns.add_address(NODE_LINK, address_b.into(), 24);
    a.ns.set_up(NODE_LINK);
    b.ns.set_up(NODE_LINK);
    a.ns.wait_link_up(NODE_LINK);
    b.ns.wait_link_up(NODE_LINK);
    (address_a, address_b)
}

/// ETHTOOL_STXCSUM through SIOCETHTOOL, so no ethtool binary is needed.
pub(crate) fn disable_tx_checksum_offload(interface: &str) {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut EthtoolValue,
        pad: [u8; 16],
    }
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_STXCSUM: u32 = 0x17;
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    let mut request = IfReq {
        name: [0; 16],
        data: &mut value,
        pad: [0; 16],
    };
    request.name[..interface.len()].copy_from_slice(interface.as_bytes());
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("ioctl socket");
    // SAFETY: a valid ifreq whose data points at a live ethtool_value.
    let ret = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCETHTOOL, &mut request) };
    assert_eq!(
        ret,
        0,
        "SIOCETHTOOL on {interface}: {}",
        std::io::Error::last_os_error()
    );
}

/// Packets and bytes an interface sent and received: (tx packets, tx bytes, rx packets, rx
/// bytes), from /proc/net/dev as the namespace `ns` sees it.
pub fn interface_counters(ns: &Netns, interface: &str) -> (u64, u64, u64, u64) {
    let text = ns
        .run(|| std::fs::read_to_string("/proc/thread-self/net/dev"))
        .expect("read /proc/thread-self/net/dev");
    for line in text.lines() {
        let Some((name, fields)) = line.split_once(':') else {
            continue;
        };
        if name.trim() != interface {
            continue;
        }
        let v: Vec<u64> = fields
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets ...
        return (v[9], v[8], v[1], v[0]);
    }
    panic!("no interface {interface} in /proc/net/dev");
}
