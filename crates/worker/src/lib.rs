//! The forking Resque worker (`resque-worker`), compatible with Ruby Resque 3.0.
//!
//! Built so far: the command line and its validation ([`config`]), with every Ruby
//! environment variable also a flag, and queue selection ([`queues`]: priorities, `*`,
//! globs, `!negation`), the fork boundary ([`fork`]) and process titles ([`proctitle`]).
//! The job loop, signals and registry follow the worker issue and
//! `shared/design/DECISIONS.md` §2.

pub mod config;
pub mod fork;
pub mod proctitle;
pub mod queues;

pub use config::{Args, Config, ConfigError};
pub use queues::{NoQueues, QueueSpec};
