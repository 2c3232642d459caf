//! meshtwin's digital twin: a model of service-mesh data planes for capacity planning.
//!
//! ```text
//! cluster.toml          models/*.toml
//!      │                     │
//!  config::raw          cost_model         the file as written (serde, spans); parameters
//!      │                     │             with their sources, profiles, overrides
//!  config::resolve ◀─────────┘             checks; every problem located (meshtwin-diagnostics)
//!      │   └──▶ cluster::build             nodes, services, call graph, placement
//!      ▼
//!  Scenario                                cluster, traffic, mesh and latency options, models
//!      ├──▶ capacity::evaluate             per architecture and scoping
//!      └──▶ latency::run                   every request, on the engine, per architecture
//!      ▼
//!  report                                  table, JSON, CSV, SVG
//! ```
//!
//! Modules:
//! - `config`: scenario files at the edge: `raw` (as written), `resolve` (checks, located
//!   errors, assembly), `histogram_file` (measured service times). Nothing past it sees the
//!   file's types.
//! - `cluster`: nodes, services, call graph (`call_graph`), the short form's generator
//!   (`generate`), placement (`placement`) and the building of a cluster from its checked
//!   specification (`build`).
//! - `traffic`: the load: rates, payloads, connection reuse, arrival processes, call modes.
//! - `mesh`: the architectures and the options that shape them (scoping, interception,
//!   acceleration, uproxy's micro proxies and waypoints).
//! - `product`: the products people run (Istio sidecar and ambient, Cilium, Linkerd, Kmesh)
//!   as combinations of the architectures, with their encryption.
//! - `cost_model`: the parameters of `models/*.toml`, profiles and overrides.
//! - `request_path`: each architecture's path shape (legs, proxies, redirects).
//! - `capacity`: the capacity model, one file per architecture family; products
//!   (`capacity::product`), encryption (`capacity::encryption`) and the bill
//!   (`capacity::bill`).
//! - `engine`: the discrete-event core: simulated time, event queue, distributions,
//!   stations, histograms; no I/O.
//! - `latency`: the latency simulation: options, arrivals, hop plans, the event loop (`world`),
//!   results.
//! - `estimate`: what a run will cost (calls per request, events, time, memory), in closed
//!   forms before it starts, and the budget it must fit.
//! - `report`: what `sim run` prints (table, JSON, CSV) and draws (SVG).
//! - `sweep`: one parameter across values, and where p99 passes an SLO.
//! - `import`: `sim import`, a cluster file from Kubernetes objects and observed traffic
//!   (Prometheus, Hubble), one file per source.
//! - `commands`: the command line (`run`, `sweep`, `check`, `import`, `models`); `progress`: its
//!   progress bars.
//! - `value_range`: the range of a key or a model parameter, as the docs write it.

pub mod capacity;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod cost_model;
pub mod engine;
pub mod estimate;
pub mod import;
pub mod latency;
pub mod mesh;
pub mod product;
pub mod progress;
pub mod report;
pub mod request_path;
pub mod sweep;
pub mod traffic;
pub mod value_range;
