//! Which services call which: a directed graph kept in petgraph, with adjacency lists cached
//! for the hot loops of the models. Each call (edge) carries its mean calls per request of the
//! caller (`per_request`): a callee's load is the sum over its callers of the caller's rate ×
//! that mean (`cluster::edge_rates` fills them in).

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

#[derive(Debug, Clone)]
pub struct CallGraph {
    graph: DiGraph<u32, ()>,
    callees: Vec<Vec<u32>>,
    /// Calls per request of the caller, beside `callees`.
    per_request: Vec<Vec<f64>>,
    callers: Vec<Vec<u32>>,
}

impl PartialEq for CallGraph {
    fn eq(&self, other: &Self) -> bool {
        self.callees == other.callees && self.per_request == other.per_request
    }
}

impl CallGraph {
    /// A graph over `services` services with the given calls (caller, callee), in order, each
    /// made once per request until [`CallGraph::set_per_request`] says otherwise.
    pub fn new(services: usize, calls: &[(u32, u32)]) -> Self {
        let mut graph = DiGraph::with_capacity(services, calls.len());
        for s in 0..services {
            graph.add_node(s as u32);
        }
        let mut callees = vec![Vec::new(); services];
        let mut callers = vec![Vec::new(); services];
        for &(from, to) in calls {
            graph.add_edge(
                NodeIndex::new(from as usize),
                NodeIndex::new(to as usize),
                (),
            );
            callees[from as usize].push(to);
            callers[to as usize].push(from);
        }
        let per_request = callees.iter().map(|c| vec![1.0; c.len()]).collect();
        CallGraph {
            graph,
            callees,
            per_request,
            callers,
        }
    }

    /// Calls per request of `service` to each of its callees, beside [`CallGraph::callees`].
    pub fn per_request(&self, service: u32) -> &[f64] {
        &self.per_request[service as usize]
    }

    /// Sets the calls per request of `service`'s calls, one per callee in `callees` order.
    pub fn set_per_request(&mut self, service: u32, per_request: Vec<f64>) {
        assert_eq!(per_request.len(), self.callees[service as usize].len());
        self.per_request[service as usize] = per_request;
    }

    pub fn callees(&self, service: u32) -> &[u32] {
        &self.callees[service as usize]
    }

    pub fn callers(&self, service: u32) -> &[u32] {
        &self.callers[service as usize]
    }

    pub fn calls(&self) -> usize {
        self.graph.edge_count()
    }

    /// Every service after all the services it calls (callees first), or `None` when the
    /// graph has a cycle. Iterative: a chain of any length needs no deep stack.
    pub fn callees_first(&self) -> Option<Vec<u32>> {
        let order = petgraph::algo::toposort(&self.graph, None).ok()?;
        Some(order.into_iter().rev().map(|n| self.graph[n]).collect())
    }

    /// A cycle, as the list of services along it (first repeated at the end), if there is one.
    pub fn find_cycle(&self) -> Option<Vec<u32>> {
        let start = match petgraph::algo::toposort(&self.graph, None) {
            Ok(_) => return None,
            Err(cycle) => cycle.node_id(),
        };
        // Walk from a node on a cycle until we come back to it, by depth-first search.
        let mut path = vec![start];
        let mut next_edge = vec![0usize];
        let mut on_path = vec![false; self.graph.node_count()];
        on_path[start.index()] = true;
        while let Some(&node) = path.last() {
            let i = *next_edge.last().unwrap();
            let successors: Vec<NodeIndex> = self.graph.edges(node).map(|e| e.target()).collect();
            if i >= successors.len() {
                path.pop();
                next_edge.pop();
                continue;
            }
            *next_edge.last_mut().unwrap() += 1;
            let succ = successors[i];
            if succ == start {
                let mut cycle: Vec<u32> = path.iter().map(|n| self.graph[*n]).collect();
                cycle.push(self.graph[start]);
                return Some(cycle);
            }
            if !on_path[succ.index()] {
                on_path[succ.index()] = true;
                path.push(succ);
                next_edge.push(0);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_no_cycle_in_a_dag() {
        let g = CallGraph::new(3, &[(0, 1), (1, 2), (0, 2)]);
        assert_eq!(g.find_cycle(), None);
        assert_eq!(g.callers(2), &[1, 0]);
    }

    #[test]
    fn finds_a_cycle_and_its_path() {
        let g = CallGraph::new(4, &[(0, 1), (1, 2), (2, 3), (3, 1)]);
        let cycle = g.find_cycle().unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
    }

    #[test]
    fn callees_come_before_their_callers() {
        let g = CallGraph::new(4, &[(0, 1), (1, 2), (0, 2), (3, 0)]);
        let order = g.callees_first().unwrap();
        let at = |s: u32| order.iter().position(|&x| x == s).unwrap();
        assert!(at(2) < at(1) && at(1) < at(0) && at(0) < at(3));
        assert_eq!(CallGraph::new(2, &[(0, 1), (1, 0)]).callees_first(), None);
    }

    #[test]
    fn a_self_call_is_a_cycle() {
        let g = CallGraph::new(2, &[(0, 1), (1, 1)]);
        assert_eq!(g.find_cycle(), Some(vec![1, 1]));
    }
}
