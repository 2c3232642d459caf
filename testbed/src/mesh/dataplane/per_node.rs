//! `per-node`: one HAProxy per node, shared by the node's pods, with a listener per service
//! (`<node uplink>:20000+s`, balancing over the service's pods), reached by the agent's
//! connect4 redirect: each node's agent has `[node-proxy]` at the uplink, every service a
//! `proxy-port` (20000+s) and every pod `redirect = true`, so a pod's `connect()` to a VIP goes
//! to its node's HAProxy listener for that service before any packet exists. (HAProxy cannot
//! read the agent's original-destination map, hence a port per service: `PROXY_PORTS`.)
//! Outside requests for a service go to the node of its first pod, whose HAProxy takes them
//! (`PREROUTING -i up -d VIP -j REDIRECT` to the service's listener).

use std::net::SocketAddrV4;

use super::{
    agent::{self, NodeConfig},
    haproxy::{self, Backend, Config, Frontend, Role},
    iptables::{self, NatRules},
    Build,
};
use crate::mesh::{network::UPLINK, processes::ProcessKind, Entry, MeshError};

/// `[node-proxy] port`: every service has a port of its own, so nothing is sent here.
const COMMON_PORT: u16 = 15001;

/// The node proxy's listener for service `s`.
pub fn service_port(service: usize) -> u16 {
    20_000 + service as u16
}

pub fn build(build: &mut Build) -> Result<Vec<Entry>, MeshError> {
    let plan = build.plan;
    let threads = haproxy::threads(build);
    for node in &plan.nodes {
        if node.pods.is_empty() {
            continue;
        }
        let mut config = Config {
            threads,
            user: build.options.proxy_user.clone(),
            frontends: Vec::new(),
            backends: Vec::new(),
        };
        for service in &plan.services {
            let backend = format!("to-{}", service.index);
            config.frontends.push(Frontend {
                name: format!("svc-{}", service.index),
                bind: node.uplink.to_string(),
                port: service_port(service.index),
                routes: vec![(backend.clone(), None)],
            });
            config.backends.push(Backend {
                name: backend,
                servers: plan.backends(service.index),
            });
        }
        // Where connect4 sends what a pod dials: every service to its listener.
        let dir = agent::bpffs_dir(build.prefix, &format!("n{}", node.index));
        let mut agent_config = NodeConfig::new(&dir);
        for service in &plan.services {
            agent_config.service_with_proxy_port(
                &agent::agent_name(&service.name, service.index),
                service.vip_address(),
                &plan.backends(service.index),
                Some(service_port(service.index)),
            );
        }
        agent_config.node_proxy(SocketAddrV4::new(node.uplink, COMMON_PORT));
        for &pod in &node.pods {
            let pod_plan = &plan.pods[pod];
            agent_config.workload(
                &pod_plan.name,
                &build.workload_cgroup(pod),
                pod_plan.ip,
                false,
                true,
                &[],
            );
        }
        let network = build.network;
        haproxy::start(
            build,
            Role {
                kind: ProcessKind::NodeProxy,
                name: format!("n{}-proxy", node.index),
                node: node.index,
                pod: None,
                service: None,
            },
            &network.nodes[node.index].ns,
            &config,
        )?;
        agent::start(
            build,
            &format!("n{}", node.index),
            Some(node.index),
            &network.nodes[node.index].ns,
            &agent_config,
        )?;
    }
    entry_redirects(build, service_port)?;
    Ok(build.vip_entries("callee node's HAProxy → pod"))
}

/// Routes each entry service's VIP to the node of its first pod and redirects it there, as
/// it arrives on the uplink, to the node's proxy at `port(service)`.
pub fn entry_redirects(build: &Build, port: impl Fn(usize) -> u16) -> Result<(), MeshError> {
    let mut by_node: Vec<NatRules> = (0..build.plan.nodes.len())
        .map(|_| NatRules::default())
        .collect();
    for service in build.plan.entry_services() {
        let node = build.entry_node(service.index);
        build.route_vip_to(service.index, node);
        by_node[node].add(
            "PREROUTING",
            format!(
                "-i {UPLINK} -p tcp -d {} --dport {} -j REDIRECT --to-ports {}",
                service.vip,
                service.port,
                port(service.index)
            ),
        );
    }
    for (node, rules) in by_node.iter().enumerate() {
        if !rules.is_empty() {
            iptables::apply(
                build,
                &build.network.nodes[node].ns,
                &format!("node n{node}"),
                rules,
            )?;
        }
    }
    Ok(())
}
