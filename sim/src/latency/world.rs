//! One simulation run: the requests of one scenario through one mesh (or none, for the
//! baseline), event by event.
//!
//! ```text
//! Arrival ─▶ call to an entry pod ─▶ walk the plan: legs add time, a proxy step schedules
//!   Reach ─▶ station (start, queue or drop) ─▶ Served ─▶ walk on ─▶ the application:
//!   app time, then its calls (sequential or parallel), each a call of its own ─▶ when the
//!   last returns: response legs ─▶ Done ─▶ the parent continues, or the request ends.
//! ```

use super::arrivals::Arrivals;
use super::host_cpu::{CpuJob, CpuWork, HostCpus};
use super::lookup::{Callee, Lookup, NONE};
use super::options::ServiceTimeKind;
use super::plan::{LegTime, Mesh, Plan, Plans, Role, Step, JITTER_SEGMENT, JITTER_SOCKMAP};
use super::result::{
    CoreUtilisation, LatencyResult, RequestTypeLatency, ServiceLatency, StationKindLatency,
};
use super::saturation::{offered_load, Checkpoints, InFlightTrend, BUSY_UTILISATION};

const _: () = assert!(JITTER_SEGMENT == 0 && JITTER_SOCKMAP == 1);
use crate::capacity::uproxy::{waypoint_groups, waypoint_node};
use crate::cluster::Cluster;
use crate::config::Scenario;
use crate::cost_model::{RateDependence, Wakeup};
use crate::engine::distribution::Sampler;
use crate::engine::jitter::JitterTable;
use crate::engine::prefetch::prefetch;
use crate::engine::station::Admission;
use crate::engine::{
    round_ns, Bounds, Distribution, EventQueue, HistogramSet, Scheduling, SimRng, SimTime, Station,
};
use crate::mesh::{Architecture, MicroProxyPlacement};
use crate::product::Product;
use crate::traffic::{ArrivalKind, CallMode, PayloadKind};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Progress is reported every this many events.
const PROGRESS_EVERY: u64 = 1 << 16;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// The next request from outside the mesh, from this source.
    Arrival(u32),
    /// A call reaches the proxy station of its current step.
    Reach(u32),
    /// A proxy finished the part of its work on a call that the call waits for.
    Served(u32),
    /// A proxy worker finished the rest of its work on a call (after the response left) and
    /// takes the next waiting call of this station.
    Freed(u32),
    /// A call's response reached its caller.
    Done(u32),
    /// A call asks its host for a core for its CPU job (cores simulated only).
    Core(u32),
    /// A call's application work ended; its core is free.
    CoreDone(u32),
}

/// The kinds of proxy stations, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationKind {
    Sidecar,
    NodeProxy,
    ServiceAccountProxy,
    MicroProxy,
    Waypoint,
}

impl StationKind {
    /// How many kinds there are: the length of the per-kind arrays, indexed by `kind as usize`.
    pub const COUNT: usize = 5;
    /// Every kind, in declaration order (so `ALL[k as usize] == k`).
    pub const ALL: [StationKind; StationKind::COUNT] = [
        StationKind::Sidecar,
        StationKind::NodeProxy,
        StationKind::ServiceAccountProxy,
        StationKind::MicroProxy,
        StationKind::Waypoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StationKind::Sidecar => "sidecar",
            StationKind::NodeProxy => "node-proxy",
            StationKind::ServiceAccountProxy => "service-account-proxy",
            StationKind::MicroProxy => "micro-proxy",
            StationKind::Waypoint => "waypoint",
        }
    }

    fn l7(self) -> bool {
        !matches!(self, StationKind::MicroProxy)
    }
}

/// Which of a mesh's plans a call walks; a call stores it as `u8` to stay small.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
enum PlanId {
    CrossNode,
    SameNode,
    CrossNodeL7,
    SameNodeL7,
    External,
    ExternalL7,
    InPod,
}

impl PlanId {
    /// How many plans a mesh has: the length of `World::plans`, indexed by `id as usize`.
    const COUNT: usize = 7;
}

#[derive(Debug, Clone, Copy)]
struct Call {
    parent: u32,
    /// Its place in the call structure (`Lookup::nodes`): the calls it makes, how.
    node: u32,
    service: u32,
    pod: u32,
    src_pod: u32,
    tenant: u32,
    waypoint: u32,
    station: u32,
    /// The kind of `station`, known from the step's role without a lookup (meaningless
    /// before the call's first proxy step, like `station`).
    station_kind: StationKind,
    plan: u8,
    step: u8,
    failed: bool,
    /// A request from outside that has not yet reached a process: the first one it reaches
    /// is woken from another CPU (`cost_model::Wakeup`).
    wakeup_due: bool,
    started: u64,
    reached_app: u64,
    left_app: u64,
    visit_start: u64,
    /// Parallel calls: the calls issued and not yet done.
    pending: u32,
    /// The callees begun (their repeats counted), and how many more calls the last of them
    /// gets: where a sequential call, or the issuing of parallel ones, stands.
    next_callee: u32,
    repeats_left: u32,
    /// Where cores are simulated: the CPU job the call waits for or runs.
    job: CpuJob,
}

/// What one call in flight takes in memory (`crate::estimate` counts them).
pub const CALL_BYTES: usize = std::mem::size_of::<Call>();
/// The most calls one run holds at once (about 0.9 GB with their events): past it the offered
/// load far exceeds what the mesh serves, its queues grow without bound, and the run stops
/// rather than exhaust the machine's memory.
pub const MAX_CALLS_IN_FLIGHT: usize = 8_000_000;

/// A run stopped with [`MAX_CALLS_IN_FLIGHT`] calls in flight, at this simulated time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overloaded {
    pub at_s: f64,
}

/// What a walk has still to do, innermost last: the explicit stack that stands for the
/// recursion a walk would otherwise need (an application's calls are walked inside its own
/// walk, and a chain of thousands of services would overflow the thread's stack).
#[derive(Debug, Clone, Copy)]
enum Walk {
    /// Walk a call on from its current step, at this time.
    Steps(u32, u64),
    /// Issue the parallel calls of this call's application, from where it stands, at this time.
    FanOut(u32, u64),
    /// The application has done its own work: it issues its calls (or answers) at this time.
    Issue(u32, u64),
}

/// A station's or pod's rate so far: its `count` of requests since the run began, over the
/// time since (at least a millisecond, so that the first requests do not read as a burst).
fn rate_so_far(count: u64, now_ns: u64) -> f64 {
    count as f64 * 1e9 / now_ns.max(1_000_000) as f64
}

