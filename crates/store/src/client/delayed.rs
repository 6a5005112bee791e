//! resque-scheduler's delayed-job API (`Resque.enqueue_at` and friends) on [`Client`].
//!
//! The bytes are the plugin's; each write is one script instead of Ruby's several round
//! trips (see `store/delayed.rs`). A time in the past or now enqueues at once, judged by this
//! process's clock as Ruby does; the scheduler judges "due" by Redis's clock. Typed methods
//! take a [`Job`] and run its hooks (`before_schedule` may cancel, `after_schedule` after the
//! write; the immediate path also runs the enqueue hooks); the `_to`/`_class` forms take a
//! class name in any language and run none.

use std::time::{Duration, SystemTime};

use resque_protocol::delayed::timestamp;
use resque_protocol::{DelayedItem, Value};

use super::Client;
use crate::job::{self, Job, args_to_json};
use crate::store::{LockHeld, MoveAction, MoveGroup};
use crate::{Committed, Error, Result};

/// One item of [`Client::delayed_timestamp_peek`]: decoded, or its raw text and why not.
pub type DelayedPeek = std::result::Result<DelayedItem, (String, String)>;

/// Unix seconds of a time, as Ruby's `Time#to_i`.
fn unix_seconds(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => timestamp(-before.duration().as_secs_f64()).unwrap_or(i64::MIN),
    }
}

fn now_seconds() -> i64 {
    unix_seconds(SystemTime::now())
}

fn later(delay: Duration) -> SystemTime {
    SystemTime::now()
        .checked_add(delay)
        .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2))
}

impl Client {
    // ---- delaying ----------------------------------------------------------------------

    /// `Resque.enqueue_at(time, Klass, *args)`: runs the job's own queue at `at`. Returns
    /// `false` when `before_schedule` (or, at once, `before_enqueue`) cancelled it.
    pub async fn enqueue_at<J: Job>(&self, at: SystemTime, args: J::Args) -> Result<bool> {
        self.enqueue_at_with_queue::<J>(J::QUEUE, at, args).await
    }

    /// `Resque.enqueue_in(seconds, Klass, *args)`.
    pub async fn enqueue_in<J: Job>(&self, delay: Duration, args: J::Args) -> Result<bool> {
        self.enqueue_at::<J>(later(delay), args).await
    }

    /// `Resque.enqueue_in_with_queue(queue, seconds, Klass, *args)`.
    pub async fn enqueue_in_with_queue<J: Job>(
        &self,
        queue: &str,
        delay: Duration,
        args: J::Args,
    ) -> Result<bool> {
        self.enqueue_at_with_queue::<J>(queue, later(delay), args)
            .await
    }

    /// `Resque.enqueue_at_with_queue(queue, time, Klass, *args)`, with the hooks.
    pub async fn enqueue_at_with_queue<J: Job>(
        &self,
        queue: &str,
        at: SystemTime,
        args: J::Args,
    ) -> Result<bool> {
        job::validate(J::CLASS, queue)?;
        if !J::before_schedule(&args) {
            return Ok(false);
        }
        let ts = unix_seconds(at);
        if self.inline || ts <= now_seconds() {
            if !self.enqueue_job_ref::<J>(queue, &args).await? {
                return Ok(false);
            }
        } else {
            let item = DelayedItem::new(queue, J::CLASS, args_to_json::<J>(&args)?);
            self.store()?.delayed_push(ts, &[item.encode()?]).await?;
        }
        J::after_schedule(&args);
        Ok(true)
    }

    /// `Resque.enqueue_at_with_queue(queue, time, "Class", *args)` for a class in any
    /// language: no hooks.
    pub async fn enqueue_at_to(
        &self,
        queue: &str,
        at: SystemTime,
        class: &str,
        args: Vec<Value>,
    ) -> Result<()> {
        job::validate(class, queue)?;
        let ts = unix_seconds(at);
        if self.inline || ts <= now_seconds() {
            return self.enqueue_to(queue, class, args).await;
        }
        let item = DelayedItem::new(queue, class, args);
        self.store()?.delayed_push(ts, &[item.encode()?]).await
    }

