//! The capacity model: for each architecture and product (and scoping), how many proxies run,
//! what they take in memory and CPU, how many connections a request path and the cluster need,
//! the blast radius of one proxy, who encrypts (`encryption`), the control plane
//! (`control_plane`) and what the nodes must reserve and cost (`bill`); each figure also at
//! the low and high ends of the parameters' ranges. Formulas are in docs/architecture.md;
//! every parameter comes from `models/`.

pub mod bill;
mod context;
pub mod control_plane;
mod datapath;
mod ebpf_cpu;
pub mod encryption;
pub mod load;
pub mod product;
mod shared_proxy;
mod sidecar;
mod tally;
pub mod uproxy;
mod visibility;

use crate::cluster::cores::Cores;
use crate::config::Scenario;
use crate::mesh::{Architecture, Scoping};
use crate::product::Product;
use crate::request_path::{self, PathKind, PathShape};
use bill::Bill;
use context::Context;
use encryption::EncryptionCost;
use serde::Serialize;
use shared_proxy::Sharing;
use tally::Tally;
use tally::{whole_count, COUNT_LIMIT};
pub use tally::{BlastRadius, ProxyGroup};

#[derive(Debug, Clone, Serialize)]
pub struct Paths {
    pub cross_node: PathShape,
    pub same_node: PathShape,
    pub cross_node_l7: PathShape,
}

/// One architecture's figures; the JSON schema is documented in docs/output.md.
#[derive(Debug, Clone, Serialize)]
pub struct ArchitectureCapacity {
    pub name: &'static str,
    /// For a product's column: the product, and the building blocks it is made of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_from: Option<&'static str>,
    pub scoping: Scoping,
    pub proxies: u64,
    pub memory_bytes_total: u64,
    pub memory_bytes_per_node_max: u64,
    pub memory_bytes_per_proxy_max: u64,
    pub proxy_memory_bytes_total: u64,
    pub datapath_memory_bytes_total: u64,
    pub connections_per_request: u32,
    pub socket_buffer_bytes_per_request: u64,
    pub connections_open_total: u64,
    pub new_connections_per_second: f64,
    /// Kernel memory of the open connections' sockets at rest (two per connection).
    pub socket_memory_bytes_total: u64,
    /// CPU at the configured load: the proxies' and the `ebpf` architecture's kernel programs'.
    pub cpu_cores: f64,
    pub cpu_cores_per_node_max: f64,
    /// The proxies' share of `cpu_cores`.
    pub proxy_cpu_cores: f64,
    /// The `ebpf` architecture's programs' share of `cpu_cores` (kernel CPU; 0 elsewhere).
    pub ebpf_program_cpu_cores: f64,
    /// Where the nodes' cores are given: the proxies' CPU on the busiest host, against that
    /// host's cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busiest_host: Option<HostCpu>,
    pub blast_radius: BlastRadius,
    pub paths: Paths,
    pub proxy_groups: Vec<ProxyGroup>,
    pub encryption: EncryptionCost,
    pub control_plane: control_plane::ControlPlane,
    pub bill: Bill,
    /// The same figures with every model parameter at the low, then the high end of its
    /// sources' range (`models/*.toml` `low`, `high`); absent when that evaluation overflows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<CapacityRange>,
}

/// A figure's low and high bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds<T> {
    pub low: T,
    pub high: T,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityRange {
    pub memory_bytes_total: Bounds<u64>,
    pub memory_bytes_per_proxy_max: Bounds<u64>,
    pub cpu_cores: Bounds<f64>,
    pub control_plane_memory_bytes: Bounds<u64>,
    /// The endpoints' bytes endpoint churn pushes per second (`control_plane.churn`).
    pub churn_bytes_per_second: Bounds<f64>,
    pub bill_memory_bytes_reserved: Bounds<u64>,
    pub bill_cpu_cores_reserved: Bounds<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_cost_per_month: Option<Bounds<f64>>,
}

