//! `sim import --prometheus` against a real Prometheus server (Debian's `prometheus`, which
//! .ci/setup installs): the test serves Istio's `istio_requests_total` counters on a loopback
//! port, growing at known rates, starts Prometheus on another loopback port to scrape them
//! every second, waits for samples, imports, and checks that the file passes `sim check` and
//! that every edge is simulated at the rate that was served.

mod import_support;

use import_support::{edge_rates, fixture, sim, stderr};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// (reporter, source namespace, source, destination, requests per second). The gateway is not
/// among shop.json's objects, so its requests count as from outside the mesh, with the
/// `unknown` source's; the destination proxies' reports of mesh edges must not be counted
/// twice.
const SERVED: [(&str, &str, &str, &str, f64); 10] = [
    (
        "source",
        "istio-system",
        "istio-ingressgateway",
        "frontend",
        20.0,
    ),
    ("destination", "unknown", "unknown", "frontend", 5.0),
    ("source", "shop", "frontend", "checkout", 10.0),
    ("source", "shop", "frontend", "cart", 30.0),
    ("source", "shop", "frontend", "currency", 40.0),
    ("source", "shop", "checkout", "currency", 30.0),
    ("source", "shop", "checkout", "cart", 10.0),
    ("source", "shop", "cart", "redis", 60.0),
    ("destination", "shop", "cart", "redis", 60.0),
    ("destination", "shop", "frontend", "cart", 30.0),
];

/// The metric's text exposition after `elapsed` seconds: every counter at rate × time.
fn exposition(elapsed: f64) -> String {
    let mut out = String::from("# HELP istio_requests_total Requests, as Istio's proxies count them.\n# TYPE istio_requests_total counter\n");
    for (reporter, ns, from, to, rate) in SERVED {
        out.push_str(&format!(
            "istio_requests_total{{reporter=\"{reporter}\",source_workload=\"{from}\",source_workload_namespace=\"{ns}\",destination_workload=\"{to}\",destination_workload_namespace=\"shop\",response_code=\"200\"}} {}\n",
            rate * elapsed
        ));
    }
    out
}

/// The exporter: answers every connection with the exposition, until stopped.
fn serve_metrics(listener: TcpListener, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    listener.set_nonblocking(true).unwrap();
    let started = Instant::now();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).ok();
                    stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = exposition(started.elapsed().as_secs_f64());
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(response.as_bytes()).ok();
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    })
}

/// The Prometheus process and its folder, ended and removed however the test ends.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A number from an instant query's first sample.
fn scalar(url: &str, query: &str) -> Option<f64> {
    let body = sim::import::http::get(url, "/api/v1/query", &[("query", query)]).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

fn wait_for(what: &str, server: &mut Server, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log =
                std::fs::read_to_string(server.dir.join("prometheus.log")).unwrap_or_default();
            panic!("prometheus exited ({status}) before {what}:\n{log}");
        }
        assert!(Instant::now() < deadline, "no {what} after 60 s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn import_from_a_real_prometheus_matches_what_was_served() {
    if !Path::new(PROMETHEUS).exists() {
        eprintln!("skipping: {PROMETHEUS} is missing (.ci/setup installs Debian's prometheus)");
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let exporter = TcpListener::bind("127.0.0.1:0").unwrap();
    let exporter_port = exporter.local_addr().unwrap().port();
    let serving = serve_metrics(exporter, stop.clone());

    let dir = std::env::temp_dir().join(format!("meshtwin-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: istio\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    let mut server = Server { child, dir };
    let url = format!("http://127.0.0.1:{port}");

    wait_for("readiness", &mut server, || {
        sim::import::http::get(&url, "/-/ready", &[]).is_ok()
    });
    // Samples from before the 10 s window as well as across it: rate() extrapolates to the
    // window's start only when a sample lies within about a scrape interval of it, so a
    // series younger than the window reads low (six samples in 10 s read 40% low).
    wait_for("14 samples of every series in 15 s", &mut server, || {
        scalar(&url, "min(count_over_time(istio_requests_total[15s]))").is_some_and(|n| n >= 14.0)
            && scalar(&url, "count(istio_requests_total)") == Some(SERVED.len() as f64)
    });

    let o = sim(&[
        "import",
        "--kubernetes",
        &fixture("shop.json"),
        "--prometheus",
        &url,
        "--window",
        "10s",
    ]);
    stop.store(true, Ordering::Relaxed);
    serving.join().unwrap();
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(&format!("Prometheus {url}: `sum by")),
        "{text}"
    );

    let file = std::env::temp_dir().join(format!("meshtwin-imported-{}.toml", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let check = sim(&["check", file.to_str().unwrap()]);
    std::fs::remove_file(&file).ok();
    assert!(check.status.success(), "{}\n{text}", stderr(&check));

    // Rates from rate() over scraped float counters: exact up to the scrapes' timing.
    let close = |got: f64, want: f64| (got - want).abs() <= 0.05 * want;
    let t: toml::Table = toml::from_str(&text).unwrap();
    let frontend = t["service"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("frontend"))
        .unwrap();
    let entry = frontend["rps_per_pod"].as_float().unwrap() * 3.0;
    assert!(
        close(entry, 25.0),
        "frontend's entry rate {entry}, served 20 + 5\n{text}"
    );
    let modelled = edge_rates(&t);
    let served: Vec<_> = SERVED
        .iter()
        .filter(|s| s.0 == "source" && s.1 == "shop")
        .collect();
    assert_eq!(modelled.len(), served.len(), "{modelled:?}");
    for (_, _, from, to, rate) in served {
        let got = modelled[&(from.to_string(), to.to_string())];
        assert!(
            close(got, *rate),
            "{from} → {to}: {got} rps modelled, {rate} served\n{text}"
        );
    }
}
