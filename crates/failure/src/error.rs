//! The error type of `resque-failure`.

/// Errors from the failure backends and the Failure API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis failed, or a record could not be encoded.
    #[error(transparent)]
    Store(#[from] resque_store::Error),
    /// A record could not be encoded.
    #[error(transparent)]
    Protocol(#[from] resque_protocol::Error),
    /// `FAILURE_BACKEND` (or a backend list) names something unknown.
    #[error(
        "invalid failure backend {0:?}: expected redis, redis_multi_queue, airbrake, or a comma list of them"
    )]
    UnknownBackend(String),
    /// The airbrake backend was named without its configuration.
    #[error("the airbrake failure backend needs AIRBRAKE_PROJECT_ID and AIRBRAKE_PROJECT_KEY")]
    AirbrakeNotConfigured,
    /// A bad notifier setting.
    #[error("bad airbrake setting: {0}")]
    AirbrakeConfig(String),
    /// The tracker could not be notified within the time and retries allowed.
    #[error("airbrake notify failed after {attempts} attempt(s): {last}")]
    Notify {
        /// How many POSTs were tried.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// Ruby's `ArgumentError, "invalid queue"`: the Redis backend has one list, `failed`.
    #[error("invalid queue: {0} (the redis failure backend has only the list \"failed\")")]
    InvalidQueue(String),
    /// No record at that index.
    #[error("no failure record at index {index} of {list}")]
    NoSuchRecord {
        /// The list.
        list: String,
        /// The index.
        index: u64,
    },
    /// The record at that index changed (another client removed or requeued one) before
    /// the operation could apply; nothing was changed. Reload and try again.
    #[error("the failure record at index {index} of {list} changed meanwhile; nothing was done")]
    Changed {
        /// The list.
        list: String,
        /// The index.
        index: u64,
    },
    /// A thread panicked while holding the filter index.
    #[error("the failure index lock was poisoned by a panic")]
    IndexPoisoned,
    /// The record is not a valid failure record, so it cannot be requeued.
    #[error("failure record at index {index} of {list} is corrupt: {reason}")]
    Corrupt {
        /// The list.
        list: String,
        /// The index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
