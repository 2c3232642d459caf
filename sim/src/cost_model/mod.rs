//! Cost models: the catalog of parameters (`catalog`) and the typed set one scenario uses,
//! after its profile and overrides are applied (`ModelSet`).

pub mod catalog;
pub mod ranges;

pub use catalog::{Catalog, Param, Profile, ProfileValue, SourcedValue};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one proxy kind costs. Memory = base + clusters × per_cluster + endpoints ×
/// per_endpoint + listeners × per_listener + connections × per_connection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProxyCosts {
    pub base_bytes: f64,
    pub per_cluster_bytes: f64,
    pub per_endpoint_bytes: f64,
    pub per_tcp_listener_bytes: f64,
    pub per_http_listener_bytes: f64,
    pub per_connection_bytes: f64,
    pub worker_threads: f64,
    pub vcpu_per_krps: f64,
    /// How `vcpu_per_krps` changes with the rate one proxy serves.
    pub cpu_rate: RateDependence,
}

impl ProxyCosts {
    /// CPU one request costs the proxy, µs: the published vCPU per 1000 requests per second,
    /// read as CPU-seconds per 1000 requests.
    pub fn cpu_us_per_request(&self) -> f64 {
        self.vcpu_per_krps * 1000.0
    }
}

/// How a process's CPU per request changes with the rate it serves: measured here it falls
/// steeply with load (fewer wake-ups per request, batches of requests per wake-up; HAProxy's
/// and the workload server's both as about rate^-0.34, docs/validation.md), while published
/// figures give one load. CPU per request at `r` requests per second is the figure's value
/// times `(r / reference_rps)^-exponent`, the ratio held within [1/100, 100]; exponent 0 (the
/// shipped models) keeps it constant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateDependence {
    pub exponent: f64,
    /// The rate the CPU figure was measured at.
    pub reference_rps: f64,
}

impl RateDependence {
    /// The most and least a rate is taken to differ from the reference (past them the power
    /// law is not measured and would grow without bound as the rate nears zero).
    pub const RATIO_BOUNDS: (f64, f64) = (0.01, 100.0);

    /// CPU per request at `rps` over CPU per request at the reference rate.
    pub fn factor(&self, rps: f64) -> f64 {
        if self.exponent == 0.0 {
            return 1.0;
        }
        let (low, high) = Self::RATIO_BOUNDS;
        (rps / self.reference_rps)
            .clamp(low, high)
            .powf(-self.exponent)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KernelCosts {
    /// What one socket may buffer: default receive plus send buffer.
    pub socket_buffer_bytes: f64,
    /// Kernel memory of one idle established socket.
    pub socket_bytes: f64,
    /// CPU per payload byte at one end of a WireGuard, or an IPsec, tunnel between nodes.
    pub wireguard_ns_per_byte: f64,
    pub ipsec_ns_per_byte: f64,
    /// What a request from outside the cluster costs the first process it reaches.
    pub outside_wakeup: Wakeup,
}

/// The CPU a process spends on a request woken from another CPU, beyond what one sent from its
/// own CPU costs (the interrupt, the idle exit, the cold caches): on this project's testbed
/// 75–80 µs at 500 rps against a request's own 15–28 µs (docs/validation.md). It is charged to
/// the first process a request from outside the cluster reaches (its sidecar, node proxy,
/// waypoint or application), the one hop the testbed has where sender and receiver sit on
/// different CPUs; requests between pods are charged their per-request CPU alone, as the
/// published figures, measured between real nodes, already hold their wake-ups. The cost falls
/// with the receiver's rate of such requests (a busy receiver is more often awake).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Wakeup {
    pub us: f64,
    pub rate: RateDependence,
}

impl Wakeup {
    /// The extra CPU of one request, µs, for a receiver that gets `rps` of them.
    pub fn cpu_us(&self, rps: f64) -> f64 {
        if self.us == 0.0 {
            return 0.0;
        }
        self.us * self.rate.factor(rps)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EbpfCosts {
    pub base_bytes: f64,
    pub per_endpoint_bytes: f64,
    pub per_connection_bytes: f64,
    pub per_socket_bytes: f64,
}

/// The applications' own work, where the simulation shares cores (`cluster::cores`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AppCosts {
    pub request_cpu_us: f64,
    /// How `request_cpu_us` changes with the rate one pod serves.
    pub cpu_rate: RateDependence,
}

/// What the latency simulation draws service and network times from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyCosts {
    pub l7_service_time_mean_us: f64,
    pub l7_service_time_sigma: f64,
    pub envoy_mtls_handshake_us: f64,
    pub l4_service_time_mean_us: f64,
    pub l4_service_time_sigma: f64,
    pub ztunnel_mtls_handshake_us: f64,
    /// CPU per payload byte at one end of a ztunnel-like mTLS tunnel (sealing or opening).
    pub ztunnel_mtls_ns_per_byte: f64,
    pub stack_us: f64,
    pub segment_sigma: f64,
    pub veth_crossing_us: f64,
    pub iptables_redirect_us: f64,
    pub connect_redirect_us: f64,
    pub sockmap_us: f64,
    /// Log-normal shape of a sockmap leg's time, whose tail differs from a kernel segment's.
    pub sockmap_sigma: f64,
    pub ebpf_program_us: f64,
    pub wire_us: f64,
    pub wire_gbps: f64,
}

impl LatencyCosts {
    /// The time one byte takes on the wire between nodes, in ns.
    pub fn wire_ns_per_byte(&self) -> f64 {
        8.0 / self.wire_gbps
    }
}

/// What Kubernetes reserves for one kind of proxy (`models/resources.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProxyResources {
    pub cpu_request_vcpu: f64,
    pub memory_request_bytes: f64,
    /// 0: no limit.
    pub memory_limit_bytes: f64,
}

