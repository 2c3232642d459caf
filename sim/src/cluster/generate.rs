//! The short form: `nodes = 500, pods_per_node = 30, services = 300` expands into named
//! services, namespaces and a call graph, deterministically from the scenario's seed.
//!
//! - Pods are shared out evenly: every service gets `pods / services` replicas and the first
//!   `pods % services` get one more.
//! - Services are dealt into namespaces in contiguous blocks (service `i` lives in namespace
//!   `i × namespaces / services`, as a team's services share one) and each runs as its own
//!   service account.
//! - Service `i` calls `calls_per_service` distinct services drawn among those after it, so
//!   the call graph is acyclic; the last services call fewer, the very last none.
//! - Each service is under L7 policy with probability `l7_policy_fraction`.

use rand::seq::index::sample;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What the short form asks for, already checked for range.
#[derive(Debug, Clone, Copy)]
pub struct ShortForm {
    pub pods: u64,
    pub services: u32,
    pub namespaces: u32,
    pub calls_per_service: u32,
    pub l7_policy_fraction: f64,
}

/// What the short form's optional keys are when the file leaves them out (docs/config.md
/// lists the same; a test holds the two together).
impl ShortForm {
    /// Namespaces: one per this many services, rounded up.
    pub const SERVICES_PER_NAMESPACE: u32 = 30;
    pub const DEFAULT_CALLS_PER_SERVICE: u32 = 3;
    pub const DEFAULT_L7_POLICY_FRACTION: f64 = 0.25;

    /// The calls `generate` makes, without generating them: service `i` calls
    /// `min(calls_per_service, services - 1 - i)` services.
    pub fn calls(services: u32, calls_per_service: u32) -> u64 {
        let (s, k) = (services as u64, calls_per_service as u64);
        if s == 0 {
            return 0;
        }
        // Services 0 ..= s-1-k call k each; the last k call k-1, k-2, ..., 0.
        let k = k.min(s - 1);
        (s - k) * k + k * k.saturating_sub(1) / 2
    }
}

/// One generated service, before ports, rates and placement are attached.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedService {
    pub name: String,
    pub namespace: u32,
    pub replicas: u32,
    pub calls: Vec<u32>,
    pub l7_policy: bool,
}

pub fn namespace_name(i: u32, namespaces: u32) -> String {
    format!(
        "ns-{:0width$}",
        i,
        width = digits(namespaces.saturating_sub(1))
    )
}

pub fn generate(form: ShortForm, rng: &mut ChaCha8Rng) -> Vec<GeneratedService> {
    let s = form.services as u64;
    let (base, extra) = (form.pods / s, form.pods % s);
    let width = digits(form.services.saturating_sub(1));
    (0..form.services)
        .map(|i| {
            let later = form.services - 1 - i;
            let k = form.calls_per_service.min(later);
            let mut calls: Vec<u32> = sample(rng, later as usize, k as usize)
                .into_iter()
                .map(|j| i + 1 + j as u32)
                .collect();
            calls.sort_unstable();
            GeneratedService {
                name: format!("svc-{i:0width$}"),
                namespace: (i as u64 * form.namespaces as u64 / s) as u32,
                replicas: (base + u64::from((i as u64) < extra)) as u32,
                calls,
                l7_policy: rng.gen_bool(form.l7_policy_fraction),
            }
        })
        .collect()
}

fn digits(n: u32) -> usize {
    n.max(1).ilog10() as usize + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn form() -> ShortForm {
        ShortForm {
            pods: 15_000,
            services: 300,
            namespaces: 10,
            calls_per_service: 3,
            l7_policy_fraction: 0.25,
        }
    }

    #[test]
    fn shares_out_every_pod_and_calls_only_later_services() {
        let services = generate(form(), &mut ChaCha8Rng::seed_from_u64(42));
        assert_eq!(
            services.iter().map(|s| s.replicas as u64).sum::<u64>(),
            15_000
        );
        assert!(services.iter().all(|s| s.replicas == 50));
        for (i, s) in services.iter().enumerate() {
            assert!(s.calls.iter().all(|&c| c as usize > i));
            assert_eq!(s.calls.len(), 3.min(299 - i));
        }
        assert_eq!(services[0].name, "svc-000");
        assert_eq!(namespace_name(3, 10), "ns-3");
    }

    #[test]
    fn the_call_count_is_what_the_generator_makes() {
        for (services, k) in [(1, 0), (1, 5), (2, 1), (10, 3), (10, 9), (10, 50), (300, 3)] {
            let form = ShortForm {
                pods: services as u64,
                services,
                namespaces: 1,
                calls_per_service: k,
                l7_policy_fraction: 0.0,
            };
            let made: usize = generate(form, &mut ChaCha8Rng::seed_from_u64(1))
                .iter()
                .map(|s| s.calls.len())
                .sum();
            assert_eq!(
                ShortForm::calls(services, k),
                made as u64,
                "{services} × {k}"
            );
        }
    }

    #[test]
    fn same_seed_same_services_other_seed_other_graph() {
        let a = generate(form(), &mut ChaCha8Rng::seed_from_u64(42));
        let b = generate(form(), &mut ChaCha8Rng::seed_from_u64(42));
        let c = generate(form(), &mut ChaCha8Rng::seed_from_u64(43));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
