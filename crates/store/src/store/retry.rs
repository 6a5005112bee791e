//! resque-retry's counter and retries: a failed attempt's whole retry step in one script.
//!
//! resque-retry counts in the job process (`SETNX -1`, `INCR` at the start of each attempt),
//! then on failure re-enqueues, writes the suppressed record and the counter's fate in
//! separate commands: a crash between loses the retry while the counter stays (RETRY.md,
//! "Racy" 2). Here the worker's parent sends one script after the attempt: the same
//! `SETNX`/`INCR` (so the counter reads what Ruby's would after the attempt), the decision
//! against the limit, the re-enqueue (to the queue, or delayed by Redis's clock) or the
//! give-up, the suppressed record, and the counter's TTL, atomically. A success is one `DEL`.

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::Store;
use crate::Result;

/// ARGV after the delayed-queue keys: counter, failure key, limit, ignored, allowed, TTL,
/// queue, payload, delayed item, delegate, suppressed record ('' none), n, delays...
const RETRY_FAILED: &str = r"
local D, T, Z, QS, Q, M = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local counter, fkey = ARGV[7], ARGV[8]
local limit, ignored, allowed = tonumber(ARGV[9]), ARGV[10] == '1', ARGV[11] == '1'
local ttl, queue, payload, item = tonumber(ARGV[12]), ARGV[13], ARGV[14], ARGV[15]
local delegate, record, n = ARGV[16] == '1', ARGV[17], tonumber(ARGV[18])
redis.call('SETNX', counter, -1)
local attempt = redis.call('INCR', counter)
if ignored then attempt = redis.call('DECR', counter) end
local reached = limit == 0 or (limit > 0 and attempt >= limit)
if reached or not allowed then
  redis.call('DEL', counter, fkey)
  return {0, attempt, 0}
end
local delay = tonumber(ARGV[18 + math.max(1, math.min(attempt + 1, n))])
local kind, ts = 1, 0
if delay <= 0 then
  redis.call('SADD', QS, queue)
  redis.call('RPUSH', Q .. queue, payload)
else
  local t = redis.call('TIME')
  ts = math.floor(tonumber(t[1]) + tonumber(t[2]) / 1000000 + delay)
  redis.call('RPUSH', D .. ts, item)
  redis.call('SADD', T .. item, M .. ts)
  redis.call('ZADD', Z, ts, ts)
  kind = 2
  if record ~= '' then redis.call('SETEX', fkey, math.max(1, math.floor(2 * delay)), record) end
end
if delegate then redis.call('DEL', counter) else redis.call('EXPIRE', counter, ttl) end
return {kind, attempt, ts}
";

/// One failed attempt of a retrying class, for [`Store::retry_failed`].
#[derive(Debug, Clone)]
pub struct RetryFailure<'a> {
    /// The counter's full key (`Keys::retry_counter`).
    pub counter: &'a str,
    /// The suppressed record's full key (`Keys::retry_failure`).
    pub failure_key: &'a str,
    /// The retry limit (`0` never, negative forever).
    pub limit: i64,
    /// The exception is one of `ignore_exceptions`: this attempt does not count.
    pub ignored: bool,
    /// The exception (or a criteria check) allows a retry.
    pub allowed: bool,
    /// Seconds before the retry, by attempt (the last repeating).
    pub delays: &'a [f64],
    /// The counter's TTL, seconds.
    pub ttl: u64,
    /// Where the retry goes.
    pub queue: &'a str,
    /// The retry's queue payload (for a retry at once).
    pub payload: &'a str,
    /// The retry's delayed item (for a delayed retry).
    pub item: &'a str,
    /// A delegate class retries: the counter goes at once.
    pub delegate: bool,
    /// With `MultipleWithRetrySuppression`: the record kept under `failure_key` (for twice
    /// the delay) while a delayed retry is pending.
    pub suppressed_record: Option<&'a str>,
}

/// What [`Store::retry_failed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Pushed to its queue at once; `attempt` was the attempt that failed (0 the first).
    RetriedNow {
        /// The attempt number.
        attempt: i64,
    },
    /// Delayed to Unix second `at`.
    RetriedAt {
        /// The attempt number.
        attempt: i64,
        /// When the retry is due.
        at: i64,
    },
    /// Not retried (limit reached, or the exception does not retry): the counter is gone.
    GaveUp {
        /// The attempt number.
        attempt: i64,
    },
}

impl RetryDecision {
    /// Whether the job will run again.
    pub fn retrying(&self) -> bool {
        !matches!(self, Self::GaveUp { .. })
    }
}

impl Store {
    /// A retrying class's attempt succeeded: `DEL` its counter (resque-retry's
    /// `after_perform_retry`).
    pub async fn retry_succeeded(&self, counter: &str) -> Result<()> {
        let _: i64 = self.client().del(counter).await?;
        Ok(())
    }

    /// A retrying class's attempt failed: the whole retry step in one script (see the
    /// module docs).
    pub async fn retry_failed(&self, f: &RetryFailure<'_>) -> Result<RetryDecision> {
        let reply = self
            .run_script(RETRY_FAILED, || {
                let mut args: Vec<RedisValue> = vec![
                    f.counter.into(),
                    f.failure_key.into(),
                    f.limit.into(),
                    if f.ignored { "1" } else { "0" }.into(),
                    if f.allowed { "1" } else { "0" }.into(),
                    (f.ttl.max(1) as i64).into(),
                    f.queue.into(),
                    f.payload.into(),
                    f.item.into(),
                    if f.delegate { "1" } else { "0" }.into(),
                    f.suppressed_record.unwrap_or("").into(),
                    (f.delays.len().max(1) as i64).into(),
                ];
                if f.delays.is_empty() {
                    args.push("0".into());
                }
                args.extend(f.delays.iter().map(|d| RedisValue::from(d.to_string())));
                self.delayed_argv(args)
            })
            .await?;
        let v: Vec<i64> = match reply {
            RedisValue::Array(a) => a.into_iter().map(|x| x.as_i64().unwrap_or(0)).collect(),
            _ => Vec::new(),
        };
        let (kind, attempt, at) = (
            v.first().copied().unwrap_or(0),
            v.get(1).copied().unwrap_or(0),
            v.get(2).copied().unwrap_or(0),
        );
        Ok(match kind {
            1 => RetryDecision::RetriedNow { attempt },
            2 => RetryDecision::RetriedAt { attempt, at },
            _ => RetryDecision::GaveUp { attempt },
        })
    }
}
