//! Real TCP traffic for the kernel tests and the benchmark, run as separate processes inside a
//! workload's cgroup and network namespace (`meshtwin-traffic`): an echo server, an echo client
//! that checks every byte it gets back, and a request/response client that measures round
//! trips.

use std::{
    io::{self, BufRead as _, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    time::{Duration, Instant},
};

/// Echoes every connection until the client closes its side; `slow` sleeps before each read
/// (a slow reader). One thread per connection; runs until killed.
pub fn echo_server(listen: SocketAddr, slow: Option<Duration>) -> io::Result<()> {
    let listener = TcpListener::bind(listen)?;
    println!("listening {}", listener.local_addr()?);
    io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = echo(stream, slow);
        });
    }
    Ok(())
}

fn echo(mut stream: TcpStream, slow: Option<Duration>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if let Some(pause) = slow {
            std::thread::sleep(pause);
        }
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            // Half-close: the client is done sending; answer its FIN with ours.
            return stream.shutdown(std::net::Shutdown::Write);
        }
        stream.write_all(&buffer[..n])?;
    }
}

/// What the echo client sends.
#[derive(Clone, Debug)]
pub struct EchoPlan {
    pub connect: SocketAddr,
    pub source_port: Option<u16>,
    pub connections: usize,
    pub messages: usize,
    pub min_size: usize,
    pub max_size: usize,
    pub seed: u64,
    /// Close with RST (SO_LINGER 0): no TIME_WAIT, so the 4-tuple can be reused at once.
    pub reset: bool,
    /// Print "connected", wait for a line on stdin, exchange, print the result, wait for
    /// another line, then close: the caller can read counters around the exchange alone.
    pub handshake: bool,
    /// Half-close after the last message and read the server's FIN.
    pub half_close: bool,
}

