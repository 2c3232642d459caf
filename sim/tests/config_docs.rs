//! docs/config.md against the code: every default the page documents is the constant (or the
//! `#[default]` variant) the resolver uses, and every key with a default column is listed
//! here, so neither the page nor the code can change a default alone.

use serde::de::DeserializeOwned;
use sim::cluster::generate::ShortForm;
use sim::cluster::placement::PlacementStrategy;
use sim::cluster::{NodeGroup, Service};
use sim::config::Scenario;
use sim::engine::Scheduling;
use sim::latency::options::{LatencyOptions, ServiceTimeKind};
use sim::mesh::{
    Interception, LocalAcceleration, MeshOptions, MicroProxyPlacement, Scoping, WaypointScope,
};
use sim::traffic::{ArrivalKind, CallMode, Origin, PayloadKind, Traffic};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;

/// How to check a documented default.
type Check = Box<dyn Fn(&str) -> Result<(), String>>;

fn number(expected: f64) -> Check {
    Box::new(move |doc| match doc.parse::<f64>() {
        Ok(v) if v == expected => Ok(()),
        _ => Err(format!("the code's default is {expected}")),
    })
}

fn flag(expected: bool) -> Check {
    Box::new(move |doc| match doc.parse::<bool>() {
        Ok(v) if v == expected => Ok(()),
        _ => Err(format!("the code's default is {expected}")),
    })
}

/// The documented value, quoted as in a cluster file, names the enum's `#[default]` variant.
fn variant<T: DeserializeOwned + Default + PartialEq + Debug + 'static>() -> Check {
    Box::new(|doc| match serde_json::from_str::<T>(doc) {
        Ok(v) if v == T::default() => Ok(()),
        _ => Err(format!("the code's default is {:?}", T::default())),
    })
}

/// Defaults that are not a constant (none, another key, a rule): the page's words.
fn text(expected: impl Into<String>) -> Check {
    let expected = expected.into();
    Box::new(move |doc| {
        if doc == expected {
            Ok(())
        } else {
            Err(format!("expected `{expected}`"))
        }
    })
}

