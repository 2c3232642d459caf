//! The generator's loop: one thread, epoll over non-blocking sockets and a timerfd armed at the
//! next intended send time (nanosecond timers; epoll's own timeout is in milliseconds). An
//! arrival takes an idle keep-alive connection of its target, or waits in the target's queue
//! for one (the wait counts in its latency: no coordinated omission), or opens a connection of
//! its own in new-connection mode.

use std::{
    collections::VecDeque,
    fs::File,
    io::{self, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd},
};

use hdrhistogram::Histogram;

use super::{
    arrivals::Schedule,
    http::{parse_response, request},
    report::{Errors, LoadReport, Percentiles},
    LoadError, LoadSpec,
};

/// CLOCK_MONOTONIC in ns: the clock of the timerfd and of every timestamp here.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Idle,
    Writing,
    Reading,
}

struct Connection {
    stream: TcpStream,
    target: usize,
    state: State,
    /// The intended send time (ns since the start) of the request on it.
    intended: Option<u64>,
    written: usize,
    buffer: Vec<u8>,
}

struct Target {
    address: SocketAddr,
    netns: Option<File>,
    request: Vec<u8>,
    idle: Vec<usize>,
    queue: VecDeque<u64>,
}

const TIMER: u64 = u64::MAX;

pub(crate) struct Engine<'a> {
    spec: &'a LoadSpec,
    epoll: OwnedFd,
    timer: OwnedFd,
    targets: Vec<Target>,
    connections: Vec<Option<Connection>>,
    free: Vec<usize>,
    /// The namespace this thread is in now (index of a target's), to setns only on a change.
    current_netns: Option<usize>,
    start_ns: u64,
    window: (u64, u64),
    latency: Histogram<u64>,
    send_lag: Histogram<u64>,
    scheduled: u64,
    completed: u64,
    delivered_in_window: u64,
    answered: u64,
    errors: Errors,
    outstanding: u64,
    queued: u64,
    queued_max: u64,
}

fn check(ret: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if ret < 0 {
        let error = io::Error::last_os_error();
        return Err(io::Error::new(error.kind(), format!("{what}: {error}")));
    }
    Ok(ret)
}

