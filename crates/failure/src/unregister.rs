//! Ruby's `Worker#unregister_worker`, the one implementation: the worker's own exit, the
//! pruning of a dead worker, and `resque remove` all come here, so the in-flight job's
//! failure record always goes through the configured backend, and a reliable-mode worker's
//! in-flight job is always taken back the same way.

use std::panic::{AssertUnwindSafe, catch_unwind};

use resque_protocol::{Value, failure, time, worker};
use resque_store::{InFlight, RecordTo, Recovered, Store};

use crate::record::NewFailure;
use crate::{Backend, Result};

/// How often a job is taken back from dead workers before it counts as a poison job (one
/// that kills its worker) and becomes a failure record instead: Sidekiq Pro's choice.
pub const DEFAULT_MAX_RECOVERIES: u32 = 3;

/// Why a worker is unregistered: it names the failure record of a job it was still on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Departure {
    /// It stopped, was removed (`resque remove`), or was found dead on its host without a
    /// process: `Resque::DirtyExit`, "Job still being processed".
    DirtyExit,
    /// Its heartbeat expired: `Resque::PruneDeadWorkerDirtyExit`, "Worker `<id>` did not
    /// gracefully exit while processing `<class>`".
    HeartbeatExpired,
}

impl Departure {
    /// The record's exception and message for a job of `class` on `worker`.
    fn describe(self, worker: &str, class: &str) -> (String, String) {
        match self {
            Self::DirtyExit => (
                failure::DIRTY_EXIT.to_owned(),
                failure::JOB_STILL_BEING_PROCESSED.to_owned(),
            ),
            Self::HeartbeatExpired => (
                failure::PRUNE_DEAD_WORKER_DIRTY_EXIT.to_owned(),
                format!("Worker {worker} did not gracefully exit while processing {class}"),
            ),
        }
    }
}

impl Backend {
    /// Ruby's `unregister_worker`: a job that worker `id` was still working on becomes a
    /// failure record saved through this backend, after `on_failure` has seen it (the job
    /// class's hook, as Ruby's `job.fail` runs it; a panic in it is caught and logged);
    /// then the worker's registry entries and stats go. Returns the failure, if there
    /// was one.
    ///
    /// Jobs the worker reserved ahead (`PREFETCH`, `resque-rs:held:<id>`) go back to the head
    /// of their queues first ([`Store::return_held`]).
    ///
    /// A worker in reliable mode holds its job in `resque-rs:inflight:<id>` too: that job
    /// goes back to the head of its queue instead of becoming a DirtyExit record
    /// ([`Store::recover_inflight`]), unless it was taken back from dead workers
    /// `max_recoveries` times already ([`Backend::with_max_recoveries`]); then it becomes a
    /// `Resque::PoisonJob` record (through `on_failure` and the notifiers too).
    ///
    /// The record (or the requeued copy) goes with a mark on the worker
    /// ([`Store::fail_working_on`]), so that if it was only stopped it does not count the
    /// job again when it finishes.
    ///
    /// A notifier's error is logged and does not stop the unregistration: the record is
    /// already in Redis by then ([`Backend::save`]).
    pub async fn unregister_worker(
        &self,
        store: &Store,
        id: &str,
        why: Departure,
        on_failure: impl FnOnce(&NewFailure),
    ) -> Result<Option<NewFailure>> {
        let mut on_failure = Some(on_failure);
        let mut hook = |f: &NewFailure| {
            if let Some(h) = on_failure.take()
                && catch_unwind(AssertUnwindSafe(|| h(f))).is_err()
            {
                tracing::error!(
                    worker = id,
                    "an on_failure hook panicked while unregistering"
                );
            }
        };
        let mut failed = None;
        // Jobs it reserved ahead and had not finished go back first, at the head of their
        // queues (they may have started: at least once, as reliable mode's in-flight job).
        let held = store.held(id).await?;
        if (!held.is_empty() || store.is_holder(id).await?)
            && let Some(n) = store.return_held(id, &held).await?
            && n > 0
        {
            tracing::warn!(
                worker = id,
                jobs = n,
                "put a worker's jobs reserved ahead back at the head of their queues"
            );
        }
        if let Some(job) = store.inflight(id).await? {
            failed = self.take_back(store, id, &job, &mut hook).await?;
        }
        if let Some(raw) = store.worker_payload(id).await?.filter(|s| !s.is_empty()) {
            let (queue, payload) = worker::split_working_on(&raw);
            let class = payload
                .get("class")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (exception, error) = why.describe(id, class);
            let new = NewFailure {
                payload,
                exception,
                error,
                backtrace: Vec::new(),
                worker: id.to_owned(),
                queue,
            };
            // The record and the end of `worker:<id>` in one step, only if it still holds
            // what was read: a resend, or a second reaper, writes no second record.
            let record = new.to_record(&time::now()).encode()?;
            let (list, member) = self.first_redis_list(&new.queue);
            let target = RecordTo {
                list: &list,
                record: &record,
                failed_queues_member: member.as_deref(),
            };
            if store.fail_working_on(id, &raw, target).await? {
                hook(&new);
                match self.save_rest(store, &new).await {
                    Ok(()) => {}
                    Err(crate::Error::Store(e)) => return Err(e.into()),
                    Err(e) => tracing::warn!(error = %e, "failure backend"),
                }
                failed = Some(new);
            }
        }
        store.unregister_worker(id).await?;
        Ok(failed)
    }

    /// A dead reliable-mode worker's in-flight job: back to its queue, or a poison record.
    async fn take_back(
        &self,
        store: &Store,
        id: &str,
        job: &InFlight,
        hook: &mut impl FnMut(&NewFailure),
    ) -> Result<Option<NewFailure>> {
        let payload = resque_protocol::json::from_slice(job.item.as_bytes())
            .unwrap_or_else(|_| Value::String(job.item.clone()));
        let class = payload
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let max = self.max_recoveries();
        let poison = NewFailure {
            payload,
            exception: failure::POISON_JOB.to_owned(),
            error: format!(
                "Worker {id} died while processing {class}; taken back from dead workers \
                 {max} times already, so not requeued again"
            ),
            backtrace: Vec::new(),
            worker: id.to_owned(),
            queue: job.queue.clone(),
        };
        let record = poison.to_record(&time::now()).encode()?;
        // The record goes, in the same step, to the first Redis list the backend keeps.
        let (list, member) = self.first_redis_list(&job.queue);
        let outcome = store
            .recover_inflight(
                id,
                job,
                max,
                RecordTo {
                    list: &list,
                    record: &record,
                    failed_queues_member: member.as_deref(),
                },
            )
            .await?;
        match outcome {
            Recovered::Gone => Ok(None),
            Recovered::Requeued(n) => {
                tracing::warn!(
                    worker = id,
                    queue = %job.queue,
                    class = %class,
                    times = n,
                    "put a dead worker's in-flight job back at the head of its queue"
                );
                Ok(None)
            }
            Recovered::Poisoned(n) => {
                tracing::error!(
                    worker = id,
                    queue = %job.queue,
                    class = %class,
                    times = n,
                    "a job killed its worker too often; recorded as Resque::PoisonJob"
                );
                hook(&poison);
                if let Err(e) = self.save_rest(store, &poison).await {
                    tracing::warn!(error = %e, "failure backend");
                }
                Ok(Some(poison))
            }
        }
    }
}
