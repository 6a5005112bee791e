//! The scheduler's side of the delayed queue: reading what is due by Redis's clock, moving
//! it to its queues, the master lock, and recurring fires.
//!
//! Ruby reads a timestamp's items with `LRANGE` *before* it `WATCH`es the list, then trims
//! `batch` items inside `MULTI`: an item pushed to (or removed from) that timestamp in
//! between is trimmed without being enqueued (SCHEDULER.md, "Racy / lossy" 1). Here the move
//! is read, decide, commit: [`Store::due_batch`] reads the due items (by Redis `TIME`, in
//! one script), the scheduler builds each payload and runs the hooks, and
//! [`Store::commit_moves`] checks, inside one script, that each timestamp still starts with
//! exactly the items read, then pushes them, removes their `timestamps:` members and trims
//! exactly that many. A timestamp that changed is left whole and read again; nothing is ever
//! trimmed that was not enqueued, and nothing pushed meanwhile is touched. The commit also
//! checks that the caller still holds the master lock (and refreshes it), so a scheduler that
//! lost the lock moves nothing.

use fred::types::Value as RedisValue;

use super::{Store, value_to_bytes, value_to_string};
use crate::Result;

/// Reads up to ARGV[7] due items across up to ARGV[8] due timestamps, oldest first, by
/// Redis's clock. Returns `{now, its microseconds, first timestamp after now or -1, ts1,
/// n1, items1..., ts2, n2, ...}`.
const DUE: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local left = tonumber(ARGV[7])
local time = redis.call('TIME')
local now = time[1]
local later = redis.call('ZRANGEBYSCORE', Z, '(' .. now, '+inf', 'LIMIT', 0, 1)
local out = {now, time[2], later[1] or -1}
local tss = redis.call('ZRANGEBYSCORE', Z, '-inf', now, 'LIMIT', 0, tonumber(ARGV[8]))
for _, ts in ipairs(tss) do
  if left <= 0 then break end
  local items = redis.call('LRANGE', D .. ts, 0, left - 1)
  out[#out + 1] = ts
  out[#out + 1] = #items
  for _, item in ipairs(items) do out[#out + 1] = item end
  left = left - #items
end
return out
";

/// Commits moves. ARGV: the script keys, lock key ('' = no lock check), lock value, lock
/// TTL, then per group: ts, n, and n × (item, queue or '' to drop, payload). Returns `-1` when the
/// lock is not ours, else `{moved, stale ts...}`.
const COMMIT: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if ARGV[7] ~= '' then
  if redis.call('GET', ARGV[7]) ~= ARGV[8] then return -1 end
  redis.call('EXPIRE', ARGV[7], ARGV[9])
end
local out = {0}
local i = 10
while i <= #ARGV do
  local ts, n = ARGV[i], tonumber(ARGV[i + 1])
  i = i + 2
  local member = M .. ts
  local key = D .. ts
  local same = true
  if n > 0 then
    local current = redis.call('LRANGE', key, 0, n - 1)
    if #current ~= n then same = false end
    for k = 1, n do
      if same and current[k] ~= ARGV[i + (k - 1) * 3] then same = false end
    end
  end
  if same then
    for _ = 1, n do
      local item, queue = ARGV[i], ARGV[i + 1]
      redis.call('SREM', T .. item, member)
      if queue ~= '' then
        redis.call('SADD', QS, queue)
        redis.call('RPUSH', Q .. queue, ARGV[i + 2])
        out[1] = out[1] + 1
      end
      i = i + 3
    end
    if n > 0 then redis.call('LTRIM', key, n, -1) end
    if redis.call('LLEN', key) == 0 then
      redis.call('DEL', key)
      redis.call('ZREM', Z, ts)
    end
  else
    i = i + n * 3
    out[#out + 1] = ts
  end
end
return out
";

/// Takes the lock if free, or refreshes it if ours: `SET NX EX` (Ruby's `SETNX` + `EXPIRE`,
/// atomically), else `EXPIRE` when the value is ours. 1 = we are master.
const ACQUIRE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Deletes the lock only if it is ours (Ruby checks, then `DEL`s in a second command,
/// which can delete a successor's lock).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A recurring fire, only by the lock's holder and only once per slot. KEYS: lock,
/// `queues`, `queue:<q>`, `delayed:last_enqueued_at`, resque-rs's fired-slots hash. ARGV:
/// lock value, lock TTL, name, slot (Unix second), queue, payload, `Time#to_s`. Returns -1
/// (not master), 0 (this slot already fired), 1 (fired).
const FIRE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[5], ARGV[3]) or '')
if last and last >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[5], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('RPUSH', KEYS[3], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[7])
return 1
";

/// Due items read by [`Store::due_batch`].
#[derive(Debug, Clone, Default)]
pub struct DueBatch {
    /// Redis's clock (`TIME`, whole seconds) when read.
    pub now: i64,
    /// The microseconds part of that clock.
    pub now_micros: i64,
    /// The first timestamp not yet due, if any: when the scheduler needs to look next.
    pub next_due: Option<i64>,
    /// Each due timestamp read, oldest first, with its first items' exact bytes (a
    /// timestamp with no items is an orphan: committing it with no items removes it).
    pub groups: Vec<(i64, Vec<Vec<u8>>)>,
}

/// What to do with one item of a [`MoveGroup`].
#[derive(Debug, Clone)]
pub enum MoveAction {
    /// Push `payload` to `queue`.
    Push {
        /// The queue name.
        queue: String,
        /// The encoded queue payload.
        payload: String,
    },
    /// Take it out without pushing it (cancelled by a hook, or recorded as a failure).
    Drop,
}

/// One timestamp's items to move, exactly as [`Store::due_batch`] read them.
#[derive(Debug, Clone)]
pub struct MoveGroup {
    /// The timestamp.
    pub ts: i64,
    /// The items, in list order, each with its action.
    pub items: Vec<(Vec<u8>, MoveAction)>,
}

/// The master lock a commit or fire must hold.
#[derive(Debug, Clone, Copy)]
pub struct LockHeld<'a> {
    /// The full lock key.
    pub key: &'a str,
    /// Our value (`host:pid`).
    pub value: &'a str,
    /// The TTL to refresh it to, in seconds.
    pub ttl: u64,
}

/// What [`Store::commit_moves`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// The lock was not ours: nothing was written.
    NotMaster,
    /// `pushed` items went to their queues; the timestamps in `stale` had changed since
    /// they were read and were left as they are.
    Done {
        /// Items pushed to queues.
        pushed: u64,
        /// Timestamps left untouched.
        stale: Vec<i64>,
    },
}

/// What [`Store::fire_recurring`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// Pushed, and `last_enqueued_at` written.
    Yes,
    /// This slot had already fired (another scheduler, before a failover).
    AlreadyFired,
    /// The lock was not ours: nothing was written.
    NotMaster,
}