impl<'a> Engine<'a> {
    pub(crate) fn new(spec: &'a LoadSpec) -> Result<Self, LoadError> {
        // SAFETY: plain system calls returning new descriptors, owned at once.
        let epoll = unsafe {
            OwnedFd::from_raw_fd(check(
                libc::epoll_create1(libc::EPOLL_CLOEXEC),
                "epoll_create1",
            )?)
        };
        // SAFETY: as above.
        let timer = unsafe {
            OwnedFd::from_raw_fd(check(
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                ),
                "timerfd_create",
            )?)
        };
        let mut targets = Vec::new();
        for target in &spec.targets {
            let netns = match &target.netns {
                Some(path) => Some(File::open(path).map_err(|error| LoadError::Netns {
                    path: path.clone(),
                    error,
                })?),
                None => None,
            };
            let host = target
                .host
                .clone()
                .unwrap_or_else(|| target.address.to_string());
            targets.push(Target {
                address: target.address,
                netns,
                request: request(
                    &host,
                    &spec.path,
                    spec.body_bytes,
                    spec.new_connection_per_request,
                ),
                idle: Vec::new(),
                queue: VecDeque::new(),
            });
        }
        let histogram = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3);
        let engine = Self {
            spec,
            epoll,
            timer,
            targets,
            connections: Vec::new(),
            free: Vec::new(),
            current_netns: None,
            start_ns: 0,
            window: (0, 0),
            latency: histogram().expect("valid bounds"),
            send_lag: histogram().expect("valid bounds"),
            scheduled: 0,
            completed: 0,
            delivered_in_window: 0,
            answered: 0,
            errors: Errors::default(),
            outstanding: 0,
            queued: 0,
            queued_max: 0,
        };
        engine.register(engine.timer.as_raw_fd(), TIMER, libc::EPOLLIN as u32)?;
        Ok(engine)
    }

    fn register(&self, fd: RawFd, key: u64, events: u32) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: key };
        // SAFETY: adds a live descriptor to our epoll instance.
        check(
            unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) },
            "epoll_ctl",
        )?;
        Ok(())
    }

    /// Enters target `t`'s namespace (if it has one) so that new sockets belong to it.
    fn enter_netns(&mut self, t: usize) -> io::Result<()> {
        if self.current_netns == Some(t) {
            return Ok(());
        }
        if let Some(file) = &self.targets[t].netns {
            // SAFETY: a namespace descriptor and its type; only this thread moves.
            check(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                "setns",
            )?;
            self.current_netns = Some(t);
        }
        Ok(())
    }

    /// Opens a connection to target `t`: blocking for the initial keep-alive pool, otherwise a
    /// non-blocking connect that completes in the loop.
    fn open(&mut self, t: usize, blocking: bool) -> io::Result<usize> {
        self.enter_netns(t)?;
        let address = self.targets[t].address;
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.set_nodelay(true)?;
        if blocking {
            socket.connect_timeout(&address.into(), std::time::Duration::from_secs(5))?;
            socket.set_nonblocking(true)?;
        } else {
            socket.set_nonblocking(true)?;
            match socket.connect(&address.into()) {
                Ok(()) => {}
                Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(error) => return Err(error),
            }
        }
        if self.spec.new_connection_per_request {
            // No TIME_WAIT pile-up over thousands of short connections.
            socket.set_linger(Some(std::time::Duration::ZERO))?;
        }
        let stream: TcpStream = socket.into();
        let index = self.free.pop().unwrap_or_else(|| {
            self.connections.push(None);
            self.connections.len() - 1
        });
        self.register(
            stream.as_raw_fd(),
            index as u64,
            (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        )?;
        self.connections[index] = Some(Connection {
            stream,
            target: t,
            state: if blocking {
                State::Idle
            } else {
                State::Connecting
            },
            intended: None,
            written: 0,
            buffer: Vec::with_capacity(4096),
        });
        Ok(index)
    }

    fn close(&mut self, index: usize) {
        // Dropping the stream closes it, which also removes it from the epoll set.
        self.connections[index] = None;
        self.free.push(index);
    }

    fn in_window(&self, intended: u64) -> bool {
        intended >= self.window.0 && intended < self.window.1
    }

    /// Runs the whole schedule and returns the report.
    pub(crate) fn run(mut self) -> Result<LoadReport, LoadError> {
        let spec = self.spec;
        if !spec.new_connection_per_request {
            for t in 0..self.targets.len() {
                for _ in 0..spec.connections {
                    let index = self.open(t, true).map_err(|error| LoadError::Connect {
                        address: self.targets[t].address,
                        error,
                    })?;
                    self.targets[t].idle.push(index);
                }
            }
        }
        let warmup = spec.warmup.as_nanos() as u64;
        let end = warmup + spec.duration.as_nanos() as u64;
        self.window = (warmup, end);
        let shares: Vec<f64> = spec.targets.iter().map(|t| t.share).collect();
        let mut schedule = Schedule::new(spec.arrivals, spec.rate, &shares, end, spec.seed);
        let drain = spec.drain.as_nanos() as u64;
        let cpu_before = thread_cpu_ns();
        // A little lead so that the first arrival is not already late.
        self.start_ns = now_ns() + 1_000_000;
        let mut armed_for = None;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let spin = spec.spin.as_nanos() as u64;
        loop {
            let now = now_ns().saturating_sub(self.start_ns);
            while let Some(at) = schedule.peek() {
                if at > now {
                    break;
                }
                let (at, t) = schedule.take().expect("peeked");
                if self.in_window(at) {
                    self.scheduled += 1;
                    self.send_lag.saturating_record(now - at);
                }
                self.dispatch(at, t);
            }
            let next = schedule.peek();
            if next.is_none() && (self.outstanding == 0 || now >= end + drain) {
                break;
            }
            let timeout_ms = match next {
                Some(at) if at.saturating_sub(now) < spin => 0,
                Some(at) => {
                    if armed_for != Some(at) {
                        self.arm(self.start_ns + at)?;
                        armed_for = Some(at);
                    }
                    -1
                }
                None => ((end + drain).saturating_sub(now) / 1_000_000 + 1) as i32,
            };
            // SAFETY: epoll_wait fills at most `events.len()` entries of the buffer.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout_ms,
                )
            };
            if n < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(LoadError::Io(error));
            }
            for event in &events[..n as usize] {
                let (key, flags) = (event.u64, event.events);
                if key == TIMER {
                    let mut expirations = [0u8; 8];
                    // SAFETY: reads the 8-byte expiration count of our timerfd.
                    unsafe {
                        libc::read(self.timer.as_raw_fd(), expirations.as_mut_ptr().cast(), 8)
                    };
                    armed_for = None;
                } else {
                    self.on_event(key as usize, flags);
                }
            }
        }
        let cpu_ns = thread_cpu_ns() - cpu_before;
        // Whatever is still waiting or in flight got no answer in time.
        for connection in self.connections.iter().flatten() {
            if let Some(at) = connection.intended {
                if at >= self.window.0 && at < self.window.1 {
                    self.errors.timeout += 1;
                }
            }
        }
        for target in &self.targets {
            self.errors.timeout += target
                .queue
                .iter()
                .filter(|at| **at >= self.window.0 && **at < self.window.1)
                .count() as u64;
        }
        Ok(LoadReport {
            offered_rps: spec.rate,
            arrivals: spec.arrivals,
            connections: if spec.new_connection_per_request {
                0
            } else {
                spec.connections
            },
            new_connection_per_request: spec.new_connection_per_request,
            warmup_s: spec.warmup.as_secs_f64(),
            duration_s: spec.duration.as_secs_f64(),
            cpu: spec.cpu,
            seed: spec.seed,
            scheduled: self.scheduled,
            completed: self.completed,
            answered: self.answered,
            errors: self.errors,
            throughput_rps: self.delivered_in_window as f64 / spec.duration.as_secs_f64(),
            latency_us: Percentiles::of_ns(&self.latency),
            send_lag_us: Percentiles::of_ns(&self.send_lag),
            queued_max: self.queued_max,
            generator_cpu_us_per_request: if self.answered == 0 {
                0.0
            } else {
                cpu_ns as f64 / 1000.0 / self.answered as f64
            },
        })
    }

    fn arm(&self, at_ns: u64) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (at_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (at_ns % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: arms our timerfd at an absolute CLOCK_MONOTONIC time.
        check(
            unsafe {
                libc::timerfd_settime(
                    self.timer.as_raw_fd(),
                    libc::TFD_TIMER_ABSTIME,
                    &spec,
                    std::ptr::null_mut(),
                )
            },
            "timerfd_settime",
        )?;
        Ok(())
    }

    fn dispatch(&mut self, at: u64, t: usize) {
        self.outstanding += 1;
        if self.spec.new_connection_per_request {
            match self.open(t, false) {
                Ok(index) => {
                    let connection = self.connections[index].as_mut().expect("just opened");
                    connection.intended = Some(at);
                }
                Err(_) => self.fail(at, Failure::Connect),
            }
        } else if let Some(index) = self.targets[t].idle.pop() {
            self.send(index, at);
        } else {
            self.targets[t].queue.push_back(at);
            self.queued += 1;
            self.queued_max = self.queued_max.max(self.queued);
        }
    }

    fn send(&mut self, index: usize, at: u64) {
        let connection = self.connections[index].as_mut().expect("live connection");
        connection.intended = Some(at);
        connection.written = 0;
        connection.state = State::Writing;
        self.write(index);
    }

    fn write(&mut self, index: usize) {
        let connection = self.connections[index].as_mut().expect("live connection");
        let request = &self.targets[connection.target].request;
        while connection.written < request.len() {
            match connection.stream.write(&request[connection.written..]) {
                Ok(n) => connection.written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.broken(index, Failure::Io),
            }
        }
        connection.state = State::Reading;
    }

    fn on_event(&mut self, index: usize, flags: u32) {
        let Some(connection) = self.connections.get(index).and_then(Option::as_ref) else {
            return;
        };
        if connection.state == State::Connecting {
            if flags & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32 == 0 {
                return;
            }
            match connection.stream.take_error() {
                Ok(None) => {}
                _ => return self.broken(index, Failure::Connect),
            }
            match connection.intended {
                Some(at) => self.send(index, at),
                None => self.now_idle(index),
            }
            return;
        }
        if connection.state == State::Writing && flags & libc::EPOLLOUT as u32 != 0 {
            self.write(index);
        }
        if flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0
        {
            self.read(index);
        }
    }

    fn read(&mut self, index: usize) {
        let mut chunk = [0u8; 16 * 1024];
        let mut closed = false;
        {
            let connection = self.connections[index].as_mut().expect("live connection");
            loop {
                match connection.stream.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => connection.buffer.extend_from_slice(&chunk[..n]),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
        }
        let connection = self.connections[index].as_mut().expect("live connection");
        if connection.intended.is_some() && !connection.buffer.is_empty() {
            match parse_response(&connection.buffer) {
                Ok(Some(response)) => {
                    connection.buffer.drain(..response.length);
                    let at = connection.intended.take().expect("checked");
                    self.answered(at, response.status);
                    if response.close || closed || self.spec.new_connection_per_request {
                        return self.replace(index);
                    }
                    return self.now_idle(index);
                }
                Ok(None) => {}
                Err(_) => return self.broken(index, Failure::Io),
            }
        }
        if closed {
            self.broken(index, Failure::Io);
        }
    }

    fn answered(&mut self, at: u64, status: u16) {
        self.outstanding -= 1;
        self.answered += 1;
        let now = now_ns().saturating_sub(self.start_ns);
        let ok = (200..300).contains(&status);
        if ok && now >= self.window.0 && now < self.window.1 {
            self.delivered_in_window += 1;
        }
        if self.in_window(at) {
            if ok {
                self.completed += 1;
                self.latency
                    .saturating_record(now.saturating_sub(at).max(1));
            } else {
                self.errors.status += 1;
            }
        }
    }

    fn fail(&mut self, at: u64, failure: Failure) {
        self.outstanding -= 1;
        if self.in_window(at) {
            match failure {
                Failure::Connect => self.errors.connect += 1,
                Failure::Io => self.errors.io += 1,
            }
        }
    }

    /// The connection failed: its request (if any) fails, and a keep-alive connection is
    /// replaced by a new one.
    fn broken(&mut self, index: usize, failure: Failure) {
        let at = self.connections[index]
            .as_mut()
            .and_then(|c| c.intended.take());
        if let Some(at) = at {
            self.fail(at, failure);
        }
        self.replace(index);
    }

    /// Closes the connection; in keep-alive mode opens its replacement (which takes queued
    /// requests once connected).
    fn replace(&mut self, index: usize) {
        let t = self.connections[index]
            .as_ref()
            .expect("live connection")
            .target;
        self.close(index);
        // Retried no further: the requests waiting for it are counted at the end.
        if !self.spec.new_connection_per_request && self.open(t, false).is_err() {
            self.errors.connect += 1;
        }
    }

    fn now_idle(&mut self, index: usize) {
        let connection = self.connections[index].as_mut().expect("live connection");
        connection.state = State::Idle;
        let t = connection.target;
        if let Some(at) = self.targets[t].queue.pop_front() {
            self.queued -= 1;
            self.send(index, at);
        } else {
            self.targets[t].idle.push(index);
        }
    }
}

#[derive(Clone, Copy)]
enum Failure {
    Connect,
    Io,
}