    /// `Resque.enqueue_in_with_queue(queue, seconds, "Class", *args)`: no hooks.
    pub async fn enqueue_in_to(
        &self,
        queue: &str,
        delay: Duration,
        class: &str,
        args: Vec<Value>,
    ) -> Result<()> {
        self.enqueue_at_to(queue, later(delay), class, args).await
    }

    // ---- removing ----------------------------------------------------------------------

    fn item_of<J: Job>(queue: &str, args: &J::Args) -> Result<String> {
        Ok(DelayedItem::new(queue, J::CLASS, args_to_json::<J>(args)?).encode()?)
    }

    /// `Resque.remove_delayed(Klass, *args)`: every copy at every time, matched byte for
    /// byte in the job's own queue; a timestamp left empty is removed too. Returns how many.
    pub async fn remove_delayed<J: Job>(&self, args: &J::Args) -> Result<u64> {
        self.remove_delayed_in_queue::<J>(J::QUEUE, args).await
    }

    /// `Resque.remove_delayed_in_queue(Klass, queue, *args)`.
    pub async fn remove_delayed_in_queue<J: Job>(
        &self,
        queue: &str,
        args: &J::Args,
    ) -> Result<u64> {
        let item = Self::item_of::<J>(queue, args)?;
        self.store()?.delayed_remove(&item, None).await
    }

    /// `remove_delayed_in_queue` for a class in any language.
    pub async fn remove_delayed_class(
        &self,
        queue: &str,
        class: &str,
        args: Vec<Value>,
    ) -> Result<u64> {
        let item = DelayedItem::new(queue, class, args).encode()?;
        self.store()?.delayed_remove(&item, None).await
    }

    /// `Resque.remove_delayed_job_from_timestamp(ts, Klass, *args)`.
    pub async fn remove_delayed_job_from_timestamp<J: Job>(
        &self,
        ts: i64,
        args: &J::Args,
    ) -> Result<u64> {
        let item = Self::item_of::<J>(J::QUEUE, args)?;
        self.store()?.delayed_remove_at(ts, &item).await
    }

    /// `remove_delayed_job_from_timestamp` for a class in any language (resque-web's
    /// "Cancel"), in `queue`.
    pub async fn remove_delayed_class_from_timestamp(
        &self,
        ts: i64,
        queue: &str,
        class: &str,
        args: Vec<Value>,
    ) -> Result<u64> {
        let item = DelayedItem::new(queue, class, args).encode()?;
        self.store()?.delayed_remove_at(ts, &item).await
    }

    /// `Resque.find_delayed_selection(Klass) { |args| ... }`: the stored bytes of every
    /// delayed item of `class` (any class with `None`) whose args `select` accepts.
    pub async fn find_delayed_selection(
        &self,
        class: Option<&str>,
        mut select: impl FnMut(&[Value]) -> bool,
    ) -> Result<Vec<String>> {
        let mut found = Vec::new();
        self.store()?
            .delayed_walk(|_, items| {
                for raw in items {
                    let Ok(item) = DelayedItem::decode(&raw) else {
                        continue;
                    };
                    if class.is_some_and(|c| c != item.class) || !select(&item.args) {
                        continue;
                    }
                    found.push(String::from_utf8_lossy(&raw).into_owned());
                }
            })
            .await?;
        Ok(found)
    }

