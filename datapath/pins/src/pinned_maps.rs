//! Every map of the datapath, opened from its pin with its key and value types: the user-space
//! half of the map definitions (the kernel half is `datapath/ebpf/src/maps.rs`; names, sizes
//! and types are in `meshtwin_datapath_common`).

use std::collections::BTreeMap;

use aya::maps::{
    lpm_trie::LpmTrie, Array, HashMap, Map, MapData, MapError, PerCpuArray, PerCpuHashMap, SockHash,
};
use meshtwin_datapath_common::{
    http_stats::{HttpConnection, HttpFlowKey, HttpStats, HttpStatsKey, UnparsedKey},
    maps as names,
    policy::{FlowKey, IdentityPair, PolicyCounters, PolicyKey},
    redirect::{NodeProxy, OriginalDst, RedirectCounters},
    service::{
        Backend, BackendKey, Flow4, LbConnection, LbReverse, ServiceCounters, ServiceInfo,
        ServiceKey,
    },
    sockets::{Endpoint, LocalEndpoint, SockKey, SockMode, SockmapCounters},
};

use crate::PinDir;

/// A pinned map could not be opened: the datapath is not up in this directory.
#[derive(Debug, thiserror::Error)]
#[error("cannot open pinned map {path}: {source}; is the datapath up (`meshtwin-agent up`) with this bpffs-dir?")]
pub struct OpenError {
    pub path: String,
    #[source]
    pub source: MapError,
}

/// Every map of the datapath, opened from its pin.
pub struct PinnedMaps {
    pub identity_v4: LpmTrie<MapData, [u8; 4], u32>,
    pub identity_v6: LpmTrie<MapData, [u8; 16], u32>,
    pub policed: HashMap<MapData, u32, u32>,
    pub policy: HashMap<MapData, PolicyKey, u32>,
    pub policy_flows: HashMap<MapData, FlowKey, u32>,
    pub forwarded_flows: HashMap<MapData, FlowKey, u32>,
    pub policy_counts: PerCpuHashMap<MapData, IdentityPair, PolicyCounters>,
    pub services: HashMap<MapData, ServiceKey, ServiceInfo>,
    pub backends: HashMap<MapData, BackendKey, Backend>,
    pub lb_conntrack: HashMap<MapData, Flow4, LbConnection>,
    pub lb_revnat: HashMap<MapData, Flow4, LbReverse>,
    pub service_counts: PerCpuArray<MapData, ServiceCounters>,
    pub mesh_socks: SockHash<MapData, SockKey>,
    pub sock_modes: HashMap<MapData, SockKey, SockMode>,
    pub local_endpoints: HashMap<MapData, [u8; 4], LocalEndpoint>,
    pub http_endpoints: HashMap<MapData, Endpoint, u32>,
    pub http_conns: HashMap<MapData, HttpFlowKey, HttpConnection>,
    pub http_stats: PerCpuHashMap<MapData, HttpStatsKey, HttpStats>,
    pub http_unparsed: PerCpuHashMap<MapData, UnparsedKey, u64>,
    pub sockmap_counts: PerCpuArray<MapData, SockmapCounters>,
    pub node_proxy: Array<MapData, NodeProxy>,
    pub orig_dst_cookie: HashMap<MapData, u64, OriginalDst>,
    pub orig_dst_flow: HashMap<MapData, SockKey, OriginalDst>,
    pub redirect_counts: PerCpuArray<MapData, RedirectCounters>,
    /// Service id → the node proxy's port for it (0: `node_proxy`'s port).
    pub proxy_ports: Array<MapData, u32>,
    pub policy_epoch: Array<MapData, u32>,
}

fn open<T: TryFrom<Map, Error = MapError>>(pins: &PinDir, name: &str) -> Result<T, OpenError> {
    let path = pins.map(name);
    let opened = MapData::from_pin(&path)
        .and_then(Map::from_map_data)
        .and_then(T::try_from);
    opened.map_err(|source| OpenError {
        path: path.display().to_string(),
        source,
    })
}

impl PinnedMaps {
    pub fn open(pins: &PinDir) -> Result<Self, OpenError> {
        Ok(Self {
            identity_v4: open(pins, names::IDENTITY_V4)?,
            identity_v6: open(pins, names::IDENTITY_V6)?,
            policed: open(pins, names::POLICED)?,
            policy: open(pins, names::POLICY)?,
            policy_flows: open(pins, names::POLICY_FLOWS)?,
            forwarded_flows: open(pins, names::FORWARDED_FLOWS)?,
            policy_counts: open(pins, names::POLICY_COUNTS)?,
            services: open(pins, names::SERVICES)?,
            backends: open(pins, names::BACKENDS)?,
            lb_conntrack: open(pins, names::LB_CONNTRACK)?,
            lb_revnat: open(pins, names::LB_REVNAT)?,
            service_counts: open(pins, names::SERVICE_COUNTS)?,
            mesh_socks: open(pins, names::MESH_SOCKS)?,
            sock_modes: open(pins, names::SOCK_MODES)?,
            local_endpoints: open(pins, names::LOCAL_ENDPOINTS)?,
            http_endpoints: open(pins, names::HTTP_ENDPOINTS)?,
            http_conns: open(pins, names::HTTP_CONNS)?,
            http_stats: open(pins, names::HTTP_STATS)?,
            http_unparsed: open(pins, names::HTTP_UNPARSED)?,
            sockmap_counts: open(pins, names::SOCKMAP_COUNTS)?,
            node_proxy: open(pins, names::NODE_PROXY)?,
            orig_dst_cookie: open(pins, names::ORIG_DST_COOKIE)?,
            orig_dst_flow: open(pins, names::ORIG_DST_FLOW)?,
            redirect_counts: open(pins, names::REDIRECT_COUNTS)?,
            proxy_ports: open(pins, names::PROXY_PORTS)?,
            policy_epoch: open(pins, names::POLICY_EPOCH)?,
        })
    }

    /// Service id -> service key, as the kernel has them now.
    pub fn service_ids(&self) -> BTreeMap<u32, ServiceKey> {
        self.services
            .iter()
            .filter_map(Result::ok)
            .map(|(key, info)| (info.id, key))
            .collect()
    }
}