/// A script's number: Lua numbers come back as integers, Redis's own replies as strings.
fn int_of(v: RedisValue) -> Option<i64> {
    match v {
        RedisValue::Integer(n) => Some(n),
        other => value_to_string(other)?.parse().ok(),
    }
}

impl Store {
    /// Reads up to `max_items` due items, from up to `max_timestamps` due timestamps, by
    /// Redis's clock. Writes nothing.
    pub async fn due_batch(&self, max_items: usize, max_timestamps: usize) -> Result<DueBatch> {
        let reply = self
            .run_script(DUE, || {
                self.delayed_argv([
                    (max_items.max(1) as i64).into(),
                    (max_timestamps.max(1) as i64).into(),
                ])
            })
            .await?;
        let mut values = match reply {
            RedisValue::Array(v) => v.into_iter(),
            other => {
                tracing::warn!("unexpected reply to the due-items script: {other:?}");
                return Ok(DueBatch::default());
            }
        };
        let int = |v: Option<RedisValue>| int_of(v?);
        let mut batch = DueBatch {
            now: int(values.next()).unwrap_or(0),
            now_micros: int(values.next()).unwrap_or(0),
            next_due: int(values.next()).filter(|t| *t >= 0),
            groups: Vec::new(),
        };
        while let Some(ts) = int(values.next()) {
            let n = int(values.next()).unwrap_or(0).max(0) as usize;
            let items: Vec<Vec<u8>> = values.by_ref().take(n).filter_map(value_to_bytes).collect();
            batch.groups.push((ts, items));
        }
        Ok(batch)
    }

