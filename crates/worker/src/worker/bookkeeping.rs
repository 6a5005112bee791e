//! After a job: Ruby's `report_failed_job` and `done_working`, sent with the next
//! reservation or alone; and Ruby's `unregister_worker` for this worker.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use resque_failure::{Departure, NewFailure};
use resque_protocol::payload::field;
use resque_protocol::{Failure, Value, failure, time};

use super::child::run_failure_hook;
use super::outcome::Outcome;
use super::{Error, Run, block_on};

/// A finished job's bookkeeping (Ruby's `report_failed_job` and `done_working`).
#[derive(Debug)]
pub(super) struct Pending {
    /// `(failure list, record)` for the Redis backends.
    pub(super) record: Option<(String, Failure)>,
    pub(super) count_failed: bool,
    /// The job was under `worker:<id>` while it ran (see [`resque_store::Finished`]).
    pub(super) registered: bool,
    /// Counted in our daily history (not with `RESQUE_METRICS=0`). The per-class metrics
    /// go through the worker's tally, so the call needs no queue or class.
    pub(super) history: bool,
}

impl Pending {
    /// This job's bookkeeping as the store takes it.
    pub(super) fn finished(&self) -> resque_store::Finished<'_> {
        resque_store::Finished {
            record: self.record.as_ref().map(|(l, r)| (l.as_str(), r)),
            count_failed: self.count_failed,
            registered: self.registered,
            metrics: self.history.then(resque_store::JobMetrics::history_only),
        }
    }
}

/// What the reserve script already did for a job it took.
#[derive(Debug)]
pub(super) enum Taken {
    /// Popped by a reserve call, which registered it under `worker:<id>`.
    Popped {
        /// The time the reservation was made (the process title).
        at: Timestamp,
        /// That time as `worker:<id>`'s `run_at`.
        run_at: String,
        /// The `worker:<id>` value the script wrote, if it wrote one.
        written: Option<String>,
    },
    /// Taken from the held list (reserved ahead): `worker:<id>` and the process title are
    /// left on the job the batch began with (so no clock read, no encoding).
    Held,
}

