//! The datapath's Prometheus metrics, read from the pinned maps at every scrape (the agent serves
//! them with `meshtwin_metrics_endpoint`). Per-CPU counters are summed over CPUs.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex},
};

use meshtwin_datapath_common::{
    http::{Method, Unparsed},
    http_stats::{bucket_upper_bound_seconds, HttpStats, LATENCY_BUCKETS},
    identity::UNKNOWN_IDENTITY,
    maps as names,
    service::ServiceKey,
    sockets::SockmapCounters,
};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{counter::ConstCounter, gauge::ConstGauge, MetricType},
};

use meshtwin_datapath_pins::PinnedMaps;

use crate::config::NodeConfig;

/// Names for the numbers the maps hold; replaced on reload.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub identities: BTreeMap<u32, String>,
    pub services: BTreeMap<ServiceKey, String>,
}

impl Labels {
    pub fn from_config(config: &NodeConfig) -> Self {
        Self {
            identities: config.identity_names(),
            services: config
                .services
                .iter()
                .map(|s| (s.key, s.name.clone()))
                .collect(),
        }
    }

    fn identity(&self, id: u32) -> String {
        if id == UNKNOWN_IDENTITY {
            return "unknown".to_string();
        }
        self.identities
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// The maps and their labels, shared by the scrape handler and the reload path.
pub struct MetricsSource {
    pub maps: PinnedMaps,
    pub labels: Labels,
}

/// Reads counters out of the maps at each scrape.
#[derive(Clone)]
pub struct DatapathCollector(pub Arc<Mutex<MetricsSource>>);

impl fmt::Debug for DatapathCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatapathCollector")
    }
}

type LabelSet = Vec<(String, String)>;

fn counter_family(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(LabelSet, u64)],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        ConstCounter::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for DatapathCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let source = self.0.lock().map_err(|_| fmt::Error)?;
        let labels = &source.labels;

        let mut policy_packets = Vec::new();
        let mut policy_bytes = Vec::new();
        for (pair, per_cpu) in source.maps.policy_counts.iter().filter_map(Result::ok) {
            let (mut passed_packets, mut passed_bytes, mut dropped_packets, mut dropped_bytes) =
                (0, 0, 0, 0);
            for counters in per_cpu.iter() {
                passed_packets += counters.passed_packets;
                passed_bytes += counters.passed_bytes;
                dropped_packets += counters.dropped_packets;
                dropped_bytes += counters.dropped_bytes;
            }
            let set = |verdict: &str| -> LabelSet {
                vec![
                    ("source".into(), labels.identity(pair.src_identity)),
                    ("destination".into(), labels.identity(pair.dst_identity)),
                    ("verdict".into(), verdict.into()),
                ]
            };
            policy_packets.push((set("passed"), passed_packets));
            policy_packets.push((set("dropped"), dropped_packets));
            policy_bytes.push((set("passed"), passed_bytes));
            policy_bytes.push((set("dropped"), dropped_bytes));
        }
        policy_packets.sort();
        policy_bytes.sort();
        counter_family(
            &mut encoder,
            "meshtwin_policy_packets",
            "Packets seen by the XDP identity policy, by identity pair and verdict",
            &policy_packets,
        )?;
        counter_family(
            &mut encoder,
            "meshtwin_policy_bytes",
            "Bytes seen by the XDP identity policy, by identity pair and verdict",
            &policy_bytes,
        )?;

        let mut service_packets = Vec::new();
        let mut service_bytes = Vec::new();
        let mut service_drops = Vec::new();
        for (id, key) in source.maps.service_ids() {
            let Ok(per_cpu) = source.maps.service_counts.get(&id, 0) else {
                continue;
            };
            let (mut packets, mut bytes, mut drops) = (0, 0, 0);
            for counters in per_cpu.iter() {
                packets += counters.packets;
                bytes += counters.bytes;
                drops += counters.no_backend_drops;
            }
            let name = labels
                .services
                .get(&key)
                .cloned()
                .unwrap_or_else(|| format!("id-{id}"));
            let vip = format!("{}:{}", std::net::Ipv4Addr::from(key.vip), key.port);
            let set: LabelSet = vec![("service".into(), name), ("vip".into(), vip)];
            service_packets.push((set.clone(), packets));
            service_bytes.push((set.clone(), bytes));
            service_drops.push((set, drops));
        }
        counter_family(
            &mut encoder,
            "meshtwin_service_packets",
            "Packets translated by the service load balancer, both directions",
            &service_packets,
        )?;
        counter_family(
            &mut encoder,
            "meshtwin_service_bytes",
            "Bytes translated by the service load balancer, both directions",
            &service_bytes,
        )?;
        counter_family(
            &mut encoder,
            "meshtwin_service_no_backend_drops",
            "New flows dropped because the service had no backend",
            &service_drops,
        )?;

        encode_socket_level(&mut encoder, &source)?;

        let maps = &source.maps;
        let entries: [(&str, usize); 10] = [
            (names::IDENTITY_V4, maps.identity_v4.keys().count()),
            (names::POLICY, maps.policy.keys().count()),
            (names::POLICY_FLOWS, maps.policy_flows.keys().count()),
            (names::BACKENDS, maps.backends.keys().count()),
            (names::LB_CONNTRACK, maps.lb_conntrack.keys().count()),
            (names::LB_REVNAT, maps.lb_revnat.keys().count()),
            (names::MESH_SOCKS, maps.mesh_socks.keys().count()),
            (names::SOCK_MODES, maps.sock_modes.keys().count()),
            (names::HTTP_CONNS, maps.http_conns.keys().count()),
            (names::ORIG_DST_FLOW, maps.orig_dst_flow.keys().count()),
        ];
        let mut family = encoder.encode_descriptor(
            "meshtwin_map_entries",
            "Entries in a datapath map",
            None,
            MetricType::Gauge,
        )?;
        for (map, count) in entries {
            let set: LabelSet = vec![("map".into(), map.into())];
            ConstGauge::new(count as i64).encode(family.encode_family(&set)?)?;
        }
        Ok(())
    }
}

