//! The products' proxies (`crate::product`), counted from the building blocks' pieces:
//! Istio's sidecars and ambient mode as `sidecar` and `uproxy` are; Linkerd's sidecars with
//! linkerd2-proxy's costs and call-graph scoping (it resolves destinations lazily, so it holds
//! only what its pod calls); Cilium's per-node Envoy only where L7 policy sends traffic to it;
//! Kmesh's waypoints without micro proxies. The kernel side (eBPF maps) is counted by
//! `datapath` for the product's building block.

use super::context::Context;
use super::tally::{CpuCosts, Tally};
use super::{shared_proxy, sidecar, uproxy};
use crate::mesh::Scoping;
use crate::product::Product;

/// The scoping a product's proxies get under `[mesh] scoping`: Linkerd's, whatever it says,
/// holds only what its pod calls.
pub fn effective_scoping(product: Product, scoping: Scoping) -> Scoping {
    match product {
        Product::Linkerd => Scoping::CallGraph,
        _ => scoping,
    }
}

pub fn count(ctx: &Context, product: Product, scoping: Scoping, tally: &mut Tally) {
    let models = ctx.models;
    match product {
        Product::IstioSidecar => sidecar::count(ctx, scoping, tally),
        Product::Linkerd => sidecar::count_with(
            ctx,
            effective_scoping(product, scoping),
            tally,
            "linkerd2-proxy",
            &models.linkerd,
            CpuCosts {
                vcpu_per_krps: models.linkerd.vcpu_per_krps,
                rate: models.linkerd.cpu_rate,
                handshake_us: models.linkerd_mtls_handshake_us,
            },
        ),
        Product::IstioAmbient => uproxy::count(ctx, tally),
        Product::Cilium => shared_proxy::count_l7_node_proxies(ctx, scoping, tally),
        Product::Kmesh => uproxy::count_waypoints(ctx, tally),
    }
}
