//! HTTP/1.1 visibility without a proxy: curl in one pod, a hyper server in another, and the
//! counts the agent exports equal what curl saw, by method and status class, with a latency
//! histogram per series; pipelined requests are counted, a head split across writes and
//! non-HTTP bytes are reported as unparsed and never miscounted.

use std::{collections::BTreeMap, time::Duration};

use meshtwin_kernel_features::{Feature, CGROUP_LINK, SK_MSG, SOCK_HASH, SOCK_OPS};

use crate::{
    probes,
    support::{
        agent, gate,
        workloads::{MeshWorld, Process},
    },
};

const FEATURES: &[Feature] = &[SK_MSG, SOCK_OPS, SOCK_HASH, CGROUP_LINK];
const LONG: Duration = Duration::from_secs(60);
const CURL: &str = "/usr/bin/curl";
const BASE: &str = "http://10.77.0.3:8080";

fn config(world: &MeshWorld, sockmap: bool) -> String {
    format!(
        r#"
[[service]]
name = "web"
vip = "10.96.0.10"
port = 80
protocol = "tcp"
backends = ["10.77.0.3:8080"]

[[workload]]
name = "client"
cgroup = "{}"
addresses = ["10.77.0.2"]
sockmap = {sockmap}

[[workload]]
name = "web"
cgroup = "{}"
addresses = ["10.77.0.3"]
sockmap = {sockmap}
http = ["web"]
"#,
        world.cgroup("client").display(),
        world.cgroup("web").display(),
    )
}

/// One curl process, one connection, many requests (`--next` keeps the connection): returns
/// (method, status class) of each as curl reports it.
fn curl(world: &MeshWorld) -> Vec<(String, String)> {
    let format = "%{method} %{http_code}\n";
    let mut command = world.command("client", "client", CURL);
    let common = ["-s", "-w", format];
    command.args(common);
    for path in ["/status/200", "/status/404", "/status/204", "/status/301"] {
        // One -o per URL: the bodies are not what is compared.
        command
            .args(["-o", "/dev/null"])
            .arg(format!("{BASE}{path}"));
    }
    for extra in [
        vec!["-X", "POST", "--data-binary", "hello", "/echo"],
        vec!["-I", "/status/200"],
        vec!["-X", "DELETE", "/status/503"],
        vec!["-X", "PUT", "--data-binary", "some bytes to echo", "/echo"],
        vec!["-X", "PATCH", "/status/201"],
    ] {
        command.arg("--next").args(common).args(["-o", "/dev/null"]);
        let (path, options) = extra.split_last().expect("a path");
        command.args(options).arg(format!("{BASE}{path}"));
    }
    let lines = Process::spawn("curl", command).success(LONG);
    let seen: Vec<(String, String)> = lines
        .iter()
        .map(|line| {
            let (method, code) = line.split_once(' ').expect("method code");
            (method.to_string(), format!("{}xx", &code[..1]))
        })
        .collect();
    assert_eq!(seen.len(), 9, "curl made nine requests: {lines:?}");
    seen
}

fn count(seen: &[(String, String)]) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for key in seen {
        *counts.entry(key.clone()).or_default() += 1;
    }
    counts
}

fn requests(metrics: &str, method: &str, class: &str) -> u64 {
    probes::sample(
        metrics,
        &format!(
            r#"meshtwin_http_requests_total{{service="web",method="{method}",status_class="{class}"}}"#
        ),
    )
    .unwrap_or(0)
}

