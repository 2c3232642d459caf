//! XDP identity policy, attached to a workload's interface: maps source and destination
//! addresses to identities and lets a packet to a workload under policy through only when a rule
//! allows (source identity, destination identity, protocol, port), or when it is the reply of a
//! flow that was allowed. The decision itself is `meshtwin_datapath_common::policy::decide`,
//! shared with the user-space tests.

use aya_ebpf::{bindings::xdp_action, macros::xdp, maps::lpm_trie::Key, programs::XdpContext};
use meshtwin_datapath_common::{
    identity::{IPV4_PREFIX_BITS, IPV6_PREFIX_BITS, UNKNOWN_IDENTITY},
    packet::{parse_frame, Parsed},
    policy::{decide, FlowKey, IdentityPair, PolicyCounters, PolicyKey, PolicyLookups, Verdict},
};

use crate::{context_bytes::ContextBytes, maps::*};

/// `BPF_NOEXIST`: create the counters entry only if another CPU did not just create it.
const BPF_NOEXIST: u64 = 1;

#[xdp]
pub fn xdp_policy(ctx: XdpContext) -> u32 {
    let bytes = ContextBytes::new(ctx.data(), ctx.data_end());
    let length = bytes.len() as u64;
    let headers = match parse_frame(&bytes) {
        Ok(Parsed::Ip(headers)) => headers,
        // ARP and other non-IP frames carry no identity; the stack needs ARP to work at all.
        Ok(Parsed::NotIp { .. }) => return xdp_action::XDP_PASS,
        // An IP packet shorter than its headers say: the stack would drop it too.
        Err(_) => return xdp_action::XDP_DROP,
    };
    let decision = decide(&headers, &KernelMaps);
    if decision.verdict == Verdict::PassAllowed {
        let reply = FlowKey::from_headers(&headers).reversed();
        // Best effort: if the LRU insert fails the reply is judged by policy like any packet.
        let _ = POLICY_FLOWS.insert(reply, 1, 0);
    }
    let passes = decision.verdict.passes();
    count(&decision.pair, passes, length);
    if passes {
        xdp_action::XDP_PASS
    } else {
        xdp_action::XDP_DROP
    }
}

struct KernelMaps;

impl PolicyLookups for KernelMaps {
    #[inline(always)]
    fn identity_v4(&self, addr: [u8; 4]) -> u32 {
        IDENTITY_V4
            .get(Key::new(IPV4_PREFIX_BITS, addr))
            .copied()
            .unwrap_or(UNKNOWN_IDENTITY)
    }

    #[inline(always)]
    fn identity_v6(&self, addr: [u8; 16]) -> u32 {
        IDENTITY_V6
            .get(Key::new(IPV6_PREFIX_BITS, addr))
            .copied()
            .unwrap_or(UNKNOWN_IDENTITY)
    }

    #[inline(always)]
    fn is_policed(&self, identity: u32) -> bool {
        POLICED.get_ptr(identity).is_some()
    }

    #[inline(always)]
    fn has_rule(&self, key: &PolicyKey) -> bool {
        POLICY.get_ptr(key).is_some()
    }

    #[inline(always)]
    fn is_reply(&self, flow: &FlowKey) -> bool {
        POLICY_FLOWS.get_ptr(flow).is_some()
    }

    #[inline(always)]
    fn forwarded_identity(&self, flow: &FlowKey) -> Option<u32> {
        // SAFETY: copied at once (maps.rs, "Map memory").
        unsafe { FORWARDED_FLOWS.get(flow) }.copied()
    }
}

#[inline(always)]
fn count(pair: &IdentityPair, passed: bool, bytes: u64) {
    let counters = match POLICY_COUNTS.get_ptr_mut(pair) {
        Some(counters) => counters,
        None => {
            let _ = POLICY_COUNTS.insert(pair, PolicyCounters::default(), BPF_NOEXIST);
            match POLICY_COUNTS.get_ptr_mut(pair) {
                Some(counters) => counters,
                // The map is full: the packet is still decided, just not counted.
                None => return,
            }
        }
    };
    // SAFETY: this CPU's copy of a per-CPU value (maps.rs, "Map memory").
    let counters = unsafe { &mut *counters };
    if passed {
        counters.passed_packets += 1;
        counters.passed_bytes += bytes;
    } else {
        counters.dropped_packets += 1;
        counters.dropped_bytes += bytes;
    }
}
