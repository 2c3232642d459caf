//! The node proxy (`meshtwin-node-proxy`): where connect4 sends a workload's connections to
//! service addresses. For each accepted connection it recovers the original destination that
//! the kernel filed under the connection's 4-tuple (`ORIG_DST_FLOW`, from the socket cookie
//! record connect4 made), or, for a connection an iptables REDIRECT sent (the benchmark's
//! baseline), the one netfilter kept (`SO_ORIGINAL_DST`); picks the service's backend with the
//! same hash as the TC load balancer (so a connection lands where it would have without the
//! proxy), connects to it from its own cgroup (never redirected), and copies bytes both ways until both sides are done,
//! passing a half-close on. It is the "micro proxy" the simulator models: one hop, L4, no
//! buffering beyond the copy loops.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use meshtwin_datapath_common::{
    flow_hash::{backend_slot, flow_hash_v4},
    packet::IPPROTO_TCP,
    service::{BackendKey, ServiceKey},
    sockets::SockKey,
};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{counter::ConstCounter, gauge::ConstGauge, MetricType},
};
use tokio::net::{TcpListener, TcpStream};

use crate::map_sync::PinnedMaps;

/// The proxy's own counters, exported on its metrics address.
#[derive(Debug, Default)]
pub struct ProxyCounters {
    pub accepted: AtomicU64,
    pub forwarded: AtomicU64,
    pub no_original_destination: AtomicU64,
    pub no_backend: AtomicU64,
    pub backend_unreachable: AtomicU64,
    pub active: AtomicU64,
    pub bytes_to_backend: AtomicU64,
    pub bytes_to_client: AtomicU64,
}

/// Where a connection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Backend {
        original: SocketAddrV4,
        backend: SocketAddrV4,
    },
    NoOriginalDestination,
    NoBackend {
        original: SocketAddrV4,
    },
}

/// Chooses the backend of the connection from `client` to the proxy at `local`: the original
/// destination is the one connect4 recorded (the entry is taken: it is this connection's, and
/// a reused 4-tuple gets a new one), else the one netfilter's REDIRECT kept (`iptables`, the
/// path connect4 replaces; asked only then, as it costs a system call), else there is none.
pub fn route(
    maps: &mut PinnedMaps,
    client: SocketAddrV4,
    local: SocketAddrV4,
    redirected_by_netfilter: impl FnOnce() -> Option<SocketAddrV4>,
) -> Route {
    let key = SockKey {
        local_addr: client.ip().octets(),
        remote_addr: local.ip().octets(),
        local_port: client.port(),
        remote_port: local.port(),
    };
    let original = match maps.orig_dst_flow.get(&key, 0) {
        Ok(recorded) => {
            let _ = maps.orig_dst_flow.remove(&key);
            SocketAddrV4::new(Ipv4Addr::from(recorded.addr), recorded.port)
        }
        Err(_) => match redirected_by_netfilter() {
            Some(original) => original,
            None => return Route::NoOriginalDestination,
        },
    };
    let (original_addr, original_port) = (original.ip().octets(), original.port());
    let no_backend = Route::NoBackend { original };
    let Ok(service) = maps.services.get(
        &ServiceKey::new(original_addr, original_port, IPPROTO_TCP),
        0,
    ) else {
        return no_backend;
    };
    let hash = flow_hash_v4(
        client.ip().octets(),
        original_addr,
        client.port(),
        original_port,
        IPPROTO_TCP,
    );
    let Some(slot) = backend_slot(hash, service.backend_count) else {
        return no_backend;
    };
    match maps.backends.get(
        &BackendKey {
            service_id: service.id,
            slot,
        },
        0,
    ) {
        Ok(backend) => Route::Backend {
            original,
            backend: SocketAddrV4::new(Ipv4Addr::from(backend.addr), backend.port),
        },
        Err(_) => no_backend,
    }
}

fn v4(address: SocketAddr) -> Option<SocketAddrV4> {
    match address {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(a) => a
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddrV4::new(ip, a.port())),
    }
}

/// Accepts and forwards until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    maps: Arc<Mutex<PinnedMaps>>,
    counters: Arc<ProxyCounters>,
) -> std::io::Result<()> {
    loop {
        let (client, peer) = listener.accept().await?;
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let (maps, counters) = (maps.clone(), counters.clone());
        tokio::spawn(async move {
            let local = client.local_addr().ok().and_then(v4);
            let route = match (v4(peer), local) {
                (Some(peer), Some(local)) => match maps.lock() {
                    Ok(mut maps) => route(&mut maps, peer, local, || {
                        original_destination(&client).filter(|o| *o != local)
                    }),
                    Err(_) => Route::NoOriginalDestination,
                },
                _ => Route::NoOriginalDestination,
            };
            forward(client, route, &counters).await;
        });
    }
}

/// `SO_ORIGINAL_DST`: where a connection went before netfilter redirected it (the local
/// address itself when it was not redirected, or an error without conntrack).
fn original_destination(stream: &TcpStream) -> Option<SocketAddrV4> {
    use std::os::fd::AsRawFd as _;
    const SO_ORIGINAL_DST: libc::c_int = 80;
    // SAFETY: a zeroed sockaddr_in is a valid value.
    let mut address: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `address`.
    let ret = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_IP,
            SO_ORIGINAL_DST,
            (&mut address as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    (ret == 0).then(|| {
        SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr)),
            u16::from_be(address.sin_port),
        )
    })
}

async fn forward(mut client: TcpStream, route: Route, counters: &ProxyCounters) {
    let backend = match route {
        Route::Backend { backend, .. } => backend,
        Route::NoOriginalDestination => {
            counters
                .no_original_destination
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        Route::NoBackend { .. } => {
            counters.no_backend.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut upstream = match TcpStream::connect(backend).await {
        Ok(upstream) => upstream,
        Err(_) => {
            counters.backend_unreachable.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    counters.forwarded.fetch_add(1, Ordering::Relaxed);
    counters.active.fetch_add(1, Ordering::Relaxed);
    // Copies both ways; when one side ends its sending, the other side is shut down for
    // writing, and the copy goes on in the other direction until it ends too.
    let copied = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    if let Ok((to_backend, to_client)) = copied {
        counters
            .bytes_to_backend
            .fetch_add(to_backend, Ordering::Relaxed);
        counters
            .bytes_to_client
            .fetch_add(to_client, Ordering::Relaxed);
    }
    counters.active.fetch_sub(1, Ordering::Relaxed);
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

/// The address a proxy config listens on.
pub fn listen_address(address: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(address), port)
}
