//! HTTP visibility: the per-connection state the sk_msg program keeps between messages, and the
//! counters it leaves for the agent (requests by service, method and status class, with
//! request-to-response latency in log2 buckets, and what could not be parsed).

use crate::{
    counting::add,
    http::{
        begin_message, finish_message, parse_message, Direction, LoopState, MessageReport, Method,
        PendingMethods, StreamState, Unparsed, MAX_HEADS_PER_MESSAGE, STREAM_LOST,
    },
    packet::PacketBytes,
    sockets::SockKey,
};

/// Outstanding (pipelined) requests tracked per connection; a power of two.
pub const MAX_PENDING: u32 = 8;
/// Latency buckets: bucket `k < LATENCY_BUCKETS - 1` counts latencies of at most 2^k µs
/// (1 µs .. about 4.2 s); the last bucket counts the rest.
pub const LATENCY_BUCKETS: usize = 24;

/// Key of `HTTP_CONNS`: a connection named from its server's side (IPv4, ports in host order).
/// The client's requests and the server's responses find the same entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpFlowKey {
    pub server_addr: [u8; 4],
    pub client_addr: [u8; 4],
    pub server_port: u16,
    pub client_port: u16,
}

impl HttpFlowKey {
    /// The connection of a client's socket (its remote end is the server).
    #[inline(always)]
    pub const fn of_client(socket: &SockKey) -> Self {
        Self {
            server_addr: socket.remote_addr,
            client_addr: socket.local_addr,
            server_port: socket.remote_port,
            client_port: socket.local_port,
        }
    }

    /// The connection of a server's socket.
    #[inline(always)]
    pub const fn of_server(socket: &SockKey) -> Self {
        Self::of_client(&socket.reversed())
    }
}

/// A request waiting for its response.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingRequest {
    /// `bpf_ktime_get_ns` when its head was sent.
    pub start_ns: u64,
    /// [`Method`] as u8, in a whole word: a struct with padding to clear would be written
    /// with a call to memset in BPF.
    pub method: u64,
}

/// Value of `HTTP_CONNS`. The request direction is written only by the client's sends and the
/// response direction only by the server's: each side owns its stream state and one end of the
/// FIFO of pending requests (`tail` is written by the request side, `head` by the response side),
/// so no lock is needed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpConnection {
    pub requests: StreamState,
    pub responses: StreamState,
    /// The monitored service (its id in `SERVICES`).
    pub service_id: u32,
    /// Requests answered so far.
    pub head: u32,
    /// Requests seen so far.
    pub tail: u32,
    /// Always 0.
    pub pad: u32,
    pub pending: [PendingRequest; MAX_PENDING as usize],
}

impl HttpConnection {
    pub fn new(service_id: u32) -> Self {
        Self {
            service_id,
            ..Self::default()
        }
    }

    /// Records a request; false when `MAX_PENDING` are already outstanding.
    #[inline(always)]
    pub fn push(&mut self, method: u8, start_ns: u64) -> bool {
        if self.tail.wrapping_sub(self.head) >= MAX_PENDING {
            return false;
        }
        let slot = (self.tail & (MAX_PENDING - 1)) as usize;
        self.pending[slot] = PendingRequest {
            start_ns,
            method: method as u64,
        };
        self.tail = self.tail.wrapping_add(1);
        true
    }

    /// The `index`-th outstanding request, oldest first.
    #[inline(always)]
    pub fn peek(&self, index: u32) -> Option<PendingRequest> {
        if index >= self.tail.wrapping_sub(self.head) {
            return None;
        }
        let slot = (self.head.wrapping_add(index) & (MAX_PENDING - 1)) as usize;
        Some(self.pending[slot])
    }

    /// Takes the oldest outstanding request.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<PendingRequest> {
        let request = self.peek(0)?;
        self.head = self.head.wrapping_add(1);
        Some(request)
    }
}

/// Where the outcome of a message goes: counters in the kernel, a list in the tests.
pub trait HttpSink {
    /// A request answered: its method (as u8), the response status, and the time between the
    /// request's head and the response's head.
    fn answered(&mut self, method: u8, status: u16, latency_ns: u64);
    /// A message, or part of one, that was not counted.
    fn unparsed(&mut self, reason: Unparsed);
}

/// A message being parsed, with the parser's loop state: the kernel keeps it in per-CPU scratch
/// memory across the tail calls that parse it chunk by chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    pub parser: LoopState,
    /// The direction's stream state, written back when the message is done.
    pub stream: StreamState,
    pub flow: HttpFlowKey,
    pub service_id: u32,
    pub now_ns: u64,
    /// 1 for a response direction.
    pub response: u32,
    pub pad: u32,
}

impl Observation {
    pub const EMPTY: Observation = Observation {
        parser: LoopState::EMPTY,
        stream: StreamState {
            mode: 0,
            state: 0,
            remaining: 0,
        },
        flow: HttpFlowKey {
            server_addr: [0; 4],
            client_addr: [0; 4],
            server_port: 0,
            client_port: 0,
        },
        service_id: 0,
        now_ns: 0,
        response: 0,
        pad: 0,
    };

