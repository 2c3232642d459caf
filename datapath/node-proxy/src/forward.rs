//! Accepting connections and copying bytes between each client and its backend until both
//! sides are done, passing a half-close on. Connections to backends are made from the proxy's
//! own cgroup, which connect4 never redirects.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::{atomic::Ordering, Arc, Mutex},
};

use meshtwin_datapath_pins::PinnedMaps;
use tokio::net::{TcpListener, TcpStream};

use crate::{
    counters::ProxyCounters,
    route::{route, Route},
};

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
