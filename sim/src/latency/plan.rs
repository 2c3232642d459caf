//! Hop plans: a request's path as the simulation walks it. Each leg of the path shape
//! (`crate::request_path`) becomes a kernel segment with a mean one-way time built from
//! `models/kernel.toml`; each proxy at a leg's end becomes a queueing station, named by its
//! role so that the walk can find the instance (the caller's sidecar, the destination node's
//! ztunnel, a waypoint replica of the callee's group).
//!
//! A proxy's one visit stands for its work on the request and on the response; the response
//! travels back through the same legs as kernel time only.

use crate::config::Scenario;
use crate::cost_model::LatencyCosts;
use crate::mesh::{Architecture, Interception, LocalAcceleration};
use crate::product::{Encryption, Product};
use crate::request_path::{self, Endpoint, Leg, PathKind};
use crate::traffic::PayloadKind;

/// Which proxy instance a station step visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// On the caller's side (its sidecar, its node's proxy or micro proxy).
    Source,
    /// On the callee's side.
    Destination,
    /// A waypoint replica of the callee's group.
    Waypoint,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// A TCP leg through the kernel (and the wire when `cross_node`).
    Leg {
        time: LegTime,
        /// Extra time when every request opens a new connection: the TCP handshake round
        /// trip, the mTLS round trip on proxy-to-proxy legs, the connect-time redirect. Zero
        /// with connection reuse, so that the walk adds it without asking.
        handshake_ns: f64,
        /// Proxy-to-proxy leg: both ends pay the mTLS handshake's CPU on a new connection.
        mtls: bool,
    },
    Proxy {
        role: Role,
        /// Next to a proxy-to-proxy leg: pays the mTLS handshake on a new connection.
        mtls: bool,
    },
}

/// What one crossing of a leg takes, one way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegTime {
    /// The kernel's mean time, before jitter (the wire's latency included across nodes).
    pub mean_ns: f64,
    /// The part of `mean_ns` the kernel spends on a CPU (all of it but the wire's latency):
    /// where cores are simulated, a job on the sending side's host.
    pub cpu_ns: f64,
    /// Whose host sends it: the caller's side, the callee's, or a waypoint's.
    pub side: Role,
    /// The payload on the wire at the scenario's fixed payload size: zero on node-local legs,
    /// and for exponential payloads, whose size the walk draws per crossing.
    pub wire_ns: f64,
    pub cross_node: bool,
    /// Which jitter its time is drawn with: [`JITTER_SEGMENT`], or [`JITTER_SOCKMAP`] for a
    /// node-local leg the sockmap bypass carries (its own tail: `sockmap_sigma`).
    pub jitter: u8,
}

/// Index of the jitter of kernel segments (`segment_sigma`).
pub const JITTER_SEGMENT: u8 = 0;
/// Index of the jitter of sockmap legs (`sockmap_sigma`).
pub const JITTER_SOCKMAP: u8 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The legs in reverse, for the response.
    pub response_legs: Vec<LegTime>,
}

/// Which mesh a simulation runs: none (the baseline the added latency is measured against),
/// one of the architectures, or a product whose data path is none of them alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mesh {
    Baseline,
    Architecture(Architecture),
    /// `cilium`, `linkerd` or `kmesh` (Istio's products are their building blocks' runs:
    /// [`Mesh::of_product`]).
    Product(Product),
}

impl Mesh {
    /// The simulation a product's latency comes from: its building block's where the data
    /// path and models are the same (`Product::simulated_as`), else its own.
    pub fn of_product(product: Product) -> Mesh {
        match product.simulated_as() {
            Some(a) => Mesh::Architecture(a),
            None => Mesh::Product(product),
        }
    }

