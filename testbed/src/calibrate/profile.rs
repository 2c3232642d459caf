//! The models profile `calibrate` writes: every value with the command and measurement it came
//! from (`{ value = V, source = "..." }`, which `sim` reads as the value's own source).

use serde::{Deserialize, Serialize};

use super::{shape, Calibration, Options};

/// Where a calibration ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: String,
    /// UTC, YYYY-MM-DD.
    pub date: String,
    pub load_average: String,
}

impl Machine {
    pub fn here() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Self {
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cpus: crate::affinity::online_cpus(),
            cpu_model: read("/proc/cpuinfo")
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
                .unwrap_or_default(),
            date: today(),
            load_average: read("/proc/loadavg").trim().to_string(),
        }
    }
}

/// Today's date (UTC) from the system clock, without a date library.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Howard Hinnant's civil_from_days.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The exponent of a power law through CPU per request `at_rate` at `rate` and `at_higher` at
/// `higher`: `cost ∝ rate^-exponent`, held within [0, 1] (CPU per request that grew with the
/// rate, or CPU per second that fell, is the machine's noise, not the process's).
pub fn rate_exponent(rate: f64, at_rate: f64, higher: f64, at_higher: f64) -> f64 {
    let exponent = (at_rate / at_higher).ln() / (higher / rate).ln();
    if exponent.is_finite() {
        exponent.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// One value of the profile.
#[derive(Clone, Debug, Serialize)]
pub struct CalibratedValue {
    pub component: &'static str,
    pub name: &'static str,
    pub value: f64,
    pub source: String,
}

/// The profile's values from what was measured.
pub fn values(c: &Calibration, options: &Options) -> Vec<CalibratedValue> {
    let m = &c.machine;
    let here = format!(
        "measured by `meshtwin-testbed calibrate` on {} (Linux {}, {} CPUs, {}; mesh on CPU {}, load generator on CPU {})",
        m.date, m.kernel, m.cpus, m.cpu_model, c.mesh_cpu, c.load_cpu
    );
    let mut out = Vec::new();
    let mut push = |component, name, value: f64, what: String| {
        if value.is_finite() {
            out.push(CalibratedValue {
                component,
                name,
                value: (value * 1000.0).round() / 1000.0,
                source: format!("{here}: {what}"),
            });
        }
    };
    let light = format!(
        "{} rps Poisson over 4 keep-alive connections, median of {} runs of {} s",
        c.rate,
        c.repeats,
        options.duration.as_secs_f64()
    );
    if let Some(row) = c
        .rows
        .iter()
        .find(|r| r.payload_bytes == options.profile_payload)
    {
        let payload = format!("{} B request", row.payload_bytes);
        let shape = match row.service_time_sigma {
            Some(sigma) => format!("a log-normal of shape {sigma:.3} (from the added p75, {:.1} µs)", row.added_p75_us),
            None => format!(
                "no plausible shape (the added p75, {:.1} µs, is the machine's stalls): the median itself",
                row.added_p75_us
            ),
        };
        push(
            "envoy",
            "l7_service_time_mean_us",
            row.service_time_mean_us,
            format!(
                "{}, HAProxy in HTTP mode with the mesh's configuration, as an inbound proxy in the server's pod, {payload}, {light}: the latency it adds at p50 (through it minus direct, median over pairs of runs: {:.1} µs) less one loopback leg each way (the benchmark's loopback round trip p50) as the median of {shape}; its mean",
                c.haproxy_version, row.added_p50_us
            ),
        );
        if let Some(sigma) = row.service_time_sigma {
            push(
                "envoy",
                "l7_service_time_sigma",
                sigma,
                format!(
                    "log-normal shape of the same: ln(p75/p50) / 0.6745 of the added latency less the loopback round trip (p50 {:.1} µs, p75 {:.1} µs), {payload}, {light}",
                    row.added_p50_us, row.added_p75_us
                ),
            );
        }
        // CPU per request as between the mesh's processes: sent from the receiver's own CPU.
        // What a request from the other CPU costs beyond it is the wake-up, below.
        let same = &row.same_cpu;
        let one_run = format!(
            "one run of {} s with the load generator on the mesh's CPU {}",
            options.duration.as_secs_f64(),
            c.mesh_cpu
        );
        push(
            "envoy",
            "vcpu_per_krps",
            same.proxy_cpu_us_per_request / 1000.0,
            format!(
                "HAProxy's CPU time (every thread's schedstat) per answered request sent from its own CPU ({:.1} µs), {payload}, {} rps Poisson, {one_run} (at {:.0} rps: {:.1} µs; from the other CPU: {:.1} µs)",
                same.proxy_cpu_us_per_request, c.rate, row.higher_load_rps, same.proxy_cpu_us_per_request_at_higher_load, row.proxy_cpu_us_per_request
            ),
        );
        push(
            "envoy",
            "waypoint_vcpu_per_krps",
            same.proxy_cpu_us_per_request / 1000.0,
            "the testbed's waypoint is the same HAProxy: its CPU per request as vcpu_per_krps"
                .to_string(),
        );
        push(
            "app",
            "request_cpu_us",
            same.server_cpu_us_per_request,
            format!(
                "the mesh's workload server's (meshtwin-workload, hyper; no calls, no app time) CPU time per answered request sent from its own CPU on the direct path, {payload}, {} rps Poisson, {one_run} (from the other CPU: {:.1} µs)",
                c.rate, row.server_cpu_us_per_request
            ),
        );
        // How CPU per request falls with the rate: the power law through the two rates.
        let pairs = [
            (
                "envoy",
                "HAProxy's",
                same.proxy_cpu_us_per_request,
                same.proxy_cpu_us_per_request_at_higher_load,
            ),
            (
                "app",
                "the workload server's",
                same.server_cpu_us_per_request,
                same.server_cpu_us_per_request_at_higher_load,
            ),
        ];
        for (component, whose, at_rate, at_higher) in pairs {
            let exponent = rate_exponent(c.rate, at_rate, row.higher_load_rps, at_higher);
            push(
                component,
                "cpu_rate_exponent",
                exponent,
                format!(
                    "{whose} CPU per request sent from its own CPU at {} rps ({at_rate:.1} µs) and at {:.0} rps ({at_higher:.1} µs), {one_run} each, {payload}: ln({at_rate:.1} / {at_higher:.1}) / ln({:.0} / {}) (held within [0, 1])",
                    c.rate, row.higher_load_rps, row.higher_load_rps, c.rate
                ),
            );
            push(
                component,
                "cpu_reference_requests_per_second",
                c.rate,
                format!("the rate {whose} CPU per request above was measured at"),
            );
        }
        // The wake-up from another CPU: what a request from the load generator's CPU costs
        // HAProxy and the server beyond one from their own, the mean of the two.
        let wakeup = |cross_proxy: f64, same_proxy: f64, cross_server: f64, same_server: f64| {
            ((cross_proxy - same_proxy) + (cross_server - same_server)) / 2.0
        };
        let at_rate = wakeup(
            row.proxy_cpu_us_per_request,
            same.proxy_cpu_us_per_request,
            row.server_cpu_us_per_request,
            same.server_cpu_us_per_request,
        );
        let at_higher = wakeup(
            row.proxy_cpu_us_per_request_at_higher_load,
            same.proxy_cpu_us_per_request_at_higher_load,
            row.server_cpu_us_per_request_at_higher_load,
            same.server_cpu_us_per_request_at_higher_load,
        );
        if at_rate > 0.0 {
            push(
                "kernel",
                "outside_wakeup_us",
                at_rate,
                format!(
                    "CPU per request from the load generator's CPU {} minus from the mesh's CPU {} at {} rps, the mean of HAProxy's ({:.1} − {:.1} µs) and the workload server's ({:.1} − {:.1} µs), {payload}",
                    c.load_cpu, c.mesh_cpu, c.rate, row.proxy_cpu_us_per_request, same.proxy_cpu_us_per_request, row.server_cpu_us_per_request, same.server_cpu_us_per_request
                ),
            );
            push(
                "kernel",
                "outside_wakeup_rate_exponent",
                rate_exponent(c.rate, at_rate, row.higher_load_rps, at_higher.max(1e-6)),
                format!(
                    "the same difference at {} rps ({at_rate:.1} µs) and at {:.0} rps ({at_higher:.1} µs): ln({at_rate:.1} / {at_higher:.1}) / ln({:.0} / {}) (held within [0, 1])",
                    c.rate, row.higher_load_rps, row.higher_load_rps, c.rate
                ),
            );
            push(
                "kernel",
                "outside_wakeup_reference_requests_per_second",
                c.rate,
                "the rate outside_wakeup_us above was measured at".to_string(),
            );
        }
    }
    push(
        "envoy",
        "base_bytes",
        c.haproxy_peak_rss_bytes as f64,
        "HAProxy's peak resident memory (VmHWM) after the calibration runs".to_string(),
    );
    push(
        "envoy",
        "worker_threads",
        c.haproxy_threads as f64,
        format!(
            "the testbed's HAProxy configuration: nbthread {}",
            c.haproxy_threads
        ),
    );
    if let Some(bench) = &c.bench {
        let leg = |key: &str| bench["per_leg_us"][key].as_f64();
        let path = |key: &str, field: &str| super::bench_path(bench, key, field);
        let proxy_cpu = |key: &str| {
            bench["paths"]
                .as_array()
                .and_then(|paths| paths.iter().find(|p| p["key"] == key))
                .and_then(|p| p["proxy_cpu_us_per_round_trip"].as_f64())
        };
        let bench_how = format!(
            "the datapath benchmark inside calibrate (`meshtwin-testbed bench --size {} --runs {}`, every process on CPU {})",
            bench["size_bytes"], bench["runs"], c.mesh_cpu
        );
        let stack = leg("loopback_one_way_us");
        if let Some(v) = stack {
            push(
                "kernel",
                "stack_us",
                v,
                format!("{bench_how}: loopback round trip mean, halved"),
            );
        }
        if let Some(v) = leg("veth_crossing_us") {
            push(
                "kernel",
                "veth_crossing_us",
                v.max(0.0),
                format!("{bench_how}: pod-to-pod minus loopback round trip, over four crossings ({v:.2} µs; 0 when negative, below the noise)"),
            );
            push(
                "kernel",
                "wire_us",
                2.0 * v.max(0.0),
                format!("the testbed's nodes are network namespaces routed through a router namespace (docs/testbed.md), so the wire between two nodes is two more veth crossings and a forwarding: 2 × veth_crossing_us; {bench_how}"),
            );
        }
        if let Some(v) = leg("sockmap_one_way_us") {
            push(
                "kernel",
                "sockmap_us",
                v,
                format!("{bench_how}: pod-to-pod round trip with the sockmap bypass, halved"),
            );
        }
        if let Some(v) = leg("iptables_redirect_extra_us") {
            push(
                "kernel",
                "iptables_redirect_us",
                v.max(0.0),
                format!("{bench_how}: iptables REDIRECT minus connect4 to the node proxy, halved ({v:.2} µs; 0 when negative)"),
            );
        }
        if let Some(v) = leg("connect4_per_connection_us") {
            push(
                "kernel",
                "connect_redirect_us",
                v.max(0.0),
                format!("{bench_how}: connect() through connect4 minus directly ({v:.2} µs; 0 when negative)"),
            );
        }
        if let (Some(p50), Some(p99)) = (path("a", "p50_us"), path("a", "p99_us")) {
            if let Some(sigma) = shape::sigma_two_legs(p50, p99) {
                push(
                    "kernel",
                    "segment_sigma",
                    sigma,
                    format!("{bench_how}: the plain pod-to-pod round trip's p99/p50 ({p99:.1}/{p50:.1}) as the sum of two i.i.d. log-normal legs"),
                );
            }
        }
        // The node proxy's critical path from medians, as for the L7 proxy: the connect4 path
        // minus the plain one, less the second leg (a loopback round trip's p50); the shape
        // from the p99s likewise (one CPU, a tight loop: the benchmark's tails are its own).
        if let (Some(d50), Some(a50), Some(l50), Some(d99), Some(a99), Some(l99)) = (
            path("d", "p50_us"),
            path("a", "p50_us"),
            path("0", "p50_us"),
            path("d", "p99_us"),
            path("a", "p99_us"),
            path("0", "p99_us"),
        ) {
            let median = d50 - a50 - l50;
            let sigma = shape::sigma_one(median, d99 - a99 - l99)
                .filter(|s| *s <= shape::MAX_PLAUSIBLE_SIGMA);
            if median > 0.0 {
                push(
                    "ztunnel",
                    "l4_service_time_mean_us",
                    median * (sigma.unwrap_or(0.0).powi(2) / 2.0).exp(),
                    format!("{bench_how}: the project's node proxy reached by connect4 minus the plain pod-to-pod round trip, less a loopback round trip (p50s: {d50:.1} − {a50:.1} − {l50:.1} µs), as a log-normal's median; its mean"),
                );
            }
            if let Some(sigma) = sigma {
                push(
                    "ztunnel",
                    "l4_service_time_sigma",
                    sigma,
                    format!("{bench_how}: the same difference at p99 ({d99:.1} − {a99:.1} − {l99:.1} µs) over p50: ln(p99/p50) / 2.326"),
                );
            }
        }
        if let Some(us) = proxy_cpu("d") {
            push(
                "ztunnel",
                "vcpu_per_krps",
                us / 1000.0,
                format!("{bench_how}: the node proxy's CPU time per round trip through connect4 ({us:.1} µs)"),
            );
        }
    }
    out
}

/// The profile file's text.
pub fn render(c: &Calibration) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let m = &c.machine;
    let mut text = format!(
        "# Written by `meshtwin-testbed calibrate` on {date}: each component of the testbed's mesh\n\
         # measured alone on this machine. Reproduce with `sudo target/release/meshtwin-testbed calibrate`.\n\
         # L7 proxy (HAProxy) by payload, {rate} rps: bytes; added p50 / p75 / p90 / p99 / mean µs; HAProxy CPU µs per request, and at {higher} rps; server CPU µs per request, and at {higher} rps; the same four sent from the mesh's own CPU\n",
        date = m.date,
        rate = c.rate,
        higher = c.rows.first().map_or(0.0, |r| r.higher_load_rps)
    );
    for r in &c.rows {
        text.push_str(&format!(
            "#   {:>6} B  {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1}  {:>6.1} {:>6.1}  {:>6.1} {:>6.1}  {:>6.1} {:>6.1}  {:>6.1} {:>6.1}\n",
            r.payload_bytes,
            r.added_p50_us,
            r.added_p75_us,
            r.added_p90_us,
            r.added_p99_us,
            r.added_mean_us,
            r.proxy_cpu_us_per_request,
            r.proxy_cpu_us_per_request_at_higher_load,
            r.server_cpu_us_per_request,
            r.server_cpu_us_per_request_at_higher_load,
            r.same_cpu.proxy_cpu_us_per_request,
            r.same_cpu.proxy_cpu_us_per_request_at_higher_load,
            r.same_cpu.server_cpu_us_per_request,
            r.same_cpu.server_cpu_us_per_request_at_higher_load
        ));
    }
    text.push_str(&format!(
        "description = {}\nsource = {}\n",
        quote(&format!(
            "this machine's testbed ({} CPUs, Linux {}), measured {}",
            m.cpus, m.kernel, m.date
        )),
        quote("meshtwin-testbed calibrate (each value names its measurement)")
    ));
    let mut components: Vec<&str> = c.values.iter().map(|v| v.component).collect();
    components.dedup();
    let mut seen = Vec::new();
    for component in components {
        if seen.contains(&component) {
            continue;
        }
        seen.push(component);
        text.push_str(&format!("\n[{component}]\n"));
        for v in c.values.iter().filter(|v| v.component == component) {
            text.push_str(&format!(
                "{} = {{ value = {}, source = {} }}\n",
                v.name,
                v.value,
                quote(&v.source)
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What calibrate writes is a profile the simulator loads, every value with its own source.
    #[test]
    fn the_written_profile_loads_in_the_simulator_with_a_source_per_value() {
        let calibration = Calibration {
            machine: Machine::here(),
            haproxy_version: "HAProxy version 2.6".into(),
            haproxy_threads: 1,
            rate: 500.0,
            repeats: 3,
            mesh_cpu: 0,
            load_cpu: 1,
            rows: Vec::new(),
            haproxy_peak_rss_bytes: 15_000_000,
            server_peak_rss_bytes: 5_000_000,
            bench: None,
            values: vec![
                CalibratedValue {
                    component: "envoy",
                    name: "base_bytes",
                    value: 15_000_000.0,
                    source: "HAProxy's \"peak\" RSS".into(),
                },
                CalibratedValue {
                    component: "kernel",
                    name: "stack_us",
                    value: 6.387,
                    source: "the benchmark".into(),
                },
            ],
        };
        let path =
            std::env::temp_dir().join(format!("meshtwin-calibrated-{}.toml", std::process::id()));
        std::fs::write(&path, render(&calibration)).unwrap();
        let profile = sim::cost_model::Profile::from_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let envoy = &profile.overrides["envoy"]["base_bytes"];
        assert_eq!(envoy.value(), 15e6);
        assert_eq!(envoy.source(), Some("HAProxy's \"peak\" RSS"));
        assert_eq!(profile.overrides["kernel"]["stack_us"].value(), 6.387);
        let mut catalog = sim::cost_model::Catalog::embedded();
        catalog.add_profile(profile).unwrap();
    }

    #[test]
    fn the_rate_exponent_is_the_power_law_through_two_rates() {
        // HAProxy here: 114.0 µs at 500 rps, 71.5 µs at 2000 rps.
        let exponent = rate_exponent(500.0, 114.0, 2000.0, 71.5);
        assert!((exponent - 0.3365).abs() < 1e-3, "{exponent}");
        // CPU per request that grew with the rate is noise: no dependence.
        assert_eq!(rate_exponent(500.0, 70.0, 2000.0, 80.0), 0.0);
        assert_eq!(rate_exponent(500.0, 0.0, 2000.0, 0.0), 0.0);
    }

    #[test]
    fn today_is_a_plausible_date() {
        let date = super::today();
        assert_eq!(date.len(), 10);
        let year: u32 = date[..4].parse().unwrap();
        assert!(year >= 2024, "{date}");
        assert!(!Machine::here().kernel.is_empty());
    }
}
