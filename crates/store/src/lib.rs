//! The Resque client on Redis: connection strings, the queue, worker-registry and stats
//! operations of Ruby's `Resque::DataStore`, and Ruby's `Resque` module API on top.
//!
//! This is the only crate in resque-rs that talks to Redis (through `fred`). Key names and
//! byte formats come from `resque-protocol`; this crate decides which commands carry them,
//! and sends what Ruby Resque 3.0 sends, pipelined where Ruby pipelines.
//!
//! - [`Connection`]: every connection-string form Ruby accepts, plus unix, Sentinel, Cluster.
//! - [`Store`]: async data operations (`push`, `pop`, `queue_sizes`, `unregister_worker`...).
//! - [`Client`]: the `Resque` module (`enqueue`, `dequeue`, `info`, `working`...), with hooks
//!   and inline mode; [`blocking::Client`] for synchronous callers.
//! - resque-scheduler's delayed jobs ([`Client::enqueue_at`], [`Client::enqueue_in`]...) and
//!   stored schedules ([`Client::set_schedule`]), and the scheduler's side in [`Store`]
//!   ([`Store::due_batch`], [`Store::commit_moves`], the master lock, recurring fires).
//! - [`Job`] and [`AsyncJob`]: jobs written in Rust, their hooks, [`Registry`] (job types
//!   and the shared state jobs reach through [`Context`]).
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), resque_store::Error> {
//! let client = resque_store::Client::connect("localhost:6379/myapp").await?;
//! client.enqueue_to("file_serve", "Archive", vec![44.into(), "masterbrew".into()]).await?;
//! println!("{:?}", client.info().await?);
//! # Ok(()) }
//! ```

pub mod blocking;
mod client;
mod connection;
mod error;
pub mod job;
mod store;

pub use client::{Client, ClientBuilder, DelayedPeek, Info, PeekItem, Working};
pub use connection::Connection;
pub use error::{Error, Result};
pub use job::{AsyncJob, Context, Job, JobError, JobRuntime, Performed, Registry, RetryPolicy};
pub use store::{
    ClassTable, Committed, ConnectOptions, ConnectionNews, DayCounts, DueBatch, Finished, Fired,
    Held, InFlight, JobMetrics, KeyPage, KeyType, LockHeld, MoveAction, MoveGroup, QueueWaiter,
    RecordTo, Recovered, ReserveSection, Reserved, RetryDecision, RetryFailure, SectionReply,
    Store, WorkerDetails,
};
