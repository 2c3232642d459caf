//! The policy decision's lookups over the pinned maps, so that user space (the node proxy)
//! decides with the same code (`meshtwin_datapath_common::policy`) and the same maps as the
//! XDP program.

use aya::maps::lpm_trie::Key;
use meshtwin_datapath_common::{
    identity::{IPV4_PREFIX_BITS, IPV6_PREFIX_BITS, UNKNOWN_IDENTITY},
    policy::{FlowKey, PolicyKey, PolicyLookups},
};

use crate::PinnedMaps;

impl PolicyLookups for PinnedMaps {
    fn identity_v4(&self, addr: [u8; 4]) -> u32 {
        self.identity_v4
            .get(&Key::new(IPV4_PREFIX_BITS, addr), 0)
            .unwrap_or(UNKNOWN_IDENTITY)
    }

    fn identity_v6(&self, addr: [u8; 16]) -> u32 {
        self.identity_v6
            .get(&Key::new(IPV6_PREFIX_BITS, addr), 0)
            .unwrap_or(UNKNOWN_IDENTITY)
    }

    fn is_policed(&self, identity: u32) -> bool {
        self.policed.get(&identity, 0).is_ok()
    }

    fn has_rule(&self, key: &PolicyKey) -> bool {
        self.policy.get(key, 0).is_ok()
    }

    fn is_reply(&self, flow: &FlowKey) -> bool {
        self.policy_flows.get(flow, 0).is_ok()
    }

    fn forwarded_identity(&self, flow: &FlowKey) -> Option<u32> {
        self.forwarded_flows.get(flow, 0).ok()
    }
}
