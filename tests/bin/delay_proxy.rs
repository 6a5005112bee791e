//! `resque-delay-proxy`: a TCP proxy that adds a fixed delay to every round trip to Redis
//! (`resque_test_support::DelayProxy`), for the latency benchmarks: point the workers and
//! `redis-benchmark` at the port it prints, and compare.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Adds DELAY milliseconds to every request on its way to Redis at UPSTREAM; prints the
/// port it listens on (loopback), then serves until killed.
#[derive(Debug, Parser)]
struct Args {
    /// Redis, as host:port.
    #[arg(long)]
    upstream: std::net::SocketAddr,
    /// The added delay per round trip, in milliseconds (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    delay_ms: f64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let Ok(delay) = Duration::try_from_secs_f64(a.delay_ms / 1000.0) else {
        eprintln!(
            "resque-delay-proxy: --delay-ms must be a number from 0, got {}",
            a.delay_ms
        );
        return ExitCode::FAILURE;
    };
    match resque_test_support::DelayProxy::start(a.upstream, delay) {
        Ok(p) => {
            println!("{}", p.addr().port());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("resque-delay-proxy: cannot listen: {e}");
            ExitCode::FAILURE
        }
    }
}
