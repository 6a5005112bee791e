//! [`Context`]: what a running job can reach.

use std::fmt;
use std::sync::Arc;

use super::{Job, JobError, JobRuntime, Registry, run, validate};
use crate::{Client, Error, Result};

/// What a running job can reach: its queue, its worker, the application's shared state,
/// a runtime for async work, and a way to enqueue more jobs.
pub struct Context {
    // Shared, not owned: a worker gives every job a context, and the names repeat job after
    // job, so it hands the same two over instead of copying them a job.
    queue: Arc<str>,
    worker: Option<Arc<str>>,
    /// Enqueues run at once (inline mode) instead of going to Redis.
    inline: bool,
    registry: Arc<Registry>,
    runtime: Arc<JobRuntime>,
    /// When an [`AsyncJob`](super::AsyncJob)'s `perform` is cancelled (a worker's timeout
    /// for a job run in its own process).
    deadline: Option<std::time::Instant>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("queue", &self.queue)
            .field("worker", &self.worker)
            .field("inline", &self.inline)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for a job from `queue`, with no state and no Redis (tests, simple callers).
    pub fn new(queue: impl Into<Arc<str>>) -> Self {
        Self {
            queue: queue.into(),
            worker: None,
            inline: false,
            registry: Arc::default(),
            runtime: Arc::default(),
            deadline: None,
        }
    }

    /// The context a worker gives a job: the worker's id, its job types and state, and its
    /// [`JobRuntime`] (where enqueues connect).
    pub fn for_worker(
        queue: impl Into<Arc<str>>,
        worker: impl Into<Arc<str>>,
        registry: Arc<Registry>,
        runtime: Arc<JobRuntime>,
    ) -> Self {
        Self {
            queue: queue.into(),
            worker: Some(worker.into()),
            inline: false,
            registry,
            runtime,
            deadline: None,
        }
    }

    /// A context whose async job is cancelled after `timeout` (a worker running jobs in its
    /// own process; a sync job cannot be stopped safely and runs to its end).
    pub fn with_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.deadline = timeout.map(|t| std::time::Instant::now() + t);
        self
    }

    /// The time left before this job's timeout, if it has one.
    pub fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    pub(crate) fn inline(registry: Arc<Registry>, runtime: Arc<JobRuntime>) -> Self {
        Self {
            // Ruby runs inline jobs with the queue `:inline`.
            queue: Arc::from("inline"),
            worker: None,
            inline: true,
            registry,
            runtime,
            deadline: None,
        }
    }

    /// The queue the job came from (`inline` in inline mode, as in Ruby).
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The id of the worker running the job, if any.
    pub fn worker(&self) -> Option<&str> {
        self.worker.as_deref()
    }

    /// The shared value of type `T` the application gave the worker (`Builder::state`) or
    /// the registry ([`Registry::state`]): made the first time a job asks, in the process
    /// that runs the job (so after the fork under a forking worker), then kept for as long
    /// as that process lives. A missing one is a job failure naming the type.
    pub fn state<T: Send + Sync + 'static>(&self) -> std::result::Result<Arc<T>, JobError> {
        self.registry.state_for::<T>(&self.runtime)
    }

    /// The runtime this job's async work runs on.
    pub fn runtime(&self) -> Arc<JobRuntime> {
        Arc::clone(&self.runtime)
    }

    /// A client for enqueueing from async code (an [`AsyncJob`](super::AsyncJob)): the
    /// worker's connection, opened on first use; in inline mode, an inline client with the
    /// same job types.
    pub async fn client(&self) -> Result<Client> {
        if self.inline {
            return Ok(Client::inline_with(
                Arc::clone(&self.registry),
                Arc::clone(&self.runtime),
            ));
        }
        self.runtime.client().await
    }

    /// Enqueues a job from inside a sync `perform`, with its enqueue hooks. Returns `false`
    /// when `before_enqueue` cancelled it. (From an async job, use
    /// `ctx.client().await?.enqueue::<J>(args).await`: this one blocks.)
    pub fn enqueue<J: Job>(&mut self, args: J::Args) -> Result<bool> {
        self.enqueue_to::<J>(J::QUEUE, args)
    }

    /// [`Context::enqueue`] to a given queue.
    pub fn enqueue_to<J: Job>(&mut self, queue: &str, args: J::Args) -> Result<bool> {
        if !self.inline {
            let rt = Arc::clone(&self.runtime);
            return rt
                .block_on(async { rt.client().await?.enqueue_job_to::<J>(queue, args).await })
                .map_err(|e| Error::CannotBlock(e.message().to_owned()))?;
        }
        if !J::before_enqueue(&args) {
            return Ok(false);
        }
        validate(J::CLASS, queue)?;
        let mut ctx = Context::inline(Arc::clone(&self.registry), Arc::clone(&self.runtime));
        let (args, outcome) = if J::IS_ASYNC && tokio::runtime::Handle::try_current().is_ok() {
            // An async job enqueued by sync code that itself runs inside async code (a
            // sync job run inline from a `#[tokio::test]`): tokio forbids waiting on this
            // thread, so the job runs to its end on a thread of its own.
            std::thread::spawn(move || {
                let outcome = run::<J>(&args, &mut ctx);
                (args, outcome)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        } else {
            let outcome = run::<J>(&args, &mut ctx);
            (args, outcome)
        };
        outcome.map_err(|error| Error::Job {
            class: J::CLASS.to_owned(),
            error,
        })?;
        J::after_enqueue(&args);
        Ok(true)
    }
}
