//! Where pods run. Pods are placed one by one in pod order (service by service), so a
//! service's replicas land on different nodes under `spread`, as the Kubernetes scheduler's
//! default spreading tends to.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// How pods are placed on nodes (`[placement] strategy`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementStrategy {
    /// Each pod goes to the least-filled node (by fraction of its capacity).
    #[default]
    Spread,
    /// Nodes are filled one after the other.
    Pack,
    /// Each pod goes to a node drawn with the scenario's seed among those with room.
    Random,
}

/// Places `pods` pods on nodes with the given capacities. The caller has checked that the
/// pods fit (`pods <= sum of capacities`).
pub fn place(
    pods: usize,
    node_max_pods: &[u32],
    strategy: PlacementStrategy,
    rng: &mut ChaCha8Rng,
) -> Vec<u32> {
    debug_assert!(pods as u64 <= node_max_pods.iter().map(|&c| c as u64).sum::<u64>());
    match strategy {
        PlacementStrategy::Spread => spread(pods, node_max_pods),
        PlacementStrategy::Pack => pack(pods, node_max_pods),
        PlacementStrategy::Random => random(pods, node_max_pods, rng),
    }
}

/// A node's fill: pods placed over capacity, compared exactly (no floating point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fill {
    pods: u32,
    capacity: u32,
    node: u32,
}

impl Ord for Fill {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.pods as u64 * other.capacity as u64;
        let b = other.pods as u64 * self.capacity as u64;
        a.cmp(&b).then(self.node.cmp(&other.node))
    }
}

impl PartialOrd for Fill {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn spread(pods: usize, node_max_pods: &[u32]) -> Vec<u32> {
    let mut heap: BinaryHeap<Reverse<Fill>> = node_max_pods
        .iter()
        .enumerate()
        .filter(|(_, &capacity)| capacity > 0)
        .map(|(node, &capacity)| {
            Reverse(Fill {
                pods: 0,
                capacity,
                node: node as u32,
            })
        })
        .collect();
    let mut placed = Vec::with_capacity(pods);
    for _ in 0..pods {
        let Reverse(mut least) = heap.pop().expect("pods fit (checked by the caller)");
        placed.push(least.node);
        least.pods += 1;
        if least.pods < least.capacity {
            heap.push(Reverse(least));
        }
    }
    placed
}

fn pack(pods: usize, node_max_pods: &[u32]) -> Vec<u32> {
    node_max_pods
        .iter()
        .enumerate()
        .flat_map(|(node, &capacity)| std::iter::repeat_n(node as u32, capacity as usize))
        .take(pods)
        .collect()
}

fn random(pods: usize, node_max_pods: &[u32], rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut room: Vec<(u32, u32)> = node_max_pods
        .iter()
        .enumerate()
        .filter(|(_, &capacity)| capacity > 0)
        .map(|(node, &capacity)| (node as u32, capacity))
        .collect();
    let mut placed = Vec::with_capacity(pods);
    for _ in 0..pods {
        let i = rng.gen_range(0..room.len());
        placed.push(room[i].0);
        room[i].1 -= 1;
        if room[i].1 == 0 {
            room.swap_remove(i);
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn counts(placed: &[u32], nodes: usize) -> Vec<u32> {
        let mut c = vec![0; nodes];
        for &n in placed {
            c[n as usize] += 1;
        }
        c
    }

    #[test]
    fn spread_balances_equal_nodes_exactly() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let placed = place(100, &[110; 3], PlacementStrategy::Spread, &mut rng);
        assert_eq!(counts(&placed, 3), vec![34, 33, 33]);
        // consecutive pods (replicas of one service) go to different nodes
        assert_ne!(placed[0], placed[1]);
    }

    #[test]
    fn spread_follows_capacity_ratios() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let placed = place(30, &[10, 20], PlacementStrategy::Spread, &mut rng);
        assert_eq!(counts(&placed, 2), vec![10, 20]);
    }

    #[test]
    fn pack_fills_nodes_in_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let placed = place(5, &[2, 2, 2], PlacementStrategy::Pack, &mut rng);
        assert_eq!(placed, vec![0, 0, 1, 1, 2]);
    }

    #[test]
    fn random_respects_capacity_and_the_seed() {
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            place(60, &[20, 20, 20], PlacementStrategy::Random, &mut rng)
        };
        assert_eq!(counts(&run(7), 3), vec![20, 20, 20]);
        assert_eq!(run(7), run(7));
        let a = place(
            10,
            &[20, 20, 20],
            PlacementStrategy::Random,
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        let b = place(
            10,
            &[20, 20, 20],
            PlacementStrategy::Random,
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        assert_ne!(a, b);
    }
}
