//! Writes a validated config into the pinned maps, in place: new entries are added before stale
//! ones are removed, so that no packet sees a state that allows less than both the old and the
//! new config (policy) or that lacks a backend both have (services). Counters are never reset,
//! except the slot of a service that is removed.

use std::collections::{BTreeMap, BTreeSet};

use aya::maps::{lpm_trie::Key, MapError, PerCpuValues};
use meshtwin_datapath_common::{
    http_stats::{HttpStatsKey, UnparsedKey},
    identity::{IPV4_PREFIX_BITS, IPV6_PREFIX_BITS},
    maps as names,
    policy::PolicyKey,
    redirect::NodeProxy,
    service::{BackendKey, ServiceInfo, ServiceKey},
    sockets::{next_policy_epoch, Endpoint, LocalEndpoint, ENDPOINT_SOCKMAP},
};
use meshtwin_datapath_pins::{OpenError, PinnedMaps};

use crate::config::NodeConfig;

/// A map operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MapSyncError {
    /// A pinned map could not be opened: the datapath is not up in this directory.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A map update failed.
    #[error("updating map {map} failed: {source}")]
    Update { map: &'static str, source: MapError },
    /// More services than ids.
    #[error("no free service id (the map holds {max})")]
    NoServiceId { max: u32 },
    /// Reading the number of CPUs failed.
    #[error("cannot count CPUs: {0}")]
    Cpus(String),
}

fn update(map: &'static str) -> impl FnOnce(MapError) -> MapSyncError {
    move |source| MapSyncError::Update { map, source }
}

/// What changed, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    pub workloads: usize,
    pub prefixes: usize,
    pub rules: usize,
    pub services: usize,
    pub backends: usize,
    pub removed: usize,
    /// The policy epoch written last.
    pub policy_epoch: u32,
}

/// Makes the maps say what `config` says.
pub fn apply(maps: &mut PinnedMaps, config: &NodeConfig) -> Result<SyncSummary, MapSyncError> {
    let mut summary = SyncSummary::default();
    sync_identities(maps, config, &mut summary)?;
    sync_policy(maps, config, &mut summary)?;
    sync_services(maps, config, &mut summary)?;
    sync_sockets(maps, config, &mut summary)?;
    summary.policy_epoch = advance_policy_epoch(maps)?;
    Ok(summary)
}

/// Last, once every map says what the config says: sk_msg asks the policy again about every
/// bypassed socket before its next message (sk_msg_mesh.rs), so an established connection
/// whose pair was revoked leaves the bypass for the XDP-policed path.
fn advance_policy_epoch(maps: &mut PinnedMaps) -> Result<u32, MapSyncError> {
    let epoch = next_policy_epoch(maps.policy_epoch.get(&0, 0).unwrap_or(0));
    maps.policy_epoch
        .set(0, epoch, 0)
        .map_err(update(names::POLICY_EPOCH))?;
    Ok(epoch)
}

fn sync_identities(
    maps: &mut PinnedMaps,
    config: &NodeConfig,
    summary: &mut SyncSummary,
) -> Result<(), MapSyncError> {
    let mut want_v4 = BTreeMap::new();
    let mut want_v6 = BTreeMap::new();
    for identity in &config.identities {
        for (ip, len) in &identity.v4 {
            want_v4.insert((*len, ip.octets()), identity.id);
        }
        for (ip, len) in &identity.v6 {
            want_v6.insert((*len, ip.octets()), identity.id);
        }
    }
    summary.prefixes = want_v4.len() + want_v6.len();
    for ((len, data), id) in &want_v4 {
        maps.identity_v4
            .insert(&Key::new(u32::from(*len), *data), *id, 0)
            .map_err(update(names::IDENTITY_V4))?;
    }
    for ((len, data), id) in &want_v6 {
        maps.identity_v6
            .insert(&Key::new(u32::from(*len), *data), *id, 0)
            .map_err(update(names::IDENTITY_V6))?;
    }
    // Stale prefixes go after the new ones are in.
    let stale_v4: Vec<Key<[u8; 4]>> = maps
        .identity_v4
        .keys()
        .filter_map(Result::ok)
        .filter(|key| {
            !want_v4.contains_key(&(key.prefix_len() as u8, key.data()))
                || key.prefix_len() > IPV4_PREFIX_BITS
        })
        .collect();
    for key in stale_v4 {
        maps.identity_v4
            .remove(&key)
            .map_err(update(names::IDENTITY_V4))?;
        summary.removed += 1;
    }
    let stale_v6: Vec<Key<[u8; 16]>> = maps
        .identity_v6
        .keys()
        .filter_map(Result::ok)
        .filter(|key| {
            !want_v6.contains_key(&(key.prefix_len() as u8, key.data()))
                || key.prefix_len() > IPV6_PREFIX_BITS
        })
        .collect();
    for key in stale_v6 {
        maps.identity_v6
            .remove(&key)
            .map_err(update(names::IDENTITY_V6))?;
        summary.removed += 1;
    }
    Ok(())
}

