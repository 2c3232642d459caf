//! The cluster file as written: every key the user may type, with its span so that later
//! checks can point at it. Unknown keys are rejected here (by serde, with their location);
//! meaning is given in `resolve`.

use super::raw_requests::{RawCall, RawRequest};
use crate::cluster::placement::PlacementStrategy;
use crate::engine::Scheduling;
use crate::latency::options::ServiceTimeKind;
use crate::mesh::{
    Architecture, Interception, LocalAcceleration, MicroProxyPlacement, Scoping, WaypointScope,
};
use crate::product::{CiliumEncryption, Product};
use crate::traffic::{ArrivalKind, CallMode, Origin, PayloadKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// A name for reports; defaults to the file name.
    pub name: Option<String>,
    /// Seed of every random choice (generated services, random placement). Printed with results.
    pub seed: Option<Spanned<i64>>,
    pub cluster: Spanned<RawCluster>,
    /// Declared namespaces; when present, every service must use one of them.
    pub namespaces: Option<Vec<Spanned<String>>>,
    #[serde(default, rename = "service")]
    pub services: Vec<RawService>,
    /// Request types with their call trees (`raw_requests`).
    #[serde(default, rename = "request")]
    pub requests: Vec<RawRequest>,
    #[serde(default)]
    pub placement: RawPlacement,
    #[serde(default)]
    pub traffic: RawTraffic,
    #[serde(default)]
    pub mesh: RawMesh,
    #[serde(default)]
    pub models: RawModels,
    #[serde(default)]
    pub latency: RawLatency,
    #[serde(default)]
    pub bill: RawBill,
}

/// `[bill]`: the node shape and price that turn the proxies' requests into money.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBill {
    pub node_cores: Option<Spanned<f64>>,
    pub node_memory_gib: Option<Spanned<f64>>,
    pub price_per_hour: Option<Spanned<f64>>,
    pub currency: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Number of identical nodes (or use `node_group`).
    pub nodes: Option<Spanned<i64>>,
    #[serde(default)]
    pub node_group: Vec<Spanned<RawNodeGroup>>,
    /// Pods a node can hold (Kubernetes' default is 110).
    pub max_pods_per_node: Option<Spanned<i64>>,
    /// Short form: pods on every node; needs `services` (a count) instead of `[[service]]`.
    pub pods_per_node: Option<Spanned<i64>>,
    /// Short form: number of services to generate.
    pub services: Option<Spanned<i64>>,
    /// Short form: number of namespaces the generated services are spread over.
    pub namespaces: Option<Spanned<i64>>,
    /// Short form: how many other services each generated service calls.
    pub calls_per_service: Option<Spanned<i64>>,
    /// Short form: fraction of generated services under L7 policy.
    pub l7_policy_fraction: Option<Spanned<f64>>,
    /// CPU cores of every node: proxies, applications and the kernel's work share them.
    pub cores_per_node: Option<Spanned<i64>>,
    /// Nodes that share the cores of a few hosts (a testbed of many nodes on one machine).
    pub hosts: Option<Spanned<RawHosts>>,
    /// Pods started or stopped per second over the cluster: the control planes' push load.
    pub endpoint_changes_per_second: Option<Spanned<f64>>,
}

