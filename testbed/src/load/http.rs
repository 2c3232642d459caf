//! HTTP/1.1 on the wire for the load generator: the request bytes, written once and sent as
//! they are, and an incremental response reader (headers by `httparse`, a real parser, then a
//! `Content-Length` or chunked body) that says when a whole response has arrived.

/// The bytes of one request: `GET path` without a body, `POST path` with `body_bytes` bytes.
pub(crate) fn request(host: &str, path: &str, body_bytes: usize, close: bool) -> Vec<u8> {
    let connection = if close { "close" } else { "keep-alive" };
    let mut bytes = if body_bytes == 0 {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n")
            .into_bytes()
    } else {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body_bytes}\r\n\r\n"
        )
        .into_bytes()
    };
    bytes.extend(std::iter::repeat_n(b'x', body_bytes));
    bytes
}

/// A whole response at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Bytes of the buffer it took (headers and body).
    pub(crate) length: usize,
    /// The server will close the connection after it.
    pub(crate) close: bool,
}

/// Why a response cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ParseError {
    #[error("malformed response headers: {0}")]
    Headers(String),
    #[error("malformed chunked body")]
    Chunked,
    #[error("a response without Content-Length or chunked encoding (reading to the end of the connection is not supported)")]
    UnknownLength,
}

/// Reads a response from the start of `buffer`: `Ok(None)` when more bytes are needed.
pub(crate) fn parse_response(buffer: &[u8]) -> Result<Option<Response>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let header_length = match response.parse(buffer) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(ParseError::Headers(error.to_string())),
    };
    let status = response.code.unwrap_or(0);
    let mut content_length = None;
    let mut chunked = false;
    let mut close = response.version == Some(0);
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| ParseError::Headers(format!("Content-Length {value:?}")))?,
            );
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body = &buffer[header_length..];
    // 1xx, 204 and 304 have no body.
    let body_length = if (100..200).contains(&status) || status == 204 || status == 304 {
        Some(0)
    } else if chunked {
        chunked_length(body)?
    } else if let Some(n) = content_length {
        (body.len() >= n).then_some(n)
    } else {
        return Err(ParseError::UnknownLength);
    };
    Ok(body_length.map(|n| Response {
        status,
        length: header_length + n,
        close,
    }))
}

/// The length of a whole chunked body at the start of `body` (up to the empty last chunk and
/// its blank line, no trailers), or `None` when it has not all arrived.
fn chunked_length(body: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&body[at..]) else {
            return Ok(None);
        };
        let line =
            std::str::from_utf8(&body[at..at + line_end]).map_err(|_| ParseError::Chunked)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| ParseError::Chunked)?;
        at += line_end + 2;
        if size == 0 {
            // The last chunk: a blank line ends the body (trailers are not expected).
            return Ok((body.len() >= at + 2).then_some(at + 2));
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_and_a_post_are_well_formed() {
        let get = request("svc", "/x", 0, false);
        assert_eq!(
            get,
            b"GET /x HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n"
        );
        let post = request("svc", "/", 3, true);
        assert!(post.ends_with(b"Content-Length: 3\r\n\r\nxxx"));
        assert!(String::from_utf8_lossy(&post).contains("Connection: close"));
    }

    #[test]
    fn content_length_responses_complete_only_with_their_body() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..whole.len() {
            assert_eq!(parse_response(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        let mut two = whole.to_vec();
        two.extend_from_slice(whole);
        assert_eq!(
            parse_response(&two),
            Ok(Some(Response {
                status: 200,
                length: whole.len(),
                close: false
            }))
        );
    }

    #[test]
    fn chunked_responses_end_at_the_last_chunk() {
        let whole = b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse_response(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(
            parse_response(whole),
            Ok(Some(Response {
                status: 503,
                length: whole.len(),
                close: true
            }))
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(ParseError::UnknownLength)
        );
    }
}
