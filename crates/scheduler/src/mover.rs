//! Moving due delayed items to their queues: read by Redis's clock, decide in Rust (the
//! payload, the hooks, where a bad item goes), commit in one script that checks the items and
//! the lock (see `resque_store::Store::due_batch` and `commit_moves`).
//!
//! An item that cannot be enqueued (not JSON, no queue anywhere, a hook's error, args that do
//! not fit the job's type) is written as a failure record first and then taken out, so it is
//! never silently dropped (Ruby logs it and trims it away). A `before_schedule` that returns
//! false drops the item, as in Ruby.

use std::collections::HashSet;
use std::sync::Arc;

use resque_failure::{Backend, NewFailure};
use resque_protocol::{DelayedItem, Value};
use resque_store::{Committed, MoveAction, MoveGroup, Registry, Store};
use tracing::Instrument;

use crate::lock::MasterLock;

/// What one pass moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Items pushed to their queues.
    pub pushed: u64,
    /// Items recorded as failures and taken out.
    pub failed: u64,
    /// Items a hook cancelled.
    pub cancelled: u64,
    /// Whether due items remain (the pass stopped at its batch limit).
    pub more: bool,
    /// Whether the lock turned out not to be ours.
    pub lost_lock: bool,
    /// How long (by Redis's clock) until the first timestamp that is not yet due.
    pub next_due_in: Option<std::time::Duration>,
}

/// The mover's settings and the records it already wrote.
#[derive(Debug)]
pub struct Mover {
    registry: Arc<Registry>,
    failures: Backend,
    batch: usize,
    worker: String,
    /// Items recorded as failures whose commit then found their timestamp changed: not
    /// recorded twice when read again.
    recorded: HashSet<(i64, Vec<u8>)>,
}

/// Timestamps read per batch at most (each may hold many items).
const TIMESTAMPS_PER_BATCH: usize = 100;

impl Mover {
    /// A mover; `worker` names this scheduler in failure records.
    pub fn new(registry: Arc<Registry>, failures: Backend, batch: usize, worker: String) -> Self {
        Self {
            registry,
            failures,
            batch: batch.max(1),
            worker,
            recorded: HashSet::new(),
        }
    }

    /// Moves one batch of due items (up to the batch size); call again while
    /// [`Moved::more`].
    pub async fn move_batch(
        &mut self,
        store: &Store,
        lock: Option<&MasterLock>,
    ) -> crate::Result<Moved> {
        let batch = store.due_batch(self.batch, TIMESTAMPS_PER_BATCH).await?;
        let mut moved = Moved {
            next_due_in: batch.next_due.map(|t| {
                let micros = (t - batch.now) * 1_000_000 - batch.now_micros;
                std::time::Duration::from_micros(micros.max(0) as u64)
            }),
            ..Moved::default()
        };
        if batch.groups.is_empty() {
            return Ok(moved);
        }
        let read: usize = batch.groups.iter().map(|(_, items)| items.len()).sum();
        let mut groups = Vec::with_capacity(batch.groups.len());
        let mut after: Vec<(String, Vec<Value>)> = Vec::new();
        for (ts, items) in batch.groups {
            let mut decided = Vec::with_capacity(items.len());
            for raw in items {
                // Its lines (hooks, set-asides) carry the timestamp (LOGFORMAT=json, logfmt).
                let span = tracing::info_span!("delayed", at = ts);
                let action = self
                    .decide(store, ts, &raw, &mut moved, &mut after)
                    .instrument(span)
                    .await?;
                decided.push((raw, action));
            }
            groups.push(MoveGroup { ts, items: decided });
        }
        match store
            .commit_moves(lock.map(MasterLock::held), &groups)
            .await?
        {
            Committed::NotMaster => {
                moved.lost_lock = true;
                return Ok(moved);
            }
            Committed::Done { pushed, stale } => {
                moved.pushed = pushed;
                if !stale.is_empty() {
                    tracing::debug!(
                        ?stale,
                        "timestamps changed while being moved; reading them again"
                    );
                    moved.more = true;
                }
                for g in &groups {
                    if !stale.contains(&g.ts) {
                        self.recorded.retain(|(ts, _)| *ts != g.ts);
                    }
                }
            }
        }
        for (class, args) in after {
            self.registry.after_scheduled_enqueue(&class, &args);
        }
        // A full batch may have left more behind.
        moved.more |= read >= self.batch;
        Ok(moved)
    }

    async fn decide(
        &mut self,
        store: &Store,
        ts: i64,
        raw: &[u8],
        moved: &mut Moved,
        after: &mut Vec<(String, Vec<Value>)>,
    ) -> crate::Result<MoveAction> {
        let item = match DelayedItem::decode(raw) {
            Ok(item) => item,
            Err(e) => {
                let text = String::from_utf8_lossy(raw).into_owned();
                self.set_aside(
                    store,
                    ts,
                    raw,
                    Value::String(text),
                    "",
                    "Resque::Scheduler::MalformedItem",
                    &e.to_string(),
                    moved,
                )
                .await?;
                return Ok(MoveAction::Drop);
            }
        };
        let payload = item.payload();
        let payload_value = payload.clone().into_value();
        let queue = item
            .queue
            .clone()
            .or_else(|| self.registry.queue_of(&item.class).map(str::to_owned));
        let Some(queue) = queue else {
            let why = format!(
                "Jobs must be placed onto a queue. No queue could be inferred for class {}",
                item.class
            );
            self.set_aside(
                store,
                ts,
                raw,
                payload_value,
                "",
                "Resque::NoQueueError",
                &why,
                moved,
            )
            .await?;
            return Ok(MoveAction::Drop);
        };
        match self
            .registry
            .before_scheduled_enqueue(&item.class, &item.args)
        {
            None => {}
            Some(Ok(true)) => after.push((item.class.clone(), item.args.clone())),
            Some(Ok(false)) => {
                tracing::info!(class = %item.class, "a hook cancelled the delayed job");
                moved.cancelled += 1;
                return Ok(MoveAction::Drop);
            }
            Some(Err(e)) => {
                let (exception, message) = (e.exception().to_owned(), e.message().to_owned());
                self.set_aside(
                    store,
                    ts,
                    raw,
                    payload_value,
                    &queue,
                    &exception,
                    &message,
                    moved,
                )
                .await?;
                return Ok(MoveAction::Drop);
            }
        }
        Ok(MoveAction::Push {
            queue,
            payload: payload.encode().map_err(resque_store::Error::from)?,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn set_aside(
        &mut self,
        store: &Store,
        ts: i64,
        raw: &[u8],
        payload: Value,
        queue: &str,
        exception: &str,
        error: &str,
        moved: &mut Moved,
    ) -> crate::Result<()> {
        moved.failed += 1;
        if !self.recorded.insert((ts, raw.to_vec())) {
            return Ok(());
        }
        tracing::error!(
            ts,
            exception,
            error,
            "a delayed item cannot be enqueued; recorded as a failure"
        );
        let failure = NewFailure {
            payload,
            exception: exception.to_owned(),
            error: format!("{error} (delayed to {ts})"),
            backtrace: Vec::new(),
            worker: self.worker.clone(),
            queue: queue.to_owned(),
        };
        // If the record cannot be written, the error ends this batch before its commit, so
        // the item stays where it is.
        Ok(self.failures.save(store, &failure).await?)
    }
}
