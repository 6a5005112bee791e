//! A synchronous [`Client`](crate::Client) for code that is not async: the `resque`
//! command, jobs that enqueue other jobs, scripts.
//!
//! It owns a tokio current-thread runtime (no worker threads) and forwards every call with
//! `block_on`. Do not call it from inside an async runtime; use [`crate::Client`] there.

use std::time::Duration;

use std::time::SystemTime;

use resque_protocol::{DelayedItem, Payload, ScheduleConfig, Value};

use crate::client::{ClientBuilder, DelayedPeek, Info, PeekItem, Working};
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

/// resque-scheduler's API (see [`crate::Client::enqueue_at`] and the methods after it).
impl Client {
    /// `Resque.enqueue_at` for a typed job.
    pub fn enqueue_at<J: Job>(&self, at: SystemTime, args: J::Args) -> Result<bool> {
        self.rt.block_on(self.inner.enqueue_at::<J>(at, args))
    }

    /// `Resque.enqueue_in` for a typed job.
    pub fn enqueue_in<J: Job>(&self, delay: Duration, args: J::Args) -> Result<bool> {
        self.rt.block_on(self.inner.enqueue_in::<J>(delay, args))
    }

    /// `Resque.enqueue_at_with_queue` for a typed job.
    pub fn enqueue_at_with_queue<J: Job>(
        &self,
        queue: &str,
        at: SystemTime,
        args: J::Args,
    ) -> Result<bool> {
        self.rt
            .block_on(self.inner.enqueue_at_with_queue::<J>(queue, at, args))
    }

    /// `Resque.enqueue_in_with_queue` for a typed job.
    pub fn enqueue_in_with_queue<J: Job>(
        &self,
        queue: &str,
        delay: Duration,
        args: J::Args,
    ) -> Result<bool> {
        self.rt
            .block_on(self.inner.enqueue_in_with_queue::<J>(queue, delay, args))
    }

    /// `Resque.remove_delayed` for a typed job.
    pub fn remove_delayed<J: Job>(&self, args: &J::Args) -> Result<u64> {
        self.rt.block_on(self.inner.remove_delayed::<J>(args))
    }

    /// `Resque.remove_delayed_in_queue` for a typed job.
    pub fn remove_delayed_in_queue<J: Job>(&self, queue: &str, args: &J::Args) -> Result<u64> {
        self.rt
            .block_on(self.inner.remove_delayed_in_queue::<J>(queue, args))
    }

    /// `Resque.remove_delayed_job_from_timestamp` for a typed job.
    pub fn remove_delayed_job_from_timestamp<J: Job>(
        &self,
        ts: i64,
        args: &J::Args,
    ) -> Result<u64> {
        self.rt
            .block_on(self.inner.remove_delayed_job_from_timestamp::<J>(ts, args))
    }

    /// `Resque.enqueue_delayed` for a typed job.
    pub fn enqueue_delayed<J: Job>(&self, args: &J::Args) -> Result<u64> {
        self.rt.block_on(self.inner.enqueue_delayed::<J>(args))
    }

    /// `Resque.delay_or_enqueue_at` for a typed job.
    pub fn delay_or_enqueue_at<J: Job>(&self, at: SystemTime, args: J::Args) -> Result<u64> {
        self.rt
            .block_on(self.inner.delay_or_enqueue_at::<J>(at, args))
    }

    /// `Resque.delay_or_enqueue_in` for a typed job.
    pub fn delay_or_enqueue_in<J: Job>(&self, delay: Duration, args: J::Args) -> Result<u64> {
        self.rt
            .block_on(self.inner.delay_or_enqueue_in::<J>(delay, args))
    }

    /// `Resque.scheduled_at` for a typed job.
    pub fn scheduled_at<J: Job>(&self, args: &J::Args) -> Result<Vec<i64>> {
        self.rt.block_on(self.inner.scheduled_at::<J>(args))
    }

    /// `Resque.delayed?` for a typed job.
    pub fn is_delayed<J: Job>(&self, args: &J::Args) -> Result<bool> {
        self.rt.block_on(self.inner.is_delayed::<J>(args))
    }

