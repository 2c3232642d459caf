//! The benchmark's many-connection rows: wrk (Debian's, unmodified) against nginx, with the
//! processes where the scheduler puts them, as a service mesh's workloads run. wrk's own
//! report is the measurement: requests per second and its latency percentiles.

use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

/// Where Debian's `wrk` package puts the binary (.ci/setup installs it).
pub const WRK: &str = "/usr/bin/wrk";

/// One wrk run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WrkRun {
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p75_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// wrk's own context switches over the run (all threads, from wait4's rusage): how often
    /// it slept, and how often the scheduler preempted it.
    pub wrk_voluntary_switches: u64,
    pub wrk_involuntary_switches: u64,
    /// The same for nginx's workers, over the run.
    pub nginx_voluntary_switches: u64,
    pub nginx_involuntary_switches: u64,
}

/// How wrk is run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct WrkLoad {
    pub threads: usize,
    pub connections: usize,
    pub duration_secs: f64,
}

/// Runs `command` (wrk, placed in its namespace and cgroup by the caller) against `url` and
/// reads its report.
pub(super) fn run(mut command: Command, load: WrkLoad, url: &str) -> Result<WrkRun> {
    use std::io::Read as _;
    let mut child = command
        .args(["--latency", "-t"])
        .arg(load.threads.to_string())
        .arg("-c")
        .arg(load.connections.to_string())
        .arg("-d")
        .arg(format!("{}s", load.duration_secs.ceil() as u64))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run {WRK}"))?;
    let mut text = String::new();
    child
        .stdout
        .take()
        .context("no stdout")?
        .read_to_string(&mut text)?;
    // wait4 rather than Child::wait: it also gives the child's resource usage.
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid rusage (integers only).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child's pid, and pointers to live values the call fills.
    let waited = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if waited < 0 {
        bail!("wait4 on wrk: {}", std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("wrk failed (wait status {status}): {text}");
    }
    let mut run = parse(&text).with_context(|| format!("unexpected wrk report:\n{text}"))?;
    run.wrk_voluntary_switches = usage.ru_nvcsw as u64;
    run.wrk_involuntary_switches = usage.ru_nivcsw as u64;
    Ok(run)
}

/// Reads wrk 4's report: the `Latency Distribution` block (`--latency`), the `Latency` line's
/// maximum, and `Requests/sec`. A run with socket errors or non-2xx answers is refused: its
/// latencies would not be those of answered requests.
pub(super) fn parse(text: &str) -> Result<WrkRun> {
    let percentile = |label: &str| -> Result<f64> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(label) && l.len() > label.len())
            .with_context(|| format!("no {label} line"))?;
        duration_us(line[label.len()..].trim())
    };
    let latency = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Latency ") && !l.starts_with("Latency Distribution"))
        .context("no Latency line")?;
    // "Latency   552.00us  310.21us  12.03ms   91.20%": average, deviation, maximum, share.
    let max = latency
        .split_whitespace()
        .nth(3)
        .context("no maximum latency")?;
    let requests_per_second = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .context("no Requests/sec")?
        .trim()
        .parse()?;
    if let Some(errors) = text.lines().find(|l| l.contains("Socket errors")) {
        bail!("wrk reported {}", errors.trim());
    }
    if let Some(non_2xx) = text.lines().find(|l| l.contains("Non-2xx")) {
        bail!("wrk reported {}", non_2xx.trim());
    }
    Ok(WrkRun {
        requests_per_second,
        p50_us: percentile("50%")?,
        p75_us: percentile("75%")?,
        p90_us: percentile("90%")?,
        p99_us: percentile("99%")?,
        max_us: duration_us(max)?,
        wrk_voluntary_switches: 0,
        wrk_involuntary_switches: 0,
        nginx_voluntary_switches: 0,
        nginx_involuntary_switches: 0,
    })
}

/// "552.00us", "1.57ms", "2.00s" in µs.
fn duration_us(text: &str) -> Result<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        bail!("not a duration: {text:?}")
    };
    Ok(number
        .parse::<f64>()
        .with_context(|| format!("not a duration: {text:?}"))?
        * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://10.77.0.3:8080/index.html
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   552.00us  310.21us  12.03ms   91.20%
    Req/Sec    14.01k     1.02k   16.33k    70.00%
  Latency Distribution
     50%  552.00us
     75%  690.00us
     90%  820.00us
     99%    1.57ms
  139470 requests in 5.00s, 412.33MB read
Requests/sec:  27892.16
Transfer/sec:     82.46MB
";

    #[test]
    fn reads_wrk_reports() {
        let run = parse(REPORT).unwrap();
        assert_eq!(run.p50_us, 552.0);
        assert_eq!(run.p99_us, 1570.0);
        assert_eq!(run.max_us, 12030.0);
        assert_eq!(run.requests_per_second, 27892.16);
        let failed = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse(&failed).is_err());
        assert_eq!(duration_us("2.00s").unwrap(), 2e6);
    }
}