impl CapacityRange {
    /// The bounds of three evaluations: at the low ends, the values and the high ends (each
    /// figure grows with every parameter, but the bounds are taken as the extremes anyway).
    fn of(evaluations: [&ArchitectureCapacity; 3]) -> Self {
        fn bounds<T: Copy + PartialOrd>(values: [T; 3]) -> Bounds<T> {
            let mut b = Bounds {
                low: values[0],
                high: values[0],
            };
            for v in values {
                if v < b.low {
                    b.low = v;
                }
                if v > b.high {
                    b.high = v;
                }
            }
            b
        }
        let [a, b, c] = evaluations;
        CapacityRange {
            memory_bytes_total: bounds([a, b, c].map(|x| x.memory_bytes_total)),
            memory_bytes_per_proxy_max: bounds([a, b, c].map(|x| x.memory_bytes_per_proxy_max)),
            cpu_cores: bounds([a, b, c].map(|x| x.cpu_cores)),
            control_plane_memory_bytes: bounds([a, b, c].map(|x| x.control_plane.memory_bytes)),
            churn_bytes_per_second: bounds(
                [a, b, c].map(|x| x.control_plane.churn.bytes_per_second),
            ),
            bill_memory_bytes_reserved: bounds([a, b, c].map(|x| x.bill.memory_bytes_reserved)),
            bill_cpu_cores_reserved: bounds([a, b, c].map(|x| x.bill.cpu_cores_reserved)),
            bill_cost_per_month: match (
                a.bill.cost_per_month,
                b.bill.cost_per_month,
                c.bill.cost_per_month,
            ) {
                (Some(x), Some(y), Some(z)) => Some(bounds([x, y, z])),
                _ => None,
            },
        }
    }
}

/// One column of the report: a building block or a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Architecture(Architecture),
    Product(Product),
}

/// The proxies' CPU on one host and the cores it has.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HostCpu {
    pub cpu_cores: f64,
    pub cores: u32,
}

/// The host whose cores the proxies fill most (as a share of its cores).
fn busiest_host(cores: &Cores, node_cpu: &[f64]) -> HostCpu {
    let mut host_cpu = vec![0.0; cores.hosts()];
    for (node, cpu) in node_cpu.iter().enumerate() {
        host_cpu[cores.node_host[node] as usize] += cpu;
    }
    host_cpu
        .iter()
        .zip(&cores.host_cores)
        .map(|(&cpu_cores, &cores)| HostCpu { cpu_cores, cores })
        .fold(
            HostCpu {
                cpu_cores: 0.0,
                cores: 1,
            },
            |best, h| {
                if h.cpu_cores / h.cores as f64 > best.cpu_cores / best.cores as f64 {
                    h
                } else {
                    best
                }
            },
        )
}

/// A figure of the model that does not fit a 64-bit count or is not finite: what it is, and
/// the inputs that made it so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{architecture}: {message}: the figures would be meaningless; lower the parameters or the counts named")]
pub struct Overflow {
    pub architecture: &'static str,
    pub message: String,
}

/// Every column: the architectures, then the products, each under every scoping (Linkerd's
/// proxies hold only what they call whatever the scoping: one column).
pub fn columns(scenario: &Scenario) -> Vec<(Column, Scoping)> {
    let mut out = Vec::new();
    for &architecture in &scenario.mesh.architectures {
        for &scoping in &scenario.mesh.scopings {
            out.push((Column::Architecture(architecture), scoping));
        }
    }
    for &p in &scenario.mesh.products {
        let mut seen = Vec::new();
        for &scoping in &scenario.mesh.scopings {
            let effective = product::effective_scoping(p, scoping);
            if !seen.contains(&effective) {
                seen.push(effective);
                out.push((Column::Product(p), effective));
            }
        }
    }
    out
}

pub fn evaluate(scenario: &Scenario) -> Result<Vec<ArchitectureCapacity>, Overflow> {
    let ctx = Context::new(scenario, &scenario.models);
    // The ends of the ranges are counted only where some parameter has one (a profile or
    // override that sets every ranged parameter leaves none): two more counts of the cluster.
    let ranged = scenario.models_low != scenario.models || scenario.models_high != scenario.models;
    let low = ctx.with_models(&scenario.models_low);
    let high = ctx.with_models(&scenario.models_high);
    let mut out = Vec::new();
    for (column, scoping) in columns(scenario) {
        let mut capacity = evaluate_one(&ctx, column, scoping)?;
        if ranged {
            if let (Ok(l), Ok(h)) = (
                evaluate_one(&low, column, scoping),
                evaluate_one(&high, column, scoping),
            ) {
                capacity.range = Some(CapacityRange::of([&l, &capacity, &h]));
            }
        }
        out.push(capacity);
    }
    Ok(out)
}

