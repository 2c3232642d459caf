//! What `up` is asked for: the data plane, the CPUs of the mesh, the run prefix, the limits,
//! the third-party programs.

use std::path::PathBuf;

use sim::mesh::Architecture;

use super::{limits::Limits, MeshError};

/// Options of [`super::up`].
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// The data plane; `None` is the baseline (no mesh).
    pub architecture: Option<Architecture>,
    /// CPUs every process of the mesh (workloads, proxies, agents) is pinned to. Cross-CPU
    /// wake-ups cost ~50 µs on this VM, so the default is CPU 0 alone, leaving the others to
    /// the load generator.
    pub mesh_cpus: Vec<usize>,
    /// Names everything the run creates (namespaces, cgroups, bpffs directories, iptables
    /// chains, the run directory): 1–12 of `a-z0-9`, starting with a letter.
    pub prefix: String,
    pub limits: Limits,
    /// HAProxy, the L7 proxy of `sidecar`, `per-node` and the `uproxy` waypoints.
    pub haproxy: PathBuf,
    /// `iptables-restore`, for `sidecar` and the entries of `uproxy` and `per-node`.
    pub iptables_restore: PathBuf,
    /// The user HAProxy runs as: iptables leaves its own connections alone by this uid.
    pub proxy_user: String,
}

/// Debian's paths.
pub const DEFAULT_HAPROXY: &str = "/usr/sbin/haproxy";
pub const DEFAULT_IPTABLES_RESTORE: &str = "/usr/sbin/iptables-restore";
/// The user Debian's haproxy package creates.
pub const DEFAULT_PROXY_USER: &str = "haproxy";

impl MeshOptions {
    /// Defaults for `architecture`: CPU 0, prefix `mt<pid>`.
    pub fn new(architecture: Option<Architecture>) -> Self {
        Self {
            architecture,
            mesh_cpus: vec![0],
            prefix: format!("mt{}", std::process::id()),
            limits: Limits::default(),
            haproxy: PathBuf::from(DEFAULT_HAPROXY),
            iptables_restore: PathBuf::from(DEFAULT_IPTABLES_RESTORE),
            proxy_user: DEFAULT_PROXY_USER.to_owned(),
        }
    }

    /// Checks the prefix and CPU set.
    pub fn check(&self) -> Result<(), MeshError> {
        check_prefix(&self.prefix)?;
        let cpus = online_cpus();
        if self.mesh_cpus.is_empty() {
            return Err(MeshError::Option(
                "mesh_cpus is empty: give at least one CPU".into(),
            ));
        }
        if let Some(cpu) = self.mesh_cpus.iter().find(|&&c| c >= cpus) {
            return Err(MeshError::Option(format!(
                "CPU {cpu} does not exist: this machine has CPUs 0..{}",
                cpus - 1
            )));
        }
        Ok(())
    }
}

/// A valid run prefix: short (it goes into interface-length names), lower case, no separator.
pub fn check_prefix(prefix: &str) -> Result<(), MeshError> {
    let ok = (1..=12).contains(&prefix.len())
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(MeshError::Option(format!(
            "prefix {prefix:?}: use 1-12 characters of a-z and 0-9, starting with a letter"
        )))
    }
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_short_lower_case_names() {
        assert!(check_prefix("mt123").is_ok());
        for bad in ["", "1abc", "a-b", "ABC", "abcdefghijklm"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
