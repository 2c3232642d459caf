//! The server loop: accept, then per request the app time, the calls and the answer (module
//! documentation of `workload`).

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use http_body_util::{BodyExt as _, Full};
use hyper::{
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
    Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use rand::{Rng as _, SeedableRng as _};
use rand_xoshiro::Xoshiro256PlusPlus;
use sim::traffic::{CallMode, PayloadKind};

use super::{app_time, upstream::Upstream, WorkloadSpec};

struct App {
    spec: WorkloadSpec,
    upstreams: Vec<Arc<Upstream>>,
    rng: Mutex<Xoshiro256PlusPlus>,
}

impl App {
    fn uniform(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|p| p.into_inner()).gen()
    }

    /// A body of the configured size (drawn, for exponential payloads).
    fn payload(&self) -> Bytes {
        let mean = self.spec.payload_bytes as f64;
        let size = match self.spec.payload {
            PayloadKind::Fixed => mean,
            PayloadKind::Exponential => -(1.0 - self.uniform()).ln() * mean,
        };
        Bytes::from(vec![b'x'; size.round() as usize])
    }

    /// How many times to call each upstream this time.
    fn counts(&self) -> Vec<u32> {
        self.spec
            .calls
            .iter()
            .map(|call| call.count(self.uniform()))
            .collect()
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Err(error) = request.into_body().collect().await {
            return text(
                StatusCode::BAD_REQUEST,
                format!("reading the body: {error}\n"),
            );
        }
        app_time::burn(Duration::from_nanos(
            (self.spec.app_time_us * 1000.0).round() as u64,
        ));
        let counts = self.counts();
        let failure = match self.spec.call_mode {
            CallMode::Sequential => self.sequential(&counts).await,
            CallMode::Parallel => self.parallel(&counts).await,
        };
        match failure {
            None => Response::new(Full::new(self.payload())),
            Some(error) => text(StatusCode::BAD_GATEWAY, format!("{error}\n")),
        }
    }

    async fn sequential(&self, counts: &[u32]) -> Option<String> {
        for (upstream, &n) in self.upstreams.iter().zip(counts) {
            for _ in 0..n {
                if let Err(error) = upstream.call(self.payload()).await {
                    return Some(error.to_string());
                }
            }
        }
        None
    }

    async fn parallel(&self, counts: &[u32]) -> Option<String> {
        let mut calls = tokio::task::JoinSet::new();
        for (upstream, &n) in self.upstreams.iter().zip(counts) {
            for _ in 0..n {
                let upstream = upstream.clone();
                let body = self.payload();
                calls.spawn(async move { upstream.call(body).await });
            }
        }
        let mut failure = None;
        while let Some(done) = calls.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failure = failure.or(Some(error.to_string())),
                Err(error) => failure = failure.or(Some(error.to_string())),
            }
        }
        failure
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// Serves `spec` until killed, on one thread; prints `listening <address>` once it accepts.
pub fn serve(spec: WorkloadSpec) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let upstreams = spec
        .calls
        .iter()
        .map(|call| {
            Arc::new(Upstream::new(
                &call.service,
                call.address,
                spec.connection_reuse,
                spec.connections_per_upstream,
            ))
        })
        .collect();
    let listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, spec.port));
    let app = Arc::new(App {
        rng: Mutex::new(Xoshiro256PlusPlus::seed_from_u64(spec.seed)),
        spec,
        upstreams,
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening {}", listener.local_addr()?);
        use std::io::Write as _;
        std::io::stdout().flush()?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.handle(request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
