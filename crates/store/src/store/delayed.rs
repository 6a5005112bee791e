//! resque-scheduler's delayed queue: `delayed_queue_schedule`, `delayed:<ts>` and
//! `timestamps:<item>`, with every write that Ruby makes in several round trips done in
//! one script, so no reader or crash ever sees half of it.
//!
//! Ruby's `delayed_push` is `RPUSH`, `SADD`, `ZADD` in three round trips (a crash in
//! between leaves an item no timestamp points to); its removals never touch the sorted set
//! (an emptied timestamp lingers until the scheduler's next pass). Here each is one script
//! whose end state is what Ruby's sequence leaves once it completes, plus the clean-up Ruby
//! leaves to the scheduler. The scheduler's own move is in `due.rs`.

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::{Store, value_to_bytes, value_to_string};
use crate::Result;

/// `delayed_push` for one or more items at one timestamp: every `RPUSH delayed:<ts>`, its
/// `SADD timestamps:<item> delayed:<ts>`, and the `ZADD`, atomically.
const PUSH: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ts = ARGV[7]
for i = 8, #ARGV do
  redis.call('RPUSH', D .. ts, ARGV[i])
  redis.call('SADD', T .. ARGV[i], M .. ts)
end
redis.call('ZADD', Z, ts, ts)
return 1
";