fn unparsed(metrics: &str, reason: &str) -> u64 {
    probes::sample(
        metrics,
        &format!(r#"meshtwin_http_unparsed_messages_total{{service="web",reason="{reason}"}}"#),
    )
    .unwrap_or(0)
}

fn raw(world: &MeshWorld, writes: &[&str], responses: usize) -> Vec<String> {
    let mut args = vec!["http-raw", "--connect", "10.77.0.3:8080"];
    for write in writes {
        args.extend(["--write", write]);
    }
    let responses = responses.to_string();
    args.extend(["--responses", &responses]);
    world.traffic("client", &args).success(LONG)
}

#[test]
fn http_counts_equal_what_curl_saw_with_and_without_the_bypass() {
    let Some(gate) = gate::require(
        "http_counts_equal_what_curl_saw_with_and_without_the_bypass",
        FEATURES,
    ) else {
        return;
    };
    let mut world = MeshWorld::new("http", &[("client", 2), ("web", 3)]);
    world.agent.write_config(&config(&world, true));
    let mut command = world
        .node
        .ns
        .command(agent::binary().to_str().expect("utf-8"));
    command.args([
        "run",
        "--config",
        world.agent.config.to_str().expect("utf-8"),
        "--metrics-address",
        "127.0.0.1:0",
    ]);
    let mut run = Process::spawn("meshtwin-agent run", command);
    let metrics = run.metrics_address(LONG);
    world.processes.push(run);
    let mut server = world.traffic("web", &["http-server", "--listen", "0.0.0.0:8080"]);
    server.expect("listening", LONG);
    world.processes.push(server);

    // Once with the sockmap bypass, once through TCP: the counts cover both.
    let mut seen = curl(&world);
    world.agent.write_config(&config(&world, false));
    world.agent.ok(&world.node.ns, "reload");
    seen.extend(curl(&world));
    let expected = count(&seen);
    let text = probes::scrape(&world.node.ns, &metrics);
    for ((method, class), n) in &expected {
        assert_eq!(
            requests(&text, method, class),
            *n,
            "{method} {class}: curl saw {n}\n{text}"
        );
        let histogram = probes::sample(
            &text,
            &format!(
                r#"meshtwin_http_request_duration_seconds_count{{service="web",method="{method}",status_class="{class}"}}"#
            ),
        );
        assert_eq!(histogram, Some(*n), "{method} {class} latency histogram");
    }
    let total: u64 = text
        .lines()
        .filter(|l| l.starts_with("meshtwin_http_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        total,
        seen.len() as u64,
        "no request counted twice or invented"
    );
    assert!(
        !text.contains("meshtwin_http_unparsed_messages_total{"),
        "nothing unparsed in curl's traffic:\n{text}"
    );

    // Three requests in one write: all counted.
    let pipelined = "GET /status/200 HTTP/1.1\\r\\nHost: web\\r\\n\\r\\nGET /status/201 HTTP/1.1\\r\\nHost: web\\r\\n\\r\\nGET /status/404 HTTP/1.1\\r\\nHost: web\\r\\n\\r\\n";
    let statuses = raw(&world, &[pipelined], 3);
    assert_eq!(statuses, ["status 200", "status 201", "status 404"]);
    // A head split over two writes: reported, not counted.
    let statuses = raw(
        &world,
        &["GE", "T /status/200 HTTP/1.1\\r\\nHost: web\\r\\n\\r\\n"],
        1,
    );
    assert_eq!(statuses, ["status 200"]);
    // Not HTTP at all: hyper answers 400, a response to no request the parser saw.
    let statuses = raw(&world, &["\u{1}\u{2}\u{3} not a request line\r\n\r\n"], 1);
    assert_eq!(statuses, ["status 400"]);

    let text = probes::scrape(&world.node.ns, &metrics);
    let get_2xx = expected
        .get(&("GET".to_string(), "2xx".to_string()))
        .copied()
        .unwrap_or(0);
    assert_eq!(
        requests(&text, "GET", "2xx"),
        get_2xx + 2,
        "pipelined 200 and 201"
    );
    let get_4xx = expected
        .get(&("GET".to_string(), "4xx".to_string()))
        .copied()
        .unwrap_or(0);
    assert_eq!(requests(&text, "GET", "4xx"), get_4xx + 1, "pipelined 404");
    assert_eq!(unparsed(&text, "split"), 1, "{text}");
    assert_eq!(
        unparsed(&text, "no_request"),
        2,
        "the responses to the split request and to the non-HTTP bytes"
    );
    assert_eq!(unparsed(&text, "not_http"), 1, "{text}");
    gate.pass();
}
