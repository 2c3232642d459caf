//! The reduced validation CI runs (issue 13): one topology (the chain of three services), two
//! architectures (sidecar and ebpf), two load levels, one repeat each, on a real mesh. It fails
//! when anything did not run or produced no figures; it does not judge the accuracy (the
//! machine is shared and noisy; docs/validation.md keeps the accuracy figures).

use std::{path::PathBuf, time::Duration};

use meshtwin_kernel_features::{gate, CGROUP_LINK, SK_MSG, SOCK_HASH, SOCK_OPS, TC_CLSACT, XDP};
use meshtwin_testbed::validate::{self, report::Report, testbed_run::Drive, Arch, Levels};
use sim::mesh::Architecture;

#[test]
fn a_reduced_validation_runs_and_reports_every_figure() {
    let Some(gate) = gate::require(
        "a_reduced_validation_runs_and_reports_every_figure",
        &[SOCK_OPS, SK_MSG, SOCK_HASH, CGROUP_LINK, XDP, TC_CLSACT],
    ) else {
        return;
    };
    let out = std::env::temp_dir().join(format!("meshtwin-validation-{}", std::process::id()));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rates = [200.0, 600.0];
    let options = validate::Options {
        file: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../sim/scenarios/validation-chain.toml"),
        architectures: vec![
            Arch(Some(Architecture::Sidecar)),
            Arch(Some(Architecture::Ebpf)),
        ],
        levels: Levels::Rates(rates.to_vec()),
        saturation: false,
        saturation_start: 250.0,
        saturation_cap: 32_000.0,
        probe_duration: Duration::from_secs(1),
        repeats: 1,
        drive: Drive {
            mesh_cpus: vec![0],
            load_cpu: if cpus > 1 { 1 } else { 0 },
            connections: 8,
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(2),
        },
        profile: None,
        p99_bound_ms: 100.0,
        json: out.join("chain.json"),
        svg: out.join("chain.svg"),
        measured: None,
    };
    let report = validate::run(&options).expect("the reduced validation runs");
    println!("{}", validate::report::render(&report));

    assert!(report.failed.is_empty(), "did not run: {:?}", report.failed);
    assert_eq!(report.points.len(), 4, "two architectures at two rates");
    for p in &report.points {
        let (m, d) = (&p.measured, &p.predicted);
        let at = format!("{} at {} rps", p.architecture, p.rate);
        assert_eq!(p.repeats.len(), 1, "{at}");
        assert!(
            m.p50_us > 0.0 && m.p99_us >= m.p50_us,
            "{at}: measured {m:?}"
        );
        // Delivered at all (not judged against the offered rate: the machine is shared).
        assert!(m.throughput_rps > 0.0, "{at}: nothing delivered");
        assert!(m.error_fraction < 0.01, "{at}: errors {}", m.error_fraction);
        assert!(
            m.mesh_cpu_cores > 0.0,
            "{at}: the mesh's processes used no CPU"
        );
        assert!(
            d.p50_us > 0.0 && d.throughput_rps > 0.0,
            "{at}: predicted {d:?}"
        );
    }
    let sidecar = report
        .points
        .iter()
        .find(|p| p.architecture == "sidecar")
        .unwrap();
    assert!(sidecar.measured.proxy_cpu_cores > 0.0 && sidecar.measured.proxy_memory_bytes > 0);
    assert!(sidecar.predicted.proxy_cpu_cores > 0.0 && sidecar.error.proxy_cpu.is_some());
    let ebpf = report
        .points
        .iter()
        .find(|p| p.architecture == "ebpf")
        .unwrap();
    assert_eq!(ebpf.measured.proxy_memory_bytes, 0, "ebpf runs no proxy");
    assert_eq!(
        report.order.len(),
        4,
        "p99 and CPU order at each of two levels"
    );

    let written: Report =
        serde_json::from_str(&std::fs::read_to_string(&options.json).unwrap()).unwrap();
    assert_eq!(written.points.len(), 4);
    let svg = std::fs::read_to_string(&options.svg).unwrap();
    assert!(svg.contains("sidecar") && svg.contains("ebpf"));

    // The simulator alone again on these measurements: the same points, predicted anew.
    let again = validate::run(&validate::Options {
        measured: Some(written),
        json: out.join("again.json"),
        svg: out.join("again.svg"),
        ..options.clone()
    })
    .expect("predicting again from the measurements");
    assert_eq!(again.points.len(), 4);
    assert_eq!(again.points[0].measured, report.points[0].measured);
    assert!(again.points.iter().all(|p| p.predicted.p50_us > 0.0));
    std::fs::remove_dir_all(&out).unwrap();
    gate.pass();
}