/// Sockmap redirects, connect redirects and HTTP requests (docs/datapath.md, "Metrics").
fn encode_socket_level(encoder: &mut DescriptorEncoder, source: &MetricsSource) -> fmt::Result {
    let maps = &source.maps;
    let labels = &source.labels;
    let mut sockmap = SockmapCounters::default();
    if let Ok(per_cpu) = maps.sockmap_counts.get(&0, 0) {
        for c in per_cpu.iter() {
            sockmap.redirected_messages += c.redirected_messages;
            sockmap.redirected_bytes += c.redirected_bytes;
            sockmap.peer_absent_messages += c.peer_absent_messages;
            sockmap.peer_absent_bytes += c.peer_absent_bytes;
            sockmap.kept_messages += c.kept_messages;
            sockmap.kept_bytes += c.kept_bytes;
            sockmap.revoked_messages += c.revoked_messages;
            sockmap.revoked_bytes += c.revoked_bytes;
        }
    }
    let result = |r: &str| -> LabelSet { vec![("result".into(), r.into())] };
    counter_family(
        encoder,
        "meshtwin_sockmap_messages",
        "Messages of bypass sockets: redirected to the peer socket, or through TCP because the peer was not in the socket hash (peer_absent) or an earlier message went that way (kept), or the policy no longer allows the socket's flow since the maps changed (revoked: XDP judges it on TCP)",
        &[
            (result("redirected"), sockmap.redirected_messages),
            (result("peer_absent"), sockmap.peer_absent_messages),
            (result("kept"), sockmap.kept_messages),
            (result("revoked"), sockmap.revoked_messages),
        ],
    )?;
    counter_family(
        encoder,
        "meshtwin_sockmap_bytes",
        "Bytes of bypass sockets, as meshtwin_sockmap_messages",
        &[
            (result("redirected"), sockmap.redirected_bytes),
            (result("peer_absent"), sockmap.peer_absent_bytes),
            (result("kept"), sockmap.kept_bytes),
            (result("revoked"), sockmap.revoked_bytes),
        ],
    )?;

    let service_ids = maps.service_ids();
    let service_label = |id: u32| -> String {
        service_ids
            .get(&id)
            .and_then(|key| labels.services.get(key).cloned())
            .unwrap_or_else(|| format!("id-{id}"))
    };
    let mut redirects = Vec::new();
    for (id, key) in &service_ids {
        if key.protocol != meshtwin_datapath_common::packet::IPPROTO_TCP {
            continue;
        }
        let total: u64 = maps
            .redirect_counts
            .get(id, 0)
            .map(|per_cpu| per_cpu.iter().map(|c| c.connections).sum())
            .unwrap_or(0);
        redirects.push((vec![("service".into(), service_label(*id))], total));
    }
    counter_family(
        encoder,
        "meshtwin_connect_redirects",
        "Connections to a service that connect4 sent to the node proxy",
        &redirects,
    )?;

    // (service, method, status class) -> summed per-CPU stats.
    let mut http: BTreeMap<(String, &'static str, String), HttpStats> = BTreeMap::new();
    for (key, per_cpu) in maps.http_stats.iter().filter_map(Result::ok) {
        let method = Method::from_u8(key.method).map_or("OTHER", Method::name);
        let class = format!("{}xx", key.status_class);
        let entry = http
            .entry((service_label(key.service_id), method, class))
            .or_default();
        for stats in per_cpu.iter() {
            entry.requests += stats.requests;
            entry.latency_sum_ns += stats.latency_sum_ns;
            for (total, count) in entry.buckets.iter_mut().zip(stats.buckets.iter()) {
                *total += count;
            }
        }
    }
    let set = |(service, method, class): &(String, &str, String)| -> LabelSet {
        vec![
            ("service".into(), service.clone()),
            ("method".into(), (*method).into()),
            ("status_class".into(), class.clone()),
        ]
    };
    let requests: Vec<(LabelSet, u64)> = http.iter().map(|(k, v)| (set(k), v.requests)).collect();
    counter_family(
        encoder,
        "meshtwin_http_requests",
        "HTTP/1.1 requests answered on monitored service connections, by service, method and status class",
        &requests,
    )?;
    let mut family = encoder.encode_descriptor(
        "meshtwin_http_request_duration_seconds",
        "Time from a request's head leaving the client to the response's head leaving the server",
        None,
        MetricType::Histogram,
    )?;
    for (key, stats) in &http {
        let buckets: Vec<(f64, u64)> = (0..LATENCY_BUCKETS)
            .map(|k| (bucket_upper_bound_seconds(k), stats.buckets[k]))
            .collect();
        family
            .encode_family(&set(key))?
            .encode_histogram::<LabelSet>(
                stats.latency_sum_ns as f64 / 1e9,
                stats.requests,
                &buckets,
                None,
            )?;
    }

    let mut unparsed: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    for (key, per_cpu) in maps.http_unparsed.iter().filter_map(Result::ok) {
        let reason = Unparsed::from_u32(key.reason).map_or("unknown", Unparsed::name);
        *unparsed
            .entry((service_label(key.service_id), reason))
            .or_default() += per_cpu.iter().sum::<u64>();
    }
    let unparsed: Vec<(LabelSet, u64)> = unparsed
        .into_iter()
        .map(|((service, reason), count)| {
            (
                vec![
                    ("service".into(), service),
                    ("reason".into(), reason.into()),
                ],
                count,
            )
        })
        .collect();
    counter_family(
        encoder,
        "meshtwin_http_unparsed_messages",
        "Messages (or parts) of monitored connections that were not counted, by reason",
        &unparsed,
    )
}
