//! The workload server that runs in every pod of a mesh testbed (`meshtwin-workload`): an
//! HTTP/1.1 server (hyper, one tokio thread) that does what the cluster.toml says for its
//! service, request by request:
//!
//! 1. reads the request body;
//! 2. spends the service's `app_time_us` **burning CPU** on its one thread ([`app_time`]):
//!    a spin on the clock, precise to about a microsecond, where tokio's timer would round a
//!    sleep up to whole milliseconds; a pod's application is therefore one server, and two
//!    requests' app times never overlap in one pod;
//! 3. calls each downstream service through its VIP, as many times as the simulator's walk
//!    would (`sim::latency::lookup::Callee::count`, the same function), one after the other
//!    or all at once (`call_mode`), each call carrying `payload_bytes` ([`upstream`]);
//! 4. answers 200 with `payload_bytes` of body (502 when a call failed, naming it).
//!
//! What each pod does is a [`WorkloadSpec`], written by the testbed as JSON and passed with
//! `--spec FILE`.

pub mod app_time;
pub mod server;
pub mod spec;
pub mod upstream;

pub use spec::{Call, WorkloadSpec};
