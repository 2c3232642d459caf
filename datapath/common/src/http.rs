//! HTTP/1.1 message heads recognised in a TCP byte stream that arrives in arbitrary pieces
//! ("messages": what one run of the sk_msg program sees of a `sendmsg`).
//!
//! The same code runs in the kernel and in the user-space tests, so it is bounded: one call
//! reads at most [`READ_BUDGET`] bytes of a message, one byte at a time through
//! [`PacketBytes`] (a bounds-checked read on both sides), in chunks of [`CHUNK`] bytes, each a
//! loop of fixed length. Bodies are skipped, not read: what they cost is arithmetic.
//!
//! It is exact or it says so. Between messages a direction of a connection is at a message
//! boundary, inside a body of known length, inside the framing of a chunked body, or lost. A
//! head is only reported when it is complete and well formed (start line, header lines, empty
//! line, CRLF everywhere); the body is framed by `Transfer-Encoding: chunked` or by
//! `Content-Length` (RFC 9112 sections 6 and 7.1): a chunked body is followed chunk by chunk,
//! its size lines and trailers parsed wherever messages cut them, its data skipped. Whatever
//! the parser cannot follow exactly (a head split across messages, non-HTTP bytes, a
//! close-delimited body or another transfer coding, a head past the read budget) is reported
//! as an [`Unparsed`] reason, and from then on that direction is lost: every later message
//! counts as [`Unparsed::Unsynced`], none is guessed.

use crate::packet::PacketBytes;

/// Bytes the parser reads in one run of its loop. In the kernel each chunk is one run of a
/// program (the next chunk is a tail call), so that the verifier only ever follows a loop of
/// `CHUNK` bytes. A chunk starts where the parser is: after a skipped body, past it.
pub const CHUNK: usize = 64;
/// Chunks read of one message at most. The kernel allows 33 tail calls in a row.
pub const MAX_CHUNKS: u32 = 16;
/// Bytes of one message the parser reads at most (bodies it skips do not count): heads, and
/// the size lines and trailers of chunked bodies.
pub const READ_BUDGET: usize = CHUNK * MAX_CHUNKS as usize;
const _: () = assert!(CHUNK.is_power_of_two() && MAX_CHUNKS < 33);
/// Heads reported from one message (pipelined requests, or responses written together). A
/// power of two.
pub const MAX_HEADS_PER_MESSAGE: usize = 4;
/// Larger `Content-Length` values are taken as not HTTP.
pub const MAX_CONTENT_LENGTH: u64 = 1 << 48;
/// Longest method token accepted.
const MAX_METHOD_LEN: u16 = 16;

/// A request method; registered methods by name, every other token as `Other`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get = 1,
    Head = 2,
    Post = 3,
    Put = 4,
    Delete = 5,
    Connect = 6,
    Options = 7,
    Trace = 8,
    Patch = 9,
    Other = 10,
}

/// Packs up to 8 bytes into a u64, first byte highest, as the parser accumulates a method.
const fn pack(bytes: &[u8]) -> u64 {
    let mut packed = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        packed = (packed << 8) | bytes[i] as u64;
        i += 1;
    }
    packed
}

impl Method {
    pub const ALL: [Method; 10] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
        Method::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other => "OTHER",
        }
    }

    pub const fn from_u8(value: u8) -> Option<Method> {
        Some(match value {
            1 => Method::Get,
            2 => Method::Head,
            3 => Method::Post,
            4 => Method::Put,
            5 => Method::Delete,
            6 => Method::Connect,
            7 => Method::Options,
            8 => Method::Trace,
            9 => Method::Patch,
            10 => Method::Other,
            _ => return None,
        })
    }

    /// The method of a token of `len` bytes whose first (up to 8) bytes are `packed` (first
    /// byte highest), as [`HeadEvent`] has them.
    #[inline(always)]
    pub const fn from_packed(packed: u64, len: u16) -> Method {
        if len > 8 {
            return Method::Other;
        }
        const GET: u64 = pack(b"GET");
        const HEAD: u64 = pack(b"HEAD");
        const POST: u64 = pack(b"POST");
        const PUT: u64 = pack(b"PUT");
        const DELETE: u64 = pack(b"DELETE");
        const CONNECT: u64 = pack(b"CONNECT");
        const OPTIONS: u64 = pack(b"OPTIONS");
        const TRACE: u64 = pack(b"TRACE");
        const PATCH: u64 = pack(b"PATCH");
        // Packing is injective for tokens without NUL bytes of up to 8 bytes.
        match packed {
            GET => Method::Get,
            HEAD => Method::Head,
            POST => Method::Post,
            PUT => Method::Put,
            DELETE => Method::Delete,
            CONNECT => Method::Connect,
            OPTIONS => Method::Options,
            TRACE => Method::Trace,
            PATCH => Method::Patch,
            _ => Method::Other,
        }
    }
}

/// Why (part of) a message was not counted. Each is counted once per message.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unparsed {
    /// At a message boundary, bytes that are not an HTTP/1.x head.
    NotHttp = 1,
    /// The message ended inside a head (a line split across messages).
    Split = 2,
    /// No end of head within the [`READ_BUDGET`] of a message.
    HeadTooLong = 3,
    /// The message goes on past the read budget, or after [`MAX_HEADS_PER_MESSAGE`] heads.
    BeyondWindow = 4,
    /// A close-delimited body, or a transfer coding other than chunked: the head was counted,
    /// what follows cannot be framed.
    UnknownLength = 5,
    /// A protocol switch (101, CONNECT): the head was counted, what follows is not HTTP.
    Upgrade = 6,
    /// A message on a direction that was lost before.
    Unsynced = 7,
    /// A response with no outstanding request seen on its connection.
    NoRequest = 8,
    /// A request beyond the outstanding requests a connection can track.
    TooManyPending = 9,
}

impl Unparsed {
    pub const ALL: [Unparsed; 9] = [
        Unparsed::NotHttp,
        Unparsed::Split,
        Unparsed::HeadTooLong,
        Unparsed::BeyondWindow,
        Unparsed::UnknownLength,
        Unparsed::Upgrade,
        Unparsed::Unsynced,
        Unparsed::NoRequest,
        Unparsed::TooManyPending,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Unparsed::NotHttp => "not_http",
            Unparsed::Split => "split",
            Unparsed::HeadTooLong => "head_too_long",
            Unparsed::BeyondWindow => "beyond_window",
            Unparsed::UnknownLength => "unknown_length",
            Unparsed::Upgrade => "upgrade",
            Unparsed::Unsynced => "unsynced",
            Unparsed::NoRequest => "no_request",
            Unparsed::TooManyPending => "too_many_pending",
        }
    }

    pub const fn from_u32(value: u32) -> Option<Unparsed> {
        Some(match value {
            1 => Unparsed::NotHttp,
            2 => Unparsed::Split,
            3 => Unparsed::HeadTooLong,
            4 => Unparsed::BeyondWindow,
            5 => Unparsed::UnknownLength,
            6 => Unparsed::Upgrade,
            7 => Unparsed::Unsynced,
            8 => Unparsed::NoRequest,
            9 => Unparsed::TooManyPending,
            _ => return None,
        })
    }
}

