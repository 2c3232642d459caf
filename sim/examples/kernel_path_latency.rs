//! Measures the kernel path costs the latency model uses (`models/kernel.toml`): TCP
//! request/response round trips of 1 KiB over loopback, over a veth pair between two network
//! namespaces this program creates (and removes), and over loopback through an iptables
//! REDIRECT rule (when iptables is installed). Needs root for the namespaces and iptables.
//!
//!     cargo run --release -p sim --example kernel_path_latency [ROUND_TRIPS]
//!
//! Reported: p50 and mean round-trip time; the model's one-way costs are derived from them as
//! documented in models/kernel.toml.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Instant;

const PAYLOAD: usize = 1024;

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Enters a network namespace created by `ip netns add` (this thread only).
fn enter_netns(name: &str) {
    let f = std::fs::File::open(format!("/run/netns/{name}")).expect("netns exists");
    // SAFETY: setns on a valid namespace file descriptor affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {name}");
}

fn serve(listener: TcpListener) {
    let (mut s, _) = listener.accept().expect("accept");
    s.set_nodelay(true).unwrap();
    let mut buf = [0u8; PAYLOAD];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            break;
        }
    }
}

fn round_trips(addr: &str, n: usize) -> (f64, f64) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    let mut buf = [7u8; PAYLOAD];
    let mut rtts: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n + 1000 {
        let t = Instant::now();
        s.write_all(&buf).unwrap();
        s.read_exact(&mut buf).unwrap();
        if i >= 1000 {
            rtts.push(t.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    rtts.sort_by(f64::total_cmp);
    (rtts[n / 2], rtts.iter().sum::<f64>() / n as f64)
}

struct Namespaces;

impl Drop for Namespaces {
    fn drop(&mut self) {
        run("ip", &["netns", "del", "mtlat-a"]);
        run("ip", &["netns", "del", "mtlat-b"]);
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    println!("TCP request/response, {PAYLOAD} B, {n} round trips, TCP_NODELAY");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || serve(listener));
    let (p50, mean) = round_trips(&addr, n);
    server.join().unwrap();
    println!("loopback:            p50 {p50:6.2} µs  mean {mean:6.2} µs");

    let _cleanup = Namespaces;
    let setup = [
        vec!["netns", "add", "mtlat-a"],
        vec!["netns", "add", "mtlat-b"],
        vec![
            "link", "add", "mtlat0", "netns", "mtlat-a", "type", "veth", "peer", "name", "mtlat1",
            "netns", "mtlat-b",
        ],
        vec![
            "-n",
            "mtlat-a",
            "addr",
            "add",
            "10.250.0.1/24",
            "dev",
            "mtlat0",
        ],
        vec![
            "-n",
            "mtlat-b",
            "addr",
            "add",
            "10.250.0.2/24",
            "dev",
            "mtlat1",
        ],
        vec!["-n", "mtlat-a", "link", "set", "mtlat0", "up"],
        vec!["-n", "mtlat-b", "link", "set", "mtlat1", "up"],
    ];
    if setup.iter().all(|args| run("ip", args)) {
        let server = std::thread::spawn(|| {
            enter_netns("mtlat-b");
            serve(TcpListener::bind("10.250.0.2:7000").unwrap())
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let client = std::thread::spawn(move || {
            enter_netns("mtlat-a");
            round_trips("10.250.0.2:7000", n)
        });
        let (p50, mean) = client.join().unwrap();
        server.join().unwrap();
        println!("veth (two netns):    p50 {p50:6.2} µs  mean {mean:6.2} µs");
    } else {
        println!("veth: skipped (creating network namespaces needs root and iproute2)");
    }

    // iptables REDIRECT on loopback, inside a namespace of our own so the host's rules are
    // untouched: the client dials port 7100, netfilter redirects it to 7200.
    let ipt = [
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "--dport",
        "7100",
        "-j",
        "REDIRECT",
        "--to-ports",
        "7200",
    ];
    let mut args = vec!["netns", "exec", "mtlat-a", "iptables"];
    args.extend(ipt);
    if run("ip", &["-n", "mtlat-a", "link", "set", "lo", "up"]) && run("ip", &args) {
        let server = std::thread::spawn(|| {
            enter_netns("mtlat-a");
            serve(TcpListener::bind("127.0.0.1:7200").unwrap())
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let client = std::thread::spawn(move || {
            enter_netns("mtlat-a");
            round_trips("127.0.0.1:7100", n)
        });
        let (p50, mean) = client.join().unwrap();
        server.join().unwrap();
        println!("loopback + REDIRECT: p50 {p50:6.2} µs  mean {mean:6.2} µs");
    } else {
        println!("iptables REDIRECT: skipped (needs root and iptables)");
    }
}
