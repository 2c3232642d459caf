//! Kernel-side memory: the eBPF maps of the `ebpf` architecture on every node, and those the
//! eBPF interception and sockmap options add to the proxy architectures.

use super::context::Context;
use super::tally::Tally;
use crate::mesh::{Architecture, Interception, LocalAcceleration};

pub fn count(ctx: &Context, architecture: Architecture, tally: &mut Tally) {
    let mesh = &ctx.scenario.mesh;
    let ebpf = &ctx.models.ebpf;
    let services = &ctx.cluster.services;
    let backends: u64 = services
        .iter()
        .map(|s| s.ports() as u64 * s.replicas as u64)
        .sum();
    let service_ports: u64 = services.iter().map(|s| s.ports() as u64).sum();
    let interception =
        architecture != Architecture::Ebpf && mesh.interception == Interception::Ebpf;
    let sockmap = mesh.local_acceleration == LocalAcceleration::Sockmap;
    if architecture != Architecture::Ebpf && !interception && !sockmap {
        return;
    }
    for (node, pods) in ctx.pods_by_node.iter().enumerate() {
        let mut bytes = ebpf.base_bytes;
        // Connections the node's applications open: conntrack entries in the `ebpf`
        // architecture, original-destination entries under eBPF interception.
        let app_connections: f64 = pods
            .iter()
            .map(|&p| {
                let s = ctx.service_of(p);
                ctx.open(
                    ctx.load.app_connections_per_pod[s as usize] as f64,
                    ctx.out_rps(s),
                )
            })
            .sum();
        if architecture == Architecture::Ebpf {
            bytes += backends as f64 * ebpf.per_endpoint_bytes;
            bytes += app_connections * ebpf.per_connection_bytes;
        } else if interception {
            bytes += service_ports as f64 * ebpf.per_endpoint_bytes;
            bytes += app_connections * ebpf.per_connection_bytes;
        }
        if sockmap {
            let local: f64 = pods
                .iter()
                .map(|&p| local_leg_connections(ctx, architecture, p))
                .sum();
            bytes += 2.0 * local * ebpf.per_socket_bytes;
        }
        match super::tally::whole_count(bytes) {
            Some(bytes) => tally.add_datapath(node as u32, bytes),
            None => tally.overflowed(format!(
                "the eBPF maps of node {node} ([models.ebpf] base_bytes {} + per_endpoint_bytes {} × {} + per_connection_bytes {} × {app_connections:e} + per_socket_bytes {} × sockets) pass {}",
                ebpf.base_bytes,
                ebpf.per_endpoint_bytes,
                if architecture == Architecture::Ebpf { backends } else { service_ports },
                ebpf.per_connection_bytes,
                ebpf.per_socket_bytes,
                super::tally::COUNT_LIMIT
            )),
        }
    }
}

/// Connections of a pod's traffic that stay on its node (the legs sockmap can carry).
fn local_leg_connections(ctx: &Context, architecture: Architecture, pod: u32) -> f64 {
    let s = ctx.service_of(pod);
    let load = &ctx.load;
    let app = load.app_connections_per_pod[s as usize];
    let workers = ctx.models.envoy.worker_threads as u64;
    match architecture {
        Architecture::Sidecar => ctx.open(
            (app + workers * load.k_of[s as usize]) as f64,
            ctx.out_rps(s) + ctx.in_rps(s),
        ),
        Architecture::PerNode | Architecture::PerServiceAccount => {
            ctx.open(app as f64, ctx.out_rps(s))
        }
        Architecture::Uproxy => ctx.open(
            (app + load.landing_connections(ctx.cluster, pod)) as f64,
            ctx.out_rps(s) + ctx.in_rps(s),
        ),
        // Only same-node pairs are local; the capacity model does not count them apart.
        Architecture::Ebpf => 0.0,
    }
}