    pub fn direction(&self) -> Direction {
        if self.response != 0 {
            Direction::Response
        } else {
            Direction::Request
        }
    }
}

impl HttpConnection {
    /// Parses one whole message of this connection (`window` starts at the message's
    /// [`crate::http::window_start`]) and records what it contained: a request head adds a
    /// pending request, a response head answers the oldest one. The kernel does the same in
    /// steps: [`HttpConnection::begin`], [`crate::http::parse_chunk`] per chunk,
    /// [`HttpConnection::finish`].
    pub fn observe<B, S>(
        &mut self,
        direction: Direction,
        window: &B,
        len: u64,
        now_ns: u64,
        sink: &mut S,
        scratch: &mut Observation,
    ) where
        B: PacketBytes + ?Sized,
        S: HttpSink,
    {
        let mut stream = self.stream(direction);
        let pending = self.pending_for(direction);
        let report = parse_message(
            direction,
            &mut stream,
            window,
            len,
            pending,
            &mut scratch.parser,
        );
        self.set_stream(direction, stream);
        self.apply(direction, &report, &scratch.parser, now_ns, sink);
    }

    /// Starts a message of `len` bytes; true when its window is to be parsed (then
    /// [`crate::http::parse_chunk`] until done, then [`HttpConnection::finish`]), false when
    /// it was handled already.
    #[inline(always)]
    pub fn begin<S: HttpSink>(
        &mut self,
        direction: Direction,
        len: u64,
        now_ns: u64,
        obs: &mut Observation,
        sink: &mut S,
    ) -> bool {
        obs.stream = self.stream(direction);
        obs.response = (direction == Direction::Response) as u32;
        obs.now_ns = now_ns;
        let pending = self.pending_for(direction);
        match begin_message(direction, &mut obs.stream, len, pending, &mut obs.parser) {
            Some(report) => {
                self.set_stream(direction, obs.stream);
                self.apply(direction, &report, &obs.parser, now_ns, sink);
                false
            }
            None => true,
        }
    }

    /// Ends a message whose chunks are parsed.
    #[inline(always)]
    pub fn finish<S: HttpSink>(&mut self, obs: &Observation, sink: &mut S) {
        let direction = obs.direction();
        let mut stream = obs.stream;
        let report = finish_message(&mut stream, &obs.parser);
        self.set_stream(direction, stream);
        self.apply(direction, &report, &obs.parser, obs.now_ns, sink);
    }

    #[inline(always)]
    fn stream(&self, direction: Direction) -> StreamState {
        match direction {
            Direction::Request => self.requests,
            Direction::Response => self.responses,
        }
    }

    #[inline(always)]
    fn set_stream(&mut self, direction: Direction, stream: StreamState) {
        match direction {
            Direction::Request => self.requests = stream,
            Direction::Response => self.responses = stream,
        }
    }

    #[inline(always)]
    fn pending_for(&self, direction: Direction) -> PendingMethods {
        match direction {
            Direction::Request => PendingMethods::NONE,
            Direction::Response => self.pending_methods(),
        }
    }

    #[inline(always)]
    fn apply<S: HttpSink>(
        &mut self,
        direction: Direction,
        report: &MessageReport,
        heads: &LoopState,
        now_ns: u64,
        sink: &mut S,
    ) {
        for i in 0..MAX_HEADS_PER_MESSAGE {
            if i >= report.count as usize {
                break;
            }
            let head = heads.head(i);
            // A request that cannot be queued, or a response that has none to answer, would
            // shift the pairing of every later response: that direction is lost instead.
            match direction {
                Direction::Request => {
                    if !self.push(head.method() as u8, now_ns) {
                        sink.unparsed(Unparsed::TooManyPending);
                        self.requests = lost();
                        break;
                    }
                }
                Direction::Response => match self.pop() {
                    Some(request) => sink.answered(
                        request.method as u8,
                        head.status,
                        now_ns.saturating_sub(request.start_ns),
                    ),
                    None => {
                        sink.unparsed(Unparsed::NoRequest);
                        self.responses = lost();
                        break;
                    }
                },
            }
        }
        if let Some(reason) = Unparsed::from_u32(report.unparsed) {
            sink.unparsed(reason);
        }
    }
}

#[inline(always)]
fn lost() -> StreamState {
    StreamState {
        mode: STREAM_LOST,
        state: 0,
        remaining: 0,
    }
}

impl HttpConnection {
    /// Which of the oldest outstanding requests (as many as one message can answer) are HEAD
    /// or CONNECT requests.
    #[inline(always)]
    pub fn pending_methods(&self) -> PendingMethods {
        let mut methods = PendingMethods::NONE;
        for k in 0..MAX_HEADS_PER_MESSAGE as u32 {
            if let Some(request) = self.peek(k) {
                if request.method == Method::Head as u64 {
                    methods.head |= 1 << k;
                } else if request.method == Method::Connect as u64 {
                    methods.connect |= 1 << k;
                }
            }
        }
        methods
    }
}

