//! Adds up proxies as they are counted: totals, the worst proxy, the worst node, blast radius.

use super::visibility::ProxyConfig;
use crate::cost_model::{ProxyCosts, ProxyResources, RateDependence, ResourceTable, Wakeup};
use serde::Serialize;

/// What a proxy's work costs in CPU: `vcpu_per_krps` per 1000 requests per second through it
/// (the CPU that occupies its workers, as the latency simulation has them), scaled by `rate`
/// for the rate through it, plus `handshake_us` per mTLS handshake.
#[derive(Debug, Clone, Copy)]
pub struct CpuCosts {
    pub vcpu_per_krps: f64,
    pub rate: RateDependence,
    pub handshake_us: f64,
}

/// One proxy instance (or `count` identical ones) as the model sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyInstance {
    pub config: ProxyConfig,
    /// Open connections whose sockets this proxy holds (each end it terminates counts once).
    pub connections: f64,
    /// Requests per second passing through it.
    pub rps: f64,
    /// mTLS handshakes per second it makes (new connections between proxies).
    pub handshakes: f64,
    /// Requests per second it receives straight from outside the cluster: it is the first
    /// process they wake (`cost_model::Wakeup`).
    pub outside_rps: f64,
    /// Identities (service accounts) it holds keys for.
    pub identities: u64,
    /// Pods whose traffic it carries: what one restart or upgrade of it touches.
    pub workloads: u64,
    /// Namespaces (tenants) that share it.
    pub tenants: u64,
}

impl ProxyInstance {
    /// Its memory in bytes, rounded; past what a 64-bit count holds, what made it so.
    pub fn memory_bytes(&self, costs: &ProxyCosts) -> Result<u64, String> {
        let c = &self.config;
        let bytes = costs.base_bytes
            + c.clusters as f64 * costs.per_cluster_bytes
            + c.endpoints as f64 * costs.per_endpoint_bytes
            + c.tcp_listeners as f64 * costs.per_tcp_listener_bytes
            + c.http_listeners as f64 * costs.per_http_listener_bytes
            + self.connections * costs.per_connection_bytes;
        whole_count(bytes).ok_or_else(|| {
            format!(
                "base_bytes {} + {} clusters × per_cluster_bytes {} + {} endpoints × per_endpoint_bytes {} + {} TCP and {} HTTP listeners × {} and {} + {} connections × per_connection_bytes {} = {bytes:e} bytes",
                costs.base_bytes,
                c.clusters,
                costs.per_cluster_bytes,
                c.endpoints,
                costs.per_endpoint_bytes,
                c.tcp_listeners,
                c.http_listeners,
                costs.per_tcp_listener_bytes,
                costs.per_http_listener_bytes,
                self.connections.round(),
                costs.per_connection_bytes
            )
        })
    }
}

/// A figure as a whole count (rounded), if it is finite and fits 64 bits.
pub fn whole_count(value: f64) -> Option<u64> {
    // 2^64 as f64 is exact; anything at or past it does not fit.
    let rounded = value.round();
    (0.0..18_446_744_073_709_551_616.0)
        .contains(&rounded)
        .then_some(rounded as u64)
}

/// A proxy model's memory parameters, for messages that name them.
fn parameters(costs: &ProxyCosts) -> String {
    format!(
        "base_bytes = {}, per_cluster_bytes = {}, per_endpoint_bytes = {}, per_connection_bytes = {}",
        costs.base_bytes, costs.per_cluster_bytes, costs.per_endpoint_bytes, costs.per_connection_bytes
    )
}

/// What a 64-bit count of bytes holds, for messages.
pub const COUNT_LIMIT: &str = "18.4 EB, what a 64-bit count holds";

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
    /// Σ clusters over the group's proxies: what a full xDS push sends them.
    pub clusters_total: u64,
    pub endpoints_max: u64,
    /// Σ endpoints over the group's proxies: what their EDS holds, and what churn updates.
    pub endpoints_total: u64,
    pub rps_max: f64,
    /// Requests per second through all of them: `cpu_cores / (rps_total / 1000)` is the
    /// group's CPU per 1000 rps, as Istio's published figures give it.
    pub rps_total: f64,
    pub cpu_cores: f64,
    /// What Kubernetes reserves for one of them (`models/resources.toml`).
    pub requests: ProxyResources,
    /// Σ max(request, modelled use) over the group: the node capacity it takes.
    pub cpu_cores_reserved: f64,
    pub memory_bytes_reserved: u64,
    /// The largest one's memory passes its limit: the kernel would kill it (OOM).
    pub over_memory_limit: bool,
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
    /// The first figure that passed what a 64-bit count holds, with the inputs that made it:
    /// the architecture's figures are then an error, never a saturated number.
    pub overflow: Option<String>,
    /// Proxies spread round robin over every node (waypoint replicas, `add_round_robin`), as
    /// a per-node amount every node gets and the starts and ends of the ranges one more
    /// covers, added up in `finish`: the work follows the groups, not the replicas.
    spread: Option<Spread>,
    resources: ResourceTable,
    /// What a request from outside costs the proxy it reaches first, beyond its own CPU.
    outside_wakeup: Wakeup,
}

