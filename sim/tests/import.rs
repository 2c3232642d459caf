//! `sim import` on the project's own fixtures (sim/tests/fixtures/import/, written in the
//! formats Kubernetes, Prometheus and Hubble document): what each source gives, that the file
//! passes `sim check`, and located errors for bad input. The test against a real Prometheus
//! server is in import_prometheus.rs.

mod import_support;

use import_support::{edge_rates, fixture, sim, stderr, Scratch};
use std::collections::BTreeMap;

fn imported(args: &[&str]) -> (String, toml::Table) {
    let o = sim(&[&["import"], args].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, table)
}

fn service<'a>(t: &'a toml::Table, name: &str) -> &'a toml::Value {
    t["service"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no service {name}"))
}

#[test]
fn kubernetes_objects_give_workloads_ports_accounts_and_nodes() {
    let (text, t) = imported(&["--kubernetes", &fixture("shop.json")]);
    assert_eq!(t["cluster"]["nodes"].as_integer(), Some(3));
    assert_eq!(t["cluster"]["max_pods_per_node"].as_integer(), Some(58));
    assert!(
        text.contains("# cores_per_node = 3  # Node node-a status.allocatable.cpu 3.92"),
        "{text}"
    );
    let names: Vec<&str> = t["service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "frontend",
            "checkout",
            "currency",
            "cart",
            "redis",
            "log-agent"
        ]
    );
    let frontend = service(&t, "frontend");
    assert_eq!(frontend["replicas"].as_integer(), Some(3));
    assert_eq!(frontend["namespace"].as_str(), Some("shop"));
    assert_eq!(frontend["service_account"].as_str(), Some("frontend"));
    assert_eq!(
        service(&t, "currency")["service_account"].as_str(),
        Some("default")
    );
    // Ports by protocol: appProtocol, else the name's prefix; Redis is TCP; the DaemonSet has
    // a pod per node.
    assert_eq!(
        service(&t, "cart")["grpc_ports"][0].as_integer(),
        Some(7070)
    );
    assert_eq!(
        service(&t, "cart")["http_ports"][0].as_integer(),
        Some(9090)
    );
    assert_eq!(
        service(&t, "currency")["grpc_ports"][0].as_integer(),
        Some(7000)
    );
    assert_eq!(
        service(&t, "frontend")["http_ports"][0].as_integer(),
        Some(80)
    );
    assert_eq!(
        service(&t, "redis")["tcp_ports"][0].as_integer(),
        Some(6379)
    );
    assert_eq!(service(&t, "log-agent")["replicas"].as_integer(), Some(3));
    assert_eq!(service(&t, "log-agent")["namespace"].as_str(), Some("ops"));
    // Every value says where it came from; unknown kinds are skipped with a note.
    assert!(
        text.contains("replicas = 2  # Deployment shop/checkout"),
        "{text}"
    );
    assert!(
        text.contains("5050,  # Service shop/checkout port 5050, appProtocol grpc: grpc"),
        "{text}"
    );
    assert!(
        text.contains("skipped, not read by sim import: 1 ConfigMap, 1 Ingress"),
        "{text}"
    );
    assert!(
        text.contains("port 53 is UDP: not carried by the mesh"),
        "{text}"
    );
}

#[test]
fn the_same_workload_twice_is_read_once_and_objects_alone_say_there_is_no_traffic() {
    let (text, t) = imported(&[
        "--kubernetes",
        &fixture("shop.json"),
        "--kubernetes",
        &fixture("manifests"),
    ]);
    assert_eq!(t["service"].as_array().unwrap().len(), 6);
    assert_eq!(t["cluster"]["nodes"].as_integer(), Some(3));
    assert!(text.contains("skipped Deployment shop/frontend in tests/fixtures/import/manifests/workloads.yaml (already read)"), "{text}");
    assert!(text.contains("no traffic source given"), "{text}");
    let file = Scratch::write("objects-only", &text);
    let o = sim(&["check", file.path()]);
    assert!(o.status.success(), "{}\n{text}", stderr(&o));
}

#[test]
fn a_folder_of_yaml_manifests_reads_as_the_json_list_does() {
    let strip = |text: &str| -> Vec<String> {
        // Values alone: the comments name the file each came from.
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  #").next().unwrap().to_string())
            .collect()
    };
    let (json, _) = imported(&["--kubernetes", &fixture("shop.json")]);
    let (yaml, _) = imported(&["--kubernetes", &fixture("manifests")]);
    assert_eq!(strip(&json), strip(&yaml));
    assert!(yaml.contains("manifests/workloads.yaml)"), "{yaml}");
}

