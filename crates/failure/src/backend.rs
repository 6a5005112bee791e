//! Where failures are saved: Ruby's `Failure::Redis`, `Failure::RedisMultiQueue`,
//! `Failure::Multiple` and an Airbrake-style notifier.

use std::sync::Arc;

use resque_protocol::{failure, keys, time};
use resque_store::Store;

use crate::record::{NewFailure, Notifier};
use crate::{Error, Result};

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
    max_recoveries: u32,
    /// resque-retry's `MultipleWithRetrySuppression` around the members.
    suppress_retries: bool,
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
            max_recoveries: crate::unregister::DEFAULT_MAX_RECOVERIES,
            suppress_retries: false,
        }
    }

    /// `Failure::RedisMultiQueue`.
    pub fn redis_multi_queue() -> Self {
        Self {
            members: vec![Member::RedisMultiQueue],
            url: None,
            max_recoveries: crate::unregister::DEFAULT_MAX_RECOVERIES,
            suppress_retries: false,
        }
    }

    /// `Failure.url`: where failures are browsed instead of resque-web's Failed page (Ruby's
    /// backends may define one; resque-web then redirects there).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// How often a reliable-mode job may be taken back from dead workers before it becomes
    /// a `Resque::PoisonJob` record instead ([`Backend::unregister_worker`]); default
    /// [`crate::DEFAULT_MAX_RECOVERIES`].
    pub fn with_max_recoveries(mut self, n: u32) -> Self {
        self.max_recoveries = n;
        self
    }

    /// See [`Backend::with_max_recoveries`].
    pub fn max_recoveries(&self) -> u32 {
        self.max_recoveries
    }

    /// resque-retry's `MultipleWithRetrySuppression` around this backend: while a job's
    /// retry is pending, its failure is kept only as `failure-<retry key>` (for twice the
    /// delay) instead of going to the members; its last failure goes to them as usual.
    pub fn with_retry_suppression(mut self, on: bool) -> Self {
        self.suppress_retries = on;
        self
    }

    /// Whether retries' failures are suppressed (see [`Backend::with_retry_suppression`]).
    pub fn suppresses_retries(&self) -> bool {
        self.suppress_retries
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
        Self {
            members,
            url: None,
            max_recoveries: crate::unregister::DEFAULT_MAX_RECOVERIES,
            suppress_retries: false,
        }
    }

    /// Parses `FAILURE_BACKEND`, for saving failures: `redis` (or empty),
    /// `redis_multi_queue`, `airbrake`, or a comma list meaning Multiple in that order
    /// (`redis,airbrake`). `airbrake` needs its configuration.
    pub fn from_names(names: &str, airbrake: Option<AirbrakeConfigArg>) -> Result<Self> {
        let (suppress, names) = suppression(names);
        let mut members = Vec::new();
        for name in parse_names(names)? {
            members.push(match name {
                Name::Redis => Member::Redis,
                Name::RedisMultiQueue => Member::RedisMultiQueue,
                #[cfg(feature = "airbrake")]
                Name::Airbrake => {
                    let config = airbrake.clone().ok_or(Error::AirbrakeNotConfigured)?;
                    Member::Airbrake(Arc::new(crate::airbrake::Notifier::new(config)?))
                }
                #[cfg(not(feature = "airbrake"))]
                Name::Airbrake => return Err(Error::AirbrakeNotConfigured),
            });
        }
        #[cfg(not(feature = "airbrake"))]
        let _ = airbrake;
        Ok(Self::multiple(members).with_retry_suppression(suppress))
    }

    /// Parses `FAILURE_BACKEND` for reading failures (the dashboard, the `resque`
    /// command): the same names as [`Backend::from_names`], but a notifier needs no
    /// settings, since nothing here saves a failure. A notifier named first means no
    /// records to list, as Ruby's Airbrake backend (`Multiple` queries its first member).
    pub fn for_reading(names: &str) -> Result<Self> {
        let (suppress, names) = suppression(names);
        let members = parse_names(names)?
            .into_iter()
            .map(|name| match name {
                Name::Redis => Member::Redis,
                Name::RedisMultiQueue => Member::RedisMultiQueue,
                Name::Airbrake => Member::Custom(Arc::new(ReadOnly)),
            })
            .collect();
        Ok(Self::multiple(members).with_retry_suppression(suppress))
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
        self.save_skipping(store, failure, None).await
    }

    /// The Redis list a record goes to when it must be written in the same step as
    /// something else (the unregistration of a dead worker): the first Redis member's
    /// (`failed`, or `<queue>_failed` with the name to add to `failed_queues`), or `failed`
    /// for a backend of notifiers only, as `resque remove` does.
    pub(crate) fn first_redis_list(&self, queue: &str) -> (String, Option<String>) {
        match self.members.iter().find_map(|m| match m {
            Member::Redis => Some(false),
            Member::RedisMultiQueue => Some(true),
            _ => None,
        }) {
            Some(true) => {
                let list = keys::failure_queue_name(queue);
                (list.clone(), Some(list))
            }
            _ => (failure::FAILED_LIST.to_owned(), None),
        }
    }

    /// Saves a failure already written to [`Backend::first_redis_list`]: to every other
    /// Redis member, then the notifiers.
    pub(crate) async fn save_rest(&self, store: &Store, failure: &NewFailure) -> Result<()> {
        let first = self
            .members
            .iter()
            .position(|m| matches!(m, Member::Redis | Member::RedisMultiQueue));
        self.save_skipping(store, failure, first).await
    }

    /// [`Backend::save`], leaving out member `skip`.
    async fn save_skipping(
        &self,
        store: &Store,
        failure: &NewFailure,
        skip: Option<usize>,
    ) -> Result<()> {
        let record = failure.to_record(&time::now());
        for (i, member) in self.members.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            match member {
                Member::Redis => store.push_failure(failure::FAILED_LIST, &record).await?,
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
        self.notify_all(failure)
    }

    /// Calls every notifier member (the Redis members have nothing to do here): a
    /// tracker's error is logged and returned after every notifier has been tried.
    pub(crate) fn notify_all(&self, failure: &NewFailure) -> Result<()> {
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
}

/// One name in `FAILURE_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Redis,
    RedisMultiQueue,
    Airbrake,
}

