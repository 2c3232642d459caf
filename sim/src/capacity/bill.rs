//! The bill: what the mesh reserves on the nodes and what that costs. Each proxy takes
//! max(its request, its modelled use) of CPU and memory (Kubernetes schedules by requests;
//! a proxy past its request still takes what it uses); kernel-side costs (eBPF maps, kernel
//! encryption) and the AEAD CPU of mTLS are added as use. Divided by a node's allocatable
//! cores or memory, whichever fills first (the control plane is reserved the same way:
//! max(istiod's request, where the column has istiod, and its modelled use, churn and Cilium's
//! operator included)), that is the nodes' worth of capacity the mesh takes; times the node's
//! price, its money per month.

use super::control_plane::{ControlPlane, ControlPlaneKind};
use super::encryption::EncryptionCost;
use super::tally::ProxyGroup;
use crate::cost_model::ProxyResources;
use serde::Serialize;

/// Hours in a month as cloud price lists count them (8,760 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// `[bill]`, resolved: a node's allocatable shape and price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeShape {
    pub cores: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub price_per_hour: Option<f64>,
    pub currency: String,
}

impl NodeShape {
    pub const DEFAULT_CURRENCY: &'static str = "USD";
}

#[derive(Debug, Clone, Serialize)]
pub struct Bill {
    /// Σ requests over every proxy.
    pub cpu_cores_requested: f64,
    pub memory_bytes_requested: u64,
    /// Σ max(request, use), plus kernel-side use: the node capacity the mesh takes.
    pub cpu_cores_reserved: f64,
    pub memory_bytes_reserved: u64,
    /// That capacity in nodes of `[bill]`'s shape (the scarcer of cores and memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_month: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Roles of the proxies whose largest one's memory passes its limit (an OOM kill).
    pub over_memory_limit: Vec<&'static str>,
}

pub fn bill(
    groups: &[ProxyGroup],
    datapath_memory_bytes: u64,
    encryption: &EncryptionCost,
    control_plane: &ControlPlane,
    istiod: &ProxyResources,
    shape: &NodeShape,
) -> Result<Bill, String> {
    let istiod = match control_plane.kind {
        ControlPlaneKind::Istiod => *istiod,
        _ => ProxyResources::default(),
    };
    let cpu_requested = groups
        .iter()
        .map(|g| g.requests.cpu_request_vcpu * g.count as f64)
        .sum::<f64>()
        + istiod.cpu_request_vcpu;
    let memory_requested: f64 = groups
        .iter()
        .map(|g| g.requests.memory_request_bytes * g.count as f64)
        .sum::<f64>()
        + istiod.memory_request_bytes;
    let cpu_reserved = groups.iter().map(|g| g.cpu_cores_reserved).sum::<f64>()
        + encryption.crypto_cpu_cores
        + control_plane.cpu_cores.max(istiod.cpu_request_vcpu);
    let too_large = |what: &str| format!("{what} passes what a 64-bit count holds");
    let control_plane_memory = super::tally::whole_count(
        (control_plane.memory_bytes as f64).max(istiod.memory_request_bytes),
    )
    .ok_or_else(|| too_large("the control plane's reserved memory"))?;
    let memory_reserved = groups
        .iter()
        .try_fold(datapath_memory_bytes, |sum, g| {
            sum.checked_add(g.memory_bytes_reserved)
        })
        .and_then(|sum| sum.checked_add(control_plane_memory))
        .ok_or_else(|| too_large("the memory the mesh reserves ([models.resources])"))?;
    let nodes = match (shape.cores, shape.memory_bytes) {
        (Some(cores), Some(memory)) => {
            Some((cpu_reserved / cores).max(memory_reserved as f64 / memory))
        }
        (Some(cores), None) => Some(cpu_reserved / cores),
        (None, Some(memory)) => Some(memory_reserved as f64 / memory),
        (None, None) => None,
    };
    let cost_per_month = nodes
        .zip(shape.price_per_hour)
        .map(|(n, price)| n * price * HOURS_PER_MONTH);
    Ok(Bill {
        cpu_cores_requested: cpu_requested,
        memory_bytes_requested: super::tally::whole_count(memory_requested)
            .ok_or_else(|| too_large("the memory the proxies request ([models.resources])"))?,
        cpu_cores_reserved: cpu_reserved,
        memory_bytes_reserved: memory_reserved,
        nodes,
        cost_per_month,
        currency: cost_per_month.map(|_| shape.currency.clone()),
        over_memory_limit: groups
            .iter()
            .filter(|g| g.over_memory_limit)
            .map(|g| g.role)
            .collect(),
    })
}