    /// The architecture's or product's name; none for the baseline.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Mesh::Baseline => None,
            Mesh::Architecture(a) => Some(a.name()),
            Mesh::Product(p) => Some(p.name()),
        }
    }

    /// Whether services under L7 policy take their own paths across nodes (through a
    /// waypoint, or Cilium's node Envoy); elsewhere every service's path is the same.
    pub fn has_l7_paths(self) -> bool {
        matches!(
            self,
            Mesh::Architecture(Architecture::Uproxy)
                | Mesh::Product(Product::Cilium | Product::Kmesh)
        )
    }

    /// The legs of one kind of path through the mesh (none for the baseline, whose plans are
    /// built apart): the architecture's, or the product's (`request_path::product_legs`).
    pub fn legs(self, kind: PathKind) -> Vec<Leg> {
        match self {
            Mesh::Baseline => Vec::new(),
            Mesh::Architecture(a) => request_path::legs(a, kind),
            Mesh::Product(p) => request_path::product_legs(p, kind),
        }
    }

    /// The legs of a request from outside the mesh, to a service under L7 policy or not
    /// ([`external_legs`]); none for the baseline.
    fn external_legs(self, l7: bool) -> Vec<Leg> {
        match self {
            Mesh::Baseline => Vec::new(),
            Mesh::Architecture(a) => external_legs(a, l7),
            Mesh::Product(p) => product_external_legs(p, l7),
        }
    }

    /// Whether the mesh's eBPF programs run on every leg (the `ebpf` block and the products
    /// built on it).
    fn runs_ebpf_programs(self) -> bool {
        matches!(
            self,
            Mesh::Architecture(Architecture::Ebpf)
                | Mesh::Product(Product::Cilium | Product::Kmesh)
        )
    }
}

/// Plans for every kind of path one mesh has.
#[derive(Debug, Clone)]
pub struct Plans {
    pub cross_node: Plan,
    pub same_node: Plan,
    pub cross_node_l7: Plan,
    /// To a service under L7 policy on the caller's own node: through its proxy all the same.
    pub same_node_l7: Plan,
    pub external: Plan,
    pub external_l7: Plan,
    /// A request that starts in the application's own pod (`origin = "in-pod"`): no legs.
    pub in_pod: Plan,
}

impl Plans {
    pub fn new(mesh: Mesh, scenario: &Scenario) -> Plans {
        let costs = &scenario.models.latency;
        let mesh_options = &scenario.mesh;
        // Cilium and Kmesh steer traffic to their proxies with eBPF, whatever the scenario
        // says the sidecars' interception is.
        let interception = match mesh {
            Mesh::Product(Product::Cilium | Product::Kmesh) => Interception::Ebpf,
            _ => mesh_options.interception,
        };
        // Encryption in the kernel between nodes: sealed at one end, opened at the other.
        let tunnel_ns_per_byte = match mesh {
            Mesh::Product(Product::Cilium) => {
                match Product::Cilium.encryption(mesh_options.cilium_encryption) {
                    Encryption::Wireguard => 2.0 * scenario.models.kernel.wireguard_ns_per_byte,
                    Encryption::Ipsec => 2.0 * scenario.models.kernel.ipsec_ns_per_byte,
                    Encryption::Mtls | Encryption::None => 0.0,
                }
            }
            _ => 0.0,
        };
        let options = Options {
            interception,
            acceleration: mesh_options.local_acceleration,
            ebpf_programs: mesh.runs_ebpf_programs(),
            new_connections: !scenario.traffic.connection_reuse,
            tunnel_ns: tunnel_ns_per_byte * scenario.traffic.payload_bytes as f64,
            fixed_payload_wire_ns: match scenario.traffic.payload {
                PayloadKind::Fixed => {
                    scenario.traffic.payload_bytes as f64 * costs.wire_ns_per_byte()
                }
                PayloadKind::Exponential => 0.0,
            },
        };
        let build = |legs: Vec<Leg>| plan(&legs, costs, options);
        match mesh {
            Mesh::Baseline => {
                let direct = |same_node: bool| {
                    vec![Leg {
                        from: if same_node {
                            Endpoint::App
                        } else {
                            Endpoint::Outside
                        },
                        to: Endpoint::App,
                        same_node,
                        same_pod: false,
                        intercepted: false,
                    }]
                };
                Plans {
                    cross_node: build(direct(false)),
                    same_node: build(direct(true)),
                    cross_node_l7: build(direct(false)),
                    same_node_l7: build(direct(true)),
                    external: build(direct(false)),
                    external_l7: build(direct(false)),
                    in_pod: build(vec![]),
                }
            }
            Mesh::Architecture(_) | Mesh::Product(_) => Plans {
                cross_node: build(mesh.legs(PathKind::CrossNode)),
                same_node: build(mesh.legs(PathKind::SameNode)),
                cross_node_l7: build(mesh.legs(PathKind::CrossNodeL7)),
                same_node_l7: build(same_node_l7_legs(mesh)),
                external: build(mesh.external_legs(false)),
                external_l7: build(mesh.external_legs(true)),
                in_pod: build(vec![]),
            },
        }
    }
}

