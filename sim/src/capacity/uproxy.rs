//! `uproxy`: a ztunnel-like L4/mTLS micro proxy per node (or per pod), plus shared L7
//! waypoints for the services under L7 policy, one per service account or per namespace.
//!
//! - The micro proxy holds every workload and service of the cluster (clusters = services,
//!   endpoints = pods), whatever the scoping, and both ends of its pods' traffic.
//! - An L4 balancer pins each application connection to one replica; HBONE tunnels carry one
//!   stream per application connection, so the destination micro proxy opens one connection
//!   to the application per stream.
//! - Waypoints sit on the destination side: traffic to a service under L7 policy goes
//!   ztunnel → waypoint → ztunnel', and the waypoint balances each request over the replicas.
//!   Waypoint replicas run on nodes `(group × replicas + j) mod nodes`: usually not the
//!   node of either end.

use super::context::Context;
use super::load::ServiceLoad;
use super::tally::{CpuCosts, ProxyInstance, Tally};
use super::visibility::ProxyConfig;
use crate::cluster::Cluster;
use crate::mesh::{MicroProxyPlacement, WaypointScope};

/// The services behind one waypoint.
pub struct WaypointGroup {
    pub services: Vec<u32>,
}

pub fn waypoint_groups(cluster: &Cluster, scope: WaypointScope) -> Vec<WaypointGroup> {
    let services = &cluster.services;
    let key = |s: usize| match scope {
        WaypointScope::PerServiceAccount => services[s].service_account,
        WaypointScope::PerNamespace => services[s].namespace,
    };
    let mut keyed: Vec<(u32, u32)> = (0..services.len())
        .filter(|&s| services[s].l7_policy)
        .map(|s| (key(s), s as u32))
        .collect();
    keyed.sort_unstable();
    let mut groups: Vec<WaypointGroup> = Vec::new();
    let mut last = None;
    for (k, s) in keyed {
        if last == Some(k) {
            groups
                .last_mut()
                .expect("a group was started")
                .services
                .push(s);
        } else {
            groups.push(WaypointGroup { services: vec![s] });
            last = Some(k);
        }
    }
    groups
}

pub fn count(ctx: &Context, tally: &mut Tally) {
    count_micro_proxies(ctx, tally);
    count_waypoints(ctx, tally);
}

fn count_micro_proxies(ctx: &Context, tally: &mut Tally) {
    let models = &ctx.models;
    let mesh = &ctx.scenario.mesh;
    let group = tally.group("micro-proxy", "ztunnel");
    let config = ProxyConfig {
        clusters: ctx.cluster.services.len() as u64,
        endpoints: ctx.cluster.pods() as u64,
        tcp_listeners: 0,
        http_listeners: 0,
    };
    // A waypoint's pools to one service: a pool per worker per replica.
    let waypoint_pool = |s: u32| {
        mesh.waypoint_replicas as u64
            * models.envoy.worker_threads as u64
            * ctx.load.k_of[s as usize]
    };
    let add = |tally: &mut Tally, node: u32, pods: &[u32]| {
        // Counted in 128 bits: a million waypoint replicas' pools on a million pods pass 64.
        let (mut rps, mut pooled, mut proxied, mut outside_rps) = (0.0, 0u128, 0.0, 0.0);
        for &p in pods {
            let s = ctx.service_of(p);
            rps += ctx.out_rps(s) + ctx.in_rps(s);
            // Requests from outside enter through the node's ztunnel, or, for a service under
            // L7 policy, its waypoint.
            if !ctx.cluster.services[s as usize].l7_policy {
                outside_rps += ctx.load.external_rps_per_pod[s as usize];
            }
            proxied += ctx.proxied_rps(s);
            // Outbound: each app connection arrives and leaves as an HBONE stream.
            pooled += 2 * u128::from(ctx.load.app_connections_per_pod[s as usize]);
            // Inbound: a tunnel and an app connection per pinned connection, or the
            // waypoints' pools when the service is under L7 policy.
            pooled += 2 * u128::from(if ctx.cluster.services[s as usize].l7_policy {
                waypoint_pool(s)
            } else {
                ctx.load.landing_connections(ctx.cluster, p)
            });
        }
        let (identities, tenants) = ctx.identities_and_tenants(pods);
        let instance = ProxyInstance {
            config,
            connections: ctx.open(pooled as f64, 2.0 * rps),
            rps,
            handshakes: ctx.handshakes(proxied),
            outside_rps,
            identities,
            workloads: pods.len() as u64,
            tenants,
        };
        tally.add(
            group,
            node,
            1,
            &instance,
            &models.ztunnel,
            CpuCosts {
                vcpu_per_krps: models.ztunnel.vcpu_per_krps,
                rate: models.ztunnel.cpu_rate,
                handshake_us: models.latency.ztunnel_mtls_handshake_us,
            },
        );
    };
    for (node, pods) in ctx.pods_by_node.iter().enumerate() {
        match mesh.micro_proxy {
            MicroProxyPlacement::PerNode if !pods.is_empty() => add(tally, node as u32, pods),
            MicroProxyPlacement::PerNode => {}
            MicroProxyPlacement::PerPod => {
                for p in pods {
                    add(tally, node as u32, std::slice::from_ref(p));
                }
            }
        }
    }
}

