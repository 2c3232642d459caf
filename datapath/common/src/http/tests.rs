//! The HTTP/1.1 head parser: exact on well-formed streams however they are cut into messages, or
//! it reports what it skipped; never a wrong count, never a read outside the window.

use std::{cell::Cell, format, string::String, vec, vec::Vec};

use proptest::prelude::*;

use super::*;
use crate::http_stats::{HttpConnection, HttpSink, Observation};

/// A slice that counts the bytes read from it.
struct Watched<'a> {
    bytes: &'a [u8],
    read: Cell<usize>,
}

impl PacketBytes for Watched<'_> {
    fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let value = self.bytes.read::<N>(offset)?;
        self.read.set(self.read.get() + N);
        Some(value)
    }
}

#[derive(Default, Debug)]
struct Collected {
    answered: Vec<(Method, u16)>,
    unparsed: Vec<Unparsed>,
}

impl HttpSink for Collected {
    fn answered(&mut self, method: u8, status: u16, _latency_ns: u64) {
        self.answered
            .push((Method::from_u8(method).expect("a method"), status));
    }
    fn unparsed(&mut self, reason: Unparsed) {
        self.unparsed.push(reason);
    }
}

/// Feeds one message of `direction` as the kernel does: the message from where the window
/// starts, of which the parser must read at most its budget.
fn feed(conn: &mut HttpConnection, direction: Direction, message: &[u8], out: &mut Collected) {
    let stream = match direction {
        Direction::Request => conn.requests,
        Direction::Response => conn.responses,
    };
    let len = message.len() as u64;
    let start = window_start(&stream, len) as usize;
    let window = Watched {
        bytes: &message[start..],
        read: Cell::new(0),
    };
    let mut scratch = Observation::EMPTY;
    conn.observe(direction, &window, len, 0, out, &mut scratch);
    assert!(
        window.read.get() <= READ_BUDGET,
        "{} bytes read",
        window.read.get()
    );
}

/// What one message gave: its report, the heads (method or status), the stream after it.
fn parse_one(direction: Direction, message: &[u8]) -> (MessageReport, Vec<HeadEvent>, StreamState) {
    let mut stream = StreamState::default();
    let mut scratch = LoopState::EMPTY;
    let report = parse_message(
        direction,
        &mut stream,
        message,
        message.len() as u64,
        PendingMethods::NONE,
        &mut scratch,
    );
    let heads = (0..report.count as usize)
        .map(|i| scratch.head(i))
        .collect();
    (report, heads, stream)
}