/// Which way a message goes: client to server carries requests, server to client responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// At a message boundary: the next byte starts a head.
pub const STREAM_AT_BOUNDARY: u32 = 0;
/// Inside a body, or a chunk's data: `remaining` bytes belong to it, then parsing goes on in
/// `state` (0: at a message boundary).
pub const STREAM_IN_BODY: u32 = 1;
/// Framing lost: nothing more is parsed in this direction.
pub const STREAM_LOST: u32 = 2;
/// Inside the framing of a chunked body (a size line, the CRLF after a chunk's data, the
/// trailers): parsing goes on in `state`, with `remaining` holding the size read so far.
pub const STREAM_IN_FRAMING: u32 = 3;

/// One direction of a connection between two messages.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    /// `STREAM_AT_BOUNDARY`, `STREAM_IN_BODY`, `STREAM_LOST` or `STREAM_IN_FRAMING`.
    pub mode: u32,
    /// Where the parser resumes in a chunked body (a state of its automaton), or 0.
    pub state: u32,
    /// Body bytes still to come (`STREAM_IN_BODY`), or the chunk size read so far
    /// (`STREAM_IN_FRAMING`).
    pub remaining: u64,
}

/// A complete head found in a message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadEvent {
    /// A request's method token: its first 8 bytes, first byte highest (see
    /// [`Method::from_packed`]); 0 for a response.
    pub method: u64,
    /// Length of the method token; 0 for a response.
    pub method_len: u16,
    /// Status code of a response; 0 for a request.
    pub status: u16,
    /// 1 for a (final) response, 0 for a request.
    pub is_response: u32,
}

impl HeadEvent {
    pub fn method(&self) -> Method {
        Method::from_packed(self.method, self.method_len)
    }
}

/// What one message contained: how many complete heads ([`LoopState::head`] has them, in
/// order), and why the rest was not parsed. Interim responses (1xx other than 101) are
/// consumed without being reported.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageReport {
    pub count: u32,
    /// An [`Unparsed`] reason as u32, or 0.
    pub unparsed: u32,
}

/// What a response direction must know about the requests its responses answer: bit `k` of
/// `head` (`connect`) is set when the `k`-th outstanding request, oldest first, is a HEAD
/// (CONNECT). A response to HEAD has no body; a 2xx to CONNECT opens a tunnel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingMethods {
    pub head: u8,
    pub connect: u8,
}

impl PendingMethods {
    /// No outstanding request known (and the request direction, which needs none).
    pub const NONE: PendingMethods = PendingMethods {
        head: 0,
        connect: 0,
    };
}

/// Where the window of a message starts: at the end of a body that ends inside the message,
/// else at the message's first byte. The caller hands [`parse_message`] the bytes from there.
#[inline(always)]
pub fn window_start(stream: &StreamState, len: u64) -> u64 {
    if stream.mode == STREAM_IN_BODY && stream.remaining < len {
        stream.remaining
    } else {
        0
    }
}

/// Everything the byte loop of [`parse_message`] carries from one byte to the next, and the
/// heads it found, kept in memory the caller provides: in the kernel, map memory.
///
/// That is for the verifier. Values kept in registers it knows exactly on some paths (a field
/// just reset to 0, a length counted up from it), decides branches from them, must then keep
/// those paths apart, and the number of paths it follows grows with every byte. Values the
/// program reads back from map memory it does not know: with the whole loop state there, and
/// re-read after an optimisation barrier at the end of every byte, the paths of one byte meet
/// at the loop head with nothing that tells them apart. That includes the loop's constants
/// (direction, window length), which would otherwise split every path before the loop.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LoopState {
    heads: [HeadEvent; MAX_HEADS_PER_MESSAGE],
    /// The message: where the window starts in it, and its length.
    start: u64,
    len: u64,
    /// Bytes of the window: the message from `start` on.
    limit: u64,
    /// Offset in the window of the current chunk's first byte.
    chunk_base: u64,
    /// Offset in the window of the next byte.
    offset: u64,
    /// Offset in the window where the current head began.
    head_start: u64,
    /// First bytes of the method token (see `pack`).
    method: u64,
    /// Content-Length of the head, and of the current line.
    length: u64,
    current: u64,
    /// Non-zero when a Content-Length value grew past `MAX_CONTENT_LENGTH`.
    overflow: u64,
    /// All ones once the head has a Content-Length, else 0.
    length_seen: u64,
    /// Non-zero when two Content-Length values differ.
    conflict: u64,
    /// Chunks read of this message.
    chunks: u32,
    /// Always 0.
    pad_chunks: u32,
    /// Heads found.
    count: u32,
    /// Final responses found (the pending request each answers).
    finals: u32,
    /// An [`Unparsed`] reason that stopped the loop, or 0.
    lost: u32,
    method_len: u16,
    status: u16,
    /// 1 for a response direction.
    response: u8,
    /// The direction's start state, where every head begins and ends.
    first_state: u8,
    /// [`PendingMethods`].
    pending_head: u8,
    pending_connect: u8,
    /// The automaton's state; only ever read from its tables.
    state: u8,
    /// The head's Transfer-Encoding values: `ENCODING_OTHER` and `ENCODING_CHUNKED` bits.
    encoding: u8,
    pad: [u8; 6],
}

/// `LoopState::encoding` bit: a Transfer-Encoding value other than exactly "chunked".
const ENCODING_OTHER: u8 = 1;
/// `LoopState::encoding` bit: a Transfer-Encoding value "chunked".
const ENCODING_CHUNKED: u8 = 2;

impl LoopState {
    /// Memory for the loop (its content does not matter: the loop initialises it).
    pub const EMPTY: LoopState = LoopState {
        heads: [HeadEvent {
            method: 0,
            method_len: 0,
            status: 0,
            is_response: 0,
        }; MAX_HEADS_PER_MESSAGE],
        start: 0,
        len: 0,
        limit: 0,
        chunk_base: 0,
        offset: 0,
        head_start: 0,
        method: 0,
        length: 0,
        current: 0,
        overflow: 0,
        length_seen: 0,
        conflict: 0,
        chunks: 0,
        pad_chunks: 0,
        count: 0,
        finals: 0,
        lost: 0,
        method_len: 0,
        status: 0,
        response: 0,
        first_state: 0,
        pending_head: 0,
        pending_connect: 0,
        state: 0,
        encoding: 0,
        pad: [0; 6],
    };

    /// Stops a message whose remaining chunks cannot be parsed (the kernel could not chain to
    /// the next one): what follows is reported as past the read budget.
    pub fn give_up(&mut self) {
        self.lost = Unparsed::BeyondWindow as u32;
    }

    /// The `index`-th head the last [`parse_message`] found (below its report's count).
    #[inline(always)]
    pub fn head(&self, index: usize) -> HeadEvent {
        self.heads[verifier_bound(index, MAX_HEADS_PER_MESSAGE)]
    }
}

/// Size of [`LoopState`], for the kernel's scratch memory.
pub const LOOP_STATE_SIZE: usize = core::mem::size_of::<LoopState>();

