//! A worker binary with Rust jobs: the jobs Ruby's peer harness defines (`jobs.rb`), with the
//! same semantics, for demos, benchmarks and cross-language tests.
//!
//! `cargo run -p resque --example worker -- --queues noop,fail,sleep,file_serve`
//! (every `resque-worker` flag and environment variable works).

use resque::Value;
use resque::prelude::*;
use resque::protocol::json::ruby_inspect;

/// Does nothing: the throughput benchmark job.
struct NoopJob;
impl Job for NoopJob {
    const CLASS: &'static str = "NoopJob";
    const QUEUE: &'static str = "noop";
    type Args = Vec<Value>;
    fn perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

/// Always fails with `RuntimeError: FailJob failed: <args.inspect>`.
struct FailJob;
impl Job for FailJob {
    const CLASS: &'static str = "FailJob";
    const QUEUE: &'static str = "fail";
    type Args = Vec<Value>;
    fn perform(args: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        Err(JobError::msg(format!(
            "FailJob failed: {}",
            ruby_inspect(&Value::Array(args.clone()))
        )))
    }
}

/// Sleeps `args[0]` seconds (default 5): catches a worker mid-job.
struct SleepJob;
impl Job for SleepJob {
    const CLASS: &'static str = "SleepJob";
    const QUEUE: &'static str = "sleep";
    type Args = Vec<Value>;
    fn perform(args: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        let secs = args
            .first()
            .and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(5.0);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
        Ok(())
    }
}

/// The README's job: `Archive.perform(repo_id, branch = 'master')`.
struct Archive;
impl Job for Archive {
    const CLASS: &'static str = "Archive";
    const QUEUE: &'static str = "file_serve";
    type Args = Vec<Value>;
    fn perform(args: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        if args.is_empty() || args.len() > 2 {
            return Err(JobError::new(
                "ArgumentError",
                format!(
                    "wrong number of arguments (given {}, expected 1..2)",
                    args.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Fails with a custom exception class and a non-ASCII message.
struct UnicodeFailJob;
impl Job for UnicodeFailJob {
    const CLASS: &'static str = "UnicodeFailJob";
    const QUEUE: &'static str = "fail";
    type Args = Vec<Value>;
    fn perform(args: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        Err(JobError::new(
            "CustomError",
            format!(
                "boom \u{e9}\u{2603} {}",
                ruby_inspect(&Value::Array(args.clone()))
            ),
        ))
    }
}

fn main() -> std::process::ExitCode {
    resque::worker::Builder::cli()
        .job::<NoopJob>()
        .job::<FailJob>()
        .job::<SleepJob>()
        .job::<Archive>()
        .job::<UnicodeFailJob>()
        .main()
}