/// `remove_delayed`: every copy of one item at every timestamp its `timestamps:` set
/// names; a timestamp left empty leaves the sorted set too. With ARGV[3] set, each removed
/// copy is pushed to the queue (ARGV[3]) as ARGV[4] (`enqueue_delayed`); with ARGV[5] set,
/// the copies are delayed again at that timestamp (`delay_or_enqueue_at`, at least one).
const REMOVE: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local item = ARGV[7]
local set = T .. item
local n = 0
for _, member in ipairs(redis.call('SMEMBERS', set)) do
  local ts = string.sub(member, #M + 1)
  n = n + redis.call('LREM', D .. ts, 0, item)
  if redis.call('LLEN', D .. ts) == 0 then
    redis.call('DEL', D .. ts)
    redis.call('ZREM', Z, ts)
  end
end
redis.call('DEL', set)
if ARGV[8] ~= '' then
  if n > 0 then redis.call('SADD', QS, ARGV[8]) end
  for _ = 1, n do redis.call('RPUSH', Q .. ARGV[8], ARGV[9]) end
elseif ARGV[10] ~= '' then
  local ts = ARGV[10]
  for _ = 1, math.max(n, 1) do redis.call('RPUSH', D .. ts, item) end
  redis.call('SADD', set, M .. ts)
  redis.call('ZADD', Z, ts, ts)
end
return n
";

/// `remove_delayed_job_from_timestamp`: the item's copies at one timestamp, with the
/// clean-up of an emptied timestamp in the same step.
const REMOVE_AT: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ts, item = ARGV[7], ARGV[8]
redis.call('SREM', T .. item, M .. ts)
local n = redis.call('LREM', D .. ts, 0, item)
if redis.call('LLEN', D .. ts) == 0 then
  redis.call('DEL', D .. ts)
  redis.call('ZREM', Z, ts)
end
return n
";

/// `reset_delayed_queue`, a slice at a time (a huge delayed queue must not stop Redis for
/// one long script): up to ARGV[2] timestamps, each list with the `timestamps:` set of
/// every item in it. Returns how many timestamps remain.
const RESET_SLICE: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
for _, ts in ipairs(redis.call('ZRANGE', Z, 0, tonumber(ARGV[7]) - 1)) do
  for _, item in ipairs(redis.call('LRANGE', D .. ts, 0, -1)) do
    redis.call('DEL', T .. item)
  end
  redis.call('DEL', D .. ts)
  redis.call('ZREM', Z, ts)
end
return redis.call('ZCARD', Z)
";

/// `count_all_scheduled_jobs`: the sum of every timestamp's length, counted inside Redis.
const COUNT_ALL: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local n = 0
for _, ts in ipairs(redis.call('ZRANGE', Z, 0, -1)) do
  n = n + redis.call('LLEN', D .. ts)
end
return n
";

/// resque-web's delayed search, a slice at a time inside Redis: items of timestamps
/// ARGV[7]..ARGV[7]+ARGV[8]-1 whose class contains ARGV[9] (lower-cased, any case), at most
/// ARGV[10]. Returns `{next start or -1, ts, item, ts, item...}`.
const SEARCH_SLICE: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local start, count, needle, limit = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local tss = redis.call('ZRANGE', Z, start, start + count - 1)
local out = {#tss < count and -1 or start + count}
for _, ts in ipairs(tss) do
  for _, item in ipairs(redis.call('LRANGE', D .. ts, 0, -1)) do
    local ok, job = pcall(cjson.decode, item)
    if ok and type(job) == 'table' and type(job['class']) == 'string'
       and string.find(string.lower(job['class']), needle, 1, true) then
      out[#out + 1] = ts
      out[#out + 1] = item
      if (#out - 1) / 2 >= limit then return out end
    end
  end
end
return out
";

/// Timestamps per slice when walking the whole delayed queue (Ruby's slice size).
const SLICE: i64 = 100;

/// The key names (from `resque-protocol`) every delayed-queue script starts its ARGV with:
/// `delayed:` prefix, `timestamps:` prefix, `delayed_queue_schedule`, `queues`, `queue:`
/// prefix, and the `delayed:` member prefix (`D, T, Z, QS, Q, M` in the scripts).
pub(super) fn script_keys(keys: &resque_protocol::Keys) -> Vec<RedisValue> {
    vec![
        keys.delayed_prefix().into(),
        keys.timestamps_prefix().into(),
        keys.delayed_queue_schedule().into(),
        keys.queues().into(),
        keys.queue_prefix().into(),
        resque_protocol::keys::DELAYED_MEMBER_PREFIX.into(),
    ]
}

impl Store {
    /// `EVALSHA` argv of a delayed-queue script: no KEYS, [`script_keys`], then `args`.
    pub(super) fn delayed_argv(
        &self,
        args: impl IntoIterator<Item = RedisValue>,
    ) -> Vec<RedisValue> {
        let mut argv = vec![RedisValue::Null, 0.into()];
        argv.extend(script_keys(&self.keys));
        argv.extend(args);
        argv
    }

    /// Delays `items` (encoded delayed items) to Unix second `ts`, atomically.
    pub async fn delayed_push(&self, ts: i64, items: &[String]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.run_script(PUSH, || {
            self.delayed_argv(
                std::iter::once(ts.into())
                    .chain(items.iter().map(|i| RedisValue::from(i.as_str()))),
            )
        })
        .await?;
        Ok(())
    }

    /// `delayed_queue_peek(start, count)`: timestamps in order.
    pub async fn delayed_timestamps(&self, start: i64, count: i64) -> Result<Vec<i64>> {
        if count <= 0 {
            return Ok(Vec::new());
        }
        let vs: Vec<RedisValue> = self
            .client()
            .zrange(
                self.keys.delayed_queue_schedule(),
                start,
                start + count - 1,
                None,
                false,
                None,
                false,
            )
            .await?;
        Ok(vs
            .into_iter()
            .filter_map(value_to_string)
            .filter_map(|s| s.parse().ok())
            .collect())
    }

    /// `delayed_queue_schedule_size`: how many timestamps (not jobs).
    pub async fn delayed_schedule_size(&self) -> Result<u64> {
        Ok(self
            .client()
            .zcard(self.keys.delayed_queue_schedule())
            .await?)
    }

    /// `delayed_timestamp_size(ts)`.
    pub async fn delayed_timestamp_size(&self, ts: i64) -> Result<u64> {
        Ok(self.client().llen(self.keys.delayed(ts)).await?)
    }

    /// `delayed_timestamp_peek(ts, start, count)`, raw: `LINDEX` for one item, `LRANGE`
    /// otherwise (count 0 is the whole list), as Ruby sends.
    pub async fn delayed_timestamp_items(
        &self,
        ts: i64,
        start: i64,
        count: i64,
    ) -> Result<Vec<Vec<u8>>> {
        let key = self.keys.delayed(ts);
        if count == 1 {
            let v: RedisValue = self.client().lindex(key, start).await?;
            return Ok(value_to_bytes(v).into_iter().collect());
        }
        let stop = if count <= 0 { -1 } else { start + count - 1 };
        let vs: Vec<RedisValue> = self.client().lrange(key, start, stop).await?;
        Ok(vs.into_iter().filter_map(value_to_bytes).collect())
    }

    /// `count_all_scheduled_jobs`.
    pub async fn delayed_count_all(&self) -> Result<u64> {
        let n = self.run_script(COUNT_ALL, || self.delayed_argv([])).await?;
        Ok(n.as_u64().unwrap_or(0))
    }

    /// `scheduled_at`: the timestamps a `timestamps:<item>` set names, sorted.
    pub async fn delayed_timestamps_of(&self, item: &str) -> Result<Vec<i64>> {
        let members: Vec<String> = self.client().smembers(self.keys.timestamps(item)).await?;
        let mut v: Vec<i64> = members
            .iter()
            .filter_map(|m| resque_protocol::keys::parse_delayed_member(m))
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    /// `next_delayed_timestamp(at)`: the earliest timestamp at or before `at`.
    pub async fn next_delayed_timestamp(&self, at: i64) -> Result<Option<i64>> {
        let vs: Vec<RedisValue> = self
            .client()
            .zrangebyscore(
                self.keys.delayed_queue_schedule(),
                "-inf",
                at,
                false,
                Some((0, 1)),
            )
            .await?;
        Ok(vs
            .into_iter()
            .filter_map(value_to_string)
            .find_map(|s| s.parse().ok()))
    }

    /// Removes every copy of `item` from the delayed queue, returning how many went. With
    /// `enqueue_to = Some((queue, payload))` they are pushed to `queue` in the same step.
    /// The same job as node-resque stores it (its key order and number format:
    /// [`resque_protocol::DelayedItem::encode_node_resque`]) is removed too; Ruby matches
    /// its own bytes only.
    pub async fn delayed_remove(
        &self,
        item: &str,
        enqueue_to: Option<(&str, &str)>,
    ) -> Result<u64> {
        self.remove_script(item, enqueue_to, None).await
    }

    /// Removes every copy of `item` and delays the same number (at least one) to `ts`, in
    /// one step (`delay_or_enqueue_at` for a time in the future).
    pub async fn delayed_reschedule(&self, item: &str, ts: i64) -> Result<u64> {
        self.remove_script(item, None, Some(ts)).await
    }

    async fn remove_script(
        &self,
        item: &str,
        enqueue_to: Option<(&str, &str)>,
        reschedule: Option<i64>,
    ) -> Result<u64> {
        if reschedule.is_some() {
            // Rescheduling delays as many as it removed in our bytes: one form only.
            return self.remove_one_form(item, enqueue_to, reschedule).await;
        }
        let mut n = 0;
        for form in item_forms(item) {
            n += self.remove_one_form(&form, enqueue_to, None).await?;
        }
        Ok(n)
    }

    async fn remove_one_form(
        &self,
        item: &str,
        enqueue_to: Option<(&str, &str)>,
        reschedule: Option<i64>,
    ) -> Result<u64> {
        let (queue, payload) = enqueue_to.unwrap_or(("", ""));
        let ts = reschedule.map(|t| t.to_string()).unwrap_or_default();
        let n = self
            .run_script(REMOVE, || {
                self.delayed_argv([
                    item.into(),
                    queue.into(),
                    payload.into(),
                    ts.as_str().into(),
                ])
            })
            .await?;
        Ok(n.as_u64().unwrap_or(0))
    }

    /// `remove_delayed_job_from_timestamp`: removes `item`'s copies at `ts` (in node-resque's
    /// bytes too, see [`Store::delayed_remove`]).
    pub async fn delayed_remove_at(&self, ts: i64, item: &str) -> Result<u64> {
        let mut total = 0;
        for form in item_forms(item) {
            let n = self
                .run_script(REMOVE_AT, || {
                    self.delayed_argv([ts.into(), form.as_str().into()])
                })
                .await?;
            total += n.as_u64().unwrap_or(0);
        }
        Ok(total)
    }

    /// `reset_delayed_queue`: every delayed job and its bookkeeping, a slice of timestamps
    /// per script call.
    pub async fn delayed_reset(&self) -> Result<()> {
        loop {
            let left = self
                .run_script(RESET_SLICE, || self.delayed_argv([SLICE.into()]))
                .await?;
            if left.as_u64().unwrap_or(0) == 0 {
                return Ok(());
            }
        }
    }

    /// Delayed items whose class contains `needle` (any case), oldest first, at most
    /// `limit`: resque-web's search, run inside Redis a slice of timestamps per call, so only
    /// matches cross the network.
    pub async fn delayed_search(&self, needle: &str, limit: usize) -> Result<Vec<(i64, Vec<u8>)>> {
        let needle = needle.to_lowercase();
        let mut found = Vec::new();
        let mut start: i64 = 0;
        while start >= 0 && found.len() < limit {
            let left = (limit - found.len()) as i64;
            let reply = self
                .run_script(SEARCH_SLICE, || {
                    self.delayed_argv([
                        start.into(),
                        SLICE.into(),
                        needle.as_str().into(),
                        left.into(),
                    ])
                })
                .await?;
            let RedisValue::Array(v) = reply else { break };
            let mut it = v.into_iter();
            let next = it.next().and_then(|n| n.as_i64()).unwrap_or(-1);
            while let (Some(ts), Some(item)) = (it.next(), it.next()) {
                let ts = value_to_string(ts).and_then(|t| t.parse().ok());
                if let (Some(ts), Some(item)) = (ts, value_to_bytes(item)) {
                    found.push((ts, item));
                }
            }
            start = next;
        }
        Ok(found)
    }

    /// The timestamps of every delayed copy of `class` with `args_json` (the args array's
    /// JSON) in any queue, found by `SCAN`ning the `timestamps:` keys of that class and
    /// args: how resque-web's "All schedules" page finds a job without knowing its class's
    /// queue. Returns (queue, timestamps) per queue found.
    pub async fn delayed_timestamps_any_queue(
        &self,
        class: &str,
        args_json: &str,
    ) -> Result<Vec<(String, Vec<i64>)>> {
        let prefix = DelayedItemPrefix::new(class, args_json);
        let pattern = format!(
            "{}{}*",
            glob_escape(&self.keys.timestamps_prefix()),
            glob_escape(&prefix.text)
        );
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        loop {
            let (next, batch): (String, Vec<String>) = self
                .client()
                .custom(
                    fred::types::CustomCommand::new_static(
                        "SCAN",
                        fred::types::ClusterHash::Random,
                        false,
                    ),
                    vec![cursor.as_str(), "MATCH", pattern.as_str(), "COUNT", "1000"],
                )
                .await?;
            keys.extend(batch);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        let mut out = Vec::new();
        let tprefix = self.keys.timestamps_prefix();
        for key in keys {
            let Some(item) = key.strip_prefix(tprefix.as_str()) else {
                continue;
            };
            let Ok(decoded) = resque_protocol::DelayedItem::decode(item.as_bytes()) else {
                continue;
            };
            let Some(queue) = decoded.queue else { continue };
            let tss = self.delayed_timestamps_of(item).await?;
            if !tss.is_empty() {
                out.push((queue, tss));
            }
        }
        Ok(out)
    }

    /// Walks the whole delayed queue, `SLICE` timestamps a round trip (as Ruby's
    /// `find_delayed_selection`): calls `visit(ts, raw_items)` per timestamp, oldest first.
    pub async fn delayed_walk(&self, mut visit: impl FnMut(i64, Vec<Vec<u8>>)) -> Result<()> {
        let mut start = 0;
        loop {
            let tss = self.delayed_timestamps(start, SLICE).await?;
            if tss.is_empty() {
                return Ok(());
            }
            let p = self.client().pipeline();
            for ts in &tss {
                let () = p.lrange(self.keys.delayed(*ts), 0, -1).await?;
            }
            let lists: Vec<Vec<RedisValue>> = p.all().await?;
            for (ts, items) in tss.iter().zip(lists) {
                visit(*ts, items.into_iter().filter_map(value_to_bytes).collect());
            }
            if (tss.len() as i64) < SLICE {
                return Ok(());
            }
            start += SLICE;
        }
    }
}

/// What a delayed item's bytes start with for a class and args, up to its queue.
struct DelayedItemPrefix {
    text: String,
}

impl DelayedItemPrefix {
    /// `{"class":<class>,"args":<args>,"queue":`, the class written as every item writes it.
    fn new(class: &str, args_json: &str) -> Self {
        let class = resque_protocol::json::to_string(class).unwrap_or_default();
        Self {
            text: format!("{{\"class\":{class},\"args\":{args_json},\"queue\":"),
        }
    }
}

/// Escapes `SCAN MATCH` glob characters.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `item`, and the same job in node-resque's bytes when those differ (an item that does not
/// read as a delayed item is only itself).
fn item_forms(item: &str) -> Vec<String> {
    let mut forms = vec![item.to_owned()];
    if let Ok(decoded) = resque_protocol::DelayedItem::decode(item.as_bytes()) {
        let node = decoded.encode_node_resque();
        if node != item {
            forms.push(node);
        }
    }
    forms
}
