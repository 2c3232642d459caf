//! What encrypting the traffic between pods costs in each column, and which columns do not
//! encrypt at all (a security difference, not only a cost):
//!
//! - mTLS between proxies (Istio's sidecars and ztunnels, Linkerd's sidecars): a handshake per
//!   new proxy-to-proxy connection (already in the proxies' CPU), AEAD on every payload byte at
//!   both ends, a TLS session per open encrypted connection (already in the proxies'
//!   `per_connection_bytes`, which were measured with TLS: shown as "of which").
//! - WireGuard or IPsec between nodes (Cilium): AEAD in the kernel on every byte that crosses
//!   nodes; no per-connection handshake (WireGuard rekeys each peer every 120 s).
//! - `per-node`, `per-service-account` and `ebpf` as building blocks, and Kmesh's L4 path:
//!   plain text.

use super::context::Context;
use super::Column;
use crate::mesh::Architecture;
use crate::product::{Encryption, Product};
use serde::Serialize;

/// WireGuard's REKEY_AFTER_TIME: each pair of peers makes a new handshake every 120 s
/// (WireGuard whitepaper, Donenfeld, NDSS 2017, section 6.1).
pub const WIREGUARD_REKEY_SECONDS: f64 = 120.0;

#[derive(Debug, Clone, Serialize)]
pub struct EncryptionCost {
    pub kind: Encryption,
    /// Whether traffic between pods on different nodes is encrypted at all.
    pub encrypted: bool,
    /// Who encrypts, in words ("Envoy sidecars", "the kernel").
    pub by: &'static str,
    /// New encrypted sessions per second (TLS handshakes; WireGuard's per-peer rekeys).
    pub handshakes_per_second: f64,
    /// Their CPU (for mTLS already counted in the proxies' `cpu_cores`).
    pub handshake_cpu_cores: f64,
    /// Payload bytes sealed per second cluster-wide (each is opened once too).
    pub bytes_per_second: f64,
    /// AEAD CPU for those bytes at both ends: not in the proxies' per-request CPU.
    pub crypto_cpu_cores: f64,
}

impl EncryptionCost {
    fn none() -> Self {
        EncryptionCost {
            kind: Encryption::None,
            encrypted: false,
            by: "nobody",
            handshakes_per_second: 0.0,
            handshake_cpu_cores: 0.0,
            bytes_per_second: 0.0,
            crypto_cpu_cores: 0.0,
        }
    }
}

pub fn cost(ctx: &Context, column: Column) -> EncryptionCost {
    let models = ctx.models;
    let cluster = ctx.cluster;
    let traffic = &ctx.scenario.traffic;
    // Calls pods make to other services per second, and those to services under L7 policy
    // (which go through a waypoint in ambient mode: a second encrypted hop).
    let (mut calls, mut l7_calls) = (0.0, 0.0);
    for (s, service) in cluster.services.iter().enumerate() {
        let into = ctx.in_rps(s as u32) * service.replicas as f64
            - ctx.load.external_rps_per_pod[s] * service.replicas as f64;
        calls += into.max(0.0);
        if service.l7_policy {
            l7_calls += into.max(0.0);
        }
    }
    // A request and its response each carry the payload.
    let bytes_per_call = 2.0 * traffic.payload_bytes as f64;
    let new_connections = |hops_per_second: f64| {
        if traffic.connection_reuse {
            0.0
        } else {
            hops_per_second
        }
    };
    let mtls = |hops: f64, handshake_us: f64, ns_per_byte: f64, by| {
        let bytes = hops * bytes_per_call;
        let handshakes = new_connections(hops);
        EncryptionCost {
            kind: Encryption::Mtls,
            encrypted: true,
            by,
            handshakes_per_second: handshakes,
            handshake_cpu_cores: handshakes * handshake_us / 1e6,
            bytes_per_second: bytes,
            crypto_cpu_cores: 2.0 * bytes * ns_per_byte / 1e9,
        }
    };
    let envoy_mtls = |by| {
        mtls(
            calls,
            models.latency.envoy_mtls_handshake_us,
            models.envoy_mtls_ns_per_byte,
            by,
        )
    };
    let ambient = || {
        // ztunnel → ztunnel, or ztunnel → waypoint → ztunnel under L7 policy.
        let mut cost = mtls(
            calls,
            models.latency.ztunnel_mtls_handshake_us,
            models.latency.ztunnel_mtls_ns_per_byte,
            "ztunnels and waypoints",
        );
        let extra = mtls(
            l7_calls,
            models.latency.envoy_mtls_handshake_us,
            models.envoy_mtls_ns_per_byte,
            "",
        );
        cost.handshakes_per_second += extra.handshakes_per_second;
        cost.handshake_cpu_cores += extra.handshake_cpu_cores;
        cost.bytes_per_second += extra.bytes_per_second;
        cost.crypto_cpu_cores += extra.crypto_cpu_cores;
        cost
    };
    let between_nodes = |kind: Encryption, ns_per_byte: f64, by| {
        let nodes = cluster.nodes() as f64;
        // Pods are spread over the nodes: a call stays on its node about once in `nodes`.
        let crossing = if nodes > 1.0 {
            (nodes - 1.0) / nodes
        } else {
            0.0
        };
        let bytes = calls * crossing * bytes_per_call;
        let handshakes = match kind {
            Encryption::Wireguard => nodes * (nodes - 1.0) / 2.0 / WIREGUARD_REKEY_SECONDS,
            _ => 0.0,
        };
        EncryptionCost {
            kind,
            encrypted: true,
            by,
            handshakes_per_second: handshakes,
            handshake_cpu_cores: 0.0,
            bytes_per_second: bytes,
            crypto_cpu_cores: 2.0 * bytes * ns_per_byte / 1e9,
        }
    };
    match column {
        Column::Architecture(Architecture::Sidecar) => envoy_mtls("Envoy sidecars"),
        Column::Architecture(Architecture::Uproxy) => ambient(),
        Column::Architecture(_) => EncryptionCost::none(),
        Column::Product(product) => match product {
            Product::IstioSidecar => envoy_mtls("Envoy sidecars"),
            Product::IstioAmbient => ambient(),
            Product::Linkerd => mtls(
                calls,
                models.linkerd_mtls_handshake_us,
                models.linkerd_mtls_ns_per_byte,
                "linkerd2-proxy sidecars",
            ),
            Product::Cilium | Product::Kmesh => {
                match product.encryption(ctx.scenario.mesh.cilium_encryption) {
                    Encryption::Wireguard => between_nodes(
                        Encryption::Wireguard,
                        models.kernel.wireguard_ns_per_byte,
                        "the kernel",
                    ),
                    Encryption::Ipsec => between_nodes(
                        Encryption::Ipsec,
                        models.kernel.ipsec_ns_per_byte,
                        "the kernel",
                    ),
                    _ => EncryptionCost::none(),
                }
            }
        },
    }
}
