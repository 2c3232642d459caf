//! The control plane a column's proxies need (`models/control-plane.toml`): istiod for every
//! Envoy- or ztunnel-based column and for Kmesh (which takes istiod's configuration), Linkerd's
//! own for `linkerd`; for `cilium`, Cilium's agent on every node and its operator (two
//! replicas; the `ebpf` building block's agent is not modelled). For istiod: its memory from
//! services, pods and connected proxies; its CPU per connected proxy at Istio's load-test
//! churn, plus what `[cluster] endpoint_changes_per_second` adds (`churn`); the bytes of a
//! full push (every proxy's clusters); and, after an istiod restart, how long its admission
//! rate takes to reconnect every proxy (at least; istio/istio 35263 saw 3 minutes for 5,000
//! proxies without it).

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
    /// Cilium's agents, one per node, and its operator.
    CiliumAgents,
    /// Not modelled (the `ebpf` building block's agent).
    NotModelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlPlane {
    pub kind: ControlPlaneKind,
    /// Proxies holding an xDS stream to it.
    pub proxies_connected: u64,
    /// Everything it takes, the operator's share included (`cilium`).
    pub memory_bytes: u64,
    /// `base_cpu_cores + churn.cpu_cores`.
    pub cpu_cores: f64,
    /// Its CPU without the churn of `[cluster] endpoint_changes_per_second` (the operator's
    /// included).
    pub base_cpu_cores: f64,
    /// What one full push sends all proxies (clusters only; endpoints are not counted).
    pub xds_bytes_per_full_push: u64,
    /// After a restart, the least time until every proxy has reconnected.
    pub reconnect_seconds: f64,
    /// What endpoint churn makes it send.
    pub churn: Churn,
    /// Cilium's operator, inside `memory_bytes` and `cpu_cores` (zero elsewhere).
    pub operator_replicas: u64,
    pub operator_memory_bytes: u64,
    pub operator_cpu_cores: f64,
}

/// Cilium's operator runs as a Deployment of two replicas, one leading (the Helm chart's
/// `operator.replicas: 2`, cilium/cilium install/kubernetes/cilium/values.yaml).
pub const CILIUM_OPERATOR_REPLICAS: u64 = 2;

/// The push load endpoint changes make (zero without churn).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Churn {
    /// `[cluster] endpoint_changes_per_second`.
    pub endpoint_changes_per_second: f64,
    /// Pushes after istiod's debouncing; for Linkerd's destination service and Cilium's
    /// agents, the changes themselves (sent as they come).
    pub pushes_per_second: f64,
    /// Endpoint changes one push carries.
    pub changes_per_push: f64,
    /// Proxies one push reaches (those holding a changed service's endpoints).
    pub proxies_per_push: f64,
    /// The endpoints' bytes one push sends the proxy holding the most endpoints, when it
    /// reaches it.
    pub bytes_per_push_per_proxy_max: u64,
    /// The endpoints' bytes sent to all proxies per second.
    pub bytes_per_second: f64,
    /// The control plane's CPU the pushes add (istiod only).
    pub cpu_cores: f64,
}

/// Pushes per second istiod makes of `changes_per_second` changes arriving at random (a
/// Poisson stream), debounced: a push follows `after_s` without a change, or `max_s` after the
/// first change it holds, whichever comes first. Without the cap a push follows each change
/// that no other follows within `after_s`: `λ·e^(−λ·after)`; with it, at least one per
/// `max_s` and the wait for the next change. The larger of the two (a slight under-count
/// where both matter).
pub fn debounced_pushes_per_second(changes_per_second: f64, after_s: f64, max_s: f64) -> f64 {
    let rate = changes_per_second;
    if rate <= 0.0 {
        return 0.0;
    }
    let quiet = rate * (-rate * after_s).exp();
    let capped = rate / (rate * max_s + 1.0);
    quiet.max(capped).min(rate)
}