/// Parses one message of `len` bytes of `direction`, updating `stream`: [`begin_message`],
/// then [`parse_chunk`] until it says the message is done, then [`finish_message`], as the
/// kernel does it across tail calls.
///
/// `window` holds the message from byte [`window_start`] on; bytes it cannot give are treated
/// as past the read budget.
/// `pending` describes the requests that responses in this message answer; `s` is where the
/// parser keeps its state (see [`LoopState`]), and where the heads found are afterwards.
pub fn parse_message<B: PacketBytes + ?Sized>(
    direction: Direction,
    stream: &mut StreamState,
    window: &B,
    len: u64,
    pending: PendingMethods,
    s: &mut LoopState,
) -> MessageReport {
    if let Some(report) = begin_message(direction, stream, len, pending, s) {
        return report;
    }
    // `parse_chunk` says the message is done after MAX_CHUNKS chunks at the latest.
    for _ in 0..MAX_CHUNKS {
        let chunk = Shifted {
            bytes: window,
            by: s.offset as usize,
        };
        if parse_chunk(s, &chunk) {
            break;
        }
    }
    finish_message(stream, s)
}

/// Bytes from an offset on.
struct Shifted<'a, B: ?Sized> {
    bytes: &'a B,
    by: usize,
}

impl<B: PacketBytes + ?Sized> PacketBytes for Shifted<'_, B> {
    fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        self.bytes.read::<N>(self.by.checked_add(offset)?)
    }
}

/// Starts a message: a report when there is nothing to parse (inside a body, or lost), else
/// `None` and `s` set up for [`parse_chunk`].
#[inline(always)]
pub fn begin_message(
    direction: Direction,
    stream: &mut StreamState,
    len: u64,
    pending: PendingMethods,
    s: &mut LoopState,
) -> Option<MessageReport> {
    let mut report = MessageReport::default();
    s.count = 0;
    let start = window_start(stream, len);
    let first_state = match direction {
        Direction::Request => R_START,
        Direction::Response => S_START,
    };
    // Where the automaton resumes, and the chunk size read so far.
    let (mut resume, mut partial) = (first_state, 0);
    match stream.mode {
        STREAM_AT_BOUNDARY => {}
        STREAM_IN_BODY => {
            if stream.remaining >= len {
                stream.remaining -= len;
                return Some(report);
            }
            if stream.state != 0 {
                resume = stream.state as u8;
            }
        }
        STREAM_IN_FRAMING => {
            resume = stream.state as u8;
            partial = stream.remaining;
        }
        _ => {
            report.unparsed = Unparsed::Unsynced as u32;
            return Some(report);
        }
    }
    *stream = StreamState::default();
    let limit = len - start;
    // Field by field, and each write kept apart: LLVM would merge the writes into one memset,
    // which in BPF is a call to a byte-by-byte loop. (The heads are only read below `count`.)
    for field in [
        &mut s.offset,
        &mut s.chunk_base,
        &mut s.head_start,
        &mut s.method,
        &mut s.length,
        &mut s.current,
        &mut s.overflow,
        &mut s.length_seen,
        &mut s.conflict,
    ] {
        // SAFETY: a valid, aligned reference.
        unsafe { core::ptr::write_volatile(field, 0) };
    }
    for field in [&mut s.count, &mut s.finals, &mut s.lost, &mut s.chunks] {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(field, 0) };
    }
    // SAFETY: as above.
    unsafe {
        core::ptr::write_volatile(&mut s.method_len, 0);
        core::ptr::write_volatile(&mut s.status, 0);
        core::ptr::write_volatile(&mut s.encoding, 0);
    }
    s.start = start;
    s.len = len;
    s.limit = limit;
    s.response = (direction == Direction::Response) as u8;
    s.first_state = first_state;
    s.state = resume;
    s.current = partial;
    s.pending_head = pending.head;
    s.pending_connect = pending.connect;
    None
}

/// Where in the message the next chunk begins: the caller hands [`parse_chunk`] the message's
/// bytes from there (at least `CHUNK` of them, or up to the message's end).
#[inline(always)]
pub fn chunk_offset(s: &LoopState) -> u64 {
    s.start + s.offset
}

/// Parses up to `CHUNK` bytes of the window from [`chunk_offset`]; `bytes` starts there.
/// Returns true when the message is done (then [`finish_message`]), false when the next
/// chunk is to be read.
#[inline(always)]
pub fn parse_chunk<B: PacketBytes + ?Sized>(s: &mut LoopState, bytes: &B) -> bool {
    s.chunk_base = s.offset;
    core::hint::black_box(&mut *s);
    for _ in 0..CHUNK {
        let step = next_byte(s, bytes);
        // Whatever the compiler kept in registers is read again from memory: the paths of
        // this byte meet at the loop head with nothing left that tells them apart.
        core::hint::black_box(&mut *s);
        if step == STEP_STOP {
            return true;
        }
        if step == STEP_CHUNK_END {
            break;
        }
    }
    // The chunk is used up, or a body jumped past it; the message is done when it is all read
    // (or skipped), or the read budget is spent.
    s.chunks += 1;
    s.offset >= s.limit || s.chunks >= MAX_CHUNKS
}

/// Ends a message: why the parsing stopped, and the stream's state for the next message.
#[inline(always)]
pub fn finish_message(stream: &mut StreamState, s: &LoopState) -> MessageReport {
    let report = MessageReport {
        count: s.count,
        unparsed: 0,
    };
    if s.lost != 0 {
        return lose(stream, report, s.lost);
    }
    let pos = s.start + s.offset;
    let framing = s.state >= CH_FIRST;
    if pos > s.len {
        // A body, or a chunk's data, goes on in the next messages: only a skip gets here, and a
        // skip leaves the automaton where the next head, or the chunk's CRLF, starts.
        stream.mode = STREAM_IN_BODY;
        stream.remaining = pos - s.len;
        stream.state = if framing { s.state as u32 } else { 0 };
    } else if pos < s.len {
        // Bytes we did not read: the read budget is spent (or a fifth head came).
        let reason = if s.state == s.first_state || framing || s.head_start != 0 {
            Unparsed::BeyondWindow
        } else {
            Unparsed::HeadTooLong
        };
        return lose(stream, report, reason as u32);
    } else if framing {
        // A chunk's framing that the next message goes on with.
        if s.overflow != 0 {
            return lose(stream, report, Unparsed::NotHttp as u32);
        }
        stream.mode = STREAM_IN_FRAMING;
        stream.state = s.state as u32;
        stream.remaining = s.current;
    } else if s.state != s.first_state {
        return lose(stream, report, Unparsed::Split as u32);
    }
    report
}

const STEP_CONTINUE: u8 = 0;
const STEP_CHUNK_END: u8 = 1;
const STEP_STOP: u8 = 2;

