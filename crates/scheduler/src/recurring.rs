//! Recurring schedules: the merged schedule (file entries, then stored ones, which win as
//! in Ruby), each entry's next fire, and the fire itself.
//!
//! A fire is one script that checks the lock and pushes the job and `last_enqueued_at`
//! together, and records the slot (the fire's Unix second) under a key of ours, so a slot
//! is never fired twice: not by a master that lost its lock, not across a failover, not
//! after a clock step. Missed fires (no master at the time) are not caught up, as in Ruby.
//! `every` counts from when the entry was loaded (rufus's rule, so a restart resets the
//! phase); `cron` follows the wall clock in its zone.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use resque_protocol::{Interval, Payload, ScheduleConfig, Value};
use resque_store::{Fired, Registry, Store};
use tracing::Instrument;

use crate::lock::MasterLock;

/// One loaded schedule entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The schedule's name.
    pub name: String,
    /// Its config.
    pub config: ScheduleConfig,
    interval: Interval,
    loaded: Timestamp,
    fired: u64,
    /// When it fires next; `None` once it never will (`times`, `last_at`).
    pub next: Option<Timestamp>,
}

/// The loaded schedule.
#[derive(Debug, Default)]
pub struct Schedule {
    /// Entries by name, sorted.
    pub entries: Vec<Entry>,
}

impl Schedule {
    /// Loads `configs` (in order; a later entry of the same name replaces an earlier one)
    /// as of `now`, keeping the entries of `previous` whose config did not change (so their
    /// phase survives a reload). Entries for another environment, without an interval, or
    /// with one that does not parse are logged and left out.
    pub fn load(
        configs: Vec<(String, ScheduleConfig)>,
        env: Option<&str>,
        now: Timestamp,
        tz: &TimeZone,
        previous: Option<&Schedule>,
    ) -> Self {
        let mut by_name: std::collections::BTreeMap<String, ScheduleConfig> = Default::default();
        for (name, config) in configs {
            by_name.insert(name, config);
        }
        let mut entries = Vec::new();
        for (name, config) in by_name {
            if !config.runs_in(env) {
                tracing::debug!(
                    "Skipping schedule of {name} because configured env {:?} does not match current env {env:?}",
                    config.configured_env().unwrap_or_default()
                );
                continue;
            }
            if let Some(old) = previous.and_then(|p| {
                p.entries
                    .iter()
                    .find(|e| e.name == name && e.config == config)
            }) {
                entries.push(old.clone());
                continue;
            }
            let interval = match config.interval() {
                Ok(Some(i)) => i,
                Ok(None) => {
                    tracing::info!(
                        "no cron / every found for {} ({name}) - skipping",
                        config.class(&name)
                    );
                    continue;
                }
                Err(e) => {
                    tracing::error!("schedule {name}: {e} - skipping");
                    continue;
                }
            };
            tracing::info!("Scheduling {name} ");
            let next = match &interval {
                Interval::Cron(c) => c.next_after(now, tz),
                Interval::Every(e) => e.first_fire(now),
            };
            entries.push(Entry {
                name,
                config,
                interval,
                loaded: now,
                fired: 0,
                next,
            });
        }
        Self { entries }
    }

    /// The earliest next fire.
    pub fn next_fire(&self) -> Option<Timestamp> {
        self.entries.iter().filter_map(|e| e.next).min()
    }

    /// Fires every entry due at `now` (only as `master`, and only while `lock` is ours,
    /// checked in each fire's script), and moves each to its next fire (a child scheduler
    /// moves them too, without firing). Returns how many fired.
    pub async fn fire_due(
        &mut self,
        store: &Store,
        lock: &MasterLock,
        registry: &Arc<Registry>,
        master: bool,
        now: Timestamp,
        tz: &TimeZone,
    ) -> crate::Result<usize> {
        let mut fired = 0;
        for entry in &mut self.entries {
            let Some(at) = entry.next else { continue };
            if at > now {
                continue;
            }
            let outcome = if master {
                // Its lines carry the schedule's name and slot (LOGFORMAT=json, logfmt).
                let span =
                    tracing::info_span!("schedule", schedule = %entry.name, slot = at.as_second());
                fire(store, lock, registry, entry, at.as_second())
                    .instrument(span)
                    .await
            } else {
                Ok(false)
            };
            match outcome {
                Ok(true) => fired += 1,
                Ok(false) => {}
                // One entry's error (a bad queue, Redis gone) must not stop the others;
                // the slot passes, as a missed fire does in Ruby.
                Err(e) => tracing::error!("schedule {}: {e}", entry.name),
            }
            entry.fired += 1;
            // Past slots are skipped, not caught up.
            let mut next = entry.advance(at, tz);
            while let Some(n) = next
                && n <= now
            {
                entry.fired += 1;
                next = entry.advance(n, tz);
            }
            entry.next = next;
        }
        Ok(fired)
    }
}

impl Entry {
    fn advance(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.interval {
            Interval::Cron(c) => c.next_after(after, tz),
            Interval::Every(e) => e.next_after(after, self.fired, self.loaded),
        }
    }

    /// The queue and payload a fire pushes, as `enqueue_from_config` builds them: a
    /// `custom_job_class` (other than `Resque::Job`) is what gets enqueued when it cannot be
    /// loaded, which a Rust scheduler never can; the queue is the config's, else a
    /// registered class's.
    fn job(&self, registry: &Registry) -> Option<(String, String, Vec<Value>)> {
        let class = self.config.enqueued_class(&self.name).to_owned();
        let queue = self
            .config
            .queue()
            .map(str::to_owned)
            .or_else(|| registry.queue_of(&class).map(str::to_owned))?;
        Some((queue, class, self.config.args()))
    }
}

/// Fires one entry's slot; `Ok(false)` when it did not (not master, already fired, a hook
/// cancelled).
async fn fire(
    store: &Store,
    lock: &MasterLock,
    registry: &Arc<Registry>,
    entry: &Entry,
    slot: i64,
) -> crate::Result<bool> {
    let Some((queue, class, args)) = entry.job(registry) else {
        tracing::error!(
            "schedule {}: no queue for class {} (give the entry a queue, or register the job type)",
            entry.name,
            entry.config.class(&entry.name)
        );
        return Ok(false);
    };
    match registry.before_scheduled_enqueue(&class, &args) {
        Some(Ok(false)) => return Ok(false),
        Some(Err(e)) => {
            tracing::error!("schedule {}: {e}", entry.name);
            return Ok(false);
        }
        _ => {}
    }
    tracing::info!("queueing {class} ({})", entry.name);
    let payload = Payload::new(class.as_str(), args.clone())
        .encode()
        .map_err(resque_store::Error::from)?;
    let at = resque_protocol::time::started(&jiff::Zoned::now());
    match store
        .fire_recurring(lock.held(), &entry.name, slot, &queue, &payload, &at)
        .await?
    {
        Fired::Yes => {
            registry.after_scheduled_enqueue(&class, &args);
            Ok(true)
        }
        Fired::AlreadyFired => {
            tracing::info!("schedule {}: slot {slot} already fired", entry.name);
            Ok(false)
        }
        Fired::NotMaster => Ok(false),
    }
}
