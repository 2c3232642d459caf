//! The range of every number a cluster file may hold: one constant per key, which the checks in
//! `resolve` apply and whose words docs/config.md shows (`sim/tests/config_docs.rs` holds the
//! page to [`KEYS`]). A value outside its range is an error that names the key and the range.
//!
//! The bounds are of two kinds. Some are what the value can mean (a fraction, a port). The
//! others keep the work and the arithmetic bounded: counts the model holds one by one (nodes,
//! pods, services, calls; `crate::cluster` states those limits), rates and times whose products
//! must stay finite and fit the engine's nanosecond clock, and sizes whose totals must fit a
//! 64-bit byte count. Combinations that stay in range but still make too much work (rate ×
//! duration × path length) are checked against the estimate of the run (`crate::estimate`).

use crate::cluster::{MAX_NODES, MAX_PODS, MAX_PODS_PER_NODE, MAX_SERVICES};
pub use crate::value_range::{shown, with_separators, ValueRange};

/// A key of the cluster file with a range: where docs/config.md lists it, and how messages
/// name it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key {
    /// The heading of its table in docs/config.md (`[traffic]`).
    pub section: &'static str,
    /// Its name in that table (`rps_per_pod`).
    pub name: &'static str,
    /// How errors name it (`traffic.rps_per_pod`).
    pub path: &'static str,
    pub range: ValueRange,
    /// Why the largest value is what it is, when it is a limit of the model rather than of
    /// what the value can mean; said when a value passes it.
    pub why_max: &'static str,
}

const fn key(
    section: &'static str,
    name: &'static str,
    path: &'static str,
    range: ValueRange,
) -> Key {
    Key {
        section,
        name,
        path,
        range,
        why_max: "",
    }
}

impl Key {
    const fn because(self, why_max: &'static str) -> Key {
        Key { why_max, ..self }
    }

    /// What is wrong with `value`, if anything: the key, its range and, past the largest
    /// value, why that is the largest.
    pub fn problem(&self, value: f64) -> Option<String> {
        if self.range.contains(value) {
            return None;
        }
        let article = if self.range.integer { "an" } else { "a" };
        let mut message = format!(
            "{} must be {article} {}, not {}",
            self.path,
            self.range,
            shown(value)
        );
        if value > self.range.max && !self.why_max.is_empty() {
            message.push_str(&format!(" ({})", self.why_max));
        }
        Some(message)
    }
}

/// The most a request's own time, or any one time the models hold, may be: the histograms'
/// ceiling (100 s). Anything slower is reported as beyond their range.
const TIME_CEILING_US: f64 = 1e8;
/// The most any rate per pod may be: a million requests per second, far past what one pod
/// serves, and small enough that a million pods' total stays finite in every product.
const MAX_RATE: f64 = 1e6;
/// The most `traffic.scale` may multiply the written rates by.
const MAX_SCALE: f64 = 1000.0;
/// The most calls per request one service makes to another (`per_request`).
const MAX_PER_REQUEST: f64 = 1000.0;
/// The most requests per second of one request type, over all its entry's pods.
const MAX_REQUEST_RATE: f64 = 1e9;
/// An hour, for the connection and burst windows.
const HOUR_MS: f64 = 3.6e6;

pub const SEED: Key = key(
    "Top level",
    "seed",
    "seed",
    ValueRange::integers(0, i64::MAX),
);

