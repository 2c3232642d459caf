//! The data planes, one file per architecture, each built from real parts on the testbed's
//! namespaces after the workloads run; each returns the outside entries it offers.
//!
//! | architecture | in the mesh (app → VIP) | from outside (entry) |
//! |---|---|---|
//! | baseline | TC load balancer (agent, node side of each pod link) | router's TC LB → pod |
//! | `sidecar` | iptables REDIRECT (or connect4) → own HAProxy → callee pod's iptables REDIRECT → its HAProxy → app | router's TC LB → pod → its HAProxy |
//! | `per-node` | connect4 → own node's HAProxy (a port per service) → callee pod | callee node's HAProxy |
//! | `uproxy` | connect4 → own node's meshtwin-node-proxy → callee pod (or its HAProxy waypoint) | callee node's node proxy (→ waypoint) |
//! | `ebpf` | TC LB, XDP policy, sockmap bypass between the node's pods | router's TC LB → pod (XDP policy) |

pub mod agent;
pub mod baseline;
pub mod ebpf;
pub mod haproxy;
pub mod iptables;
pub mod per_node;
pub mod sidecar;
pub mod uproxy;

use std::path::Path;

use sim::{config::Scenario, mesh::Architecture};

use super::{
    network::{router_interface, Network, OUTSIDE_LINK},
    plan::Plan,
    processes::{ProcessKind, Processes},
    Entry, MeshError, MeshOptions,
};

/// What a data plane is built with.
pub struct Build<'a> {
    pub scenario: &'a Scenario,
    pub plan: &'a Plan,
    pub network: &'a Network,
    pub processes: &'a mut Processes,
    pub options: &'a MeshOptions,
    pub run_dir: &'a Path,
    pub prefix: &'a str,
}

/// Builds the data plane of `architecture` (`None`: the baseline).
pub fn build(
    architecture: Option<Architecture>,
    build: &mut Build,
) -> Result<Vec<Entry>, MeshError> {
    match architecture {
        None => baseline::build(build),
        Some(Architecture::Sidecar) => sidecar::build(build),
        Some(Architecture::PerNode) => per_node::build(build),
        Some(Architecture::Uproxy) => uproxy::build(build),
        Some(Architecture::Ebpf) => ebpf::build(build),
        Some(Architecture::PerServiceAccount) => Err(MeshError::Unsupported {
            architecture: "per-service-account".into(),
            reason: "it needs one proxy per service account per node; the testbed builds sidecar, per-node, uproxy, ebpf and the baseline",
        }),
    }
}

impl Build<'_> {
    /// The cgroup of pod `pod`'s workload (started before the data plane).
    pub fn workload_cgroup(&self, pod: usize) -> std::path::PathBuf {
        self.processes
            .list()
            .iter()
            .find(|p| p.kind == ProcessKind::Workload && p.pod == Some(pod))
            .map(|p| p.cgroup.clone())
            .expect("every pod's workload runs before its data plane")
    }

    /// The node of a service's first pod: where its outside entry is, for the data planes
    /// whose entry is a node's proxy.
    pub fn entry_node(&self, service: usize) -> usize {
        self.plan.pods[self.plan.services[service].pods[0]].node
    }

    /// Routes a service's VIP, at the router, to node `node`.
    pub fn route_vip_to(&self, service: usize, node: usize) {
        self.network.router.add_route(
            self.plan.services[service].vip,
            32,
            Some(self.plan.nodes[node].uplink),
            &router_interface(node),
        );
    }

    /// Entries at each entry service's VIP, taking `path`.
    pub fn vip_entries(&self, path: &str) -> Vec<Entry> {
        let total: f64 = self.plan.entry_services().map(|s| s.external_rps).sum();
        self.plan
            .entry_services()
            .map(|s| Entry {
                service: s.name.clone(),
                address: s.vip_address(),
                netns: self
                    .network
                    .outside
                    .mount_path()
                    .expect("the outside namespace is named")
                    .to_owned(),
                rps: s.external_rps,
                rate_share: if total > 0.0 {
                    s.external_rps / total
                } else {
                    0.0
                },
                path: path.to_owned(),
            })
            .collect()
    }

    /// The router's agent: a TC load balancer on the outside link for the entry services
    /// (VIP → their pods), and on every node link for the replies' reverse translation.
    pub fn router_load_balancer(&mut self) -> Result<(), MeshError> {
        let mut config = agent::NodeConfig::new(&agent::bpffs_dir(self.prefix, "router"));
        for service in self.plan.entry_services() {
            config.service(
                &agent::agent_name(&service.name, service.index),
                service.vip_address(),
                &self.plan.backends(service.index),
            );
        }
        config.attach(OUTSIDE_LINK, None, "tc-service-lb");
        for node in &self.plan.nodes {
            config.attach(&router_interface(node.index), None, "tc-service-lb");
        }
        let network = self.network;
        agent::start(self, "router", None, &network.router, &config)
    }
}
