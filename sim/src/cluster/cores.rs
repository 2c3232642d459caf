//! Where a cluster's CPU is: which host each node runs on and how many cores each host has.
//! Processes on a node share its host's cores: proxies, applications and the kernel's work
//! on their packets. Without it (neither `cores_per_node` nor `[cluster.hosts]`) CPU is not
//! simulated: every proxy has its workers to itself and kernel and application time is delay.
//!
//! ```text
//! cores_per_node = 4                    node 0 ─ host 0 (4 cores), node 1 ─ host 1 (4 cores) …
//! [cluster.hosts] count = 1, cores = 1  nodes 0, 1, 2 … ─ host 0 (1 core): a testbed
//! ```

/// Hosts and the node → host map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cores {
    /// The host of each node, indexed by node.
    pub node_host: Vec<u32>,
    /// Cores of each host, indexed by host.
    pub host_cores: Vec<u32>,
}

impl Cores {
    /// Every node a host of its own with `cores` cores.
    pub fn per_node(nodes: usize, cores: u32) -> Self {
        Cores {
            node_host: (0..nodes as u32).collect(),
            host_cores: vec![cores; nodes],
        }
    }

    /// `nodes` dealt round-robin onto `hosts` hosts of `cores` cores each.
    pub fn shared(nodes: usize, hosts: u32, cores: u32) -> Self {
        Cores {
            node_host: (0..nodes as u32).map(|n| n % hosts).collect(),
            host_cores: vec![cores; hosts as usize],
        }
    }

    pub fn hosts(&self) -> usize {
        self.host_cores.len()
    }

    /// Cores of the host `node` runs on.
    pub fn cores_of_node(&self, node: u32) -> u32 {
        self.host_cores[self.node_host[node as usize] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_dealt_round_robin_onto_shared_hosts() {
        let cores = Cores::shared(5, 2, 3);
        assert_eq!(cores.node_host, [0, 1, 0, 1, 0]);
        assert_eq!(cores.cores_of_node(4), 3);
        assert_eq!(Cores::per_node(3, 8).node_host, [0, 1, 2]);
    }
}