    /// `Resque.find_delayed_selection` (see [`crate::Client::find_delayed_selection`]).
    pub fn find_delayed_selection(
        &self,
        class: Option<&str>,
        select: impl FnMut(&[Value]) -> bool,
    ) -> Result<Vec<String>> {
        self.rt
            .block_on(self.inner.find_delayed_selection(class, select))
    }

    /// `Resque.remove_delayed_selection`.
    pub fn remove_delayed_selection(
        &self,
        class: Option<&str>,
        select: impl FnMut(&[Value]) -> bool,
    ) -> Result<u64> {
        self.rt
            .block_on(self.inner.remove_delayed_selection(class, select))
    }

    /// `Resque.enqueue_delayed_selection`.
    pub fn enqueue_delayed_selection(
        &self,
        class: Option<&str>,
        select: impl FnMut(&[Value]) -> bool,
    ) -> Result<u64> {
        self.rt
            .block_on(self.inner.enqueue_delayed_selection(class, select))
    }

    forward! {
        /// `Resque.enqueue_at_with_queue(queue, time, "Class", *args)` (no hooks).
        fn enqueue_at_to(&self, queue: &str, at: SystemTime, class: &str, args: Vec<Value>) -> Result<()>;
        /// `Resque.enqueue_in_with_queue(queue, seconds, "Class", *args)` (no hooks).
        fn enqueue_in_to(&self, queue: &str, delay: Duration, class: &str, args: Vec<Value>) -> Result<()>;
        /// `remove_delayed_in_queue` for a class name.
        fn remove_delayed_class(&self, queue: &str, class: &str, args: Vec<Value>) -> Result<u64>;
        /// `remove_delayed_job_from_timestamp` for a class name.
        fn remove_delayed_class_from_timestamp(&self, ts: i64, queue: &str, class: &str, args: Vec<Value>) -> Result<u64>;
        /// `enqueue_delayed_with_queue` for a class name.
        fn enqueue_delayed_class(&self, queue: &str, class: &str, args: Vec<Value>) -> Result<u64>;
        /// `scheduled_at` for a class name.
        fn scheduled_at_class(&self, queue: &str, class: &str, args: Vec<Value>) -> Result<Vec<i64>>;
        /// `Resque.reset_delayed_queue`.
        fn reset_delayed_queue(&self) -> Result<()>;
        /// `Resque::Scheduler.enqueue_next_item(ts)`.
        fn enqueue_next_item(&self, ts: i64) -> Result<Option<DelayedItem>>;
        /// `Resque.delayed_queue_peek`.
        fn delayed_queue_peek(&self, start: i64, count: i64) -> Result<Vec<i64>>;
        /// `Resque.delayed_queue_schedule_size`.
        fn delayed_queue_schedule_size(&self) -> Result<u64>;
        /// `Resque.delayed_timestamp_size`.
        fn delayed_timestamp_size(&self, ts: i64) -> Result<u64>;
        /// `Resque.delayed_timestamp_peek`.
        fn delayed_timestamp_peek(&self, ts: i64, start: i64, count: i64) -> Result<Vec<DelayedPeek>>;
        /// `Resque.count_all_scheduled_jobs`.
        fn count_all_scheduled_jobs(&self) -> Result<u64>;
        /// `Resque.next_delayed_timestamp`.
        fn next_delayed_timestamp(&self, at: Option<SystemTime>) -> Result<Option<i64>>;
        /// `Resque.set_schedule(name, config, persist: true)`.
        fn set_schedule(&self, name: &str, config: &ScheduleConfig) -> Result<()>;
        /// `Resque.remove_schedule`.
        fn remove_schedule(&self, name: &str) -> Result<bool>;
        /// `Resque.fetch_schedule`.
        fn fetch_schedule(&self, name: &str) -> Result<Option<ScheduleConfig>>;
        /// When a schedule last fired.
        fn last_enqueued_at(&self, name: &str) -> Result<Option<String>>;
    }

    /// Every stored schedule (see [`crate::Client::all_schedules`]).
    pub fn all_schedules(
        &self,
    ) -> Result<
        Vec<(
            String,
            std::result::Result<ScheduleConfig, resque_protocol::Error>,
        )>,
    > {
        self.rt.block_on(self.inner.all_schedules())
    }
}
