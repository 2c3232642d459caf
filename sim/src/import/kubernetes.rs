//! Kubernetes objects as `kubectl get … -o json` prints them (a `List`, or one object) or as
//! manifests (a folder of `.yaml`/`.yml`/`.json` files, several YAML documents a file): the
//! workloads (Deployments, StatefulSets, DaemonSets), the Services that select their pods
//! (ports, `appProtocol`, port names), ServiceAccounts, Pods (the nodes they name) and Nodes
//! (their allocatable pods and CPU). Other kinds are counted and skipped.
//!
//! Field names are the Kubernetes API's (apps/v1, core/v1).

use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A Deployment, StatefulSet or DaemonSet.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `spec.replicas` (Deployments and StatefulSets; Kubernetes' default is 1); none for a
    /// DaemonSet, which runs one pod on every node.
    pub replicas: Option<u32>,
    /// `spec.template.spec.serviceAccountName`, when given.
    pub service_account: Option<String>,
    /// `spec.template.metadata.labels`: what Services select.
    pub pod_labels: BTreeMap<String, String>,
    /// The file it came from.
    pub file: PathBuf,
}

/// A port of a Service.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub port: u16,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
    /// `protocol`: TCP (the default), UDP or SCTP.
    pub transport: String,
}

#[derive(Debug, Clone)]
pub struct KubeService {
    pub namespace: String,
    pub name: String,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<Port>,
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// `status.allocatable.pods`.
    pub pods: Option<u32>,
    /// `status.allocatable.cpu`, in cores (`3920m` is 3.92).
    pub cpu: Option<f64>,
}

/// Everything read from the Kubernetes sources.
#[derive(Debug, Default)]
pub struct Objects {
    pub workloads: Vec<Workload>,
    pub services: Vec<KubeService>,
    /// (namespace, name) of every ServiceAccount.
    pub service_accounts: Vec<(String, String)>,
    pub nodes: Vec<Node>,
    /// Nodes named by Pods' `spec.nodeName`, when no Node object is listed.
    pub pod_nodes: std::collections::BTreeSet<String>,
    /// Kinds not read, with how many of each.
    pub skipped: BTreeMap<String, u32>,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// Reads a file (a JSON List or object, or YAML documents) or every manifest in a folder, in
/// name order. A malformed file is an error at its line and column.
pub fn read(path: &Path) -> Result<Objects, Diagnostics> {
    let mut objects = Objects::default();
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Diagnostic::file(path, format!("cannot read the folder: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(
                Diagnostic::file(path, "no .yaml, .yml or .json manifests in this folder").into(),
            );
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut problems = Diagnostics::new();
    for file in files {
        match documents(&file) {
            Ok(docs) => {
                for doc in docs {
                    objects.add(&doc, &file);
                }
                objects.files.push(file);
            }
            Err(d) => problems.push(d),
        }
    }
    problems.into_result(objects)
}

/// The documents of one file: JSON when it starts with `{`, YAML otherwise.
fn documents(file: &Path) -> Result<Vec<Value>, Diagnostic> {
    let source = Arc::new(SourceFile::read(file)?);
    let text = source.text();
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map(|v| vec![v]).map_err(|e| {
            let at = offset(text, e.line(), e.column());
            Diagnostic::at(&source, at..at, format!("not valid JSON: {e}"))
        });
    }
    let mut docs = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        match Value::deserialize(document) {
            Ok(Value::Null) => {} // an empty document (`---` at the end)
            Ok(v) => docs.push(v),
            Err(e) => {
                let at = e.location().map_or(0, |l| l.index());
                return Err(Diagnostic::at(
                    &source,
                    at..at,
                    format!("not valid YAML: {e}"),
                ));
            }
        }
    }
    Ok(docs)
}

/// The byte offset of a 1-based line and column (serde_json's).
fn offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))?
        .as_str()
        .map(str::to_string)
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `3920m` → 3.92, `4` → 4.
fn cpu_cores(quantity: &Value) -> Option<f64> {
    match quantity {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

fn count(quantity: &Value) -> Option<u32> {
    match quantity {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Objects {
    fn add(&mut self, object: &Value, file: &Path) {
        let kind = text(object, &["kind"]).unwrap_or_default();
        if kind == "List" || kind.ends_with("List") {
            for item in object
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.add(item, file);
            }
            return;
        }
        let namespace =
            text(object, &["metadata", "namespace"]).unwrap_or_else(|| "default".into());
        let name = text(object, &["metadata", "name"]).unwrap_or_default();
        let spec = object.get("spec");
        match kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" => {
                let template = spec.and_then(|s| s.get("template"));
                self.workloads.push(Workload {
                    replicas: match kind.as_str() {
                        "DaemonSet" => None,
                        _ => Some(
                            spec.and_then(|s| s.get("replicas"))
                                .and_then(count)
                                .unwrap_or(1),
                        ),
                    },
                    service_account: template
                        .and_then(|t| text(t, &["spec", "serviceAccountName"])),
                    pod_labels: labels(template.and_then(|t| t.get("metadata")?.get("labels"))),
                    kind,
                    namespace,
                    name,
                    file: file.to_path_buf(),
                });
            }
            "Service" => {
                let ports = spec
                    .and_then(|s| s.get("ports"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        Some(Port {
                            port: u16::try_from(p.get("port")?.as_u64()?).ok()?,
                            name: text(p, &["name"]),
                            app_protocol: text(p, &["appProtocol"]),
                            transport: text(p, &["protocol"]).unwrap_or_else(|| "TCP".into()),
                        })
                    })
                    .collect();
                self.services.push(KubeService {
                    selector: labels(spec.and_then(|s| s.get("selector"))),
                    ports,
                    namespace,
                    name,
                    file: file.to_path_buf(),
                });
            }
            "ServiceAccount" => self.service_accounts.push((namespace, name)),
            "Pod" => {
                if let Some(node) = spec.and_then(|s| text(s, &["nodeName"])) {
                    self.pod_nodes.insert(node);
                }
            }
            "Node" => {
                let allocatable = object.get("status").and_then(|s| s.get("allocatable"));
                self.nodes.push(Node {
                    name,
                    pods: allocatable.and_then(|a| a.get("pods")).and_then(count),
                    cpu: allocatable.and_then(|a| a.get("cpu")).and_then(cpu_cores),
                });
            }
            _ => {
                let kind = if kind.is_empty() {
                    "(no kind)".into()
                } else {
                    kind
                };
                *self.skipped.entry(kind).or_default() += 1;
            }
        }
    }

    /// The Services whose selector picks `workload`'s pods (in its namespace).
    pub fn services_of<'a>(
        &'a self,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a KubeService> {
        self.services.iter().filter(move |s| {
            s.namespace == workload.namespace
                && !s.selector.is_empty()
                && s.selector
                    .iter()
                    .all(|(k, v)| workload.pod_labels.get(k) == Some(v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(cpu_cores(&Value::from("3920m")), Some(3.92));
        assert_eq!(cpu_cores(&Value::from("4")), Some(4.0));
        assert_eq!(count(&Value::from("110")), Some(110));
        assert_eq!(offset("ab\ncd\n", 2, 2), 4);
    }
}
