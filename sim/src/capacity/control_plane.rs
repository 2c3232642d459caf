//! The control plane a column's proxies need (`models/control-plane.toml`): istiod for every
//! Envoy- or ztunnel-based column and for Kmesh (which takes istiod's configuration), Linkerd's
//! own for `linkerd`; Cilium's agent on every node for `cilium` (its operator, and the `ebpf`
//! building block's agent, are not modelled). For istiod: its memory from services, pods and connected proxies; its CPU per
//! connected proxy at Istio's load-test churn; the bytes of a full push (every proxy's
//! clusters); and, after an istiod restart, how long its admission rate takes to reconnect
//! every proxy (at least; istio/istio 35263 saw 3 minutes for 5,000 proxies without it).

use super::context::Context;
use super::tally::{whole_count, ProxyGroup};
use super::Column;
use crate::mesh::Architecture;
use crate::product::Product;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlPlaneKind {
    Istiod,
    Linkerd,
    /// Cilium's agents, one per node (the operator is not modelled).
    CiliumAgents,
    /// Not modelled (the `ebpf` building block's agent).
    NotModelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlPlane {
    pub kind: ControlPlaneKind,
    /// Proxies holding an xDS stream to it.
    pub proxies_connected: u64,
    pub memory_bytes: u64,
    pub cpu_cores: f64,
    /// What one full push sends all proxies (clusters only; endpoints are not counted).
    pub xds_bytes_per_full_push: u64,
    /// After a restart, the least time until every proxy has reconnected.
    pub reconnect_seconds: f64,
}

/// The column's control plane; past what a 64-bit count holds, which figure and why.
pub fn control_plane(
    ctx: &Context,
    column: Column,
    groups: &[ProxyGroup],
) -> Result<ControlPlane, String> {
    let count = |value: f64, what: &str| {
        whole_count(value).ok_or_else(|| {
            format!("{what} ({value:e} bytes) passes what a 64-bit count holds ([models.control-plane])")
        })
    };
    let c = &ctx.models.control_plane;
    let proxies: u64 = groups.iter().map(|g| g.count).sum();
    let kind = match column {
        Column::Architecture(Architecture::Ebpf) => ControlPlaneKind::NotModelled,
        Column::Product(Product::Cilium) => ControlPlaneKind::CiliumAgents,
        Column::Product(Product::Linkerd) => ControlPlaneKind::Linkerd,
        _ => ControlPlaneKind::Istiod,
    };
    match kind {
        ControlPlaneKind::Istiod => {
            let cluster = ctx.cluster;
            let memory = cluster.services.len() as f64 * c.istiod_per_service_bytes
                + cluster.pods() as f64 * c.istiod_per_pod_bytes
                + proxies as f64 * c.istiod_per_proxy_bytes;
            let clusters: f64 = groups.iter().map(|g| g.clusters_total as f64).sum();
            Ok(ControlPlane {
                kind,
                proxies_connected: proxies,
                memory_bytes: count(memory, "istiod's memory")?,
                cpu_cores: proxies as f64 * c.istiod_per_proxy_vcpu,
                xds_bytes_per_full_push: count(
                    clusters * c.xds_per_cluster_bytes,
                    "the bytes of a full xDS push",
                )?,
                reconnect_seconds: proxies as f64 / c.max_requests_per_second,
            })
        }
        ControlPlaneKind::Linkerd => Ok(ControlPlane {
            kind,
            proxies_connected: proxies,
            memory_bytes: count(c.linkerd_control_plane_bytes, "Linkerd's control plane")?,
            cpu_cores: 0.0,
            xds_bytes_per_full_push: 0,
            reconnect_seconds: 0.0,
        }),
        ControlPlaneKind::CiliumAgents => {
            let cluster = ctx.cluster;
            let nodes = cluster.nodes() as f64;
            let objects = (cluster.pods() + cluster.services.len()) as f64;
            let per_agent = c.cilium_agent_base_bytes + objects * c.cilium_agent_per_object_bytes;
            Ok(ControlPlane {
                kind,
                proxies_connected: proxies,
                memory_bytes: count(nodes * per_agent, "the Cilium agents' memory")?,
                cpu_cores: nodes * c.cilium_agent_per_node_vcpu,
                xds_bytes_per_full_push: 0,
                reconnect_seconds: 0.0,
            })
        }
        ControlPlaneKind::NotModelled => Ok(ControlPlane {
            kind,
            proxies_connected: proxies,
            memory_bytes: 0,
            cpu_cores: 0.0,
            xds_bytes_per_full_push: 0,
            reconnect_seconds: 0.0,
        }),
    }
}