#[test]
fn prometheus_edges_become_calls_per_request_and_entry_rates() {
    let (text, t) = imported(&[
        "--kubernetes",
        &fixture("shop.json"),
        "--prometheus-json",
        &fixture("prometheus-response.json"),
    ]);
    // The gateway is not among the objects: its 20 rps come from outside, over 3 pods.
    let frontend = service(&t, "frontend");
    assert!((frontend["rps_per_pod"].as_float().unwrap() - 20.0 / 3.0).abs() < 1e-5);
    assert!(
        text.contains("istio-ingressgateway sends traffic but is not among the Kubernetes objects")
    );
    // checkout serves 10 rps and sends 30 to currency: 3 calls per request.
    assert!(
        text.contains(
            "{ service = \"currency\", per_request = 3.0 },  # 30.000 rps checkout → currency"
        ),
        "{text}"
    );
    // Called services take their callers' rates; every edge is simulated at its observed rate.
    assert!(service(&t, "currency").get("rps_per_pod").is_none());
    let served: BTreeMap<(String, String), f64> = [
        ("frontend", "checkout", 10.0),
        ("frontend", "cart", 30.0),
        ("frontend", "currency", 40.0),
        ("checkout", "currency", 30.0),
        ("checkout", "cart", 10.0),
        ("cart", "redis", 60.0),
    ]
    .into_iter()
    .map(|(a, b, r)| ((a.to_string(), b.to_string()), r))
    .collect();
    let modelled = edge_rates(&t);
    assert_eq!(
        modelled.keys().collect::<Vec<_>>(),
        served.keys().collect::<Vec<_>>()
    );
    for (edge, rate) in &served {
        assert!(
            (modelled[edge] - rate).abs() < 1e-3,
            "{edge:?}: {} vs {rate}",
            modelled[edge]
        );
    }
    let file = Scratch::write("prometheus-json", &text);
    let o = sim(&["check", file.path()]);
    assert!(o.status.success(), "{}\n{text}", stderr(&o));
}

#[test]
fn hubble_flows_count_requests_once_over_their_window() {
    let (text, t) = imported(&[
        "--kubernetes",
        &fixture("manifests"),
        "--hubble",
        &fixture("hubble-flows.jsonl"),
    ]);
    // 20 requests from the world in 10 s, over 3 pods; each mesh request is seen at both ends
    // and counted once; replies are not requests.
    assert!((service(&t, "frontend")["rps_per_pod"].as_float().unwrap() - 2.0 / 3.0).abs() < 1e-5);
    let rates = edge_rates(&t);
    assert!(
        (rates[&("frontend".into(), "cart".into())] - 3.0).abs() < 1e-4,
        "{rates:?}"
    );
    assert!(
        (rates[&("cart".into(), "redis".into())] - 6.0).abs() < 1e-4,
        "{rates:?}"
    );
    assert!(text.contains("L7 requests over 10 s"), "{text}");
    let file = Scratch::write("hubble", &text);
    let o = sim(&["check", file.path()]);
    assert!(o.status.success(), "{}\n{text}", stderr(&o));
}

#[test]
fn cycles_lose_their_quietest_edge_with_a_note() {
    let response = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"source_workload":"user","source_workload_namespace":"sn","destination_workload":"graph","destination_workload_namespace":"sn"},"value":[1,"8"]},
        {"metric":{"source_workload":"graph","source_workload_namespace":"sn","destination_workload":"user","destination_workload_namespace":"sn"},"value":[1,"2"]},
        {"metric":{"destination_workload":"user","destination_workload_namespace":"sn"},"value":[1,"4"]}]}}"#;
    let saved = Scratch::write("cycle-response", response);
    let (text, t) = imported(&["--prometheus-json", saved.path()]);
    assert!(text.contains("graph → user (2.000 rps"), "{text}");
    assert!(text.contains("closes the cycle"), "{text}");
    assert_eq!(edge_rates(&t).len(), 1);
    let file = Scratch::write("cycle", &text);
    assert!(sim(&["check", file.path()]).status.success());
}

#[test]
fn malformed_files_are_located() {
    let o = sim(&["import", "--kubernetes", &fixture("malformed.json")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("malformed.json:5:") && err.contains("not valid JSON"),
        "{err}"
    );
    let o = sim(&[
        "import",
        "--kubernetes",
        &fixture("malformed-manifests.yaml"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("malformed-manifests.yaml:10:5")
            && err.contains("not valid YAML")
            && err.contains("while parsing a flow sequence at line 9"),
        "{err}"
    );
    let broken = Scratch::write("broken-flows", "{\"flow\": {}}\nnot json\n");
    let o = sim(&["import", "--hubble", broken.path()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(":2:2: not a JSON flow: expected ident"),
        "{}",
        stderr(&o)
    );
    let o = sim(&["import"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing to import"));
    let o = sim(&[
        "import",
        "--prometheus-json",
        &fixture("prometheus-response.json"),
        "--window",
        "five",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`five` is not a duration"));
}

#[test]
fn an_unreachable_prometheus_names_the_url_and_the_query() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = sim(&["import", "--prometheus", &url]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&url) && err.contains("istio_requests_total{reporter=\"source\"}[5m]"),
        "{err}"
    );
    // Refused, as a rule; another process may take the freed port meanwhile (tests run in
    // parallel), and then the answer is not Prometheus's.
    assert!(
        err.contains("cannot connect") || err.contains("cannot read the response"),
        "{err}"
    );
    let empty = Scratch::write(
        "empty-response",
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    );
    let o = sim(&["import", "--prometheus-json", empty.path()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no samples"), "{}", stderr(&o));
}
