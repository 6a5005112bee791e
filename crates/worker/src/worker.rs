//! The worker's life cycle, Ruby's `Worker#work`: start-up and registration, the polling
//! loop, a child per job (or in-process with `FORK_PER_JOB=false`), signals, heartbeat,
//! the after-job bookkeeping and unregistration.
//!
//! The parent is single-threaded: one current-thread tokio runtime and one Redis connection,
//! kept across forks (see `fork.rs`). `fork` happens outside `block_on`; waiting for the
//! child, a signal or the next heartbeat is one `poll(2)` on the [`Wake`] pipe (SIGCHLD
//! included); between jobs, signals come through the runtime's signal stream.

use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::Timestamp;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use resque_failure::{Backend, NewFailure};
use resque_protocol::{Failure, Payload, Value, WorkerId, WorkingOn, failure, time};
use resque_store::{Connection, Context, Performed, Registry, Store};
use signal_hook::consts::signal::{SIGCHLD, SIGCONT, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_tokio::Signals;

use crate::config::Config;
use crate::fork::fork_child;
use crate::proctitle::{self, titles};
use crate::wake::Wake;

/// The signals the worker acts on (Ruby's `register_signal_handlers`).
const SIGNALS: [i32; 6] = [SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCONT];

/// Ruby's default `heartbeat_interval`.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);
/// Largest error and backtrace a child reports, in bytes before encoding (the encoded report
/// is then cut to what the pipe holds: see [`report_json`]).
const MAX_REPORT: usize = 48 * 1024;

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
}

fn sys(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Sys { what, source }
}

/// How a job ended, as the parent records it.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Performed, or skipped by `before_perform` (not a failure).
    Done,
    /// Failed: a failure record, and whether it counts in `stat:failed` (Ruby counts
    /// exceptions raised by the job, not dirty exits).
    Failed {
        exception: String,
        error: String,
        backtrace: Vec<String>,
        count_failed: bool,
    },
}

impl Outcome {
    fn failed(exception: &str, error: impl Into<String>) -> Self {
        Self::Failed {
            exception: exception.to_owned(),
            error: error.into(),
            backtrace: Vec::new(),
            count_failed: true,
        }
    }
}

/// Parent-side flags set by signals.
#[derive(Debug, Default)]
struct Flags {
    shutdown: bool,
    paused: bool,
    /// Kill the running child (TERM/INT/USR1), with TERM_CHILD escalation.
    kill_child: bool,
}

/// A job as worker hooks see it: its queue and payload.
#[derive(Debug, Clone, Copy)]
pub struct JobInfo<'a> {
    /// The queue it came from.
    pub queue: &'a str,
    /// Its payload.
    pub payload: &'a Payload,
}

type Hook = Box<dyn Fn() + Send + Sync>;
type JobHook = Box<dyn for<'a> Fn(JobInfo<'a>) + Send + Sync>;
type WorkerHook = Box<dyn Fn(&str) + Send + Sync>;

/// Ruby's worker hooks (`Resque.before_fork = ..`), in registration order. SPEC §1.11:
/// `before_first_fork` once at start-up (also without forking), `before_fork` in the parent
/// and `after_fork` in the child around every fork, `before_pause`/`after_pause` on
/// USR2/CONT (given the worker id), `queue_empty` when the worker goes from working to idle,
/// `worker_exit` after unregistering, `shutdown` when QUIT/TERM/INT asks it to stop.
#[derive(Default)]
pub struct Hooks {
    pub(crate) before_first_fork: Vec<Hook>,
    pub(crate) before_fork: Vec<JobHook>,
    pub(crate) after_fork: Vec<JobHook>,
    pub(crate) before_pause: Vec<WorkerHook>,
    pub(crate) after_pause: Vec<WorkerHook>,
    pub(crate) queue_empty: Vec<Hook>,
    pub(crate) worker_exit: Vec<Hook>,
    pub(crate) shutdown: Vec<Hook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("before_first_fork", &self.before_first_fork.len())
            .field("before_fork", &self.before_fork.len())
            .field("after_fork", &self.after_fork.len())
            .field("before_pause", &self.before_pause.len())
            .field("after_pause", &self.after_pause.len())
            .field("queue_empty", &self.queue_empty.len())
            .field("worker_exit", &self.worker_exit.len())
            .field("shutdown", &self.shutdown.len())
            .finish()
    }
}

/// A worker ready to run (see [`crate::Builder`] for the command-line entry point).
pub struct Worker {
    config: Config,
    registry: Arc<Registry>,
    hooks: Arc<Hooks>,
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
            config,
            registry: Arc::new(registry),
            hooks: Arc::new(hooks),
        }
    }

    /// Runs until QUIT/TERM/INT, or until the queues are empty with `INTERVAL=0`.
    pub fn run(&self) -> Result<(), Error> {
        crate::fork::use_one_malloc_arena();
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
            Backend::from_names(&self.config.failure_backend, self.config.airbrake.clone())?;
        let hostname = nix::unistd::gethostname()
            .map_err(|e| Error::Sys {
                what: "reading the host name",
                source: e.into(),
            })?
            .to_string_lossy()
            .into_owned();
        let id = WorkerId::new(
            &hostname,
            std::process::id(),
            self.config.queues.configured(),
        );
        // SIGCHLD only wakes the wait for a child (`Wake`): in the runtime's stream too, it
        // cost every job a socket write in the handler and a read and a reactor turn after.
        let mut signals = rt
            .block_on(async { Signals::new(SIGNALS) })
            .map_err(sys("installing signal handlers"))?;
        let handle = signals.handle();
        let mut waited_for = SIGNALS.to_vec();
        waited_for.push(SIGCHLD);
        let wake = Wake::new(&waited_for).map_err(sys("installing signal handlers"))?;
        let mut run = Run {
            cfg: &self.config,
            registry: &self.registry,
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
            next_heartbeat: Instant::now(),
            pause_hint: None,
            pending: None,
            use_script: true,
            static_queues: None,
            report: None,
        };
        let result = run.work();
        handle.close();
        result
    }
}