/// One byte of the loop of [`parse_chunk`]: the tables give the next state and an action on
/// the loop state's scalars. Written so that most bytes take one path: checks that need a
/// branch wait for the end of the head where possible.
#[inline(always)]
fn next_byte<B: PacketBytes + ?Sized>(s: &mut LoopState, bytes: &B) -> u8 {
    let offset = s.offset;
    if offset >= s.limit {
        return STEP_STOP;
    }
    // Also a constant bound on the read's offset, which the verifier needs.
    let in_chunk = offset.wrapping_sub(s.chunk_base);
    if in_chunk >= CHUNK as u64 {
        return STEP_CHUNK_END;
    }
    let Some([b]) = bytes.read::<1>(in_chunk as usize) else {
        // Past what the caller could give us: the same as past the window.
        s.lost = Unparsed::BeyondWindow as u32;
        return STEP_STOP;
    };
    s.offset = offset + 1;
    let index = s.state as usize * CLASSES + opaque(&BYTE_CLASS)[b as usize] as usize;
    let automaton = opaque(&AUTOMATON);
    let (Some(&next), Some(&action)) = (automaton.0.get(index), automaton.1.get(index)) else {
        s.lost = Unparsed::NotHttp as u32;
        return STEP_STOP;
    };
    if next == S_INVALID {
        s.lost = Unparsed::NotHttp as u32;
        return STEP_STOP;
    }
    let Some(e) = opaque(&EFFECTS).get(action as usize) else {
        return STEP_CONTINUE;
    };
    // Every action's effect as arithmetic with the coefficients of its row (see `Effects`):
    // one path for every byte, whichever action it has.
    s.state = (next & !e.restart) | (s.first_state & e.restart);
    let digit = (b as u64).wrapping_sub(b'0' as u64);
    let hex = opaque(&HEX_VALUE)[b as usize] as u64;
    s.head_start = (s.head_start & !e.first) | (offset & e.first);
    s.method = ((s.method << 8) & e.keep_method) & e.method
        | (s.method & !e.method)
        | (b as u64 & e.method);
    s.method_len = (s.method_len & e.keep_method as u16) + (e.method & 1) as u16;
    s.status = (s.status as u64 * e.status_times + (digit & e.status_digit)) as u16;
    s.current = s
        .current
        .wrapping_mul(e.current_times)
        .wrapping_add(digit & e.current_digit)
        .wrapping_add(hex & e.current_hex);
    s.overflow = (s.overflow & !e.first & !e.size_start)
        | ((s.current >> 48) & (e.current_digit | e.current_hex));
    // The LF of a chunk's size line: its data is skipped.
    s.offset += s.current & e.skip_data;
    s.conflict = (s.conflict & !e.first) | (s.length_seen & (s.length ^ s.current) & e.length_end);
    s.length = (s.length & !e.length_end & !e.first) | (s.current & e.length_end);
    s.length_seen = (s.length_seen & !e.first) | e.length_end;
    s.encoding = (s.encoding & !e.first as u8) | e.encoding;
    if action == A_DONE && s.head_done() {
        return STEP_STOP;
    }
    if action == A_CHUNK_DATA && s.overflow != 0 {
        // A chunk larger than any Content-Length we accept: not HTTP we can follow.
        s.lost = Unparsed::NotHttp as u32;
        return STEP_STOP;
    }
    STEP_CONTINUE
}

/// What an action does, as coefficients: a field keeps its value where a mask is 0 and takes
/// the action's value where it is all ones.
#[repr(C)]
#[derive(Clone, Copy)]
struct Effects {
    /// All ones on a head's first byte: forget the previous head.
    first: u64,
    /// All ones where the byte goes into the method token.
    method: u64,
    /// All ones where the method token goes on (not on its first byte).
    keep_method: u64,
    /// The status is multiplied by this, plus the digit where `status_digit` is all ones.
    status_times: u64,
    status_digit: u64,
    /// As for the status, for the current Content-Length value (decimal digits) or chunk size
    /// (hexadecimal digits).
    current_times: u64,
    current_digit: u64,
    current_hex: u64,
    /// All ones on the first digit of a chunk size: forget an overflow of the previous one.
    size_start: u64,
    /// All ones on the LF after a chunk size: skip the chunk's data.
    skip_data: u64,
    /// All ones on the CR after a Content-Length value.
    length_end: u64,
    /// Bits ORed into `encoding` on the CR after a Transfer-Encoding value.
    encoding: u8,
    /// All ones where the automaton goes back to the direction's start state (the end of a
    /// chunked body), which the tables cannot name: they are shared by both directions.
    restart: u8,
    pad: [u8; 6],
}

const fn effects(action: u8) -> Effects {
    const ALL: u64 = u64::MAX;
    let mut e = Effects {
        first: 0,
        method: 0,
        keep_method: ALL,
        status_times: 1,
        status_digit: 0,
        current_times: 1,
        current_digit: 0,
        current_hex: 0,
        size_start: 0,
        skip_data: 0,
        length_end: 0,
        encoding: 0,
        restart: 0,
        pad: [0; 6],
    };
    match action {
        A_FIRST => {
            e.first = ALL;
            e.method = ALL;
            e.keep_method = 0;
            e.status_times = 0;
        }
        A_METHOD => e.method = ALL,
        A_STATUS => {
            e.status_times = 10;
            e.status_digit = ALL;
        }
        A_LENGTH_START => e.current_times = 0,
        A_LENGTH_DIGIT => {
            e.current_times = 10;
            e.current_digit = ALL;
        }
        A_LENGTH_END => e.length_end = ALL,
        A_ENCODING_OTHER => e.encoding = ENCODING_OTHER,
        A_ENCODING_CHUNKED => e.encoding = ENCODING_CHUNKED,
        A_SIZE_FIRST => {
            e.current_times = 0;
            e.current_hex = ALL;
            e.size_start = ALL;
        }
        A_SIZE_DIGIT => {
            e.current_times = 16;
            e.current_hex = ALL;
        }
        A_CHUNK_DATA => e.skip_data = ALL,
        A_BODY_END => e.restart = u8::MAX,
        _ => {}
    }
    e
}

const ACTIONS: usize = A_BODY_END as usize + 1;

static EFFECTS: [Effects; ACTIONS] = {
    let mut table = [effects(A_NONE); ACTIONS];
    let mut action = 0;
    while action < ACTIONS {
        table[action] = effects(action as u8);
        action += 1;
    }
    table
};

impl LoopState {
    /// A head is complete: check what waited for its end, record it, and find where the next
    /// one starts. True to stop. Its decisions are table lookups, for the verifier's sake.
    #[inline(always)]
    fn head_done(&mut self) -> bool {
        // Method longer than allowed, Content-Length too large or given twice differently.
        let too_long = (MAX_METHOD_LEN.wrapping_sub(self.method_len) >> 15) as u64;
        let kind = if self.response == 0 {
            KIND_REQUEST
        } else {
            opaque(&STATUS_KIND)[verifier_bound(self.status as usize, STATUS_KIND.len())]
        };
        if self.overflow | self.conflict | too_long != 0 || kind == KIND_INVALID {
            self.lost = Unparsed::NotHttp as u32;
            return true;
        }
        if kind == KIND_INTERIM {
            // 100 Continue and friends: no body, and the final response is still to come.
            return false;
        }
        if self.count as usize >= MAX_HEADS_PER_MESSAGE {
            self.lost = Unparsed::BeyondWindow as u32;
            return true;
        }
        // Whether the request this response answers is a HEAD or a CONNECT; whether a request
        // is a CONNECT.
        let response = self.response as u64;
        let answered = (self.pending_head >> self.finals) as u64 & 1
            | ((self.pending_connect >> self.finals) as u64 & 1) << 1;
        let connect = (self.method ^ pack(b"CONNECT")) | (self.method_len ^ 7) as u64;
        let is_connect = 1 - ((connect | connect.wrapping_neg()) >> 63);
        let encoding = self.encoding as u64;
        // Transfer-Encoding present; and all it says is "chunked".
        let any_encoding = (encoding | encoding >> 1) & 1;
        let chunked = (encoding >> 1) & !encoding & 1;
        let flags = (answered & response.wrapping_neg())
            | (is_connect << 1) & (response.wrapping_sub(1))
            | any_encoding << 2
            | (self.length_seen & 1) << 3
            | chunked << 4;
        let outcome = opaque(&BODY_RULES)
            [verifier_bound(kind as usize * 32 + flags as usize, BODY_RULES.len())];
        self.finals += self.response as u32;
        self.heads[verifier_bound(self.count as usize, MAX_HEADS_PER_MESSAGE)] = HeadEvent {
            method: self.method & response.wrapping_sub(1),
            method_len: self.method_len & (response as u16).wrapping_sub(1),
            status: self.status,
            is_response: self.response as u32,
        };
        self.count += 1;
        // The body: skip it, none, chunks to follow, or framing lost.
        let length_mask = ((outcome == BODY_LENGTH) as u64).wrapping_neg();
        self.offset += self.length & length_mask;
        let chunked_mask = ((outcome == BODY_CHUNKED) as u8).wrapping_neg();
        self.state = (self.state & !chunked_mask) | (CH_SIZE_START & chunked_mask);
        self.lost =
            opaque(&LOST_BY_OUTCOME)[verifier_bound(outcome as usize, LOST_BY_OUTCOME.len())];
        self.lost != 0
    }
}