pub struct World<'a> {
    scenario: &'a Scenario,
    cluster: &'a Cluster,
    mesh: Mesh,
    rng: SimRng,
    queue: EventQueue<Event>,
    /// Indexed by `PlanId`.
    plans: [Plan; PlanId::COUNT],
    stations: Vec<Station>,
    station_kind: Vec<StationKind>,
    /// The kind of the architecture's source and destination proxies (waypoints aside);
    /// unused without proxies (the baseline, eBPF).
    proxy_kind: StationKind,
    /// Service-time distribution (ns) and mTLS handshake cost (ns), by station kind.
    service_time: [Sampler; StationKind::COUNT],
    /// A worker's whole time on a call over the part the call waits for (≥ 1), by station
    /// kind: the proxy's CPU per request over its critical-path service time.
    hold_factor: [f64; StationKind::COUNT],
    mtls_ns: [f64; StationKind::COUNT],
    /// Worker threads of an L7 proxy (Envoy's, or linkerd2-proxy's) and of an L4 one.
    l7_workers: u32,
    /// How a proxy's CPU per request changes with the rate it serves, by station kind, and
    /// an application's with its pod's (`cost_model::RateDependence`); with an exponent, each
    /// station's and pod's rate so far is counted (`rate_so_far`).
    cpu_rate: [RateDependence; StationKind::COUNT],
    app_cpu_rate: RateDependence,
    station_visits: Vec<u64>,
    /// What a request from outside costs the first process it reaches; that process's count
    /// of such requests so far, by station (proxies) and by pod (applications).
    outside_wakeup: Wakeup,
    outside_station_requests: Vec<u64>,
    outside_pod_requests: Vec<u64>,
    pod_requests: Vec<u64>,
    /// What sealing and opening a request's and its response's payload costs a proxy next to
    /// an mTLS leg, every request (ns), by station kind: the L4 micro proxy's measured cost
    /// per byte; zero for L7 proxies, whose service time was calibrated with it.
    mtls_record_ns: [f64; StationKind::COUNT],
    /// Pods, services and the call graph as the loop reads them, proxies filled in.
    lookup: Lookup,
    waypoint_replicas: u32,
    arrivals: Arrivals,
    /// The pod and the node a request of each arrival source starts at (`Arrivals` hands
    /// out the source's index, which it was given in place of a pod).
    source_pod: Vec<u32>,
    source_node: Vec<u32>,
    /// Payload of each node over `[traffic]`'s, which the plans' wire times are for; empty
    /// (every call at `[traffic]`'s payload) without request types, which the hot loop then
    /// does not look up.
    payload_scale: Vec<f64>,
    calls: Vec<Call>,
    free: Vec<u32>,
    /// The walk's stack, kept between walks for its allocation.
    walks: Vec<Walk>,
    warmup_ns: u64,
    end_ns: u64,
    timeout_ns: u64,
    new_connections: bool,
    /// By `LegTime::jitter`: kernel segments, sockmap legs.
    jitter: [JitterTable; 2],
    /// The hosts' cores, where the scenario simulates them; then every CPU job queues there.
    cpus: Option<HostCpus>,
    /// The node of each proxy station.
    station_node: Vec<u32>,
    /// Where cores are simulated: the application's CPU per request it serves.
    app_cpu_ns: u64,
    // Statistics, over requests started inside the measured window. A call's latency is known
    // when its response is scheduled; its per-service counter (among hundreds of services,
    // the one set too large for the cache) is prefetched then, and recorded at `Done`.
    end_to_end: HistogramSet,
    /// End to end by request type, with requests and drops (none without request types).
    per_type: HistogramSet,
    type_requests: Vec<u64>,
    type_dropped: Vec<u64>,
    hop: HistogramSet,
    entry_hop: HistogramSet,
    service_hop: HistogramSet,
    per_service: HistogramSet,
    per_station_kind: HistogramSet,
    requests: u64,
    calls_completed: u64,
    dropped: u64,
    timed_out: u64,
    /// What waits, sampled over the measured window: whether the run saturated.
    checkpoints: Checkpoints,
    in_flight_samples: Vec<u32>,
    /// Each station's (work started, calls waiting) at the window's first and latest sample,
    /// and when those were taken.
    window_start: Vec<(u64, u32)>,
    window_end: Vec<(u64, u32)>,
    window_ns: (u64, u64),
    /// The mean work of one visit (ns), by station kind: what a waiting call will take.
    mean_work_ns: [f64; StationKind::COUNT],
}

