//! nginx, the Debian binary unmodified, as a pod's HTTP server: the tests and the benchmark
//! measure the datapath against a real server, not against one of the project's. It runs with
//! a config of our own in a directory under /tmp (pid file, logs, temporary files: the VM
//! guests' root is read-only), inside a pod's network namespace and cgroup, and with `gzip on`
//! as in Debian's default config, so that a client that accepts gzip gets chunked responses.
//!
//! Its access log is the reference the agent's HTTP counts are compared with: one line per
//! request in a format of our own ([`AccessEntry`]). Dropping the value stops nginx and removes
//! its directory.

use std::{
    io,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use crate::{cgroup::CgroupTree, netns::Netns};

/// Where Debian's `nginx` package puts the binary (.ci/setup installs it).
pub const NGINX: &str = "/usr/sbin/nginx";

/// The documents nginx serves: `/index.html` (about 3 KB of text: one chunk once gzipped, the
/// whole response in one write) and `/large.html` (about 200 KB: many chunks over many writes).
pub const INDEX: &str = "/index.html";
pub const LARGE: &str = "/large.html";

/// How to run nginx.
#[derive(Clone, Debug)]
pub struct NginxOptions {
    pub port: u16,
    /// Worker processes (nginx's `worker_processes`).
    pub workers: usize,
    /// Run nginx (and so its workers) with the scheduling policy SCHED_BATCH, whose wake-ups
    /// never preempt the task running (docs/performance.md, "Datapath").
    pub batch: bool,
}

impl Default for NginxOptions {
    /// Port 8080, one worker, SCHED_OTHER.
    fn default() -> Self {
        Self {
            port: 8080,
            workers: 1,
            batch: false,
        }
    }
}

/// One request as nginx logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    pub client: Ipv4Addr,
    pub method: String,
    pub status: u16,
    /// Body bytes sent (chunk framing included).
    pub body_bytes: u64,
    /// nginx's connection serial number, and the request's number on that connection.
    pub connection: u64,
    pub connection_request: u64,
}

pub struct Nginx {
    dir: PathBuf,
    master: Child,
}

impl Nginx {
    /// Starts nginx in `ns` and the child cgroup `cgroup` of `cgroups`, and waits until it
    /// listens on `options.port`.
    pub fn start(
        cgroups: &CgroupTree,
        cgroup: &str,
        ns: &Netns,
        options: &NginxOptions,
    ) -> io::Result<Nginx> {
        if !Path::new(NGINX).exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{NGINX} is missing: install Debian's nginx package (.ci/setup does)"),
            ));
        }
        // Tests run in parallel in one process: each nginx gets a directory of its own.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "meshtwin-nginx-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("www"))?;
        std::fs::write(dir.join("www").join(&INDEX[1..]), document(400))?;
        std::fs::write(dir.join("www").join(&LARGE[1..]), document(30_000))?;
        std::fs::write(dir.join("nginx.conf"), config(&dir, options))?;
        let mut command: Command = cgroups.command(cgroup, NGINX, Some(ns));
        command
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if options.batch {
            crate::sched::batch(&mut command);
        }
        let master = command.spawn()?;
        let mut nginx = Nginx { dir, master };
        nginx.wait_listening(ns, options.port)?;
        Ok(nginx)
    }

    fn wait_listening(&mut self, ns: &Netns, port: u16) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.master.try_wait()? {
                return Err(io::Error::other(format!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
                )));
            }
            if listening(ns, port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "nginx does not listen on port {port} after 30 s: {}",
                    std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every request logged so far, in order.
    pub fn access_log(&self) -> Vec<AccessEntry> {
        let text = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        text.lines()
            .map(|line| {
                parse_entry(line).unwrap_or_else(|| panic!("unexpected access log line {line:?}"))
            })
            .collect()
    }

    /// Voluntary and involuntary context switches of nginx's workers so far (from
    /// /proc/PID/status of the master's children): how often they slept, and how often the
    /// scheduler preempted them.
    pub fn worker_context_switches(&self) -> (u64, u64) {
        let master = self.master.id();
        let mut total = (0, 0);
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return total;
        };
        for process in processes.filter_map(Result::ok) {
            let Some(pid) = process
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let field = |name: &str| -> Option<u64> {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
            };
            if field("PPid:") != Some(u64::from(master)) {
                continue;
            }
            total.0 += field("voluntary_ctxt_switches:").unwrap_or(0);
            total.1 += field("nonvoluntary_ctxt_switches:").unwrap_or(0);
        }
        total
    }

    /// The error log, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: nginx's fast shutdown, which stops the workers too.
        // SAFETY: signalling our own child by its id.
        unsafe { libc::kill(self.master.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.master.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(dir: &Path, options: &NginxOptions) -> String {
    let d = dir.display();
    format!(
        r#"# Written by meshtwin-testbed (testbed/src/nginx.rs).
worker_processes {workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{
    worker_connections 4096;
}}
http {{
    types {{ text/html html; }}
    default_type text/html;
    log_format counts '$remote_addr $request_method $status $body_bytes_sent $connection $connection_requests';
    access_log {d}/access.log counts;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # As in Debian's default nginx.conf: responses to clients that accept gzip are chunked.
    gzip on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server {{
        listen {port} reuseport;
        root {d}/www;
    }}
}}
"#,
        workers = options.workers,
        port = options.port,
    )
}

/// `words` words of text, the same every time (a fixed linear congruential sequence), which
/// gzip shrinks to about a quarter.
fn document(words: usize) -> String {
    const WORDS: [&str; 12] = [
        "mesh", "proxy", "kernel", "socket", "policy", "identity", "service", "latency", "packet",
        "cluster", "sidecar", "node",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut text = String::from("<html><body>\n");
    for i in 0..words {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        text.push_str(WORDS[(state >> 33) as usize % WORDS.len()]);
        text.push(if i % 16 == 15 { '\n' } else { ' ' });
    }
    text.push_str("</body></html>\n");
    text
}

fn parse_entry(line: &str) -> Option<AccessEntry> {
    let mut fields = line.split_whitespace();
    Some(AccessEntry {
        client: fields.next()?.parse().ok()?,
        method: fields.next()?.to_string(),
        status: fields.next()?.parse().ok()?,
        body_bytes: fields.next()?.parse().ok()?,
        connection: fields.next()?.parse().ok()?,
        connection_request: fields.next()?.parse().ok()?,
    })
}

/// Whether a TCP socket listens on `port` in `ns` (/proc/net/tcp as the namespace sees it).
fn listening(ns: &Netns, port: u16) -> bool {
    let text = ns
        .run(|| std::fs::read_to_string("/proc/thread-self/net/tcp"))
        .unwrap_or_default();
    let wanted = format!(":{port:04X}");
    text.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // local_address is "ADDR:PORT" in hex; state 0A is LISTEN.
        fields.len() > 3 && fields[1].ends_with(&wanted) && fields[3] == "0A"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_lines_parse() {
        let entry = parse_entry("10.77.0.2 GET 200 633 3 12").unwrap();
        assert_eq!(entry.client, Ipv4Addr::new(10, 77, 0, 2));
        assert_eq!((entry.status, entry.connection_request), (200, 12));
        assert_eq!(parse_entry("10.77.0.2 GET"), None);
    }

    #[test]
    fn documents_are_deterministic_text() {
        assert_eq!(document(50), document(50));
        assert!(document(400).len() > 2500);
    }
}
