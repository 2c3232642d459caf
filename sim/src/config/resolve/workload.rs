//! The run a checked scenario asks for, against the budget (`crate::estimate`): values each in
//! range can still ask for too much together (a call graph in which one request fans out into
//! millions of calls, many pods at a high rate for a long time). Each problem is located at
//! the key most to blame, and says the figures and what to change.

use super::{LoadOptions, Resolver};
use crate::config::raw::RawScenario;
use crate::config::Scenario;
use crate::estimate::{
    self, approximately, MAX_CALLS_PER_REQUEST, MAX_EVENTS_PER_RUN, MEMORY_BUDGET_BYTES,
};
use crate::latency;

impl Resolver {
    pub(super) fn workload(
        &mut self,
        raw: &RawScenario,
        scenario: &Scenario,
        options: &LoadOptions,
    ) {
        let capacity = estimate::capacity(scenario);
        let simulate = options.simulate && scenario.latency.enabled;
        if let Some(calls) = estimate::calls_per_request(scenario) {
            // Written so that NaN, which no comparison holds for, is refused too. Calls
            // without bound (a caller's rate vanishing beside its callees' loads) are refused
            // for the capacity model too: its rates would be infinite.
            let within = if simulate {
                calls.mean <= MAX_CALLS_PER_REQUEST
            } else {
                calls.mean.is_finite()
            };
            if !within {
                let name = &scenario.cluster.services[calls.service as usize].name;
                // The request type or entry service as written, or the short form's count of
                // calls.
                let span = calls
                    .request_type
                    .and_then(|t| raw.requests.get(t as usize))
                    .map(|r| r.name.span())
                    .or_else(|| {
                        raw.services
                            .get(calls.service as usize)
                            .map(|s| s.name.span())
                    })
                    .or_else(|| {
                        let c = raw.cluster.get_ref();
                        c.calls_per_service
                            .as_ref()
                            .or(c.services.as_ref())
                            .map(|v| v.span())
                    })
                    .unwrap_or_else(|| raw.cluster.span());
                let how = match calls.request_type {
                    _ if !calls.mean.is_finite() => format!(
                        "one request to `{name}` would make more calls than any number holds: a service calls each callee (its load ÷ its callers' pods) ÷ the caller's rps_per_pod times per request, and a caller's rps_per_pod next to nothing beside its callees' loads makes that unbounded; raise the callers' rps_per_pod, or write the calls as {{ service, per_request }}"
                    ),
                    Some(t) => format!(
                        "one request of type `{}` makes about {} calls; the simulation allows {} per request (a request's calls can be in flight at once). \
                         Its calls multiply down its tree by their per_request counts: lower them, or run the capacity model alone (--no-latency)",
                        raw.requests.get(t as usize).map_or("?", |r| r.name.get_ref().as_str()),
                        approximately(calls.mean),
                        approximately(MAX_CALLS_PER_REQUEST)
                    ),
                    None => format!(
                        "one request to `{name}` makes about {} calls; the simulation allows {} per request (a request's calls can be in flight at once). \
                         A service calls each callee (its load ÷ its callers' pods) ÷ the caller's rps_per_pod times per request, or per_request times where the file says: \
                         make the callers' rps_per_pod closer to their callees' loads or lower the per_request counts, or run the capacity model alone (--no-latency)",
                        approximately(calls.mean),
                        approximately(MAX_CALLS_PER_REQUEST)
                    ),
                };
                self.error(span, how);
                return;
            }
        }
        if !simulate {
            return;
        }
        let jobs = latency::jobs(scenario);
        let run = estimate::latency(scenario, &jobs, options.threads);
        let within = run.events_busiest_run <= MAX_EVENTS_PER_RUN;
        if !within {
            let latency = &raw.latency;
            let traffic = &raw.traffic;
            let span = latency
                .duration_s
                .as_ref()
                .map(|d| d.span())
                .or_else(|| traffic.rps_per_pod.as_ref().map(|r| r.span()))
                .unwrap_or_else(|| raw.cluster.span());
            self.error(
                span,
                format!(
                    "the {} simulation would process about {} events ({} s simulated at {} calls per second); one run may process at most {} (about {} at {} events per second): \
                     shorten latency.duration_s or latency.warmup_s (or --duration), lower the rates, or run the capacity model alone (--no-latency)",
                    run.busiest_run.label(),
                    approximately(run.events_busiest_run),
                    scenario.latency.warmup_s + scenario.latency.duration_s,
                    approximately(
                        scenario
                            .cluster
                            .services
                            .iter()
                            .map(|s| s.rps_per_pod * s.replicas as f64)
                            .sum::<f64>()
                    ),
                    approximately(MAX_EVENTS_PER_RUN),
                    estimate::duration(MAX_EVENTS_PER_RUN / estimate::EVENTS_PER_SECOND),
                    approximately(estimate::EVENTS_PER_SECOND),
                ),
            );
            return;
        }
        let memory = capacity.memory_bytes + run.memory_bytes;
        let within = memory <= MEMORY_BUDGET_BYTES;
        if !within {
            self.error(
                raw.cluster.span(),
                format!(
                    "the model and {} simulations at once would need about {} ({} calls in flight per run at the offered load, {} of it for the cluster); meshtwin stays within {}: \
                     run fewer simulations at once (--threads 1), lower the rates or the services' app_time_us, or run the capacity model alone (--no-latency)",
                    run.parallel,
                    estimate::bytes(memory),
                    approximately(run.calls_in_flight),
                    estimate::bytes(capacity.memory_bytes),
                    estimate::bytes(MEMORY_BUDGET_BYTES)
                ),
            );
        }
    }
}