struct Run<'a> {
    cfg: &'a Config,
    registry: &'a Arc<Registry>,
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
    /// `pause-all-workers` as read at the end of the last job's pipeline: the next
    /// reservation uses it instead of reading it again (same command order as Ruby, one
    /// round trip fewer).
    pause_hint: Option<bool>,
    /// The last job's bookkeeping, not yet sent: the next reservation sends it in the same
    /// script (one round trip per job); stopping, pausing or the plain path send it alone.
    pending: Option<Pending>,
    /// Whether to use [`Store::finish_and_reserve`]; turned off for good when the server
    /// will not run scripts, and the separate commands are used instead.
    use_script: bool,
    /// A fixed queue list with each name's JSON encoding (computed once).
    static_queues: Option<Vec<(String, String)>>,
    /// The pipe children report failures on, made at the first fork and kept.
    report: Option<ReportPipe>,
}

/// The pipe forked children report their failures on: one for the worker's life, not one
/// a job (a pipe and three closes a job were 4% of the fork-per-job loop).
///
/// Only one child runs at a time, and the parent empties the pipe after every child that
/// did not exit 0 (a child writes only when its job failed, then exits 1). So each report
/// starts in an empty pipe, and whatever a killed child left half-written is read and
/// thrown away before the next fork. Both ends are non-blocking: a child whose report does
/// not fit gives up instead of blocking while its parent waits for it to exit.
#[derive(Debug)]
struct ReportPipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl ReportPipe {
    fn new() -> Result<Self, Error> {
        use nix::fcntl::OFlag;
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(|e| Error::Sys {
                what: "creating the report pipe",
                source: e.into(),
            })?;
        Ok(Self { read, write })
    }

    /// Reads everything in the pipe (what the last child wrote).
    fn drain(&self) -> String {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR) => {}
                // EAGAIN: all of it has been read.
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// In a child: writes `outcome`'s report to the (empty) report pipe, cut to fit it.
fn send_report(pipe: std::os::fd::BorrowedFd<'_>, outcome: &Outcome) {
    use nix::fcntl::{FcntlArg, fcntl};
    // The pipe's capacity (64 KiB unless the user's pipe quota is spent: then 4 KiB).
    let room = fcntl(pipe, FcntlArg::F_GETPIPE_SZ)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(4096);
    let report = report_json(outcome, room);
    let mut rest = report.as_bytes();
    while !rest.is_empty() {
        match nix::unistd::write(pipe, rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            // Full (it cannot be, but a child must never wait for its parent to read): the
            // parent finds no whole report and records the exit status instead.
            Err(_) => break,
        }
    }
}

/// A finished job's bookkeeping (Ruby's `report_failed_job` and `done_working`).
#[derive(Debug)]
struct Pending {
    /// `(failure list, record)` for the Redis backends.
    record: Option<(String, Failure)>,
    count_failed: bool,
}

/// What the reserve script already did for a job it took.
#[derive(Debug)]
struct Taken {
    /// The time the reservation was made (the process title).
    at: Timestamp,
    /// That time as `worker:<id>`'s `run_at`.
    run_at: String,
    /// The `worker:<id>` value the script wrote, if it wrote one.
    written: Option<String>,
}

impl Run<'_> {
    fn title(&self, t: &str) {
        proctitle::set(t);
    }

