//! Asking the running kernel whether it has a feature, where that is cheap (a one-entry map, a
//! two-instruction program, a file), instead of trusting its version string: distributions
//! backport features, and a kernel can be built without one. Features without a cheap probe
//! are decided by version. Probes need root (bpf(2)).

use std::fmt;

use aya::{
    maps::MapType,
    programs::ProgramType,
    sys::{is_map_supported, is_program_supported},
};

use crate::{Feature, KernelVersion, MapProbe, Probe, ProgramProbe};

/// How a feature was found present or missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The kernel answered a probe.
    Probed(Probe),
    /// The kernel's version against the table (no cheap probe, or the probe could not run:
    /// then why).
    Version { probe_failed: Option<String> },
}

/// What was found out about one feature on one kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub feature: Feature,
    pub kernel: KernelVersion,
    pub present: bool,
    pub evidence: Evidence,
}

/// Runs `probe` against the running kernel: `Ok(true)` present, `Ok(false)` missing, `Err`
/// when the kernel could not be asked (not root, bpf(2) disabled).
pub fn run(probe: Probe) -> Result<bool, String> {
    match probe {
        Probe::Map(map) => is_map_supported(map_type(map)).map_err(|error| error.to_string()),
        Probe::Program(program) => {
            is_program_supported(program_type(program)).map_err(|error| error.to_string())
        }
        Probe::File(path) => Ok(std::path::Path::new(path).exists()),
        Probe::Device(device) => crate::device_probe::run(device),
    }
}

fn map_type(map: MapProbe) -> MapType {
    match map {
        MapProbe::LpmTrie => MapType::LpmTrie,
        MapProbe::LruHash => MapType::LruHash,
        MapProbe::SockHash => MapType::SockHash,
        MapProbe::RingBuf => MapType::RingBuf,
    }
}

fn program_type(program: ProgramProbe) -> ProgramType {
    match program {
        ProgramProbe::Xdp => ProgramType::Xdp,
        ProgramProbe::SockOps => ProgramType::SockOps,
        ProgramProbe::SkMsg => ProgramType::SkMsg,
        // aya loads it with BPF_CGROUP_INET4_CONNECT as the expected attach type.
        ProgramProbe::CgroupSockAddr => ProgramType::CgroupSockAddr,
    }
}

/// Finds out whether `kernel` (the running one) has `feature`: by its probe when it has one
/// and the probe runs, else by version.
pub fn examine(feature: Feature, kernel: KernelVersion) -> Finding {
    let by_version = |probe_failed| Finding {
        feature,
        kernel,
        present: feature.listed_for(kernel),
        evidence: Evidence::Version { probe_failed },
    };
    let Some(probe) = feature.probe else {
        return by_version(None);
    };
    match run(probe) {
        Ok(present) => Finding {
            feature,
            kernel,
            present,
            evidence: Evidence::Probed(probe),
        },
        Err(error) => by_version(Some(error)),
    }
}

/// Examines every feature of `features`; the first missing one is the error.
pub fn require_all(
    kernel: KernelVersion,
    features: &[Feature],
) -> Result<Vec<Finding>, MissingFeature> {
    features
        .iter()
        .map(|feature| {
            let finding = examine(*feature, kernel);
            if finding.present {
                Ok(finding)
            } else {
                Err(MissingFeature(Box::new(finding)))
            }
        })
        .collect()
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Finding {
            feature,
            kernel,
            present,
            evidence,
        } = self;
        let verdict = if *present { "yes" } else { "no" };
        match evidence {
            Evidence::Probed(probe) => write!(f, "{feature}: {verdict} (probed by {probe})"),
            Evidence::Version { probe_failed } => {
                let relation = if *present { ">=" } else { "<" };
                write!(
                    f,
                    "{feature}: {verdict} (by version: kernel {kernel} {relation} {})",
                    feature.since
                )?;
                if let Some(error) = probe_failed {
                    write!(f, "; the probe could not run: {error}")?;
                }
                Ok(())
            }
        }
    }
}

/// A feature the running kernel lacks, with how that was found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingFeature(pub Box<Finding>);

impl MissingFeature {
    /// `feature` is missing on `kernel`, as its version says (or as an attach that fell back
    /// to an older mechanism showed).
    pub fn by_version(feature: Feature, kernel: KernelVersion) -> Self {
        Self(Box::new(Finding {
            feature,
            kernel,
            present: false,
            evidence: Evidence::Version { probe_failed: None },
        }))
    }
}

impl fmt::Display for MissingFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Finding {
            feature,
            kernel,
            evidence,
            ..
        } = &*self.0;
        match evidence {
            Evidence::Probed(probe) => write!(
                f,
                "kernel {kernel} lacks {feature} (probed by {probe}: the kernel refused), used for {}; kernels.toml lists it from {}, so this kernel was built without it: run on a kernel that has it",
                feature.used_for, feature.since
            ),
            Evidence::Version { .. } => write!(
                f,
                "kernel {kernel} lacks {feature} (needs {} or newer), used for {}; run on a newer kernel",
                feature.since, feature.used_for
            ),
        }
    }
}

impl std::error::Error for MissingFeature {}

/// Before 5.11 the kernel charges BPF maps and programs to RLIMIT_MEMLOCK, shared by all of a
/// user's processes, and the default limit is far too small for meshtwin's maps (or even a
/// probe's). Raises it when needed; false if that failed (loading will then say EPERM).
pub fn raise_memlock_if_charged(kernel: KernelVersion) -> bool {
    if kernel >= KernelVersion::new(5, 11, 0) {
        return true;
    }
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ALL, TCX, XDP_LINK};

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn every_probe_agrees_with_the_table_on_this_kernel() {
        if !is_root() {
            println!("skipping every_probe_agrees_with_the_table_on_this_kernel: probes need root");
            return;
        }
        let kernel = KernelVersion::running().unwrap();
        raise_memlock_if_charged(kernel);
        for feature in ALL.iter().filter(|feature| feature.listed_for(kernel)) {
            let finding = examine(*feature, kernel);
            // A feature a kernel may be built without (netkit on this project's build host).
            if feature.config.is_some() && !finding.present {
                println!(
                    "{finding}: the kernel was built without {:?}",
                    feature.config
                );
                continue;
            }
            assert!(finding.present, "{finding}");
            if feature.probe.is_some() {
                assert!(
                    matches!(finding.evidence, Evidence::Probed(_)),
                    "{finding}: the probe should have run as root"
                );
            }
        }
    }

    #[test]
    fn a_feature_without_a_probe_is_decided_by_version_and_says_so() {
        let old = KernelVersion::new(5, 4, 0);
        let missing = require_all(old, &[XDP_LINK]).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "kernel 5.4 lacks xdp_link (needs 5.9 or newer), used for pinned XDP links that keep policy enforced while the agent restarts; run on a newer kernel"
        );
        let finding = examine(TCX, KernelVersion::new(6, 6, 0));
        assert_eq!(
            finding.to_string(),
            "tcx: yes (by version: kernel 6.6 >= 6.6)"
        );
    }
}
