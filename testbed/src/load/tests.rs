//! The generator against small HTTP servers on loopback, each with a behaviour a wrong
//! generator would mis-measure.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use super::*;

/// Serves GET requests on loopback, one thread per connection; `answer(n)` gives the n-th
/// request's (status, delay before answering).
fn server(answer: impl Fn(u64) -> (u16, Duration) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    let count = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (answer, count) = (answer.clone(), count.clone());
            std::thread::spawn(move || serve(stream, &*answer, &count));
        }
    });
    address
}

fn serve(mut stream: TcpStream, answer: &dyn Fn(u64) -> (u16, Duration), count: &AtomicU64) {
    stream.set_nodelay(true).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            buffer.drain(..end + 4);
            let (status, delay) = answer(count.fetch_add(1, Ordering::SeqCst));
            std::thread::sleep(delay);
            let response = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok");
            if stream.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn spec(address: SocketAddr, rate: f64) -> LoadSpec {
    LoadSpec {
        warmup: Duration::from_millis(200),
        duration: Duration::from_secs(1),
        drain: Duration::from_millis(500),
        cpu: None,
        ..LoadSpec::new(address, rate)
    }
}

#[test]
fn a_fast_server_gets_the_offered_rate_without_errors() {
    let address = server(|_| (200, Duration::ZERO));
    let report = run(&LoadSpec {
        arrivals: Arrivals::Constant,
        ..spec(address, 2000.0)
    })
    .unwrap();
    assert_eq!(report.errors, Errors::default());
    assert!((1990..=2000).contains(&report.scheduled), "{report:?}");
    assert_eq!(report.completed, report.scheduled);
    assert!((report.throughput_rps - 2000.0).abs() < 60.0, "{report:?}");
    assert!(report.latency_us.p50_us > 0.0 && report.latency_us.p50_us < 5_000.0);
    assert!(report.latency_us.p50_us <= report.latency_us.p99_us);
}

/// One connection and a server that stalls once for 300 ms: every request meant to go out
/// during the stall waits for it, so about 300 of the 1000 measured requests are slow. A
/// closed-loop generator would see one slow request and a p90 of microseconds.
#[test]
fn a_stall_delays_every_request_intended_during_it() {
    let address = server(|n| {
        let stall = if n == 500 {
            Duration::from_millis(300)
        } else {
            Duration::ZERO
        };
        (200, stall)
    });
    let report = run(&LoadSpec {
        arrivals: Arrivals::Constant,
        connections: 1,
        ..spec(address, 1000.0)
    })
    .unwrap();
    assert_eq!(report.errors.total(), 0, "{report:?}");
    assert!(report.latency_us.p90_us > 50_000.0, "{report:?}");
    assert!(report.latency_us.max_us > 290_000.0, "{report:?}");
    assert!(report.queued_max > 200, "{report:?}");
}

#[test]
fn new_connections_per_request_work_too() {
    let address = server(|_| (200, Duration::ZERO));
    let report = run(&LoadSpec {
        new_connection_per_request: true,
        ..spec(address, 500.0)
    })
    .unwrap();
    assert_eq!(report.errors, Errors::default(), "{report:?}");
    assert!(report.completed > 400, "{report:?}");
}

#[test]
fn error_statuses_and_unanswered_requests_are_counted() {
    let address = server(|n| (if n % 2 == 0 { 200 } else { 503 }, Duration::ZERO));
    let report = run(&spec(address, 1000.0)).unwrap();
    let half = report.scheduled as f64 / 2.0;
    assert!(
        (report.errors.status as f64 - half).abs() < half * 0.1,
        "{report:?}"
    );
    assert_eq!(report.completed + report.errors.status, report.scheduled);

    // A server that answers nothing after its first 100 requests.
    let address = server(|n| {
        let delay = if n >= 100 {
            Duration::from_secs(3600)
        } else {
            Duration::ZERO
        };
        (200, delay)
    });
    let report = run(&LoadSpec {
        connections: 2,
        ..spec(address, 1000.0)
    })
    .unwrap();
    assert!(report.errors.timeout > 900, "{report:?}");
    assert_eq!(
        report.completed, 0,
        "the first 100 fall in the warm-up: {report:?}"
    );
}

#[test]
fn bad_specs_and_refused_connections_are_errors() {
    let address = server(|_| (200, Duration::ZERO));
    assert!(matches!(
        run(&spec(address, 0.0)),
        Err(LoadError::Invalid(_))
    ));
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(matches!(
        run(&spec(closed, 100.0)),
        Err(LoadError::Connect { .. })
    ));
}
