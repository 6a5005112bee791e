//! The scheduler's life: poll for the master lock, and as master move due delayed items,
//! pick up schedule changes and fire recurring entries; answer signals; give the lock up
//! at any exit.
//!
//! Per poll, as Ruby's `Resque::Scheduler.run`: acquire or refresh the lock; on a change of
//! role, set the title and reload the schedule; as master, move what is due and, with
//! `DYNAMIC_SCHEDULE`, apply changed schedules. Unlike Ruby, a large backlog is moved in
//! bounded slices (each commit refreshes the lock) with the recurring fires and signals
//! seen between slices, and the loop wakes at the next recurring fire and at the next
//! delayed timestamp it knows of instead of waiting for the next poll.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use resque_failure::Backend;
use resque_protocol::ScheduleConfig;
use resque_store::{ConnectOptions, Connection, Registry, Store};
use signal_hook::consts::signal::{SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_tokio::Signals;

use crate::config::Config;
use crate::lock::{MasterLock, lock_value};
use crate::mover::Mover;
use crate::recurring::Schedule;
use crate::schedule_file;

/// How long one poll may spend moving a backlog before it looks at fires and signals.
const SLICE: Duration = Duration::from_millis(500);

/// A configured scheduler; [`Scheduler::run`] runs it until a signal stops it.
#[derive(Debug)]
pub struct Scheduler {
    config: Config,
    registry: Arc<Registry>,
    /// The schedule file's entries, read (and checked) before anything connects.
    file_entries: Vec<(String, ScheduleConfig)>,
}

/// What a signal asked for.
enum Asked {
    Stop,
    PrintSchedule,
    Reload,
}

impl Scheduler {
    /// A scheduler with `registry`'s job types (their queues and scheduling hooks). Reads
    /// the schedule file now: a bad file is an error before any lock is taken.
    pub fn new(config: Config, registry: Registry) -> anyhow::Result<Self> {
        let file_entries = match &config.schedule {
            Some(path) => schedule_file::load(path)?,
            None => Vec::new(),
        };
        Ok(Self {
            config,
            registry: Arc::new(registry),
            file_entries,
        })
    }

    /// Runs on a current-thread runtime of its own until TERM, INT or QUIT; the lock is
    /// released on the way out.
    pub fn run(self) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(self.run_async())
    }

    fn title(&self, state: &str) {
        let line = self.config.procline(state);
        tracing::debug!("Setting procline {line:?}");
        resque_worker::proctitle::set(&line);
    }

    async fn run_async(self) -> anyhow::Result<()> {
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2])?;
        let handle = signals.handle();
        tracing::info!("Starting");
        self.title("Starting");
        let connection = Connection::parse(&self.config.redis)?;
        let options = ConnectOptions::default();
        let store =
            Store::connect_with(&connection, self.config.namespace.as_deref(), &options).await?;
        let failures = Backend::for_reading(&self.config.failure_backend)?;
        let lock = MasterLock::new(
            &store,
            self.config.lock_prefix.as_deref(),
            lock_value(),
            self.config.lock_timeout,
        );
        let worker = format!("{}:resque-scheduler", lock.value());
        let mut mover = Mover::new(
            Arc::clone(&self.registry),
            failures,
            self.config.batch_size,
            worker,
        );
        let tz = TimeZone::system();
        let env = self.config.environment.clone();
        let mut master: Option<bool> = None;
        let mut schedule = Schedule::default();
        // A signal that arrived while a backlog was being moved, acted on at the next wait.
        let mut pending: Option<Asked> = None;
        let result: anyhow::Result<()> = async {
            loop {
                let is_master = match lock.acquire(&store).await {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::error!("cannot reach Redis for the master lock: {e}");
                        false
                    }
                };
                if master != Some(is_master) {
                    let role = if is_master {
                        "Master scheduler"
                    } else {
                        "Child scheduler"
                    };
                    tracing::info!("{role}");
                    self.title(role);
                    master = Some(is_master);
                    if is_master && self.config.dynamic {
                        let _ = store.schedules_changed_clear().await;
                    }
                    schedule = self
                        .load(&store, env.as_deref(), &tz, Some(&schedule))
                        .await;
                }
                let mut more = false;
                // When the next delayed timestamp comes due (by Redis's clock), if sooner
                // than the next poll: the loop wakes for it.
                let mut next_due: Option<Instant> = None;
                if is_master {
                    let started = Instant::now();
                    loop {
                        match mover.move_batch(&store, Some(&lock)).await {
                            Ok(m) => {
                                if m.pushed > 0 || m.failed > 0 {
                                    self.title("Processing Delayed Items");
                                    tracing::debug!(
                                        pushed = m.pushed,
                                        failed = m.failed,
                                        "moved delayed items"
                                    );
                                }
                                more = m.more && !m.lost_lock;
                                next_due = m.next_due_in.map(|d| Instant::now() + d);
                            }
                            Err(e) => {
                                tracing::error!("moving delayed items: {e}");
                                more = false;
                            }
                        }
                        if let Some(sig) = signals.next().now_or_never().flatten() {
                            pending = Some(asked(sig));
                        }
                        if !more
                            || started.elapsed() > SLICE
                            || matches!(pending, Some(Asked::Stop))
                        {
                            break;
                        }
                    }
                    if self.config.dynamic {
                        match store.schedules_changed_take().await {
                            Ok(changed) if !changed.is_empty() => {
                                tracing::info!("Updating schedule");
                                self.title("Updating schedule");
                                schedule = self
                                    .load(&store, env.as_deref(), &tz, Some(&schedule))
                                    .await;
                            }
                            Ok(_) => {}
                            Err(e) => tracing::error!("reading schedules_changed: {e}"),
                        }
                    }
                }
                schedule
                    .fire_due(
                        &store,
                        &lock,
                        &self.registry,
                        is_master,
                        Timestamp::now(),
                        &tz,
                    )
                    .await?;
                // Sleep until the next poll or the next recurring fire, whichever is first;
                // not at all while a backlog remains.
                let mut wait = if more {
                    Duration::ZERO
                } else {
                    self.config.interval
                };
                if let Some(at) = next_due {
                    wait = wait.min(at.saturating_duration_since(Instant::now()));
                }
                if let Some(next) = schedule.next_fire() {
                    let until = next.duration_since(Timestamp::now());
                    let until = Duration::try_from(until).unwrap_or(Duration::ZERO);
                    wait = wait.min(until);
                }
                let asked = match pending.take() {
                    Some(a) => Some(a),
                    None => tokio::select! {
                        () = tokio::time::sleep(wait.max(Duration::from_millis(1))) => None,
                        sig = signals.next() => sig.map(asked),
                    },
                };
                match asked {
                    Some(Asked::Stop) => return Ok(()),
                    Some(Asked::PrintSchedule) => print_schedule(&schedule),
                    Some(Asked::Reload) => {
                        tracing::info!("Reloading Schedule");
                        self.title("Reloading Schedule");
                        schedule = self.load(&store, env.as_deref(), &tz, None).await;
                    }
                    None => {}
                }
            }
        }
        .await;
        tracing::info!("Shutting down");
        match lock.release(&store).await {
            Ok(true) => tracing::debug!("released the master lock"),
            Ok(false) => {}
            Err(e) => tracing::error!("could not release the master lock: {e}"),
        }
        handle.close();
        let _ = store.close().await;
        result
    }

    /// The schedule: the file's entries, then the stored ones (which win, as in Ruby).
    async fn load(
        &self,
        store: &Store,
        env: Option<&str>,
        tz: &TimeZone,
        previous: Option<&Schedule>,
    ) -> Schedule {
        tracing::info!("Loading Schedule");
        self.title("Loading Schedule");
        let mut configs = self.file_entries.clone();
        match store.schedules_all().await {
            Ok(stored) => {
                for (name, raw) in stored {
                    match ScheduleConfig::decode(&raw) {
                        Ok(c) => configs.push((name, c)),
                        Err(e) => tracing::error!("stored schedule {name}: {e} - skipping"),
                    }
                }
            }
            Err(e) => tracing::error!("reading persistent_schedules: {e}"),
        }
        let schedule = Schedule::load(configs, env, Timestamp::now(), tz, previous);
        tracing::info!("Schedules Loaded");
        self.title("Schedules Loaded");
        schedule
    }
}

fn asked(sig: i32) -> Asked {
    match sig {
        SIGUSR1 => Asked::PrintSchedule,
        SIGUSR2 => Asked::Reload,
        _ => Asked::Stop,
    }
}

fn print_schedule(schedule: &Schedule) {
    tracing::info!("Scheduling Info\tNext Run");
    for e in &schedule.entries {
        let next = e
            .next
            .map(|t| t.to_string())
            .unwrap_or_else(|| "never".to_owned());
        let interval = e
            .config
            .interval()
            .ok()
            .flatten()
            .map(|i| i.describe())
            .unwrap_or_default();
        tracing::info!("{}\t{interval}\t{next}", e.name);
    }
}
