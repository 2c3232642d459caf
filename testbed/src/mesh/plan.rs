//! The testbed's layout, derived from the scenario before anything is created: which node
//! each pod is on (the simulator's own placement, `Cluster::pod_node`), every address, every
//! service's VIP and port, each pod's workload spec, and the outside entries.
//!
//! ```text
//! outside   10.255.2.1 ── router (10.255.0.1 on every link) ── node i uplink 10.255.1.(i+1)
//! node i    pods 10.1.i.2 .. 10.1.i.254, gateway 10.1.i.1 (h-<pod> veths)
//! VIPs      10.96.0.(s+1) for service s (port: the service's first port)
//! ```

use std::net::{Ipv4Addr, SocketAddrV4};

use sim::{
    capacity::load::ServiceLoad, cluster::Service, config::Scenario, latency::lookup::Lookup,
};

use super::{workload::Call, WorkloadSpec};

/// The router's address on every one of its links.
pub const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 1);
/// The outside namespace's address (the load generator's source).
pub const OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(10, 255, 2, 1);
/// Every VIP is in 10.96.0.0/16.
pub const VIP_NET: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 96, 0, 0), 16);
/// Pods per node: .2 to .254 of the node's /24.
pub const MAX_PODS_PER_NODE: usize = 253;

#[derive(Debug, Clone)]
pub struct Plan {
    pub nodes: Vec<NodePlan>,
    /// Indexed like the simulator's pods.
    pub pods: Vec<PodPlan>,
    /// Indexed like the simulator's services.
    pub services: Vec<ServicePlan>,
}

#[derive(Debug, Clone)]
pub struct NodePlan {
    pub index: usize,
    /// The node side of its pods' links.
    pub gateway: Ipv4Addr,
    /// Its address on the link to the router.
    pub uplink: Ipv4Addr,
    /// Its pods, in pod order.
    pub pods: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct PodPlan {
    pub index: usize,
    pub node: usize,
    pub service: usize,
    /// `p<index>`: its namespace is `<prefix>-p<index>`, its veth `h-p<index>`.
    pub name: String,
    pub ip: Ipv4Addr,
    /// Host part of `ip` in its node's /24.
    pub host: u8,
}

#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub index: usize,
    pub name: String,
    pub vip: Ipv4Addr,
    pub port: u16,
    pub pods: Vec<usize>,
    /// What its pods run (the seed differs per pod: see [`Plan::pod_spec`]).
    pub spec: WorkloadSpec,
    /// Services that call it.
    pub callers: Vec<usize>,
    /// Requests per second from outside the mesh (services nobody in the mesh calls).
    pub external_rps: f64,
    pub l7_policy: bool,
}

impl ServicePlan {
    pub fn vip_address(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.vip, self.port)
    }

    /// Whether nothing in the mesh calls it: requests come from outside.
    pub fn is_entry(&self) -> bool {
        self.callers.is_empty()
    }
}

pub fn node_gateway(node: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, node as u8, 1)
}

pub fn node_uplink(node: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 255, 1, node as u8 + 1)
}

pub fn service_vip(service: usize) -> Ipv4Addr {
    let host = service as u32 + 1;
    Ipv4Addr::new(10, 96, (host >> 8) as u8, host as u8)
}

/// The port a service's pods serve on: its first HTTP port, else its first TCP port.
pub fn service_port(service: &Service) -> u16 {
    service
        .http_ports
        .first()
        .or(service.tcp_ports.first())
        .copied()
        .unwrap_or(Service::DEFAULT_HTTP_PORT)
}

impl Plan {
    /// The layout of `scenario` (its size already checked against the limits).
    pub fn new(scenario: &Scenario) -> Self {
        let cluster = &scenario.cluster;
        let traffic = &scenario.traffic;
        let by_node = cluster.pods_by_node();
        let nodes: Vec<NodePlan> = by_node
            .iter()
            .enumerate()
            .map(|(index, pods)| NodePlan {
                index,
                gateway: node_gateway(index),
                uplink: node_uplink(index),
                pods: pods.iter().map(|&p| p as usize).collect(),
            })
            .collect();
        let mut pods: Vec<PodPlan> = Vec::with_capacity(cluster.pods());
        for (index, (&node, &service)) in cluster
            .pod_node
            .iter()
            .zip(&cluster.pod_service)
            .enumerate()
        {
            let node = node as usize;
            let rank = nodes[node]
                .pods
                .iter()
                .position(|&p| p == index)
                .expect("a pod is listed on its node");
            let host = rank as u8 + 2;
            let [a, b, c, _] = nodes[node].gateway.octets();
            pods.push(PodPlan {
                index,
                node,
                service: service as usize,
                name: format!("p{index}"),
                ip: Ipv4Addr::new(a, b, c, host),
                host,
            });
        }
        // The calls per request and their counts: the simulator's own table, in which each
        // service is a node of its own (without request types, which `limits` refuses).
        let load = ServiceLoad::new(cluster, traffic.connections_per_upstream);
        let lookup = Lookup::new(cluster, traffic.payload_bytes);
        let services = cluster
            .services
            .iter()
            .enumerate()
            .map(|(index, service)| {
                let entry = &lookup.nodes[index];
                debug_assert_eq!(entry.service as usize, index);
                let calls = lookup.callees
                    [entry.callees_start as usize..entry.callees_end as usize]
                    .iter()
                    .map(|callee| {
                        let c = lookup.nodes[callee.node as usize].service as usize;
                        Call {
                            service: cluster.services[c].name.clone(),
                            address: SocketAddrV4::new(
                                service_vip(c),
                                service_port(&cluster.services[c]),
                            ),
                            whole: callee.whole,
                            fraction: callee.fraction,
                        }
                    })
                    .collect();
                ServicePlan {
                    index,
                    name: service.name.clone(),
                    vip: service_vip(index),
                    port: service_port(service),
                    pods: service.pods().map(|p| p as usize).collect(),
                    spec: WorkloadSpec {
                        service: service.name.clone(),
                        port: service_port(service),
                        app_time_us: service.app_time_us,
                        call_mode: service.call_mode,
                        calls,
                        payload_bytes: traffic.payload_bytes,
                        payload: traffic.payload,
                        connection_reuse: traffic.connection_reuse,
                        connections_per_upstream: traffic.connections_per_upstream,
                        seed: scenario.seed,
                    },
                    callers: cluster
                        .call_graph
                        .callers(index as u32)
                        .iter()
                        .map(|&s| s as usize)
                        .collect(),
                    external_rps: load.external_rps_per_pod[index] * service.replicas as f64,
                    l7_policy: service.l7_policy,
                }
            })
            .collect();
        Self {
            nodes,
            pods,
            services,
        }
    }

    /// Pod `pod`'s spec: its service's, with a seed of its own.
    pub fn pod_spec(&self, pod: usize) -> WorkloadSpec {
        let mut spec = self.services[self.pods[pod].service].spec.clone();
        spec.seed = spec
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(pod as u64);
        spec
    }

    /// The backends of a service: its pods' address and port.
    pub fn backends(&self, service: usize) -> Vec<SocketAddrV4> {
        let s = &self.services[service];
        s.pods
            .iter()
            .map(|&p| SocketAddrV4::new(self.pods[p].ip, s.port))
            .collect()
    }

    /// Services called from outside, with their rates.
    pub fn entry_services(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services.iter().filter(|s| s.is_entry())
    }
}