pub const NODES: Key = key(
    "[cluster]",
    "nodes",
    "cluster.nodes",
    ValueRange::integers(1, MAX_NODES as i64),
)
.because(
    "the model holds every node one by one; a million nodes is the largest cluster it supports",
);
pub const MAX_PODS_PER_NODE_KEY: Key = key(
    "[cluster]",
    "max_pods_per_node",
    "cluster.max_pods_per_node",
    ValueRange::integers(1, MAX_PODS_PER_NODE as i64),
)
.because("no node runs more pods; the limit keeps per-node arithmetic exact");
pub const PODS_PER_NODE: Key = key(
    "[cluster]",
    "pods_per_node",
    "cluster.pods_per_node",
    ValueRange::integers(1, MAX_PODS_PER_NODE as i64),
)
.because("no node runs more pods; the limit keeps per-node arithmetic exact");
pub const SERVICES: Key = key(
    "[cluster]",
    "services",
    "cluster.services",
    ValueRange::integers(1, MAX_SERVICES as i64),
)
.because("the model holds every service, with a latency histogram each in the simulation");
pub const NAMESPACES: Key = key(
    "[cluster]",
    "namespaces",
    "cluster.namespaces",
    ValueRange::integers(1, MAX_SERVICES as i64),
)
.because("there are never more namespaces than services");
pub const CALLS_PER_SERVICE: Key = key(
    "[cluster]",
    "calls_per_service",
    "cluster.calls_per_service",
    ValueRange::integers(0, MAX_SERVICES as i64),
)
.because("a service calls at most every other service once");
pub const L7_POLICY_FRACTION: Key = key(
    "[cluster]",
    "l7_policy_fraction",
    "cluster.l7_policy_fraction",
    ValueRange::numbers(0.0, 1.0),
);

/// The most cores one node or host may have; past any machine built, and it keeps the
/// simulated cores (one queue each) few.
const MAX_CORES: i64 = 4096;
pub const CORES_PER_NODE: Key = key(
    "[cluster]",
    "cores_per_node",
    "cluster.cores_per_node",
    ValueRange::integers(1, MAX_CORES),
)
.because("no machine has more cores; each is simulated as a queue of its own");
/// The most endpoint changes per second: a million, past any cluster's pod churn (the
/// Kubernetes scalability guidance keeps pod churn near 50 per second per API server).
pub const ENDPOINT_CHANGES_PER_SECOND: Key = key(
    "[cluster]",
    "endpoint_changes_per_second",
    "cluster.endpoint_changes_per_second",
    ValueRange::numbers(0.0, 1_000_000.0),
);
pub const HOSTS_COUNT: Key = key(
    "[cluster.hosts]",
    "count",
    "cluster.hosts.count",
    ValueRange::integers(1, MAX_NODES as i64),
)
.because("there are never more hosts than nodes");
pub const HOSTS_CORES: Key = key(
    "[cluster.hosts]",
    "cores",
    "cluster.hosts.cores",
    ValueRange::integers(1, MAX_CORES),
)
.because("no machine has more cores; each is simulated as a queue of its own");

pub const NODE_GROUP_COUNT: Key = key(
    "[[cluster.node_group]]",
    "count",
    "node_group.count",
    ValueRange::integers(1, MAX_NODES as i64),
)
.because(
    "the model holds every node one by one; a million nodes is the largest cluster it supports",
);
pub const NODE_GROUP_MAX_PODS: Key = key(
    "[[cluster.node_group]]",
    "max_pods",
    "node_group.max_pods",
    ValueRange::integers(1, MAX_PODS_PER_NODE as i64),
);

