//! The maps of both programs. Each is pinned by name under the agent's bpffs directory, so that
//! a restarted agent, or a newer program, finds the same policy and counters.
//! Names and sizes come from `meshtwin_datapath_common::maps`.

use aya_ebpf::{
    macros::map,
    maps::{lpm_trie::LpmTrie, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap},
};
use meshtwin_datapath_common::{
    maps::*,
    policy::{FlowKey, IdentityPair, PolicyCounters, PolicyKey},
    service::{
        Backend, BackendKey, Flow4, LbConnection, LbReverse, ServiceCounters, ServiceInfo,
        ServiceKey,
    },
};

#[map]
pub static IDENTITY_V4: LpmTrie<[u8; 4], u32> = LpmTrie::pinned(MAX_IDENTITY_PREFIXES, 0);
#[map]
pub static IDENTITY_V6: LpmTrie<[u8; 16], u32> = LpmTrie::pinned(MAX_IDENTITY_PREFIXES, 0);
#[map]
pub static POLICED: HashMap<u32, u32> = HashMap::pinned(MAX_IDENTITIES, 0);
#[map]
pub static POLICY: HashMap<PolicyKey, u32> = HashMap::pinned(MAX_POLICY_RULES, 0);
#[map]
pub static POLICY_FLOWS: LruHashMap<FlowKey, u32> = LruHashMap::pinned(MAX_POLICY_FLOWS, 0);
#[map]
pub static POLICY_COUNTS: PerCpuHashMap<IdentityPair, PolicyCounters> =
    PerCpuHashMap::pinned(MAX_IDENTITY_PAIRS, 0);

#[map]
pub static SERVICES: HashMap<ServiceKey, ServiceInfo> = HashMap::pinned(MAX_SERVICES, 0);
#[map]
pub static BACKENDS: HashMap<BackendKey, Backend> = HashMap::pinned(MAX_BACKENDS, 0);
#[map]
pub static LB_CONNTRACK: LruHashMap<Flow4, LbConnection> = LruHashMap::pinned(MAX_LB_FLOWS, 0);
#[map]
pub static LB_REVNAT: LruHashMap<Flow4, LbReverse> = LruHashMap::pinned(MAX_LB_FLOWS, 0);
#[map]
pub static SERVICE_COUNTS: PerCpuArray<ServiceCounters> = PerCpuArray::pinned(MAX_SERVICES, 0);
