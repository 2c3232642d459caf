//! A simple closed-loop HTTP/1.1 client for the tests (the real, open-loop load generator is
//! another part of the testbed): keep-alive POSTs, responses read with httparse.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddrV4, TcpStream},
    time::{Duration, Instant},
};

pub struct LoadResult {
    pub ok: u64,
    pub errors: Vec<String>,
    /// Sorted, in µs.
    pub latencies_us: Vec<u64>,
}

impl LoadResult {
    pub fn percentile(&self, p: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us[rank]
    }
}

/// Sends POSTs of `body_bytes` to `address` one after the other over one connection for
/// `duration` (reconnecting after an error).
pub fn run(address: SocketAddrV4, duration: Duration, body_bytes: usize) -> LoadResult {
    let mut result = LoadResult {
        ok: 0,
        errors: Vec::new(),
        latencies_us: Vec::new(),
    };
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Length: {body_bytes}\r\n\r\n{}",
        "x".repeat(body_bytes)
    );
    let end = Instant::now() + duration;
    let mut connection: Option<TcpStream> = None;
    while Instant::now() < end {
        let start = Instant::now();
        let outcome = (|| -> Result<(), String> {
            if connection.is_none() {
                let stream = TcpStream::connect_timeout(&address.into(), Duration::from_secs(2))
                    .map_err(|e| format!("connect: {e}"))?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .map_err(|e| e.to_string())?;
                connection = Some(stream);
            }
            let stream = connection.as_mut().expect("connected");
            stream
                .write_all(request.as_bytes())
                .map_err(|e| format!("send: {e}"))?;
            read_response(stream)
        })();
        match outcome {
            Ok(()) => {
                result.ok += 1;
                result.latencies_us.push(start.elapsed().as_micros() as u64);
            }
            Err(error) => {
                connection = None;
                result.errors.push(error);
            }
        }
    }
    result.latencies_us.sort_unstable();
    result
}

/// Reads one response with a Content-Length body; an error unless it is 200.
fn read_response(stream: &mut TcpStream) -> Result<(), String> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("connection closed before a response".into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) =
            response.parse(&buffer).map_err(|e| format!("parse: {e}"))?
        else {
            continue;
        };
        let length: usize = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
            .ok_or("no content-length")?;
        let code = response.code.unwrap_or(0);
        while buffer.len() < head + length {
            let n = stream
                .read(&mut chunk)
                .map_err(|e| format!("receive body: {e}"))?;
            if n == 0 {
                return Err("connection closed in a body".into());
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        if code != 200 {
            return Err(format!(
                "status {code}: {}",
                String::from_utf8_lossy(&buffer[head..head + length]).trim()
            ));
        }
        return Ok(());
    }
}