pub const REPLICAS: Key = key(
    "[[service]]",
    "replicas",
    "replicas",
    ValueRange::integers(1, MAX_PODS as i64),
)
.because("the model holds every pod one by one; 50 million is the most it supports");
pub const HTTP_PORTS: Key = key(
    "[[service]]",
    "http_ports",
    "http_ports",
    ValueRange::integers(1, 65_535),
);
pub const TCP_PORTS: Key = key(
    "[[service]]",
    "tcp_ports",
    "tcp_ports",
    ValueRange::integers(1, 65_535),
);
pub const HTTP2_PORTS: Key = key(
    "[[service]]",
    "http2_ports",
    "http2_ports",
    ValueRange::integers(1, 65_535),
);
pub const GRPC_PORTS: Key = key(
    "[[service]]",
    "grpc_ports",
    "grpc_ports",
    ValueRange::integers(1, 65_535),
);
pub const SERVICE_RPS_PER_POD: Key = key(
    "[[service]]",
    "rps_per_pod",
    "rps_per_pod",
    ValueRange::above(0.0, MAX_RATE),
)
.because("a million requests per second is far past what one pod serves; totals must stay finite");
pub const PER_REQUEST: Key = key(
    "[[service]]",
    "per_request",
    "per_request",
    ValueRange::numbers(0.0, MAX_PER_REQUEST),
)
.because("a service calling another a thousand times per request is a batch job, not a request; the calls of a whole request are bounded too, by the run's budget");
pub const REQUEST_RATE: Key = key(
    "[[request]]",
    "rate",
    "rate",
    ValueRange::above(0.0, MAX_REQUEST_RATE),
)
.because(
    "a billion requests per second is past the largest meshes' total; totals must stay finite",
);
/// `per_request` in a `[[request]]`'s call tree: the same range as in a service's `calls`.
pub const TREE_PER_REQUEST: Key = Key {
    section: "[[request]]",
    ..PER_REQUEST
};
pub const REQUEST_PAYLOAD_BYTES: Key = key(
    "[[request]]",
    "payload_bytes",
    "payload_bytes",
    ValueRange::integers(1, 1_000_000_000),
)
.because("a gigabyte per request; byte totals must fit 64 bits");
pub const SERVICE_APP_TIME_US: Key = key(
    "[[service]]",
    "app_time_us",
    "app_time_us",
    ValueRange::numbers(0.0, TIME_CEILING_US),
)
.because("the latency histograms measure up to 100 s");

pub const RPS_PER_POD: Key = key(
    "[traffic]",
    "rps_per_pod",
    "traffic.rps_per_pod",
    ValueRange::above(0.0, MAX_RATE),
)
.because("a million requests per second is far past what one pod serves; totals must stay finite");
pub const SCALE: Key = key(
    "[traffic]",
    "scale",
    "traffic.scale",
    ValueRange::above(0.0, MAX_SCALE),
)
.because(
    "a thousand times the written load; every scaled rate must stay within rps_per_pod's range too",
);
pub const PAYLOAD_BYTES: Key = key(
    "[traffic]",
    "payload_bytes",
    "traffic.payload_bytes",
    ValueRange::integers(1, 1_000_000_000),
)
.because("a gigabyte per request; byte totals must fit 64 bits");
pub const CONNECTIONS_PER_UPSTREAM: Key = key(
    "[traffic]",
    "connections_per_upstream",
    "traffic.connections_per_upstream",
    ValueRange::integers(1, 10_000),
)
.because("connection counts multiply it by every replica; totals must fit 64 bits");
pub const CONNECTION_LIFETIME_MS: Key = key(
    "[traffic]",
    "connection_lifetime_ms",
    "traffic.connection_lifetime_ms",
    ValueRange::above(0.0, HOUR_MS),
);
pub const BURST_ON_MS: Key = key(
    "[traffic]",
    "burst_on_ms",
    "traffic.burst_on_ms",
    ValueRange::above(0.0, HOUR_MS),
);
pub const BURST_OFF_MS: Key = key(
    "[traffic]",
    "burst_off_ms",
    "traffic.burst_off_ms",
    ValueRange::numbers(0.0, HOUR_MS),
);
pub const APP_TIME_US: Key = key(
    "[traffic]",
    "app_time_us",
    "traffic.app_time_us",
    ValueRange::numbers(0.0, TIME_CEILING_US),
)
.because("the latency histograms measure up to 100 s");

pub const WAYPOINT_REPLICAS: Key = key(
    "[mesh.uproxy]",
    "waypoint_replicas",
    "mesh.uproxy.waypoint_replicas",
    ValueRange::integers(1, 1_000_000),
)
.because("each replica is a proxy the model counts, and a station in the latency simulation");

