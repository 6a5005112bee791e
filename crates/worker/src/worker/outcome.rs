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

impl Outcome {
    /// The one line a job gets with `VERBOSE`: Ruby's `done: (Job{queue} | Class)`, with
    /// the time it took and, for a failure, its exception and message.
    pub(super) fn log(&self, queue: &str, class: &str, took: std::time::Duration) {
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let ms = took.as_secs_f64() * 1000.0;
        // `job.` fields: the structured formats' one line a job (LOGFORMAT=json, logfmt).
        match self {
            Self::Done => tracing::info!(
                job.class = class,
                job.queue = queue,
                job.duration_ms = ms,
                job.outcome = "done",
                "done: (Job{{{queue}}} | {class}) in {ms:.1} ms"
            ),
            Self::Failed {
                exception, error, ..
            } => tracing::info!(
                job.class = class,
                job.queue = queue,
                job.duration_ms = ms,
                job.outcome = "failed",
                job.exception = exception.as_str(),
                job.error = error.as_str(),
                "failed: (Job{{{queue}}} | {class}) in {ms:.1} ms: {exception}: {error}"
            ),
        }
    }
}
