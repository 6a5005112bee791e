//! [`Store`]: Resque's data operations on Redis, one method per `Resque::DataStore` call,
//! each sending what Ruby sends (same commands, same pipelines).

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value as RedisValue};
use resque_protocol::{Failure, Keys, Payload, json};

use crate::{Connection, Error, Result};

/// How a [`Store`] connects.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Keep reconnecting in the background when the connection drops (long-running
    /// processes: workers and resque-web). The first connection still fails at once.
    pub reconnect: bool,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one command before it fails.
    pub command_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            reconnect: true,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
        }
    }
}

/// Most items one RPUSH carries in a batch; a larger batch is several RPUSHes in the same
/// pipeline, so Redis never sees one huge command.
const MAX_ITEMS_PER_RPUSH: usize = 1000;

/// A connection to Redis with Resque's key schema.
///
/// Cheap to clone (clones share the connection). Must be created and used inside a tokio
/// runtime; for synchronous code see [`crate::blocking`].
#[derive(Clone)]
pub struct Store {
    client: fred::clients::Client,
    keys: Keys,
    redis_id: String,
    /// SHA1 of each script this store has loaded (`SCRIPT LOAD`), shared by clones.
    scripts: std::sync::Arc<std::sync::Mutex<HashMap<&'static str, RedisValue>>>,
    /// The arguments of [`Store::finish_and_reserve`] that stay the same from one call to
    /// the next, ready-made.
    reserve_args: std::sync::Arc<std::sync::Mutex<ReserveArgs>>,
}

/// One worker's keys and queues as [`Store::finish_and_reserve`] sends them. Built afresh
/// they were two dozen allocations a job; in a forking worker every heap page those touch
/// is a copy-on-write fault in the parent after each fork. Cloning a ready-made value
/// only bumps a reference count.
#[derive(Default)]
struct ReserveArgs {
    id: String,
    queues: Vec<(String, String)>,
    /// `worker:<id>`, `stat:processed`, `stat:processed:<id>`, `stat:failed`,
    /// `stat:failed:<id>`, `failed`, `pause-all-workers`: KEYS[1..=7].
    keys: Vec<RedisValue>,
    /// `queue:<name>` for each queue: KEYS[8..].
    queue_keys: Vec<RedisValue>,
    /// Each queue's name as JSON: ARGV[5..].
    queue_json: Vec<RedisValue>,
}

impl ReserveArgs {
    /// Makes these the arguments for worker `id` and `queues`, unless they already are.
    fn prepare(&mut self, k: &Keys, id: &str, queues: &[(String, String)]) {
        if self.id == id
            && self.keys.len() == 7
            && self.queues == queues
            && self.queue_keys.len() == queues.len()
            && self.queue_json.len() == queues.len()
        {
            return;
        }
        self.id = id.to_owned();
        self.keys = vec![
            k.worker(id).into(),
            k.stat_processed().into(),
            k.stat_processed_for(id).into(),
            k.stat_failed().into(),
            k.stat_failed_for(id).into(),
            k.failed().into(),
            k.pause_all_workers().into(),
        ];
        self.queues = queues.to_vec();
        self.queue_keys = queues.iter().map(|(q, _)| k.queue(q).into()).collect();
        self.queue_json = queues.iter().map(|(_, j)| j.as_str().into()).collect();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("redis", &self.redis_id)
            .field("namespace", &self.keys.namespace())
            .finish()
    }
}

impl Store {
    /// Connects to the server a connection string names, under `namespace` (or the
    /// string's own namespace, or `resque`).
    pub async fn connect(connection: &Connection, namespace: Option<&str>) -> Result<Self> {
        Self::connect_with(connection, namespace, &ConnectOptions::default()).await
    }

    /// [`Store::connect`] with explicit options.
    pub async fn connect_with(
        connection: &Connection,
        namespace: Option<&str>,
        options: &ConnectOptions,
    ) -> Result<Self> {
        let ns = namespace
            .or(connection.namespace())
            .unwrap_or(resque_protocol::DEFAULT_NAMESPACE);
        let keys = Keys::new(ns)?;
        let mut builder = Builder::from_config(connection.config.clone());
        builder.with_connection_config(|c| {
            c.connection_timeout = options.connect_timeout;
            c.internal_command_timeout = options.connect_timeout;
        });
        builder.with_performance_config(|p| {
            p.default_command_timeout = options.command_timeout;
        });
        if options.reconnect {
            builder.set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        }
        let connect_err = |source| Error::Connect {
            redis: connection.redis_id().to_owned(),
            source,
        };
        let client = builder.build().map_err(connect_err)?;
        client.init().await.map_err(connect_err)?;
        Ok(Self {
            client,
            keys,
            redis_id: connection.redis_id().to_owned(),
            scripts: std::sync::Arc::default(),
            reserve_args: std::sync::Arc::default(),
        })
    }

    /// The key names in use.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The server's printable identity (`Resque.redis_id`).
    pub fn redis_id(&self) -> &str {
        &self.redis_id
    }