/// The one parser of `FAILURE_BACKEND`: comma-separated names, blanks ignored; none at
/// all is `redis`.
/// resque-retry's backend name: `multiple_with_retry_suppression` first in the list wraps the
/// names after it (`redis` when none), as its `classes = [...]`.
const RETRY_SUPPRESSION: &str = "multiple_with_retry_suppression";

fn suppression(names: &str) -> (bool, &str) {
    let trimmed = names.trim_start();
    match trimmed.strip_prefix(RETRY_SUPPRESSION) {
        Some(rest) if rest.is_empty() || rest.trim_start().starts_with(',') => {
            (true, rest.trim_start().trim_start_matches(','))
        }
        _ => (false, names),
    }
}

fn parse_names(names: &str) -> Result<Vec<Name>> {
    let names: Vec<Name> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| match n {
            "redis" => Ok(Name::Redis),
            "redis_multi_queue" => Ok(Name::RedisMultiQueue),
            "airbrake" => Ok(Name::Airbrake),
            RETRY_SUPPRESSION => Err(Error::UnknownBackend(format!(
                "{RETRY_SUPPRESSION} must come first (it wraps the backends after it)"
            ))),
            other => Err(Error::UnknownBackend(other.to_owned())),
        })
        .collect::<Result<_>>()?;
    Ok(if names.is_empty() {
        vec![Name::Redis]
    } else {
        names
    })
}

/// A notifier as readers see it: it is never called, since readers save nothing.
#[derive(Debug)]
struct ReadOnly;

impl Notifier for ReadOnly {
    fn notify(&self, _: &NewFailure) -> Result<()> {
        Ok(())
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
        assert!(matches!(
            Backend::from_names("redis,airbrake", None),
            Err(Error::AirbrakeNotConfigured)
        ));
        assert!(matches!(
            Backend::from_names(" , ", None)?.members(),
            [Member::Redis]
        ));
        Ok(())
    }

    #[test]
    fn retry_suppression_wraps_the_names_after_it() -> Result<()> {
        let b = Backend::from_names("multiple_with_retry_suppression", None)?;
        assert!(b.suppresses_retries() && matches!(b.members(), [Member::Redis]));
        let b = Backend::for_reading("multiple_with_retry_suppression,redis_multi_queue")?;
        assert!(b.suppresses_retries() && matches!(b.members(), [Member::RedisMultiQueue]));
        assert!(!Backend::from_names("redis", None)?.suppresses_retries());
        assert!(Backend::from_names("redis,multiple_with_retry_suppression", None).is_err());
        assert!(Backend::from_names("multiple_with_retry_suppressionx", None).is_err());
        Ok(())
    }

    #[test]
    fn readers_parse_the_same_names_without_notifier_settings() -> Result<()> {
        assert!(matches!(
            Backend::for_reading("")?.members(),
            [Member::Redis]
        ));
        assert!(matches!(
            Backend::for_reading("redis_multi_queue,airbrake")?.members(),
            [Member::RedisMultiQueue, Member::Custom(_)]
        ));
        assert!(matches!(
            Backend::for_reading("airbrake")?.members(),
            [Member::Custom(_)]
        ));
        let e = Backend::for_reading("redis,sentry").expect_err("unknown");
        assert_eq!(
            e.to_string(),
            Backend::from_names("sentry", None)
                .expect_err("unknown")
                .to_string(),
            "one message for every reader and writer"
        );
        Ok(())
    }
}
