//! Real TCP and UDP servers and clients inside pods. Servers answer every line (TCP) or datagram
//! (UDP) with their name, so a client learns which backend it reached. Every loop is bounded in
//! time and stops when its server is dropped.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use super::{netns::Netns, topology::Pod};

pub struct Server {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Datagrams received, by source address (UDP servers only).
    pub received_from: Arc<std::sync::Mutex<Vec<Ipv4Addr>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

const POLL: Duration = Duration::from_millis(20);

/// A TCP server on `port` in `pod` that answers each line with `reply`.
pub fn tcp_server(pod: &Pod, port: u16, reply: &str) -> Server {
    tcp_server_in(
        &pod.ns,
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        reply,
    )
}

/// A TCP server on `address` in namespace `ns` that answers each line with `reply`.
pub fn tcp_server_in(ns: &Netns, address: SocketAddr, reply: &str) -> Server {
    let listener = ns
        .run(|| TcpListener::bind(address))
        .unwrap_or_else(|error| panic!("bind tcp {address}: {error}"));
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let stop = Arc::new(AtomicBool::new(false));
    let reply = reply.to_string();
    let stop_accept = stop.clone();
    let accept = std::thread::spawn(move || {
        let mut handlers = Vec::new();
        while !stop_accept.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let reply = reply.clone();
                    let stop = stop_accept.clone();
                    handlers.push(std::thread::spawn(move || {
                        serve_lines(stream, &reply, &stop)
                    }));
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
        for handler in handlers {
            let _ = handler.join();
        }
    });
    Server {
        stop,
        threads: vec![accept],
        received_from: Default::default(),
    }
}

fn serve_lines(stream: TcpStream, reply: &str, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL * 5));
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::SeqCst) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {
                if writer.write_all(format!("{reply}\n").as_bytes()).is_err() {
                    return;
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// A UDP server on `port` in `pod` that answers each datagram with `reply`, and records senders.
pub fn udp_server(pod: &Pod, port: u16, reply: &str) -> Server {
    let socket = pod
        .ns
        .run(|| UdpSocket::bind(("0.0.0.0", port)))
        .unwrap_or_else(|error| panic!("bind udp {port} in {}: {error}", pod.name));
    socket.set_read_timeout(Some(POLL)).expect("udp timeout");
    let stop = Arc::new(AtomicBool::new(false));
    let received_from: Arc<std::sync::Mutex<Vec<Ipv4Addr>>> = Default::default();
    let (stop_loop, received, reply) = (stop.clone(), received_from.clone(), reply.to_string());
    let thread = std::thread::spawn(move || {
        let mut buffer = [0u8; 2048];
        while !stop_loop.load(Ordering::SeqCst) {
            if let Ok((_, SocketAddr::V4(from))) = socket.recv_from(&mut buffer) {
                received.lock().expect("lock").push(*from.ip());
                let _ = socket.send_to(reply.as_bytes(), from);
            }
        }
    });
    Server {
        stop,
        threads: vec![thread],
        received_from,
    }
}

/// A TCP connection from a pod, optionally from a chosen source port.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub local_port: u16,
}

impl Connection {
    /// Sends a line and returns the server's one-line answer.
    pub fn ask(&mut self) -> std::io::Result<String> {
        self.writer.write_all(b"who\n")?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if line.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        Ok(line.trim_end().to_string())
    }
}

/// Connects from `pod` to `to`, from `source_port` if given; fails after `timeout`.
pub fn connect(
    pod: &Pod,
    to: SocketAddrV4,
    source_port: Option<u16>,
    timeout: Duration,
) -> std::io::Result<Connection> {
    let source = source_port.map(|port| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    connect_in(&pod.ns, SocketAddr::V4(to), source, timeout)
}

/// Connects from namespace `ns` to `to`, from `source` if given; fails after `timeout`.
pub fn connect_in(
    ns: &Netns,
    to: SocketAddr,
    source: Option<SocketAddr>,
    timeout: Duration,
) -> std::io::Result<Connection> {
    let stream = ns.run(|| -> std::io::Result<TcpStream> {
        let domain = socket2::Domain::for_address(to);
        let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if let Some(source) = source {
            socket.bind(&source.into())?;
        }
        socket.connect_timeout(&to.into(), timeout)?;
        Ok(socket.into())
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    let local_port = stream.local_addr()?.port();
    Ok(Connection {
        reader: BufReader::new(stream.try_clone()?),
        writer: stream,
        local_port,
    })
}

/// One UDP request from `pod` (from `source_port` if given): the answer, or `None` on timeout.
pub fn udp_ask(
    pod: &Pod,
    to: SocketAddrV4,
    source_port: Option<u16>,
    timeout: Duration,
) -> Option<String> {
    let socket = pod
        .ns
        .run(|| UdpSocket::bind(("0.0.0.0", source_port.unwrap_or(0))))
        .expect("udp client socket");
    socket.set_read_timeout(Some(timeout)).expect("udp timeout");
    socket.send_to(b"who", to).expect("udp send");
    let mut buffer = [0u8; 256];
    match socket.recv_from(&mut buffer) {
        Ok((n, _)) => Some(String::from_utf8_lossy(&buffer[..n]).into_owned()),
        Err(_) => None,
    }
}

/// Sends UDP datagrams from `pod` to `to` every millisecond until dropped; counts them.
pub struct Flood {
    stop: Arc<AtomicBool>,
    pub sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Flood {
    pub fn start(pod: &Pod, to: SocketAddrV4) -> Self {
        let socket = pod
            .ns
            .run(|| UdpSocket::bind("0.0.0.0:0"))
            .expect("flood socket");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop_loop, sent_loop) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: at most 60 s of traffic even if the test forgets to stop it.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !stop_loop.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                if socket.send_to(b"flood", to).is_ok() {
                    sent_loop.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Self {
            stop,
            sent,
            thread: Some(thread),
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