// Kinds of head, for the body rules.
const KIND_INVALID: u8 = 0;
const KIND_INTERIM: u8 = 1;
const KIND_SWITCHING: u8 = 2;
const KIND_SUCCESS: u8 = 3;
const KIND_NO_CONTENT: u8 = 4;
const KIND_OTHER: u8 = 5;
const KIND_REQUEST: u8 = 6;

/// The kind of a response by its status (three digits, so below 1000; 0..99 and 600.. are not
/// HTTP).
static STATUS_KIND: [u8; 1024] = {
    let mut table = [KIND_INVALID; 1024];
    let mut status = 100;
    while status < 600 {
        table[status] = match status {
            101 => KIND_SWITCHING,
            100..=199 => KIND_INTERIM,
            204 | 304 => KIND_NO_CONTENT,
            200..=299 => KIND_SUCCESS,
            _ => KIND_OTHER,
        };
        status += 1;
    }
    table
};

// What follows a head.
const BODY_LENGTH: u8 = 0;
const BODY_NONE: u8 = 1;
const BODY_UPGRADE: u8 = 2;
const BODY_UNKNOWN: u8 = 3;
const BODY_CHUNKED: u8 = 4;

/// The reason the framing is lost after each outcome (0: not lost).
static LOST_BY_OUTCOME: [u32; 8] = [
    0,
    0,
    Unparsed::Upgrade as u32,
    Unparsed::UnknownLength as u32,
    0,
    0,
    0,
    0,
];

/// RFC 9112 section 6.3, as a table: the body after a head of a kind (index `kind * 32 +
/// flags`). Flags: 1 the answered request was a HEAD, 2 it was a CONNECT (for a request: it is
/// a CONNECT), 4 Transfer-Encoding present, 8 Content-Length present, 16 the Transfer-Encoding
/// is exactly "chunked" (which overrides Content-Length).
static BODY_RULES: [u8; 256] = {
    let mut table = [BODY_UNKNOWN; 256];
    let mut kind = 0;
    while kind < 8 {
        let mut flags = 0;
        while flags < 32 {
            let (to_head, connect) = (flags & 1 != 0, flags & 2 != 0);
            let (encoding, length) = (flags & 4 != 0, flags & 8 != 0);
            let chunked = encoding && flags & 16 != 0;
            table[kind * 32 + flags] = match kind as u8 {
                KIND_REQUEST if connect => BODY_UPGRADE,
                KIND_REQUEST if chunked => BODY_CHUNKED,
                KIND_REQUEST if encoding => BODY_UNKNOWN,
                KIND_REQUEST => BODY_LENGTH, // 0 without Content-Length
                KIND_SWITCHING => BODY_UPGRADE,
                KIND_SUCCESS | KIND_NO_CONTENT if connect => BODY_UPGRADE,
                KIND_SUCCESS | KIND_NO_CONTENT | KIND_OTHER if to_head => BODY_NONE,
                KIND_NO_CONTENT => BODY_NONE,
                KIND_SUCCESS | KIND_OTHER if chunked => BODY_CHUNKED,
                KIND_SUCCESS | KIND_OTHER if encoding || !length => BODY_UNKNOWN, // another coding, or until close
                KIND_SUCCESS | KIND_OTHER => BODY_LENGTH,
                _ => BODY_UNKNOWN,
            };
            flags += 1;
        }
        kind += 1;
    }
    table
};

/// A table the compiler must read at run time. Knowing a small table's contents, LLVM may turn
/// a lookup back into the comparisons the table is there to avoid.
#[inline(always)]
fn opaque<T>(table: &T) -> &T {
    core::hint::black_box(table)
}

/// `index` (already known to be below `len`, a power of two) masked to it, behind an
/// optimisation barrier: LLVM, knowing the mask changes nothing, would drop it, and the verifier
/// (which may not know the earlier comparison) would see an unbounded offset.
#[inline(always)]
pub fn verifier_bound(index: usize, len: usize) -> usize {
    core::hint::black_box(index) & (len - 1)
}

#[inline(always)]
fn lose(stream: &mut StreamState, mut report: MessageReport, reason: u32) -> MessageReport {
    stream.mode = STREAM_LOST;
    stream.state = 0;
    stream.remaining = 0;
    report.unparsed = reason;
    report
}

// ---- The head automaton ----------------------------------------------------------------------
//
// A deterministic automaton over byte classes, driven by two tables (next state and action per
// state and class) that live in read-only data. In the kernel every byte then takes the same
// few instructions whatever its value: the verifier sees one path per byte instead of one per
// grammar branch, which is what keeps a 512-byte loop within its budget on every kernel. The
// two header names that matter (Content-Length, Transfer-Encoding, case-insensitive) are
// states of their own, so no byte needs a comparison. A complete head ends with the action
// A_DONE, on a transition back to the direction's start state.

// Byte classes: what the grammar distinguishes.
const C_INVALID: u8 = 0; // CTLs other than HTAB, CR, LF; DEL
const C_SP: u8 = 1;
const C_HTAB: u8 = 2;
const C_CR: u8 = 3;
const C_LF: u8 = 4;
const C_COLON: u8 = 5;
const C_ZERO: u8 = 6;
const C_ONE: u8 = 7;
const C_DIGIT: u8 = 8; // 2-9
const C_SLASH: u8 = 9;
const C_DOT: u8 = 10;
const C_UPPER_H: u8 = 11;
const C_UPPER_T: u8 = 12;
const C_UPPER_P: u8 = 13;
const C_DASH: u8 = 14;
/// Letters of the two header names, of the coding "chunked" and of hexadecimal numbers:
/// lowercase ones from C_LOWER, uppercase from C_UPPER (by their index in NAME_LETTERS; H and
/// T use C_UPPER_H and C_UPPER_T).
const NAME_LETTERS: &[u8; 17] = b"abcdefghiklnorstu";
const C_LOWER: u8 = 15;
const C_UPPER: u8 = C_LOWER + NAME_LETTERS.len() as u8;
const C_UPPER_OTHER: u8 = C_UPPER + NAME_LETTERS.len() as u8; // other A-Z
const C_TCHAR_OTHER: u8 = C_UPPER_OTHER + 1; // other a-z, and !#$%&'*+^_`|~
const C_VCHAR: u8 = C_UPPER_OTHER + 2; // other printable: "(),;<=>?@[\]{}
const C_OBS: u8 = C_UPPER_OTHER + 3; // 0x80-0xff
const CLASSES: usize = C_OBS as usize + 1;

