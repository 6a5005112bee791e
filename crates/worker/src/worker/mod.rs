//! The worker's life cycle, Ruby's `Worker#work`: start-up and registration, the polling
//! loop, a child per job (or in-process with `FORK_PER_JOB=false`), signals, heartbeat,
//! the after-job bookkeeping and unregistration.
//!
//! The parent is single-threaded: one current-thread tokio runtime and one Redis connection,
//! kept across forks (see `fork.rs`). `fork` happens outside `block_on`; waiting for the
//! child, a signal or the next heartbeat is one `poll(2)` on the [`Wake`] pipe (SIGCHLD
//! included); between jobs, signals come through the runtime's signal stream.
//!
//! Parts, each a part of [`Run`] (the running worker's state): `signals` (the waits,
//! signals and heartbeat), `child` (one job: in a forked child or in-process, its outcome
//! and the report pipe), `exec` (`--exec` programs), `reserve` (taking the next job, and
//! the reserve script's call token), `ahead` (jobs reserved ahead, `PREFETCH`),
//! `bookkeeping` (after a job, and unregistering), `prune` (dead workers, at start-up and
//! periodically: the reaper), `beat` (the heartbeat thread of an in-process worker).

mod ahead;
mod batch;
mod beat;
mod bookkeeping;
mod child;
mod exec;
mod hooks;
mod outcome;
mod pickup;
mod prune;
mod reserve;
mod retry;
mod signals;
mod tally;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use resque_failure::Backend;
use resque_protocol::{Payload, Value, WorkerId, WorkingOn, time};
use resque_store::{Connection, JobRuntime, Registry, Store};
use signal_hook::consts::signal::SIGCHLD;
use signal_hook_tokio::Signals;

use crate::config::Config;
use crate::proctitle::{self, titles};
use crate::wake::Wake;

use bookkeeping::{Pending, Taken};
use child::{ReportPipe, Runner};
pub use hooks::{Hooks, JobInfo};
use outcome::Outcome;
use reserve::Token;
use signals::{Flags, SIGNALS};

/// Errors that stop a worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis or the Resque API failed.
    #[error(transparent)]
    Store(#[from] resque_store::Error),
    /// The failure backend could not be set up or written.
    #[error(transparent)]
    Failure(#[from] resque_failure::Error),
    /// A system call failed (runtime, signals, pipes).
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Redis answered an error to taking a job from a queue.
    #[error("taking a job: {0}")]
    Reserve(String),
    /// Forking failed or was refused.
    #[error(transparent)]
    Fork(#[from] crate::fork::ForkError),
    /// Reliable mode needs the reserve script, and Redis will not run scripts.
    #[error(
        "reliable mode (RESQUE_RELIABLE) needs Redis to run scripts (EVALSHA), and it refused: {0}"
    )]
    ReliableNeedsScripts(String),
    /// The settings are not valid.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
}

/// The id of job slot `slot`: Ruby's `host:pid:queues` for the first; for the others, the
/// same with an inert `!slot-<n>` (skip a queue no one has) after the queues. Ids must
/// differ, and this keeps each one Ruby's shape with the real host and pid: Ruby's pruner
/// skips a worker whose queue set is not its own, and one with `*` finds the pid alive.
fn slot_id(hostname: &str, slot: u32, queues: &[String]) -> WorkerId {
    if slot == 0 {
        return WorkerId::new(hostname, std::process::id(), queues);
    }
    let mut with_mark: Vec<&str> = queues.iter().map(String::as_str).collect();
    let mark = format!("!slot-{slot}");
    with_mark.push(&mark);
    WorkerId::new(hostname, std::process::id(), &with_mark)
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Sys { what, source }
}

