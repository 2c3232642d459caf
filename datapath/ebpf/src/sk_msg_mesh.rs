//! sk_msg, attached to the socket hash `MESH_SOCKS`: runs on every message a socket in the
//! hash sends. A socket in bypass mode has its message put straight into its peer's receive
//! queue (`bpf_msg_redirect_hash` with `BPF_F_INGRESS`), skipping TCP/IP and the veth or
//! loopback path; a socket of a monitored HTTP connection has the message's heads parsed
//! (`http_observe.rs`, which also holds the second sk_msg program, `sk_msg_http`), whether it
//! is redirected or not.
//!
//! When the peer is not in the hash (not established yet, or gone) the message goes through
//! TCP, and so does every later message of that socket: redirecting again could overtake bytes
//! still waiting in the peer's TCP receive queue.
//!
//! The bypass skips the XDP policy, so before it redirects, sk_msg asks the policy the question
//! XDP would ask of the same bytes as a TCP segment (`sockets::segment_headers`,
//! `policy::decide`): once per socket, and again whenever the agent has changed the maps since
//! (`POLICY_EPOCH`), so the steady cost is one array lookup per message. A flow the policy no
//! longer allows is not dropped here: its messages go through TCP from then on, where XDP judges
//! them exactly as it judges a connection that never had the bypass.

use aya_ebpf::{
    bindings::{sk_action::SK_PASS, BPF_F_INGRESS},
    macros::sk_msg,
    programs::SkMsgContext,
};
use meshtwin_datapath_common::{
    counting::add,
    policy::{decide, FlowKey, Verdict},
    sockets::{
        segment_headers, SockKey, SockMode, SockmapCounters, MODE_BYPASS, MODE_HTTP_CLIENT,
        MODE_HTTP_SERVER, MODE_KEPT,
    },
};

use crate::{http_observe, maps::*, policy_maps::KernelMaps};

#[sk_msg]
pub fn sk_msg_mesh(ctx: SkMsgContext) -> u32 {
    let key = msg_key(&ctx);
    let Some(mode) = SOCK_MODES.get_ptr_mut(key) else {
        return SK_PASS;
    };
    // SAFETY: a shared value written in place, only by this socket's messages, which the socket
    // lock serialises (maps.rs, "Map memory").
    let mode = unsafe { &mut *mode };
    let len = ctx.size() as u64;
    if mode.flags & MODE_KEPT != 0 {
        count(len, Outcome::Kept);
    } else if mode.flags & MODE_BYPASS != 0 && !policy_allows(mode) {
        mode.flags |= MODE_KEPT;
        count(len, Outcome::Revoked);
    } else if mode.flags & MODE_BYPASS != 0 {
        let peer = mode.flow.reversed();
        if MESH_SOCKS.redirect_msg(&ctx, peer, BPF_F_INGRESS as u64) == SK_PASS as i64 {
            count(len, Outcome::Redirected);
        } else {
            mode.flags |= MODE_KEPT;
            count(len, Outcome::PeerAbsent);
        }
    }
    // Last: parsing a long message chains to `sk_msg_http` by a tail call, which does not
    // return here. The redirect chosen above stays with the message.
    if mode.flags & (MODE_HTTP_CLIENT | MODE_HTTP_SERVER) != 0 {
        let (flags, service_id, flow) = (mode.flags, mode.service_id, mode.flow);
        http_observe::observe(&ctx, &key, &flow, flags, service_id, len);
    }
    SK_PASS
}

/// Whether the policy allows the socket's flow now: asked again only when the maps changed
/// since it last said yes. An allowed flow's reply direction is recorded as XDP records it, so
/// that the replies' judgement does not depend on which path carried the requests.
#[inline(always)]
fn policy_allows(mode: &mut SockMode) -> bool {
    let Some(epoch) = POLICY_EPOCH.get(0).copied() else {
        return true;
    };
    if mode.policy_epoch == epoch {
        return true;
    }
    let headers = segment_headers(&mode.flow);
    let decision = decide(&headers, &KernelMaps);
    if decision.verdict == Verdict::PassAllowed {
        // Best effort, as in XDP.
        let _ = POLICY_FLOWS.insert(FlowKey::from_headers(&headers).reversed(), 1, 0);
    }
    if !decision.verdict.passes() {
        return false;
    }
    mode.policy_epoch = epoch;
    true
}

/// The sending socket's own 4-tuple.
#[inline(always)]
pub fn msg_key(ctx: &SkMsgContext) -> SockKey {
    // SAFETY: `msg` points to the kernel's `sk_msg_md` of this call, valid while the program
    // runs; it is only read.
    let md = unsafe { &*ctx.msg };
    SockKey {
        local_addr: md.local_ip4.to_ne_bytes(),
        remote_addr: md.remote_ip4.to_ne_bytes(),
        local_port: md.local_port as u16,
        // As in sock_ops: network order in the upper half.
        remote_port: u32::from_be(md.remote_port) as u16,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Redirected,
    PeerAbsent,
    Kept,
    Revoked,
}

#[inline(always)]
fn count(len: u64, outcome: Outcome) {
    let Some(counters) = SOCKMAP_COUNTS.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's copy of a per-CPU value, added to atomically (maps.rs, "Map memory").
    let counters: &mut SockmapCounters = unsafe { &mut *counters };
    let (messages, bytes) = match outcome {
        Outcome::Redirected => (
            &mut counters.redirected_messages,
            &mut counters.redirected_bytes,
        ),
        Outcome::PeerAbsent => (
            &mut counters.peer_absent_messages,
            &mut counters.peer_absent_bytes,
        ),
        Outcome::Kept => (&mut counters.kept_messages, &mut counters.kept_bytes),
        Outcome::Revoked => (&mut counters.revoked_messages, &mut counters.revoked_bytes),
    };
    add(messages, 1);
    add(bytes, len);
}
