//! Cilium Hubble flow exports: `hubble observe -o json` writes one JSON object a line, each a
//! flow (`{"flow": {...}}`, or the flow itself) with its `time`, its `source` and `destination`
//! endpoints (`namespace`, `workloads[].name`, `labels`) and either an L7 record
//! (`l7.type` = `REQUEST`) or L3/L4 fields (`l4.TCP.flags`).
//!
//! Requests are the L7 `REQUEST` flows when the export has any (Hubble sees L7 where a policy
//! asks for visibility); otherwise each new TCP connection (a SYN without ACK) counts as one
//! request, a lower bound where connections are reused. Replies are skipped. A flow Hubble
//! reports at both ends (egress at the client's node, ingress at the server's) is counted
//! once: per pair, the larger of the two directions' counts. The rate is the count over the
//! window: `--window` when given, otherwise the time from the first flow to the last.

use super::observed::{Edge, Endpoint};
use meshtwin_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The edges of one export.
pub fn read(path: &Path, window_s: Option<f64>) -> Result<Vec<Edge>, Diagnostics> {
    let source = Arc::new(SourceFile::read(path)?);
    let text = source.text();
    let mut flows = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let at = start;
        start += line.len();
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            let offset = (at + e.column().saturating_sub(1)).min(text.len());
            // serde's own place is within the line; the diagnostic gives the file's.
            let why = e.to_string();
            let why = why
                .rsplit_once(" at line ")
                .map_or(why.as_str(), |(w, _)| w);
            Diagnostic::at(&source, offset..offset, format!("not a JSON flow: {why}"))
        })?;
        let flow = v.get("flow").cloned().unwrap_or(v);
        if flow.get("source").is_none() && flow.get("destination").is_none() {
            continue; // node status and lost-events lines carry no flow
        }
        flows.push((flow, at));
    }
    if flows.is_empty() {
        return Err(Diagnostic::file(
            path,
            "no flows in this export (expected `hubble observe -o json` lines)",
        )
        .into());
    }
    let l7 = flows.iter().any(|(f, _)| is_l7_request(f));
    let mut times = Vec::new();
    // (from, to) → direction → count
    let mut counts: BTreeMap<(Endpoint, Endpoint), BTreeMap<String, u64>> = BTreeMap::new();
    for (flow, at) in &flows {
        if let Some(t) = flow.get("time").and_then(Value::as_str) {
            let seconds = rfc3339_seconds(t).ok_or_else(|| {
                Diagnostic::at(
                    &source,
                    *at..*at,
                    format!("the flow's time `{t}` is not RFC 3339"),
                )
            })?;
            times.push(seconds);
        }
        if flow.get("is_reply").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let counted = if l7 {
            is_l7_request(flow)
        } else {
            is_new_connection(flow)
        };
        if !counted {
            continue;
        }
        let from = endpoint(flow.get("source"));
        let to = endpoint(flow.get("destination"));
        if to == Endpoint::Outside || from == to {
            continue;
        }
        let direction = flow
            .get("traffic_direction")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        *counts
            .entry((from, to))
            .or_default()
            .entry(direction)
            .or_default() += 1;
    }
    let span = match (
        times.iter().cloned().reduce(f64::min),
        times.iter().cloned().reduce(f64::max),
    ) {
        (Some(first), Some(last)) => last - first,
        _ => 0.0,
    };
    let window = match window_s {
        Some(w) => w,
        None if span > 0.0 => span,
        None => {
            return Err(Diagnostic::file(
                path,
                "the flows span no time (one timestamp, or none): give the window they cover with --window",
            )
            .into())
        }
    };
    let what = if l7 {
        "L7 requests"
    } else {
        "new TCP connections"
    };
    let label = format!("hubble {} ({what} over {window:.0} s)", path.display());
    Ok(counts
        .into_iter()
        .map(|((from, to), by_direction)| Edge {
            from,
            to,
            rps: *by_direction.values().max().unwrap_or(&0) as f64 / window,
            source: label.clone(),
        })
        .collect())
}

fn is_l7_request(flow: &Value) -> bool {
    flow.get("l7")
        .and_then(|l| l.get("type"))
        .and_then(Value::as_str)
        == Some("REQUEST")
}

fn is_new_connection(flow: &Value) -> bool {
    let flags = flow
        .get("l4")
        .and_then(|l| l.get("TCP"))
        .and_then(|t| t.get("flags"));
    let set = |k: &str| flags.and_then(|f| f.get(k)).and_then(Value::as_bool) == Some(true);
    set("SYN") && !set("ACK")
}

/// A flow's endpoint: its first workload in its namespace; `reserved:world` or no workload
/// is outside the mesh.
fn endpoint(e: Option<&Value>) -> Endpoint {
    let Some(e) = e else { return Endpoint::Outside };
    let world = e
        .get("labels")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|l| l.as_str() == Some("reserved:world")));
    if world {
        return Endpoint::Outside;
    }
    let workload = e
        .get("workloads")
        .and_then(|w| w.get(0))
        .and_then(|w| w.get("name"))
        .and_then(Value::as_str);
    Endpoint::workload(e.get("namespace").and_then(Value::as_str), workload)
}

/// `2026-12-03T03:10:31.123456789Z` (or with a `+hh:mm` offset) in seconds since 1970.
fn rfc3339_seconds(t: &str) -> Option<f64> {
    let (date, time) = t.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset_s) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(i);
        let (oh, om) = off[1..].split_once(':')?;
        let sign = if off.starts_with('-') { -1 } else { 1 };
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let mut c = clock.splitn(3, ':');
    let (h, min) = (
        c.next()?.parse::<i64>().ok()?,
        c.next()?.parse::<i64>().ok()?,
    );
    let s: f64 = c.next()?.parse().ok()?;
    // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86400 + h * 3600 + min * 60 - offset_s) as f64 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            rfc3339_seconds("2000-03-01T00:00:01.5Z"),
            Some(951_868_801.5)
        );
        assert_eq!(
            rfc3339_seconds("2000-03-01T01:00:01.5+01:00"),
            Some(951_868_801.5)
        );
        assert_eq!(rfc3339_seconds("yesterday"), None);
    }
}
