//! `sim import`: a cluster.toml from what a real cluster says about itself, each value
//! commented with where it came from. One file per source:
//!
//! ```text
//! kubernetes  kubectl get … -o json, or YAML manifests ──▶ workloads, ports, accounts, nodes
//! prometheus  istio_requests_total over a window ───────▶ edges and rates ─┐
//! hubble      flow exports (JSON lines) ────────────────▶ edges and rates ─┤ observed
//!                                                                           ▼
//! draft       services, entry rates, calls per request (per-edge form)
//! write       the cluster.toml text
//! ```
//!
//! docs/import.md says what is read from where, and the limits.

pub mod draft;
pub mod http;
pub mod hubble;
pub mod kubernetes;
pub mod observed;
pub mod prometheus;
pub mod write;

use meshtwin_diagnostics::{Diagnostic, Diagnostics};
use std::path::PathBuf;

/// What to import from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub kubernetes: Vec<PathBuf>,
    pub prometheus: Option<String>,
    pub prometheus_json: Vec<PathBuf>,
    pub hubble: Vec<PathBuf>,
    /// A Prometheus duration (`5m`): the rate window of the queries, and Hubble's window.
    pub window: String,
    /// Whether `window` was given (Hubble otherwise measures its flows' own span).
    pub window_given: bool,
    pub name: String,
}

/// The cluster file's text, and notes for the user (skipped kinds, dropped edges).
pub fn import(sources: &Sources) -> Result<(String, Vec<String>), Diagnostics> {
    let window_s = prometheus::window_seconds(&sources.window).ok_or_else(|| {
        Diagnostic::file(
            "--window",
            format!("`{}` is not a duration like 30s, 5m or 1h", sources.window),
        )
    })?;
    if sources.kubernetes.is_empty()
        && sources.prometheus.is_none()
        && sources.prometheus_json.is_empty()
        && sources.hubble.is_empty()
    {
        return Err(Diagnostic::file(
            "sim import",
            "nothing to import: give --kubernetes, --prometheus, --prometheus-json or --hubble",
        )
        .into());
    }
    let mut described = Vec::new();
    let mut problems = Diagnostics::new();
    let mut objects: Option<kubernetes::Objects> = None;
    let mut duplicates = Vec::new();
    for path in &sources.kubernetes {
        match kubernetes::read(path) {
            Ok(o) => {
                described.push(format!(
                    "Kubernetes objects {} ({} workloads, {} Services, {} Nodes)",
                    path.display(),
                    o.workloads.len(),
                    o.services.len(),
                    o.nodes.len()
                ));
                let all = objects.get_or_insert_with(Default::default);
                for w in o.workloads {
                    // The same workload in two sources (a listing and a manifest): the first.
                    let seen = all
                        .workloads
                        .iter()
                        .any(|x| x.namespace == w.namespace && x.name == w.name);
                    if seen {
                        duplicates.push(format!(
                            "{} {}/{} in {} (already read)",
                            w.kind,
                            w.namespace,
                            w.name,
                            w.file.display()
                        ));
                    } else {
                        all.workloads.push(w);
                    }
                }
                for svc in o.services {
                    if !all
                        .services
                        .iter()
                        .any(|x| x.namespace == svc.namespace && x.name == svc.name)
                    {
                        all.services.push(svc);
                    }
                }
                for sa in o.service_accounts {
                    if !all.service_accounts.contains(&sa) {
                        all.service_accounts.push(sa);
                    }
                }
                for node in o.nodes {
                    if !all.nodes.iter().any(|x| x.name == node.name) {
                        all.nodes.push(node);
                    }
                }
                all.pod_nodes.extend(o.pod_nodes);
                for (k, n) in o.skipped {
                    *all.skipped.entry(k).or_default() += n;
                }
            }
            Err(d) => d.into_iter().for_each(|x| problems.push(x)),
        }
    }
    let mut edges = Vec::new();
    if let Some(url) = &sources.prometheus {
        match prometheus::query(url, &sources.window) {
            Ok(e) => {
                described.push(format!(
                    "Prometheus {url}: `{}` and `{}`",
                    prometheus::mesh_query(&sources.window),
                    prometheus::outside_query(&sources.window)
                ));
                edges.extend(e);
            }
            Err(d) => d.into_iter().for_each(|x| problems.push(x)),
        }
    }
    for path in &sources.prometheus_json {
        match prometheus::read_saved(path) {
            Ok(e) => {
                described.push(format!("saved Prometheus response {}", path.display()));
                edges.extend(e);
            }
            Err(d) => d.into_iter().for_each(|x| problems.push(x)),
        }
    }
    for path in &sources.hubble {
        match hubble::read(path, sources.window_given.then_some(window_s)) {
            Ok(e) => {
                described.push(format!("Hubble flows {}", path.display()));
                edges.extend(e);
            }
            Err(d) => d.into_iter().for_each(|x| problems.push(x)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let traffic_given = sources.prometheus.is_some()
        || !sources.prometheus_json.is_empty()
        || !sources.hubble.is_empty();
    let mut draft = draft::assemble(objects.as_ref(), &edges, traffic_given);
    if let Some(o) = &objects {
        if !o.skipped.is_empty() {
            let kinds: Vec<String> = o.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
            draft.header.insert(
                0,
                format!("skipped, not read by sim import: {}", kinds.join(", ")),
            );
        }
    }
    draft
        .header
        .extend(duplicates.into_iter().map(|d| format!("skipped {d}")));
    if !traffic_given {
        draft.header.push(
            "no traffic source given: every service serves traffic.rps_per_pod (10 unless set) and calls nobody; add --prometheus, --prometheus-json or --hubble for rates and calls".into(),
        );
    }
    let notes = draft.header.clone();
    Ok((write::toml(&draft, &sources.name, &described), notes))
}
