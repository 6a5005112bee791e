//! Ruby's `Worker#unregister_worker`, the one implementation: the worker's own exit, the
//! pruning of a dead worker, and `resque remove` all come here, so the in-flight job's
//! failure record always goes through the configured backend.

use std::panic::{AssertUnwindSafe, catch_unwind};

use resque_protocol::{Value, failure, worker};
use resque_store::Store;

use crate::record::NewFailure;
use crate::{Backend, Result};

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
    /// A notifier's error is logged and does not stop the unregistration: the record is
    /// already in Redis by then ([`Backend::save`]).
    pub async fn unregister_worker(
        &self,
        store: &Store,
        id: &str,
        why: Departure,
        on_failure: impl FnOnce(&NewFailure),
    ) -> Result<Option<NewFailure>> {
        let mut failed = None;
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
            if catch_unwind(AssertUnwindSafe(|| on_failure(&new))).is_err() {
                tracing::error!(
                    worker = id,
                    "an on_failure hook panicked while unregistering"
                );
            }
            match self.save(store, &new).await {
                Ok(()) => {}
                Err(crate::Error::Store(e)) => return Err(e.into()),
                Err(e) => tracing::warn!(error = %e, "failure backend"),
            }
            failed = Some(new);
        }
        store.unregister_worker(id).await?;
        Ok(failed)
    }
}