const fn name_letter_index(lower: u8) -> Option<usize> {
    let mut i = 0;
    while i < NAME_LETTERS.len() {
        if NAME_LETTERS[i] == lower {
            return Some(i);
        }
        i += 1;
    }
    None
}

const fn class_of(b: u8) -> u8 {
    match b {
        b' ' => C_SP,
        b'\t' => C_HTAB,
        b'\r' => C_CR,
        b'\n' => C_LF,
        b':' => C_COLON,
        b'0' => C_ZERO,
        b'1' => C_ONE,
        b'2'..=b'9' => C_DIGIT,
        b'/' => C_SLASH,
        b'.' => C_DOT,
        b'H' => C_UPPER_H,
        b'T' => C_UPPER_T,
        b'P' => C_UPPER_P,
        b'-' => C_DASH,
        b'a'..=b'z' => match name_letter_index(b) {
            Some(i) => C_LOWER + i as u8,
            None => C_TCHAR_OTHER,
        },
        b'A'..=b'Z' => match name_letter_index(b.to_ascii_lowercase()) {
            Some(i) => C_UPPER + i as u8,
            None => C_UPPER_OTHER,
        },
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'^' | b'_' | b'`' | b'|'
        | b'~' => C_TCHAR_OTHER,
        0x21..=0x7e => C_VCHAR,
        0x80..=0xff => C_OBS,
        _ => C_INVALID,
    }
}

/// The classes of a letter of a header name, either case (a dash has one).
const fn letter_classes(lower: u8) -> [u8; 2] {
    match lower {
        b'-' => [C_DASH, C_DASH],
        b'h' => [class_of(b'h'), C_UPPER_H],
        b't' => [class_of(b't'), C_UPPER_T],
        _ => [class_of(lower), class_of(lower.to_ascii_uppercase())],
    }
}

/// A set of classes.
type ClassSet = [bool; CLASSES];

const fn classes(list: &[u8]) -> ClassSet {
    let mut set = [false; CLASSES];
    let mut i = 0;
    while i < list.len() {
        set[list[i] as usize] = true;
        i += 1;
    }
    set
}

const fn union(a: ClassSet, b: ClassSet) -> ClassSet {
    let mut set = a;
    let mut i = 0;
    while i < CLASSES {
        set[i] = a[i] || b[i];
        i += 1;
    }
    set
}

/// `tchar` of RFC 9110 section 5.6.2.
const TCHAR: ClassSet = {
    let mut set = classes(&[
        C_ZERO,
        C_ONE,
        C_DIGIT,
        C_DOT,
        C_UPPER_H,
        C_UPPER_T,
        C_UPPER_P,
        C_DASH,
        C_UPPER_OTHER,
        C_TCHAR_OTHER,
    ]);
    let mut c = C_LOWER;
    while c < C_UPPER_OTHER {
        set[c as usize] = true;
        c += 1;
    }
    set
};
const DIGITS: ClassSet = classes(&[C_ZERO, C_ONE, C_DIGIT]);
/// Hexadecimal digits, either case.
const HEX: ClassSet = union(
    DIGITS,
    union(
        union(
            classes(&letter_classes(b'a')),
            classes(&letter_classes(b'b')),
        ),
        union(
            union(
                classes(&letter_classes(b'c')),
                classes(&letter_classes(b'd')),
            ),
            union(
                classes(&letter_classes(b'e')),
                classes(&letter_classes(b'f')),
            ),
        ),
    ),
);
/// Request-target bytes (VCHAR).
const TARGET: ClassSet = union(TCHAR, classes(&[C_COLON, C_SLASH, C_VCHAR]));
/// Field-value bytes: HTAB, SP, VCHAR, obs-text (RFC 9110 section 5.5).
const FIELD: ClassSet = union(TARGET, classes(&[C_SP, C_HTAB, C_OBS]));
const OWS: ClassSet = classes(&[C_SP, C_HTAB]);

// States. 0 is the dead state, so that a missing transition means "not HTTP".
const S_INVALID: u8 = 0;
// Request line: method SP request-target SP "HTTP/1.x" CRLF.
const R_START: u8 = 1;
const R_METHOD: u8 = 2;
const R_TARGET_FIRST: u8 = 3;
const R_TARGET: u8 = 4;
/// "HTTP/1.x": 8 states from here.
const R_VERSION: u8 = 5;
const R_CR: u8 = 13;
/// The request's header block: `HEADER_STATES` states from here.
const R_HEADERS: u8 = 14;
// Status line: "HTTP/1.x" SP 3DIGIT [SP reason] CRLF. S_START is the first version state.
const S_START: u8 = R_HEADERS + HEADER_STATES;
const S_SP: u8 = S_START + 8;
const S_DIGIT1: u8 = S_SP + 1;
const S_DIGIT2: u8 = S_SP + 2;
const S_DIGIT3: u8 = S_SP + 3;
const S_AFTER_STATUS: u8 = S_SP + 4;
const S_REASON: u8 = S_SP + 5;
/// The response's header block.
const S_HEADERS: u8 = S_SP + 6;

// Offsets of the states of a header block from its first state.
const H_LINE_LF: u8 = 0;
const H_LINE_START: u8 = 1;
/// A header name that is neither of the two.
const H_NAME: u8 = 2;
/// The first k letters of "content-length" read: H_CL + k - 1.
const H_CL: u8 = 3;
const CL_NAME: &[u8; 14] = b"content-length";
/// The first k letters of "transfer-encoding" read: H_TE + k - 1.
const H_TE: u8 = H_CL + CL_NAME.len() as u8;
const TE_NAME: &[u8; 17] = b"transfer-encoding";
const H_VALUE: u8 = H_TE + TE_NAME.len() as u8;
/// A Transfer-Encoding value, before its first letter.
const H_VALUE_TE: u8 = H_VALUE + 1;
const H_CL_BEFORE: u8 = H_VALUE + 2;
const H_CL_DIGITS: u8 = H_VALUE + 3;
const H_CL_AFTER: u8 = H_VALUE + 4;
const H_END_LF: u8 = H_VALUE + 5;
/// The first k letters of "chunked" read as a Transfer-Encoding value: H_TE_CHUNKED + k - 1.
const H_TE_CHUNKED: u8 = H_VALUE + 6;
const CHUNKED: &[u8; 7] = b"chunked";
/// Whitespace after "chunked".
const H_TE_CHUNKED_OWS: u8 = H_TE_CHUNKED + CHUNKED.len() as u8;
/// Any other Transfer-Encoding value.
const H_TE_OTHER: u8 = H_TE_CHUNKED_OWS + 1;
const HEADER_STATES: u8 = H_TE_OTHER + 1;

