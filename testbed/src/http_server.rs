//! The HTTP/1.1 server of the HTTP visibility tests (`meshtwin-traffic http-server`), built on
//! hyper so that what the kernel parses comes from an implementation that is not the
//! project's own. Routes:
//!
//! - `/status/<code>`, any method: answers `<code>` (200-599), with a short body except for
//!   204 and 304 (and HEAD);
//! - `POST|PUT|PATCH /echo`: 200 with the request body;
//! - anything else: 404.

use std::{convert::Infallible, net::SocketAddr};

use http_body_util::{BodyExt as _, Full};
use hyper::{
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let response = if let Some(code) = path.strip_prefix("/status/") {
        match code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => {
                let body = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
                {
                    Bytes::new()
                } else {
                    Bytes::from(format!("status {}\n", status.as_u16()))
                };
                let mut response = Response::new(Full::new(body));
                *response.status_mut() = status;
                response
            }
            None => status_only(StatusCode::BAD_REQUEST),
        }
    } else if path == "/echo"
        && (method == Method::POST || method == Method::PUT || method == Method::PATCH)
    {
        match request.into_body().collect().await {
            Ok(body) => Response::new(Full::new(body.to_bytes())),
            Err(_) => status_only(StatusCode::BAD_REQUEST),
        }
    } else {
        status_only(StatusCode::NOT_FOUND)
    };
    Ok(response)
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"no\n")));
    *response.status_mut() = status;
    response
}

/// Serves until killed; prints "listening <address>" once it accepts connections.
pub fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening {}", listener.local_addr()?);
        use std::io::Write as _;
        std::io::stdout().flush()?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    })
}