pub fn count_waypoints(ctx: &Context, tally: &mut Tally) {
    let models = &ctx.models;
    let replicas = ctx.scenario.mesh.waypoint_replicas as u64;
    let group = tally.group("waypoint", "envoy");
    let nodes = ctx.cluster.nodes() as u64;
    let workers = models.envoy.worker_threads as u64;
    let groups = waypoint_groups(ctx.cluster, ctx.scenario.mesh.waypoint_scope);
    for (g, wg) in groups.iter().enumerate() {
        let mut config = ProxyConfig {
            http_listeners: 1,
            ..ProxyConfig::default()
        };
        let (mut rps, mut inbound, mut outbound, mut workloads) = (0.0, 0u64, 0u64, 0u64);
        let mut outside_rps = 0.0;
        let mut namespaces = Vec::new();
        for &c in &wg.services {
            let s = &ctx.cluster.services[c as usize];
            config.clusters += s.ports() as u64;
            config.endpoints += s.ports() as u64 * s.replicas as u64;
            config.tcp_listeners += s.tcp_ports.len() as u64;
            rps += ctx.in_rps(c) * s.replicas as f64;
            outside_rps += ctx.load.external_rps_per_pod[c as usize] * s.replicas as f64;
            inbound += ctx.load.caller_pods[c as usize] * ctx.load.k_of[c as usize];
            outbound += s.replicas as u64 * workers * ctx.load.k_of[c as usize];
            workloads += s.replicas as u64;
            namespaces.push(s.namespace);
        }
        namespaces.sort_unstable();
        namespaces.dedup();
        let rps = rps / replicas as f64;
        let pooled = inbound.div_ceil(replicas) + outbound;
        let instance = ProxyInstance {
            config,
            connections: ctx.open(pooled as f64, 2.0 * rps),
            rps,
            // Every request reaches a waypoint from a ztunnel and leaves for another.
            handshakes: ctx.handshakes(rps),
            outside_rps: outside_rps / replicas as f64,
            identities: 1,
            workloads,
            tenants: namespaces.len() as u64,
        };
        // Replica j runs on node (g × replicas + j) mod nodes: round robin from replica 0's.
        tally.add_round_robin(
            group,
            waypoint_node(g, 0, replicas as u32, nodes as usize),
            replicas,
            &instance,
            &models.envoy,
            CpuCosts {
                vcpu_per_krps: models.waypoint_vcpu_per_krps,
                rate: models.envoy.cpu_rate,
                handshake_us: models.latency.envoy_mtls_handshake_us,
            },
        );
    }
}

/// The node of replica `j` of waypoint group `g`.
pub fn waypoint_node(group: usize, replica: u32, replicas: u32, nodes: usize) -> u32 {
    ((group as u64 * replicas as u64 + replica as u64) % nodes as u64) as u32
}

/// Connections open cluster-wide with reuse: app → ztunnel and the HBONE stream for every
/// app connection; ztunnel' → app per pinned connection; waypoint → ztunnel' → app pools.
pub fn pooled_connections_total(ctx: &Context) -> u128 {
    let load = &ctx.load;
    let workers = ctx.models.envoy.worker_threads as u128;
    let replicas = ctx.scenario.mesh.waypoint_replicas as u128;
    let k = |s: usize| u128::from(load.k_of[s]);
    let services = &ctx.cluster.services;
    let outbound = ServiceLoad::sum_over_pods(ctx.cluster, |s| 2 * load.app_connections_per_pod[s]);
    let pinned: u128 = services
        .iter()
        .enumerate()
        .filter(|(_, svc)| !svc.l7_policy)
        .map(|(s, _)| u128::from(load.caller_pods[s]) * k(s))
        .sum();
    let through_waypoints: u128 = services
        .iter()
        .enumerate()
        .filter(|(_, svc)| svc.l7_policy)
        .map(|(s, svc)| 2 * replicas * svc.replicas as u128 * workers * k(s))
        .sum();
    outbound + pinned + through_waypoints
}