fn evaluate_one(
    ctx: &Context,
    column: Column,
    scoping: Scoping,
) -> Result<ArchitectureCapacity, Overflow> {
    let mut tally = Tally::new(
        ctx.cluster.nodes(),
        ctx.models.resources,
        ctx.models.kernel.outside_wakeup,
    );
    let (name, architecture) = match column {
        Column::Architecture(a) => (a.name(), a),
        Column::Product(p) => (p.name(), p.building_block()),
    };
    match column {
        Column::Architecture(_) => count(ctx, architecture, scoping, &mut tally),
        Column::Product(p) => product::count(ctx, p, scoping, &mut tally),
    }
    datapath::count(ctx, architecture, &mut tally);
    tally.finish();
    let ebpf_program_cpu_cores = ebpf_cpu::count(ctx, architecture, &mut tally);
    let overflow = |message: String| Overflow {
        architecture: name,
        message,
    };
    if let Some(message) = tally.overflow.take() {
        return Err(overflow(message));
    }
    summarize(
        ctx,
        column,
        name,
        architecture,
        scoping,
        tally,
        ebpf_program_cpu_cores,
    )
}

/// Counts a building block's proxies.
fn count(ctx: &Context, architecture: Architecture, scoping: Scoping, tally: &mut Tally) {
    match architecture {
        Architecture::Sidecar => sidecar::count(ctx, scoping, tally),
        Architecture::PerNode => shared_proxy::count(ctx, scoping, Sharing::PerNode, tally),
        Architecture::PerServiceAccount => {
            shared_proxy::count(ctx, scoping, Sharing::PerServiceAccount, tally)
        }
        Architecture::Uproxy => uproxy::count(ctx, tally),
        Architecture::Ebpf => {}
    }
}