/// Every key with a default column on the page, by section heading.
fn expected() -> BTreeMap<(String, String), Check> {
    let entries: Vec<(&str, &str, Check)> = vec![
        ("Top level", "name", text("file name")),
        ("Top level", "seed", number(Scenario::DEFAULT_SEED as f64)),
        ("Top level", "namespaces", text("—")),
        ("[cluster]", "nodes", text("—")),
        (
            "[cluster]",
            "max_pods_per_node",
            number(NodeGroup::DEFAULT_MAX_PODS.into()),
        ),
        ("[cluster]", "pods_per_node", text("—")),
        ("[cluster]", "services", text("—")),
        (
            "[cluster]",
            "namespaces",
            text(format!(
                "⌈services / {}⌉",
                ShortForm::SERVICES_PER_NAMESPACE
            )),
        ),
        (
            "[cluster]",
            "calls_per_service",
            number(ShortForm::DEFAULT_CALLS_PER_SERVICE.into()),
        ),
        (
            "[cluster]",
            "l7_policy_fraction",
            number(ShortForm::DEFAULT_L7_POLICY_FRACTION),
        ),
        ("[[cluster.node_group]]", "name", text("—")),
        ("[[cluster.node_group]]", "count", text("—")),
        (
            "[[cluster.node_group]]",
            "max_pods",
            text("max_pods_per_node"),
        ),
        ("[[service]]", "name", text("—")),
        (
            "[[service]]",
            "namespace",
            text(format!("\"{}\"", Service::DEFAULT_NAMESPACE)),
        ),
        ("[[service]]", "replicas", text("—")),
        ("[[service]]", "service_account", text("the service's name")),
        (
            "[[service]]",
            "http_ports",
            text(format!("[{}]", Service::DEFAULT_HTTP_PORT)),
        ),
        ("[[service]]", "tcp_ports", text("[]")),
        ("[[service]]", "http2_ports", text("[]")),
        ("[[service]]", "grpc_ports", text("[]")),
        ("[[service]]", "calls", text("[]")),
        ("[[service]]", "per_request", number(1.0)),
        ("[[request]]", "name", text("—")),
        ("[[request]]", "entry", text("—")),
        ("[[request]]", "rate", text("—")),
        ("[[request]]", "arrivals", text("the entry's arrivals")),
        ("[[request]]", "mode", text("the service's call_mode")),
        (
            "[[request]]",
            "payload_bytes",
            text("traffic.payload_bytes"),
        ),
        ("[[request]]", "calls", text("[]")),
        ("[[request]]", "service", text("—")),
        ("[[request]]", "per_request", number(1.0)),
        ("[[service]]", "l7_policy", flag(false)),
        ("[[service]]", "rps_per_pod", text("traffic.rps_per_pod")),
        ("[[service]]", "call_mode", text("traffic.call_mode")),
        ("[[service]]", "arrivals", text("traffic.arrivals")),
        ("[[service]]", "app_time_us", text("traffic.app_time_us")),
        ("[[service]]", "origin", variant::<Origin>()),
        ("[cluster]", "cores_per_node", text("—")),
        (
            "[cluster]",
            "endpoint_changes_per_second",
            number(Scenario::DEFAULT_ENDPOINT_CHANGES_PER_SECOND),
        ),
        ("[cluster.hosts]", "count", text("—")),
        ("[cluster.hosts]", "cores", text("—")),
        (
            "[traffic]",
            "app_time_on_cpu",
            flag(Traffic::DEFAULT_APP_TIME_ON_CPU),
        ),
        ("[placement]", "strategy", variant::<PlacementStrategy>()),
        (
            "[traffic]",
            "rps_per_pod",
            number(Traffic::DEFAULT_RPS_PER_POD),
        ),
        ("[traffic]", "scale", number(Traffic::DEFAULT_SCALE)),
        (
            "[traffic]",
            "payload_bytes",
            number(Traffic::DEFAULT_PAYLOAD_BYTES as f64),
        ),
        (
            "[traffic]",
            "connection_reuse",
            flag(Traffic::DEFAULT_CONNECTION_REUSE),
        ),
        (
            "[traffic]",
            "connections_per_upstream",
            number(Traffic::DEFAULT_CONNECTIONS_PER_UPSTREAM.into()),
        ),
        (
            "[traffic]",
            "connection_lifetime_ms",
            number(Traffic::DEFAULT_CONNECTION_LIFETIME_MS),
        ),
        ("[traffic]", "arrivals", variant::<ArrivalKind>()),
        (
            "[traffic]",
            "burst_on_ms",
            number(Traffic::DEFAULT_BURST_ON_MS),
        ),
        (
            "[traffic]",
            "burst_off_ms",
            number(Traffic::DEFAULT_BURST_OFF_MS),
        ),
        ("[traffic]", "payload", variant::<PayloadKind>()),
        ("[traffic]", "call_mode", variant::<CallMode>()),
        (
            "[traffic]",
            "app_time_us",
            number(Traffic::DEFAULT_APP_TIME_US),
        ),
        ("[mesh]", "architectures", text("all")),
        ("[mesh]", "products", text("—")),
        (
            "[mesh]",
            "cilium_encryption",
            variant::<sim::product::CiliumEncryption>(),
        ),
        ("[bill]", "node_cores", text("—")),
        ("[bill]", "node_memory_gib", text("—")),
        ("[bill]", "price_per_hour", text("—")),
        (
            "[bill]",
            "currency",
            text(format!(
                "\"{}\"",
                sim::capacity::bill::NodeShape::DEFAULT_CURRENCY
            )),
        ),
        ("[mesh]", "scoping", variant::<Scoping>()),
        ("[mesh]", "interception", variant::<Interception>()),
        (
            "[mesh]",
            "local_acceleration",
            variant::<LocalAcceleration>(),
        ),
        (
            "[mesh.uproxy]",
            "micro_proxy",
            variant::<MicroProxyPlacement>(),
        ),
        ("[mesh.uproxy]", "waypoint", variant::<WaypointScope>()),
        (
            "[mesh.uproxy]",
            "waypoint_replicas",
            number(MeshOptions::DEFAULT_WAYPOINT_REPLICAS.into()),
        ),
        (
            "[latency]",
            "enabled",
            flag(LatencyOptions::DEFAULT_ENABLED),
        ),
        (
            "[latency]",
            "duration_s",
            number(LatencyOptions::DEFAULT_DURATION_S),
        ),
        (
            "[latency]",
            "warmup_s",
            number(LatencyOptions::DEFAULT_WARMUP_S),
        ),
        ("[latency]", "service_time", variant::<ServiceTimeKind>()),
        ("[latency]", "scheduling", variant::<Scheduling>()),
        (
            "[latency]",
            "timeout_ms",
            number(LatencyOptions::DEFAULT_TIMEOUT_MS),
        ),
        (
            "[latency]",
            "max_queue",
            number(LatencyOptions::DEFAULT_MAX_QUEUE.into()),
        ),
        ("[latency]", "envoy_histogram", text("—")),
        ("[latency]", "ztunnel_histogram", text("—")),
    ];
    entries
        .into_iter()
        .map(|(section, key, check)| ((section.to_string(), key.to_string()), check))
        .collect()
}

