//! The scheduler library's one error type.

/// What can go wrong while scheduling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis failed, or refused a script.
    #[error(transparent)]
    Store(#[from] resque_store::Error),
    /// A failure record could not be written.
    #[error(transparent)]
    Failure(#[from] resque_failure::Error),
}

/// Result with the scheduler's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