/// Deterministic bytes (xorshift) so both ends could regenerate them.
fn fill(buffer: &mut [u8], state: &mut u64) {
    for chunk in buffer.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Connects, sends every message, reads its echo and compares it byte for byte. Returns the
/// bytes sent (and received back) over all connections.
pub fn echo_client(plan: &EchoPlan) -> io::Result<u64> {
    let mut streams = Vec::new();
    for i in 0..plan.connections {
        let stream = connect_from(plan.connect, plan.source_port)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        if plan.reset {
            socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        }
        streams.push((i, stream));
    }
    let stdin = io::stdin();
    if plan.handshake {
        println!("connected {}", streams.len());
        io::stdout().flush()?;
        stdin.lock().read_line(&mut String::new())?;
    }
    let workers: Vec<_> = streams
        .into_iter()
        .map(|(i, stream)| {
            let plan = plan.clone();
            std::thread::spawn(move || exchange(stream, &plan, plan.seed ^ (i as u64 + 1)))
        })
        .collect();
    let mut total = 0;
    let mut kept = Vec::new();
    for worker in workers {
        let (bytes, stream) = worker
            .join()
            .map_err(|_| io::Error::other("an echo connection panicked"))??;
        total += bytes;
        kept.push(stream);
    }
    if plan.handshake {
        println!("exchanged {total}");
        io::stdout().flush()?;
        stdin.lock().read_line(&mut String::new())?;
    }
    drop(kept);
    Ok(total)
}

fn connect_from(to: SocketAddr, source_port: Option<u16>) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if let Some(port) = source_port {
        socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    }
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// One connection: a writer thread sends while this thread reads the echo back, so that a
/// message larger than the socket buffers cannot deadlock.
fn exchange(stream: TcpStream, plan: &EchoPlan, seed: u64) -> io::Result<(u64, TcpStream)> {
    let mut sizes = Vec::with_capacity(plan.messages);
    let mut rng = seed | 1;
    for _ in 0..plan.messages {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let span = (plan.max_size - plan.min_size + 1) as u64;
        sizes.push(plan.min_size + (rng % span) as usize);
    }
    let mut writer = stream.try_clone()?;
    let writer_sizes = sizes.clone();
    let half_close = plan.half_close;
    let sender = std::thread::spawn(move || -> io::Result<()> {
        let mut state = seed;
        for size in writer_sizes {
            let mut message = vec![0u8; size];
            fill(&mut message, &mut state);
            writer.write_all(&message)?;
        }
        if half_close {
            writer.shutdown(std::net::Shutdown::Write)?;
        }
        Ok(())
    });
    let mut reader = stream;
    let mut state = seed;
    let mut total = 0u64;
    for size in sizes {
        let mut expected = vec![0u8; size];
        fill(&mut expected, &mut state);
        let mut got = vec![0u8; size];
        read_exact_retrying(&mut reader, &mut got)?;
        if got != expected {
            let at = got.iter().zip(&expected).position(|(a, b)| a != b);
            return Err(io::Error::other(format!(
                "echo differs from what was sent (message of {size} bytes, first difference at {at:?})"
            )));
        }
        total += size as u64;
    }
    sender
        .join()
        .map_err(|_| io::Error::other("the sender panicked"))??;
    if half_close {
        // The server answers our FIN with its own once it has echoed everything.
        let mut rest = [0u8; 64];
        let extra = read_exact_retrying(&mut reader, &mut rest).err();
        let rest: &[u8] = match extra {
            Some(error) if error.kind() == io::ErrorKind::UnexpectedEof => &[],
            Some(error) => return Err(error),
            None => &rest,
        };
        if !rest.is_empty() {
            return Err(io::Error::other(format!(
                "{} unexpected bytes after the echo",
                rest.len()
            )));
        }
    }
    Ok((total, reader))
}

/// Blocking reads on a socket in a sockmap can return EAGAIN without a timeout: the kernel's
/// sockmap receive path (tcp_bpf_recvmsg) gives up when a wake-up finds no data, as a
/// shutdown(SHUT_WR) of the socket's own writer causes. A non-blocking program retries on
/// EAGAIN anyway; this client does the same, and counts how often it happened.
pub static SPURIOUS_EAGAIN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `read_exact` that retries an EAGAIN coming before the read timeout (20 s) elapsed. On the
/// end of the stream before `buffer` is full it fails with `UnexpectedEof`.
fn read_exact_retrying(stream: &mut TcpStream, buffer: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    let mut since = Instant::now();
    while filled < buffer.len() {
        match stream.read(&mut buffer[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                filled += n;
                since = Instant::now();
            }
            Err(error)
                if error.kind() == io::ErrorKind::WouldBlock
                    && since.elapsed() < Duration::from_secs(19) =>
            {
                SPURIOUS_EAGAIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Round-trip times of a request/response run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RoundTrips {
    pub count: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub per_second: f64,
}

/// Sends `size`-byte requests on one connection and waits for each `size`-byte answer (from
/// the echo server), for `warmup` then `duration`; measures the latter.
pub fn request_response(
    connect: SocketAddr,
    size: usize,
    warmup: Duration,
    duration: Duration,
) -> io::Result<RoundTrips> {
    let mut stream = connect_from(connect, None)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = vec![0x5au8; size];
    let mut response = vec![0u8; size];
    let mut round_trip = |stream: &mut TcpStream| -> io::Result<Duration> {
        let start = Instant::now();
        stream.write_all(&request)?;
        stream.read_exact(&mut response)?;
        Ok(start.elapsed())
    };
    let warm_until = Instant::now() + warmup;
    while Instant::now() < warm_until {
        round_trip(&mut stream)?;
    }
    let mut samples = Vec::with_capacity(200_000);
    let begin = Instant::now();
    while begin.elapsed() < duration {
        samples.push(round_trip(&mut stream)?.as_nanos() as u64);
    }
    let elapsed = begin.elapsed().as_secs_f64();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    Ok(RoundTrips {
        count: samples.len() as u64,
        p50_us: at(0.5),
        p99_us: at(0.99),
        mean_us: samples.iter().sum::<u64>() as f64 / samples.len() as f64 / 1000.0,
        per_second: samples.len() as f64 / elapsed,
    })
}

/// Answers every line of every connection with `name`: a client learns which backend it
/// reached.
pub fn name_server(listen: SocketAddr, name: &str) -> io::Result<()> {
    let listener = TcpListener::bind(listen)?;
    println!("listening {}", listener.local_addr()?);
    io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let name = name.to_string();
        std::thread::spawn(move || -> io::Result<()> {
            let mut writer = stream.try_clone()?;
            for line in io::BufReader::new(stream).lines() {
                line?;
                writeln!(writer, "{name}")?;
            }
            Ok(())
        });
    }
    Ok(())
}

/// Connects (from `source_port` if given), prints `peer <address>` as getpeername answers it,
/// then asks `lines` times and prints `answer <line>` for each.
pub fn ask(connect: SocketAddr, source_port: Option<u16>, lines: usize) -> io::Result<()> {
    let stream = connect_from(connect, source_port)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    println!("peer {}", stream.peer_addr()?);
    let mut writer = stream.try_clone()?;
    let mut reader = io::BufReader::new(stream);
    for _ in 0..lines {
        writer.write_all(b"who\n")?;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        println!("answer {}", line.trim_end());
    }
    io::stdout().flush()
}

/// Writes `heads` (each a request head, possibly with a body), `pause` apart, on one
/// connection, then reads `responses` responses and prints `status <code>` for each.
pub fn http_raw(
    connect: SocketAddr,
    writes: &[Vec<u8>],
    pause: Duration,
    responses: usize,
) -> io::Result<()> {
    let mut stream = connect_from(connect, None)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    for (i, write) in writes.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        stream.write_all(write)?;
    }
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut seen = 0;
    while seen < responses {
        // Parse what is there; read more when a response is incomplete.
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buffer) {
            Ok(httparse::Status::Complete(head)) => {
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    })
                    .unwrap_or(0);
                if buffer.len() >= head + length {
                    println!("status {}", response.code.unwrap_or(0));
                    buffer.drain(..head + length);
                    seen += 1;
                    continue;
                }
            }
            Ok(httparse::Status::Partial) => {}
            Err(error) => return Err(io::Error::other(format!("bad response: {error}"))),
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    io::stdout().flush()
}

/// Mean and median time of `connect()`, over `count` connections closed at once, `pause` apart.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConnectTimes {
    pub count: usize,
    pub mean_us: f64,
    pub p50_us: f64,
}

pub fn connect_times(
    connect: SocketAddr,
    count: usize,
    pause: Duration,
) -> io::Result<ConnectTimes> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        std::thread::sleep(pause);
        let start = Instant::now();
        let stream = TcpStream::connect_timeout(&connect, Duration::from_secs(5))?;
        samples.push(start.elapsed().as_nanos() as u64);
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    }
    samples.sort_unstable();
    Ok(ConnectTimes {
        count,
        mean_us: samples.iter().sum::<u64>() as f64 / count as f64 / 1000.0,
        p50_us: samples[count / 2] as f64 / 1000.0,
    })
}