/// (section, key, default) for every row of every table with a `default` column. A row may
/// document several keys (`burst_on_ms`, `burst_off_ms`) with one default each, or one for
/// all; backticks and a trailing remark in parentheses are dropped from the default.
fn documented(page: &str) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    let mut section = String::new();
    let mut default_column = None;
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ").or(line.strip_prefix("### ")) {
            section = heading.replace('`', "");
            default_column = None;
            continue;
        }
        if !line.starts_with('|') {
            default_column = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.first() == Some(&"key") {
            default_column = cells.iter().position(|c| *c == "default");
            continue;
        }
        let Some(column) = default_column else {
            continue;
        };
        if cells[0].starts_with("---") {
            continue;
        }
        let keys: Vec<String> = cells[0].split(", ").map(|k| k.replace('`', "")).collect();
        let default = cells[column].replace('`', "");
        let default = match default.find(" (") {
            Some(i) => default[..i].to_string(),
            None => default,
        };
        let defaults: Vec<&str> = default.split(", ").collect();
        for (i, key) in keys.iter().enumerate() {
            let value = if defaults.len() == keys.len() {
                defaults[i]
            } else {
                default.as_str()
            };
            rows.push((section.clone(), key.clone(), value.to_string()));
        }
    }
    rows
}

#[test]
fn every_documented_default_is_the_code_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md");
    let page = std::fs::read_to_string(&path).expect("docs/config.md is readable");
    let mut expected = expected();
    let mut problems = Vec::new();
    for (section, key, default) in documented(&page) {
        match expected.remove(&(section.clone(), key.clone())) {
            None => problems.push(format!(
                "{section} {key}: documented, but not checked here (add it to `expected`)"
            )),
            Some(check) => {
                if let Err(why) = check(&default) {
                    problems.push(format!("{section} {key}: the page says `{default}`; {why}"));
                }
            }
        }
    }
    for (section, key) in expected.keys() {
        problems.push(format!("{section} {key}: no longer in docs/config.md"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// (section, keys, values cell) for every row of every table with a `values` column.
fn documented_values(page: &str) -> Vec<(String, Vec<String>, String)> {
    let mut rows = Vec::new();
    let mut section = String::new();
    let mut column = None;
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ").or(line.strip_prefix("### ")) {
            section = heading.replace('`', "");
            column = None;
            continue;
        }
        if !line.starts_with('|') {
            column = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if matches!(cells.first(), Some(&"key") | Some(&"parameter")) {
            column = cells.iter().position(|c| *c == "values");
            continue;
        }
        let Some(column) = column else { continue };
        if cells[0].starts_with("---") {
            continue;
        }
        let keys = cells[0].split(", ").map(|k| k.replace('`', "")).collect();
        rows.push((section.clone(), keys, cells[column].to_string()));
    }
    rows
}

/// docs/config.md's `values` column against `config::ranges::KEYS` and the models' parameter
/// ranges: every numeric key is documented with the range the checks apply, and nothing else
/// is documented as numeric.
#[test]
fn every_documented_range_is_the_code_range() {
    use sim::config::ranges::KEYS;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md");
    let page = std::fs::read_to_string(&path).expect("docs/config.md is readable");
    let mut unchecked: Vec<_> = KEYS.iter().collect();
    let mut problems = Vec::new();
    for (section, keys, values) in documented_values(&page) {
        for key in &keys {
            if section == "[models]" && key.starts_with('*') || key == "worker_threads" {
                let sample = key.replace('*', "x");
                match sim::cost_model::ranges::of(&sample) {
                    Some(range) if values.contains(&range.to_string()) => {}
                    other => problems.push(format!(
                        "[models] {key}: the page says `{values}`; the code's range is {other:?}"
                    )),
                }
                continue;
            }
            match KEYS.iter().find(|k| k.section == section && k.name == *key) {
                Some(k) => {
                    unchecked.retain(|u| *u != k);
                    if !values.contains(&k.range.to_string()) {
                        problems.push(format!(
                            "{section} {key}: the page says `{values}`; the code's range is `{}`",
                            k.range
                        ));
                    }
                }
                None if values.contains("integer") || values.contains("number") => problems
                    .push(format!(
                        "{section} {key}: documented as a number, but config::ranges has no range for it"
                    )),
                None => {}
            }
        }
    }
    for k in unchecked {
        problems.push(format!(
            "{} {}: has a range but is not on the page",
            k.section, k.name
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
