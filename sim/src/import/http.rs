//! The one HTTP request `sim import --prometheus` makes: a GET over plain HTTP/1.1 with
//! `Connection: close`, on std's sockets (a Prometheus server on a trusted network, or
//! `kubectl port-forward` to one, answers plain HTTP; HTTPS is not spoken).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for the connection and for each read.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The body of `GET base/path?query`, when the server answers 200; otherwise what went wrong
/// (refused, timed out, another status with the start of its body).
pub fn get(base: &str, path: &str, query: &[(&str, &str)]) -> Result<String, String> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// URLs are supported (no TLS)".to_string())?;
    let (authority, prefix) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let address = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).ok();
    stream.set_write_timeout(Some(TIMEOUT)).ok();
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let host = authority.trim_end_matches(":80");
    let request = format!(
        "GET {prefix}{path}?{} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: meshtwin-sim-import\r\n\r\n",
        query.join("&")
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("cannot read the response: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "the response has no header".to_string())?;
    let status = head.lines().next().unwrap_or_default();
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    if status.split_whitespace().nth(1) != Some("200") {
        let start: String = body.chars().take(300).collect();
        return Err(format!("the server answered `{status}`: {start}"));
    }
    Ok(body)
}

/// Percent-encoding of a query value (RFC 3986's unreserved characters kept).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A chunked body's data.
fn dechunk(mut body: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body
            .split_once("\r\n")
            .ok_or_else(|| "a chunked body ends early".to_string())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("a chunk size `{size}` is not hexadecimal"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest
            .get(..size)
            .ok_or_else(|| "a chunk is shorter than its size".to_string())?;
        out.push_str(chunk);
        body = rest[size..].trim_start_matches("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_queries_and_reads_chunks() {
        assert_eq!(encode("rate(x[5m])"), "rate%28x%5B5m%5D%29");
        assert_eq!(
            dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            "abcde"
        );
        assert!(get("https://localhost", "/", &[])
            .unwrap_err()
            .contains("http://"));
    }
}