impl<'a> World<'a> {
    pub fn new(scenario: &'a Scenario, mesh: Mesh, scheduling: Scheduling, seed: u64) -> Self {
        let cluster = &scenario.cluster;
        let mut rng = SimRng::seed_from_u64(seed);
        let p = Plans::new(mesh, scenario);
        // In `PlanId` order.
        let plans = [
            p.cross_node,
            p.same_node,
            p.cross_node_l7,
            p.same_node_l7,
            p.external,
            p.external_l7,
            p.in_pod,
        ];
        let latency = &scenario.latency;
        let costs = &scenario.models;
        let shape = |mean_us: f64, sigma: f64| {
            let mean = mean_us * 1000.0;
            match latency.service_time {
                ServiceTimeKind::Lognormal => Distribution::Lognormal { mean, sigma },
                ServiceTimeKind::Exponential => Distribution::Exponential { mean },
                ServiceTimeKind::Deterministic => Distribution::Deterministic(mean),
            }
        };
        // The L7 proxy is Envoy (its measured histogram where given), or Linkerd's.
        let linkerd = mesh == Mesh::Product(Product::Linkerd);
        let l7 = if linkerd {
            shape(
                costs.linkerd_service_time_mean_us,
                costs.linkerd_service_time_sigma,
            )
        } else {
            latency.envoy_histogram.clone().unwrap_or_else(|| {
                shape(
                    costs.latency.l7_service_time_mean_us,
                    costs.latency.l7_service_time_sigma,
                )
            })
        };
        // Its CPU per request, workers and rate dependence.
        let l7_proxy = if linkerd {
            &costs.linkerd
        } else {
            &costs.envoy
        };
        let l4 = latency.ztunnel_histogram.clone().unwrap_or_else(|| {
            shape(
                costs.latency.l4_service_time_mean_us,
                costs.latency.l4_service_time_sigma,
            )
        });
        let service_time =
            StationKind::ALL.map(|k| if k.l7() { l7.sampler() } else { l4.sampler() });
        // The scenario checked that no proxy's CPU per request is below its service time.
        let hold_factor = StationKind::ALL.map(|k| {
            let (cpu_us, critical) = match k {
                StationKind::Waypoint => (costs.waypoint_cpu_us(), &l7),
                StationKind::MicroProxy => (costs.l4_cpu_us(), &l4),
                _ => (l7_proxy.cpu_us_per_request(), &l7),
            };
            (cpu_us * 1000.0 / critical.mean()).max(1.0)
        });
        let mtls_ns = StationKind::ALL.map(|k| {
            1000.0
                * match (k.l7(), linkerd) {
                    (true, true) => costs.linkerd_mtls_handshake_us,
                    (true, false) => costs.latency.envoy_mtls_handshake_us,
                    (false, _) => costs.latency.ztunnel_mtls_handshake_us,
                }
        });
        let cpu_rate = StationKind::ALL.map(|k| {
            if k.l7() {
                l7_proxy.cpu_rate
            } else {
                costs.ztunnel.cpu_rate
            }
        });
        let mtls_record_ns = StationKind::ALL.map(|k| {
            if k.l7() {
                0.0
            } else {
                2.0 * scenario.traffic.payload_bytes as f64 * costs.latency.ztunnel_mtls_ns_per_byte
            }
        });

        let lookup = Lookup::new(cluster, scenario.traffic.payload_bytes);
        let (sources, source_pod, source_node) = arrival_sources(cluster);
        // Only request types give calls payloads of their own.
        let payload_scale = match &cluster.requests {
            Some(_) => lookup
                .nodes
                .iter()
                .map(|n| n.payload_bytes as f64 / scenario.traffic.payload_bytes as f64)
                .collect(),
            None => Vec::new(),
        };
        let types = cluster.requests.as_ref().map_or(0, |r| r.types.len());
        let traffic = &scenario.traffic;
        let arrivals = Arrivals::new(
            &sources,
            traffic.burst_on_ms,
            traffic.burst_off_ms,
            &mut rng,
        );

        let warmup_ns = SimTime::from_secs_f64(latency.warmup_s).0;
        let mut world = World {
            scenario,
            cluster,
            mesh,
            rng,
            queue: EventQueue::new(),
            plans,
            stations: Vec::new(),
            station_kind: Vec::new(),
            proxy_kind: StationKind::Sidecar,
            service_time,
            hold_factor,
            mtls_ns,
            l7_workers: l7_proxy.worker_threads as u32,
            cpu_rate,
            app_cpu_rate: costs.app.cpu_rate,
            station_visits: Vec::new(),
            outside_wakeup: costs.kernel.outside_wakeup,
            outside_station_requests: Vec::new(),
            outside_pod_requests: if costs.kernel.outside_wakeup.us > 0.0 {
                vec![0; cluster.pods()]
            } else {
                Vec::new()
            },
            pod_requests: if costs.app.cpu_rate.exponent == 0.0 {
                Vec::new()
            } else {
                vec![0; cluster.pods()]
            },
            mtls_record_ns,
            lookup,
            waypoint_replicas: scenario.mesh.waypoint_replicas,
            arrivals,
            source_pod,
            source_node,
            payload_scale,
            calls: Vec::new(),
            free: Vec::new(),
            walks: Vec::new(),
            warmup_ns,
            end_ns: warmup_ns + SimTime::from_secs_f64(latency.duration_s).0,
            timeout_ns: (latency.timeout_ms * 1e6) as u64,
            new_connections: !scenario.traffic.connection_reuse,
            // Indexed by JITTER_SEGMENT (0) and JITTER_SOCKMAP (1).
            jitter: [
                JitterTable::lognormal(costs.latency.segment_sigma),
                JitterTable::lognormal(costs.latency.sockmap_sigma),
            ],
            cpus: cluster.cores.as_ref().map(HostCpus::new),
            station_node: Vec::new(),
            app_cpu_ns: round_ns(costs.app.request_cpu_us * 1000.0),
            end_to_end: HistogramSet::new(1, Bounds::PRECISE),
            per_type: HistogramSet::new(types, Bounds::PRECISE),
            type_requests: vec![0; types],
            type_dropped: vec![0; types],
            hop: HistogramSet::new(1, Bounds::PRECISE),
            entry_hop: HistogramSet::new(1, Bounds::PRECISE),
            service_hop: HistogramSet::new(1, Bounds::PRECISE),
            // Three significant digits here too: two read percentiles up to 0.8% high.
            per_service: HistogramSet::new(cluster.services.len(), Bounds::PRECISE),
            per_station_kind: HistogramSet::new(StationKind::ALL.len(), Bounds::PRECISE),
            requests: 0,
            calls_completed: 0,
            dropped: 0,
            timed_out: 0,
            checkpoints: Checkpoints::new(
                warmup_ns,
                warmup_ns + SimTime::from_secs_f64(latency.duration_s).0,
            ),
            in_flight_samples: Vec::new(),
            window_start: Vec::new(),
            window_end: Vec::new(),
            window_ns: (0, 0),
            mean_work_ns: StationKind::ALL.map(|k| {
                let critical = if k.l7() { l7.mean() } else { l4.mean() };
                let handshake = if scenario.traffic.connection_reuse {
                    0.0
                } else {
                    mtls_ns[k as usize]
                };
                critical * hold_factor[k as usize] + mtls_record_ns[k as usize] + handshake
            }),
        };
        world.build_stations(scheduling);
        world
    }

    fn add_station(&mut self, kind: StationKind, scheduling: Scheduling, node: u32) -> u32 {
        let workers = if kind.l7() {
            self.l7_workers
        } else {
            self.scenario.models.ztunnel.worker_threads as u32
        };
        self.stations.push(Station::new(
            workers,
            scheduling,
            self.scenario.latency.max_queue,
        ));
        self.station_kind.push(kind);
        self.station_node.push(node);
        self.station_visits.push(0);
        self.outside_station_requests.push(0);
        self.stations.len() as u32 - 1
    }

