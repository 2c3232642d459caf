//! `meshtwin-traffic`: the traffic of the datapath tests and the benchmark, one process per
//! workload (so that each runs in its own cgroup and network namespace). See
//! `meshtwin_testbed::traffic` and `meshtwin_testbed::http_server`.

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use meshtwin_testbed::{http_server, traffic};

#[derive(Parser)]
#[command(
    name = "meshtwin-traffic",
    version,
    about = "Test and benchmark traffic for the meshtwin datapath"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Echo every byte of every connection back.
    EchoServer {
        #[arg(long)]
        listen: SocketAddr,
        /// Sleep this long before every read (a slow reader).
        #[arg(long)]
        slow_ms: Option<u64>,
    },
    /// Send messages and check that every byte comes back.
    EchoClient {
        #[arg(long)]
        connect: SocketAddr,
        #[arg(long)]
        source_port: Option<u16>,
        #[arg(long, default_value_t = 1)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        messages: usize,
        #[arg(long, default_value_t = 1)]
        min_size: usize,
        #[arg(long, default_value_t = 1024)]
        max_size: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Close with RST (no TIME_WAIT).
        #[arg(long)]
        reset: bool,
        /// Print "connected", wait for a line on stdin, exchange, print "exchanged N", wait
        /// for another line, close.
        #[arg(long)]
        handshake: bool,
        /// Half-close after sending and expect the server's FIN after the echo.
        #[arg(long)]
        half_close: bool,
    },
    /// Request/response round trips against an echo server; prints JSON.
    RrClient {
        #[arg(long)]
        connect: SocketAddr,
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long, default_value_t = 1.0)]
        warmup_secs: f64,
        #[arg(long, default_value_t = 5.0)]
        duration_secs: f64,
    },
    /// Answer every line with a name.
    NameServer {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        name: String,
    },
    /// Connect, print the peer address getpeername gives, ask for names.
    Ask {
        #[arg(long)]
        connect: SocketAddr,
        #[arg(long)]
        source_port: Option<u16>,
        #[arg(long, default_value_t = 1)]
        lines: usize,
    },
    /// Write raw HTTP on one connection (each --write is one write; `\r\n` is CRLF), then
    /// read responses and print their status codes.
    HttpRaw {
        #[arg(long)]
        connect: SocketAddr,
        #[arg(long = "write", required = true)]
        writes: Vec<String>,
        #[arg(long, default_value_t = 50)]
        pause_ms: u64,
        #[arg(long)]
        responses: usize,
    },
    /// Time `connect()`, `count` times (each connection reset at once); prints JSON.
    ConnectClient {
        #[arg(long)]
        connect: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Idle time between connections, so that the server side's work on one connection
        /// does not delay the next `connect()`.
        #[arg(long, default_value_t = 0)]
        pause_us: u64,
    },
    /// An HTTP/1.1 server (hyper): /status/<code>, /echo.
    HttpServer {
        #[arg(long)]
        listen: SocketAddr,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshtwin-traffic: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::EchoServer { listen, slow_ms } => {
            traffic::echo_server(listen, slow_ms.map(Duration::from_millis))
                .with_context(|| format!("echo server on {listen}"))
        }
        Command::EchoClient {
            connect,
            source_port,
            connections,
            messages,
            min_size,
            max_size,
            seed,
            reset,
            handshake,
            half_close,
        } => {
            let plan = traffic::EchoPlan {
                connect,
                source_port,
                connections,
                messages,
                min_size,
                max_size: max_size.max(min_size),
                seed,
                reset,
                handshake,
                half_close,
            };
            let bytes =
                traffic::echo_client(&plan).with_context(|| format!("echo to {connect}"))?;
            println!("ok {bytes} bytes echoed identically");
            let spurious = traffic::SPURIOUS_EAGAIN.load(std::sync::atomic::Ordering::Relaxed);
            println!("spurious-eagain {spurious}");
            Ok(())
        }
        Command::RrClient {
            connect,
            size,
            warmup_secs,
            duration_secs,
        } => {
            let result = traffic::request_response(
                connect,
                size,
                Duration::from_secs_f64(warmup_secs),
                Duration::from_secs_f64(duration_secs),
            )
            .with_context(|| format!("round trips to {connect}"))?;
            println!("{}", serde_json::to_string(&result)?);
            Ok(())
        }
        Command::NameServer { listen, name } => {
            traffic::name_server(listen, &name).with_context(|| format!("server on {listen}"))
        }
        Command::Ask {
            connect,
            source_port,
            lines,
        } => traffic::ask(connect, source_port, lines).with_context(|| format!("ask {connect}")),
        Command::HttpRaw {
            connect,
            writes,
            pause_ms,
            responses,
        } => {
            let writes: Vec<Vec<u8>> = writes
                .iter()
                .map(|w| w.replace("\\r", "\r").replace("\\n", "\n").into_bytes())
                .collect();
            traffic::http_raw(connect, &writes, Duration::from_millis(pause_ms), responses)
                .with_context(|| format!("HTTP to {connect}"))
        }
        Command::ConnectClient {
            connect,
            count,
            pause_us,
        } => {
            let times =
                traffic::connect_times(connect, count.max(1), Duration::from_micros(pause_us))
                    .with_context(|| format!("connections to {connect}"))?;
            println!("{}", serde_json::to_string(&times)?);
            Ok(())
        }
        Command::HttpServer { listen } => {
            http_server::serve(listen).with_context(|| format!("HTTP server on {listen}"))
        }
    }
}
