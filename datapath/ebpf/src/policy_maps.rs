//! The policy decision's lookups in the kernel's maps, shared by the XDP policy and by sk_msg,
//! which asks the same decision before it lets the bypass carry a socket's messages.

use aya_ebpf::maps::lpm_trie::Key;
use meshtwin_datapath_common::{
    identity::{IPV4_PREFIX_BITS, IPV6_PREFIX_BITS, UNKNOWN_IDENTITY},
    policy::{FlowKey, PolicyKey, PolicyLookups},
};

use crate::maps::*;

pub struct KernelMaps;

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