    fn build_stations(&mut self, scheduling: Scheduling) {
        // The products simulated on their own are their proxies' placement: Linkerd's
        // sidecars, Cilium's Envoy per node, Kmesh's waypoints alone.
        let architecture = match self.mesh {
            Mesh::Baseline => return,
            Mesh::Architecture(a) => a,
            Mesh::Product(Product::Linkerd) => Architecture::Sidecar,
            Mesh::Product(Product::Cilium) => Architecture::PerNode,
            Mesh::Product(Product::Kmesh) => {
                self.build_waypoints(scheduling);
                return;
            }
            Mesh::Product(p @ (Product::IstioSidecar | Product::IstioAmbient)) => {
                unreachable!("{p} is simulated as its building block (Mesh::of_product)")
            }
        };
        let cluster = self.cluster;
        let pods = cluster.pods();
        let per_node = |world: &mut Self, kind| -> Vec<u32> {
            let nodes: Vec<u32> = (0..cluster.nodes() as u32)
                .map(|node| world.add_station(kind, scheduling, node))
                .collect();
            cluster
                .pod_node
                .iter()
                .map(|&n| nodes[n as usize])
                .collect()
        };
        match architecture {
            Architecture::Ebpf => {}
            Architecture::Sidecar => {
                self.proxy_kind = StationKind::Sidecar;
                let stations: Vec<u32> = (0..pods)
                    .map(|pod| {
                        self.add_station(StationKind::Sidecar, scheduling, cluster.pod_node[pod])
                    })
                    .collect();
                self.lookup.set_proxies(&stations);
            }
            Architecture::PerNode => {
                self.proxy_kind = StationKind::NodeProxy;
                let stations = per_node(self, StationKind::NodeProxy);
                self.lookup.set_proxies(&stations);
            }
            Architecture::PerServiceAccount => {
                self.proxy_kind = StationKind::ServiceAccountProxy;
                let mut by_key: HashMap<(u32, u32), u32> = HashMap::new();
                let mut stations = Vec::with_capacity(pods);
                for pod in 0..pods {
                    let service = &cluster.services[cluster.pod_service[pod] as usize];
                    let key = (cluster.pod_node[pod], service.service_account);
                    let station = match by_key.get(&key) {
                        Some(&s) => s,
                        None => {
                            let s = self.add_station(
                                StationKind::ServiceAccountProxy,
                                scheduling,
                                key.0,
                            );
                            by_key.insert(key, s);
                            s
                        }
                    };
                    stations.push(station);
                }
                self.lookup.set_proxies(&stations);
            }
            Architecture::Uproxy => {
                self.proxy_kind = StationKind::MicroProxy;
                let stations = match self.scenario.mesh.micro_proxy {
                    MicroProxyPlacement::PerNode => per_node(self, StationKind::MicroProxy),
                    MicroProxyPlacement::PerPod => (0..pods)
                        .map(|pod| {
                            self.add_station(
                                StationKind::MicroProxy,
                                scheduling,
                                cluster.pod_node[pod],
                            )
                        })
                        .collect(),
                };
                self.lookup.set_proxies(&stations);
                self.build_waypoints(scheduling);
            }
        }
    }

    /// The waypoints of the services under L7 policy: `waypoint_replicas` per group.
    fn build_waypoints(&mut self, scheduling: Scheduling) {
        let cluster = self.cluster;
        let replicas = self.waypoint_replicas;
        let groups = waypoint_groups(cluster, self.scenario.mesh.waypoint_scope);
        for (g, group) in groups.iter().enumerate() {
            let first = self.stations.len() as u32;
            for j in 0..replicas {
                let node = waypoint_node(g, j, replicas, cluster.nodes());
                self.add_station(StationKind::Waypoint, scheduling, node);
            }
            for &s in &group.services {
                self.lookup.services[s as usize].waypoint_first = first;
            }
        }
    }

    /// Runs to the end: arrivals for warm-up plus duration, then until every request is done;
    /// or stops when more calls are in flight than a run may hold.
    pub fn run(mut self, progress: &dyn Fn(f64)) -> Result<LatencyResult, Overloaded> {
        let started = std::time::Instant::now();
        for (t, source) in self.arrivals.first(&mut self.rng) {
            if t.0 < self.end_ns {
                self.queue.schedule(t, Event::Arrival(source));
            }
        }
        while let Some((now, event)) = self.queue.pop() {
            match event {
                Event::Arrival(source) => self.on_arrival(now, source),
                Event::Reach(call) => self.on_reach(now, call),
                Event::Served(call) => self.on_served(now, call),
                Event::Freed(station) => self.on_freed(now, station),
                Event::Core(call) => self.on_core(now, call),
                Event::CoreDone(call) => self.on_core_done(now, call),
                Event::Done(call) => self.on_done(now, call),
            }
            if self.checkpoints.due(now.0) {
                self.sample_waiting(now.0);
            }
            if self.calls.len() > MAX_CALLS_IN_FLIGHT {
                return Err(Overloaded {
                    at_s: now.as_secs_f64(),
                });
            }
            if self.queue.popped().is_multiple_of(PROGRESS_EVERY) {
                progress((now.0 as f64 / self.end_ns as f64).min(1.0));
            }
        }
        progress(1.0);
        let elapsed = started.elapsed().as_secs_f64();
        Ok(self.finish(elapsed))
    }

    /// Records what waits now: the calls in flight, and each station's work started and calls
    /// waiting (at the window's start, or as its latest end).
    #[cold]
    fn sample_waiting(&mut self, now: u64) {
        self.in_flight_samples
            .push((self.calls.len() - self.free.len()) as u32);
        let first = self.in_flight_samples.len() == 1;
        let snapshot = if first {
            self.window_ns.0 = now;
            &mut self.window_start
        } else {
            &mut self.window_end
        };
        self.window_ns.1 = now;
        snapshot.clear();
        snapshot.extend(self.stations.iter().map(|s| (s.busy_ns, s.queued())));
    }

    /// The largest offered load over the measured window among the stations of `kind`.
    fn offered_load_max(&self, kind: StationKind) -> f64 {
        if self.window_end.len() != self.stations.len() {
            return 0.0;
        }
        let window = self.window_ns.1 - self.window_ns.0;
        (0..self.stations.len())
            .filter(|&i| self.station_kind[i] == kind)
            .map(|i| {
                let ((busy0, queued0), (busy1, queued1)) =
                    (self.window_start[i], self.window_end[i]);
                offered_load(
                    busy1 - busy0,
                    i64::from(queued1) - i64::from(queued0),
                    self.mean_work_ns[kind as usize],
                    self.stations[i].workers(),
                    window,
                )
            })
            .fold(0.0, f64::max)
    }

    fn on_arrival(&mut self, now: SimTime, source: u32) {
        let (index, next) = self.arrivals.arrive(source, now, &mut self.rng);
        if next.0 < self.end_ns {
            self.queue.schedule(next, Event::Arrival(source));
        }
        let (pod, node) = (
            self.source_pod[index as usize],
            self.source_node[index as usize],
        );
        let service = self.lookup.pods[pod as usize].service;
        let entry = &self.lookup.services[service as usize];
        let plan = if entry.in_pod {
            PlanId::InPod
        } else if entry.l7_policy && self.mesh.has_l7_paths() {
            PlanId::ExternalL7
        } else {
            PlanId::External
        };
        let id = self.new_call(NONE, node, pod, NONE, plan, now.0);
        self.calls[id as usize].wakeup_due =
            !matches!(plan, PlanId::InPod) && self.outside_wakeup.us > 0.0;
        self.walk(id, now.0);
    }

