//! `ebpf`: no proxy. Each node's agent runs the baseline's TC load balancer plus
//!
//! - XDP identity policy on every pod's `eth0`: an identity per service (its pods' addresses)
//!   and one for the outside; services that call nobody are default-deny and allow exactly
//!   their callers (and the outside, for an entry service) on their port. Services that make
//!   calls are not policed: the agent's policy does not let a policed client receive replies
//!   that come from a VIP (docs/datapath.md, "Limits": "police servers, not clients");
//! - the sockmap bypass between the node's pods (sock_ops + sk_msg on every pod's cgroup),
//!   and HTTP/1.1 visibility of each pod's own service (`sk_msg_http`).
//!
//! Outside requests meet the router's load balancer, then the pod's XDP policy.

use super::{agent, baseline::load_balancer_config, Build};
use crate::mesh::{plan::OUTSIDE_IP, Entry, MeshError};

/// The outside's identity number (services are 1..=services).
const OUTSIDE_ID: u32 = 1_000_000;
const OUTSIDE_NAME: &str = "outside";

pub fn build(build: &mut Build) -> Result<Vec<Entry>, MeshError> {
    let plan = build.plan;
    for node in 0..plan.nodes.len() {
        if plan.nodes[node].pods.is_empty() {
            continue;
        }
        let mut config = load_balancer_config(build, node);
        config.identity(OUTSIDE_NAME, OUTSIDE_ID, &[OUTSIDE_IP]);
        for service in &plan.services {
            let addresses: Vec<_> = service.pods.iter().map(|&p| plan.pods[p].ip).collect();
            let name = agent::agent_name(&service.name, service.index);
            config.identity(&name, service.index as u32 + 1, &addresses);
            if !service.spec.calls.is_empty() {
                continue;
            }
            for &caller in &service.callers {
                let from = &plan.services[caller];
                config.policy(
                    &agent::agent_name(&from.name, from.index),
                    &name,
                    service.port,
                );
            }
            if service.is_entry() {
                config.policy(OUTSIDE_NAME, &name, service.port);
            }
        }
        for &pod in &plan.nodes[node].pods {
            let pod_plan = &plan.pods[pod];
            let netns = build
                .network
                .pod_ns(plan, pod)
                .mount_path()
                .expect("pods are named")
                .to_owned();
            config.attach("eth0", Some(&netns), "xdp-policy");
            let service = &plan.services[pod_plan.service];
            config.workload(
                &pod_plan.name,
                &build.workload_cgroup(pod),
                pod_plan.ip,
                true,
                false,
                &[agent::agent_name(&service.name, service.index)],
            );
        }
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
    Ok(build.vip_entries("router TC LB → pod (XDP policy)"))
}
