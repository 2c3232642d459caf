//! How the load of a cluster flows along its calls. The invariant every form keeps: a
//! service's load (requests per second over all its pods) is the sum over its callers of the
//! caller's load × the caller's calls to it per request; a service nobody calls takes its load
//! from outside the mesh (or from a load generator in its own pods).
//!
//! Two ways to write it down, and the other half follows:
//! - per-service loads (every `rps_per_pod` given, the short form and `[[service]]` files
//!   whose calls are plain names): a callee's load is shared among its callers in proportion
//!   to their pods, so a caller `s` of `c` calls it
//!   `k = rps(c) × replicas(c) / caller_pods(c) / rps(s)` times per request
//!   ([`per_request_from_loads`]);
//! - per-edge counts (`calls = [{ service, per_request }]`, or request types): the callers'
//!   loads times their counts give each callee's load ([`loads_from_per_request`]).

use super::{CallGraph, Service};

/// Fills in every call's count per request from the services' own rates.
pub fn per_request_from_loads(services: &[Service], graph: &mut CallGraph) {
    let caller_pods: Vec<u64> = (0..services.len() as u32)
        .map(|c| {
            graph
                .callers(c)
                .iter()
                .map(|&s| services[s as usize].replicas as u64)
                .sum()
        })
        .collect();
    for (s, caller) in services.iter().enumerate() {
        let per_request = graph
            .callees(s as u32)
            .iter()
            .map(|&c| {
                let callee = &services[c as usize];
                // The callee's load per caller pod, over what one caller pod serves.
                let to_c_per_caller_pod =
                    callee.rps_per_pod * callee.replicas as f64 / caller_pods[c as usize] as f64;
                to_c_per_caller_pod / caller.rps_per_pod
            })
            .collect();
        graph.set_per_request(s as u32, per_request);
    }
}

/// Sets the rate of every service somebody calls from its callers' rates and counts; the
/// rates of services nobody calls stay as given. The graph must have no cycle.
pub fn loads_from_per_request(services: &mut [Service], graph: &CallGraph) {
    let order = graph
        .callees_first()
        .expect("a checked call graph has no cycle");
    let mut load: Vec<f64> = services
        .iter()
        .enumerate()
        .map(|(s, svc)| {
            if graph.callers(s as u32).is_empty() {
                svc.rps_per_pod * svc.replicas as f64
            } else {
                0.0
            }
        })
        .collect();
    // Callers first: a service's load is complete before it is passed on.
    for &s in order.iter().rev() {
        for (&c, &k) in graph.callees(s).iter().zip(graph.per_request(s)) {
            load[c as usize] += load[s as usize] * k;
        }
    }
    for (s, svc) in services.iter_mut().enumerate() {
        if !graph.callers(s as u32).is_empty() {
            svc.rps_per_pod = load[s] / svc.replicas as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{ArrivalKind, CallMode, Origin};

    fn service(name: &str, replicas: u32, rps_per_pod: f64) -> Service {
        Service {
            name: name.into(),
            namespace: 0,
            service_account: 0,
            replicas,
            http_ports: vec![8080],
            tcp_ports: vec![],
            protocol: crate::cluster::protocol::Protocol::Http1,
            l7_policy: false,
            rps_per_pod,
            call_mode: CallMode::Sequential,
            arrivals: ArrivalKind::Poisson,
            app_time_us: 0.0,
            origin: Origin::Outside,
            first_pod: 0,
        }
    }

    /// Issue 15's shop: checkout calls currency 3 times per request, and so does the
    /// frontend once. Currency's load is 3 × checkout's plus the frontend's, not a share.
    #[test]
    fn a_callee_called_three_times_per_request_gets_three_times_the_callers_rate() {
        let mut services = vec![
            service("frontend", 4, 25.0),
            service("checkout", 2, 999.0),
            service("currency", 5, 999.0),
        ];
        let mut graph = CallGraph::new(3, &[(0, 1), (1, 2), (0, 2)]);
        graph.set_per_request(0, vec![0.5, 1.0]);
        graph.set_per_request(1, vec![3.0]);
        loads_from_per_request(&mut services, &graph);
        // frontend: 100 rps; checkout: 50 rps; currency: 3 × 50 + 100 = 250 rps.
        assert_eq!(services[1].rps_per_pod * 2.0, 50.0);
        assert_eq!(services[2].rps_per_pod * 5.0, 250.0);
    }

    #[test]
    fn counts_from_loads_give_back_the_loads() {
        let mut services = vec![
            service("a", 2, 10.0),
            service("b", 3, 10.0),
            service("c", 4, 30.0),
        ];
        let mut graph = CallGraph::new(3, &[(0, 2), (1, 2)]);
        per_request_from_loads(&services, &mut graph);
        // c's 120 rps over 5 caller pods: 24 per caller pod, 2.4 calls per request.
        assert_eq!(graph.per_request(0), &[2.4]);
        assert_eq!(graph.per_request(1), &[2.4]);
        let given = services[2].rps_per_pod;
        loads_from_per_request(&mut services, &graph);
        assert!((services[2].rps_per_pod - given).abs() < 1e-9);
    }
}
