//! The table's rows for products, encryption, ranges and the bill (`capacity::product`,
//! `capacity::encryption`, `capacity::bill`): which column is which product, who encrypts,
//! and what the mesh reserves on the nodes and costs.

use super::units::{bytes, cores};
use super::ArchitectureReport;
use crate::capacity::Bounds;

pub type Row = (&'static str, fn(&ArchitectureReport) -> String);

/// A value and, when its sources disagree, the range they give: `1.05 TB (616 GB–1.57 TB)`.
pub fn with_range<T: PartialEq + Copy>(
    value: T,
    range: Option<Bounds<T>>,
    show: fn(T) -> String,
) -> String {
    match range {
        Some(b) if b.low != b.high => {
            format!("{} ({}–{})", show(value), show(b.low), show(b.high))
        }
        _ => show(value),
    }
}

/// Shown when the scenario names products.
pub const PRODUCT_ROWS: [Row; 1] = [("built from", |a| {
    a.capacity.built_from.unwrap_or("—").to_string()
})];

pub const ENCRYPTION_ROWS: [Row; 2] = [
    ("encryption between pods", |a| {
        let e = &a.capacity.encryption;
        if e.encrypted {
            format!("{} by {}", e.kind.name(), e.by)
        } else {
            "NONE (plain text)".to_string()
        }
    }),
    ("  its CPU (handshakes + bytes)", |a| {
        let e = &a.capacity.encryption;
        if e.encrypted {
            format!(
                "{} + {}",
                cores(e.handshake_cpu_cores),
                cores(e.crypto_cpu_cores)
            )
        } else {
            "—".to_string()
        }
    }),
];

fn money(v: f64) -> String {
    if v >= 100.0 {
        super::units::count(v.round() as u64)
    } else {
        format!("{v:.2}")
    }
}

/// Shown when the scenario has `[bill]` or names products.
pub const BILL_ROWS: [Row; 5] = [
    ("requests (CPU / memory)", |a| {
        let b = &a.capacity.bill;
        format!(
            "{} / {}",
            cores(b.cpu_cores_requested),
            bytes(b.memory_bytes_requested)
        )
    }),
    ("reserved CPU (max of request, use)", |a| {
        with_range(
            a.capacity.bill.cpu_cores_reserved,
            a.capacity.range.as_ref().map(|r| r.bill_cpu_cores_reserved),
            cores,
        )
    }),
    ("reserved memory", |a| {
        with_range(
            a.capacity.bill.memory_bytes_reserved,
            a.capacity
                .range
                .as_ref()
                .map(|r| r.bill_memory_bytes_reserved),
            bytes,
        )
    }),
    ("node capacity taken", |a| {
        a.capacity.bill.nodes.map_or_else(
            || "— (no [bill] node shape)".into(),
            |n| format!("{n:.2} nodes"),
        )
    }),
    ("money per month", |a| {
        let b = &a.capacity.bill;
        match (b.cost_per_month, &b.currency) {
            (Some(c), Some(currency)) => format!(
                "{} {currency}",
                with_range(
                    c,
                    a.capacity
                        .range
                        .as_ref()
                        .and_then(|r| r.bill_cost_per_month),
                    money
                )
            ),
            _ => "— (no [bill] price)".into(),
        }
    }),
];

/// Proxies whose high-water memory passes their limit: always shown when any does.
pub const LIMIT_ROWS: [Row; 1] = [("memory over limit (OOM)", |a| {
    let over = &a.capacity.bill.over_memory_limit;
    if over.is_empty() {
        "no".into()
    } else {
        format!("YES: {}", over.join(", "))
    }
})];

pub const CONTROL_PLANE_ROWS: [Row; 3] = [
    ("control plane memory / CPU", |a| {
        use crate::capacity::control_plane::ControlPlaneKind;
        let c = &a.capacity.control_plane;
        let name = match c.kind {
            ControlPlaneKind::Istiod => "istiod",
            ControlPlaneKind::Linkerd => "linkerd",
            ControlPlaneKind::CiliumAgents => "cilium agents + operator",
            ControlPlaneKind::NotModelled => return "not modelled".into(),
        };
        format!(
            "{name} {} / {}",
            with_range(
                c.memory_bytes,
                a.capacity
                    .range
                    .as_ref()
                    .map(|r| r.control_plane_memory_bytes),
                bytes
            ),
            match c.kind {
                // The published figure gives Linkerd's control plane memory only.
                ControlPlaneKind::Linkerd => "CPU not modelled".to_string(),
                _ => cores(c.cpu_cores),
            }
        )
    }),
    ("xDS bytes per full push", |a| {
        let c = &a.capacity.control_plane;
        if c.xds_bytes_per_full_push == 0 {
            "—".into()
        } else {
            bytes(c.xds_bytes_per_full_push)
        }
    }),
    ("reconnect after a restart", |a| {
        let c = &a.capacity.control_plane;
        if c.reconnect_seconds == 0.0 {
            "—".into()
        } else {
            format!("≥ {:.0} s", c.reconnect_seconds.ceil())
        }
    }),
];

/// Shown when some column runs Cilium's operator (inside the control plane's figures).
pub const OPERATOR_ROWS: [Row; 1] = [("  of which cilium-operator", |a| {
    let c = &a.capacity.control_plane;
    if c.operator_replicas == 0 {
        "—".into()
    } else {
        format!(
            "{} replicas: {} / {}",
            c.operator_replicas,
            bytes(c.operator_memory_bytes),
            cores(c.operator_cpu_cores)
        )
    }
})];

/// Shown when `[cluster] endpoint_changes_per_second` is above zero.
pub const CHURN_ROWS: [Row; 4] = [
    ("endpoint churn: pushes per second", |a| {
        use crate::capacity::control_plane::ControlPlaneKind;
        let c = &a.capacity.control_plane;
        match c.kind {
            ControlPlaneKind::NotModelled => "—".into(),
            _ => format!(
                "{:.3} ({:.1} changes each)",
                c.churn.pushes_per_second, c.churn.changes_per_push
            ),
        }
    }),
    ("  endpoints a push sends the largest proxy", |a| {
        let c = &a.capacity.control_plane.churn;
        if c.bytes_per_push_per_proxy_max == 0 {
            "—".into()
        } else {
            bytes(c.bytes_per_push_per_proxy_max)
        }
    }),
    ("  endpoints pushed to all proxies", |a| {
        let c = &a.capacity.control_plane.churn;
        if c.bytes_per_second == 0.0 {
            "—".into()
        } else {
            with_range(
                c.bytes_per_second,
                a.capacity.range.as_ref().map(|r| r.churn_bytes_per_second),
                |v| format!("{}/s", bytes(v.round() as u64)),
            )
        }
    }),
    ("  control-plane CPU the pushes add", |a| {
        use crate::capacity::control_plane::ControlPlaneKind;
        let c = &a.capacity.control_plane;
        match c.kind {
            ControlPlaneKind::Istiod => cores(c.churn.cpu_cores),
            ControlPlaneKind::CiliumAgents => "in the agents' figure".into(),
            ControlPlaneKind::Linkerd => "not modelled".into(),
            ControlPlaneKind::NotModelled => "—".into(),
        }
    }),
];
