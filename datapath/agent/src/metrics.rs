//! Prometheus metrics, read from the pinned maps at every scrape and served over HTTP on a
//! loopback address. Per-CPU counters are summed over CPUs.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use meshtwin_datapath_common::{identity::UNKNOWN_IDENTITY, maps as names, service::ServiceKey};
use prometheus_client::{
    collector::Collector,
    encoding::{text::encode, DescriptorEncoder, EncodeMetric as _},
    metrics::{counter::ConstCounter, gauge::ConstGauge, MetricType},
    registry::Registry,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};

use crate::{config::NodeConfig, map_sync::PinnedMaps};

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

        let maps = &source.maps;
        let entries: [(&str, usize); 6] = [
            (names::IDENTITY_V4, maps.identity_v4.keys().count()),
            (names::POLICY, maps.policy.keys().count()),
            (names::POLICY_FLOWS, maps.policy_flows.keys().count()),
            (names::BACKENDS, maps.backends.keys().count()),
            (names::LB_CONNTRACK, maps.lb_conntrack.keys().count()),
            (names::LB_REVNAT, maps.lb_revnat.keys().count()),
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

/// Renders the metrics text once.
pub fn render(collector: &DatapathCollector) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector.clone()));
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

/// Serves `GET /metrics` until the task is dropped.
pub async fn serve(listener: TcpListener, collector: DatapathCollector) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let collector = collector.clone();
        tokio::spawn(async move {
            let mut request = Vec::with_capacity(1024);
            let mut buffer = [0u8; 1024];
            // Read the request head only; bodies are not expected.
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let response = if request.starts_with(b"GET /metrics ")
                || request.starts_with(b"GET /metrics?")
            {
                match render(&collector) {
                    Ok(body) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Err(_) => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                }
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 22\r\nConnection: close\r\n\r\nonly /metrics is here\n".to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Binds the metrics listener; the address was validated as loopback by the config.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}
