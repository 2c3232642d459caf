//! The load generator (`meshtwin-testbed load`, and the validation's driver): open-loop
//! HTTP/1.1 requests at a given rate, Poisson or constant, each request's latency measured from
//! its *intended* send time, so that a slow answer does not hold back the requests after it (no
//! coordinated omission: a request that waits for a free connection counts the wait).
//!
//! ```text
//! Schedule (arrivals.rs) ──▶ dispatch ──▶ idle keep-alive connection ──▶ write, read, parse
//!  intended times, seeded       │            or a new connection        (http.rs, httparse)
//!                               └──▶ target's queue until one is free      │
//!                                                                          ▼
//!            HdrHistogram (3 significant digits, ns) of answers whose intended time falls
//!            after the warm-up ──▶ LoadReport (report.rs): throughput, errors, percentiles
//! ```
//!
//! One thread drives every connection (`event_loop.rs`: epoll and a timerfd), inside the
//! targets' network namespaces (setns, per target) and pinned to one CPU (CPU 1 by default,
//! apart from the mesh on CPU 0). Its own overhead is measured and reported: how late it
//! dispatched each request (`send_lag_us`) and its CPU per request.

mod arrivals;
mod event_loop;
mod http;
mod report;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use arrivals::{Arrivals, SplitMix64};
pub use report::{Errors, LoadReport, Percentiles};

/// One service the load goes to.
#[derive(Clone, Debug)]
pub struct Target {
    /// Where an outside client connects.
    pub address: SocketAddr,
    /// The network namespace to connect from (a path such as /proc/PID/fd/N or
    /// /run/netns/NAME); none: the generator's own.
    pub netns: Option<PathBuf>,
    /// Its share of the total rate (shares are normalised).
    pub share: f64,
    /// The Host header; the address when not given.
    pub host: Option<String>,
}

/// What to send, how fast and for how long.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub targets: Vec<Target>,
    /// Requests per second over all targets.
    pub rate: f64,
    pub arrivals: Arrivals,
    /// Keep-alive connections per target.
    pub connections: usize,
    /// A new connection for every request instead (closed with RST after the answer, so no
    /// TIME_WAIT pile-up).
    pub new_connection_per_request: bool,
    pub path: String,
    /// 0: GET; otherwise POST with a body of this many bytes.
    pub body_bytes: usize,
    /// Requests intended in this first stretch are sent but not measured.
    pub warmup: Duration,
    pub duration: Duration,
    /// How long to wait for the last answers after the last arrival; unanswered ones are
    /// timeouts.
    pub drain: Duration,
    /// The CPU to run on (none: wherever the scheduler puts it).
    pub cpu: Option<usize>,
    pub seed: u64,
    /// Poll instead of sleeping when the next arrival is closer than this (0: always sleep):
    /// a wake-up from sleep costs tens of µs on a VM, which a tight schedule may not afford.
    pub spin: Duration,
}

impl LoadSpec {
    /// One target at `rate` with the defaults below: Poisson, 8 keep-alive connections,
    /// `GET /`, 1 s warm-up, 5 s measured, 2 s drain, CPU 1, seed 1, no spinning.
    pub fn new(address: SocketAddr, rate: f64) -> Self {
        Self {
            targets: vec![Target {
                address,
                netns: None,
                share: 1.0,
                host: None,
            }],
            rate,
            arrivals: Arrivals::Poisson,
            connections: 8,
            new_connection_per_request: false,
            path: "/".to_string(),
            body_bytes: 0,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            drain: Duration::from_secs(2),
            cpu: Some(1),
            seed: 1,
            spin: Duration::ZERO,
        }
    }
}

/// Why a load run could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The spec cannot be run.
    #[error("invalid load: {0}")]
    Invalid(String),
    /// A target's network namespace could not be opened.
    #[error("cannot open network namespace {path}: {error}")]
    Netns {
        path: PathBuf,
        error: std::io::Error,
    },
    /// An initial keep-alive connection failed.
    #[error("cannot connect to {address}: {error}")]
    Connect {
        address: SocketAddr,
        error: std::io::Error,
    },
    /// Pinning or a system call of the loop failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the load on a thread of its own (which enters the namespaces and is pinned) and
/// returns what it measured.
pub fn run(spec: &LoadSpec) -> Result<LoadReport, LoadError> {
    if spec.targets.is_empty() {
        return Err(LoadError::Invalid("no target".into()));
    }
    if !(spec.rate.is_finite() && spec.rate > 0.0) {
        return Err(LoadError::Invalid(format!(
            "the rate must be a positive number of requests per second, not {}",
            spec.rate
        )));
    }
    if spec.duration.is_zero() {
        return Err(LoadError::Invalid("the measured duration is zero".into()));
    }
    if !spec.new_connection_per_request && spec.connections == 0 {
        return Err(LoadError::Invalid("zero keep-alive connections".into()));
    }
    if spec
        .targets
        .iter()
        .any(|t| !(t.share.is_finite() && t.share > 0.0))
    {
        return Err(LoadError::Invalid(
            "every target's share must be positive".into(),
        ));
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                if let Some(cpu) = spec.cpu {
                    crate::affinity::pin_current_thread(cpu)?;
                }
                event_loop::Engine::new(spec)?.run()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests;
