//! What one pod's workload server does, as the testbed derives it from the scenario.

use std::net::SocketAddrV4;

use serde::{Deserialize, Serialize};
use sim::traffic::{CallMode, PayloadKind};

/// One pod's behaviour; every pod of a service gets the same spec (but its own seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    pub service: String,
    /// The port it serves on, on every address of its pod.
    pub port: u16,
    /// CPU burnt per request before the calls, in µs.
    pub app_time_us: f64,
    pub call_mode: CallMode,
    pub calls: Vec<Call>,
    /// Body bytes of every request it sends and every response it gives (the mean, when
    /// `payload` is exponential).
    pub payload_bytes: u64,
    pub payload: PayloadKind,
    /// Keep-alive pools of `connections_per_upstream` connections per callee; otherwise a
    /// new connection per call, closed after its response.
    pub connection_reuse: bool,
    pub connections_per_upstream: u32,
    /// Seeds the call counts and payload sizes.
    pub seed: u64,
}

/// Calls to one downstream service per request: `whole`, plus one with probability
/// `fraction` (the simulator's `Callee`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub service: String,
    /// The service's VIP and port: what the application dials, whatever the mesh does.
    pub address: SocketAddrV4,
    pub whole: u32,
    pub fraction: f64,
}

impl Call {
    /// The simulator's count for a uniform draw in [0, 1).
    pub fn count(&self, uniform: f64) -> u32 {
        sim::latency::lookup::Callee {
            node: 0,
            whole: self.whole,
            fraction: self.fraction,
        }
        .count(uniform)
    }
}
