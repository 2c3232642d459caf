//! Accepting connections and copying bytes between each client and its backend until both
//! sides are done, passing a half-close on. Connections to backends are made from the proxy's
//! own cgroup, which connect4 never redirects. Before it connects, the proxy checks the
//! client's identity against the backend's policy (`authorize`), and it checks again every
//! [`REAUTHORIZE_EVERY`] while the connection lasts, closing it once policy denies it.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::{atomic::Ordering, Arc, Mutex},
    time::Duration,
};

use meshtwin_datapath_pins::PinnedMaps;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};

use crate::{
    authorize::{check, Authorization, Client},
    counters::ProxyCounters,
    mtls::tunnel::Tunnels,
    route::{route, Route},
    upstream,
};

/// How often an open connection's authorization is checked again: a `reload` that revokes a
/// pair closes its connections through the proxy within this time, bypassed or not.
pub const REAUTHORIZE_EVERY: Duration = Duration::from_millis(250);

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
    tunnels: Option<Arc<Tunnels>>,
) -> std::io::Result<()> {
    loop {
        let (client, peer) = listener.accept().await?;
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let (maps, counters, tunnels) = (maps.clone(), counters.clone(), tunnels.clone());
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
            let _ = client.set_nodelay(true);
            let source = local.map_or(Ipv4Addr::UNSPECIFIED, |l| *l.ip());
            let client_address = v4(peer).map(|p| *p.ip());
            match (route, client_address) {
                (Route::Backend { backend, .. }, Some(address)) => {
                    // A backend on another node: the tunnel to that node's proxy, which
                    // decides on the client's verified identity.
                    let remote = tunnels
                        .as_ref()
                        .and_then(|t| Some((t, t.peer_of(*backend.ip())?)));
                    match remote {
                        Some((tunnels, peer)) => {
                            tunnels.outbound(client, address, backend, peer).await
                        }
                        None => {
                            let peer = Client::Address(address);
                            forward(client, peer, backend, source, &maps, &counters).await
                        }
                    }
                }
                (route, _) => count_unrouted(route, &counters),
            }
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

fn count_unrouted(route: Route, counters: &ProxyCounters) {
    let counter = match route {
        Route::NoBackend { .. } => &counters.no_backend,
        _ => &counters.no_original_destination,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Why a connection was not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Policy does not allow the client to reach the backend.
    Denied,
    /// The backend did not accept the connection.
    Unreachable,
}

/// Checks `peer` against the backend's policy and, if allowed, connects to `backend` from
/// `source` (the proxy's address) with the flow announced to the XDP policy as `peer`'s.
pub async fn open(
    peer: Client,
    backend: SocketAddrV4,
    source: Ipv4Addr,
    maps: &Arc<Mutex<PinnedMaps>>,
    counters: &ProxyCounters,
) -> Result<(upstream::Upstream, Authorization), Refusal> {
    let authorization = check(maps, peer, backend);
    if !authorization.allowed() {
        counters.denied.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal::Denied);
    }
    match upstream::connect(maps, source, backend, authorization.src_identity).await {
        Ok(upstream) => {
            let _ = upstream.stream.set_nodelay(true);
            Ok((upstream, authorization))
        }
        Err(_) => {
            counters.backend_unreachable.fetch_add(1, Ordering::Relaxed);
            Err(Refusal::Unreachable)
        }
    }
}

/// Forwards one connection for `peer` to `backend` on this node, if policy allows it; the
/// client's connection is closed otherwise.
pub async fn forward<C>(
    client: C,
    peer: Client,
    backend: SocketAddrV4,
    source: Ipv4Addr,
    maps: &Arc<Mutex<PinnedMaps>>,
    counters: &ProxyCounters,
) where
    C: AsyncRead + AsyncWrite + Unpin,
{
    if let Ok((upstream, granted)) = open(peer, backend, source, maps, counters).await {
        relay(client, upstream, peer, backend, granted, maps, counters).await;
    }
}

/// Copies both ways between the client and its backend until both are done, or until policy
/// revokes what `granted` allowed.
pub async fn relay<C>(
    mut client: C,
    mut upstream: upstream::Upstream,
    peer: Client,
    backend: SocketAddrV4,
    granted: Authorization,
    maps: &Mutex<PinnedMaps>,
    counters: &ProxyCounters,
) where
    C: AsyncRead + AsyncWrite + Unpin,
{
    counters.forwarded.fetch_add(1, Ordering::Relaxed);
    counters.active.fetch_add(1, Ordering::Relaxed);
    // When one side ends its sending, the other side is shut down for writing, and the copy
    // goes on in the other direction until it ends too.
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream.stream) => {
            if let Ok((to_backend, to_client)) = copied {
                counters.bytes_to_backend.fetch_add(to_backend, Ordering::Relaxed);
                counters.bytes_to_client.fetch_add(to_client, Ordering::Relaxed);
            }
        }
        () = revoked(maps, peer, backend, granted) => {
            counters.revoked.fetch_add(1, Ordering::Relaxed);
        }
    }
    counters.active.fetch_sub(1, Ordering::Relaxed);
}

/// Returns once policy no longer allows what `granted` allowed (the identities are looked up
/// again too: an address may have changed hands).
async fn revoked(
    maps: &Mutex<PinnedMaps>,
    peer: Client,
    backend: SocketAddrV4,
    granted: Authorization,
) {
    loop {
        tokio::time::sleep(REAUTHORIZE_EVERY).await;
        let now = check(maps, peer, backend);
        if !now.allowed() || now.src_identity != granted.src_identity {
            return;
        }
    }
}
