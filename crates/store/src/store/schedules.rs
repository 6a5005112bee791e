//! resque-scheduler's recurring schedules in Redis: `persistent_schedules`,
//! `schedules_changed` and `delayed:last_enqueued_at`.
//!
//! Ruby's `set_schedule` is `HSET` then `SADD` in two round trips; here both go in one
//! script, so a dynamic scheduler never sees a changed name without its new config.

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::{Store, value_to_bytes, value_to_string};
use crate::Result;

/// `HSET` (ARGV[2] = config) or `HDEL` (no ARGV[2]) of `persistent_schedules`, and `SADD
/// schedules_changed`, in one step. KEYS: the hash, the set. Returns the HSET/HDEL reply.
const CHANGE: &str = r"
local n
if ARGV[2] then n = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
else n = redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('SADD', KEYS[2], ARGV[1])
return n
";

impl Store {
    /// `set_schedule(name, config, persist: true)`: `HSET persistent_schedules` and `SADD
    /// schedules_changed`, atomically.
    pub async fn schedule_set(&self, name: &str, config_json: &str) -> Result<()> {
        let (hash, set) = (
            self.keys.persistent_schedules(),
            self.keys.schedules_changed(),
        );
        self.run_script(CHANGE, || {
            vec![
                RedisValue::Null,
                2.into(),
                hash.as_str().into(),
                set.as_str().into(),
                name.into(),
                config_json.into(),
            ]
        })
        .await?;
        Ok(())
    }

    /// `remove_schedule(name)`: `HDEL` and `SADD schedules_changed`, atomically. Returns
    /// whether the schedule was stored.
    pub async fn schedule_remove(&self, name: &str) -> Result<bool> {
        let (hash, set) = (
            self.keys.persistent_schedules(),
            self.keys.schedules_changed(),
        );
        let n = self
            .run_script(CHANGE, || {
                vec![
                    RedisValue::Null,
                    2.into(),
                    hash.as_str().into(),
                    set.as_str().into(),
                    name.into(),
                ]
            })
            .await?;
        Ok(n.as_i64().unwrap_or(0) > 0)
    }

    /// `HGETALL persistent_schedules`: every stored schedule's name and raw JSON, sorted by
    /// name.
    pub async fn schedules_all(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let v: RedisValue = self
            .client()
            .hgetall(self.keys.persistent_schedules())
            .await?;
        let mut out = pairs(v);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// One stored schedule's raw JSON.
    pub async fn schedule_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let v: RedisValue = self
            .client()
            .hget(self.keys.persistent_schedules(), name)
            .await?;
        Ok(value_to_bytes(v))
    }

    /// Takes every name out of `schedules_changed` in one step (`SPOP` with a count), so a
    /// name added after this is seen next time rather than lost (Ruby pops one at a time
    /// after reloading, resque-scheduler #230).
    pub async fn schedules_changed_take(&self) -> Result<Vec<String>> {
        let v: RedisValue = self
            .client()
            .spop(self.keys.schedules_changed(), Some(1_000_000))
            .await?;
        Ok(match v {
            RedisValue::Array(a) => a.into_iter().filter_map(value_to_string).collect(),
            other => value_to_string(other).into_iter().collect(),
        })
    }

    /// `DEL schedules_changed` (a dynamic master's full reload).
    pub async fn schedules_changed_clear(&self) -> Result<()> {
        let _: i64 = self.client().del(self.keys.schedules_changed()).await?;
        Ok(())
    }

    /// `HGET delayed:last_enqueued_at <name>`.
    pub async fn last_enqueued_at(&self, name: &str) -> Result<Option<String>> {
        let v: RedisValue = self
            .client()
            .hget(self.keys.last_enqueued_at(), name)
            .await?;
        Ok(value_to_string(v))
    }

    /// `HSET delayed:last_enqueued_at <name> <time>` (resque-web's "Queue now" on a
    /// schedule, as Ruby's `enqueue_recurring` does not for it; the scheduler's fires write
    /// it inside their script).
    pub async fn set_last_enqueued_at(&self, name: &str, at: &str) -> Result<()> {
        let () = self
            .client()
            .hset(self.keys.last_enqueued_at(), (name, at))
            .await?;
        Ok(())
    }
}

/// A flat or map `HGETALL` reply as (field, raw value) pairs.
fn pairs(v: RedisValue) -> Vec<(String, Vec<u8>)> {
    match v {
        RedisValue::Map(m) => m
            .inner()
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), value_to_bytes(v)?)))
            .collect(),
        RedisValue::Array(a) => a
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((value_to_string(k.clone())?, value_to_bytes(v.clone())?)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