    /// Closes the connection (sends QUIT).
    pub async fn close(&self) -> Result<()> {
        self.client.quit().await?;
        Ok(())
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<()> {
        let _: String = self.client.ping(None).await?;
        Ok(())
    }

    // ---- queues -----------------------------------------------------------------------

    /// `push_to_queue`: `SADD queues <q>` and `RPUSH queue:<q> <item>` in one round trip.
    pub async fn push(&self, queue: &str, encoded: &str) -> Result<()> {
        let p = self.client.pipeline();
        let () = p.sadd(self.keys.queues(), queue).await?;
        let () = p.rpush(self.keys.queue(queue), encoded).await?;
        let _: (i64, i64) = p.all().await?;
        Ok(())
    }

    /// Pushes many items, possibly to several queues, in one round trip: one `SADD queues`
    /// of every queue named, then `RPUSH`es that keep each queue's items in order.
    pub async fn push_many<Q: AsRef<str>, S: AsRef<str>>(&self, items: &[(Q, S)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        // Group by queue, keeping the first-seen order of queues and the order within each.
        let mut order: Vec<&str> = Vec::new();
        let mut by_queue: HashMap<&str, Vec<&str>> = HashMap::new();
        for (q, s) in items {
            let q = q.as_ref();
            by_queue
                .entry(q)
                .or_insert_with(|| {
                    order.push(q);
                    Vec::new()
                })
                .push(s.as_ref());
        }
        let p = self.client.pipeline();
        let () = p.sadd(self.keys.queues(), order.clone()).await?;
        for q in &order {
            let key = self.keys.queue(q);
            for chunk in by_queue[q].chunks(MAX_ITEMS_PER_RPUSH) {
                let () = p.rpush(key.as_str(), chunk.to_vec()).await?;
            }
        }
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `pop_from_queue`: `LPOP queue:<q>`.
    pub async fn pop(&self, queue: &str) -> Result<Option<String>> {
        Ok(self.client.lpop(self.keys.queue(queue), None).await?)
    }

    /// Puts an item back at the head of a queue (used to undo a pop of an item that could
    /// not be decoded, so nothing is lost).
    pub async fn push_front(&self, queue: &str, raw: &str) -> Result<()> {
        let () = self.client.lpush(self.keys.queue(queue), raw).await?;
        Ok(())
    }

    /// `queue_size`: `LLEN queue:<q>`.
    pub async fn size(&self, queue: &str) -> Result<u64> {
        Ok(self.client.llen(self.keys.queue(queue)).await?)
    }

    /// `peek_in_queue` on a queue (see [`Store::list_range`]).
    pub async fn peek(&self, queue: &str, start: i64, count: i64) -> Result<Vec<String>> {
        self.list_range(&self.keys.queue(queue), start, count).await
    }

    /// `list_range` on any full key: `LINDEX` when `count == 1` (as Ruby), else
    /// `LRANGE start start+count-1`. Items that are not UTF-8 are shown lossily.
    pub async fn list_range(&self, key: &str, start: i64, count: i64) -> Result<Vec<String>> {
        if count <= 0 {
            return Ok(Vec::new());
        }
        if count == 1 {
            let v: RedisValue = self.client.lindex(key, start).await?;
            return Ok(value_to_string(v).into_iter().collect());
        }
        let vs: Vec<RedisValue> = self.client.lrange(key, start, start + count - 1).await?;
        Ok(vs.into_iter().filter_map(value_to_string).collect())
    }

    /// `queue_names`: `SMEMBERS queues`, sorted (Redis returns them in no order).
    pub async fn queue_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.client.smembers(self.keys.queues()).await?;
        names.sort();
        Ok(names)
    }

    /// `Resque.queue_sizes`: `LLEN` of every queue, pipelined.
    pub async fn queue_sizes(&self) -> Result<Vec<(String, u64)>> {
        let names = self.queue_names().await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client.pipeline();
        for n in &names {
            let () = p.llen(self.keys.queue(n)).await?;
        }
        let sizes: Vec<u64> = p.all().await?;
        Ok(names.into_iter().zip(sizes).collect())
    }

    /// `remove_queue`: `SREM queues <q>` and `DEL queue:<q>` in one pipeline. Returns
    /// `(removed from the set, keys deleted)` as Ruby's pipeline does.
    pub async fn remove_queue(&self, queue: &str) -> Result<(u64, u64)> {
        let p = self.client.pipeline();
        let () = p.srem(self.keys.queues(), queue).await?;
        let () = p.del(self.keys.queue(queue)).await?;
        Ok(p.all().await?)
    }

    /// `watch_queue`: `SADD queues <q>`.
    pub async fn watch_queue(&self, queue: &str) -> Result<()> {
        let () = self.client.sadd(self.keys.queues(), queue).await?;
        Ok(())
    }

    /// `everything_in_queue`: `LRANGE queue:<q> 0 -1`, as exact bytes.
    pub async fn everything_in_queue(&self, queue: &str) -> Result<Vec<Vec<u8>>> {
        let vs: Vec<RedisValue> = self.client.lrange(self.keys.queue(queue), 0, -1).await?;
        Ok(vs.into_iter().filter_map(value_to_bytes).collect())
    }

    /// `remove_from_queue`: `LREM queue:<q> 0 <exact bytes>`; returns how many went.
    pub async fn remove_from_queue(&self, queue: &str, item: &[u8]) -> Result<u64> {
        Ok(self
            .client
            .lrem(
                self.keys.queue(queue),
                0,
                RedisValue::Bytes(item.to_vec().into()),
            )
            .await?)
    }

    // ---- workers ------------------------------------------------------------------------

    /// `worker_ids`: `SMEMBERS workers`, sorted.
    pub async fn worker_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.client.smembers(self.keys.workers()).await?;
        ids.sort();
        Ok(ids)
    }

    /// `workers_map`: `MGET worker:<id>...` for the given ids (`None` when idle).
    pub async fn worker_payloads(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.keys.worker(id)).collect();
        let vs: Vec<RedisValue> = self.client.mget(keys).await?;
        Ok(vs.into_iter().map(value_to_string).collect())
    }

    /// `get_worker_payload`: `GET worker:<id>`.
    pub async fn worker_payload(&self, id: &str) -> Result<Option<String>> {
        Ok(self.client.get(self.keys.worker(id)).await?)
    }

