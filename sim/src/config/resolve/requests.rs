//! `[[request]]` types, checked and flattened into `cluster::requests::RequestTypes`: names
//! unique, entries and callees defined, rates, counts and payloads in range, every tree within
//! [`MAX_CALL_DEPTH`] calls of its entry and no call to a service whose requests start in its
//! own pods. With request types the services' rates and calls come from the trees, so a
//! service's own `rps_per_pod` or `calls`, or `traffic.rps_per_pod`, is an error naming both.

use super::Resolver;
use crate::cluster::build::ServiceSpec;
use crate::cluster::requests::{CallNode, RequestType, RequestTypes, MAX_CALL_DEPTH};
use crate::cluster::MAX_CALLS;
use crate::config::ranges;
use crate::config::raw::RawScenario;
use crate::config::raw_requests::{RawCallNode, RawRequest};
use crate::traffic::{Origin, Traffic};
use std::collections::{HashMap, VecDeque};

impl Resolver {
    /// The short form generates its services: request types need them listed.
    pub(super) fn requests_need_listed_services(&mut self, raw: &RawScenario) {
        if let Some(first) = raw.requests.first() {
            self.error(
                first.name.span(),
                "[[request]] types need [[service]] entries to call; the short form (cluster.services = N) generates its services",
            );
        }
    }

