//! Bad input gets a clear error and leaves nothing behind: not root, a missing HAProxy, a
//! proxy that fails to start half-way through, a port the sidecar takes, a cluster too large.

use std::path::PathBuf;

use meshtwin_kernel_features::{gate, TC_CLSACT};
use meshtwin_testbed::mesh::{self, cleanup, MeshError};
use sim::mesh::Architecture;

use super::support;

/// `up` fails with an error whose text contains each of `expected`, and nothing of the
/// prefix exists afterwards.
fn refused(options: &mesh::MeshOptions, scenario_text: &str, expected: &[&str]) -> MeshError {
    let scenario = support::scenario(scenario_text);
    let error = match mesh::up(&scenario, options) {
        Ok(_) => panic!("up accepted it"),
        Err(error) => error,
    };
    let message = error.to_string();
    for text in expected {
        assert!(message.contains(text), "{message:?} does not say {text:?}");
    }
    let left = cleanup::leftovers(&options.prefix);
    assert!(left.is_empty(), "left behind: {left:?}");
    error
}

#[test]
fn missing_haproxy_is_named() {
    let Some(gate) = gate::require("missing_haproxy_is_named", &[TC_CLSACT]) else {
        return;
    };
    let mut options = support::options(Some(Architecture::Sidecar), "tmh");
    options.haproxy = PathBuf::from("/nonexistent/haproxy");
    let error = refused(
        &options,
        support::ONE_NODE_TWO_PODS,
        &["haproxy", "/nonexistent/haproxy", "apt-get install"],
    );
    assert!(matches!(error, MeshError::MissingProgram { .. }));
    gate.pass();
}

#[test]
fn a_proxy_that_fails_half_way_leaves_nothing() {
    let Some(gate) = gate::require("a_proxy_that_fails_half_way_leaves_nothing", &[TC_CLSACT])
    else {
        return;
    };
    // It exists, so the preflight passes; it exits at once, after the namespaces, the
    // workloads and their cgroups were made.
    let mut options = support::options(Some(Architecture::Sidecar), "tff");
    options.haproxy = PathBuf::from("/bin/false");
    let error = refused(
        &options,
        support::ONE_NODE_TWO_PODS,
        &["sidecar p0-sidecar did not start", "exited"],
    );
    assert!(matches!(error, MeshError::ProcessFailed { .. }));
    gate.pass();
}

#[test]
fn a_port_the_sidecar_takes_is_refused() {
    let Some(gate) = gate::require("a_port_the_sidecar_takes_is_refused", &[TC_CLSACT]) else {
        return;
    };
    let text = support::ONE_NODE_TWO_PODS.replace(
        "name = \"back\"\nreplicas = 1",
        "name = \"back\"\nreplicas = 1\nhttp_ports = [15001]",
    );
    assert!(text.contains("15001"));
    let options = support::options(Some(Architecture::Sidecar), "tpt");
    let error = refused(
        &options,
        &text,
        &["port 15001", "back", "outbound listener"],
    );
    assert!(matches!(error, MeshError::PortTaken { port: 15001, .. }));
    gate.pass();
}

#[test]
fn a_port_the_connect4_sidecar_takes_is_refused() {
    let Some(gate) = gate::require("a_port_the_connect4_sidecar_takes_is_refused", &[TC_CLSACT])
    else {
        return;
    };
    // Service 1's own listener in every sidecar is 20001 under connect4 interception.
    let text = format!(
        "{}\n[mesh]\ninterception = \"ebpf\"\n",
        support::ONE_NODE_TWO_PODS.replace(
            "name = \"back\"\nreplicas = 1",
            "name = \"back\"\nreplicas = 1\nhttp_ports = [20001]",
        )
    );
    assert!(text.contains("20001"));
    let options = support::options(Some(Architecture::Sidecar), "tpc");
    let error = refused(&options, &text, &["port 20001", "listeners per service"]);
    assert!(matches!(error, MeshError::PortTaken { port: 20001, .. }));
    gate.pass();
}

#[test]
fn a_cluster_too_large_is_refused_with_the_limit() {
    let Some(gate) = gate::require(
        "a_cluster_too_large_is_refused_with_the_limit",
        &[TC_CLSACT],
    ) else {
        return;
    };
    // Three nodes hold the 301 pods as far as the simulator is concerned (110 pods each).
    let text = support::ONE_NODE_TWO_PODS
        .replace(
            "name = \"back\"\nreplicas = 1",
            "name = \"back\"\nreplicas = 300",
        )
        .replace("nodes = 1", "nodes = 3");
    assert!(text.contains("replicas = 300"));
    let options = support::options(None, "ttl");
    let error = refused(
        &options,
        &text,
        &["too large", "pod count is 301", "limit is 256"],
    );
    assert!(matches!(error, MeshError::TooLarge { count: 301, .. }));
    gate.pass();
}

#[test]
fn not_root_is_refused_by_the_command() {
    let Some(gate) = gate::require("not_root_is_refused_by_the_command", &[TC_CLSACT]) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("meshtwin-notroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let file = dir.join("cluster.toml");
    std::fs::write(&file, support::ONE_NODE_TWO_PODS).expect("write the cluster file");
    // World-readable, so that user nobody can read it.
    use std::os::unix::{fs::PermissionsExt as _, process::CommandExt as _};
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_meshtwin-testbed"))
        .args(["up", "--architecture", "sidecar", "--prefix", "tnr"])
        .arg(&file)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run meshtwin-testbed as nobody");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it ran as nobody: {stderr}");
    assert!(stderr.contains("needs root"), "{stderr:?}");
    assert!(cleanup::leftovers("tnr").is_empty());
    gate.pass();
}
