//! sock_ops, attached to the cgroups of workloads (and of the node proxy when it takes part in
//! the bypass): decides, when a TCP connection is established, whether its socket goes into
//! the socket hash for the sk_msg program (`sk_msg_mesh.rs`), and records what that program
//! needs; for connections redirected by connect4 it files the original destination under the
//! connection's 4-tuple for the node proxy; and it forgets a socket's entries when it closes.
//! The socket hash forgets closed sockets by itself (the kernel unlinks them), so a reused
//! 4-tuple never finds a stale socket. A client of a service VIP that the TC load balancer
//! translates is filed under the backend it reaches, as its peer sees the connection.

use aya_ebpf::{
    bindings::{
        BPF_ANY, BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB,
        BPF_SOCK_OPS_STATE_CB, BPF_SOCK_OPS_STATE_CB_FLAG, BPF_SOCK_OPS_TCP_CONNECT_CB,
        BPF_TCP_CLOSE,
    },
    helpers::bpf_get_socket_cookie,
    macros::sock_ops,
    programs::SockOpsContext,
    EbpfContext as _,
};
use meshtwin_datapath_common::{
    http_stats::HttpFlowKey,
    packet::IPPROTO_TCP,
    service::{Flow4, ServiceKey},
    sockets::{
        sock_mode, Endpoint, HttpRole, SockKey, SockMode, MODE_HTTP_CLIENT, MODE_HTTP_SERVER,
    },
};

use crate::maps::*;

const AF_INET: u32 = 2;

#[sock_ops]
pub fn sockops_mesh(ctx: SockOpsContext) -> u32 {
    if ctx.family() == AF_INET {
        let key = sock_key(&ctx);
        match ctx.op() {
            BPF_SOCK_OPS_TCP_CONNECT_CB => connecting(&ctx, &key),
            BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB => established(&ctx, &key, true),
            BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB => established(&ctx, &key, false),
            // args[1] is the new state.
            BPF_SOCK_OPS_STATE_CB if ctx.arg(1) == BPF_TCP_CLOSE => closed(&ctx, &key),
            _ => {}
        }
    }
    1
}

#[inline(always)]
fn sock_key(ctx: &SockOpsContext) -> SockKey {
    SockKey {
        local_addr: ctx.local_ip4().to_ne_bytes(),
        remote_addr: ctx.remote_ip4().to_ne_bytes(),
        local_port: ctx.local_port() as u16,
        // The kernel puts the network-order port in the upper half: ntohl gives host order.
        remote_port: u32::from_be(ctx.remote_port()) as u16,
    }
}

#[inline(always)]
fn cookie(ctx: &SockOpsContext) -> u64 {
    // SAFETY: the helper is given this program's own context, which the kernel keeps valid for
    // the call.
    unsafe { bpf_get_socket_cookie(ctx.as_ptr()) }
}

/// `tcp_connect`: the source port is chosen, the SYN not sent yet. A connection that connect4
/// redirected gets its original destination filed under its 4-tuple, which the node proxy
/// will see on the socket it accepts.
#[inline(always)]
fn connecting(ctx: &SockOpsContext, key: &SockKey) {
    // SAFETY: copied at once (maps.rs, "Map memory").
    let Some(original) = (unsafe { ORIG_DST_COOKIE.get(cookie(ctx)) }).copied() else {
        return;
    };
    if ORIG_DST_FLOW.insert(key, original, BPF_ANY as u64).is_ok() {
        // To forget the cookie's entry when the socket closes.
        let _ = ctx.set_cb_flags((ctx.cb_flags() | BPF_SOCK_OPS_STATE_CB_FLAG) as i32);
    }
}

