//! HTTP visibility inside the sk_msg programs. A client's sends carry requests, a server's
//! sends responses; both find the same `HTTP_CONNS` entry, keyed from the server's side. The
//! parser is `meshtwin_datapath_common::http`, the code the user-space tests fuzz.
//!
//! A message is read in chunks of `CHUNK` bytes, up to `HEAD_WINDOW` bytes from where its next
//! head can start: `sk_msg_mesh` starts it and parses the first chunk, and each further chunk
//! is a tail call to `sk_msg_http` (through `HTTP_PARSE`), so that the verifier only ever
//! follows a loop of one chunk. What is being parsed stays in `PARSER_SCRATCH`, under the
//! sending socket's 4-tuple, between the calls.

use aya_ebpf::{
    bindings::BPF_NOEXIST, helpers::bpf_ktime_get_ns, macros::sk_msg, programs::SkMsgContext,
};
use meshtwin_datapath_common::{
    counting::add,
    http::{chunk_offset, parse_chunk, Direction, Unparsed, CHUNK},
    http_stats::{
        status_class, HttpConnection, HttpFlowKey, HttpSink, HttpStatsKey, Observation, UnparsedKey,
    },
    sockets::{SockKey, MODE_HTTP_CLIENT},
};

use crate::{context_bytes::ContextBytes, maps::*, sk_msg_mesh::msg_key};

/// sk_msg verdict: let the message go on (to the redirect target if one was set).
const SK_PASS: u32 = 1;

/// Starts watching one message of a monitored connection (called by `sk_msg_mesh` after its
/// redirect decision: a tail call does not come back). `sender` is the sending socket's own
/// 4-tuple, `key` its wire flow.
#[inline(always)]
pub fn observe(
    ctx: &SkMsgContext,
    sender: &SockKey,
    key: &SockKey,
    flags: u32,
    service_id: u32,
    len: u64,
) {
    let (direction, flow) = if flags & MODE_HTTP_CLIENT != 0 {
        (Direction::Request, HttpFlowKey::of_client(key))
    } else {
        (Direction::Response, HttpFlowKey::of_server(key))
    };
    let Some(conn) = connection(&flow, service_id) else {
        return;
    };
    // SAFETY: a shared value written in place: each direction's fields only by its own socket's
    // messages, which that socket's lock serialises (maps.rs, "Map memory").
    let conn = unsafe { &mut *conn };
    let Some(obs) = parser_scratch(sender) else {
        return;
    };
    // SAFETY: the sending socket's own entry, written only by its messages, which its lock
    // serialises; the programs that parse one message, this one and its tail calls, run one
    // after the other (maps.rs, "Map memory").
    let obs = unsafe { &mut *obs };
    obs.flow = flow;
    obs.service_id = conn.service_id;
    // SAFETY: the helper takes no arguments and only reads the clock.
    let now = unsafe { bpf_ktime_get_ns() };
    let mut sink = Counters {
        service_id: conn.service_id,
    };
    if conn.begin(direction, len, now, obs, &mut sink) {
        next_chunk(ctx, obs);
    }
}

/// Parses the next chunk of the message in `PARSER_SCRATCH`.
#[sk_msg]
pub fn sk_msg_http(ctx: SkMsgContext) -> u32 {
    if let Some(obs) = PARSER_SCRATCH.get_ptr_mut(msg_key(&ctx)) {
        // SAFETY: the sending socket's own entry, which the calling program filled just before
        // its tail call, as in `observe`.
        next_chunk(&ctx, unsafe { &mut *obs });
    }
    SK_PASS
}

/// Makes the chunk readable through data .. data_end, parses it, and finishes the message or
/// chains to the next chunk.
#[inline(always)]
fn next_chunk(ctx: &SkMsgContext, obs: &mut Observation) {
    let len = ctx.size() as u64;
    let start = chunk_offset(&obs.parser);
    let end = if len < start + CHUNK as u64 {
        len
    } else {
        start + CHUNK as u64
    };
    let readable = (ctx.data_end() - ctx.data()) as u64;
    if start != 0 || readable < end {
        // On failure data .. data_end stays as it was; the parser then reports the bytes it
        // cannot read as past its window.
        let _ = pull_data(ctx, start as u32, end as u32);
    }
    let bytes = ContextBytes::new(ctx.data(), ctx.data_end());
    if !parse_chunk(&mut obs.parser, &bytes) {
        // SAFETY: a tail call with this program's own context into a program of the same type
        // (the agent puts only `sk_msg_http` in `HTTP_PARSE`); on success it does not return.
        unsafe { HTTP_PARSE.tail_call(ctx, 0) };
        obs.parser.give_up();
    }
    finish(obs);
}

#[inline(always)]
fn finish(obs: &Observation) {
    let Some(conn) = HTTP_CONNS.get_ptr_mut(obs.flow) else {
        return;
    };
    let mut sink = Counters {
        service_id: obs.service_id,
    };
    // SAFETY: a shared value written in place, as in `observe`: this direction's fields only by
    // this socket's messages, serialised by its lock (maps.rs, "Map memory").
    unsafe { &mut *conn }.finish(obs, &mut sink);
}

#[inline(always)]
fn pull_data(ctx: &SkMsgContext, start: u32, end: u32) -> Result<(), i64> {
    // SAFETY: `msg` is this program's own context; the helper checks `start` and `end` against
    // the message and fails rather than reading past it.
    let ret = unsafe { aya_ebpf::helpers::bpf_msg_pull_data(ctx.msg, start, end, 0) };
    if ret == 0 {
        Ok(())
    } else {
        Err(ret)
    }
}

#[inline(always)]
fn connection(flow: &HttpFlowKey, service_id: u32) -> Option<*mut HttpConnection> {
    if let Some(conn) = HTTP_CONNS.get_ptr_mut(flow) {
        return Some(conn);
    }
    fresh_http_connection(flow, service_id, BPF_NOEXIST as u64)
}

struct Counters {
    service_id: u32,
}

impl HttpSink for Counters {
    #[inline(always)]
    fn answered(&mut self, method: u8, status: u16, latency_ns: u64) {
        let key = HttpStatsKey {
            service_id: self.service_id,
            method,
            status_class: status_class(status),
            pad: 0,
        };
        let stats = match HTTP_STATS.get_ptr_mut(key) {
            Some(stats) => stats,
            None => {
                let Some(zero) = ZERO_HTTP_STATS.get(0) else {
                    return;
                };
                let _ = HTTP_STATS.insert(key, zero, BPF_NOEXIST as u64);
                let Some(stats) = HTTP_STATS.get_ptr_mut(key) else {
                    return;
                };
                stats
            }
        };
        // SAFETY: this CPU's copy of a per-CPU value (maps.rs, "Map memory").
        unsafe { &mut *stats }.record(latency_ns);
    }

    #[inline(always)]
    fn unparsed(&mut self, reason: Unparsed) {
        let key = UnparsedKey {
            service_id: self.service_id,
            reason: reason as u32,
        };
        match HTTP_UNPARSED.get_ptr_mut(key) {
            // SAFETY: this CPU's copy of a per-CPU value, added to atomically (maps.rs, "Map
            // memory").
            Some(count) => add(unsafe { &mut *count }, 1),
            None => {
                let _ = HTTP_UNPARSED.insert(key, 1, BPF_NOEXIST as u64);
            }
        }
    }
}
