//! Observed traffic, whatever its source: requests per second from one workload to another
//! (or from outside the mesh), with where each figure came from.

/// Who sent or received the requests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// A workload in the mesh: (namespace, name).
    Workload(String, String),
    /// Outside the mesh (Istio's `unknown` source, Hubble's `world`).
    Outside,
}

impl Endpoint {
    /// A workload, or outside when the name is missing or `unknown`.
    pub fn workload(namespace: Option<&str>, name: Option<&str>) -> Endpoint {
        match (namespace, name) {
            (_, None) | (_, Some("" | "unknown")) => Endpoint::Outside,
            (ns, Some(name)) => Endpoint::Workload(
                ns.filter(|n| !n.is_empty() && *n != "unknown")
                    .unwrap_or("default")
                    .to_string(),
                name.to_string(),
            ),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Workload(ns, name) => write!(f, "{ns}/{name}"),
            Endpoint::Outside => f.write_str("outside the mesh"),
        }
    }
}

/// Requests per second from one endpoint to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: Endpoint,
    pub to: Endpoint,
    pub rps: f64,
    /// Where the figure came from, for the file's comments (`Prometheus http://…`,
    /// `hubble flows.jsonl`).
    pub source: String,
}
