//! The worker registry (`Resque::DataStore::Workers`) and a worker's own entries.

use std::collections::HashMap;

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::{Store, value_to_string};
use crate::Result;

impl Store {
    /// `worker_ids`: `SMEMBERS workers`, sorted.
    pub async fn worker_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.client().smembers(self.keys.workers()).await?;
        ids.sort();
        Ok(ids)
    }

    /// `workers_map`: `MGET worker:<id>...` for the given ids (`None` when idle).
    pub async fn worker_payloads(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.keys.worker(id)).collect();
        let vs: Vec<RedisValue> = self.client().mget(keys).await?;
        Ok(vs.into_iter().map(value_to_string).collect())
    }

    /// `get_worker_payload`: `GET worker:<id>`.
    pub async fn worker_payload(&self, id: &str) -> Result<Option<String>> {
        Ok(self.client().get(self.keys.worker(id)).await?)
    }

    /// `worker_exists?`: `SISMEMBER workers <id>`.
    pub async fn worker_exists(&self, id: &str) -> Result<bool> {
        Ok(self.client().sismember(self.keys.workers(), id).await?)
    }

    /// `worker_start_time`: `GET worker:<id>:started`.
    pub async fn worker_started(&self, id: &str) -> Result<Option<String>> {
        Ok(self.client().get(self.keys.worker_started(id)).await?)
    }

    /// `all_heartbeats`: `HGETALL workers:heartbeat`.
    pub async fn heartbeats(&self) -> Result<HashMap<String, String>> {
        Ok(self.client().hgetall(self.keys.heartbeats()).await?)
    }

    /// `unregister_worker`'s pipeline: `SREM workers`, `DEL worker:<id>`,
    /// `DEL worker:<id>:started`, `HDEL workers:heartbeat`, `DEL stat:processed:<id>`,
    /// `DEL stat:failed:<id>`; and ours, which Ruby never reads: `HDEL resque-rs:leases`.
    /// (Failing or taking back the in-flight job comes first: resque-failure's
    /// `Backend::unregister_worker`.)
    pub async fn unregister_worker(&self, id: &str) -> Result<()> {
        let k = &self.keys;
        let p = self.client().pipeline();
        let () = p.srem(k.workers(), id).await?;
        let () = p.del(k.worker(id)).await?;
        let () = p.del(k.worker_started(id)).await?;
        let () = p.hdel(k.heartbeats(), id).await?;
        let () = p.del(k.stat_processed_for(id)).await?;
        let () = p.del(k.stat_failed_for(id)).await?;
        let () = p.hdel(k.leases(), id).await?;
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `remove_heartbeat`: `HDEL workers:heartbeat <id>` (first thing at start-up); with it,
    /// ours: `DEL resque-rs:reaped:<id>`, the mark an earlier worker under the same id (a
    /// reused pid) may have left.
    pub async fn remove_heartbeat(&self, id: &str) -> Result<()> {
        let p = self.client().pipeline();
        let () = p.hdel(self.keys.heartbeats(), id).await?;
        let () = p.del(self.keys.reaped(id)).await?;
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `heartbeat!`: Redis `TIME`, then `HSET workers:heartbeat <id> <time in tz>` with
    /// `SISMEMBER workers <id>` in the same round trip (ours: a worker whose registration
    /// vanished, say Redis restarted empty, registers again). With `lease`, also renews this
    /// worker's field in `resque-rs:leases` to the server time plus `lease` (in the same
    /// round trip), by which it must beat again or count as dead to the periodic reaper.
    /// Returns the server time in seconds and whether `id` is registered.
    pub async fn heartbeat(
        &self,
        id: &str,
        tz: &jiff::tz::TimeZone,
        lease: Option<std::time::Duration>,
    ) -> Result<(i64, bool)> {
        let (secs, micros) = self.server_time().await?;
        let value = resque_protocol::time::heartbeat(secs, tz).unwrap_or_default();
        let p = self.client().pipeline();
        let () = p.hset(self.keys.heartbeats(), (id, value)).await?;
        if let Some(lease) = lease {
            let deadline = secs
                .saturating_mul(1000)
                .saturating_add(micros / 1000)
                .saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2));
            let () = p.hset(self.keys.leases(), (id, deadline)).await?;
        }
        let () = p.sismember(self.keys.workers(), id).await?;
        let mut replies: Vec<RedisValue> = p.all().await?;
        let registered = replies.pop().and_then(|v| v.as_bool()).unwrap_or(false);
        Ok((secs, registered))
    }

    /// `HGETALL resque-rs:leases`: each resque-rs worker's deadline (Redis time in
    /// milliseconds) to beat again by; fields that are not numbers are left out.
    pub async fn leases(&self) -> Result<HashMap<String, i64>> {
        let all: HashMap<String, String> = self.client().hgetall(self.keys.leases()).await?;
        Ok(all
            .into_iter()
            .filter_map(|(id, d)| Some((id, d.trim().parse().ok()?)))
            .collect())
    }

    /// `HDEL resque-rs:leases <id>`: forgets a lease whose worker is gone already.
    pub async fn forget_lease(&self, id: &str) -> Result<()> {
        let () = self.client().hdel(self.keys.leases(), id).await?;
        Ok(())
    }

    /// `acquire_pruning_dead_worker_lock`: `SET pruning_dead_workers_in_progress <id> NX`
    /// with an expiry of `expiry` (Ruby's `EX <secs>` when it is whole seconds, else `PX`:
    /// the periodic reaper's half-second passes in a test with a one-second heartbeat);
    /// whether this worker got it.
    pub async fn acquire_pruning_lock(
        &self,
        id: &str,
        expiry: std::time::Duration,
    ) -> Result<bool> {
        let expiration = if expiry.subsec_millis() == 0 && expiry.as_secs() > 0 {
            fred::types::Expiration::EX(i64::try_from(expiry.as_secs()).unwrap_or(i64::MAX))
        } else {
            fred::types::Expiration::PX(i64::try_from(expiry.as_millis()).unwrap_or(1).max(1))
        };
        let set: Option<String> = self
            .client()
            .set(
                self.keys.pruning_lock(),
                id,
                Some(expiration),
                Some(fred::types::SetOptions::NX),
                false,
            )
            .await?;
        Ok(set.is_some())
    }

    /// `register_worker`: `SADD workers <id>` and `SET worker:<id>:started <started>` in one
    /// pipeline.
    pub async fn register_worker(&self, id: &str, started: &str) -> Result<()> {
        let p = self.client().pipeline();
        let () = p.sadd(self.keys.workers(), id).await?;
        let () = p
            .set(self.keys.worker_started(id), started, None, None, false)
            .await?;
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `working_on`: `SET worker:<id> <payload>`.
    pub async fn set_working_on(&self, id: &str, working_on: &str) -> Result<()> {
        let () = self
            .client()
            .set(self.keys.worker(id), working_on, None, None, false)
            .await?;
        Ok(())
    }

    /// One worker's registry entries in one pipeline: `GET worker:<id>:started`,
    /// `HGET workers:heartbeat <id>`, `GET stat:processed:<id>`, `GET stat:failed:<id>`,
    /// `GET worker:<id>`, `SISMEMBER workers <id>` (for the web UI's worker page).
    pub async fn worker_details(&self, id: &str) -> Result<WorkerDetails> {
        let k = &self.keys;
        let p = self.client().pipeline();
        let () = p.get(k.worker_started(id)).await?;
        let () = p.hget(k.heartbeats(), id).await?;
        let () = p.get(k.stat_processed_for(id)).await?;
        let () = p.get(k.stat_failed_for(id)).await?;
        let () = p.get(k.worker(id)).await?;
        let () = p.sismember(k.workers(), id).await?;
        let mut replies = p.all::<Vec<RedisValue>>().await?;
        let registered = replies.pop().and_then(|v| v.as_u64()) == Some(1);
        let mut r = replies.into_iter();
        let mut next = || r.next().and_then(value_to_string);
        let started = next();
        let heartbeat = next();
        let processed = resque_protocol::parse_stat(next().as_deref());
        let failed = resque_protocol::parse_stat(next().as_deref());
        let payload = next().filter(|s| !s.is_empty());
        Ok(WorkerDetails {
            registered,
            started,
            heartbeat,
            processed,
            failed,
            payload,
        })
    }
}

/// One worker's registry entries (see [`Store::worker_details`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerDetails {
    /// Whether the id is in `workers`.
    pub registered: bool,
    /// `worker:<id>:started`.
    pub started: Option<String>,
    /// Its `workers:heartbeat` field.
    pub heartbeat: Option<String>,
    /// `stat:processed:<id>`.
    pub processed: i64,
    /// `stat:failed:<id>`.
    pub failed: i64,
    /// `worker:<id>` (what it is working on), if not idle.
    pub payload: Option<String>,
}
