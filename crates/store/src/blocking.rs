//! A synchronous [`Client`](crate::Client) for code that is not async: the `resque`
//! command, jobs that enqueue other jobs, scripts.
//!
//! It owns a tokio current-thread runtime (no worker threads) and forwards every call with
//! `block_on`. Do not call it from inside an async runtime; use [`crate::Client`] there.

use std::time::Duration;

use resque_protocol::{Payload, Value};

use crate::client::{ClientBuilder, Info, PeekItem, Working};
use crate::job::{Job, Registry};
use crate::{Error, Result};

/// A blocking Resque client. See the module docs.
#[derive(Debug)]
pub struct Client {
    rt: tokio::runtime::Runtime,
    inner: crate::Client,
}

/// The runtime a blocking client runs its calls on.
fn runtime(redis: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        // fred resolves host names on the blocking pool; don't keep that thread around.
        .thread_keep_alive(Duration::from_millis(1))
        .build()
        .map_err(|e| Error::Connect {
            redis: redis.to_owned(),
            error: fred::error::Error::new(fred::error::ErrorKind::IO, e.to_string()),
        })
}

impl ClientBuilder<Client> {
    /// Connects, blocking.
    pub fn connect(self) -> Result<Client> {
        let connection = self.connection()?;
        let rt = runtime(connection.redis_id())?;
        let inner = rt.block_on(self.open(connection))?;
        Ok(Client { rt, inner })
    }
}

macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.rt.block_on(self.inner.$name($($arg),*))
            }
        )*
    };
}

impl Client {
    /// Connects with a connection string and the defaults
    /// [`ClientBuilder`] lists; [`Client::builder`] for other settings.
    pub fn connect(connection: &str) -> Result<Self> {
        Self::builder(connection).connect()
    }

    /// A builder for a client with settings beyond the connection string: the same one as
    /// [`crate::Client::builder`], finished with a blocking `.connect()`.
    pub fn builder(connection: &str) -> ClientBuilder<Client> {
        ClientBuilder::new(connection)
    }

    /// An inline client that never connects (see [`crate::Client::inline`]).
    pub fn inline() -> Result<Self> {
        Ok(Self {
            rt: runtime("inline")?,
            inner: crate::Client::inline(),
        })
    }

    /// Inline mode (see [`crate::Client::with_inline`]).
    pub fn with_inline(mut self, inline: bool) -> Self {
        self.inner = self.inner.with_inline(inline);
        self
    }

    /// Registers job types for inline mode.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.inner = self.inner.with_registry(registry);
        self
    }

    /// The environment [`Client::info`] reports.
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.inner = self.inner.with_environment(environment);
        self
    }

    /// The async client inside.
    pub fn async_client(&self) -> &crate::Client {
        &self.inner
    }

    /// Runs any future of the async API on this client's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// `Resque.enqueue` for a typed job (see [`crate::Client::enqueue`]).
    pub fn enqueue<J: Job>(&self, args: J::Args) -> Result<bool> {
        self.rt.block_on(self.inner.enqueue::<J>(args))
    }

    /// `Resque.enqueue_to` for a typed job.
    pub fn enqueue_job_to<J: Job>(&self, queue: &str, args: J::Args) -> Result<bool> {
        self.rt
            .block_on(self.inner.enqueue_job_to::<J>(queue, args))
    }

    /// `Resque.dequeue` for a typed job.
    pub fn dequeue<J: Job>(&self, args: Option<&J::Args>) -> Result<Option<u64>> {
        self.rt.block_on(self.inner.dequeue::<J>(args))
    }

    /// Batch enqueue in one round trip (see [`crate::Client::enqueue_batch`]).
    pub fn enqueue_batch<Q: AsRef<str>, C: AsRef<str>>(
        &self,
        jobs: impl IntoIterator<Item = (Q, C, Vec<Value>)>,
    ) -> Result<usize> {
        self.rt.block_on(self.inner.enqueue_batch(jobs))
    }

    /// `Resque::Job.destroy`.
    pub fn destroy(&self, queue: &str, class: &str, args: Option<&[Value]>) -> Result<u64> {
        self.rt.block_on(self.inner.destroy(queue, class, args))
    }

    forward! {
        /// `Resque.enqueue_to(queue, "Class", *args)` (no hooks).
        fn enqueue_to(&self, queue: &str, class: &str, args: Vec<Value>) -> Result<()>;
        /// `Resque.push`.
        fn push(&self, queue: &str, item: &Payload) -> Result<()>;
        /// `Resque.pop`.
        fn pop(&self, queue: &str) -> Result<Option<Payload>>;
        /// `Resque.size`.
        fn size(&self, queue: &str) -> Result<u64>;
        /// `Resque.peek`.
        fn peek(&self, queue: &str, start: i64, count: i64) -> Result<Vec<PeekItem>>;
        /// `Resque.queues`.
        fn queues(&self) -> Result<Vec<String>>;
        /// `Resque.queue_sizes`.
        fn queue_sizes(&self) -> Result<Vec<(String, u64)>>;
        /// `Resque.remove_queue`.
        fn remove_queue(&self, queue: &str) -> Result<()>;
        /// `Resque.watch_queue`.
        fn watch_queue(&self, queue: &str) -> Result<()>;
        /// `Resque.info`.
        fn info(&self) -> Result<Info>;
        /// `Resque.keys`.
        fn keys(&self) -> Result<Vec<String>>;
        /// `Resque::Stat[name]`.
        fn stat(&self, name: &str) -> Result<i64>;
        /// `Resque::Stat.incr`.
        fn incr_stat(&self, name: &str, by: i64) -> Result<i64>;
        /// `Resque::Stat.decr`.
        fn decr_stat(&self, name: &str, by: i64) -> Result<i64>;
        /// `Resque::Stat.clear`.
        fn clear_stat(&self, name: &str) -> Result<()>;
        /// `Resque.workers`.
        fn workers(&self) -> Result<Vec<String>>;
        /// `Resque.working`.
        fn working(&self) -> Result<Vec<Working>>;
        /// A worker's state, `working` or `idle`.
        fn worker_state(&self, id: &str) -> Result<&'static str>;
        /// Whether `id` is a registered worker.
        fn worker_exists(&self, id: &str) -> Result<bool>;
    }
}