    fn work(&mut self) -> Result<(), Error> {
        self.title(&titles::starting());
        let id = self.id.as_str().to_owned();
        // Ruby's startup: drop our stale heartbeat, beat once, prune dead workers (under
        // the lock), then register.
        block_on(self.rt, || async {
            self.store.remove_heartbeat(&id).await?;
            self.store.heartbeat(&id, &self.tz).await
        })?;
        self.prune_dead_workers()?;
        for h in &self.hooks.before_first_fork {
            h();
        }
        let started = time::started(&time::now());
        block_on(self.rt, || self.store.register_worker(&id, &started))?;
        self.next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
        tracing::info!(worker = %id, "started");

        let c = self.cfg;
        let max = c.max_interval;
        let min = c.min_interval.min(max);
        let backoff = c.backoff_interval.min(max);
        let mut interval = c.interval.unwrap_or(Duration::ZERO).clamp(min, max);
        let result = loop {
            self.drain_signals();
            if self.flags.shutdown {
                break Ok(());
            }
            match self.reserve() {
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
        let unregistered = self.unregister();
        for h in &self.hooks.worker_exit {
            h();
        }
        tracing::info!(worker = %id, "exiting");
        result.and(unregistered)
    }

    /// Ruby's `prune_dead_workers`, run at start-up under the `SET NX EX 60` lock:
    /// 1. every heartbeat older than [`PRUNE_INTERVAL`] by Redis `TIME` (registered or not)
    ///    is unregistered, its job failed with `PruneDeadWorkerDirtyExit`;
    /// 2. every other registered worker on this host listening on the same queues (or any,
    ///    when this worker has `*`) whose pid is not a resque-titled process in `ps` is
    ///    unregistered, its job failed with `DirtyExit`.
    ///
    /// Unlike Ruby, pass 2 is skipped if `ps` cannot be run: an empty process list would
    /// otherwise make every live worker on the host look dead.
    fn prune_dead_workers(&mut self) -> Result<(), Error> {
        let id = self.id.as_str().to_owned();
        let store = self.store;
        let got_lock = block_on(self.rt, || {
            store.acquire_pruning_lock(&id, HEARTBEAT_INTERVAL.as_secs() as i64)
        })?;
        if !got_lock {
            return Ok(());
        }
        let all = block_on(self.rt, || store.worker_ids())?;
        let known = live_resque_pids();
        let (heartbeats, (now, _)) = block_on(self.rt, || async {
            Ok::<_, resque_store::Error>((store.heartbeats().await?, store.server_time().await?))
        })?;
        let mut expired: Vec<String> = heartbeats
            .iter()
            .filter(|(_, hb)| {
                time::parse_iso8601(hb)
                    .is_some_and(|t| now - t.as_second() > PRUNE_INTERVAL.as_secs() as i64)
            })
            .map(|(w, _)| w.clone())
            .collect();
        expired.sort();
        for w in &expired {
            tracing::info!(worker = %w, "pruning dead worker (heartbeat expired)");
            self.unregister_other(w, true)?;
        }
        let Some(known) = known else {
            tracing::warn!("cannot run ps; not pruning same-host workers without a heartbeat");
            return Ok(());
        };
        let hostname = self.id.hostname().to_owned();
        let mine: std::collections::BTreeSet<&str> = self
            .cfg
            .queues
            .configured()
            .iter()
            .map(String::as_str)
            .collect();
        for w in all.iter().filter(|w| !expired.contains(w)) {
            // Ruby splits on every ':' here (unlike Worker.find).
            let mut parts = w.split(':');
            let (host, pid, queues) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let theirs: std::collections::BTreeSet<&str> = queues.split(',').collect();
            if !(mine.contains("*") || theirs == mine) || host != Some(hostname.as_str()) {
                continue;
            }
            if pid.is_some_and(|p| known.contains(p)) {
                continue;
            }
            tracing::info!(worker = %w, "pruning dead worker (no such process)");
            self.unregister_other(w, false)?;
        }
        Ok(())
    }

    /// `unregister_worker` for another (dead) worker: its in-progress job becomes a failure
    /// (running the job class's `on_failure` hook if it is one of ours), then its entries go.
    fn unregister_other(&mut self, worker: &str, heartbeat_expired: bool) -> Result<(), Error> {
        let store = self.store;
        block_on(self.rt, || async {
            if let Some(raw) = store
                .worker_payload(worker)
                .await?
                .filter(|s| !s.is_empty())
            {
                let (queue, payload) = resque_protocol::worker::split_working_on(&raw);
                let class = payload
                    .get("class")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let (exception, error) = if heartbeat_expired {
                    (
                        "Resque::PruneDeadWorkerDirtyExit".to_owned(),
                        format!("Worker {worker} did not gracefully exit while processing {class}"),
                    )
                } else {
                    (
                        failure::DIRTY_EXIT.to_owned(),
                        failure::JOB_STILL_BEING_PROCESSED.to_owned(),
                    )
                };
                let err = resque_store::JobError::new(exception.clone(), error.clone());
                let args = payload
                    .get("args")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                self.registry.on_failure(&class, &err, &args);
                let new = NewFailure {
                    payload,
                    exception,
                    error,
                    backtrace: Vec::new(),
                    worker: worker.to_owned(),
                    queue,
                };
                if let Err(e) = self.backend.save(store, &new).await {
                    tracing::warn!(error = %e, "failure backend");
                }
            }
            store.unregister_worker(worker).await?;
            Ok::<_, Error>(())
        })
    }

    /// Takes the next job, sending the last job's bookkeeping first: nothing while paused
    /// (USR2 or `pause-all-workers`), else `LPOP` the queues in order (re-resolving dynamic
    /// lists first). With scripts (the default) the bookkeeping, the pause check, the pops
    /// and `SET worker:<id>` are one [`Store::finish_and_reserve`] call.
    fn reserve(&mut self) -> Result<Option<(String, String, Option<Taken>)>, Error> {
        if self.flags.paused {
            self.flush_pending()?;
            return Ok(None);
        }
        if self.use_script {
            match self.reserve_scripted() {
                Err(Error::Store(resque_store::Error::ScriptUnavailable(why))) => {
                    tracing::warn!(
                        reason = %why,
                        "Redis will not run the reserve script; using separate commands"
                    );
                    self.use_script = false;
                }
                other => return other,
            }
        }
        self.flush_pending()?;
        let spec = &self.cfg.queues;
        let hint = self.pause_hint.take();
        Ok(block_on(self.rt, || async {
            let paused = match hint {
                Some(p) => p,
                None => self.store.pause_all_requested().await?,
            };
            if paused {
                return Ok(None);
            }
            let queues = if spec.is_dynamic() {
                spec.resolve(&self.store.queue_names().await?)
            } else {
                spec.resolve(&[])
            };
            self.store.pop_first(&queues).await
        })?
        .map(|(q, raw)| (q, raw, None)))
    }

    fn reserve_scripted(&mut self) -> Result<Option<(String, String, Option<Taken>)>, Error> {
        let spec = &self.cfg.queues;
        let dynamic;
        let queues: &[(String, String)] = if spec.is_dynamic() {
            let names = block_on(self.rt, || self.store.queue_names())?;
            dynamic = with_json(spec.resolve(&names))?;
            &dynamic
        } else {
            if self.static_queues.is_none() {
                self.static_queues = Some(with_json(spec.resolve(&[]))?);
            }
            self.static_queues.as_deref().unwrap_or_default()
        };
        let at = Timestamp::now();
        let run_at = time::run_at(at);
        let pending = self.pending.take();
        let finished = pending.as_ref().map(|p| resque_store::Finished {
            record: p.record.as_ref().map(|(l, r)| (l.as_str(), r)),
            count_failed: p.count_failed,
        });
        let id = self.id.as_str();
        let reply = block_on(self.rt, || {
            self.store
                .finish_and_reserve(id, finished, Some((queues, &run_at)))
        });
        let reserved = match reply {
            Ok(r) => r,
            Err(e) => {
                if e.is_connection() || matches!(e, resque_store::Error::ScriptUnavailable(_)) {
                    // We cannot tell whether it ran (the connection failed), or nothing
                    // was done (the script was refused): keep the bookkeeping to send again.
                    self.pending = pending;
                } else if pending.is_some() {
                    // Redis ran part of it and refused a command (say, a stats key of the
                    // wrong type): sending it again would repeat what did run.
                    tracing::error!(error = %e, "the job's end was recorded only in part");
                }
                return Err(e.into());
            }
        };
        Ok(match reserved {
            resque_store::Reserved::Paused | resque_store::Reserved::Empty => None,
            resque_store::Reserved::Failed(msg) => return Err(Error::Reserve(msg)),
            resque_store::Reserved::Job {
                queue,
                raw,
                registered,
            } => {
                let written = registered.then(|| {
                    let qjson = queues
                        .iter()
                        .find(|(q, _)| *q == queue)
                        .map_or("", |(_, j)| j.as_str());
                    format!(r#"{{"queue":{qjson},"run_at":"{run_at}","payload":{raw}}}"#)
                });
                Some((
                    queue,
                    raw,
                    Some(Taken {
                        at,
                        run_at,
                        written,
                    }),
                ))
            }
        })
    }

    fn process(&mut self, queue: &str, raw: &str, taken: Option<Taken>) -> Result<(), Error> {
        let payload = match Payload::decode(raw.as_bytes()) {
            Ok(p) => p,
            Err(e) => {
                // Ruby loses such an item (popped, then decode raises). We keep it, whole,
                // in a failure record.
                let outcome = Outcome::failed("Resque::Helpers::DecodeException", e.to_string());
                return self.complete(queue, Value::String(raw.to_owned()), outcome);
            }
        };
        let (now, run_at, written) = match taken {
            Some(t) => (t.at, t.run_at, t.written),
            None => {
                let now = Timestamp::now();
                (now, time::run_at(now), None)
            }
        };
        let class = payload.class().unwrap_or_default();
        let encoded =
            WorkingOn::encode_parts(queue, &run_at, &payload).map_err(resque_store::Error::from)?;
        // The reserve script wrote the item as it came; Ruby writes it re-encoded. Those
        // are the same bytes unless the item was not in canonical form (spaces, escapes).
        if written.as_deref() != Some(encoded.as_str()) {
            let id = self.id.as_str();
            block_on(self.rt, || self.store.set_working_on(id, &encoded))?;
        }
        self.title(&titles::processing(
            &self.cfg.procline_prefix,
            queue,
            now.as_second(),
            class,
        ));
        tracing::info!(queue, class = %class, "got job");

        let outcome = if self.cfg.fork_per_job {
            self.perform_with_fork(queue, &payload)?
        } else {
            perform(
                self.registry,
                &self.cfg.exec,
                queue,
                &payload,
                self.id.as_str(),
                &self.cfg.redis,
                self.cfg.namespace.as_deref(),
            )
        };
        self.complete(queue, payload.into_value(), outcome)
    }

    /// Forks a child for the job and waits for it, handling signals meanwhile.
    fn perform_with_fork(&mut self, queue: &str, payload: &Payload) -> Result<Outcome, Error> {
        if self.report.is_none() {
            self.report = Some(ReportPipe::new()?);
        }
        let Some(report) = self.report.as_ref() else {
            unreachable!("made just above")
        };
        let report_fd = report.write.as_fd();
        for h in &self.hooks.before_fork {
            h(JobInfo { queue, payload });
        }
        // The child only borrows: the closure is dropped in the parent right after the
        // fork, and freeing owned copies there would write (so copy) shared heap pages.
        let (registry, hooks, cfg, id) = (self.registry, self.hooks, self.cfg, self.id);
        self.wake.clear();
        let pid = fork_child(move || {
            // The child: run the job, report a failure, leave.
            for h in &hooks.after_fork {
                h(JobInfo { queue, payload });
            }
            let outcome = perform(
                registry,
                &cfg.exec,
                queue,
                payload,
                id.as_str(),
                &cfg.redis,
                cfg.namespace.as_deref(),
            );
            // Only a failure is reported (the parent reads the pipe only after an exit
            // status other than 0).
            let code = match &outcome {
                Outcome::Done => 0,
                Outcome::Failed { .. } => {
                    send_report(report_fd, &outcome);
                    1
                }
            };
            let _ = std::io::Write::flush(&mut std::io::stdout());
            code
        })?;
        proctitle::set_forked(
            &self.cfg.procline_prefix,
            pid.as_raw(),
            Timestamp::now().as_second(),
        );
        let status = self.wait_child(pid)?;
        // A child reports only failures: nothing to read after a success. After anything
        // else the pipe is emptied, so no part of this child's report meets the next one's.
        let report = match status {
            WaitStatus::Exited(_, 0) => String::new(),
            _ => self
                .report
                .as_ref()
                .map(ReportPipe::drain)
                .unwrap_or_default(),
        };
        Ok(match status {
            WaitStatus::Exited(_, 0) => Outcome::Done,
            WaitStatus::Exited(_, code) => parse_report(&report).unwrap_or_else(|| {
                // Ruby records nothing for a child that exits non-zero by itself; ours only
                // do that after writing a report, so this is a crash we keep a record of.
                Outcome::failed(
                    "Resque::DirtyExit",
                    format!("Child process exited with status {code}"),
                )
            }),
            WaitStatus::Signaled(p, sig, _) => Outcome::Failed {
                exception: failure::DIRTY_EXIT.to_owned(),
                error: format!(
                    "Child process received unhandled signal pid {p} {sig:?} (signal {})",
                    sig as i32
                ),
                backtrace: Vec::new(),
                count_failed: false,
            },
            other => Outcome::failed(
                "Resque::DirtyExit",
                format!("Child process ended oddly: {other:?}"),
            ),
        })
    }

    /// Waits for the child, reacting to signals: QUIT finishes the job; TERM and INT kill
    /// it (KILL, or with TERM_CHILD: TERM after RESQUE_PRE_SHUTDOWN_TIMEOUT, KILL after
    /// RESQUE_TERM_TIMEOUT); USR1 kills it and goes on; USR2/CONT pause and resume.
    fn wait_child(&mut self, pid: Pid) -> Result<WaitStatus, Error> {
        let cfg = self.cfg;
        let mut escalation: Option<(Instant, Signal)> = None;
        loop {
            if self.flags.kill_child && escalation.is_none() {
                self.flags.kill_child = false;
                escalation = if cfg.term_child {
                    Some((Instant::now() + cfg.pre_shutdown_timeout, Signal::SIGTERM))
                } else {
                    let _ = kill(pid, Signal::SIGKILL);
                    None
                };
            }
            if let Some((at, sig)) = escalation
                && Instant::now() >= at
            {
                let _ = kill(pid, sig);
                escalation = (sig == Signal::SIGTERM)
                    .then(|| (Instant::now() + cfg.term_timeout, Signal::SIGKILL));
            }
            self.heartbeat_if_due()?;
            let wake =
                escalation.map_or(self.next_heartbeat, |(at, _)| at.min(self.next_heartbeat));
            // The wake pipe was emptied before the fork, so the child's SIGCHLD is in it by
            // the time it has exited: `waitpid` is asked after each wait, not before.
            let woke = self.wake.wait(wake);
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                // Another signal came (not the child's exit): take it, and any others,
                // from the runtime.
                Ok(WaitStatus::StillAlive) => {
                    if woke {
                        self.take_signals();
                    }
                }
                Ok(s) => return Ok(s),
                Err(e) => {
                    return Err(Error::Sys {
                        what: "waiting for the child",
                        source: e.into(),
                    });
                }
            }
        }
    }

    /// Handles the signals that have arrived, going through the runtime (whose reactor
    /// has to turn to see them), waiting at most a few milliseconds for stragglers.
    fn take_signals(&mut self) {
        loop {
            let s = self.rt.block_on(async {
                tokio::select! {
                    s = self.signals.next() => s,
                    () = tokio::time::sleep(Duration::from_millis(2)) => None,
                }
            });
            match s {
                Some(s) => self.on_signal(s),
                None => break,
            }
        }
    }

    fn on_signal(&mut self, sig: i32) {
        match sig {
            SIGQUIT => self.shutdown(false),
            SIGTERM if self.cfg.graceful_term => self.shutdown(false),
            SIGTERM | SIGINT => self.shutdown(true),
            SIGUSR1 => self.flags.kill_child = true,
            SIGUSR2 => {
                tracing::info!("USR2 received; pausing job processing");
                for h in &self.hooks.before_pause {
                    h(self.id.as_str());
                }
                self.flags.paused = true;
            }
            SIGCONT => {
                tracing::info!("CONT received; resuming job processing");
                for h in &self.hooks.after_pause {
                    h(self.id.as_str());
                }
                self.flags.paused = false;
            }
            _ => {}
        }
    }

    /// Ruby's `shutdown` (finish the job) or `shutdown!` (kill the child); the `shutdown`
    /// hooks run once.
    fn shutdown(&mut self, kill_child: bool) {
        if !self.flags.shutdown {
            for h in &self.hooks.shutdown {
                h();
            }
        }
        self.flags.shutdown = true;
        self.flags.kill_child |= kill_child;
    }

    /// Handles signals already delivered, without waiting.
    fn drain_signals(&mut self) {
        loop {
            let s = self.rt.block_on(async {
                tokio::select! {
                    biased;
                    s = self.signals.next() => s,
                    () = std::future::ready(()) => None,
                }
            });
            match s {
                Some(s) => self.on_signal(s),
                None => break,
            }
        }
        // A kill request with no child running is moot.
        self.flags.kill_child = false;
    }

    /// Sleeps `d`, waking early for QUIT/TERM/INT, and beating the heart when due.
    fn sleep(&mut self, d: Duration) -> Result<(), Error> {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.flags.shutdown {
            self.heartbeat_if_due()?;
            let wake = until.min(self.next_heartbeat);
            let sig = self.rt.block_on(async {
                tokio::select! {
                    s = self.signals.next() => s,
                    () = tokio::time::sleep_until(wake.into()) => None,
                }
            });
            if let Some(s) = sig {
                self.on_signal(s);
                if s == SIGCONT || s == SIGUSR2 {
                    return Ok(());
                }
            }
        }
        self.flags.kill_child = false;
        Ok(())
    }

    fn heartbeat_if_due(&mut self) -> Result<(), Error> {
        if Instant::now() >= self.next_heartbeat {
            match block_on(self.rt, || self.store.heartbeat(self.id.as_str(), &self.tz)) {
                Ok(_) => self.next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL,
                // Redis away: try again soon; the worker keeps going.
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed; retrying");
                    self.next_heartbeat = Instant::now() + Duration::from_secs(5);
                }
            }
        }
        Ok(())
    }

    /// Ruby's `report_failed_job` and `done_working`, prepared: a failure is saved now by a
    /// backend other than Redis; the rest (the Redis record, the stats, the `worker:<id>`
    /// cleanup) is kept for the next reservation to send with it, or [`Self::flush_pending`].
    fn complete(&mut self, queue: &str, payload: Value, outcome: Outcome) -> Result<(), Error> {
        let pending = match outcome {
            Outcome::Done => Pending {
                record: None,
                count_failed: false,
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
                tracing::info!(queue, exception = %new.exception, error = %new.error, "job failed");
                let record = if self.backend.is_redis_only() {
                    Some(("failed".to_owned(), new.to_record(&time::now())))
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
                }
            }
        };
        self.pending = Some(pending);
        Ok(())
    }

    /// Sends the last job's bookkeeping on its own ([`Store::job_done`], one pipeline), if
    /// it has not been sent. The job has run; its record and stats must not be lost to a
    /// Redis blip: retry for up to a minute (signals still handled), then return the error
    /// with the bookkeeping kept for the next attempt.
    fn flush_pending(&mut self) -> Result<(), Error> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let id = self.id.as_str();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let record = p.record.as_ref().map(|(l, r)| (l.as_str(), r));
            match block_on(self.rt, || self.store.job_done(id, record, p.count_failed)) {
                Ok(paused) => {
                    self.pause_hint = Some(paused);
                    return Ok(());
                }
                Err(e) if !e.is_connection() => {
                    // Redis answered: the pipeline's other commands took effect, and
                    // sending it again would repeat them.
                    tracing::error!(error = %e, "the job's end was recorded only in part");
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::error!(error = %e, "recording the job's end failed; retrying");
                    if let Err(stop) = self.sleep(Duration::from_secs(1)) {
                        self.pending = Some(p);
                        return Err(stop);
                    }
                    if self.flags.shutdown {
                        // `sleep` returns at once when stopping; still pace the retries.
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                Err(e) => {
                    // Kept: the next reservation sends it again.
                    self.pending = Some(p);
                    return Err(e.into());
                }
            }
        }
    }

    /// Ruby's `unregister_worker`: a job still registered as in progress becomes a
    /// DirtyExit failure, then the registry entries go.
    fn unregister(&mut self) -> Result<(), Error> {
        let id = self.id.as_str();
        block_on(self.rt, || async {
            if let Some(raw) = self
                .store
                .worker_payload(id)
                .await?
                .filter(|s| !s.is_empty())
            {
                let (queue, payload) = resque_protocol::worker::split_working_on(&raw);
                run_failure_hook(
                    self.registry,
                    &payload,
                    failure::DIRTY_EXIT,
                    failure::JOB_STILL_BEING_PROCESSED,
                );
                let new = NewFailure {
                    payload,
                    exception: failure::DIRTY_EXIT.to_owned(),
                    error: failure::JOB_STILL_BEING_PROCESSED.to_owned(),
                    backtrace: Vec::new(),
                    worker: id.to_owned(),
                    queue,
                };
                if let Err(e) = self.backend.save(self.store, &new).await {
                    tracing::warn!(error = %e, "failure backend");
                }
            }
            self.store.unregister_worker(id).await?;
            Ok::<_, Error>(())
        })
    }
}

/// Ruby's `prune_interval`: 5 × the heartbeat interval.
const PRUNE_INTERVAL: Duration = Duration::from_secs(300);

/// Ruby's `worker_pids`: pids of processes whose command line looks like a Resque worker
/// (`ps -A -o pid,command | grep -E "[r]esque:work|[r]esque:\sStarting|[r]esque-[0-9]" |
/// grep -v resque-web`). `None` if `ps` cannot be run.
fn live_resque_pids() -> Option<std::collections::HashSet<String>> {
    let out = std::process::Command::new("ps")
        .args(["-A", "-o", "pid,command"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter(|l| !l.contains("resque-web"))
            .filter(|l| {
                l.contains("resque:work")
                    || l.match_indices("resque:").any(|(i, m)| {
                        let mut rest = l[i + m.len()..].chars();
                        rest.next().is_some_and(char::is_whitespace)
                            && rest.as_str().starts_with("Starting")
                    })
                    || l.match_indices("resque-")
                        .any(|(i, m)| l[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
            })
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect(),
    )
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

/// Runs a job class's `on_failure` hook for a failure found outside its `perform`.
fn run_failure_hook(registry: &Registry, payload: &Value, exception: &str, error: &str) {
    let class = payload
        .get("class")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let args = payload
        .get("args")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let err = resque_store::JobError::new(exception, error);
    let _ = catch_unwind(AssertUnwindSafe(|| registry.on_failure(class, &err, &args)));
}

/// Runs one job with its hooks (in the child, or in-process), catching panics.
fn perform(
    registry: &Registry,
    exec: &[(String, String)],
    queue: &str,
    payload: &Payload,
    worker: &str,
    redis: &str,
    namespace: Option<&str>,
) -> Outcome {
    let Some(class) = payload.class().filter(|c| !c.is_empty()) else {
        return Outcome::failed("NameError", "job payload has no class");
    };
    let Some(args) = payload.args() else {
        return Outcome::failed("ArgumentError", "job payload args is not an array");
    };
    if !registry.contains(class) {
        let program = exec
            .iter()
            .find(|(c, _)| c == class)
            .or_else(|| exec.iter().find(|(c, _)| c == "*"));
        return match program {
            Some((_, program)) => run_program(program, queue, class, args, worker),
            // What Ruby records for a class it cannot load.
            None => Outcome::failed("NameError", format!("uninitialized constant {class}")),
        };
    }
    // Jobs that enqueue connect lazily, once, with their own runtime (never the parent's).
    let (redis, ns) = (redis.to_owned(), namespace.map(str::to_owned));
    let client: std::sync::OnceLock<Result<resque_store::blocking::Client, String>> =
        std::sync::OnceLock::new();
    let client = Arc::new(client);
    let pusher: resque_store::job::Pusher = Arc::new(move |q: &str, p: &Payload| {
        let c = client.get_or_init(|| {
            resque_store::blocking::Client::connect(&redis, ns.as_deref())
                .map_err(|e| e.to_string())
        });
        match c {
            Ok(c) => c.push(q, p),
            Err(e) => Err(resque_store::Error::UnknownClass(format!(
                "cannot connect to enqueue: {e}"
            ))),
        }
    });
    let mut ctx = Context::with_pusher(queue, Some(worker.to_owned()), pusher);
    let result = catch_unwind(AssertUnwindSafe(|| registry.perform(class, args, &mut ctx)));
    match result {
        Ok(Some(Ok(Performed::Yes | Performed::No))) => Outcome::Done,
        Ok(Some(Err(e))) => Outcome::Failed {
            exception: e.exception().to_owned(),
            error: e.message().to_owned(),
            backtrace: e.backtrace().to_vec(),
            count_failed: true,
        },
        Ok(None) => Outcome::failed("NameError", format!("uninitialized constant {class}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Outcome::failed("Panic", msg)
        }
    }
}

/// Lines of a failed program's stderr kept in its failure record.
const STDERR_LINES: usize = 20;
/// Bytes of a program's stderr kept while it runs (the last ones): room for the last
/// [`STDERR_LINES`] lines without holding all of a chatty program's output.
const STDERR_KEEP: usize = 64 * 1024;

/// Writes `input` to a program's stdin while reading its stderr, and returns the end of
/// what it wrote there. Both at once: writing all the input first would wait forever on a
/// full stdin pipe while the program waits on its full stderr pipe. A program that exits
/// without reading its input is not an error (the write fails with EPIPE and stops).
fn exchange(
    stdin: Option<std::process::ChildStdin>,
    stderr: Option<std::process::ChildStderr>,
    input: &[u8],
) -> Vec<u8> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::io::{ErrorKind, Read, Write};

    let mut stdin = stdin.filter(|_| !input.is_empty());
    // Non-blocking, a write takes what fits. Should that fail, a write of one page at most
    // still cannot block once poll has said the pipe is writable (it has a free page).
    let nonblocking = stdin
        .as_ref()
        .is_some_and(|s| fcntl(s, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_ok());
    let mut stderr = stderr;
    let mut written = 0;
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    while stdin.is_some() || stderr.is_some() {
        let mut fds = Vec::with_capacity(2);
        if let Some(e) = &stderr {
            fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
        }
        if let Some(i) = &stdin {
            fds.push(PollFd::new(i.as_fd(), PollFlags::POLLOUT));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let (err_ready, in_ready) = match (&stderr, &stdin) {
            (Some(_), Some(_)) => (ready[0], ready[1]),
            (Some(_), None) => (ready[0], false),
            (None, _) => (false, ready[0]),
        };
        if in_ready && let Some(i) = &mut stdin {
            let rest = &input[written..];
            let chunk = if nonblocking {
                rest
            } else {
                &rest[..rest.len().min(4096)]
            };
            match i.write(chunk) {
                Ok(n) => written += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                // EPIPE: the program is not reading (any more).
                Err(_) => written = input.len(),
            }
            if written == input.len() {
                stdin = None; // closes it: the program sees the end of its input
            }
        }
        if err_ready && let Some(e) = &mut stderr {
            match e.read(&mut buf) {
                Ok(0) => stderr = None,
                Ok(n) => {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > STDERR_KEEP {
                        tail.drain(..tail.len() - STDERR_KEEP);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => stderr = None,
            }
        }
    }
    tail
}

/// Runs a job through `--exec`: `sh -c PROGRAM` with the args as JSON on stdin and
/// RESQUE_QUEUE / RESQUE_CLASS / RESQUE_WORKER set. Exit 0 is success; anything else is a
/// failure carrying the exit status (or signal) and the last lines of stderr.
fn run_program(program: &str, queue: &str, class: &str, args: &[Value], worker: &str) -> Outcome {
    use std::process::{Command, Stdio};

    let input = resque_protocol::json::to_string(args).unwrap_or_else(|_| "[]".to_owned());
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(program)
        .env("RESQUE_QUEUE", queue)
        .env("RESQUE_CLASS", class)
        .env("RESQUE_WORKER", worker)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed("Resque::ExecError", format!("cannot run {program:?}: {e}"));
        }
    };
    let stderr = exchange(child.stdin.take(), child.stderr.take(), input.as_bytes());
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => {
            return Outcome::failed("Resque::ExecError", format!("waiting for {program:?}: {e}"));
        }
    };
    if status.success() {
        return Outcome::Done;
    }
    let text = String::from_utf8_lossy(&stderr);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].to_vec();
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".to_owned(),
    };
    let last = tail.last().map(|l| format!(": {l}")).unwrap_or_default();
    Outcome::Failed {
        exception: "Resque::ExecError".to_owned(),
        error: format!("{program} {how}{last}"),
        backtrace: tail,
        count_failed: true,
    }
}

/// A failure report, cut to at most `room` bytes: backtrace lines go first (last to first),
/// then the end of the message, then of the exception's name. The raw text is bounded first
/// ([`MAX_REPORT`]), but escaping can make JSON several times longer than its text.
fn report_json(outcome: &Outcome, room: usize) -> String {
    let Outcome::Failed {
        exception,
        error,
        backtrace,
        count_failed,
    } = outcome
    else {
        return String::new();
    };
    let mut exception = exception.clone();
    let mut error = error.clone();
    let mut backtrace = backtrace.clone();
    // An exception is a class name; a longer one is not worth the room.
    truncate_at_char(&mut exception, 1024);
    while error.len() + backtrace.iter().map(String::len).sum::<usize>() > MAX_REPORT {
        if backtrace.pop().is_none() {
            truncate_at_char(&mut error, MAX_REPORT);
        }
    }
    loop {
        let json = serde_json::json!({"exception": exception, "error": error, "backtrace": backtrace, "count_failed": count_failed})
            .to_string();
        if json.len() <= room {
            return json;
        }
        if backtrace.pop().is_some() {
            continue;
        }
        if !error.is_empty() {
            let half = error.len() / 2;
            truncate_at_char(&mut error, half);
        } else if !exception.is_empty() {
            let half = exception.len() / 2;
            truncate_at_char(&mut exception, half);
        } else {
            // Only the fixed fields are left (about 60 bytes); no pipe is that small.
            return json;
        }
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
    }
}

fn parse_report(report: &str) -> Option<Outcome> {
    let v: Value = serde_json::from_str(report).ok()?;
    Some(Outcome::Failed {
        exception: v["exception"].as_str()?.to_owned(),
        error: v["error"].as_str().unwrap_or_default().to_owned(),
        backtrace: v["backtrace"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        count_failed: v["count_failed"].as_bool().unwrap_or(true),
    })
}

/// Queue names with their JSON encodings (for the reserve script's `worker:<id>` value).
fn with_json(names: Vec<String>) -> Result<Vec<(String, String)>, Error> {
    names
        .into_iter()
        .map(|q| {
            let json = resque_protocol::json::to_string(&q).map_err(resque_store::Error::from)?;
            Ok((q, json))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_and_stay_small() {
        let o = Outcome::Failed {
            exception: "RuntimeError".into(),
            error: "é".repeat(40_000),
            backtrace: vec!["x".repeat(30_000)],
            count_failed: true,
        };
        let r = report_json(&o, 64 * 1024);
        assert!(r.len() <= 64 * 1024);
        let back = parse_report(&r).expect("parses");
        assert!(
            matches!(back, Outcome::Failed { ref exception, .. } if exception == "RuntimeError")
        );
        assert!(parse_report("").is_none());
    }

    #[test]
    fn reports_are_cut_to_the_room_after_encoding() {
        // Control characters take six bytes each in JSON; the exception is unbounded too.
        let o = Outcome::Failed {
            exception: "\u{1}".repeat(20_000),
            error: "\\\"".repeat(20_000),
            backtrace: vec!["\u{7}".repeat(5_000); 4],
            count_failed: false,
        };
        for room in [4096, 64 * 1024] {
            let r = report_json(&o, room);
            assert!(r.len() <= room, "{} > {room}", r.len());
            let Some(Outcome::Failed {
                exception,
                error,
                backtrace,
                count_failed,
            }) = parse_report(&r)
            else {
                panic!("does not parse: {r}")
            };
            assert!(backtrace.is_empty() && !count_failed);
            assert!(error.chars().all(|c| c == '\\' || c == '"'));
            assert!(exception.chars().all(|c| c == '\u{1}') && exception.len() <= 1024);
            if room > 4096 {
                assert!(error.len() > 10_000, "{}", error.len());
            }
        }
        // A report that fits is left whole.
        let small = Outcome::failed("RuntimeError", "boom");
        assert!(matches!(
            parse_report(&report_json(&small, 4096)),
            Some(Outcome::Failed { ref error, .. }) if error == "boom"
        ));
    }
}
