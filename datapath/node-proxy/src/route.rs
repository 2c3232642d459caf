//! Where an accepted connection goes: its original destination, as connect4 recorded it (or
//! netfilter, for an iptables REDIRECT), and that service's backend, chosen with the same
//! 5-tuple hash as the TC load balancer, so a connection lands where it would have without
//! the proxy.

use std::net::{Ipv4Addr, SocketAddrV4};

use meshtwin_datapath_common::{
    flow_hash::{backend_slot, flow_hash_v4},
    packet::IPPROTO_TCP,
    service::{BackendKey, ServiceKey},
    sockets::SockKey,
};
use meshtwin_datapath_pins::PinnedMaps;

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