    fn new_call(
        &mut self,
        parent: u32,
        node: u32,
        pod: u32,
        src_pod: u32,
        plan: PlanId,
        t: u64,
    ) -> u32 {
        let service = self.lookup.nodes[node as usize].service;
        let tenant = if src_pod == NONE {
            service
        } else {
            self.lookup.pods[src_pod as usize].service
        };
        let waypoint = match self.lookup.services[service as usize].waypoint_first {
            NONE => NONE,
            first => first + self.rng.gen_range(0..self.waypoint_replicas),
        };
        let call = Call {
            parent,
            node,
            service,
            pod,
            src_pod,
            tenant,
            waypoint,
            station: NONE,
            station_kind: StationKind::Sidecar,
            plan: plan as u8,
            step: 0,
            failed: false,
            wakeup_due: false,
            started: t,
            reached_app: t,
            left_app: t,
            visit_start: t,
            pending: 0,
            next_callee: 0,
            repeats_left: 0,
            job: CpuJob::NONE,
        };
        match self.free.pop() {
            Some(id) => {
                self.calls[id as usize] = call;
                id
            }
            None => {
                self.calls.push(call);
                self.calls.len() as u32 - 1
            }
        }
    }

    /// A call from `parent`'s pod to a replica of `service`, issued at `t`; the caller walks it.
    fn call_service(&mut self, parent: u32, node: u32, t: u64) -> u32 {
        let src_pod = self.calls[parent as usize].pod;
        let service = self.lookup.nodes[node as usize].service;
        let s = self.lookup.services[service as usize];
        let pod = s.first_pod + self.rng.gen_range(0..s.replicas);
        let same_node =
            self.lookup.pods[pod as usize].node == self.lookup.pods[src_pod as usize].node;
        let plan = match (same_node, s.l7_policy && self.mesh.has_l7_paths()) {
            (true, true) => PlanId::SameNodeL7,
            (true, false) => PlanId::SameNode,
            (false, true) => PlanId::CrossNodeL7,
            (false, false) => PlanId::CrossNode,
        };
        self.new_call(parent, node, pod, src_pod, plan, t)
    }

    /// One leg's one-way time with its jitter drawn: its mean times the jitter, plus the
    /// payload on the wire.
    /// A call's payload over `[traffic]`'s.
    fn payload_scale_of(&self, id: u32) -> f64 {
        if self.payload_scale.is_empty() {
            1.0
        } else {
            self.payload_scale[self.calls[id as usize].node as usize]
        }
    }

    /// A leg's time for a call whose payload is `scale` × `[traffic]`'s.
    fn leg_ns_with_jitter(&mut self, leg: LegTime, jitter: f64, scale: f64) -> f64 {
        // A fixed payload's wire time is in the plan (zero on node-local legs): no branch on
        // the leg's kind, which no predictor guesses well.
        let mut ns = leg.mean_ns * jitter + leg.wire_ns * scale;
        let traffic = &self.scenario.traffic;
        if traffic.payload == PayloadKind::Exponential && leg.cross_node {
            let mean_bytes = traffic.payload_bytes as f64 * scale;
            let bytes = -mean_bytes * (1.0 - self.rng.gen::<f64>()).ln();
            ns += bytes * self.scenario.models.latency.wire_ns_per_byte();
        }
        ns
    }

    /// Walks a call's plan from its current step, starting at time `t`, and with it every call
    /// its walk issues: the calls of an application it reaches, theirs, and so on, depth first
    /// in the order they are issued (the order of the random draws, so of the results). The
    /// pending work is a stack on the heap, so a call chain's depth costs no thread stack.
    fn walk(&mut self, id: u32, t: u64) {
        self.walk_from(Walk::Steps(id, t));
    }

    /// Walks on from `first`: [`World::walk`] for work that is not a call's plan.
    fn walk_from(&mut self, first: Walk) {
        let mut stack = std::mem::take(&mut self.walks);
        stack.push(first);
        while let Some(next) = stack.pop() {
            match next {
                Walk::Steps(id, t) => {
                    if let Some(t) = self.walk_steps(id, t) {
                        self.reach_app(id, t, &mut stack);
                    }
                }
                Walk::FanOut(id, t) => self.fan_out(id, t, &mut stack),
                Walk::Issue(id, t) => self.issue_calls(id, t, &mut stack),
            }
        }
        self.walks = stack;
    }

    /// Walks a call's plan from its current step: legs add time; at a proxy the call is
    /// scheduled to reach it (`None`); past the last step it reaches the application at the
    /// time returned.
    fn walk_steps(&mut self, id: u32, mut t: u64) -> Option<u64> {
        // Read the two fields the loop needs instead of copying the whole call each step.
        let (plan, mut step) = {
            let call = &self.calls[id as usize];
            (call.plan as usize, call.step as usize)
        };
        loop {
            let Some(s) = self.plans[plan].steps.get(step) else {
                self.calls[id as usize].step = step as u8;
                return Some(t);
            };
            step += 1;
            match *s {
                Step::Leg {
                    time, handshake_ns, ..
                } => {
                    // With connection reuse the plans' handshakes are zero.
                    let ns = self.leg_ns_on_host(id, time) + handshake_ns;
                    t += round_ns(ns);
                }
                Step::Proxy { role, .. } => {
                    let call = &mut self.calls[id as usize];
                    call.step = step as u8;
                    (call.station, call.station_kind) = match role {
                        Role::Source => (
                            self.lookup.pods[call.src_pod as usize].proxy,
                            self.proxy_kind,
                        ),
                        Role::Destination => {
                            (self.lookup.pods[call.pod as usize].proxy, self.proxy_kind)
                        }
                        Role::Waypoint => (call.waypoint, StationKind::Waypoint),
                    };
                    prefetch(&self.stations[call.station as usize]);
                    self.queue.schedule(SimTime(t), Event::Reach(id));
                    return None;
                }
            }
        }
    }

    fn on_reach(&mut self, now: SimTime, id: u32) {
        let call = &mut self.calls[id as usize];
        call.visit_start = now.0;
        let (station, tenant) = (call.station, call.tenant);
        match self.stations[station as usize].arrive(id, tenant) {
            Admission::Start => self.start_service(now, id),
            Admission::Queued => {}
            Admission::Dropped => {
                self.calls[id as usize].failed = true;
                self.respond(id, now.0);
            }
        }
    }

