//! `per-node` and `per-service-account`: a shared Envoy on each node (for each service
//! account, in the second case). It holds the union of its tenants' configuration and the
//! source side of their traffic: the path is app → proxy → destination app, so only the
//! source node's proxy is crossed. Cilium's per-node Envoy keeps the original source address,
//! so its upstream connections are not shared between tenant pods.

use super::context::Context;
use super::load::ServiceLoad;
use super::tally::{CpuCosts, ProxyInstance, Tally};
use super::visibility::Visibility;
use crate::mesh::Scoping;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    PerNode,
    PerServiceAccount,
}

pub fn count(ctx: &Context, scoping: Scoping, sharing: Sharing, tally: &mut Tally) {
    let models = &ctx.models;
    let role = match sharing {
        Sharing::PerNode => "node-proxy",
        Sharing::PerServiceAccount => "service-account-proxy",
    };
    let group = tally.group(role, "envoy");
    let mut visibility = Visibility::new(ctx.cluster, scoping);
    let mut services: Vec<u32> = Vec::new();
    for (node, pods) in ctx.pods_by_node.iter().enumerate() {
        let mut tenant_sets: Vec<Vec<u32>> = match sharing {
            Sharing::PerNode => vec![pods.clone()],
            Sharing::PerServiceAccount => by_service_account(ctx, pods),
        };
        tenant_sets.retain(|t| !t.is_empty());
        for tenants in &tenant_sets {
            services.clear();
            services.extend(tenants.iter().map(|&p| ctx.service_of(p)));
            let instance = instance(ctx, tenants, &services, visibility.config(&services));
            tally.add(
                group,
                node as u32,
                1,
                &instance,
                &models.envoy,
                CpuCosts {
                    vcpu_per_krps: models.envoy.vcpu_per_krps,
                    rate: models.envoy.cpu_rate,
                    handshake_us: models.latency.envoy_mtls_handshake_us,
                },
            );
        }
    }
}

fn instance(
    ctx: &Context,
    tenants: &[u32],
    services: &[u32],
    config: super::visibility::ProxyConfig,
) -> ProxyInstance {
    let load = &ctx.load;
    let (mut rps, mut outside_rps) = (0.0, 0.0);
    let mut pooled = 0u128;
    for &s in services {
        outside_rps += load.external_rps_per_pod[s as usize];
        rps += ctx.out_rps(s) + load.external_rps_per_pod[s as usize];
        pooled += u128::from(load.app_connections_per_pod[s as usize])
            + u128::from(load.replica_connections_per_pod[s as usize]);
    }
    let (identities, namespaces) = ctx.identities_and_tenants(tenants);
    ProxyInstance {
        config,
        connections: ctx.open(pooled as f64, 2.0 * rps),
        rps,
        // A shared proxy's only hop is app → proxy → app': no proxy-to-proxy connection.
        handshakes: 0.0,
        // Requests from outside enter through the callee node's proxy.
        outside_rps,
        identities,
        workloads: tenants.len() as u64,
        tenants: namespaces,
    }
}

/// The node's pods grouped by service account, groups in account order.
fn by_service_account(ctx: &Context, pods: &[u32]) -> Vec<Vec<u32>> {
    let account = |p: u32| ctx.cluster.services[ctx.service_of(p) as usize].service_account;
    let mut sorted: Vec<u32> = pods.to_vec();
    sorted.sort_by_key(|&p| (account(p), p));
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for p in sorted {
        match groups.last_mut() {
            Some(g) if account(g[0]) == account(p) => g.push(p),
            _ => groups.push(vec![p]),
        }
    }
    groups
}

/// Connections open cluster-wide with reuse: app → proxy, proxy → every callee replica.
pub fn pooled_connections_total(ctx: &Context) -> u128 {
    let load = &ctx.load;
    ServiceLoad::sum_over_pods(ctx.cluster, |s| {
        load.app_connections_per_pod[s] + load.replica_connections_per_pod[s]
    })
}

/// Cilium's per-node Envoy: only traffic under L7 policy is redirected to it, at the
/// destination's node (an ingress policy), so a node runs one only where pods of services
/// under L7 policy run, and it carries their inbound requests and holds their configuration.
pub fn count_l7_node_proxies(ctx: &Context, scoping: Scoping, tally: &mut Tally) {
    let models = ctx.models;
    let group = tally.group("l7-node-proxy", "envoy");
    let mut visibility = Visibility::new(ctx.cluster, scoping);
    let mut services: Vec<u32> = Vec::new();
    for (node, pods) in ctx.pods_by_node.iter().enumerate() {
        let tenants: Vec<u32> = pods
            .iter()
            .copied()
            .filter(|&p| ctx.cluster.services[ctx.service_of(p) as usize].l7_policy)
            .collect();
        if tenants.is_empty() {
            continue;
        }
        services.clear();
        services.extend(tenants.iter().map(|&p| ctx.service_of(p)));
        let rps: f64 = services.iter().map(|&s| ctx.in_rps(s)).sum();
        let pooled: u64 = services
            .iter()
            .map(|&s| ctx.load.caller_pods[s as usize] * ctx.load.k_of[s as usize])
            .sum();
        let (identities, namespaces) = ctx.identities_and_tenants(&tenants);
        let instance = ProxyInstance {
            config: visibility.config(&services),
            connections: ctx.open(2.0 * pooled as f64, 2.0 * rps),
            rps,
            handshakes: 0.0,
            // Requests from outside to a service under L7 policy enter through it.
            outside_rps: services
                .iter()
                .map(|&s| ctx.load.external_rps_per_pod[s as usize])
                .sum(),
            identities,
            workloads: tenants.len() as u64,
            tenants: namespaces,
        };
        tally.add(
            group,
            node as u32,
            1,
            &instance,
            &models.envoy,
            CpuCosts {
                vcpu_per_krps: models.envoy.vcpu_per_krps,
                rate: models.envoy.cpu_rate,
                handshake_us: 0.0,
            },
        );
    }
}