/// Requests and limits of every kind of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ResourceTable {
    pub envoy_sidecar: ProxyResources,
    pub linkerd_sidecar: ProxyResources,
    pub ztunnel: ProxyResources,
    pub waypoint: ProxyResources,
    pub node_envoy: ProxyResources,
    /// istiod's requests (no memory limit by default).
    pub istiod: ProxyResources,
}

impl ResourceTable {
    /// The requests of a group of proxies, by its role and component (`capacity::ProxyGroup`).
    /// A service-account proxy is a waypoint-like Envoy: it takes the waypoint's.
    pub fn of(&self, role: &str, component: &str) -> ProxyResources {
        match (role, component) {
            ("sidecar", "linkerd2-proxy") => self.linkerd_sidecar,
            ("sidecar", _) => self.envoy_sidecar,
            ("micro-proxy", _) => self.ztunnel,
            ("waypoint", _) | ("service-account-proxy", _) => self.waypoint,
            _ => self.node_envoy,
        }
    }
}

/// The control planes (`models/control-plane.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ControlPlaneCosts {
    pub istiod_per_service_bytes: f64,
    pub istiod_per_pod_bytes: f64,
    pub istiod_per_proxy_bytes: f64,
    pub istiod_per_proxy_vcpu: f64,
    pub xds_per_cluster_bytes: f64,
    pub eds_per_endpoint_bytes: f64,
    pub istiod_debounce_after_us: f64,
    pub istiod_debounce_max_us: f64,
    pub istiod_push_per_proxy_us: f64,
    pub max_requests_per_second: f64,
    pub linkerd_control_plane_bytes: f64,
    pub cilium_agent_base_bytes: f64,
    pub cilium_agent_per_object_bytes: f64,
    pub cilium_agent_per_node_vcpu: f64,
    pub cilium_operator_base_bytes: f64,
    pub cilium_operator_per_object_bytes: f64,
    pub cilium_operator_vcpu: f64,
}

/// Which value of each parameter a model set takes: its own, or the low or high end of the
/// range its sources give (a parameter without a range takes its value at every bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Value,
    Low,
    High,
}

