#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use resque_failure as failure;
#[doc(inline)]
pub use resque_protocol as protocol;
#[doc(inline)]
pub use resque_scheduler as scheduler;
#[doc(inline)]
pub use resque_store as store;
/// The resque-web dashboard (feature `web`): `resque::web::router(..)` to mount.
#[cfg(feature = "web")]
pub use resque_web as web;
#[doc(inline)]
pub use resque_worker as worker;

#[doc(inline)]
pub use resque_protocol::{
    DelayedItem, Failure, Keys, Payload, ScheduleConfig, Value, WorkerId, WorkingOn,
};
#[doc(inline)]
pub use resque_store::{
    AsyncJob, Client, ClientBuilder, ConnectOptions, Connection, Context, Error, Info, Job,
    JobError, JobRuntime, Performed, Registry, Result, RetryPolicy, Store, blocking,
};

/// The tokio the library runs on (current-thread runtimes, I/O and timers), so a small
/// program needs no tokio dependency of its own:
/// `#[resque::tokio::main(crate = "resque::tokio", flavor = "current_thread")]`. An
/// application with its own tokio (an axum server) just uses that one.
pub use tokio;

/// The repository README's Rust examples, compiled as doc tests (`rust,no_run` blocks).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

/// The types most applications touch.
pub mod prelude {
    pub use resque_store::{AsyncJob, Client, Context, Error, Job, JobError, Registry};
}