fn sync_policy(
    maps: &mut PinnedMaps,
    config: &NodeConfig,
    summary: &mut SyncSummary,
) -> Result<(), MapSyncError> {
    // Rules first, then the policed set: a newly policed identity must never be looked at
    // before the rules that allow traffic to it are in.
    for rule in &config.rules {
        maps.policy
            .insert(rule, 1, 0)
            .map_err(update(names::POLICY))?;
    }
    summary.rules = config.rules.len();
    for id in &config.policed {
        maps.policed
            .insert(id, 1, 0)
            .map_err(update(names::POLICED))?;
    }
    let want_rules: BTreeSet<(u32, u32, u8, u16)> = config
        .rules
        .iter()
        .map(|r| (r.src_identity, r.dst_identity, r.protocol, r.port))
        .collect();
    let stale: Vec<PolicyKey> = maps
        .policy
        .keys()
        .filter_map(Result::ok)
        .filter(|r| !want_rules.contains(&(r.src_identity, r.dst_identity, r.protocol, r.port)))
        .collect();
    // Revoking: rules go first so an identity that stays policed loses exactly those rules.
    for key in stale {
        maps.policy.remove(&key).map_err(update(names::POLICY))?;
        summary.removed += 1;
    }
    let stale: Vec<u32> = maps
        .policed
        .keys()
        .filter_map(Result::ok)
        .filter(|id| !config.policed.contains(id))
        .collect();
    for id in stale {
        maps.policed.remove(&id).map_err(update(names::POLICED))?;
        summary.removed += 1;
    }
    Ok(())
}

fn per_cpu_zeros<T: aya::Pod + Default + Clone>() -> Result<PerCpuValues<T>, MapSyncError> {
    let cpus = aya::util::nr_cpus()
        .map_err(|(what, error)| MapSyncError::Cpus(format!("{what}: {error}")))?;
    PerCpuValues::try_from(vec![T::default(); cpus])
        .map_err(|error| MapSyncError::Cpus(error.to_string()))
}

/// A service id that is new, or free again: every counter indexed by it starts at zero.
fn zero_counters(maps: &mut PinnedMaps, id: u32) -> Result<(), MapSyncError> {
    maps.service_counts
        .set(id, per_cpu_zeros()?, 0)
        .map_err(update(names::SERVICE_COUNTS))?;
    maps.redirect_counts
        .set(id, per_cpu_zeros()?, 0)
        .map_err(update(names::REDIRECT_COUNTS))?;
    let stats: Vec<HttpStatsKey> = maps
        .http_stats
        .keys()
        .filter_map(Result::ok)
        .filter(|key| key.service_id == id)
        .collect();
    for key in stats {
        let _ = maps.http_stats.remove(&key);
    }
    let unparsed: Vec<UnparsedKey> = maps
        .http_unparsed
        .keys()
        .filter_map(Result::ok)
        .filter(|key| key.service_id == id)
        .collect();
    for key in unparsed {
        let _ = maps.http_unparsed.remove(&key);
    }
    Ok(())
}