pub const DURATION_S: Key = key(
    "[latency]",
    "duration_s",
    "latency.duration_s",
    ValueRange::above(0.0, 1e6),
)
.because(
    "simulated time is counted in nanoseconds; longer runs gain nothing past the steady state",
);
pub const WARMUP_S: Key = key(
    "[latency]",
    "warmup_s",
    "latency.warmup_s",
    ValueRange::numbers(0.0, 1e6),
)
.because(
    "simulated time is counted in nanoseconds; longer runs gain nothing past the steady state",
);
pub const TIMEOUT_MS: Key = key(
    "[latency]",
    "timeout_ms",
    "latency.timeout_ms",
    ValueRange::above(0.0, HOUR_MS),
);
pub const MAX_QUEUE: Key = key(
    "[latency]",
    "max_queue",
    "latency.max_queue",
    ValueRange::integers(1, 1_000_000),
)
.because("each waiting request takes memory; Envoy's default is 1024");

pub const NODE_CORES: Key = key(
    "[bill]",
    "node_cores",
    "bill.node_cores",
    ValueRange::above(0.0, 10_000.0),
);
pub const NODE_MEMORY_GIB: Key = key(
    "[bill]",
    "node_memory_gib",
    "bill.node_memory_gib",
    ValueRange::above(0.0, 1_000_000.0),
);
pub const PRICE_PER_HOUR: Key = key(
    "[bill]",
    "price_per_hour",
    "bill.price_per_hour",
    ValueRange::numbers(0.0, 1_000_000.0),
);

/// Every key with a range, as docs/config.md lists them.
pub const KEYS: [Key; 41] = [
    SEED,
    NODES,
    MAX_PODS_PER_NODE_KEY,
    PODS_PER_NODE,
    SERVICES,
    NAMESPACES,
    CALLS_PER_SERVICE,
    L7_POLICY_FRACTION,
    CORES_PER_NODE,
    ENDPOINT_CHANGES_PER_SECOND,
    HOSTS_COUNT,
    HOSTS_CORES,
    NODE_GROUP_COUNT,
    NODE_GROUP_MAX_PODS,
    REPLICAS,
    HTTP_PORTS,
    TCP_PORTS,
    HTTP2_PORTS,
    GRPC_PORTS,
    SERVICE_RPS_PER_POD,
    PER_REQUEST,
    REQUEST_RATE,
    TREE_PER_REQUEST,
    REQUEST_PAYLOAD_BYTES,
    SERVICE_APP_TIME_US,
    RPS_PER_POD,
    SCALE,
    PAYLOAD_BYTES,
    CONNECTIONS_PER_UPSTREAM,
    CONNECTION_LIFETIME_MS,
    BURST_ON_MS,
    BURST_OFF_MS,
    APP_TIME_US,
    WAYPOINT_REPLICAS,
    DURATION_S,
    WARMUP_S,
    TIMEOUT_MS,
    MAX_QUEUE,
    NODE_CORES,
    NODE_MEMORY_GIB,
    PRICE_PER_HOUR,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_the_page_writes_them() {
        assert_eq!(NODES.range.to_string(), "integer in [1, 1,000,000]");
        assert_eq!(RPS_PER_POD.range.to_string(), "number in (0, 1,000,000]");
        assert_eq!(L7_POLICY_FRACTION.range.to_string(), "number in [0, 1]");
    }

    #[test]
    fn bounds_and_kinds_are_enforced() {
        let r = RPS_PER_POD.range;
        assert!(!r.contains(0.0) && r.contains(1e-9) && r.contains(1e6) && !r.contains(1e6 + 1.0));
        assert!(!r.contains(f64::NAN) && !r.contains(f64::INFINITY));
        let n = NODES.range;
        assert!(n.contains(1.0) && !n.contains(0.0) && !n.contains(1.5));
    }
}