const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: web\r\nAccept: */*\r\n\r\n";

#[test]
fn a_request_head() {
    let (report, heads, stream) = parse_one(Direction::Request, GET);
    assert_eq!(heads.len(), 1);
    assert_eq!(
        (heads[0].method(), heads[0].status, heads[0].is_response),
        (Method::Get, 0, 0)
    );
    assert_eq!(report.unparsed, 0);
    assert_eq!(stream, StreamState::default());
}

#[test]
fn methods_by_name_and_other_tokens() {
    for (line, method) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("TRACE", Method::Trace),
        ("PATCH", Method::Patch),
        ("PROPFIND", Method::Other),
        ("MKCALENDAR", Method::Other),
        ("GETS", Method::Other),
        ("get", Method::Other),
    ] {
        let message = format!("{line} / HTTP/1.1\r\n\r\n");
        let (_, heads, _) = parse_one(Direction::Request, message.as_bytes());
        assert_eq!(heads[0].method(), method, "{line}");
    }
}

#[test]
fn request_body_by_content_length_in_the_same_and_later_messages() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    let head = b"POST /items HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123";
    feed(&mut conn, Direction::Request, head, &mut out);
    assert_eq!(conn.requests.mode, STREAM_IN_BODY);
    assert_eq!(conn.requests.remaining, 6);
    // The body's end and the next request in one message: the window starts after the body.
    let mut next = b"456789".to_vec();
    next.extend_from_slice(GET);
    feed(&mut conn, Direction::Request, &next, &mut out);
    assert_eq!(conn.tail, 2);
    assert_eq!(conn.requests.mode, STREAM_AT_BOUNDARY);
    assert!(out.unparsed.is_empty(), "{out:?}");
}

#[test]
fn pipelined_requests_and_responses_written_together() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    let mut requests = GET.to_vec();
    requests.extend_from_slice(b"HEAD /x HTTP/1.1\r\n\r\nDELETE /y HTTP/1.1\r\n\r\n");
    feed(&mut conn, Direction::Request, &requests, &mut out);
    let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\
HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n";
    feed(&mut conn, Direction::Response, responses, &mut out);
    assert_eq!(
        out.answered,
        vec![
            (Method::Get, 200),
            (Method::Head, 200),
            (Method::Delete, 204)
        ]
    );
    assert!(out.unparsed.is_empty(), "{out:?}");
    assert_eq!(
        conn.responses.mode, STREAM_AT_BOUNDARY,
        "HEAD's response has no body"
    );
}

#[test]
fn interim_responses_are_consumed_without_answering() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    feed(
        &mut conn,
        Direction::Request,
        b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        &mut out,
    );
    feed(
        &mut conn,
        Direction::Response,
        b"HTTP/1.1 100 Continue\r\n\r\n",
        &mut out,
    );
    feed(&mut conn, Direction::Request, b"abc", &mut out);
    feed(
        &mut conn,
        Direction::Response,
        b"HTTP/1.1 201 Created\r\ncontent-length:0\r\n\r\n",
        &mut out,
    );
    assert_eq!(out.answered, vec![(Method::Put, 201)]);
    assert!(out.unparsed.is_empty(), "{out:?}");
}

#[test]
fn a_head_split_across_messages_is_unparsed_and_the_direction_lost() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    feed(&mut conn, Direction::Request, b"GE", &mut out);
    feed(&mut conn, Direction::Request, &GET[2..], &mut out);
    feed(&mut conn, Direction::Request, GET, &mut out);
    assert_eq!(conn.tail, 0);
    assert_eq!(
        out.unparsed,
        vec![Unparsed::Split, Unparsed::Unsynced, Unparsed::Unsynced]
    );
}

/// What nginx 1.22 writes for a gzipped page in one writev (head, one chunk, the last chunk):
/// the response of the tests with real nginx.
fn nginx_gzip_response(data: usize) -> Vec<u8> {
    let mut bytes = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 23:40:27 GMT\r\nContent-Type: text/html\r\nLast-Modified: Wed, 02 Dec 2026 23:40:25 GMT\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nETag: W/\"6b10ac69-b51\"\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
    bytes.extend_from_slice(format!("{data:x}\r\n").as_bytes());
    // gzip output: any bytes, among them CR, LF and digits.
    bytes.extend((0..data).map(|i| (i * 37 % 256) as u8));
    bytes.extend_from_slice(b"\r\n0\r\n\r\n");
    bytes
}

#[test]
fn chunked_responses_on_a_keepalive_connection_are_each_counted() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    for _ in 0..5 {
        feed(&mut conn, Direction::Request, GET, &mut out);
        feed(
            &mut conn,
            Direction::Response,
            &nginx_gzip_response(621),
            &mut out,
        );
        assert_eq!(conn.responses, StreamState::default());
    }
    assert_eq!(out.answered, vec![(Method::Get, 200); 5]);
    assert!(out.unparsed.is_empty(), "{out:?}");
}

#[test]
fn chunked_framing_is_followed_wherever_messages_cut_it() {
    // Three responses: one chunk; several chunks with extensions and upper-case sizes; a
    // trailer. Cut once at every byte, then twice at many pairs: every response is counted
    // unless a cut falls inside a head, which is reported (a split head, then unsynced).
    let mut stream = nginx_gzip_response(300);
    stream.extend_from_slice(
        b"HTTP/1.1 404 Not Found\r\ntransfer-encoding:  Chunked \r\n\r\n\
          1A;name=value\r\n0123456789abcdefghijklmnop\r\n\
          3\r\n\r\n\r\r\n\
          00\r\n\r\n",
    );
    stream.extend_from_slice(
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum: 42\r\n\r\n",
    );
    let truth = vec![(Method::Get, 200), (Method::Get, 404), (Method::Get, 500)];
    let heads: Vec<(usize, usize)> = {
        let mut spans = Vec::new();
        let mut from = 0;
        while let Some(at) = stream[from..]
            .windows(9)
            .position(|w| w == b"HTTP/1.1 ")
            .map(|p| p + from)
        {
            let end = at
                + stream[at..]
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .unwrap()
                + 4;
            spans.push((at, end));
            from = end;
        }
        spans
    };
    assert_eq!(heads.len(), 3);
    let inside_a_head = |cut: usize| heads.iter().any(|(a, b)| *a < cut && cut < *b);
    let run = |cuts: &[usize]| {
        let mut conn = HttpConnection::new(1);
        let mut out = Collected::default();
        for _ in 0..3 {
            feed(&mut conn, Direction::Request, GET, &mut out);
        }
        for message in cut(&stream, cuts) {
            feed(&mut conn, Direction::Response, &message, &mut out);
        }
        out
    };
    for first in 0..=stream.len() {
        let out = run(&[first]);
        if inside_a_head(first) {
            assert_eq!(
                out.unparsed.first(),
                Some(&Unparsed::Split),
                "cut at {first}"
            );
            assert!(out.answered[..] == truth[..out.answered.len()]);
        } else {
            assert_eq!(out.answered, truth, "cut at {first}: {out:?}");
            assert!(out.unparsed.is_empty(), "cut at {first}: {out:?}");
        }
        for second in (first..=stream.len()).step_by(7) {
            if inside_a_head(first) || inside_a_head(second) {
                continue;
            }
            let out = run(&[first, second]);
            assert_eq!(out.answered, truth, "cuts at {first}, {second}: {out:?}");
            assert!(out.unparsed.is_empty(), "cuts at {first}, {second}");
        }
    }
}

#[test]
fn chunked_requests_are_followed_too() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    let mut requests =
        b"POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nGET \r\n0\r\n\r\n"
            .to_vec();
    requests.extend_from_slice(GET);
    feed(&mut conn, Direction::Request, &requests, &mut out);
    feed(
        &mut conn,
        Direction::Response,
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    assert_eq!(out.answered, vec![(Method::Post, 201), (Method::Get, 200)]);
    assert!(out.unparsed.is_empty(), "{out:?}");
}

#[test]
fn chunked_overrides_content_length_and_other_codings_are_not_framed() {
    // RFC 9112 section 6.3: Transfer-Encoding wins over Content-Length.
    let (report, heads, stream) = parse_one(
        Direction::Response,
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!((report.count, report.unparsed, heads.len()), (1, 0, 1));
    assert_eq!(stream, StreamState::default());
    for encoding in ["gzip, chunked", "chunkedx", "gzip", "", "chunked, chunked"] {
        let message = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {encoding}\r\n\r\n0\r\n\r\n");
        let (report, _, stream) = parse_one(Direction::Response, message.as_bytes());
        assert_eq!(
            (report.count, report.unparsed),
            (1, Unparsed::UnknownLength as u32),
            "{encoding:?}"
        );
        assert_eq!(stream.mode, STREAM_LOST);
    }
    // Two headers, "gzip" and "chunked": a list whose last coding is chunked, which only a
    // decoder could follow. Reported, not guessed.
    let (report, _, _) = parse_one(
        Direction::Response,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(report.unparsed, Unparsed::UnknownLength as u32);
    // A request with a coding other than chunked.
    let (report, _, _) = parse_one(
        Direction::Request,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    );
    assert_eq!(
        (report.count, report.unparsed),
        (1, Unparsed::UnknownLength as u32)
    );
}

#[test]
fn malformed_chunk_framing_is_not_http() {
    for body in [
        &b"x\r\n"[..],
        b"5\r\nhelloXY",
        b"5\n\nhello\r\n0\r\n\r\n",
        b"1000000000000\r\n",
        b"0\r\nbad trailer\r\n\r\n",
    ] {
        let mut message = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        message.extend_from_slice(body);
        let (report, heads, stream) = parse_one(Direction::Response, &message);
        assert_eq!(heads.len(), 1, "the head itself is counted");
        assert_eq!(
            report.unparsed,
            Unparsed::NotHttp as u32,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(stream.mode, STREAM_LOST);
    }
}

#[test]
fn close_delimited_bodies_count_the_head_then_lose_framing() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    feed(&mut conn, Direction::Request, GET, &mut out);
    feed(
        &mut conn,
        Direction::Response,
        b"HTTP/1.0 200 OK\r\n\r\nbody",
        &mut out,
    );
    assert_eq!(out.answered, vec![(Method::Get, 200)]);
    assert_eq!(out.unparsed, vec![Unparsed::UnknownLength]);
    feed(&mut conn, Direction::Request, GET, &mut out);
    feed(
        &mut conn,
        Direction::Response,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    assert_eq!(out.answered.len(), 1);
    assert_eq!(out.unparsed.last(), Some(&Unparsed::Unsynced));
}

#[test]
fn upgrades_and_tunnels_stop_parsing() {
    let (report, _, stream) = parse_one(
        Direction::Response,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    );
    assert_eq!(
        (report.count, report.unparsed),
        (1, Unparsed::Upgrade as u32)
    );
    assert_eq!(stream.mode, STREAM_LOST);
    let (report, _, _) = parse_one(Direction::Request, b"CONNECT db:5432 HTTP/1.1\r\n\r\n");
    assert_eq!(
        (report.count, report.unparsed),
        (1, Unparsed::Upgrade as u32)
    );
}

#[test]
fn responses_without_requests_are_not_paired() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    feed(&mut conn, Direction::Response, ok, &mut out);
    feed(&mut conn, Direction::Request, GET, &mut out);
    feed(&mut conn, Direction::Response, ok, &mut out);
    assert!(
        out.answered.is_empty(),
        "a later request must not be paired with a later response"
    );
    assert_eq!(out.unparsed, vec![Unparsed::NoRequest, Unparsed::Unsynced]);
}

#[test]
fn too_many_pending_requests_lose_the_request_direction() {
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    for _ in 0..10 {
        feed(&mut conn, Direction::Request, GET, &mut out);
    }
    assert_eq!(conn.tail, crate::http_stats::MAX_PENDING);
    assert_eq!(
        out.unparsed,
        vec![Unparsed::TooManyPending, Unparsed::Unsynced]
    );
}

#[test]
fn not_http() {
    for message in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\n\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    ] {
        let (report, _, stream) = parse_one(Direction::Request, message);
        assert_eq!(
            (report.count, report.unparsed),
            (0, Unparsed::NotHttp as u32),
            "{:?}",
            String::from_utf8_lossy(message)
        );
        assert_eq!(stream.mode, STREAM_LOST);
    }
    for message in [
        &b"HTTP/1.1 99 Low\r\n\r\n"[..],
        b"HTTP/1.1 600 High\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 20x OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"<html>",
    ] {
        let (report, _, _) = parse_one(Direction::Response, message);
        assert_eq!(report.unparsed, Unparsed::NotHttp as u32);
    }
    // Equal duplicate Content-Length values and an empty reason phrase are fine.
    let (report, _, _) = parse_one(
        Direction::Response,
        b"HTTP/1.1 204\r\nContent-Length: 0\r\ncontent-length: 0 \r\n\r\n",
    );
    assert_eq!((report.count, report.unparsed), (1, 0));
}

#[test]
fn what_lies_beyond_the_read_budget_is_reported() {
    let mut long = b"GET /".to_vec();
    long.extend(std::iter::repeat_n(b'a', READ_BUDGET));
    long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    let (report, _, _) = parse_one(Direction::Request, &long);
    assert_eq!(report.unparsed, Unparsed::HeadTooLong as u32);

    // Bodies are skipped, not read: a head after a long body in the same message is counted.
    let mut message = b"POST / HTTP/1.1\r\nContent-Length: 6000\r\n\r\n".to_vec();
    message.extend(std::iter::repeat_n(b'x', 6000));
    message.extend_from_slice(GET);
    let (report, _, _) = parse_one(Direction::Request, &message);
    assert_eq!((report.count, report.unparsed), (2, 0));

    // Every chunk's size line costs a read of its own: more chunks in one message than the
    // budget has reads is reported.
    let mut message = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..MAX_CHUNKS {
        message.extend_from_slice(b"64\r\n");
        message.extend(std::iter::repeat_n(b'z', 100));
        message.extend_from_slice(b"\r\n");
    }
    message.extend_from_slice(b"0\r\n\r\n");
    let (report, _, _) = parse_one(Direction::Response, &message);
    assert_eq!(
        (report.count, report.unparsed),
        (1, Unparsed::BeyondWindow as u32)
    );

    // A fifth head in one message.
    let five = GET.repeat(5);
    let (report, _, _) = parse_one(Direction::Request, &five);
    assert_eq!(
        (report.count, report.unparsed),
        (4, Unparsed::BeyondWindow as u32)
    );

    // The window follows the end of a body: a head at 700 in a later message is read.
    let mut conn = HttpConnection::new(1);
    let mut out = Collected::default();
    feed(
        &mut conn,
        Direction::Request,
        b"POST / HTTP/1.1\r\nContent-Length: 700\r\n\r\n",
        &mut out,
    );
    let mut later = vec![b'y'; 700];
    later.extend_from_slice(GET);
    feed(&mut conn, Direction::Request, &later, &mut out);
    assert_eq!(conn.tail, 2);
    assert!(out.unparsed.is_empty(), "{out:?}");
}

// ---- Properties -------------------------------------------------------------------------------

/// One request/response exchange of a generated stream.
#[derive(Clone, Debug)]
struct Exchange {
    method: Method,
    request_body: usize,
    status: u16,
    response_body: usize,
    extra_headers: usize,
    /// Chunked bodies: the sizes of the chunks (empty: Content-Length), for the request's
    /// body and the response's.
    request_chunks: Vec<usize>,
    response_chunks: Vec<usize>,
}

fn method_strategy() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Other,
    ])
}

/// Chunk sizes of a chunked body (none, one, a few), or empty for Content-Length.
fn chunks_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::collection::vec(1usize..600, 0..5),
    ]
}

fn exchange_strategy() -> impl Strategy<Value = Exchange> {
    (
        method_strategy(),
        0usize..300,
        prop::sample::select(vec![200u16, 201, 204, 301, 304, 400, 404, 500, 503]),
        0usize..700,
        0usize..4,
        chunks_strategy(),
        chunks_strategy(),
    )
        .prop_map(
            |(
                method,
                request_body,
                status,
                response_body,
                extra_headers,
                request_chunks,
                response_chunks,
            )| Exchange {
                method,
                request_body,
                status,
                response_body,
                extra_headers,
                request_chunks,
                response_chunks,
            },
        )
}

/// A chunked body of chunks of these sizes, each with bytes that look like heads and chunk
/// lines, and, for some, an extension; then the last chunk and, sometimes, a trailer.
fn chunked_body(sizes: &[usize]) -> Vec<u8> {
    let filler = b"0\r\n\r\nHTTP/1.1 200 OK\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    let mut body = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        if i % 2 == 1 {
            body.extend_from_slice(format!("{size:X};ext={i}\r\n").as_bytes());
        } else {
            body.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        }
        body.extend(filler.iter().copied().cycle().skip(i).take(*size));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    if sizes.len() % 2 == 1 {
        body.extend_from_slice(b"X-Trailer: t\r\n");
    }
    body.extend_from_slice(b"\r\n");
    body
}

impl Exchange {
    fn request(&self) -> Vec<u8> {
        let name = match self.method {
            Method::Other => "PURGE",
            other => other.name(),
        };
        let mut text = format!("{name} /r/{} HTTP/1.1\r\nHost: svc\r\n", self.request_body);
        for i in 0..self.extra_headers {
            text.push_str(&format!("X-Extra-{i}: value {i}\r\n"));
        }
        if !self.request_chunks.is_empty() {
            text.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut bytes = text.into_bytes();
            bytes.extend(chunked_body(&self.request_chunks));
            return bytes;
        }
        if self.request_body > 0 {
            text.push_str(&format!("Content-Length: {}\r\n", self.request_body));
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        // Bodies that look like heads must not be taken for heads.
        bytes.extend(GET.iter().copied().cycle().take(self.request_body));
        bytes
    }

    fn response(&self) -> Vec<u8> {
        let no_body = self.method == Method::Head || self.status == 204 || self.status == 304;
        let body = if self.status == 204 || self.status == 304 {
            0
        } else {
            self.response_body
        };
        let chunked = !self.response_chunks.is_empty() && self.status != 204 && self.status != 304;
        let mut text = if chunked {
            format!(
                "HTTP/1.1 {} Whatever\r\ntransfer-encoding: chunked\r\n",
                self.status
            )
        } else {
            format!(
                "HTTP/1.1 {} Whatever\r\ncontent-length: {body}\r\n",
                self.status
            )
        };
        for i in 0..self.extra_headers {
            text.push_str(&format!("x-extra-{i}:{i}\r\n"));
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        if chunked {
            if !no_body {
                bytes.extend(chunked_body(&self.response_chunks));
            }
            return bytes;
        }
        if !no_body {
            bytes.extend(
                b"HTTP/1.1 200 OK\r\n\r\n"
                    .iter()
                    .copied()
                    .cycle()
                    .take(body),
            );
        }
        bytes
    }
}

/// Cuts `stream` into messages at the given fractions (`cuts` empty: one message per piece).
fn cut(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut messages = Vec::new();
    let mut last = 0;
    for point in points.into_iter().chain([stream.len()]) {
        if point > last {
            messages.push(stream[last..point].to_vec());
            last = point;
        }
    }
    messages
}

fn truth(exchanges: &[Exchange]) -> Vec<(Method, u16)> {
    exchanges.iter().map(|e| (e.method, e.status)).collect()
}

fn assert_prefix_or_reported(out: &Collected, exchanges: &[Exchange]) -> Result<(), TestCaseError> {
    let truth = truth(exchanges);
    prop_assert!(
        out.answered.len() <= truth.len() && out.answered[..] == truth[..out.answered.len()],
        "counted {:?}, truth {:?}",
        out.answered,
        truth
    );
    if out.answered.len() < truth.len() {
        prop_assert!(!out.unparsed.is_empty(), "requests went uncounted silently");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Whole writes (one head and its body per message, as clients and servers write them):
    /// every exchange is counted exactly, nothing is reported unparsed.
    #[test]
    fn whole_messages_are_counted_exactly(exchanges in prop::collection::vec(exchange_strategy(), 1..12)) {
        let mut conn = HttpConnection::new(1);
        let mut out = Collected::default();
        for exchange in &exchanges {
            feed(&mut conn, Direction::Request, &exchange.request(), &mut out);
            feed(&mut conn, Direction::Response, &exchange.response(), &mut out);
        }
        prop_assert_eq!(&out.answered, &truth(&exchanges));
        prop_assert!(out.unparsed.is_empty(), "{:?}", out.unparsed);
    }

    /// Streams cut anywhere, requests pipelined ahead of responses: what is counted is always a
    /// prefix of the truth, and anything left out was reported.
    #[test]
    fn streams_cut_anywhere_never_miscount(
        exchanges in prop::collection::vec(exchange_strategy(), 1..10),
        request_cuts in prop::collection::vec(any::<usize>(), 0..12),
        response_cuts in prop::collection::vec(any::<usize>(), 0..12),
        pipelined in any::<bool>(),
    ) {
        let requests: Vec<u8> = exchanges.iter().flat_map(Exchange::request).collect();
        let responses: Vec<u8> = exchanges.iter().flat_map(Exchange::response).collect();
        let mut conn = HttpConnection::new(1);
        let mut out = Collected::default();
        let request_messages = cut(&requests, &request_cuts);
        let response_messages = cut(&responses, &response_cuts);
        if pipelined {
            // Every request first: more than MAX_PENDING outstanding is reported, not guessed.
            for message in &request_messages {
                feed(&mut conn, Direction::Request, message, &mut out);
            }
            for message in &response_messages {
                feed(&mut conn, Direction::Response, message, &mut out);
            }
        } else {
            // Causal order: a response message goes after every request message holding a byte
            // of the request it (first) answers.
            let request_ends: Vec<usize> = exchanges
                .iter()
                .scan(0, |end, e| { *end += e.request().len(); Some(*end) })
                .collect();
            let response_starts: Vec<usize> = exchanges
                .iter()
                .scan(0, |start, e| { let s = *start; *start += e.response().len(); Some(s) })
                .collect();
            let mut fed_requests = 0;
            let mut request_offset = 0;
            let mut response_offset = 0;
            for message in &response_messages {
                let exchange = response_starts.iter().rposition(|s| *s <= response_offset).unwrap_or(0);
                while request_offset < request_ends[exchange] && fed_requests < request_messages.len() {
                    feed(&mut conn, Direction::Request, &request_messages[fed_requests], &mut out);
                    request_offset += request_messages[fed_requests].len();
                    fed_requests += 1;
                }
                feed(&mut conn, Direction::Response, message, &mut out);
                response_offset += message.len();
            }
        }
        assert_prefix_or_reported(&out, &exchanges)?;
    }

    /// Streams cut anywhere but inside a head, in causal order: bodies and chunk framing cut
    /// anywhere are followed exactly, so every exchange is counted and nothing is reported.
    #[test]
    fn bodies_and_chunks_cut_anywhere_are_followed_exactly(
        exchanges in prop::collection::vec(exchange_strategy(), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut conn = HttpConnection::new(1);
        let mut out = Collected::default();
        for exchange in &exchanges {
            for (direction, bytes) in [
                (Direction::Request, exchange.request()),
                (Direction::Response, exchange.response()),
            ] {
                let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                // The head whole in the first message, the rest cut at the generated points.
                let points: Vec<usize> = cuts
                    .iter()
                    .map(|c| head_end + c % (bytes.len() - head_end + 1))
                    .chain([head_end])
                    .collect();
                for message in cut(&bytes, &points) {
                    feed(&mut conn, direction, &message, &mut out);
                }
            }
        }
        prop_assert_eq!(&out.answered, &truth(&exchanges));
        prop_assert!(out.unparsed.is_empty(), "{:?}", out.unparsed);
    }

    /// Control bytes (never valid in a head) where a head is expected or inside a head: no
    /// wrong count, and the loss is reported. (Bytes inserted into a body change its length
    /// behind Content-Length's back, and printable bytes inserted into a head can make another
    /// valid head: no parser can tell either from what was sent; not generated here.)
    #[test]
    fn injected_garbage_is_reported(
        exchanges in prop::collection::vec(exchange_strategy(), 1..6),
        garbage in prop::collection::vec(
            prop::sample::select((0u8..0x20).chain([0x7f]).filter(|b| !matches!(b, b'\t' | b'\n' | b'\r')).collect::<Vec<u8>>()),
            1..40,
        ),
        which in any::<usize>(),
        at in any::<usize>(),
        into_requests in any::<bool>(),
    ) {
        let mut requests = Vec::new();
        let mut responses = Vec::new();
        let mut head_spans = Vec::new();
        for exchange in &exchanges {
            let (target, bytes) = if into_requests {
                (&mut requests, exchange.request())
            } else {
                (&mut responses, exchange.response())
            };
            let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            head_spans.push((target.len(), head_len));
            target.extend_from_slice(&bytes);
            let other = if into_requests { &mut responses } else { &mut requests };
            other.extend(if into_requests { exchange.response() } else { exchange.request() });
        }
        let (head_start, head_len) = head_spans[which % head_spans.len()];
        let at = head_start + at % head_len;
        let target = if into_requests { &mut requests } else { &mut responses };
        let tail = target.split_off(at);
        target.extend_from_slice(&garbage);
        target.extend_from_slice(&tail);
        let mut conn = HttpConnection::new(1);
        let mut out = Collected::default();
        feed(&mut conn, Direction::Request, &requests, &mut out);
        feed(&mut conn, Direction::Response, &responses, &mut out);
        assert_prefix_or_reported(&out, &exchanges)?;
    }

    /// Arbitrary bytes in arbitrary pieces: no panic, no read outside the window (checked by
    /// `feed`), and a stream state that stays consistent.
    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        response in any::<bool>(),
    ) {
        let direction = if response { Direction::Response } else { Direction::Request };
        let mut conn = HttpConnection::new(1);
        let mut out = Collected::default();
        for message in cut(&data, &cuts) {
            feed(&mut conn, direction, &message, &mut out);
            let stream = if response { conn.responses } else { conn.requests };
            prop_assert!(stream.mode <= STREAM_IN_FRAMING);
            prop_assert!(
                matches!(stream.mode, STREAM_IN_BODY | STREAM_IN_FRAMING) || stream.remaining == 0
            );
            prop_assert!(stream.state == 0 || stream.state as usize >= CH_FIRST as usize);
        }
    }

    /// Arbitrary printable heads built from HTTP-ish pieces, the fuzz target closest to real
    /// traffic: never a panic, and any reported head is really in the input.
    #[test]
    fn httpish_pieces_never_panic(pieces in prop::collection::vec(prop::sample::select(vec![
        "GET", "POST", " ", "/", "HTTP/1.1", "HTTP/1.0", "\r\n", "\r", "\n", ":", "Content-Length",
        "content-length: 5", "Transfer-Encoding: chunked", "200", "OK", "HTTP/1.1 200 OK", "12345",
        "\r\n\r\n", "x",
    ]), 0..60), cuts in prop::collection::vec(any::<usize>(), 0..6), response in any::<bool>()) {
        let data: Vec<u8> = pieces.concat().into_bytes();
        let direction = if response { Direction::Response } else { Direction::Request };
        let mut stream = StreamState::default();
        let mut scratch = LoopState::EMPTY;
        for message in cut(&data, &cuts) {
            let len = message.len() as u64;
            let start = window_start(&stream, len) as usize;
            let window = &message[start.min(message.len())..];
            let report = parse_message(
                direction,
                &mut stream,
                window,
                len,
                PendingMethods::NONE,
                &mut scratch,
            );
            prop_assert!(report.count as usize <= MAX_HEADS_PER_MESSAGE);
        }
    }
}