    /// Moves the groups in one script (see the module docs). With `lock`, nothing is
    /// written unless the lock is the caller's, and the lock's TTL is refreshed.
    pub async fn commit_moves(
        &self,
        lock: Option<LockHeld<'_>>,
        groups: &[MoveGroup],
    ) -> Result<Committed> {
        let (key, value, ttl) = lock.map_or(("", "", 0), |l| (l.key, l.value, l.ttl));
        let reply = self
            .run_script(COMMIT, || {
                let mut argv = self.delayed_argv([key.into(), value.into(), (ttl as i64).into()]);
                for g in groups {
                    argv.push(g.ts.into());
                    argv.push((g.items.len() as i64).into());
                    for (raw, action) in &g.items {
                        argv.push(RedisValue::Bytes(raw.clone().into()));
                        match action {
                            MoveAction::Push { queue, payload } => {
                                argv.push(queue.as_str().into());
                                argv.push(payload.as_str().into());
                            }
                            MoveAction::Drop => {
                                argv.push("".into());
                                argv.push("".into());
                            }
                        }
                    }
                }
                argv
            })
            .await?;
        match reply {
            RedisValue::Array(v) => {
                let mut it = v.into_iter().filter_map(int_of);
                let pushed = it.next().unwrap_or(0).max(0) as u64;
                let stale = it.collect();
                Ok(Committed::Done { pushed, stale })
            }
            _ => Ok(Committed::NotMaster),
        }
    }

    /// Takes the master lock if it is free, or refreshes it if it is ours; `true` when we
    /// hold it afterwards.
    pub async fn master_lock_acquire(&self, key: &str, value: &str, ttl: u64) -> Result<bool> {
        let n = self
            .run_script(ACQUIRE, || {
                vec![
                    RedisValue::Null,
                    1.into(),
                    key.into(),
                    value.into(),
                    (ttl.max(1) as i64).into(),
                ]
            })
            .await?;
        Ok(n.as_i64() == Some(1))
    }

    /// Releases the master lock if it is ours; `true` when it was.
    pub async fn master_lock_release(&self, key: &str, value: &str) -> Result<bool> {
        let n = self
            .run_script(RELEASE, || {
                vec![RedisValue::Null, 1.into(), key.into(), value.into()]
            })
            .await?;
        Ok(n.as_i64() == Some(1))
    }

    /// Who holds the master lock (resque-web's "Current master").
    pub async fn master_lock_holder(&self, key: &str) -> Result<Option<String>> {
        use fred::prelude::*;
        let v: RedisValue = self.client().get(key).await?;
        Ok(value_to_string(v))
    }

    /// Fires a recurring schedule's `slot` (see `FIRE`): the push and `last_enqueued_at`,
    /// only while holding the lock, and never twice for one slot.
    #[allow(clippy::too_many_arguments)]
    pub async fn fire_recurring(
        &self,
        lock: LockHeld<'_>,
        name: &str,
        slot: i64,
        queue: &str,
        payload: &str,
        enqueued_at: &str,
    ) -> Result<Fired> {
        let keys = [
            lock.key.to_owned(),
            self.keys.queues(),
            self.keys.queue(queue),
            self.keys.last_enqueued_at(),
            self.keys.schedule_fired(),
        ];
        let n = self
            .run_script(FIRE, || {
                vec![
                    RedisValue::Null,
                    5.into(),
                    keys[0].as_str().into(),
                    keys[1].as_str().into(),
                    keys[2].as_str().into(),
                    keys[3].as_str().into(),
                    keys[4].as_str().into(),
                    lock.value.into(),
                    (lock.ttl.max(1) as i64).into(),
                    name.into(),
                    slot.into(),
                    queue.into(),
                    payload.into(),
                    enqueued_at.into(),
                ]
            })
            .await?;
        Ok(match n.as_i64() {
            Some(1) => Fired::Yes,
            Some(0) => Fired::AlreadyFired,
            _ => Fired::NotMaster,
        })
    }
}
