//! Kernel CPU of the `ebpf` architecture's programs: no proxy runs, but the policy and
//! load-balancing programs run on every leg a request and its response take, on the CPU of
//! the node that receives the request. Without this the architecture showed "0 cores".
//!
//! Per leg traversal the programs cost `[models.kernel] ebpf_program_us` (its source is in
//! models/kernel.toml: XDP policy and TC load-balancing programs of a few hundred
//! instructions). The latency simulation adds the same time to each leg's mean, so the two
//! count the programs alike: a call is one leg each way, so two traversals per request a pod
//! receives (from outside or from another service).
//!
//! The proxy architectures' eBPF options (interception, sockmap) are not counted here: their
//! programs' per-connection and per-message costs are within the measured legs
//! (`connect_redirect_us`, `sockmap_us`), which are latency, not a separate CPU parameter.

use super::context::Context;
use super::tally::Tally;
use crate::mesh::Architecture;

/// Adds the programs' cores to each node's CPU and returns the cluster's total.
pub fn count(ctx: &Context, architecture: Architecture, tally: &mut Tally) -> f64 {
    if architecture != Architecture::Ebpf {
        return 0.0;
    }
    let seconds_per_traversal = ctx.models.latency.ebpf_program_us / 1e6;
    let mut total = 0.0;
    for (node, pods) in ctx.pods_by_node.iter().enumerate() {
        let received: f64 = pods.iter().map(|&p| ctx.in_rps(ctx.service_of(p))).sum();
        let cores = 2.0 * received * seconds_per_traversal;
        tally.node_cpu[node] += cores;
        total += cores;
    }
    total
}
