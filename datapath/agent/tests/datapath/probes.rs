//! Reading the kernel's side directly, to check what the agent claims.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    path::Path,
    process::Child,
    time::{Duration, Instant},
};

use meshtwin_datapath_common::policy::{IdentityPair, PolicyCounters};
use meshtwin_datapath_pins::{PinDir, PinnedMaps};

use crate::support::netns::Netns;

pub fn maps(bpffs_dir: &Path) -> PinnedMaps {
    PinnedMaps::open(&PinDir::new(bpffs_dir)).expect("open the pinned maps")
}

/// Policy counters of one identity pair, summed over CPUs.
pub fn policy_counters(bpffs_dir: &Path, src: u32, dst: u32) -> PolicyCounters {
    let maps = maps(bpffs_dir);
    let pair = IdentityPair {
        src_identity: src,
        dst_identity: dst,
    };
    let mut total = PolicyCounters::default();
    if let Ok(per_cpu) = maps.policy_counts.get(&pair, 0) {
        for c in per_cpu.iter() {
            total.passed_packets += c.passed_packets;
            total.passed_bytes += c.passed_bytes;
            total.dropped_packets += c.dropped_packets;
            total.dropped_bytes += c.dropped_bytes;
        }
    }
    total
}

/// Whether a BPF object with this id still exists (BPF_PROG_GET_FD_BY_ID = 13,
/// BPF_LINK_GET_FD_BY_ID = 30).
fn object_exists(command: libc::c_long, id: u32) -> bool {
    let attr = [id as u64, 0, 0, 0];
    // SAFETY: a zero-padded bpf_attr whose first field is the id.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd >= 0 {
        // SAFETY: a descriptor we just got.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    false
}

/// Waits (up to 5 s: objects are freed after an RCU grace period) until the program and link
/// ids are gone from the kernel; returns those still there.
pub fn wait_until_gone(program_ids: &[u32], link_ids: &[u32]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut left: Vec<String> = program_ids
            .iter()
            .filter(|id| object_exists(13, **id))
            .map(|id| format!("program {id}"))
            .collect();
        left.extend(
            link_ids
                .iter()
                .filter(|id| object_exists(30, **id))
                .map(|id| format!("link {id}")),
        );
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `(link ids, program ids)` from `meshtwin-agent status` output.
pub fn ids_from_status(status: &str) -> (Vec<u32>, Vec<u32>) {
    let mut links = Vec::new();
    let mut programs = Vec::new();
    for line in status.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            match pair {
                ["link", id] => links.extend(id.parse::<u32>().ok()),
                ["prog", id] => programs.extend(id.parse::<u32>().ok()),
                _ => {}
            }
        }
    }
    (links, programs)
}

/// Reads the agent's stdout until it names its metrics address.
pub fn metrics_address(child: &mut Child) -> (String, BufReader<std::process::ChildStdout>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).expect("read agent stdout") == 0 {
            panic!("meshtwin-agent run exited before serving metrics");
        }
        if let Some(rest) = line.trim().strip_prefix("metrics on http://") {
            let address = rest.trim_end_matches("/metrics").to_string();
            return (address, reader);
        }
    }
    panic!("meshtwin-agent run did not announce its metrics address");
}

/// GET /metrics from inside `ns` (the agent listens on the node namespace's loopback).
pub fn scrape(ns: &Netns, address: &str) -> String {
    ns.run(|| {
        let mut stream = TcpStream::connect(address).expect("connect to the metrics endpoint");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: meshtwin\r\n\r\n")
            .expect("send request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "metrics response: {response}"
        );
        response
    })
}

/// The value of one sample line `name{labels} value` in metrics text.
pub fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<u64>().ok())
}

/// Sends a signal to a child.
pub fn signal(child: &Child, signal: i32) {
    // SAFETY: kill on our own child's pid.
    let ret = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(ret, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Polls `condition` every 50 ms for up to `limit`.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}