/// Workload addresses, monitored endpoints and the node proxy: new entries first, then the
/// stale ones go.
fn sync_sockets(
    maps: &mut PinnedMaps,
    config: &NodeConfig,
    summary: &mut SyncSummary,
) -> Result<(), MapSyncError> {
    let mut want_local: BTreeMap<[u8; 4], LocalEndpoint> = BTreeMap::new();
    for workload in &config.workloads {
        for address in &workload.addresses {
            let flags = if workload.sockmap {
                ENDPOINT_SOCKMAP
            } else {
                0
            };
            want_local.insert(address.octets(), LocalEndpoint { flags });
        }
    }
    if let Some(proxy) = &config.node_proxy {
        let flags = if proxy.sockmap { ENDPOINT_SOCKMAP } else { 0 };
        want_local.insert(proxy.address.octets(), LocalEndpoint { flags });
    }
    for (address, endpoint) in &want_local {
        maps.local_endpoints
            .insert(address, endpoint, 0)
            .map_err(update(names::LOCAL_ENDPOINTS))?;
    }
    let stale: Vec<[u8; 4]> = maps
        .local_endpoints
        .keys()
        .filter_map(Result::ok)
        .filter(|address| !want_local.contains_key(address))
        .collect();
    for address in stale {
        maps.local_endpoints
            .remove(&address)
            .map_err(update(names::LOCAL_ENDPOINTS))?;
        summary.removed += 1;
    }

    let ids: BTreeMap<ServiceKey, u32> = maps
        .services
        .iter()
        .filter_map(Result::ok)
        .map(|(key, info)| (key, info.id))
        .collect();
    let mut want_http: BTreeMap<Endpoint, u32> = BTreeMap::new();
    for workload in &config.workloads {
        for (service, address) in &workload.http {
            let Some(key) = config
                .services
                .iter()
                .find(|s| &s.name == service)
                .map(|s| s.key)
            else {
                continue;
            };
            if let Some(id) = ids.get(&key) {
                want_http.insert(Endpoint::new(address.ip().octets(), address.port()), *id);
            }
        }
    }
    for (endpoint, id) in &want_http {
        maps.http_endpoints
            .insert(endpoint, id, 0)
            .map_err(update(names::HTTP_ENDPOINTS))?;
    }
    let stale: Vec<Endpoint> = maps
        .http_endpoints
        .keys()
        .filter_map(Result::ok)
        .filter(|endpoint| !want_http.contains_key(endpoint))
        .collect();
    for endpoint in stale {
        maps.http_endpoints
            .remove(&endpoint)
            .map_err(update(names::HTTP_ENDPOINTS))?;
        summary.removed += 1;
    }
    summary.workloads = config.workloads.len();

    let proxy = config
        .node_proxy
        .as_ref()
        .map_or(NodeProxy::default(), |proxy| NodeProxy {
            addr: proxy.address.octets(),
            port: proxy.port,
            enabled: 1,
        });
    maps.node_proxy
        .set(0, proxy, 0)
        .map_err(update(names::NODE_PROXY))
}

fn sync_services(
    maps: &mut PinnedMaps,
    config: &NodeConfig,
    summary: &mut SyncSummary,
) -> Result<(), MapSyncError> {
    let existing: BTreeMap<ServiceKey, ServiceInfo> =
        maps.services.iter().filter_map(Result::ok).collect();
    let wanted: BTreeSet<ServiceKey> = config.services.iter().map(|s| s.key).collect();

    // Removed services: stop matching their VIP first, then drop their backends and counters.
    for (key, info) in &existing {
        if wanted.contains(key) {
            continue;
        }
        maps.services.remove(key).map_err(update(names::SERVICES))?;
        for slot in 0..info.backend_count {
            let _ = maps.backends.remove(&BackendKey {
                service_id: info.id,
                slot,
            });
        }
        zero_counters(maps, info.id)?;
        summary.removed += 1;
    }

    // Ids stay with their service (counters are indexed by id); new services take free ones.
    let mut used: BTreeSet<u32> = existing
        .iter()
        .filter(|(key, _)| wanted.contains(key))
        .map(|(_, info)| info.id)
        .collect();
    for service in &config.services {
        let (id, old_count) = match existing.get(&service.key) {
            Some(info) => (info.id, info.backend_count),
            None => {
                let id = (0..names::MAX_SERVICES)
                    .find(|id| !used.contains(id))
                    .ok_or(MapSyncError::NoServiceId {
                        max: names::MAX_SERVICES,
                    })?;
                used.insert(id);
                zero_counters(maps, id)?;
                (id, 0)
            }
        };
        // Slots first, then the count: a new flow never picks a slot that is not written yet.
        for (slot, backend) in service.backends.iter().enumerate() {
            maps.backends
                .insert(
                    BackendKey {
                        service_id: id,
                        slot: slot as u32,
                    },
                    *backend,
                    0,
                )
                .map_err(update(names::BACKENDS))?;
        }
        // Its proxy port before the service itself: connect4 finds the service first.
        maps.proxy_ports
            .set(id, service.proxy_port.map_or(0, u32::from), 0)
            .map_err(update(names::PROXY_PORTS))?;
        let info = ServiceInfo {
            id,
            backend_count: service.backends.len() as u32,
        };
        maps.services
            .insert(service.key, info, 0)
            .map_err(update(names::SERVICES))?;
        for slot in service.backends.len() as u32..old_count {
            let _ = maps.backends.remove(&BackendKey {
                service_id: id,
                slot,
            });
        }
        summary.backends += service.backends.len();
    }
    summary.services = config.services.len();
    Ok(())
}