    fn start_service(&mut self, now: SimTime, id: u32) {
        let call = &self.calls[id as usize];
        let (station, kind, plan, step) = (
            call.station as usize,
            call.station_kind as usize,
            call.plan as usize,
            call.step as usize,
        );
        let critical = self.service_time[kind].sample(&mut self.rng);
        // The worker stays busy past the response for the rest of the request's CPU, which
        // may depend on the station's rate.
        let mut held = critical * self.hold_factor[kind];
        let rate = self.cpu_rate[kind];
        if rate.exponent != 0.0 {
            let visits = &mut self.station_visits[station];
            *visits += 1;
            held *= rate.factor(rate_so_far(*visits, now.0));
        }
        let mut ns = critical;
        if self.calls[id as usize].wakeup_due {
            // Woken from another CPU before it can start: the request waits for it, and the
            // worker spends it.
            self.calls[id as usize].wakeup_due = false;
            let requests = &mut self.outside_station_requests[station];
            *requests += 1;
            let wakeup_ns = self.outside_wakeup.cpu_us(rate_so_far(*requests, now.0)) * 1000.0;
            ns += wakeup_ns;
            held += wakeup_ns;
        }
        if self.new_connections || self.mtls_record_ns[kind] > 0.0 {
            let step = self.plans[plan].steps[step - 1];
            if let Step::Proxy { mtls: true, .. } = step {
                // Encrypting the request's and response's records, and a new connection's
                // handshake, delay the request and cost the worker as much.
                let record_ns = self.mtls_record_ns[kind] * self.payload_scale_of(id);
                ns += record_ns;
                held += record_ns;
                if self.new_connections {
                    ns += self.mtls_ns[kind];
                    held += self.mtls_ns[kind];
                }
            }
        }
        let ns = round_ns(ns).max(1);
        let held = round_ns(held).max(ns);
        self.stations[station].record_service(held);
        if let Some(cpus) = &self.cpus {
            // The worker has the call; now it needs a core for the whole of its work.
            let host = cpus.host_of_node(self.station_node[station]);
            self.calls[id as usize].job = CpuJob {
                work: CpuWork::Proxy,
                host,
                ns: held,
                then_ns: ns,
            };
            self.on_core(now, id);
            return;
        }
        self.queue.schedule(SimTime(now.0 + ns), Event::Served(id));
        self.queue
            .schedule(SimTime(now.0 + held), Event::Freed(station as u32));
    }

    fn on_freed(&mut self, now: SimTime, station: u32) {
        if let Some(cpus) = &self.cpus {
            let host = cpus.host_of_node(self.station_node[station as usize]);
            self.release_core(now, host);
        }
        if let Some(next) = self.stations[station as usize].finish() {
            self.start_service(now, next);
        }
    }

    /// The host whose cores a call's `side` uses.
    fn host_of(&self, id: u32, side: Role) -> u32 {
        let call = &self.calls[id as usize];
        let node = match side {
            Role::Source if call.src_pod != NONE => self.lookup.pods[call.src_pod as usize].node,
            Role::Source | Role::Destination => self.lookup.pods[call.pod as usize].node,
            Role::Waypoint => self.station_node[call.waypoint as usize],
        };
        self.cpus
            .as_ref()
            .expect("only called where cores are simulated")
            .host_of_node(node)
    }

    /// One leg's one-way time, its log-normal jitter drawn; where cores are simulated, the kernel's
    /// share of it is counted on the sending side's host.
    fn leg_ns_on_host(&mut self, id: u32, leg: LegTime) -> f64 {
        let jitter = self.jitter[leg.jitter as usize & 1].draw(&mut self.rng);
        if self.cpus.is_some() {
            let host = self.host_of(id, leg.side);
            let kernel = round_ns(leg.cpu_ns * jitter);
            if let Some(cpus) = &mut self.cpus {
                cpus.kernel(host, kernel);
            }
        }
        let scale = self.payload_scale_of(id);
        self.leg_ns_with_jitter(leg, jitter, scale)
    }

    /// A call asks its job's host for a core.
    fn on_core(&mut self, now: SimTime, id: u32) {
        let host = self.calls[id as usize].job.host as usize;
        let cpus = self.cpus.as_mut().expect("cores are simulated");
        match cpus.hosts[host].arrive(id, 0) {
            Admission::Start => self.start_core(now, id),
            Admission::Queued => {}
            Admission::Dropped => unreachable!("a host's queue has no limit"),
        }
    }

    /// A core takes a call's job.
    fn start_core(&mut self, now: SimTime, id: u32) {
        let call = &self.calls[id as usize];
        let job = call.job;
        let cpus = self.cpus.as_mut().expect("cores are simulated");
        cpus.hosts[job.host as usize].record_service(job.ns);
        // The kernel's work on this host comes first and takes its share of the core.
        let stretch = cpus.stretch(job.host, now.0);
        let ns = round_ns(job.ns as f64 * stretch).max(job.ns);
        match job.work {
            CpuWork::Proxy => {
                let served = round_ns(job.then_ns as f64 * stretch).min(ns);
                self.queue
                    .schedule(SimTime(now.0 + served), Event::Served(id));
                self.queue
                    .schedule(SimTime(now.0 + ns), Event::Freed(call.station));
            }
            CpuWork::App => self
                .queue
                .schedule(SimTime(now.0 + ns), Event::CoreDone(id)),
        }
    }

    /// A core of `host` is free: the next waiting job takes it.
    fn release_core(&mut self, now: SimTime, host: u32) {
        let cpus = self.cpus.as_mut().expect("cores are simulated");
        if let Some(next) = cpus.hosts[host as usize].finish() {
            self.start_core(now, next);
        }
    }

    /// An application's own work is done: its core goes to the next job, and after its
    /// waiting time it issues its calls.
    fn on_core_done(&mut self, now: SimTime, id: u32) {
        let job = self.calls[id as usize].job;
        self.release_core(now, job.host);
        self.walk_from(Walk::Issue(id, now.0 + job.then_ns));
    }

    fn on_served(&mut self, now: SimTime, id: u32) {
        let call = &self.calls[id as usize];
        let (kind, started, visit_start) =
            (call.station_kind as usize, call.started, call.visit_start);
        if self.measured(started) {
            self.per_station_kind.record_ns(kind, now.0 - visit_start);
        }
        self.walk(id, now.0);
    }

