//! The `sim` binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .expect("sim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn run_without_a_file_prints_the_five_architectures_with_latency() {
    let o = sim(&["run", "--duration", "0.2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.contains("reference 500 nodes × 30 pods"), "{text}");
    let header = text.lines().find(|l| l.contains("sidecar")).unwrap();
    for name in [
        "sidecar",
        "per-node",
        "per-service-account",
        "uproxy",
        "ebpf",
    ] {
        assert!(header.contains(name), "{header}");
    }
    for row in [
        "memory, whole cluster",
        "latency p50 / p99",
        "added p50 / p99 (Δ of percentiles)",
        "added at the entry hop p50 / p99",
        "added per service hop p50 / p99",
        "entry requests completed",
        "rps served by all pods",
        "rps entering the mesh",
        "seed 42",
    ] {
        assert!(text.contains(row), "missing {row}: {text}");
    }
    // Piped output has no progress bars or terminal escapes.
    assert!(!text.contains('\u{1b}'));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn same_seed_same_bytes_and_seed_changes_the_output() {
    let args = [
        "run",
        "scenarios/scoping-mesh-vs-call-graph.toml",
        "--format",
        "csv",
        "--duration",
        "0.5",
    ];
    let a = stdout(&sim(&args));
    let b = stdout(&sim(&args));
    assert_eq!(a, b);
    let mut other = args.to_vec();
    other.extend(["--seed", "99"]);
    assert_ne!(a, stdout(&sim(&other)));
}

#[test]
fn json_output_has_the_documented_fields() {
    let o = sim(&[
        "run",
        "scenarios/seed003-flat-70MB.toml",
        "--format",
        "json",
        "--duration",
        "0.2",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a = &v["architectures"][0];
    for field in [
        "name",
        "proxies",
        "memory_bytes_total",
        "memory_bytes_per_node_max",
        "memory_bytes_per_proxy_max",
        "connections_per_request",
        "cpu_cores",
        "latency_us",
        "added_latency_us",
        "requests",
        "dropped",
        "events",
        "wall_seconds",
    ] {
        assert!(!a[field].is_null(), "missing {field}");
    }
    assert_eq!(a["name"], "sidecar");
    assert_eq!(a["memory_bytes_total"], 1_050_000_000_000u64);
    assert!(!a["blast_radius"]["identities_per_proxy_max"].is_null());
    assert!(!a["latency_us"]["p999"].is_null());
    assert_eq!(v["scenario"]["seed"], 42);
}

#[test]
fn no_latency_gives_the_capacity_model_alone() {
    let o = sim(&["run", "--no-latency", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["baseline"].is_null());
    assert!(v["architectures"][0]["latency_us"].is_null());
}

#[test]
fn sweep_reports_a_tipping_point_and_plots() {
    let dir = std::env::temp_dir().join(format!("meshtwin-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("sweep.svg");
    let o = sim(&[
        "sweep",
        "scenarios/istio-sidecar-1000rps.toml",
        "--param",
        "models.envoy.vcpu_per_krps=0.2..2.2:1.0",
        "--slo-p99",
        "2",
        "--duration",
        "0.5",
        "--format",
        "json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sidecar = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "sidecar")
        .unwrap();
    let points = sidecar["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    // The tipping point is the first value whose p99 passes 2 ms (or saturates).
    let over =
        |p: &serde_json::Value| p["p99_us"].as_f64().unwrap() > 2000.0 || p["saturated"] == true;
    assert!(
        !over(&points[0]),
        "200 µs of CPU per visit is well under the SLO"
    );
    let first_over = points
        .iter()
        .find(|p| over(p))
        .expect("sidecars busy past their workers pass the SLO");
    assert_eq!(sidecar["tipping_point"], first_over["value"]);
    let ebpf = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ebpf")
        .unwrap();
    assert!(ebpf["tipping_point"].is_null());
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains("SLO: p99 2 ms"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn run_draws_a_plot() {
    let svg = std::env::temp_dir().join(format!("meshtwin-run-{}.svg", std::process::id()));
    let o = sim(&[
        "run",
        "scenarios/noisy-neighbour.toml",
        "--duration",
        "0.5",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.contains("end-to-end latency") && picture.contains("no mesh"));
    // SVG text sits on lines of its own.
    let texts: Vec<&str> = picture.lines().map(str::trim).collect();
    // The percentile axis marks the tail; latency ticks carry no useless ".0".
    for mark in ["p50", "p90", "p99", "p99.9", "p99.99"] {
        assert!(texts.contains(&mark), "no {mark} mark");
    }
    assert!(
        !texts
            .iter()
            .any(|t| t.ends_with(".0") && t.parse::<f64>().is_ok()),
        "a tick written with a useless .0"
    );
    assert!(texts.contains(&"latency (ms, log scale)"));
    // Every bar is named in full and carries its value, in both panels; the legend names the
    // curves once more.
    for name in ["sidecar (mesh, fifo)", "per-node (mesh, fair)"] {
        assert_eq!(texts.iter().filter(|t| **t == name).count(), 3, "{name}");
    }
    assert_eq!(texts.iter().filter(|t| t.ends_with(" cores")).count(), 4);
    // The legend sits below the chart, clear of the curves: every entry lower on the page
    // than the latency axis's title.
    let y_of = |text: &str| -> Vec<f64> {
        texts
            .windows(2)
            .filter(|w| w[1] == text)
            .filter_map(|w| w[0].split(" y=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect()
    };
    let axis_title = y_of("latency (ms, log scale)")[0];
    for entry in ["no mesh", "sidecar (mesh, fair)"] {
        let ys = y_of(entry);
        assert!(
            ys.iter().any(|&y| y > axis_title),
            "{entry} at {ys:?}, axis at {axis_title}"
        );
    }
    let legend_no_mesh = y_of("no mesh");
    assert!(legend_no_mesh.iter().all(|&y| y > axis_title));
    assert_eq!(texts.iter().filter(|t| t.ends_with(" MB")).count(), 4);
    std::fs::remove_file(svg).ok();
}

#[test]
fn bad_sweep_parameters_and_histograms_are_input_errors() {
    let o = sim(&[
        "sweep",
        "scenarios/noisy-neighbour.toml",
        "--param",
        "traffic.rps_per_pod=5..1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a step"));
    let o = sim(&["run", "--duration", "-1"]);
    assert_ne!(o.status.code(), Some(0));
    // A measured histogram that is not increasing is located in its own file.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histograms");
    let scenario = dir.join("scenario-with-bad-histogram.toml");
    std::fs::write(&scenario, "[cluster]\nnodes = 1\n[[service]]\nname = \"a\"\nreplicas = 1\n[latency]\nenvoy_histogram = \"decreasing.csv\"\n").unwrap();
    let o = sim(&["check", scenario.to_str().unwrap()]);
    std::fs::remove_file(&scenario).ok();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("decreasing.csv:3:1") && err.contains("must increase"),
        "{err}"
    );
}

#[test]
fn a_measured_histogram_replaces_the_envoy_distribution() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histograms");
    let scenario = dir.join("scenario-with-histogram.toml");
    std::fs::write(&scenario, "[cluster]\nnodes = 2\n[[service]]\nname = \"a\"\nreplicas = 1\ncalls = [\"b\"]\n[[service]]\nname = \"b\"\nreplicas = 1\n[mesh]\narchitectures = [\"sidecar\"]\n[latency]\nduration_s = 2\nenvoy_histogram = \"envoy.csv\"\n").unwrap();
    let o = sim(&["run", scenario.to_str().unwrap(), "--format", "json"]);
    std::fs::remove_file(&scenario).ok();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let visit = &v["architectures"][0]["proxies"][0]["latency_us"];
    // Service times come from the histogram: nothing under 40 µs, nothing over 900 µs at light load.
    assert!(
        visit["p50"].as_f64().unwrap() >= 40.0 && visit["p999"].as_f64().unwrap() <= 905.0,
        "{visit}"
    );
}
