//! Istio's standard metric `istio_requests_total` (a counter per source and destination
//! workload, reported by each side's proxy), as rates over a window, from a Prometheus
//! server's HTTP API (`/api/v1/query`) or a saved response of it.
//!
//! Two instant queries: the edges inside the mesh, as the sending proxy reports them
//! (`reporter="source"`, so each request counts once), and the requests from outside the mesh,
//! which only the receiving proxy sees (`reporter="destination"`, `source_workload="unknown"`).

use super::http;
use super::observed::{Edge, Endpoint};
use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// Workload to workload, inside the mesh.
pub fn mesh_query(window: &str) -> String {
    format!(
        "sum by (source_workload, source_workload_namespace, destination_workload, destination_workload_namespace) (rate(istio_requests_total{{reporter=\"source\"}}[{window}]))"
    )
}

/// From outside the mesh to each workload.
pub fn outside_query(window: &str) -> String {
    format!(
        "sum by (destination_workload, destination_workload_namespace) (rate(istio_requests_total{{reporter=\"destination\",source_workload=\"unknown\"}}[{window}]))"
    )
}

/// Both queries against the server at `url`. An unreachable server, an error answer or no
/// samples at all is an error naming the URL and the query.
pub fn query(url: &str, window: &str) -> Result<Vec<Edge>, Diagnostics> {
    let url = url.trim_end_matches('/');
    let mut edges = Vec::new();
    for q in [mesh_query(window), outside_query(window)] {
        let failed = |why: String| -> Diagnostics {
            Diagnostic::file(url, format!("Prometheus query `{q}` failed: {why}")).into()
        };
        let body = http::get(url, "/api/v1/query", &[("query", &q)]).map_err(failed)?;
        let response: Value = serde_json::from_str(&body)
            .map_err(|e| failed(format!("the answer is not JSON ({e})")))?;
        let source = format!("Prometheus {url}, rate over {window}");
        edges.extend(from_response(&response, &source).map_err(failed)?);
    }
    if edges.iter().all(|e| e.rps <= 0.0) {
        return Err(Diagnostic::file(
            url,
            format!(
                "Prometheus returned no traffic for `{}` (nor from outside the mesh): is Istio's telemetry scraped, and has the window ({window}) seen requests?",
                mesh_query(window)
            ),
        )
        .into());
    }
    Ok(edges)
}

/// A saved `/api/v1/query` response (`curl …/api/v1/query --data-urlencode query=…`).
pub fn read_saved(path: &Path) -> Result<Vec<Edge>, Diagnostics> {
    let source = Arc::new(SourceFile::read(path)?);
    let text = source.text();
    let response: Value = serde_json::from_str(text).map_err(|e| {
        let start: usize = text
            .split_inclusive('\n')
            .take(e.line().saturating_sub(1))
            .map(str::len)
            .sum();
        let at = (start + e.column().saturating_sub(1)).min(text.len());
        Diagnostic::at(&source, at..at, format!("not valid JSON: {e}"))
    })?;
    let label = format!("Prometheus response {}", path.display());
    let edges = from_response(&response, &label).map_err(|m| Diagnostic::file(path, m))?;
    if edges.is_empty() {
        return Err(Diagnostic::file(
            path,
            format!(
                "the saved response has no samples (save the result of `{}`)",
                mesh_query("5m")
            ),
        )
        .into());
    }
    Ok(edges)
}

/// The edges of an instant-query response: each sample's labels name the workloads, its value
/// is the rate.
fn from_response(response: &Value, source: &str) -> Result<Vec<Edge>, String> {
    if response.get("status").and_then(Value::as_str) != Some("success") {
        let why = response
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no `status: success`");
        return Err(format!("the answer is an error: {why}"));
    }
    let data = response.get("data").ok_or("the answer has no `data`")?;
    let kind = data.get("resultType").and_then(Value::as_str);
    if kind != Some("vector") {
        return Err(format!(
            "the result is {}, not an instant vector (use /api/v1/query, not query_range)",
            kind.unwrap_or("missing")
        ));
    }
    let mut edges = Vec::new();
    for sample in data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("the answer has no `data.result` list")?
    {
        let label = |k: &str| sample.get("metric")?.get(k)?.as_str();
        let rps = sample
            .get("value")
            .and_then(|v| v.get(1))
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("a sample's value is not a rate: {sample}"))?;
        let to = Endpoint::workload(
            label("destination_workload_namespace"),
            label("destination_workload"),
        );
        if to == Endpoint::Outside {
            continue; // to somewhere outside the mesh: not a service of the cluster
        }
        edges.push(Edge {
            from: Endpoint::workload(label("source_workload_namespace"), label("source_workload")),
            to,
            rps,
            source: source.to_string(),
        });
    }
    Ok(edges)
}

/// A Prometheus duration (`30s`, `5m`, `1h`) in seconds.
pub fn window_seconds(window: &str) -> Option<f64> {
    let split = window.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = window.split_at(split);
    let n: f64 = number.parse().ok().filter(|n: &f64| *n > 0.0)?;
    let unit = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 604_800.0,
        _ => return None,
    };
    Some(n * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_instant_vector() {
        let response: Value = serde_json::from_str(r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"source_workload":"web","source_workload_namespace":"shop","destination_workload":"cart","destination_workload_namespace":"shop"},"value":[1,"2.5"]},
            {"metric":{"destination_workload":"web","destination_workload_namespace":"shop"},"value":[1,"4"]}]}}"#).unwrap();
        let edges = from_response(&response, "test").unwrap();
        assert_eq!(edges.len(), 2);
        assert_eq!(
            edges[0].from,
            Endpoint::Workload("shop".into(), "web".into())
        );
        assert_eq!(edges[0].rps, 2.5);
        assert_eq!(edges[1].from, Endpoint::Outside);
        let matrix: Value = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        )
        .unwrap();
        assert!(from_response(&matrix, "t")
            .unwrap_err()
            .contains("instant vector"));
        assert_eq!(window_seconds("5m"), Some(300.0));
        assert_eq!(window_seconds("5"), None);
        assert_eq!(window_seconds("m"), None);
    }
}