    /// The call reached its application at `t`: after the application's own time, its first
    /// sequential call or its parallel calls are pushed onto the walk's stack, or, with none,
    /// it answers.
    fn reach_app(&mut self, id: u32, t: u64, stack: &mut Vec<Walk>) {
        let service = self.calls[id as usize].service as usize;
        self.calls[id as usize].reached_app = t;
        let app_time_ns = self.lookup.services[service].app_time_ns;
        if self.cpus.is_some() {
            let mut app_cpu_ns = self.app_cpu_ns;
            if !self.pod_requests.is_empty() {
                let requests = &mut self.pod_requests[self.calls[id as usize].pod as usize];
                *requests += 1;
                let factor = self.app_cpu_rate.factor(rate_so_far(*requests, t));
                app_cpu_ns = round_ns(app_cpu_ns as f64 * factor);
            }
            if self.calls[id as usize].wakeup_due {
                // A request from outside that met no proxy wakes the application itself.
                self.calls[id as usize].wakeup_due = false;
                let pod = self.calls[id as usize].pod as usize;
                self.outside_pod_requests[pod] += 1;
                let rate = rate_so_far(self.outside_pod_requests[pod], t);
                app_cpu_ns += round_ns(self.outside_wakeup.cpu_us(rate) * 1000.0);
            }
            // The application's own work queues for a core of its pod's host; its app time
            // runs on the core too, or is waited after it.
            let on_cpu = self.scenario.traffic.app_time_on_cpu;
            let (ns, then_ns) = if on_cpu {
                (app_cpu_ns + app_time_ns, 0)
            } else {
                (app_cpu_ns, app_time_ns)
            };
            if ns > 0 {
                self.calls[id as usize].job = CpuJob {
                    work: CpuWork::App,
                    host: self.host_of(id, Role::Destination),
                    ns,
                    then_ns,
                };
                self.queue.schedule(SimTime(t), Event::Core(id));
                return;
            }
        }
        self.issue_calls(id, t + app_time_ns, stack);
    }

    /// The application, its own work done at `t`, issues its first sequential call or its
    /// parallel calls onto the walk's stack, or, with none, answers.
    fn issue_calls(&mut self, id: u32, t: u64, stack: &mut Vec<Walk>) {
        let node = self.calls[id as usize].node as usize;
        match self.lookup.nodes[node].call_mode {
            CallMode::Sequential => match self.next_sequential_callee(id) {
                Some(callee) => {
                    let child = self.call_service(id, callee, t);
                    stack.push(Walk::Steps(child, t));
                }
                None => self.respond(id, t),
            },
            CallMode::Parallel => stack.push(Walk::FanOut(id, t)),
        }
    }

    /// How many times to call `callee` this time.
    fn count(&mut self, callee: Callee) -> u32 {
        callee.count(self.rng.gen::<f64>())
    }

    /// The service a sequential call's application calls next, if any is left.
    fn next_sequential_callee(&mut self, id: u32) -> Option<u32> {
        let node = self.calls[id as usize].node as usize;
        let (start, end) = {
            let s = &self.lookup.nodes[node];
            (s.callees_start as usize, s.callees_end as usize)
        };
        loop {
            let call = &mut self.calls[id as usize];
            // `next_callee` counts the callees begun; the one being repeated is the last.
            let next = start + call.next_callee as usize;
            if call.repeats_left > 0 {
                call.repeats_left -= 1;
                return Some(self.lookup.callees[next - 1].node);
            }
            if next == end {
                return None;
            }
            let n = self.count(self.lookup.callees[next]);
            let call = &mut self.calls[id as usize];
            call.next_callee += 1;
            call.repeats_left = n;
        }
    }

    /// Issues a parallel call's next call: pushes itself back under the new call, so that the
    /// new call's walk (and everything it issues) comes first, as each call is walked as it
    /// is issued. With every call issued, an application that issued none answers.
    fn fan_out(&mut self, id: u32, t: u64, stack: &mut Vec<Walk>) {
        let node = self.calls[id as usize].node as usize;
        let (start, end) = {
            let s = &self.lookup.nodes[node];
            (s.callees_start as usize, s.callees_end as usize)
        };
        loop {
            let call = &mut self.calls[id as usize];
            let next = start + call.next_callee as usize;
            if call.repeats_left > 0 {
                call.repeats_left -= 1;
                let callee = self.lookup.callees[next - 1].node;
                let child = self.call_service(id, callee, t);
                stack.push(Walk::FanOut(id, t));
                stack.push(Walk::Steps(child, t));
                return;
            }
            if next == end {
                if call.pending == 0 {
                    self.respond(id, t);
                }
                return;
            }
            let n = self.count(self.lookup.callees[next]);
            let call = &mut self.calls[id as usize];
            call.next_callee += 1;
            call.repeats_left = n;
            call.pending += n;
        }
    }

    /// The application answers at `t`: the response travels back through the legs.
    fn respond(&mut self, id: u32, t: u64) {
        let call = &mut self.calls[id as usize];
        call.left_app = t;
        let (plan, step, failed) = (call.plan as usize, call.step as usize, call.failed);
        // A dropped call turns back at the proxy that dropped it: only the legs walked so far.
        let legs = self.plans[plan].response_legs.len();
        let walked = if failed {
            let steps = &self.plans[plan].steps[..step];
            steps
                .iter()
                .filter(|s| matches!(s, Step::Leg { .. }))
                .count()
        } else {
            legs
        };
        let mut ns = 0.0;
        for i in legs - walked..legs {
            let leg = self.plans[plan].response_legs[i];
            ns += self.leg_ns_on_host(id, leg);
        }
        self.responded(id, SimTime(t).after(ns));
    }

    /// The response reaches the caller at `done`.
    fn responded(&mut self, id: u32, done: SimTime) {
        let call = &self.calls[id as usize];
        if self.measured(call.started) && !call.failed {
            self.per_service
                .prefetch(call.service as usize, done.0 - call.started);
        }
        self.queue.schedule(done, Event::Done(id));
    }

    /// Whether a call started inside the measured window (after warm-up, before the end).
    fn measured(&self, started: u64) -> bool {
        started >= self.warmup_ns && started < self.end_ns
    }

    fn on_done(&mut self, now: SimTime, id: u32) {
        let call = self.calls[id as usize];
        self.free.push(id);
        let measured = self.measured(call.started);
        if measured {
            let entry = call.parent == NONE;
            if !entry {
                self.calls_completed += 1;
            }
            if !call.failed {
                let total = now.0 - call.started;
                self.per_service.record_ns(call.service as usize, total);
                // A request that starts in its own pod takes no hop to get there.
                if call.plan != PlanId::InPod as u8 {
                    let hop = (call.reached_app - call.started) + (now.0 - call.left_app);
                    self.hop.record_ns(0, hop);
                    // From outside the hop meets one proxy, between services two: apart.
                    if entry {
                        self.entry_hop.record_ns(0, hop);
                    } else {
                        self.service_hop.record_ns(0, hop);
                    }
                }
            }
        }
        if call.parent == NONE {
            if measured {
                self.requests += 1;
                let total = now.0 - call.started;
                let request_type = self.lookup.nodes[call.node as usize].request_type;
                if request_type != NONE {
                    self.type_requests[request_type as usize] += 1;
                    if call.failed {
                        self.type_dropped[request_type as usize] += 1;
                    } else {
                        self.per_type.record_ns(request_type as usize, total);
                    }
                }
                if call.failed {
                    self.dropped += 1;
                } else {
                    self.end_to_end.record_ns(0, total);
                    if total > self.timeout_ns {
                        self.timed_out += 1;
                    }
                }
            }
            return;
        }
        let parent = call.parent;
        self.calls[parent as usize].failed |= call.failed;
        let node = self.calls[parent as usize].node as usize;
        let finished = match self.lookup.nodes[node].call_mode {
            CallMode::Sequential => match self.next_sequential_callee(parent) {
                Some(callee) => {
                    let child = self.call_service(parent, callee, now.0);
                    self.walk(child, now.0);
                    false
                }
                None => true,
            },
            CallMode::Parallel => {
                let p = &mut self.calls[parent as usize];
                p.pending -= 1;
                p.pending == 0
            }
        };
        if finished {
            self.respond(parent, now.0);
        }
    }