/// The endpoints of the cluster as proxies count them (Σ ports × replicas), and the endpoints
/// of the service a change hits, averaged over changes (a change hits a pod at random, so a
/// service in proportion to its replicas): Σ replicas × ports × replicas / pods.
fn endpoint_totals(ctx: &Context) -> (f64, f64) {
    let services = &ctx.cluster.services;
    let all: f64 = services
        .iter()
        .map(|s| s.ports() as f64 * s.replicas as f64)
        .sum();
    let pods: f64 = services.iter().map(|s| s.replicas as f64).sum();
    let weighted: f64 = services
        .iter()
        .map(|s| s.replicas as f64 * s.ports() as f64 * s.replicas as f64)
        .sum();
    (all, if pods > 0.0 { weighted / pods } else { 0.0 })
}

/// The push load of `changes_per_second` endpoint changes grouped `changes_per_push` to a
/// push, on `groups`. A proxy holds a changed service with the chance its share of the
/// cluster's endpoints gives (ztunnel holds every workload); a push sends each proxy holding
/// one the changed services' endpoints (Envoy's EDS resends a changed cluster whole; ztunnel
/// and linkerd2-proxy receive only the changed address), never more than it holds.
fn push_load(
    ctx: &Context,
    groups: &[ProxyGroup],
    pushes_per_second: f64,
    changes_per_second: f64,
) -> Churn {
    if pushes_per_second <= 0.0 {
        return Churn::default();
    }
    let c = &ctx.models.control_plane;
    let (all, per_change) = endpoint_totals(ctx);
    let k = changes_per_second / pushes_per_second;
    let (mut proxies_per_push, mut endpoints_per_push, mut max_endpoints) = (0.0, 0.0, 0.0f64);
    for g in groups.iter().filter(|g| g.count > 0) {
        let whole_service = g.component == "envoy";
        let sent_per_change = if whole_service { per_change } else { 1.0 };
        let share = |held: f64| {
            if g.component == "ztunnel" || all <= 0.0 {
                1.0
            } else {
                (held / all).min(1.0)
            }
        };
        let n = g.count as f64;
        let average = g.endpoints_total as f64 / n;
        let q = share(average);
        proxies_per_push += n * (1.0 - (1.0 - q).powf(k));
        endpoints_per_push += n * (k * q * sent_per_change).min(average);
        // What a push that reaches it sends the largest: the changes it holds, given one.
        let largest = g.endpoints_max as f64;
        let q_largest = share(largest);
        let reached = 1.0 - (1.0 - q_largest).powf(k);
        if reached > 0.0 {
            let sent = (k * q_largest * sent_per_change / reached).min(largest);
            max_endpoints = max_endpoints.max(sent);
        }
    }
    let bytes_per_endpoint = c.eds_per_endpoint_bytes;
    Churn {
        endpoint_changes_per_second: changes_per_second,
        pushes_per_second,
        changes_per_push: k,
        proxies_per_push,
        bytes_per_push_per_proxy_max: whole_count(max_endpoints * bytes_per_endpoint)
            .unwrap_or(u64::MAX),
        bytes_per_second: pushes_per_second * endpoints_per_push * bytes_per_endpoint,
        cpu_cores: 0.0,
    }
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
    let changes = ctx.scenario.endpoint_changes_per_second;
    // The fields every kind leaves at zero unless it models them.
    let none = ControlPlane {
        kind,
        proxies_connected: proxies,
        memory_bytes: 0,
        cpu_cores: 0.0,
        base_cpu_cores: 0.0,
        xds_bytes_per_full_push: 0,
        reconnect_seconds: 0.0,
        churn: Churn::default(),
        operator_replicas: 0,
        operator_memory_bytes: 0,
        operator_cpu_cores: 0.0,
    };
    match kind {
        ControlPlaneKind::Istiod => {
            let cluster = ctx.cluster;
            let memory = cluster.services.len() as f64 * c.istiod_per_service_bytes
                + cluster.pods() as f64 * c.istiod_per_pod_bytes
                + proxies as f64 * c.istiod_per_proxy_bytes;
            let clusters: f64 = groups.iter().map(|g| g.clusters_total as f64).sum();
            let pushes = debounced_pushes_per_second(
                changes,
                c.istiod_debounce_after_us / 1e6,
                c.istiod_debounce_max_us / 1e6,
            );
            let mut churn = push_load(ctx, groups, pushes, changes);
            churn.cpu_cores = pushes * churn.proxies_per_push * c.istiod_push_per_proxy_us / 1e6;
            let base = proxies as f64 * c.istiod_per_proxy_vcpu;
            Ok(ControlPlane {
                kind,
                proxies_connected: proxies,
                memory_bytes: count(memory, "istiod's memory")?,
                cpu_cores: base + churn.cpu_cores,
                base_cpu_cores: base,
                xds_bytes_per_full_push: count(
                    clusters * c.xds_per_cluster_bytes,
                    "the bytes of a full xDS push",
                )?,
                reconnect_seconds: proxies as f64 / c.max_requests_per_second,
                churn,
                ..none
            })
        }
        // The destination service streams each change to the proxies resolving its service.
        ControlPlaneKind::Linkerd => Ok(ControlPlane {
            memory_bytes: count(c.linkerd_control_plane_bytes, "Linkerd's control plane")?,
            churn: push_load(ctx, groups, changes, changes),
            ..none
        }),
        ControlPlaneKind::CiliumAgents => {
            let cluster = ctx.cluster;
            let nodes = cluster.nodes() as f64;
            let objects = (cluster.pods() + cluster.services.len()) as f64;
            let per_agent = c.cilium_agent_base_bytes + objects * c.cilium_agent_per_object_bytes;
            // The leader holds the cluster's pods, services and nodes; the standby its base.
            let operator_memory = CILIUM_OPERATOR_REPLICAS as f64 * c.cilium_operator_base_bytes
                + (objects + nodes) * c.cilium_operator_per_object_bytes;
            let operator_memory = count(operator_memory, "Cilium's operator's memory")?;
            let agents_memory = nodes * per_agent;
            let memory = count(
                agents_memory + operator_memory as f64,
                "the Cilium agents' and operator's memory",
            )?;
            let cpu = nodes * c.cilium_agent_per_node_vcpu + c.cilium_operator_vcpu;
            // Every agent watches every change (no proxy is pushed endpoints: `bytes` 0), at a
            // CPU already inside the agents' figure, which was measured while pods started.
            let churn = Churn {
                endpoint_changes_per_second: changes,
                pushes_per_second: changes,
                changes_per_push: if changes > 0.0 { 1.0 } else { 0.0 },
                ..Churn::default()
            };
            Ok(ControlPlane {
                memory_bytes: memory,
                cpu_cores: cpu,
                base_cpu_cores: cpu,
                churn,
                operator_replicas: CILIUM_OPERATOR_REPLICAS,
                operator_memory_bytes: operator_memory,
                operator_cpu_cores: c.cilium_operator_vcpu,
                ..none
            })
        }
        ControlPlaneKind::NotModelled => Ok(none),
    }
}

#[cfg(test)]
mod tests {
    use super::debounced_pushes_per_second as pushes;

    #[test]
    fn debouncing_by_hand() {
        // No changes, no pushes.
        assert_eq!(pushes(0.0, 0.1, 10.0), 0.0);
        // One a second: a push after each change that no other follows within 100 ms.
        assert!((pushes(1.0, 0.1, 10.0) - (-0.1f64).exp()).abs() < 1e-15);
        // A hundred a second are never 100 ms apart: a push each 10 s and the wait for the
        // next change, 100 / (100 × 10 + 1).
        assert!((pushes(100.0, 0.1, 10.0) - 100.0 / 1001.0).abs() < 1e-15);
        // Never more pushes than changes.
        assert!(pushes(1e-6, 0.1, 10.0) <= 1e-6);
    }
}
