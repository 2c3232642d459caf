//! Whether a kernel test may run here (cilium/ebpf's rule): below a feature's minimum the test
//! skips and prints why; at or above it the test runs, and a feature the kernel still lacks
//! fails it, which catches both regressions and wrong data in kernels.toml. Features with a
//! cheap probe are probed before the test starts, so a wrong minimum fails with a clear message
//! rather than somewhere inside the test.
//!
//! ```no_run
//! use meshtwin_kernel_features::{gate, TC_CLSACT, XDP_LINK};
//! let Some(gate) = gate::require("xdp_allows", &[XDP_LINK, TC_CLSACT]) else { return };
//! // ... the test ...
//! gate.pass();
//! ```

use crate::{
    probe,
    record::{RecordStatus, TestRecord},
    Feature, KernelVersion,
};

/// Permission to run; call [`Gate::pass`] at the end of the test.
#[must_use = "call pass() when the test has passed"]
pub struct Gate {
    test: &'static str,
    feature: &'static str,
}

impl Gate {
    /// Records the pass in `$MESHTWIN_RESULTS`.
    pub fn pass(self) {
        record(self.test, self.feature, RecordStatus::Pass, "");
    }

    /// Skips after all, for a reason found once the test had started (a fixture this machine
    /// cannot give): prints and records it as [`require`] does.
    pub fn skip(self, reason: &str) {
        skip(self.test, self.feature, reason.to_string());
    }
}

fn record(test: &str, feature: &str, status: RecordStatus, reason: &str) {
    TestRecord {
        test: test.to_owned(),
        feature: feature.to_owned(),
        status,
        reason: reason.to_owned(),
    }
    .append_to_results();
}

fn skip(test: &'static str, feature: &str, reason: String) -> Option<Gate> {
    println!("skipping {test}: {reason}");
    record(test, feature, RecordStatus::Skip, &reason);
    None
}

fn running_kernel() -> KernelVersion {
    KernelVersion::running().unwrap_or_else(|error| panic!("{error}"))
}

/// Root and a working bpf(2), or why not.
fn bpf_unavailable(kernel: KernelVersion) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (loads BPF programs, creates network namespaces)".into());
    }
    // Kernels before 5.11 charge maps to RLIMIT_MEMLOCK, shared by every root process: raise it
    // (the agent does the same), or the probe fails for want of memlock, not of BPF.
    probe::raise_memlock_if_charged(kernel);
    match aya::sys::is_map_supported(aya::maps::MapType::Array) {
        Ok(true) => None,
        Ok(false) => Some("bpf(2) refuses even an array map here".into()),
        Err(error) => Some(format!("bpf(2) is not usable here: {error}")),
    }
}

/// Decides whether `test`, which needs root, bpf(2) and `features`, runs. The first feature is
/// the one it is recorded under.
pub fn require(test: &'static str, features: &[Feature]) -> Option<Gate> {
    gate(test, features, true)
}

/// As [`require`], for a test that needs neither root nor bpf(2) itself. Features whose probe
/// needs bpf(2) are then decided by version alone when not root.
pub fn require_unprivileged(test: &'static str, features: &[Feature]) -> Option<Gate> {
    gate(test, features, false)
}

fn gate(test: &'static str, features: &[Feature], needs_bpf: bool) -> Option<Gate> {
    let primary = features.first().map_or("none", |feature| feature.name);
    let kernel = running_kernel();
    for feature in features {
        if !feature.listed_for(kernel) {
            return skip(
                test,
                feature.name,
                format!("{feature} needs {}, kernel is {kernel}", feature.since),
            );
        }
    }
    let bpf = bpf_unavailable(kernel);
    if needs_bpf {
        if let Some(reason) = bpf {
            return skip(test, primary, reason);
        }
    }
    for feature in features {
        let Some(probe) = feature.probe else { continue };
        let needs_root = !matches!(probe, crate::Probe::File(_));
        if needs_root && bpf.is_some() {
            continue;
        }
        match probe::run(probe) {
            Ok(true) => {}
            // A feature a kernel may be built without (kernels.toml `config`): its absence is
            // the build's choice, not a regression or a wrong minimum.
            Ok(false) if feature.config.is_some() => {
                let option = feature.config.unwrap_or_default();
                return skip(
                    test,
                    feature.name,
                    format!("kernel built without {feature} ({option} is not set; {probe} was refused)"),
                );
            }
            Ok(false) => panic!(
                "{test}: kernel {kernel} should have {feature} (kernels.toml: since {}), but {probe} failed: the kernel lacks it or the table is wrong",
                feature.since
            ),
            Err(error) => panic!("{test}: cannot probe {feature} by {probe}: {error}"),
        }
    }
    Some(Gate {
        test,
        feature: primary,
    })
}

/// Whether the running kernel has `feature` according to the table: for tests that take one
/// of two paths (tcx links or netlink filters) as the agent does.
pub fn kernel_has(feature: Feature) -> bool {
    feature.listed_for(running_kernel())
}
