//! The service meshes people run, each a documented combination of the building-block
//! architectures (`mesh::Architecture`) with its own proxy models and encryption. `[mesh]
//! products` names them; the capacity model counts each as its own column
//! (`capacity::product`), docs/architecture.md ("Products") gives the mapping and sources.
//!
//! | product | building blocks | encryption |
//! |---|---|---|
//! | `istio-sidecar` | `sidecar`: Envoy in every pod | mTLS between sidecars |
//! | `istio-ambient` | `uproxy`: ztunnel per node, waypoints where L7 policy asks | mTLS (HBONE) between ztunnels |
//! | `cilium` | `ebpf` + a per-node Envoy only for traffic under L7 policy | WireGuard (or IPsec) between nodes |
//! | `linkerd` | `sidecar` with linkerd2-proxy | mTLS between sidecars |
//! | `kmesh` | `ebpf` L4 + waypoints for L7 | none by default |

use crate::mesh::Architecture;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Product {
    IstioSidecar,
    IstioAmbient,
    Cilium,
    Linkerd,
    Kmesh,
}

/// How a product encrypts traffic between pods, as it is installed by default (Cilium's
/// choice of WireGuard or IPsec is `[mesh] cilium_encryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// Mutual TLS between proxies: a handshake per new proxy-to-proxy connection, AEAD per byte.
    Mtls,
    /// WireGuard tunnels between nodes, in the kernel: no handshake per connection.
    Wireguard,
    /// IPsec (ESP) between nodes, in the kernel.
    Ipsec,
    /// Plain text between pods.
    None,
}

impl Encryption {
    pub fn name(self) -> &'static str {
        match self {
            Encryption::Mtls => "mTLS",
            Encryption::Wireguard => "WireGuard",
            Encryption::Ipsec => "IPsec",
            Encryption::None => "none",
        }
    }
}

/// Which encryption a Cilium column models: WireGuard (the default here) or IPsec.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CiliumEncryption {
    #[default]
    Wireguard,
    Ipsec,
    /// Cilium without transparent encryption (its default install): plain text.
    None,
}

impl Product {
    pub const ALL: [Product; 5] = [
        Product::IstioSidecar,
        Product::IstioAmbient,
        Product::Cilium,
        Product::Linkerd,
        Product::Kmesh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Product::IstioSidecar => "istio-sidecar",
            Product::IstioAmbient => "istio-ambient",
            Product::Cilium => "cilium",
            Product::Linkerd => "linkerd",
            Product::Kmesh => "kmesh",
        }
    }

    /// The building block whose request paths (connections, hops) the product's column
    /// takes; for `cilium` and `kmesh` that of `ebpf`, whose L4 paths they share.
    pub fn building_block(self) -> Architecture {
        match self {
            Product::IstioSidecar | Product::Linkerd => Architecture::Sidecar,
            Product::IstioAmbient => Architecture::Uproxy,
            Product::Cilium | Product::Kmesh => Architecture::Ebpf,
        }
    }

    /// The building block whose latency simulation is this product's own, when they are the
    /// same data path with the same models: Istio's sidecars are `sidecar`, its ambient mode
    /// `uproxy`. The others (linkerd2-proxy's service time, Cilium's L7-only Envoy, Kmesh's
    /// waypoints without ztunnels) are simulations of their own (`latency::Mesh::of_product`).
    pub fn simulated_as(self) -> Option<Architecture> {
        match self {
            Product::IstioSidecar => Some(Architecture::Sidecar),
            Product::IstioAmbient => Some(Architecture::Uproxy),
            Product::Cilium | Product::Linkerd | Product::Kmesh => None,
        }
    }

    /// The building blocks in words, as the table's `built from` row prints them.
    pub fn built_from(self) -> &'static str {
        match self {
            Product::IstioSidecar => "sidecar (Envoy)",
            Product::IstioAmbient => "uproxy (ztunnel + waypoints)",
            Product::Cilium => "ebpf + node Envoy for L7",
            Product::Linkerd => "sidecar (linkerd2-proxy)",
            Product::Kmesh => "ebpf + waypoints",
        }
    }

    pub fn encryption(self, cilium: CiliumEncryption) -> Encryption {
        match self {
            Product::IstioSidecar | Product::IstioAmbient | Product::Linkerd => Encryption::Mtls,
            Product::Cilium => match cilium {
                CiliumEncryption::Wireguard => Encryption::Wireguard,
                CiliumEncryption::Ipsec => Encryption::Ipsec,
                CiliumEncryption::None => Encryption::None,
            },
            // Kmesh's L4 path is plain eBPF; its waypoints speak HBONE mTLS only for traffic
            // under L7 policy (kmesh-net/kmesh docs), which the column does not count apart.
            Product::Kmesh => Encryption::None,
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