// A chunked body (RFC 9112 section 7.1), shared by both directions: the end of the body goes
// back to the direction's start state by the action A_BODY_END. Every state from CH_FIRST on
// can be resumed in the next message (`STREAM_IN_FRAMING`).
const CH_FIRST: u8 = S_HEADERS + HEADER_STATES;
/// The first digit of a chunk size.
const CH_SIZE_START: u8 = CH_FIRST;
/// Only zeros so far: the last chunk, unless another digit comes.
const CH_ZERO: u8 = CH_FIRST + 1;
const CH_SIZE: u8 = CH_FIRST + 2;
/// Chunk extensions (not interpreted), of a chunk and of the last chunk.
const CH_EXT: u8 = CH_FIRST + 3;
const CH_LAST_EXT: u8 = CH_FIRST + 4;
/// The LF of a size line: its data is skipped (A_CHUNK_DATA).
const CH_SIZE_LF: u8 = CH_FIRST + 5;
const CH_LAST_LF: u8 = CH_FIRST + 6;
/// The CRLF after a chunk's data.
const CH_DATA_CR: u8 = CH_FIRST + 7;
const CH_DATA_LF: u8 = CH_FIRST + 8;
/// Trailer fields after the last chunk, and the empty line that ends the body.
const CH_TRAILER_START: u8 = CH_FIRST + 9;
const CH_TRAILER_NAME: u8 = CH_FIRST + 10;
const CH_TRAILER_VALUE: u8 = CH_FIRST + 11;
const CH_TRAILER_LF: u8 = CH_FIRST + 12;
const CH_END_LF: u8 = CH_FIRST + 13;
const STATES: usize = CH_END_LF as usize + 1;
const _: () = assert!(STATES < 256);

// Actions on a transition.
const A_NONE: u8 = 0;
/// First byte of a head: forget the previous head (and start the method of a request).
const A_FIRST: u8 = 1;
const A_METHOD: u8 = 2;
const A_STATUS: u8 = 3;
/// ':' after "content-length".
const A_LENGTH_START: u8 = 4;
const A_LENGTH_DIGIT: u8 = 5;
const A_LENGTH_END: u8 = 6;
/// The CR after a Transfer-Encoding value: another coding, or "chunked".
const A_ENCODING_OTHER: u8 = 7;
/// The LF of the empty line: a head is complete.
const A_DONE: u8 = 8;
const A_ENCODING_CHUNKED: u8 = 9;
/// The first digit of a chunk size, and the next ones.
const A_SIZE_FIRST: u8 = 10;
const A_SIZE_DIGIT: u8 = 11;
/// The LF of a chunk's size line: skip its data.
const A_CHUNK_DATA: u8 = 12;
/// The LF of the empty line after the last chunk: the body is complete.
const A_BODY_END: u8 = 13;

const fn build_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = class_of(b as u8);
        b += 1;
    }
    table
}

type Tables = ([u8; STATES * CLASSES], [u8; STATES * CLASSES]);

const fn set(t: &mut Tables, state: u8, set: &ClassSet, next: u8, action: u8) {
    let mut class = 0;
    while class < CLASSES {
        if set[class] {
            let index = state as usize * CLASSES + class;
            t.0[index] = next;
            t.1[index] = action;
        }
        class += 1;
    }
}

const fn set_one(t: &mut Tables, state: u8, class: u8, next: u8, action: u8) {
    set(t, state, &classes(&[class]), next, action);
}

/// "HTTP/1." then the minor version 0 or 1, from state `first` (whose first byte gets
/// `first_action`), then `then`.
const fn version(t: &mut Tables, first: u8, first_action: u8, then: u8) {
    let letters = [
        C_UPPER_H, C_UPPER_T, C_UPPER_T, C_UPPER_P, C_SLASH, C_ONE, C_DOT,
    ];
    let mut i = 0;
    while i < letters.len() {
        let action = if i == 0 { first_action } else { A_NONE };
        set_one(t, first + i as u8, letters[i], first + i as u8 + 1, action);
        i += 1;
    }
    set(t, first + 7, &classes(&[C_ZERO, C_ONE]), then, A_NONE);
}

/// The states that read a header name, matching `name` from its `k`-th letter in states
/// `first ..`; after the whole name, ':' goes to `value` with `value_action`.
const fn name_states(t: &mut Tables, base: u8, first: u8, name: &[u8], value: u8, action: u8) {
    let mut k = 1;
    while k <= name.len() {
        let state = first + k as u8 - 1;
        // Any other tchar: some other header.
        set(t, state, &TCHAR, base + H_NAME, A_NONE);
        if k < name.len() {
            let next = letter_classes(name[k]);
            set(t, state, &classes(&next), state + 1, A_NONE);
            set_one(t, state, C_COLON, base + H_VALUE, A_NONE);
        } else {
            set_one(t, state, C_COLON, value, action);
        }
        k += 1;
    }
}

/// Header lines and the empty line (no obsolete line folding), from state `base`; the LF of the
/// empty line goes to `start` with A_DONE.
const fn headers(t: &mut Tables, base: u8, start: u8) {
    set_one(t, base + H_LINE_LF, C_LF, base + H_LINE_START, A_NONE);
    set_one(t, base + H_LINE_START, C_CR, base + H_END_LF, A_NONE);
    set(t, base + H_LINE_START, &TCHAR, base + H_NAME, A_NONE);
    set(
        t,
        base + H_LINE_START,
        &classes(&letter_classes(b'c')),
        base + H_CL,
        A_NONE,
    );
    set(
        t,
        base + H_LINE_START,
        &classes(&letter_classes(b't')),
        base + H_TE,
        A_NONE,
    );
    set(t, base + H_NAME, &TCHAR, base + H_NAME, A_NONE);
    set_one(t, base + H_NAME, C_COLON, base + H_VALUE, A_NONE);
    name_states(
        t,
        base,
        base + H_CL,
        CL_NAME,
        base + H_CL_BEFORE,
        A_LENGTH_START,
    );
    name_states(t, base, base + H_TE, TE_NAME, base + H_VALUE_TE, A_NONE);
    set(t, base + H_VALUE, &FIELD, base + H_VALUE, A_NONE);
    set_one(t, base + H_VALUE, C_CR, base + H_LINE_LF, A_NONE);
    transfer_encoding_value(t, base);
    // Content-Length: OWS 1*DIGIT OWS.
    set(t, base + H_CL_BEFORE, &OWS, base + H_CL_BEFORE, A_NONE);
    set(
        t,
        base + H_CL_BEFORE,
        &DIGITS,
        base + H_CL_DIGITS,
        A_LENGTH_DIGIT,
    );
    set(
        t,
        base + H_CL_DIGITS,
        &DIGITS,
        base + H_CL_DIGITS,
        A_LENGTH_DIGIT,
    );
    set(t, base + H_CL_DIGITS, &OWS, base + H_CL_AFTER, A_NONE);
    set_one(t, base + H_CL_DIGITS, C_CR, base + H_LINE_LF, A_LENGTH_END);
    set(t, base + H_CL_AFTER, &OWS, base + H_CL_AFTER, A_NONE);
    set_one(t, base + H_CL_AFTER, C_CR, base + H_LINE_LF, A_LENGTH_END);
    set_one(t, base + H_END_LF, C_LF, start, A_DONE);
}

