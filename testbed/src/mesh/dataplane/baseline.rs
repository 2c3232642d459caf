//! No mesh: the application dials a VIP and the project's TC load balancer (the agent, with
//! no policy) translates it to a pod on the node side of the caller's link. Each node with
//! pods runs an agent: `tc-service-lb` on every pod link (`h-<pod>`) and on the uplink (the
//! reverse translation of replies from pods on other nodes). Outside requests meet the
//! router's load balancer and go straight to a pod.

use super::{agent, agent::NodeConfig, Build};
use crate::mesh::{network::UPLINK, Entry, MeshError};

/// The node agent's config for the load balancer: every service, attached to the node's pod
/// links and uplink.
pub fn load_balancer_config(build: &Build, node: usize) -> NodeConfig {
    let mut config = NodeConfig::new(&agent::bpffs_dir(build.prefix, &format!("n{node}")));
    for service in &build.plan.services {
        config.service(
            &agent::agent_name(&service.name, service.index),
            service.vip_address(),
            &build.plan.backends(service.index),
        );
    }
    for &pod in &build.plan.nodes[node].pods {
        config.attach(
            &format!("h-{}", build.plan.pods[pod].name),
            None,
            "tc-service-lb",
        );
    }
    config.attach(UPLINK, None, "tc-service-lb");
    config
}

pub fn build(build: &mut Build) -> Result<Vec<Entry>, MeshError> {
    for node in 0..build.plan.nodes.len() {
        if build.plan.nodes[node].pods.is_empty() {
            continue;
        }
        let config = load_balancer_config(build, node);
        let network = build.network;
        agent::start(
            build,
            &format!("n{node}"),
            Some(node),
            &network.nodes[node].ns,
            &config,
        )?;
    }
    build.router_load_balancer()?;
    Ok(build.vip_entries("router TC LB → pod"))
}
