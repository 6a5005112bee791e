//! The forking Resque worker (`resque-worker`), compatible with Ruby Resque 3.0.
//!
//! An application registers its job types and gets the whole `resque-worker` command line:
//!
//! ```no_run
//! # struct Archive;
//! # impl resque_store::Job for Archive {
//! #     const CLASS: &'static str = "Archive"; const QUEUE: &'static str = "file_serve";
//! #     type Args = (u64, String);
//! #     fn perform(_: &Self::Args, _: &mut resque_store::Context) -> Result<(), resque_store::JobError> { Ok(()) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     resque_worker::Builder::cli().job::<Archive>().main()
//! }
//! ```
//!
//! Parts: [`config`] (Ruby's environment variables, each also a flag), [`queues`]
//! (priorities, `*`, globs, `!negation`), [`fork`] (the only `fork()`, and its rules),
//! [`proctitle`] (titles `ps` shows whole), and the life cycle in [`Worker`].

pub mod config;
pub mod fork;
mod logging;
pub mod proctitle;
pub mod queues;
mod supervise;
mod wake;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use resque_store::{Job, Registry};

pub use config::{Args, Config, ConfigError};
pub use queues::{NoQueues, QueueSpec};
pub use worker::{Error, Hooks, JobInfo, Worker};

/// Builds a worker binary: job types and worker hooks, then [`Builder::main`].
#[derive(Debug, Default)]
pub struct Builder {
    registry: Registry,
    hooks: Hooks,
}

impl Builder {
    /// A worker with Ruby's command line and no job types yet.
    pub fn cli() -> Self {
        Self::default()
    }

    /// Registers a job type.
    pub fn job<J: Job>(mut self) -> Self {
        self.registry.register::<J>();
        self
    }

    /// `Resque.before_first_fork`: once, at start-up, before the worker registers.
    pub fn before_first_fork(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.before_first_fork.push(Box::new(f));
        self
    }

    /// `Resque.before_fork`: in the parent, before each job's child is forked.
    pub fn before_fork(mut self, f: impl for<'a> Fn(JobInfo<'a>) + Send + Sync + 'static) -> Self {
        self.hooks.before_fork.push(Box::new(f));
        self
    }

    /// `Resque.after_fork`: in the child, before the job runs.
    pub fn after_fork(mut self, f: impl for<'a> Fn(JobInfo<'a>) + Send + Sync + 'static) -> Self {
        self.hooks.after_fork.push(Box::new(f));
        self
    }

    /// `Resque.before_pause`: on USR2, given the worker id.
    pub fn before_pause(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.hooks.before_pause.push(Box::new(f));
        self
    }

    /// `Resque.after_pause`: on CONT, given the worker id.
    pub fn after_pause(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.hooks.after_pause.push(Box::new(f));
        self
    }

    /// `Resque.queue_empty`: when the worker goes from working to idle.
    pub fn queue_empty(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.queue_empty.push(Box::new(f));
        self
    }

    /// `Resque.worker_exit`: after the worker unregistered, as it exits.
    pub fn worker_exit(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.worker_exit.push(Box::new(f));
        self
    }

    /// `Resque.shutdown`: when QUIT, TERM or INT asks the worker to stop.
    pub fn shutdown(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.shutdown.push(Box::new(f));
        self
    }

    /// The entry point of a worker binary: parses the command line and environment, sets up
    /// logging on stdout (`VERBOSE`, `VVERBOSE`), takes over the process title, and runs.
    /// Exit status 0 on a clean stop, 1 on an error (printed on one line), 2 on bad usage.
    pub fn main(self) -> ExitCode {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let args = Args::parse();
        let config = match Config::try_from(args) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("resque-worker: {e}");
                return ExitCode::from(2);
            }
        };
        logging::init(config.verbose, config.very_verbose);
        if config.count > 1 {
            return supervise::supervise(config.count, &argv);
        }
        if config.background
            && let Err(e) = nix::unistd::daemon(true, true)
        {
            eprintln!("resque-worker: error: cannot go to the background: {e}");
            return ExitCode::from(1);
        }
        if let Some(path) = &config.pidfile
            && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
        {
            eprintln!(
                "resque-worker: error: cannot write PIDFILE {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
        // After parsing: the argv memory becomes the title.
        proctitle::init();
        let result = Worker::with_hooks(config.clone(), self.registry, self.hooks).run();
        if let Some(path) = &config.pidfile {
            let _ = std::fs::remove_file(path);
        }
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("resque-worker: error: {e}");
                ExitCode::from(1)
            }
        }
    }
}