/// `[cluster.hosts]`: the nodes are dealt round-robin onto `count` hosts of `cores` each.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHosts {
    pub count: Spanned<i64>,
    pub cores: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodeGroup {
    pub name: Spanned<String>,
    pub count: Spanned<i64>,
    pub max_pods: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Spanned<String>,
    pub namespace: Option<Spanned<String>>,
    pub replicas: Spanned<i64>,
    pub service_account: Option<Spanned<String>>,
    pub http_ports: Option<Vec<Spanned<i64>>>,
    pub tcp_ports: Option<Vec<Spanned<i64>>>,
    /// HTTP/2 and gRPC ports: HTTP listeners whose calls are streams on one connection.
    pub http2_ports: Option<Vec<Spanned<i64>>>,
    pub grpc_ports: Option<Vec<Spanned<i64>>>,
    /// Each a name (once per request) or `{ service, per_request }` (`raw_requests`).
    #[serde(default)]
    pub calls: Vec<Spanned<RawCall>>,
    #[serde(default)]
    pub l7_policy: bool,
    pub rps_per_pod: Option<Spanned<f64>>,
    pub call_mode: Option<CallMode>,
    pub arrivals: Option<ArrivalKind>,
    pub app_time_us: Option<Spanned<f64>>,
    pub origin: Option<Spanned<Origin>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlacement {
    #[serde(default)]
    pub strategy: PlacementStrategy,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    pub rps_per_pod: Option<Spanned<f64>>,
    /// Multiplies every rate (`[traffic]`'s, each service's, each request type's).
    pub scale: Option<Spanned<f64>>,
    pub payload_bytes: Option<Spanned<i64>>,
    pub connection_reuse: Option<bool>,
    pub connections_per_upstream: Option<Spanned<i64>>,
    pub connection_lifetime_ms: Option<Spanned<f64>>,
    pub arrivals: Option<ArrivalKind>,
    pub burst_on_ms: Option<Spanned<f64>>,
    pub burst_off_ms: Option<Spanned<f64>>,
    pub payload: Option<PayloadKind>,
    pub call_mode: Option<CallMode>,
    pub app_time_us: Option<Spanned<f64>>,
    pub app_time_on_cpu: Option<bool>,
}

/// `[latency]`: the discrete-event simulation of requests.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    pub enabled: Option<bool>,
    pub duration_s: Option<Spanned<f64>>,
    pub warmup_s: Option<Spanned<f64>>,
    pub service_time: Option<ServiceTimeKind>,
    pub scheduling: Option<Spanned<OneOrMany<Scheduling>>>,
    pub timeout_ms: Option<Spanned<f64>>,
    pub max_queue: Option<Spanned<i64>>,
    pub envoy_histogram: Option<Spanned<String>>,
    pub ztunnel_histogram: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMesh {
    pub architectures: Option<Spanned<Vec<Spanned<Architecture>>>>,
    /// Products to compare (`crate::product`): with them, `architectures` defaults to none.
    pub products: Option<Spanned<Vec<Spanned<Product>>>>,
    pub cilium_encryption: Option<CiliumEncryption>,
    pub scoping: Option<Spanned<OneOrMany<Scoping>>>,
    pub interception: Option<Interception>,
    pub local_acceleration: Option<LocalAcceleration>,
    #[serde(default)]
    pub uproxy: RawUproxy,
}

/// A value given alone (`scoping = "mesh"`) or as a list (`scoping = ["mesh", "call-graph"]`).
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor rather than `#[serde(untagged)]`, so that a wrong value keeps
        // serde's precise message ("unknown variant `x`, expected one of ...").
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(serde::de::value::StrDeserializer::new(v)).map(OneOrMany::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        deserializer.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUproxy {
    pub micro_proxy: Option<MicroProxyPlacement>,
    pub waypoint: Option<WaypointScope>,
    pub waypoint_replicas: Option<Spanned<i64>>,
}

/// `[models]`: a named profile and per-component overrides, e.g. `[models.envoy] base_bytes = 6e7`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModels {
    pub profile: Option<Spanned<String>>,
    pub envoy: Option<ParamOverrides>,
    pub ztunnel: Option<ParamOverrides>,
    #[serde(rename = "linkerd2-proxy")]
    pub linkerd2_proxy: Option<ParamOverrides>,
    pub kernel: Option<ParamOverrides>,
    pub ebpf: Option<ParamOverrides>,
    pub app: Option<ParamOverrides>,
    /// Requests and limits per proxy kind (`models/resources.toml`).
    pub resources: Option<ParamOverrides>,
    #[serde(rename = "control-plane")]
    pub control_plane: Option<ParamOverrides>,
}

pub type ParamOverrides = BTreeMap<Spanned<String>, Spanned<f64>>;

impl RawModels {
    /// The override tables by component name, in a stable order.
    pub fn overrides(&self) -> Vec<(&'static str, &ParamOverrides)> {
        [
            ("envoy", &self.envoy),
            ("ztunnel", &self.ztunnel),
            ("linkerd2-proxy", &self.linkerd2_proxy),
            ("kernel", &self.kernel),
            ("ebpf", &self.ebpf),
            ("app", &self.app),
            ("resources", &self.resources),
            ("control-plane", &self.control_plane),
        ]
        .into_iter()
        .filter_map(|(name, table)| table.as_ref().map(|t| (name, t)))
        .collect()
    }
}