    pub(super) fn request_types(
        &mut self,
        raw: &RawScenario,
        services: &[ServiceSpec],
        traffic: &Traffic,
    ) -> Option<RequestTypes> {
        let first = raw.requests.first()?;
        let first_name = first.name.get_ref();
        self.rates_come_from_requests(raw, first_name);
        let index: HashMap<&str, u32> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i as u32))
            .collect();
        let mut types: Vec<RequestType> = Vec::new();
        let mut nodes: Vec<CallNode> = Vec::new();
        let mut lines: HashMap<&str, usize> = HashMap::new();
        for r in &raw.requests {
            let name = r.name.get_ref().as_str();
            if name.is_empty() {
                self.error(r.name.span(), "a request type needs a non-empty name");
            }
            if let Some(line) = lines.get(name) {
                let msg = format!("request type `{name}` is defined twice (first on line {line})");
                self.error(r.name.span(), msg);
                continue;
            }
            lines.insert(name, self.source.location(r.name.span().start).line);
            let rate = self.number(&r.rate, &ranges::REQUEST_RATE);
            let Some(&entry) = index.get(r.entry.get_ref().as_str()) else {
                let entry = r.entry.get_ref();
                self.error(
                    r.entry.span(),
                    format!("request `{name}` enters at `{entry}`, which is not defined; define it with [[service]] name = \"{entry}\""),
                );
                continue;
            };
            let root = nodes.len() as u32;
            if let (Some(()), Some(rate)) = (
                self.tree(r, entry, services, &index, traffic, &mut nodes),
                rate,
            ) {
                let arrivals = r.arrivals.unwrap_or(services[entry as usize].arrivals);
                types.push(RequestType {
                    name: name.to_string(),
                    root,
                    rate,
                    arrivals,
                });
            }
            if nodes.len() as u64 > MAX_CALLS {
                self.error(
                    r.name.span(),
                    format!(
                        "the request types' trees have more than {} calls; the model holds every call, at most {}",
                        ranges::with_separators(MAX_CALLS as f64),
                        ranges::with_separators(MAX_CALLS as f64)
                    ),
                );
                return None;
            }
        }
        if !self.problems.is_empty() {
            return None;
        }
        Some(RequestTypes { types, nodes })
    }

    /// With request types, the services' rates and calls come from them.
    fn rates_come_from_requests(&mut self, raw: &RawScenario, first: &str) {
        if let Some(rps) = &raw.traffic.rps_per_pod {
            self.error(
                rps.span(),
                format!("traffic.rps_per_pod is given, and so are [[request]] types (`{first}` first): with request types every service's rate follows from their rates and call trees; remove traffic.rps_per_pod, or the [[request]] entries"),
            );
        }
        for s in &raw.services {
            let service = s.name.get_ref();
            if let Some(rps) = &s.rps_per_pod {
                self.error(
                    rps.span(),
                    format!("service `{service}` gives rps_per_pod, and the file has [[request]] types (`{first}` first): with request types every service's rate follows from their rates and call trees; remove its rps_per_pod, or the [[request]] entries"),
                );
            }
            if let Some(call) = s.calls.first() {
                self.error(
                    call.span(),
                    format!("service `{service}` lists calls, and the file has [[request]] types (`{first}` first): with request types the calls are their trees' (`calls` in each [[request]]); remove its calls, or the [[request]] entries"),
                );
            }
        }
    }

    /// One request's tree, breadth first so that each node's children lie together in
    /// `nodes`; every problem located, the first call past the depth bound ends the walk.
    fn tree(
        &mut self,
        r: &RawRequest,
        entry: u32,
        services: &[ServiceSpec],
        index: &HashMap<&str, u32>,
        traffic: &Traffic,
        nodes: &mut Vec<CallNode>,
    ) -> Option<()> {
        let entry_spec = &services[entry as usize];
        let payload =
            |resolver: &mut Self, given: &Option<toml::Spanned<i64>>, default: u64| match given {
                Some(v) => resolver.integer(v, &ranges::REQUEST_PAYLOAD_BYTES),
                None => Some(default),
            };
        let root_payload = payload(self, &r.payload_bytes, traffic.payload_bytes)?;
        let first = nodes.len();
        nodes.push(CallNode {
            service: entry,
            per_request: 1.0,
            call_mode: r.mode.unwrap_or(entry_spec.call_mode),
            payload_bytes: root_payload,
            children_start: 0,
            children_end: 0,
        });
        // Each node's parent, to name the chain that passes the bound.
        let mut parent: Vec<usize> = vec![usize::MAX];
        let mut ok = true;
        let mut queue: VecDeque<(&[RawCallNode], usize, u32)> = VecDeque::new();
        queue.push_back((&r.calls, first, 1));
        while let Some((calls, at, depth)) = queue.pop_front() {
            let start = nodes.len();
            for call in calls {
                if depth > MAX_CALL_DEPTH {
                    let chain = self.chain(nodes, &parent, first, at, services);
                    self.error(
                        call.service.span(),
                        format!(
                            "request `{}` goes deeper than {MAX_CALL_DEPTH} calls below its entry here ({chain} → {}): a request's call tree must end, so write a recursion out only as deep as requests really go (at most {MAX_CALL_DEPTH} calls)",
                            r.name.get_ref(),
                            call.service.get_ref()
                        ),
                    );
                    return None;
                }
                let name = call.service.get_ref().as_str();
                let service = match index.get(name) {
                    Some(&s) => s,
                    None => {
                        self.error(
                            call.service.span(),
                            format!("request `{}` calls `{name}`, which is not defined; define it with [[service]] name = \"{name}\"", r.name.get_ref()),
                        );
                        ok = false;
                        0
                    }
                };
                let spec = &services[service as usize];
                if ok && spec.origin == Origin::InPod {
                    self.error(
                        call.service.span(),
                        format!("request `{}` calls `{name}`, whose requests start in its own pods (origin = \"in-pod\"): such a service can only be an entry", r.name.get_ref()),
                    );
                    ok = false;
                }
                let per_request = match &call.per_request {
                    Some(k) => self.number(k, &ranges::TREE_PER_REQUEST),
                    None => Some(1.0),
                };
                let payload_bytes = payload(self, &call.payload_bytes, traffic.payload_bytes);
                // A node is kept for every call, right or wrong, so that the walk goes on to
                // report the problems below it.
                ok &= per_request.is_some() && payload_bytes.is_some();
                nodes.push(CallNode {
                    service,
                    per_request: per_request.unwrap_or(0.0),
                    payload_bytes: payload_bytes.unwrap_or(0),
                    call_mode: call.mode.unwrap_or(spec.call_mode),
                    children_start: 0,
                    children_end: 0,
                });
                parent.push(at);
            }
            nodes[at].children_start = start as u32;
            nodes[at].children_end = nodes.len() as u32;
            if nodes.len() as u64 > MAX_CALLS {
                return None;
            }
            for (i, call) in calls.iter().enumerate() {
                queue.push_back((&call.calls, start + i, depth + 1));
            }
        }
        ok.then_some(())
    }

    /// The services from a tree's entry down to `at`, shortened in the middle when long.
    fn chain(
        &self,
        nodes: &[CallNode],
        parent: &[usize],
        first: usize,
        mut at: usize,
        services: &[ServiceSpec],
    ) -> String {
        let mut names = Vec::new();
        while at != usize::MAX {
            names.push(services[nodes[at].service as usize].name.as_str());
            at = parent[at - first];
        }
        names.reverse();
        if names.len() > 8 {
            let tail = names.split_off(names.len() - 4);
            names.truncate(3);
            names.push("…");
            names.extend(tail);
        }
        names.join(" → ")
    }
}
