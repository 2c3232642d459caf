//! How large a cluster the testbed builds on one machine, and why. Every pod is a network
//! namespace with a workload server and, with `sidecar`, an HAProxy with its own threads,
//! all pinned to the mesh's CPUs; every node is a namespace with an agent or a proxy. The
//! caps keep a testbed's own idle work and set-up time small next to what it measures
//! (docs/testbed.md, "Limits", has the measurement).

use sim::config::Scenario;

use super::MeshError;

/// The caps `up` enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_nodes: usize,
    pub max_pods: usize,
}

impl Limits {
    /// Measured on the project's 2-core VM (docs/testbed.md, "Limits").
    pub const DEFAULT_MAX_NODES: usize = 32;
    /// The addressing allows 253 pods per node; 250 pods on 32 nodes were measured.
    pub const DEFAULT_MAX_PODS: usize = 256;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_nodes: Self::DEFAULT_MAX_NODES,
            max_pods: Self::DEFAULT_MAX_PODS,
        }
    }
}

const NODE_REASON: &str = "each node is a namespace with its own agent (and node proxy), all on the mesh's CPUs; 32 nodes with 250 pods took 20-50 s to come up on this 2-core machine (docs/testbed.md, \"Limits\")";
const POD_REASON: &str = "each pod runs a workload server, and with sidecar an HAProxy of ~20 MB, all pinned to the mesh's CPUs; 250 pods with sidecars took 49 s to come up and 5.1 GB of memory on this 2-core machine (docs/testbed.md, \"Limits\")";

/// Refuses a scenario larger than `limits`, or one the testbed cannot build (request types).
pub fn check(scenario: &Scenario, limits: &Limits) -> Result<(), MeshError> {
    let cluster = &scenario.cluster;
    if let Some(requests) = &cluster.requests {
        return Err(MeshError::RequestTypes {
            first: requests
                .types
                .first()
                .map_or_else(String::new, |t| t.name.clone()),
        });
    }
    if cluster.nodes() > limits.max_nodes {
        return Err(MeshError::TooLarge {
            what: "the node count",
            count: cluster.nodes(),
            limit: limits.max_nodes,
            reason: NODE_REASON,
        });
    }
    if cluster.pods() > limits.max_pods {
        return Err(MeshError::TooLarge {
            what: "the pod count",
            count: cluster.pods(),
            limit: limits.max_pods,
            reason: POD_REASON,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::config::{load_str, LoadOptions};
    use sim::cost_model::Catalog;
    use std::path::Path;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "[cluster]\nnodes = 1\n[[service]]\nname = \"front\"\nreplicas = 1\n[[service]]\nname = \"api\"\nreplicas = 1\n{extra}"
        );
        let catalog = Catalog::embedded();
        load_str(Path::new("t.toml"), &text, &LoadOptions::new(&catalog))
            .unwrap()
            .0
    }

    #[test]
    fn request_types_are_refused_and_per_service_calls_are_not() {
        let with_types = scenario(
            "[[request]]\nname = \"read\"\nentry = \"front\"\nrate = 5.0\ncalls = [{ service = \"api\" }]\n",
        );
        let error = check(&with_types, &Limits::default()).unwrap_err();
        assert!(error.to_string().contains("`read` first"), "{error}");
        let per_edge = scenario("");
        assert!(check(&per_edge, &Limits::default()).is_ok());
    }
}