/// A worker ready to run (see [`crate::Builder`] for the command-line entry point).
pub struct Worker {
    config: Config,
    registry: Arc<Registry>,
    /// The jobs' runtime and connection, made when a job first asks (in the child, under
    /// fork per job).
    jobs: Arc<JobRuntime>,
    hooks: Arc<Hooks>,
    /// Which job slot this is (0, the first, also owns the process title): see
    /// [`Config::concurrency`].
    slot: u32,
    /// With job slots and `batch_reservations`, the thread this slot's reservations go
    /// through with other slots' (`batch.rs`).
    batch: Option<Arc<batch::Batcher>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker for `config` running the job types in `registry`.
    pub fn new(config: Config, registry: Registry) -> Self {
        Self::with_hooks(config, registry, Hooks::default())
    }

    /// A worker with worker hooks.
    pub fn with_hooks(config: Config, registry: Registry, hooks: Hooks) -> Self {
        Self {
            jobs: Arc::new(JobRuntime::connecting_to(
                config.redis.clone(),
                config.namespace.clone(),
            )),
            config,
            registry: Arc::new(registry),
            hooks: Arc::new(hooks),
            slot: 0,
            batch: None,
        }
    }

    /// Runs until QUIT/TERM/INT, or until the queues are empty with `INTERVAL=0`. With
    /// [`Config::concurrency`] above 1, each further slot runs the same loop on a thread of
    /// its own, as a worker of its own; this returns when every slot has stopped.
    pub fn run(&self) -> Result<(), Error> {
        if self.config.queues.configured().is_empty() {
            return Err(crate::ConfigError::NoQueues(crate::NoQueues).into());
        }
        if !self.config.fork_per_job && self.slot == 0 {
            let typed = self
                .registry
                .classes()
                .into_iter()
                .filter(|c| self.registry.timeout_of(c).is_some())
                .count();
            if self.config.job_timeout.is_some() || !self.config.timeouts.is_empty() || typed > 0 {
                // A thread running a blocking job cannot be stopped safely (its locks, its
                // half-written state): without a child to kill, only an async job's future
                // can be cancelled.
                tracing::warn!(
                    "with FORK_PER_JOB=false a job timeout cancels async jobs only; a sync job runs to its end"
                );
            }
        }
        if self.config.concurrency <= 1 || self.slot != 0 {
            return self.run_slot(self.batch.as_ref());
        }
        // Lanes of a few slots each: one lane for thirty slots made each call wait on the
        // slowest slot's turn (ARCHITECTURE.md, "Slots share their round trips").
        let lanes: Vec<Arc<batch::Batcher>> = if self.config.batch_reservations {
            let conn = Connection::parse(&self.config.redis)?;
            (0..self.config.concurrency.div_ceil(batch::SLOTS_PER_LANE))
                .map(|_| batch::Batcher::start(&conn, self.config.namespace.as_deref()))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let lane = |slot: u32| {
            let n = u32::try_from(lanes.len()).unwrap_or(1).max(1);
            lanes.get(usize::try_from(slot % n).unwrap_or(0)).cloned()
        };
        let slots: Vec<_> = (1..self.config.concurrency)
            .map(|slot| {
                let w = Worker {
                    config: self.config.clone(),
                    registry: Arc::clone(&self.registry),
                    // Its own runtime and connection for its jobs: a current-thread
                    // runtime runs one thread's work at a time.
                    jobs: Arc::new(JobRuntime::connecting_to(
                        self.config.redis.clone(),
                        self.config.namespace.clone(),
                    )),
                    hooks: Arc::clone(&self.hooks),
                    slot,
                    batch: lane(slot),
                };
                std::thread::Builder::new()
                    .name(format!("slot-{slot}"))
                    .spawn(move || w.run_slot(w.batch.as_ref()))
            })
            .collect::<Result<_, _>>()
            .map_err(sys("starting the job slots"))?;
        let mut result = self.run_slot(lane(0).as_ref());
        for slot in slots {
            let r = slot
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if let Err(e) = r {
                tracing::error!(error = %e, "a job slot stopped with an error");
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }

    /// One slot's life: what a worker with one job at a time does (its reservations sent
    /// through `batch` when there are several slots).
    fn run_slot(&self, batch: Option<&Arc<batch::Batcher>>) -> Result<(), Error> {
        if self.config.fork_per_job {
            crate::fork::use_one_malloc_arena();
        }
        // Before the first fork, so every child inherits it.
        child::panic_site::install();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            // fred resolves host names on the blocking pool: let that thread go at once, so
            // the process is single-threaded again before the first fork.
            .thread_keep_alive(Duration::from_millis(1))
            .build()
            .map_err(sys("building the runtime"))?;
        let conn = Connection::parse(&self.config.redis)?;
        let store = block_on(&rt, || {
            Store::connect(&conn, self.config.namespace.as_deref())
        })?;
        let backend =
            Backend::from_names(&self.config.failure_backend, self.config.airbrake.clone())?
                .with_max_recoveries(self.config.max_recoveries);
        let hostname = nix::unistd::gethostname()
            .map_err(|e| Error::Sys {
                what: "reading the host name",
                source: e.into(),
            })?
            .to_string_lossy()
            .into_owned();
        let id = slot_id(&hostname, self.slot, self.config.queues.configured());
        // SIGCHLD only wakes the wait for a child (`Wake`): in the runtime's stream too, it
        // cost every job a socket write in the handler and a read and a reactor turn after.
        let mut signals = rt
            .block_on(async { Signals::new(SIGNALS) })
            .map_err(sys("installing signal handlers"))?;
        let handle = signals.handle();
        let mut waited_for = SIGNALS.to_vec();
        waited_for.push(SIGCHLD);
        let wake = Wake::new(&waited_for).map_err(sys("installing signal handlers"))?;
        // In-process jobs block this thread: a thread of its own keeps the heartbeat going.
        let beat = if self.config.fork_per_job {
            None
        } else {
            Some(
                beat::Beat::start(
                    &conn,
                    self.config.namespace.as_deref(),
                    id.as_str().to_owned(),
                    self.config.heartbeat_interval,
                    lease(&self.config),
                )
                .map_err(sys("starting the heartbeat thread"))?,
            )
        };
        let mailbox = batch::Mailbox::new();
        let now = Instant::now();
        let mut run = Run {
            cfg: &self.config,
            registry: &self.registry,
            jobs: &self.jobs,
            hooks: &self.hooks,
            was_working: false,
            rt: &rt,
            store: &store,
            backend: &backend,
            id: &id,
            signals: &mut signals,
            wake: &wake,
            flags: Flags::default(),
            tz: jiff::tz::TimeZone::system(),
            next_heartbeat: now,
            job_ended: now,
            next_reap: now + self.config.heartbeat_interval / 4,
            lease_rule_from: now + lease(&self.config),
            beat,
            pause_hint: None,
            pending: None,
            tally: tally::Tally::new(),
            ahead: ahead::Ahead::new(self.config.prefetch),
            use_script: true,
            static_queues: None,
            token: Token::new(),
            report: None,
            started: String::new(),
            working_on: None,
            pickup: pickup::Pickup::new(),
            slot: self.slot,
            names: child::Names::default(),
            batch: batch.map(|b| (&**b, &mailbox)),
        };
        let result = run.work();
        handle.close();
        result
    }
}

struct Run<'a> {
    cfg: &'a Config,
    registry: &'a Arc<Registry>,
    jobs: &'a Arc<JobRuntime>,
    hooks: &'a Arc<Hooks>,
    /// For `queue_empty`: whether the last poll found a job.
    was_working: bool,
    rt: &'a tokio::runtime::Runtime,
    store: &'a Store,
    backend: &'a Backend,
    id: &'a WorkerId,
    signals: &'a mut Signals,
    /// The same signals and SIGCHLD, for waiting on a child without the runtime.
    wake: &'a Wake,
    flags: Flags,
    tz: jiff::tz::TimeZone,
    next_heartbeat: Instant,
    /// When the last job ended (its run time's second clock read).
    job_ended: Instant,
    /// The periodic reaper's next pass (every quarter heartbeat interval).
    next_reap: Instant,
    /// The reaper judges workers by their leases only from this time: one lease after
    /// start-up and after the last Redis error this worker saw.
    lease_rule_from: Instant,
    /// The heartbeat thread, when jobs run in-process.
    beat: Option<beat::Beat>,
    /// `pause-all-workers` as read at the end of the last job's pipeline: the next
    /// reservation uses it instead of reading it again (same command order as Ruby, one
    /// round trip fewer).
    pause_hint: Option<bool>,
    /// The last job's bookkeeping, not yet sent: the next reservation sends it in the same
    /// script (one round trip per job); stopping, pausing or the plain path send it alone.
    pending: Option<Pending>,
    /// The per-class job metrics added up since they were last sent (`tally.rs`).
    tally: tally::Tally,
    /// Jobs reserved ahead (`PREFETCH`, `ahead.rs`).
    ahead: ahead::Ahead,
    /// Whether to use [`Store::finish_and_reserve`]; turned off for good when the server
    /// will not run scripts, and the separate commands are used instead.
    use_script: bool,
    /// The reserve script's call token (see [`Token`]).
    token: Token,
    /// A fixed queue list, resolved once.
    static_queues: Option<Vec<String>>,
    /// The pipe children report failures on, made at the first fork and kept.
    report: Option<ReportPipe>,
    /// `worker:<id>:started` as registered (empty until then), to register again with.
    started: String,
    /// The running job's `worker:<id>` value, to write again if the registration vanishes
    /// while it runs.
    working_on: Option<String>,
    /// Blocking pickup's waiters (unused with `--polling`).
    pickup: pickup::Pickup,
    /// This job slot's number (see `Worker::slot`).
    slot: u32,
    /// The names in-process jobs' contexts share (`child::Names`).
    names: child::Names,
    /// Where this slot's reservations go with the other slots' (`batch.rs`); `None` for a
    /// worker with one slot, which sends its own.
    batch: Option<(&'a batch::Batcher, &'a batch::Mailbox)>,
}

/// How long a heartbeat's lease lasts (`resque-rs:leases`): one and a half heartbeat
/// intervals (half an interval's grace for a late beat); with a reaper pass every quarter
/// interval, a dead worker is found within 1.75 intervals of its last beat.
fn lease(cfg: &Config) -> Duration {
    cfg.heartbeat_interval * 3 / 2
}

impl Run<'_> {
    /// Ruby's `prune_interval`: a worker whose heartbeat is older is dead.
    fn prune_interval(&self) -> Duration {
        self.cfg.heartbeat_interval * 5
    }

    fn title(&self, t: &str) {
        // One process, one title: the first slot's.
        if self.slot == 0 {
            proctitle::set(t);
        }
    }

    fn work(&mut self) -> Result<(), Error> {
        self.title(&titles::starting());
        let id = self.id.as_str().to_owned();
        // Ruby's startup: drop our stale heartbeat, beat once, prune dead workers (under
        // the lock), then register.
        block_on(self.rt, || async {
            self.store.remove_heartbeat(&id).await?;
            self.store
                .heartbeat(&id, &self.tz, Some(lease(self.cfg)))
                .await
        })?;
        self.prune_dead_workers(true)?;
        for h in &self.hooks.before_first_fork {
            h();
        }
        let started = time::started(&time::now());
        block_on(self.rt, || self.store.register_worker(&id, &started))?;
        self.started = started;
        self.next_heartbeat = Instant::now() + self.cfg.heartbeat_interval;
        tracing::info!(worker = %id, "started");

        let c = self.cfg;
        let max = c.max_interval;
        let min = c.min_interval.min(max);
        let backoff = c.backoff_interval.min(max);
        let mut interval = c.interval.unwrap_or(Duration::ZERO).clamp(min, max);
        let result = loop {
            if !self.ahead.holding() {
                self.drain_signals();
            } else if self.wake.pending() {
                // A held job is next, and none of the runtime's work since the last call has
                // read its signal stream: let it turn its driver once, then read it. (No
                // signal came, the self-pipe says: nothing to read, no runtime turn a job.)
                self.rt.block_on(tokio::task::yield_now());
                self.drain_signals();
            }
            if self.flags.shutdown {
                break Ok(());
            }
            // A worker that is never idle beats (and reaps) between jobs too. Between held
            // jobs, run back to back, only once one is due by the last job's end: no clock
            // read, no connection news a job (the next call looks at those anyway).
            let duty_due = !self.ahead.holding() || self.job_ended >= self.next_duty();
            if duty_due && let Err(e) = self.heartbeat_if_due() {
                break Err(e);
            }
            match self.reserve() {
                Err(e @ Error::ReliableNeedsScripts(_)) => break Err(e),
                // Ruby logs "Error reserving job" and carries on; so do we: nothing was
                // taken (an LPOP either returned a job or did not happen), and the client
                // reconnects in the background.
                Err(e) => {
                    tracing::error!(error = %e, "error reserving job; retrying");
                    let pause = interval
                        .max(Duration::from_millis(500))
                        .min(Duration::from_secs(5));
                    if let Err(e) = self.sleep(pause) {
                        break Err(e);
                    }
                }
                Ok(Some((queue, raw, taken))) => {
                    self.was_working = true;
                    if let Err(e) = self.process(&queue, &raw, taken) {
                        break Err(e);
                    }
                    interval = min;
                }
                Ok(None) => {
                    // Idle: the job metrics added up go now rather than wait for a job (one
                    // attempt; kept for a later call if Redis is away).
                    if self.tally.waiting() {
                        match self.flush_pending() {
                            Err(e @ Error::ReliableNeedsScripts(_)) => break Err(e),
                            Err(e) => tracing::error!(error = %e, "sending the job metrics"),
                            Ok(()) => {}
                        }
                    }
                    // state_change: Ruby reads its own worker key after an empty poll, and
                    // runs queue_empty on the working -> idle transition.
                    if let Err(e) = block_on(self.rt, || self.store.worker_payload(&id)) {
                        tracing::warn!(error = %e, "reading this worker's state");
                    }
                    if std::mem::take(&mut self.was_working) {
                        for h in &self.hooks.queue_empty {
                            h();
                        }
                    }
                    if interval.is_zero() {
                        break Ok(());
                    }
                    interval = (interval + backoff).min(max);
                    tracing::debug!("Sleeping for {} seconds", interval.as_secs_f64());
                    let paused = self.flags.paused
                        || block_on(self.rt, || self.store.pause_all_requested()).unwrap_or(false);
                    self.title(&if paused {
                        titles::paused(&c.procline_prefix)
                    } else {
                        titles::waiting(&c.procline_prefix, c.queues.configured())
                    });
                    if !paused && !c.polling && self.pickup.usable() {
                        match self.queues_now() {
                            Ok(queues)
                                if !queues.is_empty() && queues.len() <= pickup::MAX_WAITERS =>
                            {
                                if let Err(e) = self.wait_for_job(&queues, interval) {
                                    break Err(e);
                                }
                                continue;
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "reading the queue list"),
                        }
                    }
                    if let Err(e) = self.sleep(interval) {
                        break Err(e);
                    }
                }
            }
        };
        // Whatever stopped the loop, the last job's bookkeeping goes first (else
        // unregistering would see its `worker:<id>` and record a dirty exit).
        let result = match result {
            Ok(()) => self.flush_pending(),
            Err(e) => {
                if let Err(e2) = self.flush_pending() {
                    tracing::error!(error = %e2, "recording the last job's end");
                }
                Err(e)
            }
        };
        // The heartbeat thread stops first: a beat after unregistering would leave a
        // heartbeat (and a lease) behind for a worker that is gone.
        self.beat = None;
        let unregistered = self.unregister();
        for h in &self.hooks.worker_exit {
            h();
        }
        tracing::info!(worker = %id, "exiting");
        result.and(unregistered)
    }

    fn process(&mut self, queue: &str, raw: &str, taken: Option<Taken>) -> Result<(), Error> {
        let payload = match Payload::decode(raw.as_bytes()) {
            Ok(p) => p,
            Err(e) => {
                // Ruby loses such an item (popped, then decode raises). We keep it, whole,
                // in a failure record.
                let outcome =
                    Outcome::failed(resque_protocol::failure::DECODE_EXCEPTION, e.to_string());
                outcome.log(queue, "(not JSON)", std::time::Duration::ZERO);
                return self.complete(
                    queue,
                    Value::String(raw.to_owned()),
                    outcome,
                    false,
                    Duration::ZERO,
                    Instant::now(),
                );
            }
        };
        let class = payload.class().unwrap_or_default();
        // Every line logged for this job, the forked child's and its hooks' too, carries
        // the job (in LOGFORMAT=json and logfmt; the text formats leave spans out).
        let span = tracing::info_span!("job", class, queue, worker = self.id.as_str());
        let _in_job = span.enter();
        // A job run from the held list leaves `worker:<id>` (and the process title) on the
        // job its batch began with, which Redis shows while the batch runs: writing it
        // would cost the round trip holding saves.
        let (now, run_at, written) = match taken {
            Some(Taken::Held) => (None, String::new(), None),
            Some(Taken::Popped {
                at,
                run_at,
                written,
            }) => (Some(at), run_at, written),
            None => {
                let now = Timestamp::now();
                (Some(now), time::run_at(now), None)
            }
        };
        if let Some(now) = now {
            let encoded = WorkingOn::encode_parts(queue, &run_at, &payload)
                .map_err(resque_store::Error::from)?;
            // The reserve script wrote the item as it came; Ruby writes it re-encoded. Those
            // are the same bytes unless the item was not in canonical form (spaces, escapes).
            if written.as_deref() != Some(encoded.as_str()) {
                let id = self.id.as_str();
                block_on(self.rt, || self.store.set_working_on(id, &encoded))?;
            }
            self.working_on = Some(encoded);
            self.title(&titles::processing(
                &self.cfg.procline_prefix,
                queue,
                now.as_second(),
                class,
            ));
        }
        tracing::debug!("got: (Job{{{queue}}} | {class})");

        let began = Instant::now();
        let outcome = if self.cfg.fork_per_job {
            self.perform_with_fork(queue, &payload)?
        } else {
            Runner::new(self.registry, self.jobs, self.cfg, self.id.as_str()).perform(
                queue,
                &payload,
                &mut self.names,
            )
        };
        self.job_ended = Instant::now();
        let ran = self.job_ended.saturating_duration_since(began);
        self.ahead.job(ran);
        outcome.log(queue, class, ran);
        self.working_on = None;
        self.complete(
            queue,
            payload.into_value(),
            outcome,
            true,
            ran,
            self.job_ended,
        )
    }
}

/// Drives the future `make` returns to completion on the parent's runtime.
///
/// Never inlined, the future made in here rather than by the caller, and boxed: fred's
/// command futures are about 5 KB, and built by the caller each one sat in the caller's
/// stack frame. The job loop's functions had 21-25 KB frames, which the stack probes write
/// page by page, so after every fork the parent took about 22 copy-on-write faults on its
/// stack alone (ARCHITECTURE.md, "Fewer pages written per fork").
#[inline(never)]
fn block_on<F: std::future::Future>(
    rt: &tokio::runtime::Runtime,
    make: impl FnOnce() -> F,
) -> F::Output {
    // Boxed, the runtime's `block_on` moves a pointer around rather than the future
    // itself (it moved a 5 KB future through a 21 KB frame).
    rt.block_on(Box::pin(make()))
}
