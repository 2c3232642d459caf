//! Runs `sim` on one file the way a user would (`check`, the capacity model alone, a short run
//! with latency) under a wall-clock limit and an address-space limit, and holds each outcome
//! to the invariant: exit 0 with finite, in-range figures, or exit 2 with a located, non-empty
//! message; never a panic, an abort, a hang or an allocation past the budget.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The address space a `sim` process may take: the 4 GiB budget of its data
/// (`sim::estimate::MEMORY_BUDGET_BYTES`) and what the process reserves besides (binary,
/// thread stacks, allocator arenas). An allocation past it fails and aborts the process,
/// which this harness reports.
pub const ADDRESS_SPACE_BYTES: u64 = 6 << 30;
/// How long one command may run without having announced a long run: a run expected to
/// take more than 5 s says so first (`sim::estimate::ANNOUNCE_AFTER_SECONDS`), so one that
/// runs this long unannounced hangs, or its estimate is wrong.
pub const UNANNOUNCED_LIMIT: Duration = Duration::from_secs(30);

/// The commands each file goes through.
pub const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["run", "--no-latency", "--format", "json"],
    &["run", "--no-latency", "--format", "table"],
    &[
        "run",
        "--format",
        "json",
        "--duration",
        "0.05",
        "--threads",
        "1",
    ],
];

/// How a command ended, when it broke the invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub command: String,
    pub kind: &'static str,
    pub detail: String,
}

/// How a command kept the invariant.
pub const FIGURES: &str = "exit 0, figures in range";
pub const LOCATED: &str = "exit 2, located error";
pub const ANNOUNCED: &str = "announced a long run (stopped)";

/// What one command did: how it kept the invariant, or how it broke it.
pub fn check(
    sim: &Path,
    dir: &Path,
    file: &str,
    command: &[&str],
) -> Result<&'static str, Violation> {
    match run(sim, dir, file, command) {
        Some(v) => Err(v),
        None => Ok(OUTCOME.with(|o| o.get())),
    }
}

thread_local! {
    static OUTCOME: std::cell::Cell<&'static str> = const { std::cell::Cell::new(FIGURES) };
}

fn kept(outcome: &'static str) -> Option<Violation> {
    OUTCOME.with(|o| o.set(outcome));
    None
}

fn run(sim: &Path, dir: &Path, file: &str, command: &[&str]) -> Option<Violation> {
    let mut args: Vec<&str> = command.to_vec();
    args.insert(1, file);
    let shown = format!("sim {}", args.join(" "));
    let violation = |kind: &'static str, detail: String| {
        Some(Violation {
            command: shown.clone(),
            kind,
            detail,
        })
    };
    let mut child = Command::new(sim);
    child
        .current_dir(dir)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    limit_address_space(&mut child);
    let mut child = child.spawn().expect("sim starts");
    let out = drain(child.stdout.take().expect("piped"));
    let err = drain(child.stderr.take().expect("piped"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for sim") {
            break Some(status);
        }
        let stderr_so_far = err.peek();
        // A long run it announced is as good as done: the estimate is what it promised.
        if stderr_so_far.contains("estimated") {
            let _ = child.kill();
            let _ = child.wait();
            return kept(ANNOUNCED);
        }
        if started.elapsed() > UNANNOUNCED_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.finish();
    let stderr = err.finish();
    let Some(status) = status else {
        return violation(
            "hang",
            format!("still running after {UNANNOUNCED_LIMIT:?} without an estimate\n{stderr}"),
        );
    };
    if let Some(signal) = status.signal() {
        return violation("crash", format!("killed by signal {signal}\n{stderr}"));
    }
    if stderr.contains("panicked") || stderr.contains("memory allocation of") {
        return violation("crash", stderr);
    }
    match status.code() {
        Some(0) => match figures_in_range(&args, &stdout, &stderr) {
            Some(d) => violation("nonsense", d),
            None => kept(FIGURES),
        },
        Some(2) => match located(file, &stderr) {
            Some(d) => violation("unlocated", d),
            None => kept(LOCATED),
        },
        code => violation("exit", format!("exit code {code:?}\n{stderr}")),
    }
}

