//! cgroup connect4 and getpeername4, attached to the cgroups of workloads whose service traffic
//! goes through the node proxy (replacing an iptables REDIRECT): a TCP `connect()` to a service
//! VIP:port is sent to the node proxy instead, and the original destination is kept under the
//! socket's cookie (sock_ops files it under the 4-tuple for the proxy, `sockops_mesh.rs`).
//! getpeername on such a socket answers the original destination, so the workload sees where
//! it meant to connect. A service with a port of its own in `PROXY_PORTS` goes to that port of
//! the proxy's address (for proxies that tell services apart by port). The node proxy's own cgroup gets neither program, so its connections
//! to backends are never redirected (the agent refuses a proxy cgroup inside a redirected one).

use aya_ebpf::{
    bindings::BPF_ANY, helpers::bpf_get_socket_cookie, macros::cgroup_sock_addr,
    programs::SockAddrContext, EbpfContext as _,
};
use meshtwin_datapath_common::{
    counting::add,
    packet::IPPROTO_TCP,
    redirect::{OriginalDst, RedirectCounters},
    service::ServiceKey,
};

use crate::maps::*;

/// The verdict that lets the call go on (0 would fail it with EPERM).
const ALLOW: i32 = 1;
const SOCK_STREAM: u32 = 1;

#[cgroup_sock_addr(connect4)]
pub fn connect4_proxy(ctx: SockAddrContext) -> i32 {
    // SAFETY: `sock_addr` points to the kernel's `bpf_sock_addr` of this call, valid and used
    // by nothing else while the program runs; the verifier checks every field access.
    let addr = unsafe { &mut *ctx.sock_addr };
    if addr.type_ != SOCK_STREAM {
        return ALLOW;
    }
    let Some(proxy) = NODE_PROXY.get(0).copied() else {
        return ALLOW;
    };
    if proxy.enabled == 0 {
        return ALLOW;
    }
    let vip = addr.user_ip4.to_ne_bytes();
    // user_port holds the network-order port in its low 16 bits.
    let port = u16::from_be(addr.user_port as u16);
    // SAFETY: copied at once (maps.rs, "Map memory").
    let service = unsafe { SERVICES.get(ServiceKey::new(vip, port, IPPROTO_TCP)) }.copied();
    let Some(service) = service else {
        return ALLOW;
    };
    let service_id = service.id;
    let original = OriginalDst {
        addr: vip,
        port,
        pad: 0,
        service_id,
    };
    // SAFETY: the helper is given this program's own context, which the kernel keeps valid for
    // the call.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    // Without the record the proxy could not know where to go: then do not redirect at all.
    if ORIG_DST_COOKIE
        .insert(cookie, original, BPF_ANY as u64)
        .is_err()
    {
        return ALLOW;
    }
    // A proxy that tells services apart by the port they arrive on (HAProxy cannot read
    // ORIG_DST_FLOW) has a port per service; others take every service on NODE_PROXY's port.
    let port = match PROXY_PORTS.get(service_id).copied() {
        Some(port) if port != 0 => port as u16,
        _ => proxy.port,
    };
    addr.user_ip4 = u32::from_ne_bytes(proxy.addr);
    addr.user_port = port.to_be() as u32;
    if let Some(counters) = REDIRECT_COUNTS.get_ptr_mut(service_id) {
        // SAFETY: this CPU's copy of a per-CPU value, added to atomically (maps.rs, "Map
        // memory").
        let counters: &mut RedirectCounters = unsafe { &mut *counters };
        add(&mut counters.connections, 1);
    }
    ALLOW
}

#[cgroup_sock_addr(getpeername4)]
pub fn getpeername4(ctx: SockAddrContext) -> i32 {
    // SAFETY: the helper is given this program's own context, which the kernel keeps valid for
    // the call.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    // SAFETY: copied at once (maps.rs, "Map memory").
    let original = unsafe { ORIG_DST_COOKIE.get(cookie) }.copied();
    if let Some(original) = original {
        // SAFETY: as in `connect4_proxy`: the kernel's `bpf_sock_addr` of this call.
        let addr = unsafe { &mut *ctx.sock_addr };
        addr.user_ip4 = u32::from_ne_bytes(original.addr);
        addr.user_port = original.port.to_be() as u32;
    }
    ALLOW
}