    fn finish(self, wall_seconds: f64) -> LatencyResult {
        let duration_s = self.scenario.latency.duration_s;
        let total_ns = self.queue.now().0.max(1);
        let stations: Vec<StationKindLatency> = StationKind::ALL
            .iter()
            .enumerate()
            .filter_map(|(k, kind)| {
                let of_kind: Vec<&Station> = self
                    .stations
                    .iter()
                    .zip(&self.station_kind)
                    .filter(|(_, sk)| *sk == kind)
                    .map(|(s, _)| s)
                    .collect();
                if of_kind.is_empty() {
                    return None;
                }
                let utilisations: Vec<f64> =
                    of_kind.iter().map(|s| s.utilisation(total_ns)).collect();
                let visits = self.per_station_kind.histogram(k);
                let dropped: u64 = of_kind.iter().map(|s| s.dropped()).sum();
                let utilisation_max = round4(utilisations.iter().copied().fold(0.0, f64::max));
                let offered_load_max = round4(self.offered_load_max(*kind));
                let band = if dropped > 0 || offered_load_max >= 1.0 {
                    "saturated"
                } else if utilisation_max >= BUSY_UTILISATION {
                    "busy"
                } else {
                    "ok"
                };
                Some(StationKindLatency {
                    kind: kind.name(),
                    stations: of_kind.len() as u64,
                    visits: visits.count(),
                    latency_us: visits.percentiles(),
                    utilisation_max,
                    offered_load_max,
                    utilisation_mean: round4(
                        utilisations.iter().sum::<f64>() / utilisations.len() as f64,
                    ),
                    band,
                    dropped,
                    max_queued: of_kind.iter().map(|s| s.max_queued()).max().unwrap_or(0),
                })
            })
            .collect();
        let cores = self.cpus.as_ref().map(|cpus| {
            let (each, cores_busy) = cpus.utilisation(total_ns);
            CoreUtilisation {
                utilisation_max: round4(each.iter().copied().fold(0.0, f64::max)),
                utilisation_mean: round4(each.iter().sum::<f64>() / each.len().max(1) as f64),
                cores_busy: round4(cores_busy),
            }
        });
        let in_flight = InFlightTrend::of(&self.in_flight_samples);
        let saturated =
            self.dropped > 0 || stations.iter().any(|s| s.band == "saturated") || in_flight.grows();
        let busy = stations
            .iter()
            .any(|s| s.utilisation_max >= BUSY_UTILISATION)
            || cores.is_some_and(|c| c.utilisation_max >= BUSY_UTILISATION);
        let per_service = self
            .cluster
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s, self.per_service.histogram(i)))
            .filter(|(_, h)| h.count() > 0)
            .map(|(s, h)| ServiceLatency {
                name: s.name.clone(),
                calls: h.count(),
                latency_us: h.percentiles(),
            })
            .collect();
        let per_request_type = self
            .cluster
            .requests
            .iter()
            .flat_map(|r| &r.types)
            .enumerate()
            .map(|(t, ty)| RequestTypeLatency {
                name: ty.name.clone(),
                requests: self.type_requests[t],
                dropped: self.type_dropped[t],
                latency_us: self.per_type.histogram(t).percentiles(),
                added_latency_us: None,
            })
            .collect::<Vec<_>>();
        let worst_p99_request_type = RequestTypeLatency::worst_p99(&per_request_type);
        let end_to_end = self.end_to_end.histogram(0);
        let hop = self.hop.histogram(0);
        let entry_hop = self.entry_hop.histogram(0);
        let service_hop = self.service_hop.histogram(0);
        let entry_rps_completed = round4((self.requests - self.dropped) as f64 / duration_s);
        LatencyResult {
            latency_us: end_to_end.percentiles(),
            hop_latency_us: hop.percentiles(),
            entry_hop_latency_us: entry_hop.percentiles(),
            service_hop_latency_us: service_hop.percentiles(),
            requests: self.requests,
            calls: self.calls_completed,
            dropped: self.dropped,
            timed_out: self.timed_out,
            throughput_rps: entry_rps_completed,
            entry_rps_completed,
            busy,
            saturated,
            in_flight,
            proxies: stations,
            cores,
            per_service,
            per_request_type,
            worst_p99_request_type,
            events: self.queue.popped(),
            wall_seconds,
            end_to_end,
            hop,
            entry_hop,
            service_hop,
            ..LatencyResult::default()
        }
    }
}

/// Where requests enter the mesh: each pod of an entry, with its arrival process and rate
/// (tagged with its index in place of a pod for `Arrivals`), and its pod and the node its
/// requests start at. Without request types the entries are the services nobody calls, each
/// at its own rate; with them, each type's entry at the type's rate shared among its pods.
type Sources = (Vec<(u32, ArrivalKind, f64)>, Vec<u32>, Vec<u32>);

fn arrival_sources(cluster: &Cluster) -> Sources {
    let mut sources = Vec::new();
    let mut pods = Vec::new();
    let mut nodes = Vec::new();
    match &cluster.requests {
        None => {
            for (s, service) in cluster.services.iter().enumerate() {
                if cluster.call_graph.callers(s as u32).is_empty() {
                    for pod in service.pods() {
                        sources.push((sources.len() as u32, service.arrivals, service.rps_per_pod));
                        pods.push(pod);
                        nodes.push(s as u32);
                    }
                }
            }
        }
        Some(requests) => {
            for ty in &requests.types {
                let entry = &cluster.services[requests.nodes[ty.root as usize].service as usize];
                for pod in entry.pods() {
                    let rate = ty.rate / entry.replicas as f64;
                    sources.push((sources.len() as u32, ty.arrivals, rate));
                    pods.push(pod);
                    nodes.push(ty.root);
                }
            }
        }
    }
    (sources, pods, nodes)
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_kinds_index_their_arrays_in_declaration_order() {
        for (i, kind) in StationKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{}", kind.name());
        }
        assert_eq!(PlanId::InPod as usize + 1, PlanId::COUNT);
    }
}
