//! `[models]`: a known profile, then overrides of known parameters, each 0 or more.

use super::Resolver;
use crate::config::raw;
use crate::cost_model::{ranges, Catalog, ModelSet, ParamValues};
use crate::latency::options::LatencyOptions;

impl Resolver {
    /// A proxy's CPU per request (`vcpu_per_krps`) is what occupies its worker, and its
    /// service time the part of it on the request's critical path: the first cannot be the
    /// smaller (the CPU figure and the simulated workers would tell two stories).
    pub(super) fn cpu_covers_service_time(
        &mut self,
        models: &ModelSet,
        latency: &LatencyOptions,
        raw: &raw::RawModels,
    ) -> Option<()> {
        let envoy_service = latency.envoy_histogram.as_ref().map_or(
            (
                models.latency.l7_service_time_mean_us,
                "models.envoy.l7_service_time_mean_us",
            ),
            |h| (h.mean() / 1000.0, "the mean of latency.envoy_histogram"),
        );
        let ztunnel_service = latency.ztunnel_histogram.as_ref().map_or(
            (
                models.latency.l4_service_time_mean_us,
                "models.ztunnel.l4_service_time_mean_us",
            ),
            |h| (h.mean() / 1000.0, "the mean of latency.ztunnel_histogram"),
        );
        let checks = [
            (
                "models.envoy.vcpu_per_krps",
                models.envoy.vcpu_per_krps,
                models.l7_cpu_us(),
                envoy_service,
            ),
            (
                "models.envoy.waypoint_vcpu_per_krps",
                models.waypoint_vcpu_per_krps,
                models.waypoint_cpu_us(),
                envoy_service,
            ),
            (
                "models.linkerd2-proxy.vcpu_per_krps",
                models.linkerd.vcpu_per_krps,
                models.linkerd.cpu_us_per_request(),
                (
                    models.linkerd_service_time_mean_us,
                    "models.linkerd2-proxy.l7_service_time_mean_us",
                ),
            ),
            (
                "models.ztunnel.vcpu_per_krps",
                models.ztunnel.vcpu_per_krps,
                models.l4_cpu_us(),
                ztunnel_service,
            ),
        ];
        let mut ok = true;
        for (key, value, cpu_us, (service_us, service_key)) in checks {
            if cpu_us < service_us {
                ok = false;
                let message = format!(
                    "{key} = {value} is {cpu_us:.1} µs of CPU per request, less than the {service_us:.1} µs a request waits for the proxy's work ({service_key}): a request cannot cost less CPU than its service time; raise {key} or lower the service time"
                );
                // At the override that set it, when the file has one.
                match overridden_at(raw, key) {
                    Some(span) => self.error(span, message),
                    None => self.file_error(message),
                }
            }
        }
        ok.then_some(())
    }

    pub(super) fn models(
        &mut self,
        raw: &raw::RawModels,
        catalog: &Catalog,
    ) -> Option<(ModelSet, ParamValues)> {
        let mut values = catalog.values();
        let mut ok = true;
        let profile = raw.profile.as_ref().and_then(|p| {
            if catalog.profile(p.get_ref()).is_some() {
                catalog.apply_profile(&mut values, p.get_ref());
                Some(p.get_ref().clone())
            } else {
                let known: Vec<&str> = catalog.profiles.iter().map(|p| p.name.as_str()).collect();
                self.error(
                    p.span(),
                    format!(
                        "unknown profile `{}`; known profiles: {}",
                        p.get_ref(),
                        known.join(", ")
                    ),
                );
                ok = false;
                None
            }
        });
        let origin = format!("overridden in {}", self.file().display());
        for (component, overrides) in raw.overrides() {
            let params = values.get_mut(component).expect("known component");
            for (name, value) in overrides {
                let Some(slot) = params.get_mut(name.get_ref()) else {
                    let known: Vec<&str> = params.keys().map(String::as_str).collect();
                    let message = format!(
                        "`{}` is not a parameter of the {component} model; it has: {}",
                        name.get_ref(),
                        known.join(", ")
                    );
                    self.error(name.span(), message);
                    ok = false;
                    continue;
                };
                let v = *value.get_ref();
                let range =
                    ranges::of(name.get_ref()).expect("the catalog gives every parameter a range");
                if !range.contains(v) {
                    let message = format!(
                        "models.{component}.{} must be {} {range} ({}), not {}",
                        name.get_ref(),
                        if range.integer { "an" } else { "a" },
                        slot.unit,
                        crate::value_range::shown(v)
                    );
                    self.error(value.span(), message);
                    ok = false;
                    continue;
                }
                slot.value = v;
                (slot.low, slot.high) = (None, None);
                slot.source = origin.clone();
            }
        }
        if !ok {
            return None;
        }
        match ModelSet::from_values(&values, profile) {
            Ok(set) => Some((set, values)),
            Err(e) => {
                self.file_error(e.to_string());
                None
            }
        }
    }
}

/// Where the file overrides `models.<component>.<name>`, if it does.
fn overridden_at(raw: &raw::RawModels, key: &str) -> Option<std::ops::Range<usize>> {
    let rest = key.strip_prefix("models.")?;
    let (component, name) = rest.split_once('.')?;
    let (_, overrides) = raw.overrides().into_iter().find(|(c, _)| *c == component)?;
    overrides
        .iter()
        .find(|(k, _)| k.get_ref() == name)
        .map(|(_, v)| v.span())
}
