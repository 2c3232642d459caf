//! The draft as cluster.toml text: every value followed by a comment saying where it came
//! from, notes above the entries they concern.

use super::draft::{Draft, Noted};
use std::collections::BTreeMap;

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A comment on one line.
fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A rate with enough digits to round-trip what was observed, without noise.
fn number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

fn line<T: std::fmt::Display>(out: &mut String, key: &str, v: &Noted<T>) {
    out.push_str(&format!("{key} = {}  # {}\n", v.value, comment(&v.from)));
}

pub fn toml(draft: &Draft, name: &str, sources: &[String]) -> String {
    let mut out = String::from(
        "# Written by `sim import`: each value's comment says where it came from.\n# Sources:\n",
    );
    for s in sources {
        out.push_str(&format!("#   {}\n", comment(s)));
    }
    if !draft.header.is_empty() {
        out.push_str("# Notes:\n");
        for n in &draft.header {
            out.push_str(&format!("#   {}\n", comment(n)));
        }
    }
    out.push_str(&format!("name = {}\n\n[cluster]\n", quoted(name)));
    match &draft.nodes {
        Some(n) => line(&mut out, "nodes", n),
        None => {
            out.push_str("nodes = 1  # no Node objects or Pods naming nodes: one node assumed\n")
        }
    }
    if let Some(m) = &draft.max_pods_per_node {
        line(&mut out, "max_pods_per_node", m);
    }
    if let Some(c) = &draft.cores_per_node {
        out.push_str("# ");
        line(&mut out, "cores_per_node", c);
    }
    // Names are the workloads'; one used in several namespaces is qualified by its namespace.
    let mut uses: BTreeMap<&str, u32> = BTreeMap::new();
    for s in &draft.services {
        *uses.entry(s.name.as_str()).or_default() += 1;
    }
    let names: Vec<String> = draft
        .services
        .iter()
        .map(|s| match uses[s.name.as_str()] {
            1 => s.name.clone(),
            _ => format!("{}/{}", s.namespace.value, s.name),
        })
        .collect();
    for (i, s) in draft.services.iter().enumerate() {
        out.push_str("\n[[service]]\n");
        for n in &s.notes {
            out.push_str(&format!("# {}\n", comment(n)));
        }
        out.push_str(&format!("name = {}\n", quoted(&names[i])));
        out.push_str(&format!(
            "namespace = {}  # {}\n",
            quoted(&s.namespace.value),
            comment(&s.namespace.from)
        ));
        line(&mut out, "replicas", &s.replicas);
        if let Some(sa) = &s.service_account {
            out.push_str(&format!(
                "service_account = {}  # {}\n",
                quoted(&sa.value),
                comment(&sa.from)
            ));
        }
        let lists = [
            ("http_ports", &s.http_ports),
            ("http2_ports", &s.http2_ports),
            ("grpc_ports", &s.grpc_ports),
            ("tcp_ports", &s.tcp_ports),
        ];
        let no_ports = lists.iter().all(|(_, p)| p.is_empty());
        for (key, ports) in lists {
            if ports.is_empty() {
                continue;
            }
            out.push_str(&format!("{key} = [\n"));
            for p in ports {
                out.push_str(&format!("  {},  # {}\n", p.value, comment(&p.from)));
            }
            out.push_str("]\n");
        }
        if no_ports && s.service_account.is_some() {
            out.push_str("# no Service selects its pods: the default HTTP port\n");
        }
        if let Some(r) = &s.rps_per_pod {
            out.push_str(&format!(
                "rps_per_pod = {}  # {}\n",
                number(r.value),
                comment(&r.from)
            ));
        }
        if !s.calls.is_empty() {
            out.push_str("calls = [\n");
            for c in &s.calls {
                out.push_str(&format!(
                    "  {{ service = {}, per_request = {} }},  # {}\n",
                    quoted(&names[c.callee]),
                    number(c.per_request),
                    comment(&c.from)
                ));
            }
            out.push_str("]\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_exact_enough() {
        assert_eq!(number(3.0), "3.0");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(2.5), "2.5");
    }
}
