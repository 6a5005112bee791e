//! The signup application's worker: `SendWelcome` (an async job with retries and hooks)
//! and `SendTips` (delayed three days by the welcome's `after_perform`), with their
//! `Mailer` made in the process that runs the job, the queues and namespace set in code.
//! Every `resque-worker` flag and environment variable still works, and overrides the
//! code. Run `resque-scheduler -N signup` beside it to move the delayed tips (and the
//! retries) when they are due.
//!
//! ```text
//! APP_REDIS_URL=redis://localhost:6379/1 cargo run -p resque --example signup_worker -- -v
//! ```

#[path = "signup/app.rs"]
mod app;

use std::time::Duration;

fn main() -> std::process::ExitCode {
    resque::worker::Builder::cli()
        .job::<app::SendWelcome>()
        .job::<app::SendTips>()
        // After the fork (or once, with FORK_PER_JOB=false): a pool is not fork-safe.
        .state(|| {
            let url = std::env::var("APP_REDIS_URL")
                .unwrap_or_else(|_| "redis://localhost:6379/1".to_owned());
            app::Mailer::relay(&url)
        })
        .queues(["mail"])
        .namespace("signup")
        .interval(Duration::from_secs(1))
        .main()
}
