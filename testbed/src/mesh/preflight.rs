//! What `up` checks before it creates anything, so that bad input leaves nothing behind:
//! root, the options, the cluster's size, the programs the data plane runs, ports the data
//! plane takes inside pods, a free prefix, and a bpffs at /sys/fs/bpf.

use std::path::Path;

use meshtwin_datapath_pins::mounts::is_on_bpffs;
use sim::{
    config::Scenario,
    mesh::{Architecture, Interception},
};

use crate::binaries;

use super::{
    cleanup::{self, BPFFS_ROOT},
    dataplane::sidecar::{connect4_port, uid_of, INBOUND_PORT, OUTBOUND_PORT},
    limits,
    plan::{service_port, MAX_PODS_PER_NODE},
    MeshError, MeshOptions,
};

pub fn check(scenario: &Scenario, options: &MeshOptions) -> Result<(), MeshError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(MeshError::NotRoot);
    }
    options.check()?;
    limits::check(scenario, &options.limits)?;
    check_addressing(scenario)?;
    let architecture = options.architecture;
    let l7_waypoints = scenario.cluster.services.iter().any(|s| s.l7_policy);
    let needs_haproxy = matches!(
        architecture,
        Some(Architecture::Sidecar | Architecture::PerNode)
    ) || (architecture == Some(Architecture::Uproxy) && l7_waypoints);
    let needs_iptables = matches!(
        architecture,
        Some(Architecture::Sidecar | Architecture::PerNode | Architecture::Uproxy)
    );
    if needs_haproxy {
        require_program(
            "haproxy",
            &options.haproxy,
            "install it with apt-get install haproxy (.ci/setup does)",
        )?;
        if uid_of(&options.proxy_user).is_none() {
            return Err(MeshError::MissingUser {
                user: options.proxy_user.clone(),
                hint: "Debian's haproxy package creates it (apt-get install haproxy)",
            });
        }
    }
    if needs_iptables {
        require_program(
            "iptables-restore",
            &options.iptables_restore,
            "install it with apt-get install iptables (.ci/setup does)",
        )?;
    }
    if architecture == Some(Architecture::Sidecar) {
        for service in &scenario.cluster.services {
            let port = service_port(service);
            let connect4_ports = connect4_port(0)..connect4_port(scenario.cluster.services.len());
            let by = match port {
                OUTBOUND_PORT => "the sidecar's outbound listener in every pod",
                INBOUND_PORT => "the sidecar's inbound listener in every pod",
                _ if scenario.mesh.interception == Interception::Ebpf
                    && connect4_ports.contains(&port) =>
                {
                    "the sidecar's listeners per service (20000 + service index) under interception = \"ebpf\""
                }
                _ => continue,
            };
            return Err(MeshError::PortTaken {
                port,
                service: service.name.clone(),
                by,
            });
        }
    }
    binaries::WORKLOAD.path()?;
    binaries::AGENT.path()?;
    if architecture == Some(Architecture::Uproxy) {
        binaries::NODE_PROXY.path()?;
    }
    let left = cleanup::leftovers(&options.prefix);
    if !left.is_empty() {
        let found = left
            .cgroups
            .iter()
            .chain(&left.bpffs_dirs)
            .chain(&left.namespaces)
            .chain(&left.run_dir)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(MeshError::PrefixInUse {
            prefix: options.prefix.clone(),
            found,
        });
    }
    ensure_bpffs()
}

/// The plan's address scheme holds 253 pods per node, 255 nodes and 65534 services.
fn check_addressing(scenario: &Scenario) -> Result<(), MeshError> {
    let cluster = &scenario.cluster;
    let reason = "the testbed gives each node a /24 and each service an address of 10.96.0.0/16";
    if let Some(pods) = cluster.pods_by_node().iter().map(Vec::len).max() {
        if pods > MAX_PODS_PER_NODE {
            return Err(MeshError::TooLarge {
                what: "the pods on one node",
                count: pods,
                limit: MAX_PODS_PER_NODE,
                reason,
            });
        }
    }
    if cluster.nodes() > 255 {
        return Err(MeshError::TooLarge {
            what: "the node count",
            count: cluster.nodes(),
            limit: 255,
            reason,
        });
    }
    Ok(())
}

fn require_program(
    program: &'static str,
    path: &Path,
    hint: &'static str,
) -> Result<(), MeshError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(MeshError::MissingProgram {
            program,
            path: path.to_owned(),
            hint,
        })
    }
}

/// Mounts a bpffs at /sys/fs/bpf if none is there (as systemd would).
fn ensure_bpffs() -> Result<(), MeshError> {
    let root = Path::new(BPFFS_ROOT);
    if is_on_bpffs(root) {
        return Ok(());
    }
    let _ = std::process::Command::new("/bin/mount")
        .args(["-t", "bpf", "bpf", BPFFS_ROOT])
        .status();
    if is_on_bpffs(root) {
        Ok(())
    } else {
        Err(MeshError::Setup(format!(
            "{BPFFS_ROOT} is not a bpf filesystem and mounting one there failed: mount -t bpf bpf {BPFFS_ROOT}"
        )))
    }
}
