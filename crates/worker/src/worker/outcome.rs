//! [`Outcome`]: how a job ended, as the parent records it (from a child's exit status and
//! report, an in-process run, or an `--exec` program).

/// How a job ended, as the parent records it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// Performed, or skipped by `before_perform` (not a failure).
    Done,
    /// Failed: a failure record, and whether it counts in `stat:failed` (Ruby counts
    /// exceptions raised by the job, not dirty exits).
    Failed {
        exception: String,
        error: String,
        backtrace: Vec<String>,
        count_failed: bool,
    },
}

impl Outcome {
    pub(super) fn failed(exception: &str, error: impl Into<String>) -> Self {
        Self::Failed {
            exception: exception.to_owned(),
            error: error.into(),
            backtrace: Vec::new(),
            count_failed: true,
        }
    }
}
