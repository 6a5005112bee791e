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

mod builder;
pub mod config;
pub mod fork;
mod logging;
pub mod proctitle;
pub mod queues;
mod supervise;
mod wake;
mod worker;

pub use builder::Builder;
pub use config::{Args, Config, ConfigError, Metrics};
pub use queues::{NoQueues, QueueSpec};
pub use worker::{Error, Hooks, JobInfo, Worker};
