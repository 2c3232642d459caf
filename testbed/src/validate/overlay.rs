//! The scenario the simulator runs for one measured point: the validation file as written,
//! with what the testbed did written over it (the rate, the window, the architectures, the
//! calibrated profile, and the cores the mesh really had).
//!
//! The testbed's nodes are namespaces on one machine: every node's processes share the mesh's
//! CPUs. The simulator says so with `[cluster.hosts] count = 1, cores = <mesh CPUs>` (the
//! node-core model: every node on one host), replacing any cores the file gives.

use anyhow::{bail, Context as _, Result};
use sim::{config::Scenario, mesh::Architecture};

/// What the testbed did, to write over the file.
#[derive(Clone, Debug)]
pub struct Overlay {
    /// Total requests per second from outside (the file's entry rates are scaled to it).
    pub rate: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub architectures: Vec<Architecture>,
    /// The calibrated profile's name (added to the catalog by the caller).
    pub profile: Option<String>,
    /// CPUs the mesh was pinned to.
    pub mesh_cpus: usize,
}

/// The file's requests per second from outside: every pod of the services nobody calls.
pub fn entry_rate(scenario: &Scenario) -> f64 {
    let cluster = &scenario.cluster;
    cluster
        .services
        .iter()
        .enumerate()
        .filter(|(i, _)| cluster.call_graph.callers(*i as u32).is_empty())
        .map(|(_, s)| s.rps_per_pod * s.replicas as f64)
        .sum()
}

/// The file's text with the overlay written over it.
pub fn apply(text: &str, base_rate: f64, overlay: &Overlay) -> Result<String> {
    let mut doc: toml::Table = text.parse().context("the validation file is not TOML")?;
    if base_rate.is_nan() || base_rate <= 0.0 {
        bail!("the file sends no load from outside (no entry service with a rate)");
    }
    let factor = overlay.rate / base_rate;
    let traffic = table(&mut doc, "traffic")?;
    let rps = traffic
        .get("rps_per_pod")
        .and_then(number)
        .unwrap_or(sim::traffic::Traffic::DEFAULT_RPS_PER_POD);
    traffic.insert("rps_per_pod".into(), (rps * factor).into());
    if let Some(toml::Value::Array(services)) = doc.get_mut("service") {
        for service in services.iter_mut() {
            if let Some(table) = service.as_table_mut() {
                if let Some(rps) = table.get("rps_per_pod").and_then(number) {
                    table.insert("rps_per_pod".into(), (rps * factor).into());
                }
            }
        }
    }
    let latency = table(&mut doc, "latency")?;
    latency.insert("enabled".into(), true.into());
    latency.insert("warmup_s".into(), overlay.warmup_s.into());
    latency.insert("duration_s".into(), overlay.duration_s.into());
    let mesh = table(&mut doc, "mesh")?;
    mesh.insert(
        "architectures".into(),
        toml::Value::Array(
            overlay
                .architectures
                .iter()
                .map(|a| a.name().into())
                .collect(),
        ),
    );
    if let Some(profile) = &overlay.profile {
        table(&mut doc, "models")?.insert("profile".into(), profile.clone().into());
    }
    let cores = overlay.mesh_cpus as i64;
    let cluster = table(&mut doc, "cluster")?;
    cluster.remove("cores_per_node");
    let mut hosts = toml::Table::new();
    hosts.insert("count".into(), 1i64.into());
    hosts.insert("cores".into(), cores.into());
    cluster.insert("hosts".into(), hosts.into());
    Ok(toml::to_string(&doc)?)
}

fn number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
}

fn table<'a>(doc: &'a mut toml::Table, key: &str) -> Result<&'a mut toml::Table> {
    doc.entry(key)
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .with_context(|| format!("`{key}` in the validation file is not a table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
name = "t"
[cluster]
nodes = 2
[[service]]
name = "front"
replicas = 1
calls = ["back"]
[[service]]
name = "back"
replicas = 2
rps_per_pod = 50
[traffic]
rps_per_pod = 100
[latency]
duration_s = 60
"#;

    #[test]
    fn rates_scale_and_the_window_and_cores_are_written() {
        let overlay = Overlay {
            rate: 1000.0,
            warmup_s: 1.0,
            duration_s: 5.0,
            architectures: vec![Architecture::Sidecar, Architecture::Ebpf],
            profile: Some("testbed".into()),
            mesh_cpus: 1,
        };
        let text = apply(FILE, 100.0, &overlay).unwrap();
        let doc: toml::Table = text.parse().unwrap();
        assert_eq!(doc["traffic"]["rps_per_pod"].as_float(), Some(1000.0));
        assert_eq!(doc["service"][1]["rps_per_pod"].as_float(), Some(500.0));
        assert!(doc["service"][0].get("rps_per_pod").is_none());
        assert_eq!(doc["latency"]["duration_s"].as_float(), Some(5.0));
        assert_eq!(doc["mesh"]["architectures"][1].as_str(), Some("ebpf"));
        assert_eq!(doc["models"]["profile"].as_str(), Some("testbed"));
        assert_eq!(doc["cluster"]["hosts"]["cores"].as_integer(), Some(1));
        assert_eq!(doc["cluster"]["hosts"]["count"].as_integer(), Some(1));
        assert!(doc["cluster"].get("cores_per_node").is_none());
        assert_eq!(doc["cluster"]["nodes"].as_integer(), Some(2));
    }

    #[test]
    fn the_entry_rate_counts_only_services_nobody_calls() {
        let catalog = sim::cost_model::Catalog::embedded();
        let options = sim::config::LoadOptions::new(&catalog);
        let (scenario, _) =
            sim::config::load_str(std::path::Path::new("t.toml"), FILE, &options).unwrap();
        assert_eq!(entry_rate(&scenario), 100.0);
    }
}
