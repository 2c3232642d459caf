//! Whether a test may run here, decided from data: kernels.toml's `[features]` table (feature ->
//! first kernel that has it) and the running kernel. Below the minimum a test skips with a
//! printed reason; at or above it the test runs, and a missing feature fails it.
//!
//! When `MESHTWIN_RESULTS` names a file, every test appends one JSON line when it passes or
//! skips: `{"test":..,"feature":..,"status":"pass"|"skip","reason":..}`. A failing test panics
//! and writes nothing.

use std::{collections::BTreeMap, io::Write as _, path::PathBuf};

use meshtwin_agent::kernel::KernelVersion;

/// Where the feature table is: `MESHTWIN_KERNELS_TOML`, else the workspace's kernels.toml.
fn kernels_toml() -> PathBuf {
    std::env::var_os("MESHTWIN_KERNELS_TOML")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernels.toml"))
        })
}

fn feature_table() -> BTreeMap<String, KernelVersion> {
    let path = kernels_toml();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("cannot read the feature table {}: {error}", path.display())
    });
    let value: toml::Table = text
        .parse()
        .unwrap_or_else(|error| panic!("{} is not valid TOML: {error}", path.display()));
    let features = value
        .get("features")
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("{} has no [features] table", path.display()));
    features
        .iter()
        .map(|(name, version)| {
            let text = version.as_str().unwrap_or_else(|| {
                panic!(
                    "{}: features.{name} must be a version string",
                    path.display()
                )
            });
            let version = KernelVersion::parse(text).unwrap_or_else(|| {
                panic!(
                    "{}: features.{name} = {text:?} is not a kernel version",
                    path.display()
                )
            });
            (name.clone(), version)
        })
        .collect()
}

fn record(test: &str, feature: &str, status: &str, reason: &str) {
    let Some(path) = std::env::var_os("MESHTWIN_RESULTS") else {
        return;
    };
    let line =
        serde_json::json!({ "test": test, "feature": feature, "status": status, "reason": reason });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("cannot append to MESHTWIN_RESULTS {path:?}: {error}"));
    // One write per line: concurrent tests append whole lines.
    file.write_all(format!("{line}\n").as_bytes())
        .unwrap_or_else(|error| panic!("cannot append to MESHTWIN_RESULTS {path:?}: {error}"));
}

/// Permission to run; call [`Gate::pass`] at the end of the test.
#[must_use]
pub struct Gate {
    test: &'static str,
    feature: &'static str,
}

impl Gate {
    pub fn pass(self) {
        record(self.test, self.feature, "pass", "");
    }
}

fn skip(test: &'static str, feature: &str, reason: String) -> Option<Gate> {
    println!("skipping {test}: {reason}");
    record(test, feature, "skip", &reason);
    None
}

/// Root and a working bpf(2), or why not.
fn bpf_unavailable() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (loads BPF programs, creates network namespaces)".into());
    }
    // Kernels before 5.11 charge maps to RLIMIT_MEMLOCK, shared by every root process: raise it
    // (the agent does the same), or the probe fails for want of memlock, not of BPF.
    if let Some(kernel) = KernelVersion::running() {
        meshtwin_agent::kernel::raise_memlock_if_charged(kernel);
    }
    // BPF_MAP_CREATE of a 1-entry array: the cheapest proof that bpf(2) works here.
    let mut attr = [0u32; 12];
    attr[0] = 2; // BPF_MAP_TYPE_ARRAY
    attr[1] = 4;
    attr[2] = 4;
    attr[3] = 1;
    // SAFETY: a zeroed bpf_attr with the map_create fields set.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd < 0 {
        return Some(format!(
            "bpf(2) is not usable here: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a descriptor we just got.
    unsafe { libc::close(fd as i32) };
    None
}

/// Decides whether `test` runs. `features` are the kernel features it needs; the first is the
/// one it is recorded under.
pub fn require(test: &'static str, features: &[&'static str]) -> Option<Gate> {
    let primary = features.first().copied().unwrap_or("none");
    let table = feature_table();
    let kernel = KernelVersion::running().expect("uname gives a kernel version");
    for feature in features {
        let minimum = table.get(*feature).unwrap_or_else(|| {
            panic!(
                "{test} needs feature {feature}, which {} does not list",
                kernels_toml().display()
            )
        });
        if kernel < *minimum {
            return skip(
                test,
                feature,
                format!("{feature} needs {minimum}, kernel is {kernel}"),
            );
        }
    }
    if let Some(reason) = bpf_unavailable() {
        return skip(test, primary, reason);
    }
    Some(Gate {
        test,
        feature: primary,
    })
}

/// Whether the running kernel has `feature` according to the table.
pub fn kernel_has(feature: &str) -> bool {
    let table = feature_table();
    let kernel = KernelVersion::running().expect("uname gives a kernel version");
    table.get(feature).is_some_and(|minimum| kernel >= *minimum)
}
