//! `[traffic]`, `[mesh]` and `[latency]`: numbers in range, lists without repeats, histogram
//! files that exist and parse.

use super::Resolver;
use crate::config::histogram_file;
use crate::config::ranges;
use crate::config::raw;
use crate::engine::{Distribution, Scheduling};
use crate::latency::options::LatencyOptions;
use crate::mesh::{Architecture, MeshOptions, Scoping};
use crate::traffic::Traffic;
use meshtwin_diagnostics::SourceFile;
use std::path::Path;
use toml::Spanned;

impl Resolver {
    pub(super) fn traffic(&mut self, raw: &raw::RawTraffic) -> Option<Traffic> {
        let rps_per_pod = self.number_or(
            &raw.rps_per_pod,
            &ranges::RPS_PER_POD,
            Traffic::DEFAULT_RPS_PER_POD,
        );
        let scale = self.number_or(&raw.scale, &ranges::SCALE, Traffic::DEFAULT_SCALE);
        let payload_bytes = match &raw.payload_bytes {
            Some(v) => self.integer(v, &ranges::PAYLOAD_BYTES),
            None => Some(Traffic::DEFAULT_PAYLOAD_BYTES),
        };
        let connections_per_upstream = self.integer32_or(
            &raw.connections_per_upstream,
            &ranges::CONNECTIONS_PER_UPSTREAM,
            Traffic::DEFAULT_CONNECTIONS_PER_UPSTREAM,
        );
        let connection_lifetime_ms = self.number_or(
            &raw.connection_lifetime_ms,
            &ranges::CONNECTION_LIFETIME_MS,
            Traffic::DEFAULT_CONNECTION_LIFETIME_MS,
        );
        let burst_on_ms = self.number_or(
            &raw.burst_on_ms,
            &ranges::BURST_ON_MS,
            Traffic::DEFAULT_BURST_ON_MS,
        );
        let burst_off_ms = self.number_or(
            &raw.burst_off_ms,
            &ranges::BURST_OFF_MS,
            Traffic::DEFAULT_BURST_OFF_MS,
        );
        let app_time_us = self.number_or(
            &raw.app_time_us,
            &ranges::APP_TIME_US,
            Traffic::DEFAULT_APP_TIME_US,
        );
        Some(Traffic {
            rps_per_pod: rps_per_pod?,
            scale: scale?,
            payload_bytes: payload_bytes?,
            connection_reuse: raw
                .connection_reuse
                .unwrap_or(Traffic::DEFAULT_CONNECTION_REUSE),
            connections_per_upstream: connections_per_upstream?,
            connection_lifetime_ms: connection_lifetime_ms?,
            arrivals: raw.arrivals.unwrap_or_default(),
            burst_on_ms: burst_on_ms?,
            burst_off_ms: burst_off_ms?,
            payload: raw.payload.unwrap_or_default(),
            call_mode: raw.call_mode.unwrap_or_default(),
            app_time_us: app_time_us?,
            app_time_on_cpu: raw
                .app_time_on_cpu
                .unwrap_or(Traffic::DEFAULT_APP_TIME_ON_CPU),
        })
    }

    pub(super) fn latency(&mut self, raw: &raw::RawLatency) -> Option<LatencyOptions> {
        let duration_s = self.number_or(
            &raw.duration_s,
            &ranges::DURATION_S,
            LatencyOptions::DEFAULT_DURATION_S,
        );
        let warmup_s = self.number_or(
            &raw.warmup_s,
            &ranges::WARMUP_S,
            LatencyOptions::DEFAULT_WARMUP_S,
        );
        let timeout_ms = self.number_or(
            &raw.timeout_ms,
            &ranges::TIMEOUT_MS,
            LatencyOptions::DEFAULT_TIMEOUT_MS,
        );
        let max_queue = self.integer32_or(
            &raw.max_queue,
            &ranges::MAX_QUEUE,
            LatencyOptions::DEFAULT_MAX_QUEUE,
        );
        let schedulings = match &raw.scheduling {
            None => vec![Scheduling::default()],
            Some(s) => match s.get_ref() {
                raw::OneOrMany::One(one) => vec![*one],
                raw::OneOrMany::Many(many) => {
                    let mut unique = many.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    if many.is_empty() || unique.len() != many.len() {
                        self.error(
                            s.span(),
                            "latency.scheduling needs fifo, fair, or both, each once",
                        );
                    }
                    unique
                }
            },
        };
        let envoy_histogram =
            self.histogram(raw.envoy_histogram.as_ref(), "latency.envoy_histogram");
        let ztunnel_histogram =
            self.histogram(raw.ztunnel_histogram.as_ref(), "latency.ztunnel_histogram");
        Some(LatencyOptions {
            enabled: raw.enabled.unwrap_or(LatencyOptions::DEFAULT_ENABLED),
            duration_s: duration_s?,
            warmup_s: warmup_s?,
            service_time: raw.service_time.unwrap_or_default(),
            schedulings,
            timeout_ms: timeout_ms?,
            max_queue: max_queue?,
            envoy_histogram: envoy_histogram?,
            ztunnel_histogram: ztunnel_histogram?,
        })
    }