/// The parameters one scenario runs with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSet {
    pub profile: Option<String>,
    pub envoy: ProxyCosts,
    pub waypoint_vcpu_per_krps: f64,
    /// CPU per payload byte at one end of an Envoy mTLS connection.
    pub envoy_mtls_ns_per_byte: f64,
    pub ztunnel: ProxyCosts,
    /// Linkerd's sidecar (the `linkerd` product).
    pub linkerd: ProxyCosts,
    pub linkerd_mtls_handshake_us: f64,
    pub linkerd_mtls_ns_per_byte: f64,
    /// linkerd2-proxy's critical-path service time (mean µs, log-normal shape), as Envoy's
    /// `l7_service_time_*`.
    pub linkerd_service_time_mean_us: f64,
    pub linkerd_service_time_sigma: f64,
    pub resources: ResourceTable,
    pub control_plane: ControlPlaneCosts,
    pub kernel: KernelCosts,
    pub ebpf: EbpfCosts,
    pub app: AppCosts,
    pub latency: LatencyCosts,
}

impl ModelSet {
    /// CPU one request costs an Envoy sidecar, node or service-account proxy, µs: the published
    /// vCPU per 1000 requests per second, read as CPU-seconds per 1000 requests. Its
    /// `l7_service_time_mean_us` is the part on the request's critical path; the rest
    /// (statistics, access logs, buffer release after the response) holds the worker after
    /// the response has left.
    pub fn l7_cpu_us(&self) -> f64 {
        self.envoy.cpu_us_per_request()
    }

    /// CPU one request costs a waypoint, µs, as [`ModelSet::l7_cpu_us`].
    pub fn waypoint_cpu_us(&self) -> f64 {
        self.waypoint_vcpu_per_krps * 1000.0
    }

    /// CPU one request costs a micro proxy (ztunnel), µs, as [`ModelSet::l7_cpu_us`].
    pub fn l4_cpu_us(&self) -> f64 {
        self.ztunnel.cpu_us_per_request()
    }
}

/// A parameter value after profile and overrides, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedParam {
    pub component: String,
    pub name: String,
    pub value: f64,
    /// The range the sources give (`Param::low`, `high`); a profile or override that sets
    /// the value drops it: the value is then the user's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    pub unit: String,
    pub source: String,
}

/// Component → parameter → value, the flat form profiles and overrides are applied to.
pub type ParamValues = BTreeMap<String, BTreeMap<String, ResolvedParam>>;

impl Catalog {
    /// Every parameter at its catalog value.
    pub fn values(&self) -> ParamValues {
        self.components
            .iter()
            .map(|c| {
                let params = c
                    .params
                    .iter()
                    .map(|(name, p)| {
                        let resolved = ResolvedParam {
                            component: c.name.clone(),
                            name: name.clone(),
                            value: p.value,
                            low: p.low,
                            high: p.high,
                            unit: p.unit.clone(),
                            source: p.source.clone(),
                        };
                        (name.clone(), resolved)
                    })
                    .collect();
                (c.name.clone(), params)
            })
            .collect()
    }

    /// Applies a named profile; the caller has checked the profile exists.
    pub fn apply_profile(&self, values: &mut ParamValues, profile: &str) {
        let Some(p) = self.profile(profile) else {
            return;
        };
        for (component, params) in &p.overrides {
            for (name, value) in params {
                if let Some(slot) = values.get_mut(component).and_then(|c| c.get_mut(name)) {
                    slot.value = value.value();
                    (slot.low, slot.high) = (None, None);
                    let source = value.source().unwrap_or(&p.source);
                    slot.source = format!("profile {}: {source}", p.name);
                }
            }
        }
    }
}

/// Why a parameter set cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// A component file lacks a parameter the model needs.
    #[error("models/{component}.toml has no parameter `{name}`, which the model needs")]
    Missing { component: String, name: String },
}

impl ModelSet {
    pub fn from_values(values: &ParamValues, profile: Option<String>) -> Result<Self, ModelError> {
        Self::at_bound(values, profile, Bound::Value)
    }

