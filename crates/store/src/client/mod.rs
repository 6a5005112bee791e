//! [`Client`]: Ruby's `Resque` module API (enqueue, dequeue, queues, info, stats, workers),
//! with enqueue/dequeue hooks and inline mode; [`ClientBuilder`] for connecting with settings.

mod builder;
mod delayed;
mod schedules;

pub use builder::ClientBuilder;
pub use delayed::DelayedPeek;

use std::sync::Arc;

use resque_protocol::{Payload, Value, WorkerId, WorkingOn};
use serde::Serialize;

use crate::job::{self, Context, Job, JobRuntime, Performed, Registry};
use crate::store::{decode_item, encode};
use crate::{Error, Result, Store};

/// The Resque client: what an application uses to enqueue and inspect jobs.
///
/// ```no_run
/// # async fn demo() -> Result<(), resque_store::Error> {
/// use resque_store::Client;
/// let client = Client::connect("localhost:6379").await?;
/// client.enqueue_to("file_serve", "Archive", vec![44.into(), "masterbrew".into()]).await?;
/// assert_eq!(client.size("file_serve").await?, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    /// `None` for [`Client::inline`], which never connects.
    store: Option<Store>,
    inline: bool,
    registry: Arc<Registry>,
    /// Where inline jobs' sync code waits for async work.
    runtime: Arc<JobRuntime>,
    environment: String,
}

/// `Resque.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Info {
    /// Jobs waiting in all queues.
    pub pending: u64,
    /// `stat:processed`.
    pub processed: i64,
    /// Number of known queues.
    pub queues: u64,
    /// Registered workers.
    pub workers: u64,
    /// Workers working on a job.
    pub working: u64,
    /// `LLEN failed` (Ruby reports the list length, not `stat:failed`).
    pub failed: u64,
    /// The Redis server(s).
    pub servers: Vec<String>,
    /// `RAILS_ENV` / `RACK_ENV`, as given to [`Client::with_environment`].
    pub environment: String,
}

/// A worker that is working on a job (`Resque.working`).
#[derive(Debug, Clone, PartialEq)]
pub struct Working {
    /// The worker id.
    pub worker: String,
    /// What it is doing; `Err(raw)` when `worker:<id>` is not a valid payload.
    pub job: std::result::Result<WorkingOn, String>,
}

/// One queue item read by [`Client::peek`]: the payload, or the raw item and why it is not one.
pub type PeekItem = std::result::Result<Payload, (String, String)>;

impl Client {
    /// Connects with a connection string (any form [`Connection`](crate::Connection) accepts) and the
    /// defaults [`ClientBuilder`] lists; [`Client::builder`] for other settings.
    pub async fn connect(connection: &str) -> Result<Self> {
        Self::builder(connection).connect().await
    }

    /// A client over an open [`Store`].
    pub fn new(store: Store) -> Self {
        Self {
            store: Some(store),
            inline: false,
            registry: Arc::new(Registry::new()),
            runtime: Arc::default(),
            environment: "development".to_owned(),
        }
    }

    pub(crate) fn inline_with(registry: Arc<Registry>, runtime: Arc<JobRuntime>) -> Self {
        Self {
            store: None,
            inline: true,
            registry,
            runtime,
            environment: "development".to_owned(),
        }
    }

    /// Inline mode (`Resque.inline = true`): enqueued jobs run at once in the caller, with
    /// their enqueue and perform hooks, and Redis is never touched by an enqueue (other
    /// calls still read it; [`Client::inline`] for a client with no Redis at all).
    /// Failures return to the caller as [`Error::Job`]. Untyped enqueues need their class
    /// registered. An [`AsyncJob`](crate::AsyncJob) is awaited on the caller's runtime.
    /// Turning it off on a client made by [`Client::inline`] leaves it with no Redis.
    pub fn with_inline(mut self, inline: bool) -> Self {
        self.inline = inline;
        self
    }

