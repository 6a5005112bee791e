//! Where failures are saved: Ruby's `Failure::Redis`, `Failure::RedisMultiQueue`,
//! `Failure::Multiple` and an Airbrake-style notifier.

use std::sync::Arc;

use resque_protocol::{Failure, Value, keys, time};
use resque_store::Store;

use crate::api::Failures;
use crate::{Error, Result};

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

/// One backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Member {
    /// `Failure::Redis`: `RPUSH failed`.
    Redis,
    /// `Failure::RedisMultiQueue`: `SADD failed_queues <q>_failed`, `RPUSH <q>_failed`.
    RedisMultiQueue,
    /// An Airbrake v3 notice per failure.
    #[cfg(feature = "airbrake")]
    Airbrake(Arc<crate::airbrake::Notifier>),
    /// Any other [`Notifier`].
    Custom(Arc<dyn Notifier>),
}

/// The configured failure backend: one member, or several (Ruby's `Failure::Multiple`:
/// save to all; queries and requeue go to the first; remove goes to all).
#[derive(Debug, Clone)]
pub struct Backend {
    members: Vec<Member>,
    url: Option<String>,
}

impl Default for Backend {
    fn default() -> Self {
        Self::redis()
    }
}

impl Backend {
    /// `Failure::Redis`, the default.
    pub fn redis() -> Self {
        Self {
            members: vec![Member::Redis],
            url: None,
        }
    }

    /// `Failure::RedisMultiQueue`.
    pub fn redis_multi_queue() -> Self {
        Self {
            members: vec![Member::RedisMultiQueue],
            url: None,
        }
    }

    /// `Failure.url`: where failures are browsed instead of resque-web's Failed page (Ruby's
    /// backends may define one; resque-web then redirects there).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// `Failure.url`, if set.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// `Failure::Multiple` with `classes = members` (at least one).
    pub fn multiple(members: Vec<Member>) -> Self {
        if members.is_empty() {
            return Self::redis();
        }
        Self { members, url: None }
    }

    /// Parses `FAILURE_BACKEND`: `redis` (or empty), `redis_multi_queue`, `airbrake`, or a
    /// comma list meaning Multiple in that order (`redis,airbrake`). `airbrake` needs its
    /// configuration.
    pub fn from_names(names: &str, airbrake: Option<AirbrakeConfigArg>) -> Result<Self> {
        let names = names.trim();
        if names.is_empty() {
            return Ok(Self::redis());
        }
        let mut members = Vec::new();
        for name in names.split(',').map(str::trim) {
            members.push(match name {
                "redis" => Member::Redis,
                "redis_multi_queue" => Member::RedisMultiQueue,
                #[cfg(feature = "airbrake")]
                "airbrake" => {
                    let config = airbrake.clone().ok_or(Error::AirbrakeNotConfigured)?;
                    Member::Airbrake(Arc::new(crate::airbrake::Notifier::new(config)?))
                }
                other => return Err(Error::UnknownBackend(other.to_owned())),
            });
        }
        #[cfg(not(feature = "airbrake"))]
        let _ = airbrake;
        Ok(Self { members, url: None })
    }

    /// Whether this is exactly the default Redis backend (the worker then writes the record
    /// in its after-job pipeline instead of calling [`Backend::save`]).
    pub fn is_redis_only(&self) -> bool {
        matches!(self.members.as_slice(), [Member::Redis])
    }

    /// The members, in order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Saves a failure to every member. Redis members come first, so the record is stored
    /// even when a tracker is down; a tracker's error is logged and returned after every
    /// member has been tried.
    pub async fn save(&self, store: &Store, failure: &NewFailure) -> Result<()> {
        let record = failure.to_record(&time::now());
        for member in &self.members {
            match member {
                Member::Redis => store.push_failure("failed", &record).await?,
                Member::RedisMultiQueue => {
                    let list = keys::failure_queue_name(&failure.queue);
                    store.set_add(&store.keys().failed_queues(), &list).await?;
                    store.push_failure(&list, &record).await?;
                }
                #[cfg(feature = "airbrake")]
                Member::Airbrake(_) => {}
                Member::Custom(_) => {}
            }
        }
        let mut first_error = None;
        for member in &self.members {
            let result = match member {
                #[cfg(feature = "airbrake")]
                Member::Airbrake(n) => n.notify(failure),
                Member::Custom(n) => n.notify(failure),
                Member::Redis | Member::RedisMultiQueue => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "failure recorded in Redis, but a notifier failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The Failure API (count, all, requeue, remove...) over this backend.
    pub fn failures(&self, store: Store) -> Failures {
        Failures::new(store, self)
    }
}

/// The notifier configuration `Backend::from_names` takes for `airbrake`.
#[cfg(feature = "airbrake")]
pub type AirbrakeConfigArg = crate::airbrake::Config;
/// Without the `airbrake` feature there is nothing to configure.
#[cfg(not(feature = "airbrake"))]
pub type AirbrakeConfigArg = ();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_like_failure_backend() -> Result<()> {
        assert!(matches!(
            Backend::from_names("", None)?.members(),
            [Member::Redis]
        ));
        assert!(matches!(
            Backend::from_names("redis", None)?.members(),
            [Member::Redis]
        ));
        assert!(matches!(
            Backend::from_names("redis_multi_queue", None)?.members(),
            [Member::RedisMultiQueue]
        ));
        assert!(matches!(
            Backend::from_names("redis, redis_multi_queue", None)?.members(),
            [Member::Redis, Member::RedisMultiQueue]
        ));
        let e = Backend::from_names("sentry", None).expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "invalid failure backend \"sentry\": expected redis, redis_multi_queue, airbrake, or a comma list of them"
        );
        #[cfg(feature = "airbrake")]
        assert!(matches!(
            Backend::from_names("redis,airbrake", None),
            Err(Error::AirbrakeNotConfigured)
        ));
        Ok(())
    }

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
