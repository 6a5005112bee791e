//! `resque-chaos`: the chaos run at full size, several times, printing each run's figures and
//! every broken invariant (`scripts/chaos.sh` runs it; see `resque_e2e::chaos`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use resque_e2e::chaos::{self, Config};

/// Chaos against resque-rs workers, with the accounting checked at the end of each run.
#[derive(Debug, Parser)]
struct Args {
    /// Runs.
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// Jobs per run.
    #[arg(long, default_value_t = 3000)]
    jobs: u64,
    /// Seconds of chaos per run.
    #[arg(long, default_value_t = 45)]
    seconds: u64,
    /// Forking workers.
    #[arg(long, default_value_t = 3)]
    forking: usize,
    /// In-process workers.
    #[arg(long, default_value_t = 1)]
    in_process: usize,
    /// Reliable mode.
    #[arg(long)]
    reliable: bool,
    /// Do not restart redis-server half-way.
    #[arg(long)]
    no_restart: bool,
    /// The workers' heartbeat interval, in seconds.
    #[arg(long, default_value_t = 1)]
    heartbeat: u64,
    /// The first run's seed (each next run adds one).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run Ruby Resque 3.0's worker instead of ours: the Resque source tree.
    #[arg(long, requires_all = ["ruby_work_rb", "ruby_job_rb"])]
    ruby_resque_src: Option<std::path::PathBuf>,
    /// With --ruby-resque-src: the peer harness's work.rb.
    #[arg(long)]
    ruby_work_rb: Option<std::path::PathBuf>,
    /// With --ruby-resque-src: the Ruby ChaosJob (scripts/ruby/chaos_job.rb).
    #[arg(long)]
    ruby_job_rb: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let worker_bin = match std::env::current_exe() {
        Ok(me) => me.with_file_name("resque-test-worker"),
        Err(e) => {
            eprintln!("resque-chaos: cannot find its own path: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = 0;
    for i in 0..a.runs {
        let cfg = Config {
            worker_bin: worker_bin.clone(),
            jobs: a.jobs,
            duration: Duration::from_secs(a.seconds),
            forking: a.forking,
            in_process: a.in_process,
            reliable: a.reliable,
            restart_redis: !a.no_restart,
            heartbeat_secs: a.heartbeat,
            seed: a.seed + u64::from(i),
            ruby: a
                .ruby_resque_src
                .clone()
                .map(|resque_src| chaos::RubyWorker {
                    resque_src,
                    work_rb: a.ruby_work_rb.clone().unwrap_or_default(),
                    job_rb: a.ruby_job_rb.clone().unwrap_or_default(),
                }),
        };
        match chaos::run(&cfg) {
            Ok(report) => {
                let violations = report.violations();
                println!("run {}: {}", i + 1, report.summary());
                if !report.ran_twice.is_empty() {
                    println!("  ran twice (at least once): {:?}", report.ran_twice);
                }
                for v in &violations {
                    println!("  BROKEN: {v}");
                }
                for e in &report.evidence {
                    println!("  {e}");
                }
                if !violations.is_empty() {
                    failed += 1;
                }
            }
            Err(e) => {
                println!("run {}: could not run: {e:#}", i + 1);
                failed += 1;
            }
        }
    }
    println!(
        "{} of {} runs kept every invariant",
        a.runs - failed,
        a.runs
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
