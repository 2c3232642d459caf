//! Serves a prometheus-client [`Collector`] as OpenMetrics text at `GET /metrics` over HTTP, for
//! the node agent and the node proxy, each on a loopback address of its own. The collector is
//! asked at every scrape, so what it reads (maps, counters) is always current. Only loopback
//! addresses are meant to be used: callers check that before binding.

use std::{fmt, net::SocketAddr};

use prometheus_client::{collector::Collector, encoding::text::encode, registry::Registry};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};

/// Renders the metrics text once.
pub fn render<C: Collector + Clone + 'static>(collector: &C) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector.clone()));
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

/// Serves `GET /metrics` until the task is dropped.
pub async fn serve<C: Collector + Clone + Send + 'static>(listener: TcpListener, collector: C) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let collector = collector.clone();
        tokio::spawn(async move {
            let mut request = Vec::with_capacity(1024);
            let mut buffer = [0u8; 1024];
            // Read the request head only; bodies are not expected.
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let response = if request.starts_with(b"GET /metrics ")
                || request.starts_with(b"GET /metrics?")
            {
                match render(&collector) {
                    Ok(body) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Err(_) => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                }
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 22\r\nConnection: close\r\n\r\nonly /metrics is here\n".to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Binds the metrics listener; the caller has checked that the address is a loopback one.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

#[cfg(test)]
mod tests {
    use prometheus_client::{
        encoding::{DescriptorEncoder, EncodeMetric as _},
        metrics::{counter::ConstCounter, MetricType},
    };
    use tokio::net::TcpStream;

    use super::*;

    #[derive(Clone, Debug)]
    struct Seven;

    impl Collector for Seven {
        fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
            let family =
                encoder.encode_descriptor("things", "Things seen", None, MetricType::Counter)?;
            ConstCounter::new(7u64).encode(family)
        }
    }

    async fn get(address: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("response");
        response
    }

    #[test]
    fn serves_the_collector_at_metrics_and_nothing_elsewhere() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let listener = bind("127.0.0.1:0".parse().expect("address"))
                .await
                .expect("bind");
            let address = listener.local_addr().expect("address");
            tokio::spawn(serve(listener, Seven));
            let metrics = get(address, "/metrics").await;
            assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
            assert!(metrics.contains("\nthings_total 7\n"), "{metrics}");
            assert!(metrics.ends_with("# EOF\n"), "{metrics}");
            let other = get(address, "/").await;
            assert!(other.starts_with("HTTP/1.1 404 Not Found\r\n"), "{other}");
        });
    }
}
