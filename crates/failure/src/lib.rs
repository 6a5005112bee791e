//! Failure backends for resque-rs and Ruby's `Resque::Failure` API.
//!
//! - [`Backend`]: where failures are saved. `Redis` (the list `failed`, the default),
//!   `RedisMultiQueue` (`<queue>_failed` lists named in `failed_queues`), several at once
//!   (Ruby's `Multiple`), and an Airbrake v3 notifier ([`airbrake`], feature `airbrake`).
//!   Chosen by `FAILURE_BACKEND` names: [`Backend::from_names`].
//! - [`Failures`]: count, page, search, requeue, remove, clear... over the backend's lists,
//!   compatible with records written by Ruby Resque 3.0 and read by it.
//!
//! # Example
//! ```no_run
//! # async fn demo(store: resque_store::Store) -> Result<(), resque_failure::Error> {
//! use resque_failure::{Backend, Filter, Order};
//! let failures = Backend::redis().failures(store);
//! let page = failures.page(None, &Filter::class("Archive"), Order::Desc, 0, 20).await?;
//! for e in &page.entries {
//!     println!("{} {:?} {:?}", e.index, e.exception(), e.error());
//! }
//! failures.requeue_and_remove(0, None).await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "airbrake")]
pub mod airbrake;
mod api;
mod backend;
mod entry;
mod error;
mod filter;
mod index;
mod record;
mod unregister;

pub use api::{Failures, Order, Page};
pub use backend::{AirbrakeConfigArg, Backend, Member};
pub use entry::Entry;
pub use error::{Error, Result};
pub use filter::Filter;
pub use record::{NewFailure, Notifier};
pub use unregister::{DEFAULT_MAX_RECOVERIES, Departure};