#[derive(Debug, Default)]
struct Spread {
    memory_everywhere: u128,
    cpu_everywhere: f64,
    /// Differences from one node to the next (a range adds at its start, takes at its end).
    memory_steps: Vec<i128>,
    cpu_steps: Vec<f64>,
}

impl Tally {
    pub fn new(nodes: usize, resources: ResourceTable, outside_wakeup: Wakeup) -> Self {
        Tally {
            resources,
            outside_wakeup,
            groups: Vec::new(),
            node_memory: vec![0; nodes],
            node_cpu: vec![0.0; nodes],
            blast: BlastRadius::default(),
            datapath_memory_bytes: 0,
            overflow: None,
            spread: None,
        }
    }

    /// Records the first overflow; later ones follow from it.
    pub fn overflowed(&mut self, message: String) {
        self.overflow.get_or_insert(message);
    }

    /// `a × b`, or an overflow recorded with what was being multiplied.
    fn product(&mut self, a: u64, b: u64, what: impl FnOnce() -> String) -> u64 {
        a.checked_mul(b).unwrap_or_else(|| {
            self.overflowed(format!("{} passes {COUNT_LIMIT}", what()));
            u64::MAX
        })
    }

    /// `a + b`, or an overflow recorded with what was being added.
    fn sum(&mut self, a: u64, b: u64, what: impl FnOnce() -> String) -> u64 {
        a.checked_add(b).unwrap_or_else(|| {
            self.overflowed(format!("{} passes {COUNT_LIMIT}", what()));
            u64::MAX
        })
    }

