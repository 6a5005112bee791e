//! Delayed and recurring Resque jobs: a scheduler compatible with resque-scheduler 5.0
//! (`resque-scheduler` binary and library).
//!
//! It moves jobs delayed with `enqueue_at`/`enqueue_in` (by Ruby or by
//! [`resque_store::Client::enqueue_at`]) to their queues when due, and fires `cron` and
//! `every` schedules from a YAML file and from Redis (`set_schedule`). It shares one master
//! lock with Ruby's schedulers, so one Redis may run both and exactly one moves and fires.
//!
//! Layout: [`config`] (Ruby's flags and variables), `lock` (the master lock and its value),
//! `schedule_file` (reading the YAML file), `recurring` (the loaded schedule and its fires),
//! `mover` (due items to their queues), `scheduler` (the loop and signals), `logging`.
//!
//! ```no_run
//! # struct Archive;
//! # impl resque_store::Job for Archive {
//! #     const CLASS: &'static str = "Archive"; const QUEUE: &'static str = "file_serve";
//! #     type Args = (u64,);
//! #     fn perform(_: &Self::Args, _: &mut resque_store::Context) -> Result<(), resque_store::JobError> { Ok(()) }
//! # }
//! // A scheduler that knows Archive's queue and runs its scheduling hooks.
//! fn main() -> std::process::ExitCode {
//!     resque_scheduler::Builder::cli().job::<Archive>().main()
//! }
//! ```

pub mod config;
mod error;
mod lock;
mod logging;
mod mover;
mod recurring;
mod schedule_file;
mod scheduler;

use std::process::ExitCode;

use resque_store::{Job, Registry};

pub use config::{Args, Config, ConfigError, LogFormat};
pub use error::{Error, Result};
pub use lock::{MasterLock, lock_value};
pub use mover::{Moved, Mover};
pub use recurring::{Entry, Schedule};
pub use scheduler::Scheduler;

/// A scheduler program: job types (for their queues and hooks), then [`Builder::main`].
#[derive(Debug, Default)]
pub struct Builder {
    registry: Registry,
}

impl Builder {
    /// A builder whose settings come from the command line and environment.
    pub fn cli() -> Self {
        Self::default()
    }

    /// Registers a job type: items and schedules of its class without a queue go to its
    /// queue, and its `before_schedule`, `before_delayed_enqueue`, enqueue and
    /// `after_schedule` hooks run when the scheduler enqueues it.
    pub fn job<J: Job>(mut self) -> Self {
        self.registry.register::<J>();
        self
    }

    /// The entry point of a scheduler binary: parses the command line, sets up logging,
    /// goes to the background with `-B`, writes the pidfile, takes over the process title
    /// and runs. Exit status 0 on TERM/INT/QUIT, 1 on an error (one line), 2 on bad usage.
    pub fn main(self) -> ExitCode {
        let config = match Config::parse_from(std::env::args_os()) {
            Ok(c) => c,
            Err(e) if e.use_stderr() => {
                let _ = e.print();
                return ExitCode::from(2);
            }
            Err(e) => {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
        };
        if let Err(e) = logging::init(&config) {
            eprintln!("resque-scheduler: error: {e}");
            return ExitCode::from(1);
        }
        // The schedule file is read before anything else: a bad one never takes the lock.
        let scheduler = match Scheduler::new(config.clone(), self.registry) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("resque-scheduler: error: {e}");
                return ExitCode::from(1);
            }
        };
        if config.background
            && let Err(e) = nix::unistd::daemon(true, !config.quiet)
        {
            eprintln!("resque-scheduler: error: cannot go to the background: {e}");
            return ExitCode::from(1);
        }
        if let Some(path) = &config.pidfile
            && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
        {
            eprintln!(
                "resque-scheduler: error: cannot write PIDFILE {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
        resque_worker::proctitle::init();
        let result = scheduler.run();
        if let Some(path) = &config.pidfile {
            let _ = std::fs::remove_file(path);
        }
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("resque-scheduler: error: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}
