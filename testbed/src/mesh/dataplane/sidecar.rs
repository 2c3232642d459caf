//! `sidecar`: an HAProxy in every pod, inbound and outbound, reached by iptables REDIRECT in
//! the pod's namespace, as Istio's init container sets it up:
//!
//! - outbound: `OUTPUT -p tcp -d 10.96.0.0/16 -m owner ! --uid-owner <proxy user>
//!   -j REDIRECT --to-ports 15001`: the application's connections to any VIP reach its own
//!   HAProxy, whose own connections (as the proxy user) are left alone. HAProxy picks the
//!   service by the original destination: `dst`/`dst_port` read it back from conntrack
//!   (`SO_ORIGINAL_DST`; Debian's 2.6 is built with +NETFILTER), and balances over the
//!   service's pods round robin on keep-alive connections;
//! - inbound: `PREROUTING -p tcp -d <pod> --dport <port> -j REDIRECT --to-ports 15006`:
//!   every connection to the application meets the pod's HAProxy first, which forwards to
//!   the application on 127.0.0.1.
//!
//! With `interception = "ebpf"` the outbound REDIRECT gives way to the agent's connect4: each
//! node's agent has `[node-proxy]` at 127.0.0.1 (every pod's own loopback), every service a
//! `proxy-port` (20000+s) and every pod `redirect = true`, so the application's `connect()` to
//! a VIP goes straight to its HAProxy's listener for that service (`PROXY_PORTS`: HAProxy
//! cannot read the agent's original-destination map). HAProxy runs in a cgroup of its own,
//! which connect4 leaves alone. Inbound stays an iptables REDIRECT.

use std::net::{Ipv4Addr, SocketAddrV4};

use sim::mesh::Interception;

use super::{
    agent::{self, NodeConfig},
    haproxy::{self, Backend, Config, Frontend, Role},
    iptables::{self, NatRules},
    Build,
};
use crate::mesh::{plan::VIP_NET, processes::ProcessKind, Entry, MeshError};

/// The sidecar's outbound listener (Istio's port).
pub const OUTBOUND_PORT: u16 = 15001;
/// The sidecar's inbound listener (Istio's port).
pub const INBOUND_PORT: u16 = 15006;

/// The uid of `user`, from /etc/passwd.
pub fn uid_of(user: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 2 && fields[0] == user)
                .then(|| fields[2].parse().ok())
                .flatten()
        })
}

pub fn build(build: &mut Build) -> Result<Vec<Entry>, MeshError> {
    let connect4 = build.scenario.mesh.interception == Interception::Ebpf;
    let uid = uid_of(&build.options.proxy_user).ok_or_else(|| MeshError::MissingUser {
        user: build.options.proxy_user.clone(),
        hint: "Debian's haproxy package creates it (apt-get install haproxy)",
    })?;
    let plan = build.plan;
    let threads = haproxy::threads(build);
    for pod in &plan.pods {
        let service = &plan.services[pod.service];
        let mut config = Config {
            threads,
            user: build.options.proxy_user.clone(),
            frontends: vec![Frontend {
                name: "inbound".into(),
                bind: "0.0.0.0".into(),
                port: INBOUND_PORT,
                routes: vec![("app".into(), None)],
            }],
            backends: vec![Backend {
                name: "app".into(),
                servers: vec![SocketAddrV4::new(Ipv4Addr::LOCALHOST, service.port)],
            }],
        };
        let mut outbound = Frontend {
            name: "outbound".into(),
            bind: "127.0.0.1".into(),
            port: OUTBOUND_PORT,
            routes: Vec::new(),
        };
        for call in &service.spec.calls {
            let callee = plan
                .services
                .iter()
                .find(|s| s.name == call.service)
                .expect("a callee is a service of the plan");
            let backend = format!("to-{}", callee.index);
            if connect4 {
                // A listener per callee, where connect4 sends it.
                config.frontends.push(Frontend {
                    name: format!("outbound-{}", callee.index),
                    bind: "127.0.0.1".into(),
                    port: connect4_port(callee.index),
                    routes: vec![(backend.clone(), None)],
                });
            } else {
                outbound.routes.push((
                    backend.clone(),
                    Some(format!(
                        "{{ dst {} }} {{ dst_port {} }}",
                        callee.vip, callee.port
                    )),
                ));
            }
            config.backends.push(Backend {
                name: backend,
                servers: plan.backends(callee.index),
            });
        }
        if !outbound.routes.is_empty() {
            config.frontends.push(outbound);
        }
        let netns = build.network.pod_ns(plan, pod.index);
        let mut rules = NatRules::default();
        if !connect4 {
            rules.add(
                "OUTPUT",
            format!(
                "-p tcp -d {}/{} -m owner ! --uid-owner {uid} -j REDIRECT --to-ports {OUTBOUND_PORT}",
                    VIP_NET.0, VIP_NET.1
                ),
            );
        }
        rules.add(
            "PREROUTING",
            format!(
                "-p tcp -d {} --dport {} -j REDIRECT --to-ports {INBOUND_PORT}",
                pod.ip, service.port
            ),
        );
        iptables::apply(build, netns, &format!("pod {}", pod.name), &rules)?;
        haproxy::start(
            build,
            Role {
                kind: ProcessKind::Sidecar,
                name: format!("{}-sidecar", pod.name),
                node: pod.node,
                pod: Some(pod.index),
                service: Some(service.name.clone()),
            },
            netns,
            &config,
        )?;
    }
    if connect4 {
        connect4_agents(build)?;
    }
    build.router_load_balancer()?;
    Ok(build.vip_entries("router TC LB → pod → its sidecar (iptables REDIRECT) → app"))
}

/// The sidecar's outbound listener for service `s` under connect4.
pub fn connect4_port(service: usize) -> u16 {
    20_000 + service as u16
}

/// Each node's agent, sending its pods' connections to a VIP to their own sidecar's listener
/// for the service.
fn connect4_agents(build: &mut Build) -> Result<(), MeshError> {
    let plan = build.plan;
    for node in &plan.nodes {
        if node.pods.is_empty() {
            continue;
        }
        let mut config =
            NodeConfig::new(&agent::bpffs_dir(build.prefix, &format!("n{}", node.index)));
        for service in &plan.services {
            config.service_with_proxy_port(
                &agent::agent_name(&service.name, service.index),
                service.vip_address(),
                &plan.backends(service.index),
                Some(connect4_port(service.index)),
            );
        }
        config.node_proxy(SocketAddrV4::new(Ipv4Addr::LOCALHOST, OUTBOUND_PORT));
        for &pod in &node.pods {
            let pod_plan = &plan.pods[pod];
            config.workload(
                &pod_plan.name,
                &build.workload_cgroup(pod),
                pod_plan.ip,
                false,
                true,
                &[],
            );
        }
        let network = build.network;
        agent::start(
            build,
            &format!("n{}", node.index),
            Some(node.index),
            &network.nodes[node.index].ns,
            &config,
        )?;
    }
    Ok(())
}