    /// The model set with every parameter at `bound`.
    pub fn at_bound(
        values: &ParamValues,
        profile: Option<String>,
        bound: Bound,
    ) -> Result<Self, ModelError> {
        let get = |component: &str, name: &str| -> Result<f64, ModelError> {
            values
                .get(component)
                .and_then(|c| c.get(name))
                .map(|p| match bound {
                    Bound::Value => p.value,
                    Bound::Low => p.low.unwrap_or(p.value),
                    Bound::High => p.high.unwrap_or(p.value),
                })
                .ok_or_else(|| ModelError::Missing {
                    component: component.to_string(),
                    name: name.to_string(),
                })
        };
        // Parameters that do not apply to a component (ztunnel has no listeners) read as zero.
        let optional = |component: &str, name: &str| get(component, name).unwrap_or(0.0);
        let rate = |c: &str| -> Result<RateDependence, ModelError> {
            Ok(RateDependence {
                exponent: get(c, "cpu_rate_exponent")?,
                reference_rps: get(c, "cpu_reference_requests_per_second")?,
            })
        };
        let proxy = |c: &str| -> Result<ProxyCosts, ModelError> {
            Ok(ProxyCosts {
                base_bytes: get(c, "base_bytes")?,
                per_cluster_bytes: get(c, "per_cluster_bytes")?,
                per_endpoint_bytes: get(c, "per_endpoint_bytes")?,
                per_tcp_listener_bytes: optional(c, "per_tcp_listener_bytes"),
                per_http_listener_bytes: optional(c, "per_http_listener_bytes"),
                per_connection_bytes: get(c, "per_connection_bytes")?,
                worker_threads: get(c, "worker_threads")?,
                vcpu_per_krps: get(c, "vcpu_per_krps")?,
                cpu_rate: rate(c)?,
            })
        };
        Ok(ModelSet {
            profile,
            envoy: proxy("envoy")?,
            waypoint_vcpu_per_krps: get("envoy", "waypoint_vcpu_per_krps")?,
            envoy_mtls_ns_per_byte: get("envoy", "mtls_ns_per_byte")?,
            ztunnel: proxy("ztunnel")?,
            linkerd: proxy("linkerd2-proxy")?,
            linkerd_mtls_handshake_us: get("linkerd2-proxy", "mtls_handshake_us")?,
            linkerd_mtls_ns_per_byte: get("linkerd2-proxy", "mtls_ns_per_byte")?,
            linkerd_service_time_mean_us: get("linkerd2-proxy", "l7_service_time_mean_us")?,
            linkerd_service_time_sigma: get("linkerd2-proxy", "l7_service_time_sigma")?,
            resources: {
                let kind = |k: &str| -> Result<ProxyResources, ModelError> {
                    Ok(ProxyResources {
                        cpu_request_vcpu: get("resources", &format!("{k}_cpu_request_vcpu"))?,
                        memory_request_bytes: get(
                            "resources",
                            &format!("{k}_memory_request_bytes"),
                        )?,
                        memory_limit_bytes: get("resources", &format!("{k}_memory_limit_bytes"))?,
                    })
                };
                ResourceTable {
                    envoy_sidecar: kind("envoy_sidecar")?,
                    linkerd_sidecar: kind("linkerd_sidecar")?,
                    ztunnel: kind("ztunnel")?,
                    waypoint: kind("waypoint")?,
                    node_envoy: kind("node_envoy")?,
                    istiod: ProxyResources {
                        cpu_request_vcpu: get("resources", "istiod_cpu_request_vcpu")?,
                        memory_request_bytes: get("resources", "istiod_memory_request_bytes")?,
                        memory_limit_bytes: 0.0,
                    },
                }
            },
            control_plane: {
                let c = |name: &str| get("control-plane", name);
                ControlPlaneCosts {
                    istiod_per_service_bytes: c("istiod_per_service_bytes")?,
                    istiod_per_pod_bytes: c("istiod_per_pod_bytes")?,
                    istiod_per_proxy_bytes: c("istiod_per_proxy_bytes")?,
                    istiod_per_proxy_vcpu: c("istiod_per_proxy_vcpu")?,
                    xds_per_cluster_bytes: c("xds_per_cluster_bytes")?,
                    eds_per_endpoint_bytes: c("eds_per_endpoint_bytes")?,
                    istiod_debounce_after_us: c("istiod_debounce_after_us")?,
                    istiod_debounce_max_us: c("istiod_debounce_max_us")?,
                    istiod_push_per_proxy_us: c("istiod_push_per_proxy_us")?,
                    max_requests_per_second: c("max_requests_per_second")?,
                    linkerd_control_plane_bytes: c("linkerd_control_plane_bytes")?,
                    cilium_agent_base_bytes: c("cilium_agent_base_bytes")?,
                    cilium_agent_per_object_bytes: c("cilium_agent_per_object_bytes")?,
                    cilium_agent_per_node_vcpu: c("cilium_agent_per_node_vcpu")?,
                    cilium_operator_base_bytes: c("cilium_operator_base_bytes")?,
                    cilium_operator_per_object_bytes: c("cilium_operator_per_object_bytes")?,
                    cilium_operator_vcpu: c("cilium_operator_vcpu")?,
                }
            },
            kernel: KernelCosts {
                socket_buffer_bytes: get("kernel", "socket_buffer_bytes")?,
                socket_bytes: get("kernel", "socket_bytes")?,
                wireguard_ns_per_byte: get("kernel", "wireguard_ns_per_byte")?,
                ipsec_ns_per_byte: get("kernel", "ipsec_ns_per_byte")?,
                outside_wakeup: Wakeup {
                    us: get("kernel", "outside_wakeup_us")?,
                    rate: RateDependence {
                        exponent: get("kernel", "outside_wakeup_rate_exponent")?,
                        reference_rps: get(
                            "kernel",
                            "outside_wakeup_reference_requests_per_second",
                        )?,
                    },
                },
            },
            ebpf: EbpfCosts {
                base_bytes: get("ebpf", "base_bytes")?,
                per_endpoint_bytes: get("ebpf", "per_endpoint_bytes")?,
                per_connection_bytes: get("ebpf", "per_connection_bytes")?,
                per_socket_bytes: get("ebpf", "per_socket_bytes")?,
            },
            app: AppCosts {
                request_cpu_us: get("app", "request_cpu_us")?,
                cpu_rate: rate("app")?,
            },
            latency: LatencyCosts {
                l7_service_time_mean_us: get("envoy", "l7_service_time_mean_us")?,
                l7_service_time_sigma: get("envoy", "l7_service_time_sigma")?,
                envoy_mtls_handshake_us: get("envoy", "mtls_handshake_us")?,
                l4_service_time_mean_us: get("ztunnel", "l4_service_time_mean_us")?,
                l4_service_time_sigma: get("ztunnel", "l4_service_time_sigma")?,
                ztunnel_mtls_handshake_us: get("ztunnel", "mtls_handshake_us")?,
                ztunnel_mtls_ns_per_byte: get("ztunnel", "mtls_ns_per_byte")?,
                stack_us: get("kernel", "stack_us")?,
                segment_sigma: get("kernel", "segment_sigma")?,
                veth_crossing_us: get("kernel", "veth_crossing_us")?,
                iptables_redirect_us: get("kernel", "iptables_redirect_us")?,
                connect_redirect_us: get("kernel", "connect_redirect_us")?,
                sockmap_us: get("kernel", "sockmap_us")?,
                sockmap_sigma: get("kernel", "sockmap_sigma")?,
                ebpf_program_us: get("kernel", "ebpf_program_us")?,
                wire_us: get("kernel", "wire_us")?,
                wire_gbps: get("kernel", "wire_gbps")?,
            },
        })
    }
}

#[cfg(test)]
mod rate_tests {
    use super::RateDependence;

    #[test]
    fn cpu_per_request_follows_the_power_law_within_its_bounds() {
        let rate = RateDependence {
            exponent: 0.5,
            reference_rps: 500.0,
        };
        assert_eq!(rate.factor(500.0), 1.0);
        assert!((rate.factor(2000.0) - 0.5).abs() < 1e-12);
        // A hundredth of the reference and below: 10×, not more.
        assert!((rate.factor(5.0) - 10.0).abs() < 1e-9);
        assert!((rate.factor(1e-9) - 10.0).abs() < 1e-9);
        let constant = RateDependence {
            exponent: 0.0,
            reference_rps: 500.0,
        };
        assert_eq!(constant.factor(1e-9), 1.0);
    }
}