/// A call to a service under L7 policy on the caller's own node (where the mesh has L7
/// paths, `Mesh::has_l7_paths`): the waypoint of `uproxy` and Kmesh is a pod of its own,
/// taken to be on another node as across nodes; Cilium's Envoy is the node's own, both legs
/// local. Elsewhere the same-node path.
fn same_node_l7_legs(mesh: Mesh) -> Vec<Leg> {
    use Endpoint::*;
    match mesh {
        Mesh::Product(Product::Cilium) => vec![
            Leg::new(App, NodeProxy, true, false, true),
            Leg::new(NodeProxy, App, true, false, false),
        ],
        _ if mesh.has_l7_paths() => mesh.legs(PathKind::CrossNodeL7),
        _ => mesh.legs(PathKind::SameNode),
    }
}

/// [`external_legs`] for a product that is not simply its building block: Cilium's node
/// Envoy and Kmesh's waypoint take the requests of services under L7 policy.
fn product_external_legs(p: Product, l7: bool) -> Vec<Leg> {
    use Endpoint::*;
    let leg = Leg::new;
    match (p, l7) {
        (Product::Cilium, true) => external_legs(Architecture::PerNode, true),
        (Product::Kmesh, true) => vec![
            leg(Outside, ProxyPod, false, false, false),
            leg(ProxyPod, App, false, false, false),
        ],
        _ => external_legs(p.building_block(), l7),
    }
}

/// A request from outside the mesh enters at the callee's node and meets only the
/// destination side of the mesh (and, for a shared node proxy, the callee node's proxy).
fn external_legs(a: Architecture, l7: bool) -> Vec<Leg> {
    use Endpoint::*;
    let leg = Leg::new;
    match a {
        Architecture::Sidecar => vec![
            leg(Outside, Sidecar, false, false, true),
            leg(Sidecar, App, true, true, false),
        ],
        Architecture::PerNode | Architecture::PerServiceAccount => vec![
            leg(Outside, NodeProxy, false, false, false),
            leg(NodeProxy, App, true, false, false),
        ],
        Architecture::Uproxy if l7 => vec![
            leg(Outside, ProxyPod, false, false, false),
            leg(ProxyPod, NodeProxy, false, false, false),
            leg(NodeProxy, App, true, false, false),
        ],
        Architecture::Uproxy => vec![
            leg(Outside, NodeProxy, false, false, false),
            leg(NodeProxy, App, true, false, false),
        ],
        Architecture::Ebpf => vec![leg(Outside, App, false, false, false)],
    }
}

#[derive(Debug, Clone, Copy)]
struct Options {
    interception: Interception,
    acceleration: LocalAcceleration,
    ebpf_programs: bool,
    new_connections: bool,
    fixed_payload_wire_ns: f64,
    /// Kernel encryption's CPU on a leg between nodes, both ends, at the scenario's payload
    /// (Cilium's WireGuard or IPsec); zero elsewhere.
    tunnel_ns: f64,
}

fn plan(legs: &[Leg], costs: &LatencyCosts, options: Options) -> Plan {
    let mut steps = Vec::new();
    let mut response_legs = Vec::new();
    // The side whose host sends the next leg: the caller's until a proxy further on takes it.
    let mut side = Role::Source;
    for (i, leg) in legs.iter().enumerate() {
        let mean_ns = leg_mean_us(leg, costs, options) * 1000.0;
        let cpu_ns = if leg.same_node {
            mean_ns
        } else {
            mean_ns - costs.wire_us * 1000.0
        };
        let mtls = leg.from.is_proxy() && leg.to.is_proxy();
        let mut handshake_ns = 2.0 * mean_ns * if mtls { 2.0 } else { 1.0 };
        if leg.intercepted && options.interception == Interception::Ebpf {
            handshake_ns += costs.connect_redirect_us * 1000.0;
        }
        if !options.new_connections {
            handshake_ns = 0.0;
        }
        // Nothing outside the mesh is simulated: the callee's host takes what an outside
        // client sends.
        let sender = if leg.from == Endpoint::Outside {
            Role::Destination
        } else {
            side
        };
        let time = LegTime {
            mean_ns,
            cpu_ns,
            side: sender,
            wire_ns: if leg.same_node {
                0.0
            } else {
                options.fixed_payload_wire_ns
            },
            cross_node: !leg.same_node,
            jitter: if carried_by_sockmap(leg, options) {
                JITTER_SOCKMAP
            } else {
                JITTER_SEGMENT
            },
        };
        steps.push(Step::Leg {
            time,
            handshake_ns,
            mtls,
        });
        // The proxy the caller's first, node-local leg reaches is on the caller's side.
        let role = match leg.to {
            Endpoint::App | Endpoint::Outside => None,
            Endpoint::ProxyPod => Some(Role::Waypoint),
            Endpoint::Sidecar | Endpoint::NodeProxy if i == 0 && leg.same_node => {
                Some(Role::Source)
            }
            Endpoint::Sidecar | Endpoint::NodeProxy => Some(Role::Destination),
        };
        if let Some(role) = role {
            steps.push(Step::Proxy { role, mtls: false });
        }
        // The leg's receiver sends the next leg and, on the way back, this one's response.
        side = role.unwrap_or(Role::Destination);
        response_legs.push(LegTime { side, ..time });
    }
    // A proxy next to an mTLS leg does that leg's handshake.
    for i in 0..steps.len() {
        let is_mtls = |j: usize| matches!(steps.get(j), Some(Step::Leg { mtls: true, .. }));
        let next_to_mtls = is_mtls(i + 1) || (i > 0 && is_mtls(i - 1));
        if let Step::Proxy { mtls, .. } = &mut steps[i] {
            *mtls = next_to_mtls;
        }
    }
    response_legs.reverse();
    Plan {
        steps,
        response_legs,
    }
}

