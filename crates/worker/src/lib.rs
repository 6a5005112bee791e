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
pub mod proctitle;
pub mod queues;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use resque_store::{Job, Registry};

pub use config::{Args, Config, ConfigError};
pub use queues::{NoQueues, QueueSpec};
pub use worker::{Error, Worker};

/// Builds a worker binary: job types, then [`Builder::main`].
#[derive(Debug, Default)]
pub struct Builder {
    registry: Registry,
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

    /// The entry point of a worker binary: parses the command line and environment, sets up
    /// logging on stdout (`VERBOSE`, `VVERBOSE`), takes over the process title, and runs.
    /// Exit status 0 on a clean stop, 1 on an error (printed on one line), 2 on bad usage.
    pub fn main(self) -> ExitCode {
        let args = Args::parse();
        let config = match Config::try_from(args) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("resque-worker: {e}");
                return ExitCode::from(2);
            }
        };
        let level = if config.very_verbose {
            tracing::Level::DEBUG
        } else if config.verbose {
            tracing::Level::INFO
        } else {
            tracing::Level::WARN
        };
        // A plain synchronous writer: no logging thread may exist at a fork.
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stdout)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init();
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
        let result = Worker::new(config.clone(), self.registry).run();
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
