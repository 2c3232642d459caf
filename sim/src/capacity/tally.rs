//! Adds up proxies as they are counted: totals, the worst proxy, the worst node, blast radius.

use super::visibility::ProxyConfig;
use crate::cost_model::ProxyCosts;
use serde::Serialize;

/// One proxy instance (or `count` identical ones) as the model sees it.
/// What a proxy's work costs in CPU: `vcpu_per_krps` per 1000 requests per second through it
/// (the CPU that occupies its workers, as the latency simulation has them) plus
/// `handshake_us` per mTLS handshake.
#[derive(Debug, Clone, Copy)]
pub struct CpuCosts {
    pub vcpu_per_krps: f64,
    pub handshake_us: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyInstance {
    pub config: ProxyConfig,
    /// Open connections whose sockets this proxy holds (each end it terminates counts once).
    pub connections: f64,
    /// Requests per second passing through it.
    pub rps: f64,
    /// mTLS handshakes per second it makes (new connections between proxies).
    pub handshakes: f64,
    /// Identities (service accounts) it holds keys for.
    pub identities: u64,
    /// Pods whose traffic it carries: what one restart or upgrade of it touches.
    pub workloads: u64,
    /// Namespaces (tenants) that share it.
    pub tenants: u64,
}

impl ProxyInstance {
    pub fn memory_bytes(&self, costs: &ProxyCosts) -> u64 {
        let c = &self.config;
        let bytes = costs.base_bytes
            + c.clusters as f64 * costs.per_cluster_bytes
            + c.endpoints as f64 * costs.per_endpoint_bytes
            + c.tcp_listeners as f64 * costs.per_tcp_listener_bytes
            + c.http_listeners as f64 * costs.per_http_listener_bytes
            + self.connections * costs.per_connection_bytes;
        bytes.round() as u64
    }
}

/// Totals for one kind of proxy within an architecture (e.g. uproxy's ztunnels).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyGroup {
    pub role: &'static str,
    pub component: &'static str,
    pub count: u64,
    pub memory_bytes_total: u64,
    pub memory_bytes_max: u64,
    pub connections_max: u64,
    pub clusters_max: u64,
    pub endpoints_max: u64,
    pub rps_max: f64,
    pub cpu_cores: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BlastRadius {
    pub identities_per_proxy_max: u64,
    pub workloads_per_proxy_max: u64,
    pub tenants_per_proxy_max: u64,
}

/// Accumulates an architecture's proxies, and eBPF datapath memory, node by node.
pub struct Tally {
    pub groups: Vec<ProxyGroup>,
    pub node_memory: Vec<u64>,
    pub node_cpu: Vec<f64>,
    pub blast: BlastRadius,
    pub datapath_memory_bytes: u64,
}

impl Tally {
    pub fn new(nodes: usize) -> Self {
        Tally {
            groups: Vec::new(),
            node_memory: vec![0; nodes],
            node_cpu: vec![0.0; nodes],
            blast: BlastRadius::default(),
            datapath_memory_bytes: 0,
        }
    }

    /// Starts a group of proxies; `add` then counts into it.
    pub fn group(&mut self, role: &'static str, component: &'static str) -> usize {
        self.groups.push(ProxyGroup {
            role,
            component,
            ..ProxyGroup::default()
        });
        self.groups.len() - 1
    }

    /// Counts `count` identical proxies on `node`, each costing `costs` and `cpu`.
    pub fn add(
        &mut self,
        group: usize,
        node: u32,
        count: u64,
        instance: &ProxyInstance,
        costs: &ProxyCosts,
        cpu: CpuCosts,
    ) {
        let memory = instance.memory_bytes(costs);
        let cpu = instance.rps / 1000.0 * cpu.vcpu_per_krps
            + instance.handshakes * cpu.handshake_us / 1e6;
        let g = &mut self.groups[group];
        g.count += count;
        g.memory_bytes_total += memory * count;
        g.memory_bytes_max = g.memory_bytes_max.max(memory);
        g.connections_max = g.connections_max.max(instance.connections.round() as u64);
        g.clusters_max = g.clusters_max.max(instance.config.clusters);
        g.endpoints_max = g.endpoints_max.max(instance.config.endpoints);
        g.rps_max = g.rps_max.max(instance.rps);
        g.cpu_cores += cpu * count as f64;
        self.node_memory[node as usize] += memory * count;
        self.node_cpu[node as usize] += cpu * count as f64;
        let b = &mut self.blast;
        b.identities_per_proxy_max = b.identities_per_proxy_max.max(instance.identities);
        b.workloads_per_proxy_max = b.workloads_per_proxy_max.max(instance.workloads);
        b.tenants_per_proxy_max = b.tenants_per_proxy_max.max(instance.tenants);
    }

    /// Kernel-side (eBPF map) memory on a node.
    pub fn add_datapath(&mut self, node: u32, bytes: u64) {
        self.node_memory[node as usize] += bytes;
        self.datapath_memory_bytes += bytes;
    }
}
