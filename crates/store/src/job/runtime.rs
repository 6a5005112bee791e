//! [`JobRuntime`]: the async runtime and the Redis connection a worker lends its jobs, each
//! made the first time a job asks for it.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Runtime;

use super::JobError;
use crate::{Client, Error, Result};

/// The async side of running jobs: a current-thread tokio runtime for [`AsyncJob`]s and
/// for what jobs build on tokio, and a [`Client`] for jobs that enqueue.
///
/// Nothing is made until a job asks. Under a fork-per-job worker the parent never asks, so
/// each child makes its own after the fork (a runtime or a connection inherited across
/// `fork()` would share its sockets with the parent); under `FORK_PER_JOB=false` they are
/// made once and kept for every job.
///
/// [`AsyncJob`]: super::AsyncJob
#[derive(Default)]
pub struct JobRuntime {
    runtime: OnceLock<std::result::Result<Runtime, String>>,
    /// Where jobs' enqueues go: a connection string and a namespace override.
    redis: Option<(String, Option<String>)>,
    client: tokio::sync::OnceCell<Client>,
}

impl std::fmt::Debug for JobRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRuntime")
            .field("redis", &self.redis.as_ref().map(|(r, _)| r))
            .field("started", &self.runtime.get().is_some())
            .field("connected", &self.client.initialized())
            .finish()
    }
}

/// Dropping a tokio runtime inside async code panics, and the last handle to this one may
/// go there (an inline client in a `#[tokio::test]`): it is shut down without waiting.
impl Drop for JobRuntime {
    fn drop(&mut self) {
        if let Some(Ok(runtime)) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl JobRuntime {
    /// A runtime with no Redis: jobs run under it cannot enqueue (unless inline).
    pub fn new() -> Self {
        Self::default()
    }

    /// A runtime whose jobs enqueue to `redis` (a connection string), `namespace`
    /// overriding the string's own.
    pub fn connecting_to(redis: impl Into<String>, namespace: Option<String>) -> Self {
        let mut runtime = Self::default();
        runtime.redis = Some((redis.into(), namespace));
        runtime
    }

    fn runtime(&self) -> std::result::Result<&Runtime, JobError> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    // fred resolves host names on the blocking pool: no thread left over.
                    .thread_keep_alive(Duration::from_millis(1))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| JobError::msg(format!("cannot start the jobs' async runtime: {e}")))
    }

    /// Runs `future` to its end on this runtime. Fails (instead of panicking, as tokio
    /// would) when this thread is already inside a runtime: an async job called from sync
    /// code that is itself inside async code.
    pub fn block_on<F: Future>(&self, future: F) -> std::result::Result<F::Output, JobError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(JobError::msg(
                "cannot wait for async work here: this thread already runs an async runtime \
                 (in async code, await the job's work instead of calling it through sync code)",
            ));
        }
        Ok(self.runtime()?.block_on(future))
    }

    /// Runs `make` with this runtime entered, unless the thread is already in one, so that
    /// what it builds (a pool, an HTTP client) can find a runtime.
    pub(crate) fn enter<T>(&self, make: impl FnOnce() -> T) -> std::result::Result<T, JobError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Ok(make());
        }
        let _entered = self.runtime()?.enter();
        Ok(make())
    }

    /// The client jobs enqueue through: connected on first use, then kept.
    pub async fn client(&self) -> Result<Client> {
        let Some((redis, namespace)) = &self.redis else {
            return Err(Error::NoRedis(
                "this job runs without a Redis connection to enqueue through".to_owned(),
            ));
        };
        self.client
            .get_or_try_init(|| async {
                Client::builder(redis)
                    .namespace_override(namespace.as_deref())
                    .connect()
                    .await
            })
            .await
            .cloned()
    }

    /// Closes the connection, if a job opened one (QUIT, so Redis does not wait for a
    /// socket that a `_exit` leaves behind). Best effort.
    pub fn close(&self) {
        if let Some(client) = self.client.get()
            && let Ok(store) = client.store()
        {
            let _ = self.block_on(store.close());
        }
    }
}
