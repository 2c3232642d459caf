//! Calls to one downstream service: a keep-alive pool of exactly `connections_per_upstream`
//! HTTP/1.1 connections (a call waits for a free one, as an HTTP/1.1 client with a fixed pool
//! does), or, without connection reuse, a new connection per call that closes after its
//! response.

use std::{net::SocketAddrV4, sync::Mutex};

use http_body_util::{BodyExt as _, Full};
use hyper::{
    body::Bytes,
    client::conn::http1::{self, SendRequest},
    header, Method, Request, StatusCode,
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, sync::Semaphore};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("connect to {address}: {source}")]
    Connect {
        address: SocketAddrV4,
        source: std::io::Error,
    },
    #[error("HTTP to {address}: {source}")]
    Http {
        address: SocketAddrV4,
        source: hyper::Error,
    },
    #[error("{address} answered {status}")]
    Status {
        address: SocketAddrV4,
        status: StatusCode,
    },
}

pub struct Upstream {
    service: String,
    address: SocketAddrV4,
    reuse: bool,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    slots: Semaphore,
}

impl Upstream {
    pub fn new(service: &str, address: SocketAddrV4, reuse: bool, connections: u32) -> Self {
        Self {
            service: service.to_owned(),
            address,
            reuse,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(connections.max(1) as usize),
        }
    }

    /// One POST with `body`; the response's body is read to its end.
    pub async fn call(&self, body: Bytes) -> Result<(), CallError> {
        if !self.reuse {
            let mut sender = self.connect().await?;
            let mut request = self.request(body);
            request.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return self.exchange(&mut sender, request).await;
        }
        // Never closed, so acquiring cannot fail.
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut sender = match pooled {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        let result = self.exchange(&mut sender, self.request(body)).await;
        if result.is_ok() && !sender.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(sender);
        }
        result
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(header::HOST, self.service.as_str())
            .body(Full::new(body))
            .expect("a valid request")
    }

    async fn exchange(
        &self,
        sender: &mut SendRequest<Full<Bytes>>,
        request: Request<Full<Bytes>>,
    ) -> Result<(), CallError> {
        let http = |source| CallError::Http {
            address: self.address,
            source,
        };
        sender.ready().await.map_err(http)?;
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status();
        response.into_body().collect().await.map_err(http)?;
        if !status.is_success() {
            return Err(CallError::Status {
                address: self.address,
                status,
            });
        }
        Ok(())
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CallError> {
        let stream =
            TcpStream::connect(self.address)
                .await
                .map_err(|source| CallError::Connect {
                    address: self.address,
                    source,
                })?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|source| CallError::Http {
                    address: self.address,
                    source,
                })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