/// A column's figures from its counted proxies; `architecture` gives its request paths.
fn summarize(
    ctx: &Context,
    column: Column,
    name: &'static str,
    architecture: Architecture,
    scoping: Scoping,
    tally: Tally,
    ebpf_program_cpu_cores: f64,
) -> Result<ArchitectureCapacity, Overflow> {
    let scenario = ctx.scenario;
    let overflow = |message: String| Overflow {
        architecture: name,
        message,
    };
    let paths = paths(scenario, architecture);
    let kernel = &ctx.models.kernel;
    let (connections_open_total, new_connections_per_second) =
        cluster_connections(ctx, architecture, &paths);
    let proxy_memory = tally
        .groups
        .iter()
        .try_fold(0u64, |sum, g| sum.checked_add(g.memory_bytes_total))
        .ok_or_else(|| overflow(format!("the proxies' memory passes {COUNT_LIMIT}")))?;
    let memory_bytes_total = proxy_memory
        .checked_add(tally.datapath_memory_bytes)
        .ok_or_else(|| {
            overflow(format!(
                "the proxies' memory ({proxy_memory} bytes) and the eBPF maps' ({} bytes) pass {COUNT_LIMIT}",
                tally.datapath_memory_bytes
            ))
        })?;
    // Each TCP connection has a socket at both ends.
    let socket_buffers = 2.0 * paths.cross_node.connections as f64 * kernel.socket_buffer_bytes;
    let socket_buffer_bytes_per_request = whole_count(socket_buffers).ok_or_else(|| {
        overflow(format!(
            "the socket buffers of a request ({} connections × 2 × [models.kernel] socket_buffer_bytes {}) pass {COUNT_LIMIT}",
            paths.cross_node.connections, kernel.socket_buffer_bytes
        ))
    })?;
    let connections_open = whole_count(connections_open_total).ok_or_else(|| {
        overflow(format!(
            "the open connections ({connections_open_total:e}) pass what a 64-bit count holds"
        ))
    })?;
    let socket_memory = 2.0 * connections_open_total * kernel.socket_bytes;
    let socket_memory_bytes_total = whole_count(socket_memory).ok_or_else(|| {
        overflow(format!(
            "the sockets' memory ({connections_open_total:e} connections × 2 × [models.kernel] socket_bytes {}) passes {COUNT_LIMIT}",
            kernel.socket_bytes
        ))
    })?;
    let proxy_cpu_cores = tally
        .groups
        .iter()
        .map(|g| g.cpu_cores)
        .fold(0.0, |a, b| a + b);
    let cpu_cores = proxy_cpu_cores + ebpf_program_cpu_cores;
    let cpu_cores_per_node_max = tally.node_cpu.iter().copied().fold(0.0, f64::max);
    if !(cpu_cores.is_finite() && new_connections_per_second.is_finite()) {
        return Err(overflow(format!(
            "the CPU ({cpu_cores} cores) or the new connections per second ({new_connections_per_second}) are not finite numbers: the rates times the models' vcpu_per_krps pass what a 64-bit number holds"
        )));
    }
    let encryption = encryption::cost(ctx, column);
    let control_plane =
        control_plane::control_plane(ctx, column, &tally.groups).map_err(overflow)?;
    let bill = bill::bill(
        &tally.groups,
        tally.datapath_memory_bytes,
        &encryption,
        &control_plane,
        &ctx.models.resources.istiod,
        &scenario.bill,
    )
    .map_err(overflow)?;
    let product = match column {
        Column::Product(p) => Some(p),
        Column::Architecture(_) => None,
    };
    Ok(ArchitectureCapacity {
        name,
        product,
        built_from: product.map(Product::built_from),
        scoping,
        proxies: tally.groups.iter().map(|g| g.count).sum(),
        memory_bytes_total,
        memory_bytes_per_node_max: tally.node_memory.iter().copied().max().unwrap_or(0),
        memory_bytes_per_proxy_max: tally
            .groups
            .iter()
            .map(|g| g.memory_bytes_max)
            .max()
            .unwrap_or(0),
        proxy_memory_bytes_total: proxy_memory,
        datapath_memory_bytes_total: tally.datapath_memory_bytes,
        connections_per_request: paths.cross_node.connections,
        socket_buffer_bytes_per_request,
        connections_open_total: connections_open,
        new_connections_per_second,
        socket_memory_bytes_total,
        cpu_cores,
        cpu_cores_per_node_max,
        proxy_cpu_cores,
        ebpf_program_cpu_cores,
        busiest_host: ctx
            .cluster
            .cores
            .as_ref()
            .map(|cores| busiest_host(cores, &tally.node_cpu)),
        blast_radius: tally.blast,
        paths,
        proxy_groups: tally.groups,
        encryption,
        control_plane,
        bill,
        range: None,
    })
}

fn paths(scenario: &Scenario, architecture: Architecture) -> Paths {
    let shape = |kind| {
        request_path::shape(
            &request_path::legs(architecture, kind),
            scenario.mesh.interception,
            scenario.mesh.local_acceleration,
        )
    };
    Paths {
        cross_node: shape(PathKind::CrossNode),
        same_node: shape(PathKind::SameNode),
        cross_node_l7: shape(PathKind::CrossNodeL7),
    }
}

/// Open connections cluster-wide, and new connections per second (zero with reuse, in the
/// steady state). Without reuse every request opens each connection of its path.
fn cluster_connections(ctx: &Context, architecture: Architecture, paths: &Paths) -> (f64, f64) {
    let traffic = &ctx.scenario.traffic;
    if traffic.connection_reuse {
        let pooled = match architecture {
            Architecture::Sidecar => sidecar::pooled_connections_total(ctx),
            Architecture::PerNode | Architecture::PerServiceAccount => {
                shared_proxy::pooled_connections_total(ctx)
            }
            Architecture::Uproxy => uproxy::pooled_connections_total(ctx),
            Architecture::Ebpf => load::ServiceLoad::sum_over_pods(ctx.cluster, |s| {
                ctx.load.app_connections_per_pod[s]
            }),
        };
        return (pooled as f64, 0.0);
    }
    let opened: f64 = ctx
        .cluster
        .services
        .iter()
        .map(|s| {
            let path = if s.l7_policy {
                &paths.cross_node_l7
            } else {
                &paths.cross_node
            };
            s.rps_per_pod * s.replicas as f64 * path.connections as f64
        })
        .sum();
    (opened * traffic.connection_lifetime_ms / 1000.0, opened)
}
