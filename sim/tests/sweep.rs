//! `sim sweep` over any key: the defects issue 15 found, one test each (tipping point
//! direction, overridden parameters, keys by service name, the global load multiplier,
//! identical configurations simulated once).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .expect("sim runs")
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const WAYPOINT: &str = "tests/fixtures/sweep/waypoint-replicas.toml";
const SCOPINGS: &str = "tests/fixtures/sweep/scopings.toml";

/// A scratch copy of a fixture with `extra` appended, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, fixture: &str, extra: &str) -> Scratch {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(base.join(fixture)).unwrap();
        let path =
            std::env::temp_dir().join(format!("meshtwin-sweep-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
        Scratch(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

#[test]
fn more_waypoint_replicas_tip_at_the_first_value_that_meets_the_slo() {
    let v = json(&sim(&[
        "sweep",
        WAYPOINT,
        "--param",
        "mesh.uproxy.waypoint_replicas=1..4:1",
        "--slo-p99",
        "5",
        "--format",
        "json",
        "-q",
    ]));
    assert_eq!(v["direction"], "more-is-better");
    let series = &v["series"][0];
    let points = series["points"].as_array().unwrap();
    let over =
        |p: &Value| p["saturated"] == true || p["p99_us"].as_f64().is_none_or(|us| us > 5000.0);
    // The shape the fixture is written for: 1 and 2 replicas miss the SLO, 3 meets it.
    assert!(
        over(&points[0]) && over(&points[1]) && !over(&points[2]),
        "{series}"
    );
    assert_eq!(series["tipping_point"], 3.0, "{series}");
    let table = String::from_utf8(
        sim(&[
            "sweep",
            WAYPOINT,
            "--param",
            "mesh.uproxy.waypoint_replicas=1..4:1",
            "--slo-p99",
            "5",
            "-q",
        ])
        .stdout,
    )
    .unwrap();
    assert!(table.contains("first value that meets the SLO"), "{table}");
}

#[test]
fn a_default_every_service_overrides_is_an_error_naming_them() {
    let o = sim(&[
        "sweep",
        WAYPOINT,
        "--param",
        "traffic.rps_per_pod=100..300:100",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("every value (100, 200, 300) gives the same scenario"),
        "{err}"
    );
    assert!(
        err.contains("every [[service]] sets its own rps_per_pod (front, back)"),
        "{err}"
    );
    assert!(
        err.contains("service.front.rps_per_pod") && err.contains("traffic.scale"),
        "{err}"
    );
    // An option of an architecture that is not compared changes nothing either.
    let o = sim(&[
        "sweep",
        SCOPINGS,
        "--param",
        "mesh.uproxy.waypoint_replicas=1,2",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("uproxy, which is not among mesh.architectures"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn services_are_swept_by_name_or_position() {
    let args = |key: &str| {
        let param = format!("{key}=500,5000");
        json(&sim(&[
            "sweep", WAYPOINT, "--param", &param, "--format", "json", "-q",
        ]))
    };
    let by_name = args("service.front.rps_per_pod");
    let points = by_name["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_ne!(
        points[0]["p99_us"], points[1]["p99_us"],
        "the rate moved the p99"
    );
    let by_position = args("service.0.rps_per_pod");
    assert_eq!(by_name["series"], by_position["series"]);
    let o = sim(&[
        "sweep",
        WAYPOINT,
        "--param",
        "service.checkout.rps_per_pod=1,2",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("no [[service]] named `checkout` (the file has front, back"),
        "{err}"
    );
    // Request types are reached the same way once the file has them.
    let o = sim(&[
        "sweep",
        WAYPOINT,
        "--param",
        "request.checkout.rate=1,2",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the file has no [[request]] entries"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn traffic_scale_multiplies_every_rate() {
    let rps = |o: &Output| json(o)["scenario"]["rps_total"].as_f64().unwrap();
    let written = rps(&sim(&["run", SCOPINGS, "--no-latency", "--format", "json"]));
    assert_eq!(written, 3.0 * 100.0 + 2.0 * 150.0 + 20.0);
    let doubled = Scratch::new("double", SCOPINGS, "[traffic]\nscale = 2.5\n");
    assert_eq!(
        rps(&sim(&[
            "run",
            doubled.path(),
            "--no-latency",
            "--format",
            "json"
        ])),
        2.5 * written
    );
    // Past a pod's most: located at the key, naming the service.
    let huge = Scratch::new("huge", WAYPOINT, "[traffic]\nscale = 500\n");
    let o = sim(&["check", huge.path()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(":28:9") && err.contains("traffic.scale = 500 takes 2 service(s) past"),
        "{err}"
    );
    assert!(err.contains("`front` at 2,500,000"), "{err}");
}

#[test]
fn scopings_and_repeated_configurations_are_simulated_once() {
    let o = sim(&[
        "sweep",
        SCOPINGS,
        "--param",
        "traffic.scale=1,2,1",
        "--format",
        "json",
        "-q",
    ]);
    let v = json(&o);
    let series = v["series"].as_array().unwrap();
    // One series per architecture, standing for its three scopings.
    assert_eq!(series.len(), 2, "{series:?}");
    for s in series {
        assert_eq!(s["scoping"], "mesh+namespace+call-graph");
        let points = s["points"].as_array().unwrap();
        assert_eq!(points.len(), 3);
        let mut again = points[2].clone();
        again["value"] = points[0]["value"].clone();
        assert_eq!(points[0], again, "the third value is the first's run");
    }
    assert_eq!(
        v["reused"],
        serde_json::json!([{ "value": 1.0, "same_as": 1.0 }])
    );
    let table =
        String::from_utf8(sim(&["sweep", SCOPINGS, "--param", "traffic.scale=1,2,1", "-q"]).stdout)
            .unwrap();
    assert!(
        table.contains("one simulation per series served several scopings"),
        "{table}"
    );
    assert!(table.contains("traffic.scale = 1: as 1"), "{table}");
}

#[test]
fn request_types_are_swept_by_name_and_scaled_with_everything_else() {
    const SHOP: &str = "scenarios/online-shop.toml";
    let v = json(&sim(&[
        "sweep",
        SHOP,
        "--param",
        "request.browse-product.rate=500,1000",
        "--duration",
        "0.2",
        "--format",
        "json",
        "-q",
    ]));
    let sidecar = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "sidecar")
        .unwrap();
    let points = sidecar["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_ne!(points[0]["p99_us"], points[1]["p99_us"], "{sidecar}");
    // Request types set every service's rate: the file's checks refuse a rate key, at the
    // first value, before anything runs.
    let o = sim(&["sweep", SHOP, "--param", "traffic.rps_per_pod=1,2", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--param traffic.rps_per_pod=1: traffic.rps_per_pod is given, and so are [[request]] types"),
        "{}",
        stderr(&o)
    );
    // traffic.scale multiplies the request types' rates, and so every service's.
    let rps = |o: &Output| json(o)["scenario"]["rps_total"].as_f64().unwrap();
    let written = rps(&sim(&["run", SHOP, "--no-latency", "--format", "json"]));
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(base.join(SHOP)).unwrap();
    let halved =
        std::env::temp_dir().join(format!("meshtwin-sweep-{}-shop.toml", std::process::id()));
    std::fs::write(
        &halved,
        text.replace("[traffic]\n", "[traffic]\nscale = 0.5\n"),
    )
    .unwrap();
    let o = sim(&[
        "run",
        halved.to_str().unwrap(),
        "--no-latency",
        "--format",
        "json",
    ]);
    std::fs::remove_file(&halved).ok();
    assert!(
        (rps(&o) - written / 2.0).abs() < 1e-6 * written,
        "{} vs {written}",
        rps(&o)
    );
}
