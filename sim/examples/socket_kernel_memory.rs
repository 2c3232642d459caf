//! Measures the kernel memory one idle, established TCP socket costs on this machine: opens
//! `N` loopback connections (2N sockets) and reads the slab growth from /proc/meminfo.
//! The result is `models/kernel.toml`'s `socket_bytes`.
//!
//!     cargo run --release -p sim --example socket_kernel_memory [N]

use std::net::{TcpListener, TcpStream};

fn slab_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo is readable");
    meminfo
        .lines()
        .filter(|l| l.starts_with("Slab:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .sum()
}

fn raise_fd_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read a plain struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(9_000);
    raise_fd_limit(2 * n as u64 + 64);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let before = slab_bytes();
        let mut held = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let client = TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            held.push(client);
            held.push(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let after = slab_bytes();
        rounds.push(after.saturating_sub(before) as f64 / (2 * n) as f64);
        drop(held);
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    rounds.sort_by(f64::total_cmp);
    println!(
        "{} loopback connections ({} sockets), 3 rounds: slab growth per socket {:.0} / {:.0} / {:.0} bytes (median {:.0})",
        n,
        2 * n,
        rounds[0],
        rounds[1],
        rounds[2],
        rounds[1]
    );
}