/// Key of `HTTP_STATS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpStatsKey {
    pub service_id: u32,
    /// [`Method`] as u8.
    pub method: u8,
    /// First digit of the status code, 1..=5.
    pub status_class: u8,
    /// Always 0.
    pub pad: u16,
}

/// Per-CPU value of `HTTP_STATS`: answered requests and their latency histogram.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpStats {
    pub requests: u64,
    pub latency_sum_ns: u64,
    pub buckets: [u64; LATENCY_BUCKETS],
}

impl HttpStats {
    #[inline(always)]
    pub fn record(&mut self, latency_ns: u64) {
        add(&mut self.requests, 1);
        add(&mut self.latency_sum_ns, latency_ns);
        let bucket = latency_bucket(latency_ns);
        if let Some(count) = self.buckets.get_mut(bucket) {
            add(count, 1);
        }
    }
}

/// Key of `HTTP_UNPARSED`: messages of a service's connections that were not counted, by
/// [`crate::http::Unparsed`] reason.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnparsedKey {
    pub service_id: u32,
    pub reason: u32,
}

/// The status class of a status code (2 for 2xx).
#[inline(always)]
pub fn status_class(status: u16) -> u8 {
    (status / 100) as u8
}

/// The bucket of a latency: the smallest `k` with `latency <= 2^k µs`, or the last bucket.
///
/// Arithmetic without branches (one would split the verifier's paths per bucket) and without
/// leading-zero counts (the BPF target has none): the bit length of `micros - 1` is the
/// population count of the value with every bit below its highest set.
#[inline(always)]
pub fn latency_bucket(latency_ns: u64) -> usize {
    // Whole microseconds, rounded up; 0 ns counts as 1 µs. Not `div_ceil`: it branches.
    #[allow(clippy::manual_div_ceil)]
    let micros = latency_ns / 1000 + ((latency_ns % 1000 + 999) / 1000);
    let mut v = micros.saturating_sub(1);
    v |= v >> 1;
    v |= v >> 2;
    v |= v >> 4;
    v |= v >> 8;
    v |= v >> 16;
    v |= v >> 32;
    // SWAR population count.
    v -= (v >> 1) & 0x5555_5555_5555_5555;
    v = (v & 0x3333_3333_3333_3333) + ((v >> 2) & 0x3333_3333_3333_3333);
    v = (v + (v >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    let bits = (v.wrapping_mul(0x0101_0101_0101_0101) >> 56) as usize;
    if bits < LATENCY_BUCKETS - 1 {
        bits
    } else {
        LATENCY_BUCKETS - 1
    }
}

/// Upper bound of bucket `k` in seconds (`f64::INFINITY` for the last).
pub fn bucket_upper_bound_seconds(k: usize) -> f64 {
    if k + 1 >= LATENCY_BUCKETS {
        f64::INFINITY
    } else {
        (1u64 << k) as f64 * 1e-6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_powers_of_two_microseconds() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1_000), 0);
        assert_eq!(latency_bucket(1_001), 1);
        assert_eq!(latency_bucket(2_000), 1);
        assert_eq!(latency_bucket(2_001), 2);
        assert_eq!(latency_bucket(1_000_000), 10); // 1 ms <= 1024 µs
        assert_eq!(latency_bucket(4_194_304_000), 22);
        assert_eq!(latency_bucket(4_194_304_001), 23);
        assert_eq!(latency_bucket(u64::MAX), 23);
        for k in 0..LATENCY_BUCKETS - 1 {
            let bound_ns = (1u64 << k) * 1000;
            assert_eq!(latency_bucket(bound_ns), k, "at the bound of {k}");
            assert_eq!(latency_bucket(bound_ns + 1), k + 1, "just past {k}");
            assert!(bucket_upper_bound_seconds(k) * 1e9 - bound_ns as f64 <= 1e-3);
        }
    }

    #[test]
    fn pending_requests_are_a_bounded_fifo_across_wraparound() {
        let mut conn = HttpConnection::new(3);
        conn.head = u32::MAX - 2;
        conn.tail = u32::MAX - 2;
        for i in 0..MAX_PENDING {
            assert!(conn.push(Method::Get as u8, i as u64));
        }
        assert!(!conn.push(Method::Post as u8, 99), "the ninth does not fit");
        assert_eq!(conn.peek(7).map(|p| p.start_ns), Some(7));
        assert_eq!(conn.peek(8), None);
        for i in 0..MAX_PENDING {
            assert_eq!(conn.pop().map(|p| p.start_ns), Some(i as u64));
        }
        assert_eq!(conn.pop(), None);
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(100), 1);
        assert_eq!(status_class(204), 2);
        assert_eq!(status_class(599), 5);
    }
}