    /// Job types and shared state for inline mode (untyped enqueues need their class here;
    /// jobs reach the state with [`Context::state`]).
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Arc::new(registry);
        self
    }

    /// The environment reported by [`Client::info`] (Ruby reads `RAILS_ENV`/`RACK_ENV`).
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Whether inline mode is on.
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// The underlying store; [`Error::NoRedis`] for [`Client::inline`].
    pub fn store(&self) -> Result<&Store> {
        self.store.as_ref().ok_or_else(|| {
            Error::NoRedis(
                "this client runs jobs inline and never connects (Client::inline)".to_owned(),
            )
        })
    }

    // ---- enqueue / dequeue --------------------------------------------------------------

    /// `Resque.enqueue(Klass, *args)`: to the job's default queue, with hooks. Returns
    /// `false` when `before_enqueue` cancelled it.
    pub async fn enqueue<J: Job>(&self, args: J::Args) -> Result<bool> {
        self.enqueue_job_to::<J>(J::QUEUE, args).await
    }

    /// `Resque.enqueue_to(queue, Klass, *args)` for a typed job, with hooks.
    pub async fn enqueue_job_to<J: Job>(&self, queue: &str, args: J::Args) -> Result<bool> {
        self.enqueue_job_ref::<J>(queue, &args).await
    }

    /// [`Client::enqueue_job_to`] with borrowed args.
    pub(crate) async fn enqueue_job_ref<J: Job>(
        &self,
        queue: &str,
        args: &J::Args,
    ) -> Result<bool> {
        if !J::before_enqueue(args) {
            return Ok(false);
        }
        job::validate(J::CLASS, queue)?;
        if self.inline {
            let mut ctx = self.inline_context();
            J::run_awaiting(args, &mut ctx)
                .await
                .map_err(|error| Error::Job {
                    class: J::CLASS.to_owned(),
                    error,
                })?;
        } else {
            let payload = job::payload_for::<J>(args)?;
            self.store()?.push(queue, &encode(&payload)?).await?;
        }
        J::after_enqueue(args);
        Ok(true)
    }

    /// `Resque.enqueue_to(queue, "Class", *args)` for a job in any language: no hooks (a
    /// class name has none, as in Ruby).
    pub async fn enqueue_to(&self, queue: &str, class: &str, args: Vec<Value>) -> Result<()> {
        job::validate(class, queue)?;
        if self.inline {
            return self.perform_inline(class, args).await;
        }
        let payload = Payload::new(class, args);
        self.store()?.push(queue, &encode(&payload)?).await
    }

    /// Beyond Ruby: enqueues many jobs in one round trip. Each item is `(queue, class,
    /// args)`; no hooks run (use [`Client::enqueue`] for typed jobs with hooks).
    pub async fn enqueue_batch<Q, C>(
        &self,
        jobs: impl IntoIterator<Item = (Q, C, Vec<Value>)>,
    ) -> Result<usize>
    where
        Q: AsRef<str>,
        C: AsRef<str>,
    {
        let mut items = Vec::new();
        for (queue, class, args) in jobs {
            job::validate(class.as_ref(), queue.as_ref())?;
            if self.inline {
                self.perform_inline(class.as_ref(), args).await?;
                continue;
            }
            let payload = Payload::new(class.as_ref(), args);
            items.push((queue.as_ref().to_owned(), encode(&payload)?));
        }
        let n = items.len();
        if !items.is_empty() {
            self.store()?.push_many(&items).await?;
        }
        Ok(n)
    }

    fn inline_context(&self) -> Context {
        Context::inline(Arc::clone(&self.registry), Arc::clone(&self.runtime))
    }

    async fn perform_inline(&self, class: &str, args: Vec<Value>) -> Result<()> {
        // Ruby round-trips the args through JSON first (`decode(encode(args))`).
        let args = match resque_protocol::json::from_slice(
            resque_protocol::json::to_string(&args)?.as_bytes(),
        )? {
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        let mut ctx = self.inline_context();
        let Some(run) = self.registry.perform_awaiting(class, &args, &mut ctx) else {
            return Err(Error::UnknownClass(class.to_owned()));
        };
        match run.await {
            Ok(Performed::Yes | Performed::No) => Ok(()),
            Err(error) => Err(Error::Job {
                class: class.to_owned(),
                error,
            }),
        }
    }

    /// `Resque.dequeue(Klass, *args)`: with `Some(args)`, removes jobs whose payload is
    /// byte-for-byte `{"class":..,"args":..}`; with `None`, every job of the class in its
    /// default queue. Hooks run; `Ok(None)` when `before_dequeue` cancelled.
    pub async fn dequeue<J: Job>(&self, args: Option<&J::Args>) -> Result<Option<u64>> {
        if let Some(a) = args
            && !J::before_dequeue(a)
        {
            return Ok(None);
        }
        let json_args = args.map(job::args_to_json::<J>).transpose()?;
        let n = self
            .destroy(J::QUEUE, J::CLASS, json_args.as_deref())
            .await?;
        if let Some(a) = args {
            J::after_dequeue(a);
        }
        Ok(Some(n))
    }

    /// `Resque::Job.destroy(queue, class, *args)` (no hooks). With args: one exact-bytes
    /// `LREM`. Without: `LRANGE 0 -1`, then one `LREM` per item of that class, as Ruby does.
    /// Items that are not valid payloads are left where they are.
    pub async fn destroy(&self, queue: &str, class: &str, args: Option<&[Value]>) -> Result<u64> {
        if let Some(args) = args {
            let payload = Payload::new(class, args.to_vec());
            return self
                .store()?
                .remove_from_queue(queue, encode(&payload)?.as_bytes())
                .await;
        }
        let mut removed = 0;
        for raw in self.store()?.everything_in_queue(queue).await? {
            match Payload::decode(&raw) {
                Ok(p) if p.class() == Some(class) => {
                    removed += self.store()?.remove_from_queue(queue, &raw).await?;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(queue, error = %e, "skipping malformed payload while dequeuing")
                }
            }
        }
        Ok(removed)
    }

    /// `Resque.push(queue, item)`: any JSON object, extra keys kept.
    pub async fn push(&self, queue: &str, item: &Payload) -> Result<()> {
        self.store()?.push(queue, &encode(item)?).await
    }

    /// `Resque.pop(queue)`. A malformed item is put back at the head of the queue and
    /// reported as [`Error::MalformedPayload`], so nothing is lost.
    pub async fn pop(&self, queue: &str) -> Result<Option<Payload>> {
        let Some(raw) = self.store()?.pop(queue).await? else {
            return Ok(None);
        };
        match decode_item(queue, &raw) {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                self.store()?.push_front(queue, &raw).await?;
                Err(e)
            }
        }
    }

    /// `Resque.size(queue)`.
    pub async fn size(&self, queue: &str) -> Result<u64> {
        self.store()?.size(queue).await
    }

    /// `Resque.peek(queue, start, count)`; malformed items come back as `Err((raw, why))`.
    pub async fn peek(&self, queue: &str, start: i64, count: i64) -> Result<Vec<PeekItem>> {
        Ok(self
            .store()?
            .peek(queue, start, count)
            .await?
            .into_iter()
            .map(|raw| Payload::decode(raw.as_bytes()).map_err(|e| (raw, e.to_string())))
            .collect())
    }

    /// `Resque.queues`, sorted.
    pub async fn queues(&self) -> Result<Vec<String>> {
        self.store()?.queue_names().await
    }

    /// `Resque.queue_sizes`.
    pub async fn queue_sizes(&self) -> Result<Vec<(String, u64)>> {
        self.store()?.queue_sizes().await
    }

    /// `Resque.remove_queue(queue)`.
    pub async fn remove_queue(&self, queue: &str) -> Result<()> {
        self.store()?.remove_queue(queue).await.map(|_| ())
    }

    /// `Resque.watch_queue(queue)`.
    pub async fn watch_queue(&self, queue: &str) -> Result<()> {
        self.store()?.watch_queue(queue).await
    }

    // ---- info, keys, stats --------------------------------------------------------------

    /// `Resque.info`.
    pub async fn info(&self) -> Result<Info> {
        // Independent reads, sent together: fred pipelines concurrent commands on its one
        // connection, so this costs the round trips of the longest chain (2), not 6.
        let workers_and_payloads = async {
            let workers = self.store()?.worker_ids().await?;
            let working = self.store()?.worker_payloads(&workers).await?;
            Ok::<_, Error>((workers, working))
        };
        let (sizes, (workers, working), processed, failed) = tokio::try_join!(
            self.store()?.queue_sizes(),
            workers_and_payloads,
            self.store()?.stat("processed"),
            self.store()?.failed_count(),
        )?;
        Ok(Info {
            pending: sizes.iter().map(|(_, n)| n).sum(),
            processed,
            queues: sizes.len() as u64,
            workers: workers.len() as u64,
            working: working
                .iter()
                .filter(|p| p.as_deref().is_some_and(|s| !s.is_empty()))
                .count() as u64,
            failed,
            servers: vec![self.store()?.redis_id().to_owned()],
            environment: self.environment.clone(),
        })
    }

    /// `Resque.keys`: every key under the namespace, without it.
    pub async fn keys(&self) -> Result<Vec<String>> {
        self.store()?.all_keys().await
    }

    /// `Resque::Stat[name]`.
    pub async fn stat(&self, name: &str) -> Result<i64> {
        self.store()?.stat(name).await
    }

    /// `Resque::Stat.incr(name, by)`.
    pub async fn incr_stat(&self, name: &str, by: i64) -> Result<i64> {
        self.store()?.incr_stat(name, by).await
    }

    /// `Resque::Stat.decr(name, by)`.
    pub async fn decr_stat(&self, name: &str, by: i64) -> Result<i64> {
        self.store()?.decr_stat(name, by).await
    }

    /// `Resque::Stat.clear(name)`.
    pub async fn clear_stat(&self, name: &str) -> Result<()> {
        self.store()?.clear_stat(name).await
    }

    // ---- workers ------------------------------------------------------------------------

    /// `Resque.workers`: registered worker ids, sorted.
    pub async fn workers(&self) -> Result<Vec<String>> {
        self.store()?.worker_ids().await
    }

    /// `Resque.working`: workers with a job, and the job.
    pub async fn working(&self) -> Result<Vec<Working>> {
        let ids = self.store()?.worker_ids().await?;
        let payloads = self.store()?.worker_payloads(&ids).await?;
        Ok(ids
            .into_iter()
            .zip(payloads)
            .filter_map(|(worker, p)| {
                let raw = p.filter(|s| !s.is_empty())?;
                let job = WorkingOn::decode(raw.as_bytes()).map_err(|_| raw);
                Some(Working { worker, job })
            })
            .collect())
    }

    /// Whether a worker is `working` (has a `worker:<id>` payload) or `idle`.
    pub async fn worker_state(&self, id: &str) -> Result<&'static str> {
        Ok(match self.store()?.worker_payload(id).await? {
            Some(p) if !p.is_empty() => "working",
            _ => "idle",
        })
    }

    /// Whether `id` is a registered worker (`SISMEMBER workers`).
    pub async fn worker_exists(&self, id: &str) -> Result<bool> {
        self.store()?.worker_exists(id).await
    }

    /// Parses a worker id (for callers that need its host and pid).
    pub fn parse_worker_id(id: &str) -> Result<WorkerId> {
        Ok(WorkerId::parse(id)?)
    }
}
