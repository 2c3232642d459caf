//! The cluster file `sim import` will write, assembled from what the sources said: one
//! `[[service]]` per workload, each value with a note saying where it came from.
//!
//! Traffic becomes per-edge calls (`calls = [{ service, per_request }]`). In that form the
//! simulator gives a called service the sum of its callers' rates × their calls per request,
//! and a service nobody calls its own `rps_per_pod`. So that every edge's simulated rate is its
//! observed rate, a call's `per_request` is the edge's rate over the rate the model gives its
//! caller: the requests from outside the mesh for a service nobody in the mesh calls, the sum
//! of its callers' edges otherwise. What the form cannot hold is dropped and noted: requests
//! from outside to a service that is also called inside the mesh, and, since the call graph
//! may have no cycle, the quietest edge of each cycle.

use super::kubernetes::Objects;
use super::observed::{Edge, Endpoint};
use std::collections::BTreeMap;

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Noted<T> {
    pub value: T,
    pub from: String,
}

fn noted<T>(value: T, from: impl Into<String>) -> Noted<T> {
    Noted {
        value,
        from: from.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Call {
    pub callee: usize,
    pub per_request: f64,
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub namespace: Noted<String>,
    pub replicas: Noted<u32>,
    pub service_account: Option<Noted<String>>,
    pub http_ports: Vec<Noted<u16>>,
    pub http2_ports: Vec<Noted<u16>>,
    pub grpc_ports: Vec<Noted<u16>>,
    pub tcp_ports: Vec<Noted<u16>>,
    pub rps_per_pod: Option<Noted<f64>>,
    pub calls: Vec<Call>,
    /// Comment lines above the entry.
    pub notes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Draft {
    pub nodes: Option<Noted<u32>>,
    pub max_pods_per_node: Option<Noted<u32>>,
    /// Written commented out: simulating cores changes what the run models.
    pub cores_per_node: Option<Noted<u32>>,
    pub services: Vec<Service>,
    /// Comment lines at the top of the file (sources, skipped objects, dropped traffic).
    pub header: Vec<String>,
}

/// The most calls per request a `calls` entry may say (`per_request`'s range).
const MAX_PER_REQUEST: f64 = 1000.0;
/// The rate given to a service no observed traffic reached, since `rps_per_pod` must be
/// above 0: one request per 1,000 s per pod.
const IDLE_RPS_PER_POD: f64 = 0.001;

/// The draft of the cluster: workloads from `objects`, traffic from `edges` (none when no
/// traffic source was given: `traffic_given` false).
pub fn assemble(objects: Option<&Objects>, edges: &[Edge], traffic_given: bool) -> Draft {
    let mut draft = Draft::default();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    if let Some(objects) = objects {
        nodes(objects, &mut draft);
        for w in &objects.workloads {
            let origin = format!(
                "{} {}/{} ({})",
                w.kind,
                w.namespace,
                w.name,
                w.file.display()
            );
            let replicas = match w.replicas {
                Some(r) => noted(
                    r.max(1),
                    format!(
                        "{origin} spec.replicas{}",
                        if r == 0 { " is 0: one pod kept" } else { "" }
                    ),
                ),
                None => {
                    let n = draft.nodes.as_ref().map_or(1, |n| n.value);
                    noted(
                        n,
                        format!("{origin}: a DaemonSet runs a pod on each of the {n} nodes"),
                    )
                }
            };
            let mut s = Service {
                name: w.name.clone(),
                namespace: noted(w.namespace.clone(), origin.clone()),
                replicas,
                service_account: Some(match &w.service_account {
                    Some(sa) => {
                        let listed = objects
                            .service_accounts
                            .iter()
                            .any(|(ns, n)| *ns == w.namespace && n == sa);
                        noted(
                            sa.clone(),
                            format!(
                                "{origin} spec.template.spec.serviceAccountName{}",
                                if listed {
                                    ""
                                } else {
                                    " (no ServiceAccount object listed)"
                                }
                            ),
                        )
                    }
                    None => noted(
                        "default".into(),
                        format!("{origin}: no serviceAccountName, Kubernetes' default"),
                    ),
                }),
                http_ports: Vec::new(),
                http2_ports: Vec::new(),
                grpc_ports: Vec::new(),
                tcp_ports: Vec::new(),
                rps_per_pod: None,
                calls: Vec::new(),
                notes: Vec::new(),
            };
            ports(objects, w, &mut s);
            index.insert((w.namespace.clone(), w.name.clone()), draft.services.len());
            draft.services.push(s);
        }
    }
    // Traffic: an endpoint the objects do not list is a service when it receives (or when no
    // objects were given), and outside the mesh when it only sends (a gateway, a client).
    let mut outside: BTreeMap<usize, (f64, String)> = BTreeMap::new();
    let mut mesh: BTreeMap<(usize, usize), (f64, String)> = BTreeMap::new();
    for e in edges {
        let to = match &e.to {
            Endpoint::Workload(ns, name) => {
                service_for(&mut draft, &mut index, ns, name, &e.source)
            }
            Endpoint::Outside => continue,
        };
        let from = match &e.from {
            Endpoint::Workload(ns, name)
                if objects.is_none() || index.contains_key(&(ns.clone(), name.clone())) =>
            {
                Some(service_for(&mut draft, &mut index, ns, name, &e.source))
            }
            Endpoint::Workload(ns, name) => {
                draft.header.push(format!("{ns}/{name} sends traffic but is not among the Kubernetes objects: its requests count as from outside the mesh"));
                None
            }
            Endpoint::Outside => None,
        };
        match from {
            Some(from) if from == to => draft.header.push(format!(
                "{} calls itself ({:.3} rps, {}): a call graph has no self-calls, dropped",
                e.to, e.rps, e.source
            )),
            Some(from) => {
                let entry = mesh.entry((from, to)).or_insert((0.0, e.source.clone()));
                if entry.1 == e.source {
                    entry.0 += e.rps;
                } else {
                    draft.header.push(format!(
                        "{} → {}: also seen by {} ({:.3} rps), not added",
                        e.from, e.to, e.source, e.rps
                    ));
                }
            }
            None => {
                let entry = outside.entry(to).or_insert((0.0, e.source.clone()));
                entry.0 += e.rps;
            }
        }
    }
    header_dedup(&mut draft.header);
    break_cycles(&mut draft, &mut mesh);
    rates(&mut draft, &mesh, &outside, traffic_given);
    draft
}

fn header_dedup(lines: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    lines.retain(|l| seen.insert(l.clone()));
}

fn service_for(
    draft: &mut Draft,
    index: &mut BTreeMap<(String, String), usize>,
    namespace: &str,
    name: &str,
    source: &str,
) -> usize {
    let key = (namespace.to_string(), name.to_string());
    if let Some(&i) = index.get(&key) {
        return i;
    }
    let from = format!("seen only in traffic ({source})");
    draft.services.push(Service {
        name: name.to_string(),
        namespace: noted(namespace.to_string(), from.clone()),
        replicas: noted(1, format!("{from}: replicas unknown, 1 assumed")),
        service_account: None,
        http_ports: Vec::new(),
        http2_ports: Vec::new(),
        grpc_ports: Vec::new(),
        tcp_ports: Vec::new(),
        rps_per_pod: None,
        calls: Vec::new(),
        notes: Vec::new(),
    });
    index.insert(key, draft.services.len() - 1);
    draft.services.len() - 1
}

/// Node count and size: the Node objects, or the nodes Pods name.
fn nodes(objects: &Objects, draft: &mut Draft) {
    if !objects.nodes.is_empty() {
        let n = objects.nodes.len() as u32;
        draft.nodes = Some(noted(n, format!("{n} Node objects")));
        if let Some(node) = objects
            .nodes
            .iter()
            .filter(|n| n.pods.is_some())
            .min_by_key(|n| n.pods)
        {
            let pods = node.pods.unwrap_or_default();
            draft.max_pods_per_node = Some(noted(
                pods,
                format!(
                    "Node {} status.allocatable.pods, the smallest of the nodes",
                    node.name
                ),
            ));
        }
        if let Some(node) = objects
            .nodes
            .iter()
            .filter(|n| n.cpu.is_some())
            .min_by(|a, b| {
                a.cpu
                    .partial_cmp(&b.cpu)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        {
            let cores = node.cpu.unwrap_or_default().floor() as u32;
            if cores >= 1 {
                draft.cores_per_node = Some(noted(cores, format!("Node {} status.allocatable.cpu {}, the smallest (uncomment to simulate the nodes' cores)", node.name, node.cpu.unwrap_or_default())));
            }
        }
    } else if !objects.pod_nodes.is_empty() {
        let n = objects.pod_nodes.len() as u32;
        draft.nodes = Some(noted(
            n,
            format!("{n} nodes named by Pods' spec.nodeName (no Node objects listed)"),
        ));
    }
}

/// Ports of the Services that select the workload's pods, by protocol: HTTP (`http_ports`),
/// HTTP/2 (`http2_ports`), gRPC (`grpc_ports`), and everything else over TCP (TLS, Redis, Mongo,
/// MySQL, plain TCP: `tcp_ports`); UDP and SCTP are not carried by the mesh. The protocol is
/// `appProtocol`, else the port name's prefix (Istio's convention, `http-web`, `grpc`,
/// `redis`), else undeclared (Istio detects it; counted as HTTP, as the simulator's default
/// port is).
fn ports(objects: &Objects, w: &super::kubernetes::Workload, s: &mut Service) {
    for svc in objects.services_of(w) {
        for p in &svc.ports {
            let origin = format!("Service {}/{} port {}", svc.namespace, svc.name, p.port);
            if p.transport != "TCP" {
                s.notes.push(format!(
                    "{origin} is {}: not carried by the mesh, left out",
                    p.transport
                ));
                continue;
            }
            let (protocol, said) = match (&p.app_protocol, &p.name) {
                (Some(a), _) => (a.to_ascii_lowercase(), format!("appProtocol {a}")),
                (None, Some(n)) => (
                    n.split('-').next().unwrap_or("").to_ascii_lowercase(),
                    format!("port name {n}"),
                ),
                (None, None) => (String::new(), "no protocol declared".into()),
            };
            let (list, kind) = match protocol.as_str() {
                "" => (&mut s.http_ports, "counted as HTTP".to_string()),
                "http" | "kubernetes.io/ws" | "kubernetes.io/wss" => {
                    (&mut s.http_ports, protocol.clone())
                }
                "http2" | "h2c" | "kubernetes.io/h2c" => (&mut s.http2_ports, protocol.clone()),
                "grpc" | "grpc-web" => (&mut s.grpc_ports, protocol.clone()),
                _ => (&mut s.tcp_ports, format!("{protocol}, carried as TCP")),
            };
            if !list.iter().any(|q| q.value == p.port) {
                list.push(noted(p.port, format!("{origin}, {said}: {kind}")));
            }
        }
    }
}

/// Drops, while the mesh edges hold a cycle, the quietest edge of one.
fn break_cycles(draft: &mut Draft, mesh: &mut BTreeMap<(usize, usize), (f64, String)>) {
    while let Some(cycle) = find_cycle(draft.services.len(), mesh) {
        let quietest = *cycle
            .iter()
            .min_by(|a, b| {
                mesh[a]
                    .0
                    .partial_cmp(&mesh[b].0)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .expect("a cycle has edges");
        let (rps, source) = mesh.remove(&quietest).expect("an edge of the cycle");
        let names: Vec<&str> = cycle
            .iter()
            .map(|(a, _)| draft.services[*a].name.as_str())
            .collect();
        draft.header.push(format!(
            "{} → {} ({rps:.3} rps, {source}) dropped: it closes the cycle {} → {} and the call graph may have none",
            draft.services[quietest.0].name, draft.services[quietest.1].name, names.join(" → "), names[0]
        ));
    }
}

/// The edges of one cycle, if any (depth-first search over callees in index order).
fn find_cycle(
    n: usize,
    mesh: &BTreeMap<(usize, usize), (f64, String)>,
) -> Option<Vec<(usize, usize)>> {
    let mut callees = vec![Vec::new(); n];
    for &(a, b) in mesh.keys() {
        callees[a].push(b);
    }
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state = vec![0u8; n];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(
        v: usize,
        callees: &[Vec<usize>],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<(usize, usize)>> {
        state[v] = 1;
        stack.push(v);
        for &w in &callees[v] {
            if state[w] == 1 {
                let start = stack.iter().position(|&x| x == w).expect("on the stack");
                let mut path: Vec<usize> = stack[start..].to_vec();
                path.push(w);
                return Some(path.windows(2).map(|p| (p[0], p[1])).collect());
            }
            if state[w] == 0 {
                if let Some(c) = visit(w, callees, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state[v] = 2;
        None
    }
    (0..n).find_map(|v| {
        if state[v] == 0 {
            visit(v, &callees, &mut state, &mut stack)
        } else {
            None
        }
    })
}

/// Entry rates and calls per request (the module's comment says how).
fn rates(
    draft: &mut Draft,
    mesh: &BTreeMap<(usize, usize), (f64, String)>,
    outside: &BTreeMap<usize, (f64, String)>,
    traffic_given: bool,
) {
    let n = draft.services.len();
    let mut into = vec![0.0; n];
    let mut called = vec![false; n];
    let mut out_max = vec![0.0f64; n];
    for (&(a, b), (rps, _)) in mesh {
        into[b] += rps;
        called[b] = true;
        out_max[a] = out_max[a].max(*rps);
    }
    // The rate the model gives each service, and why.
    let mut base = vec![0.0; n];
    for i in 0..n {
        let s = &mut draft.services[i];
        let replicas = s.replicas.value as f64;
        let from_outside = outside.get(&i);
        if called[i] {
            base[i] = into[i];
            if let Some((rps, source)) = from_outside.filter(|(r, _)| *r > 0.0) {
                s.notes.push(format!("also {rps:.3} rps from outside the mesh ({source}), left out: a called service's rate is its callers' (the per-edge form)"));
            }
            continue;
        }
        let (rate, from) = match from_outside.filter(|(r, _)| *r > 0.0) {
            Some((rps, source)) => (*rps, format!("{rps:.3} rps from outside the mesh ({source}) over {} pods", s.replicas.value)),
            None if out_max[i] > 0.0 => (out_max[i], format!("no requests into it observed: its busiest call's {:.3} rps, so that call is one per request, over {} pods", out_max[i], s.replicas.value)),
            None if traffic_given => {
                s.rps_per_pod = Some(noted(IDLE_RPS_PER_POD, "no traffic observed: a trickle, as rps_per_pod must be above 0"));
                continue;
            }
            None => continue,
        };
        base[i] = rate;
        s.rps_per_pod = Some(noted(rate / replicas, from));
    }
    for (&(a, b), (rps, source)) in mesh {
        let (per_request, why) = if base[a] > 0.0 {
            (
                rps / base[a],
                format!(
                    "{rps:.3} rps {} → {} ({source}) ÷ {:.3} rps into {}",
                    draft.services[a].name, draft.services[b].name, base[a], draft.services[a].name
                ),
            )
        } else {
            (0.0, format!("{rps:.3} rps observed ({source}), but no requests reach the caller in the model: declared, not sent"))
        };
        let (per_request, why) = if per_request > MAX_PER_REQUEST {
            (
                MAX_PER_REQUEST,
                format!("{why} = {per_request:.1}, capped at per_request's most"),
            )
        } else {
            (per_request, why)
        };
        draft.services[a].calls.push(Call {
            callee: b,
            per_request,
            from: why,
        });
    }
}
