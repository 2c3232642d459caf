//! The one request inside a tunnel: `CONNECT <address>:<port> HTTP/1.1`, as HBONE sends over
//! HTTP/2, and the status line that answers it, over HTTP/1.1 (one tunnel carries one
//! connection, so HTTP/2's streams would buy nothing). Heads are read byte by byte up to
//! [`MAX_HEAD`], so no byte of the tunneled stream is consumed with them.

use std::{io, net::SocketAddrV4};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The longest head accepted (requests and responses).
pub const MAX_HEAD: usize = 4096;

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() == MAX_HEAD {
            return Err(io::Error::other("head longer than 4096 bytes"));
        }
        head.push(stream.read_u8().await?);
    }
    Ok(head)
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

pub async fn write_request<S: AsyncWrite + Unpin>(
    stream: &mut S,
    target: SocketAddrV4,
) -> io::Result<()> {
    let head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await
}

/// Reads a CONNECT request and returns its target.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<SocketAddrV4> {
    let head = read_head(stream).await?;
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(invalid("not an HTTP/1.1 request head")),
    }
    if request.method != Some("CONNECT") {
        return Err(invalid(format!("method {:?}, not CONNECT", request.method)));
    }
    let target = request.path.unwrap_or_default();
    target.parse().map_err(|_| {
        invalid(format!(
            "CONNECT target {target:?} is not an IPv4 address:port"
        ))
    })
}

pub async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    reason: &str,
) -> io::Result<()> {
    let head = format!("HTTP/1.1 {status} {reason}\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await
}

/// Reads the response head and returns its status code.
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<u16> {
    let head = read_head(stream).await?;
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(invalid("not an HTTP/1.1 response head")),
    }
    response.code.ok_or_else(|| invalid("no status code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_and_its_answer_leave_the_stream_after_them_unread() {
        let target: SocketAddrV4 = "10.78.0.11:8080".parse().unwrap();
        let mut wire = Vec::new();
        write_request(&mut wire, target).await.unwrap();
        wire.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut reader = &wire[..];
        assert_eq!(read_request(&mut reader).await.unwrap(), target);
        assert_eq!(reader, b"GET / HTTP/1.1\r\n");

        let mut answer = Vec::new();
        write_response(&mut answer, 403, "Forbidden").await.unwrap();
        assert_eq!(read_response(&mut &answer[..]).await.unwrap(), 403);

        for bad in [
            &b"GET 10.78.0.11:8080 HTTP/1.1\r\n\r\n"[..],
            b"CONNECT example.test:80 HTTP/1.1\r\n\r\n",
            b"CONNECT [::1]:80 HTTP/1.1\r\n\r\n",
            b"CONNECT 10.78.0.11:8080 HTTP/1.1\r\n",
        ] {
            assert!(read_request(&mut &bad[..]).await.is_err(), "{bad:?}");
        }
        let endless = vec![b'a'; MAX_HEAD + 10];
        assert!(read_request(&mut &endless[..]).await.is_err());
    }
}
