//! `per-node`: one HAProxy per node, shared by the node's pods, with a listener per service
//! (`<node uplink>:20000+s`, balancing over the service's pods). A pod's connections to a VIP
//! reach its own node's HAProxy through an iptables DNAT in the pod's namespace (`OUTPUT -d
//! VIP --dport P -j DNAT --to <uplink>:20000+s`). The issue asks for the agent's connect4
//! redirect here: it sends every service to one proxy port today, and HAProxy cannot read the
//! agent's original-destination map, so until connect4 can send each service to its own
//! port the redirect is netfilter's (docs/testbed.md says so). Outside requests for a service
//! go to the node of its first pod, whose HAProxy takes them (`PREROUTING -i up -d VIP
//! -j REDIRECT`).

use std::net::SocketAddrV4;

use super::{
    haproxy::{self, Backend, Config, Frontend, Role},
    iptables::{self, NatRules},
    Build,
};
use crate::mesh::{network::UPLINK, processes::ProcessKind, Entry, MeshError};

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
        for &pod in &node.pods {
            let pod_plan = &plan.pods[pod];
            let mut rules = NatRules::default();
            for call in &plan.services[pod_plan.service].spec.calls {
                let callee = plan
                    .services
                    .iter()
                    .find(|s| s.name == call.service)
                    .expect("a callee is a service");
                let proxy = SocketAddrV4::new(node.uplink, service_port(callee.index));
                rules.add(
                    "OUTPUT",
                    format!(
                        "-p tcp -d {} --dport {} -j DNAT --to-destination {proxy}",
                        callee.vip, callee.port
                    ),
                );
            }
            if !rules.is_empty() {
                iptables::apply(
                    build,
                    build.network.pod_ns(plan, pod),
                    &format!("pod {}", pod_plan.name),
                    &rules,
                )?;
            }
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
