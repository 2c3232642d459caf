//! meshtwin's digital twin: a model of service-mesh data planes for capacity planning.
//!
//! ```text
//! cluster.toml ──▶ config::raw ──▶ config::resolve ──▶ Scenario ──▶ capacity::evaluate ──▶ report
//!                  (serde, spans)   (checks, located     (cluster,     (per architecture)     (table,
//! models/*.toml ──▶ cost_model ────▶ errors)              models)                              json, csv)
//! ```

pub mod capacity;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod cost_model;
pub mod engine;
pub mod latency;
pub mod mesh;
pub mod progress;
pub mod report;
pub mod request_path;
pub mod sweep;
pub mod traffic;
