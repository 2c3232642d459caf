//! A `[[service]]`'s `calls`, checked: each callee defined and called once, and, where a call
//! is written as a table, its calls per request in range. One table anywhere puts the file in
//! the per-edge form (`crate::cluster::edge_rates`): every plain name is then one call per
//! request, and the rates of called services follow from their callers', so a called service
//! that also gives its own `rps_per_pod` is an error naming both.

use super::cluster::Call;
use super::Resolver;
use crate::cluster::Cluster;
use crate::config::ranges;
use crate::config::raw::RawScenario;
use crate::config::raw_requests::RawCall;
use std::collections::HashMap;

impl Resolver {
    /// The listed calls in file order, and their counts per request in the per-edge form.
    pub(super) fn listed_calls(
        &mut self,
        raw: &RawScenario,
        index: &HashMap<&str, (u32, usize)>,
    ) -> Option<(Vec<Call>, Option<Vec<f64>>)> {
        let per_edge = raw
            .services
            .iter()
            .flat_map(|s| &s.calls)
            .any(|c| matches!(c.get_ref(), RawCall::Edge(_)));
        let mut calls = Vec::new();
        let mut per_request = Vec::new();
        for s in &raw.services {
            let Some(&(from, _)) = index.get(s.name.get_ref().as_str()) else {
                continue;
            };
            let mut seen = Vec::new();
            for call in &s.calls {
                let (name, span, k) = match call.get_ref() {
                    RawCall::Name(name) => (name.as_str(), call.span(), Some(1.0)),
                    RawCall::Edge(edge) => {
                        let k = match &edge.per_request {
                            Some(k) => self.number(k, &ranges::PER_REQUEST),
                            None => Some(1.0),
                        };
                        (edge.service.get_ref().as_str(), edge.service.span(), k)
                    }
                };
                match index.get(name) {
                    None => self.error(
                        span,
                        format!(
                            "service `{}` calls `{name}`, which is not defined; define it with [[service]] name = \"{name}\"",
                            s.name.get_ref(),
                        ),
                    ),
                    Some(&(to, _)) if seen.contains(&to) => self.error(
                        span,
                        format!("service `{}` calls `{name}` twice", s.name.get_ref()),
                    ),
                    Some(&(to, _)) => {
                        seen.push(to);
                        calls.push(Call(from, to, span));
                        per_request.push(k.unwrap_or(1.0));
                    }
                }
            }
        }
        if per_edge {
            self.called_services_take_their_callers_rates(raw, &calls);
        }
        if !self.problems.is_empty() {
            return None;
        }
        Some((calls, per_edge.then_some(per_request)))
    }

    /// In the per-edge form a called service's rate is its callers' rates × their counts: its
    /// own `rps_per_pod` would contradict them.
    fn called_services_take_their_callers_rates(&mut self, raw: &RawScenario, calls: &[Call]) {
        for (i, s) in raw.services.iter().enumerate() {
            let Some(rps) = &s.rps_per_pod else {
                continue;
            };
            let Some(call) = calls.iter().find(|c| c.1 as usize == i) else {
                continue;
            };
            let caller = raw.services[call.0 as usize].name.get_ref();
            self.error(
                rps.span(),
                format!(
                    "service `{}` gives rps_per_pod, but `{caller}` calls it and this file gives calls per request ({{ service, per_request }}): a called service's rate is the sum of its callers' rates × their calls per request; remove its rps_per_pod, or write every call as a plain name",
                    s.name.get_ref()
                ),
            );
        }
    }

    /// Rates that follow from others (per-edge counts, request types) meet the range a rate
    /// written per pod has: products of counts down a chain can pass any bound.
    pub(super) fn derived_rates_in_range(
        &mut self,
        raw: &RawScenario,
        cluster: &Cluster,
    ) -> Option<()> {
        let derived = cluster.requests.is_some()
            || raw
                .services
                .iter()
                .flat_map(|s| &s.calls)
                .any(|c| matches!(c.get_ref(), RawCall::Edge(_)));
        if !derived {
            return Some(());
        }
        let key = &ranges::SERVICE_RPS_PER_POD;
        let mut ok = true;
        for (s, service) in cluster.services.iter().enumerate() {
            let rps = service.rps_per_pod;
            // Zero is a service no request reaches, which the derived form allows.
            if rps == 0.0 || key.range.contains(rps) {
                continue;
            }
            ok = false;
            let span = raw
                .services
                .get(s)
                .map_or_else(|| raw.cluster.span(), |r| r.name.span());
            let from = if cluster.requests.is_some() {
                "the request types' rates × the calls per request down their trees"
            } else {
                "its callers' rates × their calls per request"
            };
            self.error(
                span,
                format!(
                    "service `{}` would serve {} requests per second per pod ({from}); a pod serves at most {}: lower the rates or the per_request counts, or add replicas",
                    service.name,
                    ranges::shown(rps),
                    ranges::with_separators(key.range.max)
                ),
            );
        }
        ok.then_some(())
    }
}
