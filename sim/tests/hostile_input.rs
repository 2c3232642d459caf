//! Issue 12's reproductions that are not plain located errors (those are in
//! `invalid_input.rs`): inputs that hung, overflowed, printed nonsense or said nothing, each
//! now run by the `sim` binary as a user would, with what it must do instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A directory of its own for a test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshtwin-hostile-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("sim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `waypoint_replicas` counted one by one hung on 4294967295; in closed form a million on
/// 100 nodes costs what one does, with every replica counted.
#[test]
fn a_million_waypoint_replicas_are_counted_in_closed_form() {
    let dir = scratch("waypoints");
    std::fs::write(
        dir.join("w.toml"),
        "[cluster]\nnodes = 100\npods_per_node = 2\nservices = 10\nl7_policy_fraction = 1\n\
         [mesh]\narchitectures = [\"uproxy\"]\n[mesh.uproxy]\nwaypoint_replicas = 1000000\n",
    )
    .unwrap();
    let started = Instant::now();
    let o = sim(&dir, &["run", "w.toml", "--no-latency", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(started.elapsed() < Duration::from_secs(20));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = &v["architectures"][0]["proxy_groups"];
    assert_eq!(groups[0]["count"], 100, "a micro proxy per node");
    assert_eq!(
        groups[1]["count"],
        10 * 1_000_000,
        "every replica of the ten waypoints"
    );
    // Spread evenly: every node runs 100,000 of them, so the busiest node holds a hundredth.
    let total = v["architectures"][0]["memory_bytes_total"]
        .as_u64()
        .unwrap();
    let busiest = v["architectures"][0]["memory_bytes_per_node_max"]
        .as_u64()
        .unwrap();
    assert!(
        busiest * 100 >= total && busiest * 95 <= total,
        "{busiest} of {total}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Bursty arrivals at 10^-8 requests per second stepped through the on/off cycles one at a
/// time; now the run ends at once, and with nothing measured says so.
#[test]
fn bursty_arrivals_at_a_tiny_rate_end_at_once_and_say_nothing_was_measured() {
    let dir = scratch("bursty");
    std::fs::write(
        dir.join("b.toml"),
        "[cluster]\nnodes = 2\npods_per_node = 2\nservices = 1\n\
         [traffic]\nrps_per_pod = 1e-8\narrivals = \"bursty\"\n",
    )
    .unwrap();
    let started = Instant::now();
    let o = sim(&dir, &["run", "b.toml"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(started.elapsed() < Duration::from_secs(20));
    let table = text(&o.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("latency p50 / p99"))
        .unwrap();
    assert!(row.contains("no requests measured"), "{table}");
    assert!(!row.contains("0 µs"), "{table}");
    let o = sim(&dir, &["run", "b.toml", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["architectures"][0]["requests"], 0);
    assert!(v["architectures"][0]["latency_us"].is_null());
    std::fs::remove_dir_all(dir).unwrap();
}

/// An application time of 100 s puts every request at the histograms' ceiling: beyond their
/// range, not "100 s", and the timeouts are counted.
#[test]
fn latencies_at_the_histograms_ceiling_are_beyond_their_range() {
    let dir = scratch("ceiling");
    std::fs::write(
        dir.join("c.toml"),
        "[cluster]\nnodes = 2\npods_per_node = 1\nservices = 1\n[mesh]\narchitectures = [\"ebpf\"]\n\
         [traffic]\nrps_per_pod = 5\napp_time_us = 1e8\n[latency]\nduration_s = 2\nwarmup_s = 0\n",
    )
    .unwrap();
    let o = sim(&dir, &["run", "c.toml", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ebpf = &v["architectures"][0];
    assert!(ebpf["requests"].as_u64().unwrap() > 0);
    assert_eq!(ebpf["timed_out"], ebpf["requests"]);
    for p in ["p50", "p99", "mean"] {
        assert!(
            ebpf["latency_us"][p].is_null(),
            "{p}: {}",
            ebpf["latency_us"]
        );
    }
    let o = sim(&dir, &["run", "c.toml"]);
    let table = text(&o.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("latency p50 / p99"))
        .unwrap();
    assert!(row.contains("> 100 s / > 100 s"), "{table}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Memory that passes a 64-bit count printed as "18447 PB"; it is an error that names the
/// parameters and counts behind it.
#[test]
fn memory_past_a_64_bit_count_is_an_error_naming_its_inputs() {
    let dir = scratch("overflow");
    std::fs::write(
        dir.join("o.toml"),
        "[cluster]\nnodes = 1000\npods_per_node = 100\nservices = 100000\ncalls_per_service = 0\n\
         [mesh]\narchitectures = [\"sidecar\"]\n[models.envoy]\nper_cluster_bytes = 1e12\n",
    )
    .unwrap();
    let o = sim(&dir, &["run", "o.toml", "--no-latency"]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    assert!(
        stderr.starts_with("error: o.toml: sidecar: the memory of ")
            && stderr.contains("per_cluster_bytes = 1000000000000")
            && stderr.contains("passes 18.4 EB"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `sim check` remembered where each service was first defined by counting newlines from
/// the start of the file: quadratic (100,000 services hung). It is now linear.
#[test]
fn check_takes_linear_time_in_the_number_of_services() {
    let dir = scratch("many-services");
    let time_check = |services: usize| {
        let mut file = String::from("[cluster]\nnodes = 2000\n[latency]\nenabled = false\n");
        for i in 0..services {
            file.push_str(&format!("[[service]]\nname = \"s{i}\"\nreplicas = 1\n"));
        }
        // One name twice: the message says where it was first defined.
        file.push_str("[[service]]\nname = \"s1\"\nreplicas = 1\n");
        std::fs::write(dir.join("s.toml"), file).unwrap();
        let started = Instant::now();
        let o = sim(&dir, &["check", "s.toml"]);
        let stderr = text(&o.stderr);
        assert!(
            stderr.contains("service `s1` is defined twice (first on line 9)"),
            "{stderr}"
        );
        started.elapsed()
    };
    let small = time_check(10_000);
    let large = time_check(100_000);
    // Ten times the services: about ten times the time (quadratic was a hundred).
    assert!(
        large < small * 30 + Duration::from_secs(2),
        "10,000 services: {small:?}; 100,000: {large:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A big run said nothing for minutes when piped. It now prints its estimate on standard
/// error before it starts, whether or not that is a terminal.
#[test]
fn a_long_run_announces_its_estimate_even_when_piped() {
    let dir = scratch("announce");
    std::fs::write(
        dir.join("big.toml"),
        "[cluster]\nnodes = 5000\npods_per_node = 100\nservices = 1000\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(&dir)
        .args(["run", "big.toml", "--format", "csv"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut byte = [0u8];
        while stderr.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        String::from_utf8_lossy(&line).into_owned()
    });
    let started = Instant::now();
    while !reader.is_finished() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let line = reader.join().unwrap();
    assert!(
        line.starts_with("sim: big.toml: estimated 6 simulation runs, about ")
            && line.contains(" events, ")
            && line.contains(" of memory"),
        "{line}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A sweep's problem pointed into the re-serialised file (`--param cluster.nodes=0..2:1`
/// reported line 5, a comment); it names the parameter and the value.
#[test]
fn sweep_errors_name_the_parameter_and_the_value() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = sim(
        dir,
        &[
            "sweep",
            "scenarios/istio-sidecar-1000rps.toml",
            "--param",
            "cluster.nodes=0..2:1",
        ],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: scenarios/istio-sidecar-1000rps.toml: --param cluster.nodes=0: cluster.nodes must be an integer in [1, 1,000,000], not 0"
    );
}