/// A Transfer-Encoding value: OWS "chunked" OWS (either case) ends with A_ENCODING_CHUNKED,
/// anything else with A_ENCODING_OTHER.
const fn transfer_encoding_value(t: &mut Tables, base: u8) {
    let other = base + H_TE_OTHER;
    set(t, other, &FIELD, other, A_NONE);
    set_one(t, other, C_CR, base + H_LINE_LF, A_ENCODING_OTHER);
    set(t, base + H_VALUE_TE, &FIELD, other, A_NONE);
    set(t, base + H_VALUE_TE, &OWS, base + H_VALUE_TE, A_NONE);
    set_one(
        t,
        base + H_VALUE_TE,
        C_CR,
        base + H_LINE_LF,
        A_ENCODING_OTHER,
    );
    let first = classes(&letter_classes(CHUNKED[0]));
    set(t, base + H_VALUE_TE, &first, base + H_TE_CHUNKED, A_NONE);
    let mut k = 1;
    while k <= CHUNKED.len() {
        let state = base + H_TE_CHUNKED + k as u8 - 1;
        set(t, state, &FIELD, other, A_NONE);
        if k < CHUNKED.len() {
            let next = classes(&letter_classes(CHUNKED[k]));
            set(t, state, &next, state + 1, A_NONE);
            set_one(t, state, C_CR, base + H_LINE_LF, A_ENCODING_OTHER);
        } else {
            set(t, state, &OWS, base + H_TE_CHUNKED_OWS, A_NONE);
            set_one(t, state, C_CR, base + H_LINE_LF, A_ENCODING_CHUNKED);
        }
        k += 1;
    }
    let after = base + H_TE_CHUNKED_OWS;
    set(t, after, &FIELD, other, A_NONE);
    set(t, after, &OWS, after, A_NONE);
    set_one(t, after, C_CR, base + H_LINE_LF, A_ENCODING_CHUNKED);
}

/// A chunked body: size lines, data (skipped), the last chunk, trailers, the empty line.
const fn chunked_body(t: &mut Tables) {
    let size_end = union(OWS, classes(&[C_VCHAR]));
    let hex_not_zero = {
        let mut set = HEX;
        set[C_ZERO as usize] = false;
        set
    };
    set_one(t, CH_SIZE_START, C_ZERO, CH_ZERO, A_SIZE_FIRST);
    set(t, CH_SIZE_START, &hex_not_zero, CH_SIZE, A_SIZE_FIRST);
    set_one(t, CH_ZERO, C_ZERO, CH_ZERO, A_SIZE_DIGIT);
    set(t, CH_ZERO, &hex_not_zero, CH_SIZE, A_SIZE_DIGIT);
    set_one(t, CH_ZERO, C_CR, CH_LAST_LF, A_NONE);
    set(t, CH_ZERO, &size_end, CH_LAST_EXT, A_NONE);
    set(t, CH_SIZE, &HEX, CH_SIZE, A_SIZE_DIGIT);
    set_one(t, CH_SIZE, C_CR, CH_SIZE_LF, A_NONE);
    set(t, CH_SIZE, &size_end, CH_EXT, A_NONE);
    set(t, CH_EXT, &FIELD, CH_EXT, A_NONE);
    set_one(t, CH_EXT, C_CR, CH_SIZE_LF, A_NONE);
    set(t, CH_LAST_EXT, &FIELD, CH_LAST_EXT, A_NONE);
    set_one(t, CH_LAST_EXT, C_CR, CH_LAST_LF, A_NONE);
    set_one(t, CH_SIZE_LF, C_LF, CH_DATA_CR, A_CHUNK_DATA);
    set_one(t, CH_DATA_CR, C_CR, CH_DATA_LF, A_NONE);
    set_one(t, CH_DATA_LF, C_LF, CH_SIZE_START, A_NONE);
    set_one(t, CH_LAST_LF, C_LF, CH_TRAILER_START, A_NONE);
    set_one(t, CH_TRAILER_START, C_CR, CH_END_LF, A_NONE);
    set(t, CH_TRAILER_START, &TCHAR, CH_TRAILER_NAME, A_NONE);
    set(t, CH_TRAILER_NAME, &TCHAR, CH_TRAILER_NAME, A_NONE);
    set_one(t, CH_TRAILER_NAME, C_COLON, CH_TRAILER_VALUE, A_NONE);
    set(t, CH_TRAILER_VALUE, &FIELD, CH_TRAILER_VALUE, A_NONE);
    set_one(t, CH_TRAILER_VALUE, C_CR, CH_TRAILER_LF, A_NONE);
    set_one(t, CH_TRAILER_LF, C_LF, CH_TRAILER_START, A_NONE);
    // The next state is the direction's start, which A_BODY_END puts in place of this one.
    set_one(t, CH_END_LF, C_LF, CH_SIZE_START, A_BODY_END);
}

/// Next state and action of every (state, class); everything not set leads to `S_INVALID`.
const fn build_automaton() -> Tables {
    let mut t = ([S_INVALID; STATES * CLASSES], [A_NONE; STATES * CLASSES]);
    set(&mut t, R_START, &TCHAR, R_METHOD, A_FIRST);
    set(&mut t, R_METHOD, &TCHAR, R_METHOD, A_METHOD);
    set_one(&mut t, R_METHOD, C_SP, R_TARGET_FIRST, A_NONE);
    set(&mut t, R_TARGET_FIRST, &TARGET, R_TARGET, A_NONE);
    set(&mut t, R_TARGET, &TARGET, R_TARGET, A_NONE);
    set_one(&mut t, R_TARGET, C_SP, R_VERSION, A_NONE);
    version(&mut t, R_VERSION, A_NONE, R_CR);
    set_one(&mut t, R_CR, C_CR, R_HEADERS + H_LINE_LF, A_NONE);
    headers(&mut t, R_HEADERS, R_START);

    version(&mut t, S_START, A_FIRST, S_SP);
    set_one(&mut t, S_SP, C_SP, S_DIGIT1, A_NONE);
    set(&mut t, S_DIGIT1, &DIGITS, S_DIGIT2, A_STATUS);
    set(&mut t, S_DIGIT2, &DIGITS, S_DIGIT3, A_STATUS);
    set(&mut t, S_DIGIT3, &DIGITS, S_AFTER_STATUS, A_STATUS);
    set_one(&mut t, S_AFTER_STATUS, C_SP, S_REASON, A_NONE);
    set_one(&mut t, S_AFTER_STATUS, C_CR, S_HEADERS + H_LINE_LF, A_NONE);
    set(&mut t, S_REASON, &FIELD, S_REASON, A_NONE);
    set_one(&mut t, S_REASON, C_CR, S_HEADERS + H_LINE_LF, A_NONE);
    headers(&mut t, S_HEADERS, S_START);
    chunked_body(&mut t);
    t
}

static BYTE_CLASS: [u8; 256] = build_classes();

/// The value of a hexadecimal digit (0 for other bytes, which the automaton never lets reach
/// a chunk size).
static HEX_VALUE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'a'..=b'f' => l - b'a' + 10,
            u @ b'A'..=b'F' => u - b'A' + 10,
            _ => 0,
        };
        b += 1;
    }
    table
};
static AUTOMATON: Tables = build_automaton();

#[cfg(test)]
#[test]
fn every_transition_stays_in_the_tables() {
    for next in AUTOMATON.0 {
        assert!((next as usize) < STATES);
    }
    // Both cases of every letter of both names, of "chunked" and of hex digits have a class
    // that can be told apart.
    for name in [&CL_NAME[..], &TE_NAME[..], &CHUNKED[..], b"abcdef"] {
        for &letter in name {
            let [lower, upper] = letter_classes(letter);
            assert_eq!(class_of(letter), lower);
            assert_eq!(class_of(letter.to_ascii_uppercase()), upper);
        }
    }
}

#[cfg(test)]
mod tests;
