//! Reliable mode's in-flight records (`resque-rs:inflight:<id>`, keys Ruby never reads): what
//! a worker holds, and taking a dead worker's job back.
//!
//! The record is one string, the queue's name as JSON, a newline, then the job's bytes: one
//! `SET` in the reserve script (it replaces whatever was there) and one `DEL` in the
//! bookkeeping, the least reliable mode can add to Redis's work per job.

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::Store;
use crate::{Error, Result};

/// A dead worker's in-flight job, as [`Store::inflight`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// The queue it was taken from.
    pub queue: String,
    /// The job's bytes as they were in the queue.
    pub item: String,
    /// The record as read, for [`Store::recover_inflight`] to check it is still there.
    pub record: String,
}

/// A failure record to write in a Redis failure list as part of another step (a job taken
/// too often from dead workers, [`Store::recover_inflight`]; a dead worker's job,
/// [`Store::fail_working_on`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordTo<'a> {
    /// The failure list's name (`failed`, `<queue>_failed`).
    pub list: &'a str,
    /// The record to `RPUSH` there.
    pub record: &'a str,
    /// The name to `SADD` to `failed_queues` (the multi-queue backend), if any.
    pub failed_queues_member: Option<&'a str>,
}

/// What [`Store::recover_inflight`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// The job was no longer in flight: finished, or another reaper took it back first.
    Gone,
    /// Back at the head of its queue; the `n`-th time this job was taken back.
    Requeued(u32),
    /// Taken back more often than allowed (the `n`-th time): a failure record instead.
    Poisoned(u32),
}

impl Store {
    /// Writes `record` for the job worker `id` was on and clears `worker:<id>`, in one
    /// script, only while `worker:<id>` still holds `seen` (as read before the record was
    /// made), and marks the worker (`resque-rs:reaped:<id>`, a day's TTL) so that, if it
    /// was only stopped, its bookkeeping for that job counts nothing again. Returns whether
    /// it did: a resend after a lost reply, or a second reaper, finds `worker:<id>` gone and
    /// writes no second record.
    pub async fn fail_working_on(
        &self,
        id: &str,
        seen: &str,
        record: RecordTo<'_>,
    ) -> Result<bool> {
        // The mark (resque-rs:reaped:<id>) goes with the record: should the worker only have
        // been stopped, its bookkeeping for this job finds it and counts nothing again.
        const SCRIPT: &str = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end \
            redis.call('RPUSH', KEYS[2], ARGV[2]) \
            if ARGV[3] ~= '' then redis.call('SADD', KEYS[3], ARGV[3]) end \
            redis.call('DEL', KEYS[1]) redis.call('SET', KEYS[4], '1', 'EX', 86400) return 1";
        let k = &self.keys;
        let keys: Vec<RedisValue> = vec![
            k.worker(id).into(),
            k.failure_list(record.list).into(),
            k.failed_queues().into(),
            k.reaped(id).into(),
        ];
        let argv = || {
            let mut v: Vec<RedisValue> = vec![RedisValue::Null, 4.into()];
            v.extend(keys.iter().cloned());
            v.push(seen.into());
            v.push(record.record.into());
            v.push(record.failed_queues_member.unwrap_or("").into());
            v
        };
        Ok(self.run_script(SCRIPT, argv).await?.as_i64() == Some(1))
    }

    /// Puts a job this worker took but will not run back at the head of its queue, and
    /// clears `worker:<id>` and `resque-rs:inflight:<id>`, in one script; only while
    /// `worker:<id>` is still set, so a resend after a lost reply does not queue it twice.
    /// (A reservation whose reply was lost, answered again only when the worker is
    /// stopping.)
    pub async fn give_back(&self, id: &str, queue: &str, item: &str) -> Result<bool> {
        const SCRIPT: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
            redis.call('LPUSH', KEYS[2], ARGV[1]) redis.call('SADD', KEYS[3], ARGV[2]) \
            redis.call('DEL', KEYS[1]) redis.call('DEL', KEYS[4]) return 1";
        let k = &self.keys;
        let keys: Vec<RedisValue> = vec![
            k.worker(id).into(),
            k.queue(queue).into(),
            k.queues().into(),
            k.inflight(id).into(),
        ];
        let argv = || {
            let mut v: Vec<RedisValue> = vec![RedisValue::Null, 4.into()];
            v.extend(keys.iter().cloned());
            v.push(item.into());
            v.push(queue.into());
            v
        };
        Ok(self.run_script(SCRIPT, argv).await?.as_i64() == Some(1))
    }

    /// `GET resque-rs:inflight:<id>`: the job worker `id` holds in reliable mode. `None` when
    /// it holds none, or the record is not one this crate writes (it is then left alone).
    pub async fn inflight(&self, id: &str) -> Result<Option<InFlight>> {
        let record: Option<String> = self.client().get(self.keys.inflight(id)).await?;
        Ok(record.and_then(|record| {
            let (queue, item) = record.split_once('\n')?;
            let queue: String = serde_json::from_str(queue).ok()?;
            Some(InFlight {
                queue,
                item: item.to_owned(),
                record: record.clone(),
            })
        }))
    }

    /// Takes dead worker `id`'s in-flight job back, in one script: if the record is still
    /// `job`'s, the job goes back to the head of its queue (`LPUSH`, and `SADD queues`), or,
    /// when it was already taken back `max_recoveries` times, `poison` is recorded instead;
    /// either way the in-flight record and `worker:<id>` go, so unregistering the worker
    /// after this records no DirtyExit for a job that is back in its queue. Where a requeued
    /// job went is kept for a day in `resque-rs:requeued:<id>`: if the worker was not dead
    /// after all (stopped past its lease) and finishes the job, its bookkeeping takes the
    /// copy back out of the queue ([`Store::finish_and_reserve`]); the worker is marked as
    /// [`Store::fail_working_on`] marks it.
    ///
    /// Idempotent: sent again (a lost reply), it finds the record gone and answers
    /// [`Recovered::Gone`]. The count is by the job's bytes: identical jobs share it.
    pub async fn recover_inflight(
        &self,
        id: &str,
        job: &InFlight,
        max_recoveries: u32,
        poison: RecordTo<'_>,
    ) -> Result<Recovered> {
        const SCRIPT: &str = include_str!("recover_inflight.lua");
        let k = &self.keys;
        let keys: Vec<RedisValue> = vec![
            k.inflight(id).into(),
            k.queue(&job.queue).into(),
            k.queues().into(),
            k.recoveries().into(),
            k.worker(id).into(),
            k.failure_list(poison.list).into(),
            k.failed_queues().into(),
            k.requeued(id).into(),
            k.reaped(id).into(),
        ];
        let argv = || {
            let mut v: Vec<RedisValue> = vec![RedisValue::Null, 9.into()];
            v.extend(keys.iter().cloned());
            v.push(job.record.as_str().into());
            v.push(job.queue.as_str().into());
            v.push(i64::from(max_recoveries).into());
            v.push(poison.record.into());
            v.push(poison.failed_queues_member.unwrap_or("").into());
            v
        };
        let reply = self.run_script(SCRIPT, argv).await?;
        let (tag, n) = match reply {
            RedisValue::Array(v) if v.len() == 2 => (v[0].as_i64(), v[1].as_i64()),
            other => {
                return Err(Error::ScriptUnavailable(format!(
                    "unexpected reply {other:?}"
                )));
            }
        };
        let n = n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        Ok(match tag {
            Some(1) => Recovered::Requeued(n),
            Some(2) => Recovered::Poisoned(n),
            _ => Recovered::Gone,
        })
    }
}