fn carried_by_sockmap(leg: &Leg, o: Options) -> bool {
    leg.same_node && o.acceleration == LocalAcceleration::Sockmap
}

fn leg_mean_us(leg: &Leg, c: &LatencyCosts, o: Options) -> f64 {
    let program = if o.ebpf_programs {
        c.ebpf_program_us
    } else {
        0.0
    };
    if carried_by_sockmap(leg, o) {
        return c.sockmap_us + program;
    }
    let mut us = c.stack_us + program;
    if !leg.same_pod {
        let veths = [leg.from, leg.to]
            .iter()
            .filter(|e| e.in_pod_namespace())
            .count();
        us += c.veth_crossing_us * veths as f64;
    }
    if !leg.same_node {
        us += c.wire_us + o.tunnel_ns / 1000.0;
    }
    if leg.intercepted && o.interception == Interception::Iptables {
        us += c.iptables_redirect_us;
    }
    us
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs() -> LatencyCosts {
        LatencyCosts {
            l7_service_time_mean_us: 100.0,
            l7_service_time_sigma: 0.5,
            envoy_mtls_handshake_us: 0.0,
            l4_service_time_mean_us: 20.0,
            l4_service_time_sigma: 0.5,
            ztunnel_mtls_handshake_us: 0.0,
            ztunnel_mtls_ns_per_byte: 0.0,
            stack_us: 10.0,
            segment_sigma: 0.5,
            veth_crossing_us: 1.0,
            iptables_redirect_us: 3.0,
            connect_redirect_us: 14.0,
            sockmap_us: 5.0,
            sockmap_sigma: 0.46,
            ebpf_program_us: 0.2,
            wire_us: 15.0,
            wire_gbps: 10.0,
        }
    }

    #[test]
    fn sockmap_legs_draw_their_own_jitter() {
        use Endpoint::*;
        let legs = [
            Leg::new(App, NodeProxy, true, false, true),
            Leg::new(NodeProxy, NodeProxy, false, false, false),
            Leg::new(NodeProxy, App, true, false, false),
        ];
        let options = |acceleration| Options {
            interception: Interception::Ebpf,
            acceleration,
            ebpf_programs: false,
            new_connections: false,
            fixed_payload_wire_ns: 0.0,
            tunnel_ns: 0.0,
        };
        let jitters = |acceleration| -> Vec<(u8, f64)> {
            plan(&legs, &costs(), options(acceleration))
                .response_legs
                .iter()
                .map(|leg| (leg.jitter, leg.mean_ns))
                .collect()
        };
        // Response legs are the request's reversed.
        assert_eq!(
            jitters(LocalAcceleration::Sockmap),
            [
                (JITTER_SOCKMAP, 5000.0),
                (JITTER_SEGMENT, 25_000.0),
                (JITTER_SOCKMAP, 5000.0)
            ]
        );
        assert!(jitters(LocalAcceleration::None)
            .iter()
            .all(|(jitter, _)| *jitter == JITTER_SEGMENT));
    }
}
