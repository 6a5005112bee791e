//! Jobs reserved ahead (`PREFETCH`): a worker's held list (`resque-rs:held:<id>`, a key
//! Ruby never reads), and putting it back at the head of its queues: by the worker itself
//! when it will not run them (pausing, stopping), or by a reaper when the worker is gone.
//!
//! The reserve script moves a held job from its queue in the same step as its pop and
//! takes it out again with its bookkeeping ([`crate::ReserveSection::hold`]), so a held
//! job is always in exactly one place: its queue, the held list, or counted.

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::Store;
use crate::{Held, Result};

impl Store {
    /// `LRANGE resque-rs:held:<id>`: the jobs worker `id` holds, in the order it would run
    /// them, as written (an entry this crate did not write is left out, and left alone).
    pub async fn held(&self, id: &str) -> Result<Vec<(Held, String)>> {
        let entries: Vec<String> = self.client().lrange(self.keys.held(id), 0, -1).await?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let (qjson, raw) = entry.split_once('\n')?;
                let queue: String = serde_json::from_str(qjson).ok()?;
                let held = Held {
                    queue,
                    raw: raw.to_owned(),
                };
                Some((held, entry))
            })
            .collect())
    }

    /// The worker ids in `resque-rs:holders`: those that held jobs ahead at some time, for
    /// a reaper to check against the registered workers.
    pub async fn holders(&self) -> Result<Vec<String>> {
        Ok(self.client().smembers(self.keys.holders()).await?)
    }

    /// Whether worker `id` is in `resque-rs:holders` (it held jobs ahead at some time).
    pub async fn is_holder(&self, id: &str) -> Result<bool> {
        Ok(self.client().sismember(self.keys.holders(), id).await?)
    }

    /// Puts worker `id`'s held jobs back at the head of their queues, in their order (the
    /// first held is the first to be taken again), and removes the list and the worker from
    /// `resque-rs:holders`, in one script, only while the list is still exactly `seen` (as
    /// [`Store::held`] read it): a resend after a lost reply, or a second reaper, finds it
    /// changed and puts nothing back twice. Returns how many went back, or `None` when the
    /// list was no longer `seen`. With `seen` empty it only forgets a worker that holds
    /// nothing.
    pub async fn return_held(&self, id: &str, seen: &[(Held, String)]) -> Result<Option<usize>> {
        const SCRIPT: &str = "local now = redis.call('LRANGE', KEYS[1], 0, -1) \
            local n = tonumber(ARGV[1]) \
            if #now ~= n then return -1 end \
            for i = 1, n do if now[i] ~= ARGV[1 + i] then return -1 end end \
            for i = n, 1, -1 do \
              redis.call('LPUSH', KEYS[3 + i], string.sub(now[i], string.find(now[i], '\\n', 1, true) + 1)) \
              redis.call('SADD', KEYS[3], ARGV[1 + n + i]) \
            end \
            redis.call('DEL', KEYS[1]) redis.call('SREM', KEYS[2], ARGV[2 + 2 * n]) return n";
        let k = &self.keys;
        let mut keys: Vec<RedisValue> =
            vec![k.held(id).into(), k.holders().into(), k.queues().into()];
        keys.extend(seen.iter().map(|(h, _)| k.queue(&h.queue).into()));
        let argv = || {
            let mut v: Vec<RedisValue> = Vec::with_capacity(4 + keys.len() + 2 * seen.len());
            v.push(RedisValue::Null);
            v.push(i64::try_from(keys.len()).unwrap_or(0).into());
            v.extend(keys.iter().cloned());
            v.push(i64::try_from(seen.len()).unwrap_or(0).into());
            v.extend(seen.iter().map(|(_, entry)| entry.as_str().into()));
            v.extend(seen.iter().map(|(h, _)| h.queue.as_str().into()));
            v.push(id.into());
            v
        };
        let n = self.run_script(SCRIPT, argv).await?.as_i64().unwrap_or(-1);
        Ok(usize::try_from(n).ok())
    }
}