    /// Each distinct item [`Client::find_delayed_selection`] finds once (one removal takes
    /// every copy).
    async fn distinct_selection(
        &self,
        class: Option<&str>,
        select: impl FnMut(&[Value]) -> bool,
    ) -> Result<Vec<String>> {
        let mut found = self.find_delayed_selection(class, select).await?;
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    /// `Resque.remove_delayed_selection(Klass) { |args| ... }`: removes what
    /// [`Client::find_delayed_selection`] finds; returns how many copies went.
    pub async fn remove_delayed_selection(
        &self,
        class: Option<&str>,
        select: impl FnMut(&[Value]) -> bool,
    ) -> Result<u64> {
        let mut n = 0;
        for item in self.distinct_selection(class, select).await? {
            n += self.store()?.delayed_remove(&item, None).await?;
        }
        Ok(n)
    }

    /// `Resque.enqueue_delayed(Klass, *args)`: every delayed copy enqueued now, taken out and
    /// pushed in one step (Ruby removes, then enqueues: a crash between loses them).
    pub async fn enqueue_delayed<J: Job>(&self, args: &J::Args) -> Result<u64> {
        let item = Self::item_of::<J>(J::QUEUE, args)?;
        if !J::before_schedule(args) {
            return self.store()?.delayed_remove(&item, None).await;
        }
        J::before_delayed_enqueue(args);
        // Ruby's enqueue_from_config goes through Resque.enqueue_to: before_enqueue may
        // still cancel (the copies are removed, as Ruby's remove_delayed ran first).
        if !J::before_enqueue(args) {
            return self.store()?.delayed_remove(&item, None).await;
        }
        let payload = job::payload_for::<J>(args)?.encode()?;
        let n = self
            .store()?
            .delayed_remove(&item, Some((J::QUEUE, &payload)))
            .await?;
        if n > 0 {
            J::after_enqueue(args);
            J::after_schedule(args);
        }
        Ok(n)
    }

    /// `enqueue_delayed_with_queue` for a class in any language: no hooks.
    pub async fn enqueue_delayed_class(
        &self,
        queue: &str,
        class: &str,
        args: Vec<Value>,
    ) -> Result<u64> {
        let item = DelayedItem::new(queue, class, args);
        let payload = item.payload().encode()?;
        self.store()?
            .delayed_remove(&item.encode()?, Some((queue, &payload)))
            .await
    }

    /// `Resque.enqueue_delayed_selection { |args| ... }`: every matching item (of `class`,
    /// or any) enqueued now to its own queue. Items without a queue stay delayed.
    pub async fn enqueue_delayed_selection(
        &self,
        class: Option<&str>,
        select: impl FnMut(&[Value]) -> bool,
    ) -> Result<u64> {
        let mut n = 0;
        for raw in self.distinct_selection(class, select).await? {
            let Ok(item) = DelayedItem::decode(raw.as_bytes()) else {
                continue;
            };
            let Some(queue) = item.queue.as_deref() else {
                continue;
            };
            let payload = item.payload().encode()?;
            n += self
                .store()?
                .delayed_remove(&raw, Some((queue, &payload)))
                .await?;
        }
        Ok(n)
    }

    /// `Resque.delay_or_enqueue_at(time, Klass, *args)`: moves every delayed copy to `at`
    /// (at least one, so a job not yet delayed is delayed), in one step; a time not in the
    /// future enqueues that many now instead.
    pub async fn delay_or_enqueue_at<J: Job>(&self, at: SystemTime, args: J::Args) -> Result<u64> {
        let ts = unix_seconds(at);
        if self.inline || ts <= now_seconds() {
            let item = Self::item_of::<J>(J::QUEUE, &args)?;
            let n = if self.inline {
                0
            } else {
                self.store()?.delayed_remove(&item, None).await?
            };
            let mut done = 0;
            for _ in 0..n.max(1) {
                if self.enqueue_job_ref::<J>(J::QUEUE, &args).await? {
                    done += 1;
                }
            }
            return Ok(done);
        }
        if !J::before_schedule(&args) {
            return Ok(0);
        }
        let item = Self::item_of::<J>(J::QUEUE, &args)?;
        let n = self.store()?.delayed_reschedule(&item, ts).await?;
        J::after_schedule(&args);
        Ok(n.max(1))
    }

    /// `Resque.delay_or_enqueue_in(seconds, Klass, *args)`.
    pub async fn delay_or_enqueue_in<J: Job>(&self, delay: Duration, args: J::Args) -> Result<u64> {
        self.delay_or_enqueue_at::<J>(later(delay), args).await
    }

    /// `Resque.reset_delayed_queue`: every delayed job and its bookkeeping.
    pub async fn reset_delayed_queue(&self) -> Result<()> {
        self.store()?.delayed_reset().await
    }

    /// `Resque::Scheduler.enqueue_next_item(ts)` (resque-web's "Queue now" on a timestamp):
    /// the first item at `ts` goes to its queue now, in one step (Ruby pops, then pushes: a
    /// failure between loses it). `None` when the timestamp is empty; an item that cannot be
    /// decoded or has no queue is left where it is, with an error.
    pub async fn enqueue_next_item(&self, ts: i64) -> Result<Option<DelayedItem>> {
        let store = self.store()?;
        // A concurrent change to the head of the list makes the commit refuse; read again.
        for _ in 0..10 {
            let raw = store.delayed_timestamp_items(ts, 0, 1).await?;
            let Some(raw) = raw.into_iter().next() else {
                return Ok(None);
            };
            let item = DelayedItem::decode(&raw)?;
            let Some(queue) = item.queue.clone() else {
                return Err(Error::NoQueue { class: item.class });
            };
            let payload = item.payload().encode()?;
            let group = MoveGroup {
                ts,
                items: vec![(raw, MoveAction::Push { queue, payload })],
            };
            match store.commit_moves(None::<LockHeld<'_>>, &[group]).await? {
                Committed::Done { stale, .. } if stale.is_empty() => return Ok(Some(item)),
                _ => continue,
            }
        }
        Err(Error::Redis(fred::error::Error::new(
            fred::error::ErrorKind::Unknown,
            format!("delayed:{ts} kept changing; try again"),
        )))
    }

    // ---- reading -----------------------------------------------------------------------

    /// `Resque.delayed_queue_peek(start, count)`: timestamps, oldest first.
    pub async fn delayed_queue_peek(&self, start: i64, count: i64) -> Result<Vec<i64>> {
        self.store()?.delayed_timestamps(start, count).await
    }

    /// `Resque.delayed_queue_schedule_size`: how many timestamps have delayed jobs.
    pub async fn delayed_queue_schedule_size(&self) -> Result<u64> {
        self.store()?.delayed_schedule_size().await
    }

    /// `Resque.delayed_timestamp_size(ts)`: how many jobs at one timestamp.
    pub async fn delayed_timestamp_size(&self, ts: i64) -> Result<u64> {
        self.store()?.delayed_timestamp_size(ts).await
    }

    /// `Resque.delayed_timestamp_peek(ts, start, count)`: the jobs at one timestamp.
    pub async fn delayed_timestamp_peek(
        &self,
        ts: i64,
        start: i64,
        count: i64,
    ) -> Result<Vec<DelayedPeek>> {
        let raw = self
            .store()?
            .delayed_timestamp_items(ts, start, count)
            .await?;
        Ok(raw
            .into_iter()
            .map(|r| {
                DelayedItem::decode(&r)
                    .map_err(|e| (String::from_utf8_lossy(&r).into_owned(), e.to_string()))
            })
            .collect())
    }

    /// `Resque.count_all_scheduled_jobs`: delayed jobs at every timestamp.
    pub async fn count_all_scheduled_jobs(&self) -> Result<u64> {
        self.store()?.delayed_count_all().await
    }

    /// `Resque.scheduled_at(Klass, *args)`: the timestamps a job is delayed to.
    pub async fn scheduled_at<J: Job>(&self, args: &J::Args) -> Result<Vec<i64>> {
        let item = Self::item_of::<J>(J::QUEUE, args)?;
        self.store()?.delayed_timestamps_of(&item).await
    }

    /// `scheduled_at` for a class in any language, in `queue`.
    pub async fn scheduled_at_class(
        &self,
        queue: &str,
        class: &str,
        args: Vec<Value>,
    ) -> Result<Vec<i64>> {
        let item = DelayedItem::new(queue, class, args).encode()?;
        self.store()?.delayed_timestamps_of(&item).await
    }

    /// `Resque.delayed?(Klass, *args)`.
    pub async fn is_delayed<J: Job>(&self, args: &J::Args) -> Result<bool> {
        Ok(!self.scheduled_at::<J>(args).await?.is_empty())
    }

    /// `Resque.next_delayed_timestamp(at)`: the earliest timestamp due at `at` (now, by this
    /// process's clock, when `None`).
    pub async fn next_delayed_timestamp(&self, at: Option<SystemTime>) -> Result<Option<i64>> {
        let at = at.map_or_else(now_seconds, unix_seconds);
        self.store()?.next_delayed_timestamp(at).await
    }
}
