//! A failure about to be recorded ([`NewFailure`]) and the [`Notifier`] trait: the bottom of
//! the crate, used by every backend.

use resque_protocol::{Failure, Value, time};

use crate::Result;

/// A failure about to be recorded: what a Ruby exception plus `Failure.create` carry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFailure {
    /// The job payload as it was taken from the queue.
    pub payload: Value,
    /// The exception class name (`RuntimeError`, `Resque::DirtyExit`).
    pub exception: String,
    /// The message.
    pub error: String,
    /// Backtrace frames, innermost first.
    pub backtrace: Vec<String>,
    /// The worker id.
    pub worker: String,
    /// The queue the job came from.
    pub queue: String,
}

impl NewFailure {
    /// The stored record, `failed_at` in the local zone as `now` gives it.
    pub fn to_record(&self, now: &jiff::Zoned) -> Failure {
        Failure {
            failed_at: time::failed_at(now),
            payload: self.payload.clone(),
            exception: self.exception.clone(),
            error: self.error.clone(),
            backtrace: filter_backtrace(&self.backtrace),
            worker: self.worker.clone(),
            queue: self.queue.clone(),
            retried_at: None,
        }
    }
}

/// Ruby's `filter_backtrace`: the frames before the first one inside Resque's own
/// `lib/resque/job.rb` (none when no frame is); frames from Rust jobs never contain it, so
/// they are kept whole.
fn filter_backtrace(frames: &[String]) -> Vec<String> {
    match frames.iter().position(|f| f.contains("/lib/resque/job.rb")) {
        Some(i) => frames[..i].to_vec(),
        None => frames.to_vec(),
    }
}

/// A backend that reports failures somewhere other than Redis (an error tracker, a log,
/// a chat room). It is called after the Redis members have stored the record, and must
/// bound its own time: the worker waits for it.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Reports one failure.
    fn notify(&self, failure: &NewFailure) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtraces_are_filtered_like_ruby() {
        let frames: Vec<String> = [
            "app/jobs.rb:14:in `perform'",
            "/gems/resque/lib/resque/job.rb:1:in `perform'",
            "x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(filter_backtrace(&frames), ["app/jobs.rb:14:in `perform'"]);
        assert_eq!(filter_backtrace(&frames[2..]), ["x"]);
    }
}