    /// Starts a group of proxies; `add` then counts into it.
    pub fn group(&mut self, role: &'static str, component: &'static str) -> usize {
        self.groups.push(ProxyGroup {
            role,
            component,
            requests: self.resources.of(role, component),
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
        let Some((memory, cpu)) = self.add_to_group(group, count, instance, costs, cpu) else {
            return;
        };
        let (role, node_index) = (self.groups[group].role, node as usize);
        let what = || {
            format!("the memory of node {node} ({count} {role} proxies of {memory} bytes and more)")
        };
        let on_node = self.product(memory, count, what);
        self.node_memory[node_index] = self.sum(self.node_memory[node_index], on_node, what);
        self.node_cpu[node_index] += cpu * count as f64;
    }

    /// Counts `count` identical proxies spread round robin over every node from `first_node`
    /// (node `(first_node + j) mod nodes` runs the `j`-th), in time independent of `count`.
    pub fn add_round_robin(
        &mut self,
        group: usize,
        first_node: u32,
        count: u64,
        instance: &ProxyInstance,
        costs: &ProxyCosts,
        cpu: CpuCosts,
    ) {
        let nodes = self.node_memory.len() as u64;
        if count == 1 {
            // One proxy is added where it runs, as `add` does.
            return self.add(group, first_node, 1, instance, costs, cpu);
        }
        let Some((memory, cpu)) = self.add_to_group(group, count, instance, costs, cpu) else {
            return;
        };
        let spread = self.spread.get_or_insert_with(|| Spread {
            memory_steps: vec![0; nodes as usize + 1],
            cpu_steps: vec![0.0; nodes as usize + 1],
            ..Spread::default()
        });
        // Every node runs `rounds` of them; `rest` consecutive nodes from `first_node` (wrapping
        // around) one more.
        let (rounds, rest) = (count / nodes, count % nodes);
        spread.memory_everywhere += u128::from(memory) * u128::from(rounds);
        spread.cpu_everywhere += cpu * rounds as f64;
        let start = first_node as u64 % nodes;
        let end = start + rest;
        let mut one_more = |from: u64, to: u64| {
            spread.memory_steps[from as usize] += i128::from(memory);
            spread.memory_steps[to as usize] -= i128::from(memory);
            spread.cpu_steps[from as usize] += cpu;
            spread.cpu_steps[to as usize] -= cpu;
        };
        if end <= nodes {
            one_more(start, end);
        } else {
            one_more(start, nodes);
            one_more(0, end - nodes);
        }
    }

    /// The group's totals and maxima for `count` more of its proxies, and one's memory and
    /// CPU; `None` after an overflow.
    fn add_to_group(
        &mut self,
        group: usize,
        count: u64,
        instance: &ProxyInstance,
        costs: &ProxyCosts,
        cpu: CpuCosts,
    ) -> Option<(u64, f64)> {
        let (role, component) = (self.groups[group].role, self.groups[group].component);
        let memory = match instance.memory_bytes(costs) {
            Ok(memory) => memory,
            Err(why) => {
                self.overflowed(format!(
                    "one {role} proxy's memory passes {COUNT_LIMIT}: {why} ([models.{component}])"
                ));
                return None;
            }
        };
        let Some(connections) = whole_count(instance.connections) else {
            self.overflowed(format!(
                "the connections one {role} proxy holds ({:e}) pass what a 64-bit count holds",
                instance.connections
            ));
            return None;
        };
        let cpu = instance.rps / 1000.0 * cpu.vcpu_per_krps * cpu.rate.factor(instance.rps)
            + instance.handshakes * cpu.handshake_us / 1e6
            + instance.outside_rps * self.outside_wakeup.cpu_us(instance.outside_rps) / 1e6;
        let total = self.groups[group].memory_bytes_total;
        let proxies = self.groups[group].count + count;
        let what = || {
            format!(
                "the memory of {proxies} {role} proxies of {memory} bytes each ([models.{component}] {})",
                parameters(costs)
            )
        };
        let all = self.product(memory, count, what);
        let total = self.sum(total, all, what);
        let clusters_what = || format!("the clusters {proxies} {role} proxies receive");
        let clusters = self.product(instance.config.clusters, count, clusters_what);
        let clusters_total = self.sum(self.groups[group].clusters_total, clusters, clusters_what);
        let endpoints_what = || format!("the endpoints {proxies} {role} proxies hold");
        let endpoints = self.product(instance.config.endpoints, count, endpoints_what);
        let endpoints_total = self.sum(
            self.groups[group].endpoints_total,
            endpoints,
            endpoints_what,
        );
        // One proxy's reservation: its memory, or its request (at most a terabyte) if larger.
        let request = self.groups[group].requests.memory_request_bytes;
        let reserved_one = whole_count((memory as f64).max(request)).unwrap_or(memory);
        let reserved_what = || {
            format!("the memory reserved for {proxies} {role} proxies of {reserved_one} bytes each ([models.resources])")
        };
        let reserved = self.product(reserved_one, count, reserved_what);
        let reserved_total = self.sum(
            self.groups[group].memory_bytes_reserved,
            reserved,
            reserved_what,
        );
        let g = &mut self.groups[group];
        g.count += count;
        g.memory_bytes_total = total;
        g.memory_bytes_max = g.memory_bytes_max.max(memory);
        g.connections_max = g.connections_max.max(connections);
        g.clusters_max = g.clusters_max.max(instance.config.clusters);
        g.clusters_total = clusters_total;
        g.endpoints_max = g.endpoints_max.max(instance.config.endpoints);
        g.endpoints_total = endpoints_total;
        g.rps_max = g.rps_max.max(instance.rps);
        g.rps_total += instance.rps * count as f64;
        g.cpu_cores += cpu * count as f64;
        g.cpu_cores_reserved += cpu.max(g.requests.cpu_request_vcpu) * count as f64;
        g.memory_bytes_reserved = reserved_total;
        g.over_memory_limit = g.requests.memory_limit_bytes > 0.0
            && g.memory_bytes_max as f64 > g.requests.memory_limit_bytes;
        let b = &mut self.blast;
        b.identities_per_proxy_max = b.identities_per_proxy_max.max(instance.identities);
        b.workloads_per_proxy_max = b.workloads_per_proxy_max.max(instance.workloads);
        b.tenants_per_proxy_max = b.tenants_per_proxy_max.max(instance.tenants);
        (self.overflow.is_none()).then_some((memory, cpu))
    }

    /// Kernel-side (eBPF map) memory on a node.
    pub fn add_datapath(&mut self, node: u32, bytes: u64) {
        let index = node as usize;
        self.node_memory[index] = self.sum(self.node_memory[index], bytes, || {
            format!("the memory of node {node} (its eBPF maps, {bytes} bytes, and its proxies)")
        });
        self.datapath_memory_bytes = self.sum(self.datapath_memory_bytes, bytes, || {
            "the eBPF maps' memory over the cluster ([models.ebpf])".to_string()
        });
    }

    /// Adds what `add_round_robin` spread to every node; call once, after counting.
    pub fn finish(&mut self) {
        let Some(spread) = self.spread.take() else {
            return;
        };
        let (mut memory, mut cpu) = (0i128, 0.0);
        for node in 0..self.node_memory.len() {
            memory += spread.memory_steps[node];
            cpu += spread.cpu_steps[node];
            let add = spread.memory_everywhere + memory as u128;
            let add = u64::try_from(add).unwrap_or(u64::MAX);
            self.node_memory[node] = self.sum(self.node_memory[node], add, || {
                format!("the memory of node {node} (the waypoint replicas it runs and more)")
            });
            self.node_cpu[node] += spread.cpu_everywhere + cpu;
        }
    }
}