    /// A histogram file named in the scenario, relative to the scenario's directory. Its
    /// problems name both files: the histogram's line (or the histogram as a whole) and the
    /// cluster file's key that names it.
    #[allow(clippy::option_option)]
    fn histogram(
        &mut self,
        name: Option<&Spanned<String>>,
        key: &str,
    ) -> Option<Option<Distribution>> {
        let Some(name) = name else { return Some(None) };
        let path = self
            .file()
            .parent()
            .unwrap_or(Path::new("."))
            .join(name.get_ref());
        if !path.is_file() {
            self.error(
                name.span(),
                format!("{key}: histogram file {} does not exist", path.display()),
            );
            return None;
        }
        let named_here = format!("{key} names this histogram");
        let loaded = SourceFile::read(&path)
            .and_then(|source| histogram_file::parse(&std::sync::Arc::new(source)));
        match loaded {
            Ok(d) => Some(Some(d)),
            // A row of the histogram: there, with a note at the key.
            Err(d) if d.location().is_some() => {
                self.problems
                    .push(d.with_note_at(&self.source, name.span(), named_here));
                None
            }
            // The histogram as a whole: at the key, naming the histogram.
            Err(d) => {
                self.error(
                    name.span(),
                    format!("{key}: {}: {}", d.path().display(), d.message()),
                );
                None
            }
        }
    }

    pub(super) fn mesh(&mut self, raw: &raw::RawMesh) -> Option<MeshOptions> {
        let products = match &raw.products {
            None => Vec::new(),
            Some(list) => {
                if list.get_ref().is_empty() {
                    self.error(list.span(), "mesh.products is empty: name at least one of istio-sidecar, istio-ambient, cilium, linkerd, kmesh");
                }
                self.unique(list.get_ref(), "product")
            }
        };
        let architectures = match &raw.architectures {
            // Products name what to compare; the building blocks join only when asked.
            None if raw.products.is_some() => Vec::new(),
            None => Architecture::ALL.to_vec(),
            Some(list) => {
                if list.get_ref().is_empty() {
                    self.error(list.span(), "mesh.architectures is empty: name at least one of sidecar, per-node, per-service-account, uproxy, ebpf");
                }
                self.unique(list.get_ref(), "architecture")
            }
        };
        let scopings = match &raw.scoping {
            None => vec![Scoping::default()],
            Some(s) => match s.get_ref() {
                raw::OneOrMany::One(one) => vec![*one],
                raw::OneOrMany::Many(many) => {
                    if many.is_empty() {
                        self.error(s.span(), "mesh.scoping is empty: name at least one of mesh, namespace, call-graph");
                    }
                    let mut unique = many.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    if unique.len() != many.len() {
                        self.error(s.span(), "mesh.scoping lists a scoping twice");
                    }
                    unique
                }
            },
        };
        let waypoint_replicas = self.integer32_or(
            &raw.uproxy.waypoint_replicas,
            &ranges::WAYPOINT_REPLICAS,
            MeshOptions::DEFAULT_WAYPOINT_REPLICAS,
        );
        Some(MeshOptions {
            architectures,
            products,
            cilium_encryption: raw.cilium_encryption.unwrap_or_default(),
            scopings,
            interception: raw.interception.unwrap_or_default(),
            local_acceleration: raw.local_acceleration.unwrap_or_default(),
            micro_proxy: raw.uproxy.micro_proxy.unwrap_or_default(),
            waypoint_scope: raw.uproxy.waypoint.unwrap_or_default(),
            waypoint_replicas: waypoint_replicas?,
        })
    }

    /// The items in order, reporting any given twice.
    fn unique<T: Copy + PartialEq + std::fmt::Display>(
        &mut self,
        items: &[Spanned<T>],
        what: &str,
    ) -> Vec<T> {
        let mut seen = Vec::new();
        for item in items {
            if seen.contains(item.get_ref()) {
                self.error(
                    item.span(),
                    format!("{what} `{}` is listed twice", item.get_ref()),
                );
            } else {
                seen.push(*item.get_ref());
            }
        }
        seen
    }
}