/// An exit-2 message: every `error:` line names the file and a line and column, or the file
/// and what to change (a whole-run problem names its keys); none is empty.
fn located(file: &str, stderr: &str) -> Option<String> {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    if errors.is_empty() {
        return Some(format!("no `error:` line\n{stderr}"));
    }
    for line in errors {
        let rest = &line["error: ".len()..];
        // `name:line:column: message` or `name: message`, the name being the file or a file
        // it names (a histogram).
        let Some((place, message)) = split_place(rest) else {
            return Some(format!("no place: {line}"));
        };
        if message.trim().is_empty() {
            return Some(format!("empty message: {line}"));
        }
        let has_line = place.matches(':').count() >= 2;
        let names_a_key = [
            "cluster.",
            "traffic.",
            "latency.",
            "mesh.",
            "[models.",
            "--param",
            "service",
            "histogram",
            "proxies",
        ]
        .iter()
        .any(|k| message.contains(k));
        if !(has_line || place == file && names_a_key) {
            return Some(format!("not located: {line}"));
        }
    }
    None
}

/// `file:3:7` and the message after it, or `file` and the message.
fn split_place(rest: &str) -> Option<(&str, &str)> {
    // The message starts after the first `: ` that follows the place.
    let end = rest.find(": ")?;
    Some((&rest[..end], &rest[end + 2..]))
}

/// An exit-0 output: JSON whose numbers are finite and not negative, with `null` only where
/// the format says (a latency past the histograms' range or not measured, no profile, no
/// tipping point); a table without `NaN`, `inf` or `null`.
fn figures_in_range(args: &[&str], stdout: &str, stderr: &str) -> Option<String> {
    if args[0] == "check" {
        return (!stdout.contains(": ok (")).then(|| format!("check said: {stdout}{stderr}"));
    }
    if args.contains(&"table") {
        let bad = ["NaN", "inf", "null", "18447 PB"];
        return bad
            .iter()
            .find(|b| stdout.contains(*b))
            .map(|b| format!("the table shows `{b}`\n{stdout}"));
    }
    let value: serde_json::Value = match serde_json::from_str(stdout) {
        Ok(v) => v,
        Err(e) => return Some(format!("not JSON ({e})\n{stdout}")),
    };
    let mut problems = Vec::new();
    walk(&value, "", &mut problems);
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// Keys whose value may be `null`.
const NULLABLE: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p999",
    "mean",
    "latency_us",
    "added_latency_us",
    "hop_latency_us",
    "added_hop_latency_us",
    // No entry hop when requests start in their pods; no service hop without calls.
    "entry_hop_latency_us",
    "added_entry_hop_latency_us",
    "service_hop_latency_us",
    "added_service_hop_latency_us",
    "profile",
    "tipping_point",
];

fn walk(value: &serde_json::Value, path: &str, problems: &mut Vec<String>) {
    use serde_json::Value as J;
    let key = path.rsplit('.').next().unwrap_or("");
    match value {
        J::Null if !NULLABLE.contains(&key) => problems.push(format!("{path} is null")),
        J::Number(n) => match n.as_f64() {
            Some(v) if v.is_finite() && v >= 0.0 => {}
            other => problems.push(format!("{path} = {other:?}")),
        },
        J::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), problems);
            }
        }
        J::Object(map) => {
            for (k, v) in map {
                walk(v, &format!("{path}.{k}"), problems);
            }
        }
        _ => {}
    }
}

/// The output of a pipe, read on a thread so that a full pipe never stalls the child.
struct Drain {
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    thread: std::thread::JoinHandle<()>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> Drain {
    let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = text.clone();
    let thread = std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        // Keep at most 1 MB: a runaway output is a finding, not a reason to run out of memory.
        while let Ok(n) = pipe.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let mut text = sink.lock().unwrap();
            if text.len() < 1 << 20 {
                text.extend_from_slice(&buffer[..n]);
            }
        }
    });
    Drain { text, thread }
}

impl Drain {
    fn peek(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    fn finish(self) -> String {
        let _ = self.thread.join();
        let text = self.text.lock().unwrap();
        String::from_utf8_lossy(&text).into_owned()
    }
}

fn limit_address_space(command: &mut Command) {
    // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe and touches
    // no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE_BYTES,
                rlim_max: ADDRESS_SPACE_BYTES,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
