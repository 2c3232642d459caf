//! `meshtwin-node-proxy measure-tls`: what TLS itself costs this proxy's CPU, apart from
//! sockets and the kernel. A client and a server connection with the proxy's own configuration
//! (TLS 1.3, ring, ECDSA P-256 identity certificates from a throwaway CA, client certificates
//! required) talk through memory: full handshakes, then records of 16 KiB one way. The
//! datapath benchmark (`meshtwin-testbed bench --sections mtls`) runs it beside its
//! measurements through real sockets, where TLS's share per byte is lost in the copying.

use std::{io::Read as _, io::Write as _, time::Duration};

use anyhow::{Context as _, Result};
use rustls::{ClientConnection, ServerConnection};
use serde_json::json;

use super::{ca, spiffe::TrustDomain, store::Certificates};

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid; clock_gettime writes it.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Moves every pending TLS byte from one side to the other until neither has any.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<()> {
    let mut wire = Vec::new();
    loop {
        let mut moved = false;
        while client.wants_write() {
            wire.clear();
            client.write_tls(&mut wire)?;
            let mut slice = &wire[..];
            while !slice.is_empty() {
                server.read_tls(&mut slice)?;
                server.process_new_packets()?;
            }
            moved = true;
        }
        while server.wants_write() {
            wire.clear();
            server.write_tls(&mut wire)?;
            let mut slice = &wire[..];
            while !slice.is_empty() {
                client.read_tls(&mut slice)?;
                client.process_new_packets()?;
            }
            moved = true;
        }
        if !moved {
            return Ok(());
        }
    }
}

pub fn run(handshakes: usize, megabytes: usize) -> Result<()> {
    let work = std::env::temp_dir().join(format!("meshtwin-measure-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let trust_domain = TrustDomain::parse("measure.test").map_err(anyhow::Error::msg)?;
    ca::init(&work.join("ca"), &trust_domain, Duration::from_secs(3600))?;
    let request = ca::Issue {
        identities: &[(1, "client".into()), (2, "server".into())],
        valid_for: Duration::from_secs(3600),
        backdate: Duration::ZERO,
    };
    ca::issue(&work.join("ca"), &work.join("node"), &request)?;
    let certificates = Certificates::load(&work.join("node"))?;
    let _ = std::fs::remove_dir_all(&work);
    let client_config = certificates.client(1).context("no client certificate")?;
    let server_config = certificates.server();
    let name = rustls::pki_types::ServerName::try_from(trust_domain.server_name(2))?;
    let connect = || -> Result<(ClientConnection, ServerConnection)> {
        let mut client = ClientConnection::new(client_config.clone(), name.clone())?;
        let mut server = ServerConnection::new(server_config.clone())?;
        pump(&mut client, &mut server)?;
        anyhow::ensure!(!client.is_handshaking() && !server.is_handshaking());
        Ok((client, server))
    };

    let start = thread_cpu();
    for _ in 0..handshakes {
        connect()?;
    }
    let handshake_us = (thread_cpu() - start).as_secs_f64() * 1e6 / handshakes as f64;

    let (mut client, mut server) = connect()?;
    let record = vec![0x5a_u8; 16 * 1024];
    let mut received = vec![0u8; record.len()];
    let total = megabytes * 1024 * 1024;
    let start = thread_cpu();
    let mut sent = 0;
    let mut wire = Vec::with_capacity(record.len() + 64);
    while sent < total {
        client.writer().write_all(&record)?;
        wire.clear();
        while client.wants_write() {
            client.write_tls(&mut wire)?;
        }
        let mut slice = &wire[..];
        while !slice.is_empty() {
            server.read_tls(&mut slice)?;
            server.process_new_packets()?;
        }
        server.reader().read_exact(&mut received)?;
        sent += record.len();
    }
    // Sealing at one end and opening at the other: both ends' work per byte.
    let both_ends_ns_per_byte = (thread_cpu() - start).as_secs_f64() * 1e9 / sent as f64;
    let report = json!({
        "handshakes": handshakes,
        "handshake_cpu_us_both_ends": handshake_us,
        "bytes": sent,
        "record_cpu_ns_per_byte_both_ends": both_ends_ns_per_byte,
        "record_cpu_ns_per_byte_per_end": both_ends_ns_per_byte / 2.0,
        "cipher_suite": format!("{:?}", client.negotiated_cipher_suite().map(|s| s.suite())),
    });
    println!("{report}");
    std::io::stdout().flush()?;
    Ok(())
}
