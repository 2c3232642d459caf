//! `uproxy`: the project's node proxy (`meshtwin-node-proxy`, L4) on every node with pods,
//! reached by the agent's connect4 redirect: a pod's `connect()` to a VIP goes to its node's
//! proxy (`<uplink>:15001`), which picks the service's backend with the TC load balancer's
//! hash and connects to it. Services under L7 policy have an HAProxy waypoint (in the node
//! namespace of the service's first pod, `<uplink>:30000+s`): the agent lists the waypoint as
//! the service's only backend, so the node proxy sends their connections through it.
//!
//! Node to node the node proxy connects to the backend directly: the mTLS tunnels between
//! node proxies (another branch's work) do not exist yet, so the path has one node proxy,
//! the caller's, where ztunnel has two. Outside requests for a service go to the node of its
//! first pod, whose node proxy takes them (`PREROUTING -i up -d VIP -j REDIRECT`, which the
//! node proxy reads back with `SO_ORIGINAL_DST`).

use std::net::SocketAddrV4;

use sim::mesh::MicroProxyPlacement;

use super::{
    agent::{self, NodeConfig},
    haproxy::{self, Backend, Config, Frontend, Role},
    per_node::entry_redirects,
    Build,
};
use crate::{
    binaries,
    mesh::{
        processes::{Launch, ProcessKind, Ready},
        Entry, MeshError,
    },
};

/// Where connect4 sends connections on every node (Istio's ztunnel port).
pub const NODE_PROXY_PORT: u16 = 15001;
/// The node proxy's metrics, on the node namespace's loopback.
pub const NODE_PROXY_METRICS_PORT: u16 = 9465;

/// The waypoint's listener for service `s`.
pub fn waypoint_port(service: usize) -> u16 {
    30_000 + service as u16
}

pub fn build(build: &mut Build) -> Result<Vec<Entry>, MeshError> {
    if build.scenario.mesh.micro_proxy == MicroProxyPlacement::PerPod {
        return Err(MeshError::Unsupported {
            architecture: "uproxy with micro_proxy = \"per-pod\"".into(),
            reason: "the testbed runs one node proxy per node; use micro_proxy = \"per-node\"",
        });
    }
    let plan = build.plan;
    let threads = haproxy::threads(build);
    // Waypoints first: the agents point the services under L7 policy at them.
    let mut waypoint = vec![None; plan.services.len()];
    for service in plan.services.iter().filter(|s| s.l7_policy) {
        let node = build.entry_node(service.index);
        let address = SocketAddrV4::new(plan.nodes[node].uplink, waypoint_port(service.index));
        let config = Config {
            threads,
            user: build.options.proxy_user.clone(),
            frontends: vec![Frontend {
                name: "waypoint".into(),
                bind: address.ip().to_string(),
                port: address.port(),
                routes: vec![("pods".into(), None)],
            }],
            backends: vec![Backend {
                name: "pods".into(),
                servers: plan.backends(service.index),
            }],
        };
        let network = build.network;
        haproxy::start(
            build,
            Role {
                kind: ProcessKind::Waypoint,
                name: format!("s{}-waypoint", service.index),
                node,
                pod: None,
                service: Some(service.name.clone()),
            },
            &network.nodes[node].ns,
            &config,
        )?;
        waypoint[service.index] = Some(address);
    }
    let node_proxy = binaries::NODE_PROXY.path()?;
    for node in &plan.nodes {
        if node.pods.is_empty() {
            continue;
        }
        let dir = agent::bpffs_dir(build.prefix, &format!("n{}", node.index));
        let mut config = NodeConfig::new(&dir);
        for service in &plan.services {
            let backends = match waypoint[service.index] {
                Some(address) => vec![address],
                None => plan.backends(service.index),
            };
            config.service(
                &agent::agent_name(&service.name, service.index),
                service.vip_address(),
                &backends,
            );
        }
        config.node_proxy(SocketAddrV4::new(node.uplink, NODE_PROXY_PORT));
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
        let ns = &network.nodes[node.index].ns;
        agent::start(
            build,
            &format!("n{}", node.index),
            Some(node.index),
            ns,
            &config,
        )?;
        build.processes.start(Launch {
            kind: ProcessKind::NodeProxy,
            name: format!("n{}-proxy", node.index),
            node: Some(node.index),
            pod: None,
            service: None,
            program: node_proxy.clone(),
            args: vec![
                "--bpffs-dir".into(),
                dir.into(),
                "--metrics-address".into(),
                format!("127.0.0.1:{NODE_PROXY_METRICS_PORT}").into(),
            ],
            netns: ns,
            ready: Ready::Listening(vec![NODE_PROXY_PORT]),
        })?;
    }
    entry_redirects(build, |_| NODE_PROXY_PORT)?;
    Ok(build.vip_entries("callee node's node proxy → pod (or its waypoint)"))
}
