//! The proxy's counters and their Prometheus metrics (`meshtwin_proxy_connections_total`,
//! `meshtwin_proxy_bytes_total`, `meshtwin_proxy_active_connections`).

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{counter::ConstCounter, gauge::ConstGauge, MetricType},
};

/// The proxy's own counters, exported on its metrics address.
#[derive(Debug, Default)]
pub struct ProxyCounters {
    pub accepted: AtomicU64,
    pub forwarded: AtomicU64,
    pub no_original_destination: AtomicU64,
    pub no_backend: AtomicU64,
    pub backend_unreachable: AtomicU64,
    /// Refused before forwarding: policy does not allow the client to reach the backend.
    pub denied: AtomicU64,
    /// Closed while open: policy stopped allowing it.
    pub revoked: AtomicU64,
    /// Outbound: carried to another node's proxy in an mTLS tunnel that proxy accepted.
    pub tunneled: AtomicU64,
    /// Outbound: no certificate here for the client's identity (or either identity unknown).
    pub no_certificate: AtomicU64,
    /// Outbound: the peer proxy could not be reached or the handshake failed.
    pub tunnel_failed: AtomicU64,
    /// Outbound: the peer proxy answered the CONNECT with a refusal.
    pub tunnel_refused: AtomicU64,
    /// Inbound: a tunnel whose client certificate was verified.
    pub tunnels_accepted: AtomicU64,
    /// Inbound: the handshake failed (a certificate of another CA, expired, none, ...).
    pub handshake_failed: AtomicU64,
    /// Inbound: a CONNECT to something that is not the presented identity's workload here.
    pub misdirected: AtomicU64,
    pub active: AtomicU64,
    pub bytes_to_backend: AtomicU64,
    pub bytes_to_client: AtomicU64,
}

/// The proxy's counters as Prometheus metrics.
#[derive(Clone)]
pub struct ProxyCollector(pub Arc<ProxyCounters>);

impl fmt::Debug for ProxyCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProxyCollector")
    }
}

impl Collector for ProxyCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let c = &self.0;
        let load = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let mut connections = encoder.encode_descriptor(
            "meshtwin_proxy_connections",
            "Connections the node proxy accepted, by what became of them",
            None,
            MetricType::Counter,
        )?;
        for (result, value) in [
            ("accepted", load(&c.accepted)),
            ("forwarded", load(&c.forwarded)),
            ("no_original_destination", load(&c.no_original_destination)),
            ("no_backend", load(&c.no_backend)),
            ("backend_unreachable", load(&c.backend_unreachable)),
            ("denied", load(&c.denied)),
            ("revoked", load(&c.revoked)),
            ("tunneled", load(&c.tunneled)),
            ("no_certificate", load(&c.no_certificate)),
            ("tunnel_failed", load(&c.tunnel_failed)),
            ("tunnel_refused", load(&c.tunnel_refused)),
            ("tunnel_accepted", load(&c.tunnels_accepted)),
            ("handshake_failed", load(&c.handshake_failed)),
            ("misdirected", load(&c.misdirected)),
        ] {
            let labels = [("result", result)];
            ConstCounter::new(value).encode(connections.encode_family(&labels)?)?;
        }
        let mut bytes = encoder.encode_descriptor(
            "meshtwin_proxy_bytes",
            "Bytes the node proxy copied, by direction",
            None,
            MetricType::Counter,
        )?;
        for (direction, value) in [
            ("to_backend", load(&c.bytes_to_backend)),
            ("to_client", load(&c.bytes_to_client)),
        ] {
            let labels = [("direction", direction)];
            ConstCounter::new(value).encode(bytes.encode_family(&labels)?)?;
        }
        let active = encoder.encode_descriptor(
            "meshtwin_proxy_active_connections",
            "Connections the node proxy is forwarding now",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(load(&c.active) as i64).encode(active)?;
        Ok(())
    }
}
