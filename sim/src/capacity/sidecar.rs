//! `sidecar`: one Envoy in every pod. It sees its own service's visible configuration, holds
//! both ends of its application's traffic, and pools connections to every callee replica.

use super::context::Context;
use super::load::ServiceLoad;
use super::tally::{CpuCosts, ProxyInstance, Tally};
use super::visibility::Visibility;
use crate::cost_model::ProxyCosts;
use crate::mesh::Scoping;

/// Envoy sidecars.
pub fn count(ctx: &Context, scoping: Scoping, tally: &mut Tally) {
    let models = ctx.models;
    let cpu = CpuCosts {
        vcpu_per_krps: models.envoy.vcpu_per_krps,
        rate: models.envoy.cpu_rate,
        handshake_us: models.latency.envoy_mtls_handshake_us,
    };
    count_with(ctx, scoping, tally, "envoy", &models.envoy, cpu);
}

/// Sidecars of the proxy `component` whose costs are `costs` and `cpu` (Envoy, or
/// linkerd2-proxy for the `linkerd` product).
pub fn count_with(
    ctx: &Context,
    scoping: Scoping,
    tally: &mut Tally,
    component: &'static str,
    costs: &ProxyCosts,
    cpu: CpuCosts,
) {
    let group = tally.group("sidecar", component);
    let mut visibility = Visibility::new(ctx.cluster, scoping);
    let load = &ctx.load;
    let workers = costs.worker_threads as u64;
    for (s, service) in ctx.cluster.services.iter().enumerate() {
        let s32 = s as u32;
        let rps = ctx.in_rps(s32) + ctx.out_rps(s32);
        // Outbound: the app's connections to it, its connections to every callee replica.
        // Inbound: one from every caller pod's sidecar, and a pool per worker to its app.
        let pooled = load.app_connections_per_pod[s]
            + load.replica_connections_per_pod[s]
            + load.caller_pods[s] * load.k_of[s]
            + workers * load.k_of[s];
        let instance = ProxyInstance {
            config: visibility.config(&[s32]),
            connections: ctx.open(pooled as f64, 2.0 * rps),
            rps,
            handshakes: ctx.handshakes(ctx.proxied_rps(s32)),
            // Requests from outside enter through the callee's sidecar.
            outside_rps: load.external_rps_per_pod[s],
            identities: 1,
            workloads: 1,
            tenants: 1,
        };
        for pod in service.pods() {
            let node = ctx.cluster.pod_node[pod as usize];
            tally.add(group, node, 1, &instance, costs, cpu);
        }
    }
}

/// Connections open cluster-wide with reuse: app → sidecar, sidecar → every callee replica's
/// sidecar, sidecar → app (a pool per worker).
pub fn pooled_connections_total(ctx: &Context) -> u128 {
    let load = &ctx.load;
    let workers = ctx.models.envoy.worker_threads as u64;
    ServiceLoad::sum_over_pods(ctx.cluster, |s| {
        load.app_connections_per_pod[s]
            + load.replica_connections_per_pod[s]
            + workers * load.k_of[s]
    })
}