    /// `worker_exists?`: `SISMEMBER workers <id>`.
    pub async fn worker_exists(&self, id: &str) -> Result<bool> {
        Ok(self.client.sismember(self.keys.workers(), id).await?)
    }

    /// `worker_start_time`: `GET worker:<id>:started`.
    pub async fn worker_started(&self, id: &str) -> Result<Option<String>> {
        Ok(self.client.get(self.keys.worker_started(id)).await?)
    }

    /// `all_heartbeats`: `HGETALL workers:heartbeat`.
    pub async fn heartbeats(&self) -> Result<HashMap<String, String>> {
        Ok(self.client.hgetall(self.keys.heartbeats()).await?)
    }

    /// `unregister_worker`'s pipeline: `SREM workers`, `DEL worker:<id>`,
    /// `DEL worker:<id>:started`, `HDEL workers:heartbeat`, `DEL stat:processed:<id>`,
    /// `DEL stat:failed:<id>`. (Failing the in-flight job comes first; see
    /// [`crate::Client::remove_worker`].)
    pub async fn unregister_worker(&self, id: &str) -> Result<()> {
        let k = &self.keys;
        let p = self.client.pipeline();
        let () = p.srem(k.workers(), id).await?;
        let () = p.del(k.worker(id)).await?;
        let () = p.del(k.worker_started(id)).await?;
        let () = p.hdel(k.heartbeats(), id).await?;
        let () = p.del(k.stat_processed_for(id)).await?;
        let () = p.del(k.stat_failed_for(id)).await?;
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    // ---- the worker's own registry operations (Ruby's Worker / DataStore::Workers) --------

    /// `remove_heartbeat`: `HDEL workers:heartbeat <id>` (first thing at start-up).
    pub async fn remove_heartbeat(&self, id: &str) -> Result<()> {
        let () = self.client.hdel(self.keys.heartbeats(), id).await?;
        Ok(())
    }

    /// `heartbeat!`: Redis `TIME`, then `HSET workers:heartbeat <id> <time in tz>`. Returns
    /// the server time in seconds.
    pub async fn heartbeat(&self, id: &str, tz: &jiff::tz::TimeZone) -> Result<i64> {
        let (secs, _) = self.server_time().await?;
        let value = resque_protocol::time::heartbeat(secs, tz).unwrap_or_default();
        let () = self
            .client
            .hset(self.keys.heartbeats(), (id, value))
            .await?;
        Ok(secs)
    }

    /// `acquire_pruning_dead_worker_lock`: `SET pruning_dead_workers_in_progress <id> EX
    /// <secs> NX`; whether this worker got it.
    pub async fn acquire_pruning_lock(&self, id: &str, expiry_secs: i64) -> Result<bool> {
        let set: Option<String> = self
            .client
            .set(
                self.keys.pruning_lock(),
                id,
                Some(fred::types::Expiration::EX(expiry_secs)),
                Some(fred::types::SetOptions::NX),
                false,
            )
            .await?;
        Ok(set.is_some())
    }

    /// `register_worker`: `SADD workers <id>` and `SET worker:<id>:started <started>` in one
    /// pipeline.
    pub async fn register_worker(&self, id: &str, started: &str) -> Result<()> {
        let p = self.client.pipeline();
        let () = p.sadd(self.keys.workers(), id).await?;
        let () = p
            .set(self.keys.worker_started(id), started, None, None, false)
            .await?;
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `paused?` from Redis: `GET pause-all-workers`, paused when the value, stripped and
    /// lower-cased, is `true`.
    pub async fn pause_all_requested(&self) -> Result<bool> {
        let v: Option<String> = self.client.get(self.keys.pause_all_workers()).await?;
        Ok(v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
    }

    /// `reserve`: `LPOP` each queue in order until one returns a job, one command at a time
    /// as Ruby does (a pipelined LPOP would take a job from every queue).
    pub async fn pop_first(&self, queues: &[String]) -> Result<Option<(String, String)>> {
        for q in queues {
            if let Some(raw) = self.pop(q).await? {
                return Ok(Some((q.clone(), raw)));
            }
        }
        Ok(None)
    }

    /// `working_on`: `SET worker:<id> <payload>`.
    pub async fn set_working_on(&self, id: &str, working_on: &str) -> Result<()> {
        let () = self
            .client
            .set(self.keys.worker(id), working_on, None, None, false)
            .await?;
        Ok(())
    }

    /// The bookkeeping after a job, in one pipeline: for a failed job, `RPUSH` the record
    /// to `failure_list` and `INCRBY stat:failed` / `stat:failed:<id>` (Ruby does these in
    /// the child); then Ruby's `done_working`: `DEL worker:<id>`, `INCRBY stat:processed 1`,
    /// `INCRBY stat:processed:<id> 1`; then the next iteration's `GET pause-all-workers`,
    /// whose answer (paused?) is returned. The end state is what Ruby's worker leaves.
    /// `record` is written only for the Redis backend; other backends save their record
    /// first and pass `None`. `count_failed` is Ruby's `report_failed_job` (failures raised
    /// inside `perform`; not dirty exits).
    pub async fn job_done(
        &self,
        id: &str,
        record: Option<(&str, &Failure)>,
        count_failed: bool,
    ) -> Result<bool> {
        let k = &self.keys;
        let p = self.client.pipeline();
        if let Some((list, record)) = record {
            let () = p.rpush(k.failure_list(list), record.encode()?).await?;
        }
        if count_failed {
            let () = p.incr_by(k.stat_failed(), 1).await?;
            let () = p.incr_by(k.stat_failed_for(id), 1).await?;
        }
        let () = p.del(k.worker(id)).await?;
        let () = p.incr_by(k.stat_processed(), 1).await?;
        let () = p.incr_by(k.stat_processed_for(id), 1).await?;
        // The next loop iteration's first command, sent in the same round trip.
        let () = p.get(k.pause_all_workers()).await?;
        let mut replies: Vec<RedisValue> = p.all().await?;
        let pause = replies.pop().and_then(value_to_string);
        Ok(pause.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
    }

    /// [`Store::job_done`] for the last job (if any), then the next iteration's
    /// `GET pause-all-workers`, `LPOP` of each queue in order and `SET worker:<id>`, as one
    /// script: one round trip per job where the separate commands take three.
    ///
    /// Redis runs the same commands in the same order as Ruby's worker and leaves the same
    /// state; what changes is that nothing can come between them, so a job is never out
    /// of its queue without being under `worker:<id>`. `SET worker:<id>` is done here only
    /// when the item is a JSON object with a `class` (as Lua's cjson reads it), writing
    /// `{"queue":<queue_json>,"run_at":"<run_at>","payload":<item>}`: the caller checks
    /// that against its own encoding ([`Reserved::Job::registered`]) and sets it again if
    /// they differ (an item whose re-encoding is not byte-identical).
    ///
    /// `queues` are queue names with each one's JSON encoding. Returns
    /// [`Error::ScriptUnavailable`] when the server will not run the script at all (no
    /// `EVALSHA`, a proxy or ACL refusing it): nothing was done, and the caller uses the
    /// separate commands instead.
    pub async fn finish_and_reserve(
        &self,
        id: &str,
        finished: Option<Finished<'_>>,
        reserve: Option<(&[(String, String)], &str)>,
    ) -> Result<Reserved> {
        const SCRIPT: &str = include_str!("finish_and_reserve.lua");
        let k = &self.keys;
        let (record_list, record) = match finished.as_ref().and_then(|f| f.record) {
            Some((list, record)) => (Some(k.failure_list(list)), record.encode()?),
            None => (None, String::new()),
        };
        let done = match &finished {
            None => "",
            Some(f) if f.count_failed => "failed",
            Some(_) => "done",
        };
        let (queues, run_at) = reserve.unwrap_or((&[], ""));
        let record: RedisValue = record.into();
        let run_at: RedisValue = run_at.into();
        let argv = || {
            // A panic elsewhere while this was held leaves nothing `prepare` trusts.
            let mut c = self
                .reserve_args
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            c.prepare(k, id, queues);
            let mut argv = Vec::with_capacity(2 + 2 * c.keys.len() + 4 + 2 * queues.len());
            argv.push(RedisValue::Null); // the SHA1, filled in by run_script
            argv.push(
                i64::try_from(c.keys.len() + queues.len())
                    .unwrap_or(0)
                    .into(),
            );
            argv.extend(c.keys.iter().cloned());
            if let Some(list) = &record_list {
                // KEYS[6], after the SHA1 and the key count: a failure list other than
                // `failed` (the multi-queue backend's).
                argv[2 + 5] = list.as_str().into();
            }
            argv.extend(c.queue_keys.iter().cloned());
            argv.push(done.into());
            argv.push(record.clone());
            argv.push(if reserve.is_some() { "1" } else { "0" }.into());
            argv.push(run_at.clone());
            argv.extend(c.queue_json.iter().cloned());
            argv
        };

        let reply = self.run_script(SCRIPT, argv).await?;
        let mut it = match reply {
            RedisValue::Array(items) => items.into_iter(),
            other => {
                return Err(Error::ScriptUnavailable(format!(
                    "unexpected reply {other:?}"
                )));
            }
        };
        let tag = it.next().and_then(|v| v.as_i64()).unwrap_or(-1);
        let errors = it.next().and_then(value_to_string).unwrap_or_default();
        if !errors.is_empty() {
            // Like a pipeline's: the other commands took effect; nothing to send again.
            tracing::error!(worker = id, errors = %errors, "part of a job's bookkeeping was refused");
        }
        Ok(match tag {
            0 => Reserved::Empty,
            1 => Reserved::Paused,
            2 => Reserved::Failed(it.next().and_then(value_to_string).unwrap_or_default()),
            3 => {
                let index = it.next().and_then(|v| v.as_i64()).unwrap_or(0);
                let raw = it.next().and_then(value_to_string).unwrap_or_default();
                let registered = it.next().and_then(|v| v.as_i64()) == Some(1);
                let queue = usize::try_from(index - 1)
                    .ok()
                    .and_then(|i| queues.get(i))
                    .map(|(q, _)| q.clone())
                    .ok_or_else(|| {
                        Error::ScriptUnavailable(format!("reply names queue {index}"))
                    })?;
                Reserved::Job {
                    queue,
                    raw,
                    registered,
                }
            }
            _ => {
                return Err(Error::ScriptUnavailable(
                    "unexpected reply from the reserve script".to_owned(),
                ));
            }
        })
    }

    /// Runs a script by its SHA1 (`EVALSHA`), loading it first when the server does not
    /// have it (first use, `SCRIPT FLUSH`, a restart). A server that refuses scripts gives
    /// [`Error::ScriptUnavailable`]; an error raised while the script ran (its commands up
    /// to there took effect) stays [`Error::Redis`].
    ///
    /// `argv` makes `EVALSHA`'s arguments with a placeholder for the SHA1 first (made again
    /// for a second attempt rather than cloned for every first one).
    async fn run_script(
        &self,
        script: &'static str,
        argv: impl Fn() -> Vec<RedisValue>,
    ) -> Result<RedisValue> {
        for attempt in 0..2 {
            let sha = match self.script_sha(script, attempt > 0).await {
                Ok(sha) => sha,
                Err(Error::Redis(e)) if !is_io(&e) => {
                    return Err(Error::ScriptUnavailable(e.to_string()));
                }
                Err(e) => return Err(e),
            };
            let mut args = argv();
            args[0] = sha;
            match self
                .client
                .custom::<RedisValue, _>(
                    CustomCommand::new_static("EVALSHA", ClusterHash::FirstKey, false),
                    args,
                )
                .await
            {
                Ok(v) => return Ok(v),
                Err(e) if e.details().starts_with("NOSCRIPT") => continue,
                Err(e) if is_io(&e) || ran_in_script(&e) => return Err(e.into()),
                Err(e) => return Err(Error::ScriptUnavailable(e.to_string())),
            }
        }
        Err(Error::ScriptUnavailable(
            "the server forgets the script as soon as it is loaded".to_owned(),
        ))
    }

    /// The SHA1 `SCRIPT LOAD` gave for `script` (cached; `reload` asks again).
    async fn script_sha(&self, script: &'static str, reload: bool) -> Result<RedisValue> {
        let cached = self
            .scripts
            .lock()
            .ok()
            .and_then(|m| m.get(script).cloned());
        if let (Some(sha), false) = (cached, reload) {
            return Ok(sha);
        }
        let sha: String = self
            .client
            .custom(
                CustomCommand::new_static("SCRIPT", ClusterHash::FirstKey, false),
                vec!["LOAD", script],
            )
            .await?;
        let sha = RedisValue::from(sha);
        if let Ok(mut m) = self.scripts.lock() {
            m.insert(script, sha.clone());
        }
        Ok(sha)
    }

    // ---- stats --------------------------------------------------------------------------

    /// `Stat[name]`: `GET stat:<name>`, read like Ruby's `to_i`.
    pub async fn stat(&self, name: &str) -> Result<i64> {
        let v: Option<String> = self.client.get(self.keys.stat(name)).await?;
        Ok(resque_protocol::parse_stat(v.as_deref()))
    }

    /// `Stat.incr`: `INCRBY stat:<name> by`.
    pub async fn incr_stat(&self, name: &str, by: i64) -> Result<i64> {
        Ok(self.client.incr_by(self.keys.stat(name), by).await?)
    }

    /// `Stat.decr`: `DECRBY stat:<name> by`.
    pub async fn decr_stat(&self, name: &str, by: i64) -> Result<i64> {
        Ok(self.client.decr_by(self.keys.stat(name), by).await?)
    }

    /// `Stat.clear`: `DEL stat:<name>`.
    pub async fn clear_stat(&self, name: &str) -> Result<()> {
        let () = self.client.del(self.keys.stat(name)).await?;
        Ok(())
    }

    // ---- failures (the default Redis backend's list) --------------------------------------

    /// `num_failed`: `LLEN failed`.
    pub async fn failed_count(&self) -> Result<u64> {
        Ok(self.client.llen(self.keys.failed()).await?)
    }

    /// `push_to_failed_queue`: `RPUSH <list> <record>` (`failed` for the Redis backend).
    pub async fn push_failure(&self, list_name: &str, record: &Failure) -> Result<()> {
        let encoded = record.encode()?;
        let () = self
            .client
            .rpush(self.keys.failure_list(list_name), encoded)
            .await?;
        Ok(())
    }

    // ---- generic lists and sets (full key names from `Keys`) -----------------------------

    /// `LLEN key`.
    pub async fn list_len(&self, key: &str) -> Result<u64> {
        Ok(self.client.llen(key).await?)
    }

    /// `LRANGE key start stop`, items as exact bytes.
    pub async fn list_range_raw(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Vec<u8>>> {
        let vs: Vec<RedisValue> = self.client.lrange(key, start, stop).await?;
        Ok(vs.into_iter().filter_map(value_to_bytes).collect())
    }

    /// `LINDEX key index`, as exact bytes.
    pub async fn list_index(&self, key: &str, index: i64) -> Result<Option<Vec<u8>>> {
        let v: RedisValue = self.client.lindex(key, index).await?;
        Ok(value_to_bytes(v))
    }

    /// Replaces the item at `index` with `new`, but only if it still is `expected`, in one
    /// atomic step. Returns whether it was replaced.
    ///
    /// Ruby does `LINDEX` then `LSET`; if another client removed an earlier item in
    /// between, Ruby overwrites the wrong record. Checking the bytes inside one script
    /// closes that gap, and what any reader sees is exactly what Ruby's `LSET` leaves.
    pub async fn list_replace_if(
        &self,
        key: &str,
        index: i64,
        expected: &[u8],
        new: &[u8],
    ) -> Result<bool> {
        const SCRIPT: &str = "if redis.call('LINDEX', KEYS[1], ARGV[1]) == ARGV[2] then \
             redis.call('LSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0";
        let n: i64 = self
            .eval(
                SCRIPT,
                key,
                vec![
                    index.to_string().into_bytes(),
                    expected.to_vec(),
                    new.to_vec(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Removes the item at `index` if it still is `expected`, atomically. Returns whether
    /// it was removed.
    ///
    /// Ruby removes by index with `LSET i ""` then `LREM 1 ""`, two commands: a concurrent
    /// reader can see the `""` sentinel, and if the list shifted, the wrong record goes.
    /// Doing both inside one script (after checking the bytes) means no reader ever sees
    /// the sentinel and no neighbour is ever deleted; the end state is Ruby's.
    pub async fn list_remove_if(&self, key: &str, index: i64, expected: &[u8]) -> Result<bool> {
        const SCRIPT: &str = "if redis.call('LINDEX', KEYS[1], ARGV[1]) == ARGV[2] then \
             redis.call('LSET', KEYS[1], ARGV[1], '') redis.call('LREM', KEYS[1], 1, '') return 1 end return 0";
        let n: i64 = self
            .eval(
                SCRIPT,
                key,
                vec![index.to_string().into_bytes(), expected.to_vec()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn eval(&self, script: &str, key: &str, args: Vec<Vec<u8>>) -> Result<i64> {
        let mut argv: Vec<RedisValue> = vec![script.into(), 1.into(), key.into()];
        argv.extend(args.into_iter().map(|a| RedisValue::Bytes(a.into())));
        Ok(self
            .client
            .custom(
                CustomCommand::new_static("EVAL", ClusterHash::FirstKey, false),
                argv,
            )
            .await?)
    }

    /// Items of `key` in `start..=stop` that contain every `needles` entry (byte for byte)
    /// and every `ci_needles` entry (ASCII case-insensitive; pass them lower-cased), with
    /// their indices, oldest first.
    ///
    /// The scan runs inside Redis (a short Lua script per call), so only candidates cross
    /// the network: reading a 100,000-record list to the client costs far more than
    /// searching it in place. Keep `stop - start` to a few thousand items per call, since a
    /// script holds Redis for its duration.
    pub async fn list_scan_matching(
        &self,
        key: &str,
        start: i64,
        stop: i64,
        needles: &[Vec<u8>],
        ci_needles: &[Vec<u8>],
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        const SCRIPT: &str = "local items = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2]) \
             local n = tonumber(ARGV[3]) local out = {} \
             for i, v in ipairs(items) do local ok = true \
               for j = 4, 3 + n do if not string.find(v, ARGV[j], 1, true) then ok = false break end end \
               if ok and #ARGV > 3 + n then local lv = string.lower(v) \
                 for j = 4 + n, #ARGV do if not string.find(lv, ARGV[j], 1, true) then ok = false break end end end \
               if ok then out[#out + 1] = ARGV[1] + i - 1 out[#out + 1] = v end \
             end return out";
        let mut argv: Vec<RedisValue> = vec![
            SCRIPT.into(),
            1.into(),
            key.into(),
            start.into(),
            stop.into(),
            i64::try_from(needles.len()).unwrap_or(0).into(),
        ];
        argv.extend(
            needles
                .iter()
                .chain(ci_needles)
                .map(|n| RedisValue::Bytes(n.clone().into())),
        );
        let flat: Vec<RedisValue> = self
            .client
            .custom(
                CustomCommand::new_static("EVAL", ClusterHash::FirstKey, false),
                argv,
            )
            .await?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(i), Some(v)) = (it.next(), it.next()) {
            if let (Some(i), Some(v)) = (i.as_i64(), value_to_bytes(v)) {
                out.push((i, v));
            }
        }
        Ok(out)
    }

    /// `LINDEX` of several indices in one round trip.
    pub async fn list_indices(&self, key: &str, indices: &[i64]) -> Result<Vec<Option<Vec<u8>>>> {
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client.pipeline();
        for i in indices {
            let () = p.lindex(key, *i).await?;
        }
        let vs: Vec<RedisValue> = p.all().await?;
        Ok(vs.into_iter().map(value_to_bytes).collect())
    }

    /// `GET key` as exact bytes.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let v: RedisValue = self.client.get(key).await?;
        Ok(value_to_bytes(v))
    }

    /// `SET key bytes`.
    pub async fn set_bytes(&self, key: &str, value: &[u8]) -> Result<()> {
        let () = self
            .client
            .set(
                key,
                RedisValue::Bytes(value.to_vec().into()),
                None,
                None,
                false,
            )
            .await?;
        Ok(())
    }

    /// `DEL key`.
    pub async fn delete(&self, key: &str) -> Result<u64> {
        Ok(self.client.del(key).await?)
    }

    /// `SMEMBERS key`, sorted.
    pub async fn set_members(&self, key: &str) -> Result<Vec<String>> {
        let mut m: Vec<String> = self.client.smembers(key).await?;
        m.sort();
        Ok(m)
    }

    /// `SADD key member`.
    pub async fn set_add(&self, key: &str, member: &str) -> Result<()> {
        let () = self.client.sadd(key, member).await?;
        Ok(())
    }

    /// `RPUSH key v1 v2...` in chunks, all in one round trip (seeding, bulk copies).
    pub async fn list_push_many<S: AsRef<str>>(&self, key: &str, values: &[S]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let p = self.client.pipeline();
        for chunk in values.chunks(MAX_ITEMS_PER_RPUSH) {
            let items: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
            let () = p.rpush(key, items).await?;
        }
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `RPUSH key value`.
    pub async fn list_push(&self, key: &str, value: &str) -> Result<()> {
        let () = self.client.rpush(key, value).await?;
        Ok(())
    }

    // ---- server ---------------------------------------------------------------------------

    /// Every key under the namespace, without the namespace (`Resque.keys`). Uses `SCAN`,
    /// not Ruby's `KEYS *`, so a large keyspace does not block Redis.
    pub async fn all_keys(&self) -> Result<Vec<String>> {
        let pattern = self.keys.scan_pattern();
        let mut cursor = "0".to_owned();
        let mut out = Vec::new();
        loop {
            let (next, batch): (String, Vec<String>) = self
                .client
                .custom(
                    CustomCommand::new_static("SCAN", ClusterHash::Random, false),
                    vec![cursor.as_str(), "MATCH", pattern.as_str(), "COUNT", "1000"],
                )
                .await?;
            out.extend(
                batch
                    .iter()
                    .filter_map(|k| self.keys.strip(k).map(str::to_owned)),
            );
            if next == "0" {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// One worker's registry entries in one pipeline: `GET worker:<id>:started`,
    /// `HGET workers:heartbeat <id>`, `GET stat:processed:<id>`, `GET stat:failed:<id>`,
    /// `GET worker:<id>`, `SISMEMBER workers <id>` (for the web UI's worker page).
    pub async fn worker_details(&self, id: &str) -> Result<WorkerDetails> {
        let k = &self.keys;
        let p = self.client.pipeline();
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

    /// Type and size of keys under the namespace (names without it), two pipelined round
    /// trips however many keys: `TYPE` each, then `STRLEN` / `LLEN` / `SCARD` / `ZCARD` /
    /// `HLEN` / `XLEN` by type.
    pub async fn key_summaries(&self, keys: &[String]) -> Result<Vec<(KeyType, u64)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client.pipeline();
        for key in keys {
            let () = p.r#type(self.keys.key(key)).await?;
        }
        let types: Vec<KeyType> = p
            .all::<Vec<RedisValue>>()
            .await?
            .into_iter()
            .map(|v| KeyType::parse(value_to_string(v).as_deref().unwrap_or("none")))
            .collect();
        let p = self.client.pipeline();
        for (key, kind) in keys.iter().zip(&types) {
            let full = self.keys.key(key);
            match kind.size_command() {
                Some(cmd) => {
                    let () = p
                        .custom(
                            CustomCommand::new_static(cmd, ClusterHash::FirstKey, false),
                            vec![full],
                        )
                        .await?;
                }
                // Keep positions aligned: an unknown type's size is reported as 0.
                None => {
                    let () = p.exists(full).await?;
                }
            }
        }
        let sizes = p.all::<Vec<RedisValue>>().await?;
        Ok(types
            .into_iter()
            .zip(sizes)
            .map(|(t, n)| {
                let n = if t.size_command().is_some() {
                    n.as_u64().unwrap_or(0)
                } else {
                    0
                };
                (t, n)
            })
            .collect())
    }

    /// One page of a key's value for the key viewer: a string whole (up to `max_string`
    /// bytes), or items `start..start+count` of a list, set, sorted set (with scores) or
    /// hash (`field`, `value`). Sets and hashes are walked with `SSCAN` / `HSCAN`, so
    /// memory stays bounded by the page however large the key.
    pub async fn key_page(
        &self,
        key: &str,
        start: u64,
        count: u64,
        max_string: u64,
    ) -> Result<KeyPage> {
        let full = self.keys.key(key);
        let kind = KeyType::parse(&{
            let t: String = self.client.r#type(&full).await?;
            t
        });
        let size = match kind.size_command() {
            Some(cmd) => {
                let n: RedisValue = self
                    .client
                    .custom(
                        CustomCommand::new_static(cmd, ClusterHash::FirstKey, false),
                        vec![full.clone()],
                    )
                    .await?;
                n.as_u64().unwrap_or(0)
            }
            None => 0,
        };
        let (s, e) = (to_i64(start), to_i64(start.saturating_add(count)) - 1);
        let items: Vec<(String, Option<String>)> = match kind {
            KeyType::String => {
                let v: RedisValue = self
                    .client
                    .custom(
                        CustomCommand::new_static("GETRANGE", ClusterHash::FirstKey, false),
                        vec![
                            full.clone(),
                            "0".to_owned(),
                            (to_i64(max_string) - 1).to_string(),
                        ],
                    )
                    .await?;
                vec![(value_to_string(v).unwrap_or_default(), None)]
            }
            KeyType::List => {
                let vs: Vec<RedisValue> = self.client.lrange(&full, s, e).await?;
                vs.into_iter()
                    .map(|v| (value_to_string(v).unwrap_or_default(), None))
                    .collect()
            }
            KeyType::ZSet => {
                let vs: Vec<RedisValue> = self
                    .client
                    .custom(
                        CustomCommand::new_static("ZRANGE", ClusterHash::FirstKey, false),
                        vec![
                            full.clone(),
                            s.to_string(),
                            e.to_string(),
                            "WITHSCORES".to_owned(),
                        ],
                    )
                    .await?;
                pairs(vs)
            }
            KeyType::Set | KeyType::Hash => {
                let cmd = if kind == KeyType::Set {
                    "SSCAN"
                } else {
                    "HSCAN"
                };
                self.scan_key(cmd, &full, kind == KeyType::Hash, start, count)
                    .await?
            }
            KeyType::Stream | KeyType::None | KeyType::Other(_) => Vec::new(),
        };
        Ok(KeyPage { kind, size, items })
    }

    /// Items `start..start+count` of a set (`SSCAN`) or hash (`HSCAN`), in scan order.
    async fn scan_key(
        &self,
        cmd: &'static str,
        full: &str,
        hash: bool,
        start: u64,
        count: u64,
    ) -> Result<Vec<(String, Option<String>)>> {
        let mut cursor = "0".to_owned();
        let mut seen = 0u64;
        let mut out = Vec::new();
        loop {
            let (next, batch): (String, Vec<RedisValue>) = self
                .client
                .custom(
                    CustomCommand::new_static(cmd, ClusterHash::FirstKey, false),
                    vec![full, cursor.as_str(), "COUNT", "500"],
                )
                .await?;
            let items = if hash {
                pairs(batch)
            } else {
                batch
                    .into_iter()
                    .map(|v| (value_to_string(v).unwrap_or_default(), None))
                    .collect()
            };
            for item in items {
                if seen >= start && (out.len() as u64) < count {
                    out.push(item);
                }
                seen += 1;
            }
            if next == "0" || out.len() as u64 >= count {
                break;
            }
            cursor = next;
        }
        Ok(out)
    }

    /// Redis `TIME` as `(seconds, microseconds)`.
    pub async fn server_time(&self) -> Result<(i64, i64)> {
        let (s, us): (String, String) = self
            .client
            .custom(
                CustomCommand::new_static("TIME", ClusterHash::Random, false),
                Vec::<String>::new(),
            )
            .await?;
        Ok((s.parse().unwrap_or(0), us.parse().unwrap_or(0)))
    }

    /// `INFO` as key/value pairs, in the server's order (for the web UI's Redis page).
    pub async fn server_info(&self) -> Result<Vec<(String, String)>> {
        let text: String = self.client.info(None).await?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim_end().to_owned()))
            .collect())
    }
}

/// Decodes a queue item into a payload, with an error that names the queue and the item.
pub(crate) fn decode_item(queue: &str, raw: &[u8]) -> Result<Payload> {
    Payload::decode(raw).map_err(|source| Error::MalformedPayload {
        queue: queue.to_owned(),
        raw: String::from_utf8_lossy(raw).into_owned(),
        source,
    })
}

/// Encodes a payload exactly as Ruby's `Resque.encode` would.
pub(crate) fn encode(payload: &Payload) -> Result<String> {
    Ok(json::to_string(payload)?)
}

/// Whether `e` means the connection failed (so the command may or may not have run), as
/// opposed to an answer from Redis.
fn is_io(e: &fred::error::Error) -> bool {
    use fred::error::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Backpressure
    )
}

/// Whether an error reply was raised by a command inside a running script (Redis names the
/// script's line: `@user_script:N`), so the commands before it took effect.
fn ran_in_script(e: &fred::error::Error) -> bool {
    e.details().contains("user_script")
}

/// The job whose bookkeeping [`Store::finish_and_reserve`] does: its failure record (the
/// Redis backend's list name and the record; `None` for a success or when another backend
/// saved it) and whether it counts in `stat:failed` (see [`Store::job_done`]).
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    /// `(list name, record)` to `RPUSH`.
    pub record: Option<(&'a str, &'a Failure)>,
    /// `INCRBY stat:failed` and `stat:failed:<id>`.
    pub count_failed: bool,
}

/// What [`Store::finish_and_reserve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// `pause-all-workers` is set: nothing was taken.
    Paused,
    /// Every queue was empty (or no reservation was asked for).
    Empty,
    /// An `LPOP` answered an error (say, a queue key of the wrong type); the bookkeeping
    /// before it was done.
    Failed(String),
    /// A job, taken from `queue`.
    Job {
        /// The queue's name.
        queue: String,
        /// The item as it was in the queue.
        raw: String,
        /// Whether `worker:<id>` was set to the item as it is.
        registered: bool,
    },
}

fn value_to_bytes(v: RedisValue) -> Option<Vec<u8>> {
    match v {
        RedisValue::Null => None,
        RedisValue::Bytes(b) => Some(b.to_vec()),
        RedisValue::String(s) => Some(s.as_bytes().to_vec()),
        other => other.as_bytes().map(<[u8]>::to_vec),
    }
}

/// `[a, b, c, d]` as `[(a, Some(b)), (c, Some(d))]` (hash fields, sorted-set scores).
fn pairs(vs: Vec<RedisValue>) -> Vec<(String, Option<String>)> {
    // Scores may come back as numbers (RESP3); they are shown as text.
    let mut it = vs.into_iter().map(|v| match v {
        RedisValue::Integer(_) | RedisValue::Double(_) => v.as_string().unwrap_or_default(),
        other => value_to_string(other).unwrap_or_default(),
    });
    let mut out = Vec::new();
    while let (Some(a), b) = (it.next(), it.next()) {
        out.push((a, b));
    }
    out
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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

/// A Redis key's type, as `TYPE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    /// `none`: the key does not exist.
    None,
    /// `string`.
    String,
    /// `list`.
    List,
    /// `set`.
    Set,
    /// `zset`.
    ZSet,
    /// `hash`.
    Hash,
    /// `stream`.
    Stream,
    /// Anything else a module may define.
    Other(String),
}

impl KeyType {
    fn parse(s: &str) -> Self {
        match s {
            "none" => Self::None,
            "string" => Self::String,
            "list" => Self::List,
            "set" => Self::Set,
            "zset" => Self::ZSet,
            "hash" => Self::Hash,
            "stream" => Self::Stream,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The name `TYPE` gives.
    pub fn as_str(&self) -> &str {
        match self {
            Self::None => "none",
            Self::String => "string",
            Self::List => "list",
            Self::Set => "set",
            Self::ZSet => "zset",
            Self::Hash => "hash",
            Self::Stream => "stream",
            Self::Other(s) => s,
        }
    }

    /// The command giving its size (Ruby's `redis_get_size`; a string's size is its length).
    fn size_command(&self) -> Option<&'static str> {
        match self {
            Self::String => Some("STRLEN"),
            Self::List => Some("LLEN"),
            Self::Set => Some("SCARD"),
            Self::ZSet => Some("ZCARD"),
            Self::Hash => Some("HLEN"),
            Self::Stream => Some("XLEN"),
            Self::None | Self::Other(_) => None,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A page of a key's value (see [`Store::key_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// Its type.
    pub kind: KeyType,
    /// Its size (items; bytes for a string).
    pub size: u64,
    /// The items: `(value, None)`, or `(field, Some(value))` for hashes and
    /// `(member, Some(score))` for sorted sets.
    pub items: Vec<(String, Option<String>)>,
}

fn value_to_string(v: RedisValue) -> Option<String> {
    value_to_bytes(v).map(|b| match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