/// The connection as it is on the wire: a client that connected to a service VIP has its
/// packets translated by `tc_service_lb` (the SYN has crossed it by now, so `LB_CONNTRACK`
/// holds the backend it chose), while the socket keeps the VIP. The peer's socket, the
/// backend's, sees the backend: this is what both ends and the policy must agree on.
#[inline(always)]
fn wire_flow(key: &SockKey, active: bool) -> SockKey {
    if !active || LOCAL_ENDPOINTS.get_ptr(key.remote_addr).is_some() {
        return *key;
    }
    let service = ServiceKey::new(key.remote_addr, key.remote_port, IPPROTO_TCP);
    if SERVICES.get_ptr(service).is_none() {
        return *key;
    }
    let flow = Flow4::new(
        key.local_addr,
        key.remote_addr,
        key.local_port,
        key.remote_port,
        IPPROTO_TCP,
    );
    match read(LB_CONNTRACK.get_ptr(flow)) {
        Some(connection) => SockKey {
            remote_addr: connection.backend.addr,
            remote_port: connection.backend.port,
            ..*key
        },
        None => *key,
    }
}

#[inline(always)]
fn established(ctx: &SockOpsContext, key: &SockKey, active: bool) {
    let flow = wire_flow(key, active);
    let local = read(LOCAL_ENDPOINTS.get_ptr(flow.local_addr));
    let remote = read(LOCAL_ENDPOINTS.get_ptr(flow.remote_addr));
    let http = match read(HTTP_ENDPOINTS.get_ptr(Endpoint::new(flow.local_addr, flow.local_port))) {
        Some(service) => Some(HttpRole::Serves(service)),
        None => read(HTTP_ENDPOINTS.get_ptr(Endpoint::new(flow.remote_addr, flow.remote_port)))
            .map(HttpRole::Calls),
    };
    let Some(mut mode) = sock_mode(local, remote, http) else {
        // A reused 4-tuple must not inherit the mode of an earlier socket.
        let _ = SOCK_MODES.remove(key);
        return;
    };
    // The socket is in the hash under its wire flow, which its peer reverses to redirect to it;
    // the policy is asked about that flow before the first redirect (sk_msg_mesh.rs). Its mode
    // is under its own 4-tuple, which is all sk_msg and the close callback know.
    mode.flow = flow;
    if active && mode.flags & MODE_HTTP_CLIENT != 0 {
        // The client side is established first: a new connection starts with fresh HTTP state
        // (an earlier one with this 4-tuple may have left some).
        let _ = fresh_http_connection(
            &HttpFlowKey::of_client(&flow),
            mode.service_id,
            BPF_ANY as u64,
        );
    }
    if SOCK_MODES.insert(key, mode, BPF_ANY as u64).is_err() {
        return;
    }
    let mut sock_key = flow;
    // SAFETY: `ops` points to the kernel's `bpf_sock_ops` of this call, valid while the program
    // runs; on the established callbacks it is a full TCP socket, which the socket hash takes.
    let ops = unsafe { &mut *ctx.ops };
    if MESH_SOCKS
        .update(&mut sock_key, ops, BPF_ANY as u64)
        .is_err()
    {
        let _ = SOCK_MODES.remove(key);
        return;
    }
    let _ = ctx.set_cb_flags((ctx.cb_flags() | BPF_SOCK_OPS_STATE_CB_FLAG) as i32);
}

/// Copies a looked-up value at once. Left as pointers, LLVM may test several lookups for null
/// with one OR of the pointers, which the verifier refuses (pointer arithmetic).
#[inline(always)]
fn read<T: Copy>(value: Option<*const T>) -> Option<T> {
    // SAFETY: a pointer a successful lookup returned, copied at once (maps.rs, "Map memory").
    value.map(|pointer| unsafe { core::ptr::read_volatile(pointer) })
}

#[inline(always)]
fn closed(ctx: &SockOpsContext, key: &SockKey) {
    // SAFETY: copied at once (maps.rs, "Map memory").
    let mode = unsafe { SOCK_MODES.get(key) }.copied();
    if let Some(mode) = mode {
        let _ = SOCK_MODES.remove(key);
        forget_http(&mode);
    }
    let _ = ORIG_DST_COOKIE.remove(cookie(ctx));
}

#[inline(always)]
fn forget_http(mode: &SockMode) {
    let flow = if mode.flags & MODE_HTTP_CLIENT != 0 {
        HttpFlowKey::of_client(&mode.flow)
    } else if mode.flags & MODE_HTTP_SERVER != 0 {
        HttpFlowKey::of_server(&mode.flow)
    } else {
        return;
    };
    let _ = HTTP_CONNS.remove(flow);
}