impl Run<'_> {
    /// Ruby's `report_failed_job` and `done_working`, prepared: a failure is saved now by a
    /// backend other than Redis; the rest (the Redis record, the stats, the `worker:<id>`
    /// cleanup) is kept for the next reservation to send with it, or [`Self::flush_pending`].
    pub(super) fn complete(
        &mut self,
        queue: &str,
        payload: Value,
        outcome: Outcome,
        registered: bool,
        ran: Duration,
        ended: Instant,
    ) -> Result<(), Error> {
        let history = self.cfg.metrics != crate::Metrics::Off;
        if self.cfg.metrics == crate::Metrics::Full {
            let class = field(&payload, "class").and_then(Value::as_str);
            let millis = u64::try_from(ran.as_millis()).unwrap_or(u64::MAX);
            let failed = matches!(
                outcome,
                Outcome::Failed {
                    count_failed: true,
                    ..
                }
            );
            self.tally
                .add(queue, class.unwrap_or_default(), millis, failed, ended);
        }
        // resque-retry's counter after a success (only a class with a retry policy costs
        // anything here; a failure's step is below, with its record).
        if matches!(outcome, Outcome::Done) {
            self.retry_step(queue, &payload, &outcome, None);
        }
        let pending = match outcome {
            Outcome::Done => Pending {
                record: None,
                count_failed: false,
                registered,
                history,
            },
            Outcome::Failed {
                exception,
                error,
                backtrace,
                count_failed,
            } => {
                if exception == failure::DIRTY_EXIT {
                    // The job's own on_failure hook never ran (its process died): run it
                    // here, once, as Ruby's job.fail(DirtyExit) does.
                    run_failure_hook(self.registry, &payload, &exception, &error);
                }
                let new = NewFailure {
                    payload,
                    exception,
                    error,
                    backtrace,
                    worker: self.id.as_str().to_owned(),
                    queue: queue.to_owned(),
                };
                let failed = Outcome::Failed {
                    exception: new.exception.clone(),
                    error: new.error.clone(),
                    backtrace: Vec::new(),
                    count_failed,
                };
                let full = new.to_record(&time::now());
                let suppressed = self.retry_step(queue, &new.payload, &failed, Some(&full));
                let record = if suppressed {
                    // A retry is pending: only `failure-<retry key>` holds it (resque-retry's
                    // MultipleWithRetrySuppression); `stat:failed` still counts it.
                    None
                } else if self.backend.is_redis_only() {
                    Some((failure::FAILED_LIST.to_owned(), new.to_record(&time::now())))
                } else {
                    // Saved once, here: a retried bookkeeping step must not post twice.
                    if let Err(e) = block_on(self.rt, || self.backend.save(self.store, &new)) {
                        tracing::warn!(error = %e, "failure backend");
                    }
                    None
                };
                Pending {
                    record,
                    count_failed,
                    registered,
                    history,
                }
            }
        };
        self.pending = Some(pending);
        Ok(())
    }

    /// Sends the last job's bookkeeping on its own, if it has not been sent: with scripts,
    /// as a [`Store::finish_and_reserve`] call that reserves nothing (under a token, so a
    /// resend after a lost reply counts nothing twice); without, as Ruby's pipeline
    /// ([`Store::job_done`]; a resend after a lost reply may count the job twice, as Ruby's
    /// does). The job has run; its record and stats must not be lost to a Redis blip: retry
    /// for up to a minute (signals still handled), then return the error with the
    /// bookkeeping kept for the next attempt.
    pub(super) fn flush_pending(&mut self) -> Result<(), Error> {
        // With nothing to send, a reservation whose reply was lost is still asked about: the
        // job it took is given back rather than left to look like a dirty exit.
        let p = match self.pending.take() {
            Some(p) => Some(p),
            None if self.tally.waiting() || (self.use_script && self.token.unresolved()) => None,
            None => return Ok(()),
        };
        let id = self.id.as_str();
        // Only job metrics to send (no job's bookkeeping, no reservation to settle): one
        // attempt; if it fails they wait for a later call (the same token and sums), and an
        // idle or stopping worker is not held up by a Redis that is away.
        let only_metrics = p.is_none() && !self.token.unresolved();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let record = p
                .as_ref()
                .and_then(|p| p.record.as_ref().map(|(l, r)| (l.as_str(), r)));
            let count_failed = p.as_ref().is_some_and(|p| p.count_failed);
            let sent = if self.use_script {
                let finished = p.as_ref().map(Pending::finished);
                let token = self.token.next();
                let reliable = self.cfg.reliable;
                let section = super::reserve::extras(
                    &mut self.tally,
                    &self.ahead,
                    self.store
                        .reserve_section(id, finished, None, token, reliable),
                    true,
                );
                let reply = block_on(self.rt, || async {
                    let reply = self.store.send_section(&section?).await?;
                    self.store.read_reserved(id, None, reply)
                });
                self.tally.settle(&reply);
                if reply.is_ok() || matches!(&reply, Err(e) if !e.can_resend()) {
                    self.ahead.answered(None);
                }
                match reply {
                    // The same token as a reservation whose reply was lost: it had taken a
                    // job, which this worker, stopping, will not run. It goes back (and so
                    // do any it held ahead with it: `give_back_held`, or unregistering).
                    Ok(resque_store::Reserved::Job {
                        queue, raw, held, ..
                    }) => {
                        self.ahead.answered(Some(held));
                        tracing::warn!(queue = %queue, "giving back a job taken just before stopping");
                        block_on(self.rt, || self.store.give_back(id, &queue, &raw)).map(|_| false)
                    }
                    Ok(r) => Ok(r == resque_store::Reserved::Paused),
                    Err(resque_store::Error::ScriptUnavailable(why)) => {
                        if self.cfg.reliable {
                            self.pending = p;
                            return Err(Error::ReliableNeedsScripts(why));
                        }
                        // Nothing was done: the pipeline sends it.
                        self.use_script = false;
                        continue;
                    }
                    Err(e) => {
                        if e.can_resend() {
                            self.token.keep();
                        }
                        Err(e)
                    }
                }
            } else if p.is_some() || self.tally.waiting() {
                // Ruby's pipeline, which has no token: sums sent again after a lost reply
                // may be added twice, as its stats may be counted twice.
                let metrics = p.as_ref().and_then(|p| p.finished().metrics);
                let sums = self.tally.due(true);
                let sent = match (&p, sums) {
                    (Some(_), sums) => block_on(self.rt, || {
                        self.store.job_done(id, record, count_failed, metrics, sums)
                    }),
                    (None, Some(sums)) => {
                        block_on(self.rt, || self.store.add_sums(sums)).map(|()| false)
                    }
                    // No job and nothing due: `job_done` would count a job that never ran.
                    (None, None) => return Ok(()),
                };
                self.tally.settle(&sent);
                sent
            } else {
                return Ok(());
            };
            match sent {
                Ok(paused) => {
                    self.pause_hint = Some(paused);
                    return Ok(());
                }
                Err(e) if !e.can_resend() => {
                    // Redis answered: the other commands took effect, and sending them
                    // again would repeat them.
                    tracing::error!(error = %e, "the job's end was recorded only in part");
                    return Ok(());
                }
                Err(e) if only_metrics => {
                    tracing::warn!(error = %e, "sending the job metrics failed; they go with a later call");
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::error!(error = %e, "recording the job's end failed; retrying");
                    if let Err(stop) = self.sleep(Duration::from_secs(1)) {
                        self.pending = p;
                        return Err(stop);
                    }
                    if self.flags.shutdown {
                        // `sleep` returns at once when stopping; still pace the retries.
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                Err(e) => {
                    // Kept: the next reservation sends it again (under the same token).
                    self.pending = p;
                    return Err(e.into());
                }
            }
        }
    }

    /// Puts the jobs this worker holds ahead and will not run (pausing) back at the head
    /// of their queues. Stopping, unregistering does the same.
    pub(super) fn give_back_held(&mut self) -> Result<(), Error> {
        // What this worker holds is what the last answered call said (a resent call answers
        // with the held list as it stands, so the two views meet again).
        if !self.ahead.holding() {
            return Ok(());
        }
        let id = self.id.as_str();
        let n = block_on(self.rt, || async {
            let held = self.store.held(id).await?;
            self.store.return_held(id, &held).await
        })?;
        if let Some(n) = n.filter(|n| *n > 0) {
            tracing::info!(jobs = n, "gave back the jobs reserved ahead");
        }
        self.ahead.given_back();
        Ok(())
    }

    /// Ruby's `unregister_worker`: a job still registered as in progress becomes a
    /// DirtyExit failure, then the registry entries go.
    pub(super) fn unregister(&mut self) -> Result<(), Error> {
        let registry = self.registry;
        block_on(self.rt, || {
            self.backend.unregister_worker(
                self.store,
                self.id.as_str(),
                Departure::DirtyExit,
                |f| run_failure_hook(registry, &f.payload, &f.exception, &f.error),
            )
        })?;
        Ok(())
    }
}
