//! Taking a job, and a finished job's bookkeeping: in one script call
//! ([`Store::finish_and_reserve`]) or as Ruby's separate commands.

use fred::prelude::*;
use fred::types::Value as RedisValue;
use resque_protocol::{Failure, Keys, WorkingOn, json, metrics};

use super::{Store, value_to_string};
use crate::{Error, Result};

/// One worker's keys and queues as [`Store::finish_and_reserve`] sends them. Built afresh
/// they were two dozen allocations a job; in a forking worker every heap page those touch
/// is a copy-on-write fault in the parent after each fork. Cloning a ready-made value
/// only bumps a reference count.
#[derive(Default)]
pub(super) struct ReserveArgs {
    id: String,
    queues: Vec<String>,
    /// Each queue's name as JSON, as text (for [`WorkingOn::encode_raw`]).
    queue_json_text: Vec<String>,
    /// `worker:<id>`, `stat:processed`, `stat:processed:<id>`, `stat:failed`,
    /// `stat:failed:<id>`, `failed`, `pause-all-workers`, `resque-rs:reserve:<id>`,
    /// `resque-rs:inflight:<id>`, `resque-rs:recoveries`, `resque-rs:requeued:<id>`,
    /// `resque-rs:reaped:<id>`, `resque-rs:held:<id>`, `resque-rs:holders`: KEYS[1..=14].
    keys: Vec<RedisValue>,
    /// `queue:<name>` for each queue: KEYS[15..].
    queue_keys: Vec<RedisValue>,
    /// Each queue's name as JSON: ARGV[8..].
    queue_json: Vec<RedisValue>,
}

impl ReserveArgs {
    /// Makes these the arguments for worker `id` and `queues`, unless they already are.
    fn prepare(&mut self, k: &Keys, id: &str, queues: &[String]) -> Result<()> {
        if self.id == id
            && self.keys.len() == FIXED_KEYS
            && self.queues == queues
            && self.queue_keys.len() == queues.len()
            && self.queue_json.len() == queues.len()
        {
            return Ok(());
        }
        // Cleared first: a failure below must not leave a half-made set that matches.
        self.id.clear();
        self.id = id.to_owned();
        self.keys = vec![
            k.worker(id).into(),
            k.stat_processed().into(),
            k.stat_processed_for(id).into(),
            k.stat_failed().into(),
            k.stat_failed_for(id).into(),
            k.failed().into(),
            k.pause_all_workers().into(),
            k.reserve_marker(id).into(),
            k.inflight(id).into(),
            k.recoveries().into(),
            k.requeued(id).into(),
            k.reaped(id).into(),
            k.held(id).into(),
            k.holders().into(),
        ];
        self.queue_json_text = queues
            .iter()
            .map(json::to_string)
            .collect::<std::result::Result<_, _>>()?;
        self.queues = queues.to_vec();
        self.queue_keys = queues.iter().map(|q| k.queue(q).into()).collect();
        self.queue_json = self
            .queue_json_text
            .iter()
            .map(|j| j.as_str().into())
            .collect();
        self.id = id.to_owned();
        Ok(())
    }
}

impl Store {
    /// `paused?` from Redis: `GET pause-all-workers`, paused when the value, stripped and
    /// lower-cased, is `true`.
    pub async fn pause_all_requested(&self) -> Result<bool> {
        let v: Option<String> = self.client().get(self.keys.pause_all_workers()).await?;
        Ok(v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
    }

    /// `reserve`: `LPOP` each queue in order until one returns a job, one command at a time
    /// as Ruby does (a pipelined LPOP would take a job from every queue).
    pub async fn pop_first(&self, queues: &[String]) -> Result<Option<(String, String)>> {
        for q in queues {
            if let Some(raw) = self.pop(q).await? {
                // The worker records an item that is not a job whole; one that is not UTF-8
                // can only be kept with its bad bytes replaced (a failure record is JSON).
                let raw = String::from_utf8(raw)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                return Ok(Some((q.clone(), raw)));
            }
        }
        Ok(None)
    }

    /// The bookkeeping after a job, in one pipeline: for a failed job, `RPUSH` the record
    /// to `failure_list` and `INCRBY stat:failed` / `stat:failed:<id>` (Ruby does these in
    /// the child); then Ruby's `done_working`: `DEL worker:<id>`, `INCRBY stat:processed 1`,
    /// `INCRBY stat:processed:<id> 1`; then the next iteration's `GET pause-all-workers`,
    /// whose answer (paused?) is returned. The end state is what Ruby's worker leaves.
    /// `record` is written only for the Redis backend; other backends save their record
    /// first and pass `None`. `count_failed` is Ruby's `report_failed_job` (failures raised
    /// inside `perform`; not dirty exits).
    ///
    /// With `metrics`, the job's history and (`per_class`) metrics, and with `sums` the
    /// metrics a worker summed ([`resque_protocol::metrics`]), go in the same pipeline
    /// (each key's expiry sent every time: a pipeline cannot ask first).
    pub async fn job_done(
        &self,
        id: &str,
        record: Option<(&str, &Failure)>,
        count_failed: bool,
        metrics: Option<JobMetrics<'_>>,
        sums: Option<&metrics::Sums>,
    ) -> Result<bool> {
        let k = &self.keys;
        let p = self.client().pipeline();
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
        let mut all = sums.cloned().unwrap_or_default();
        if let Some(m) = metrics {
            let now = jiff::Timestamp::now();
            if m.per_class {
                all.add(now, m.queue, m.class, m.millis, count_failed);
            }
            let day = k.history(&metrics::day(now));
            let () = p.hincrby(&day, "processed", 1).await?;
            if count_failed {
                let () = p.hincrby(&day, "failed", 1).await?;
            }
            let ttl = i64::try_from(metrics::HISTORY_TTL.as_secs()).unwrap_or(i64::MAX);
            let () = p.expire(&day, ttl, None).await?;
        }
        pipe_sums(&p, k, &all).await?;
        // The next loop iteration's first command, sent in the same round trip.
        let () = p.get(k.pause_all_workers()).await?;
        let mut replies: Vec<RedisValue> = p.all().await?;
        let pause = replies.pop().and_then(value_to_string);
        Ok(pause.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
    }

    /// Adds job metrics a worker summed ([`metrics::Sums`]), in one pipeline: what
    /// [`Store::job_done`] sends with `sums`, when there is no job to finish.
    pub async fn add_sums(&self, sums: &metrics::Sums) -> Result<()> {
        let p = self.client().pipeline();
        pipe_sums(&p, &self.keys, sums).await?;
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// [`Store::job_done`] for the last job (if any), then the next iteration's
    /// `GET pause-all-workers`, `LPOP` of each queue in order and `SET worker:<id>`, as one
    /// script: one round trip per job where the separate commands take three.
    ///
    /// Redis runs the same commands in the same order as Ruby's worker and leaves the same
    /// state; what changes is that nothing can come between them, so a job is never out
    /// of its queue without being under `worker:<id>`. `SET worker:<id>` is done here only
    /// when the item is a JSON object with a `class` (as Lua's cjson reads it), writing
    /// [`WorkingOn::encode_raw`]'s bytes: the caller checks that against its own encoding
    /// ([`Reserved::Job::written`]) and sets it again if they differ (an item whose
    /// re-encoding is not byte-identical).
    ///
    /// `token` names this call: a call made again with the same token (because the reply
    /// to the first was lost) does nothing again and answers what the first one did, so a
    /// resent call neither pops a second job nor counts the last one twice. Give each new
    /// call a new token, and a retry of a call whose outcome is unknown the same one.
    ///
    /// With `reliable`, the job taken is also put in `resque-rs:inflight:<id>` (its queue's
    /// name, then its bytes) in the same step as the pop, and the finished job's bookkeeping
    /// removes it (see [`Store::recover_inflight`] for a dead worker's).
    ///
    /// `queues` are the queue names in priority order (their JSON encodings are made once
    /// here and kept while the list stays the same). Returns
    /// [`Error::ScriptUnavailable`] when the server will not run the script at all (no
    /// `EVALSHA`, a proxy or ACL refusing it): nothing was done, and the caller uses the
    /// separate commands instead.
    ///
    /// Several workers' calls can share one round trip: make each one's part with
    /// [`Store::reserve_section`], send them together with [`Store::send_sections`] and read
    /// each reply with [`Store::read_reserved`]. This is those three for one worker.
    pub async fn finish_and_reserve(
        &self,
        id: &str,
        finished: Option<Finished<'_>>,
        reserve: Option<(&[String], &str)>,
        token: &str,
        reliable: bool,
    ) -> Result<Reserved> {
        let section = self.reserve_section(id, finished, reserve, token, reliable)?;
        let reply = self.send_section(&section).await?;
        self.read_reserved(id, reserve, reply)
    }

    /// [`Store::send_sections`] for one worker's part.
    pub async fn send_section(&self, section: &ReserveSection) -> Result<SectionReply> {
        self.send_sections(std::slice::from_ref(section))
            .await?
            .pop()
            .ok_or_else(|| Error::ScriptUnavailable("no reply to the reserve call".into()))
    }

    /// One worker's part of a [`Store::finish_and_reserve`] call, ready to send with others
    /// ([`Store::send_sections`]); the arguments are those of `finish_and_reserve`.
    pub fn reserve_section(
        &self,
        id: &str,
        finished: Option<Finished<'_>>,
        reserve: Option<(&[String], &str)>,
        token: &str,
        reliable: bool,
    ) -> Result<ReserveSection> {
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
        // A panic elsewhere while this was held leaves nothing `prepare` trusts.
        let mut c = self
            .reserve_args
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.prepare(k, id, queues)?;
        let mut keys = Vec::with_capacity(c.keys.len() + queues.len());
        keys.extend(c.keys.iter().cloned());
        if let Some(list) = &record_list {
            // KEYS[6]: a failure list other than `failed` (the multi-queue backend's).
            keys[5] = list.as_str().into();
        }
        keys.extend(c.queue_keys.iter().cloned());
        let mut argv = Vec::with_capacity(FIXED_ARGS + queues.len());
        argv.push(i64::try_from(queues.len()).unwrap_or(0).into());
        argv.push(done.into());
        argv.push(record.into());
        argv.push(if reserve.is_some() { "1" } else { "0" }.into());
        argv.push(run_at.into());
        argv.push(token.into());
        argv.push(if reliable { "1" } else { "0" }.into());
        argv.push(
            if finished.is_some_and(|f| f.registered) {
                "1"
            } else {
                "0"
            }
            .into(),
        );
        let mut sums = metrics::Sums::default();
        match finished.and_then(|f| f.metrics) {
            Some(m) => {
                let now = jiff::Timestamp::now();
                argv.push(k.history(&metrics::day(now)).into());
                if m.per_class {
                    sums.add(
                        now,
                        m.queue,
                        m.class,
                        m.millis,
                        finished.is_some_and(|f| f.count_failed),
                    );
                }
            }
            None => argv.push("".into()),
        }
        // The numbers of metrics increments and expiries: set when the call is sent.
        argv.extend([RedisValue::from(0), RedisValue::from(0)]);
        // Reserving ahead: none ran, none to hold, and the held list not read (see
        // `ReserveSection::hold`).
        argv.extend([RedisValue::from(0), RedisValue::from(-1), id.into()]);
        argv.extend(c.queue_json.iter().cloned());
        Ok(ReserveSection { keys, argv, sums })
    }

    /// Sends several workers' [`Store::finish_and_reserve`] calls as one script call: one
    /// round trip, and Redis runs each part in the order given, as if each worker had
    /// called in turn. Returns each part's reply, for [`Store::read_reserved`] in the worker
    /// that made it. An error (the connection, or a refused script: see
    /// `finish_and_reserve`) is every part's.
    pub async fn send_sections(&self, sections: &[ReserveSection]) -> Result<Vec<SectionReply>> {
        const SCRIPT: &str = include_str!("finish_and_reserve.lua");
        // Each section's metrics: how many `HINCRBY` triples and `EXPIRE` pairs, and those,
        // sent after its queues.
        let writes: Vec<(usize, usize, Vec<RedisValue>)> = sections
            .iter()
            .map(|s| {
                let metrics::Writes {
                    increments: incr,
                    expiries: ttl,
                } = s.sums.writes(&self.keys);
                let (m, e) = (incr.len(), ttl.len());
                let mut out = Vec::with_capacity(3 * m + 2 * e);
                for (key, field, n) in incr {
                    out.extend([
                        key.into(),
                        field.into(),
                        i64::try_from(n).unwrap_or(i64::MAX).into(),
                    ]);
                }
                for (key, d) in ttl {
                    out.extend([
                        key.into(),
                        i64::try_from(d.as_secs()).unwrap_or(i64::MAX).into(),
                    ]);
                }
                (m, e, out)
            })
            .collect();
        let argv = || {
            let keys: usize = sections.iter().map(|s| s.keys.len()).sum();
            let args: usize = sections.iter().map(|s| s.argv.len()).sum();
            let extra: usize = writes.iter().map(|w| w.2.len()).sum();
            let mut argv = Vec::with_capacity(3 + keys + args + extra);
            argv.push(RedisValue::Null); // the SHA1, filled in by run_script
            argv.push(i64::try_from(keys).unwrap_or(0).into());
            for s in sections {
                argv.extend(s.keys.iter().cloned());
            }
            argv.push(i64::try_from(sections.len()).unwrap_or(0).into());
            for (s, (m, e, w)) in sections.iter().zip(&writes) {
                argv.extend(s.argv[..COUNTS].iter().cloned());
                argv.push(i64::try_from(*m).unwrap_or(0).into());
                argv.push(i64::try_from(*e).unwrap_or(0).into());
                argv.extend(s.argv[COUNTS + 2..].iter().cloned());
                argv.extend(w.iter().cloned());
            }
            argv
        };
        match self.run_script(SCRIPT, argv).await? {
            RedisValue::Array(replies) if replies.len() == sections.len() => {
                Ok(replies.into_iter().map(SectionReply).collect())
            }
            other => Err(Error::ScriptUnavailable(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }

    /// Reads one worker's reply to [`Store::send_sections`]: `id` and `reserve` are what
    /// its [`Store::reserve_section`] was given.
    pub fn read_reserved(
        &self,
        id: &str,
        reserve: Option<(&[String], &str)>,
        reply: SectionReply,
    ) -> Result<Reserved> {
        let (queues, run_at) = reserve.unwrap_or((&[], ""));
        let mut it = match reply.0 {
            RedisValue::Array(items) => items.into_iter(),
            other => {
                return Err(Error::ScriptUnavailable(format!(
                    "unexpected reply {other:?}"
                )));
            }
        };
        let tag = it.next().and_then(|v| v.as_i64()).unwrap_or(-1);
        let errors = it.next().and_then(value_to_string).unwrap_or_default();
        if tag == 4 {
            return Err(Error::WritesRefused(errors));
        }
        match it.next().and_then(|v| v.as_i64()) {
            Some(1) => tracing::warn!(
                worker = id,
                "this worker was given up for dead while its job ran (stopped past its lease, \
                 or removed): the job's failure record or requeued copy stands, and this run \
                 is not counted again"
            ),
            Some(2) => tracing::warn!(
                worker = id,
                "this worker was given up for dead while its job ran; its requeued copy was \
                 still waiting and was taken back out, so the job ran once"
            ),
            _ => {}
        }
        if !errors.is_empty() {
            // Like a pipeline's: the other commands took effect; nothing to send again.
            tracing::error!(worker = id, errors = %errors, "part of a job's bookkeeping was refused");
        }
        Ok(match tag {
            0 => Reserved::Empty,
            1 => Reserved::Paused,
            2 => Reserved::Failed(it.next().and_then(value_to_string).unwrap_or_default()),
            3 => {
                let qjson = it.next().and_then(value_to_string).unwrap_or_default();
                let raw = it.next().and_then(value_to_string).unwrap_or_default();
                let registered = it.next().and_then(|v| v.as_i64()) == Some(1);
                let queue = self.queue_named(queues, &qjson)?;
                let written = registered.then(|| WorkingOn::encode_raw(&qjson, run_at, &raw));
                // Held entries mostly share their queue: its name is looked up once a run
                // of them, and each entry's own string becomes the job's (its queue part
                // cut off in place, not copied out).
                let mut last: Option<(String, String)> = None;
                let held = it
                    .filter_map(value_to_string)
                    .map(|mut entry| {
                        let nl = entry.find('\n').ok_or_else(|| {
                            Error::ScriptUnavailable("a held entry without its queue".into())
                        })?;
                        let queue = match &last {
                            Some((qjson, name)) if *qjson == entry[..nl] => name.clone(),
                            _ => {
                                let name = self.queue_named(queues, &entry[..nl])?;
                                last = Some((entry[..nl].to_owned(), name.clone()));
                                name
                            }
                        };
                        entry.drain(..=nl);
                        Ok(Held { queue, raw: entry })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Reserved::Job {
                    queue,
                    raw,
                    written,
                    held,
                }
            }
            _ => {
                return Err(Error::ScriptUnavailable(
                    "unexpected reply from the reserve script".to_owned(),
                ));
            }
        })
    }
}

impl Store {
    /// The queue whose name is `qjson` (as JSON), as the reserve script names it: one of
    /// `queues` (their encodings kept by `ReserveArgs`), else decoded (a held job's queue
    /// that a dynamic list no longer has).
    fn queue_named(&self, queues: &[String], qjson: &str) -> Result<String> {
        let c = self
            .reserve_args
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if c.queues == queues
            && let Some(i) = c.queue_json_text.iter().position(|j| j == qjson)
        {
            return Ok(queues[i].clone());
        }
        drop(c);
        serde_json::from_str::<String>(qjson)
            .map_err(|_| Error::ScriptUnavailable(format!("the reply names queue {qjson:?}")))
    }
}

/// Queues `sums`' increments and expiries on a pipeline.
async fn pipe_sums(
    p: &fred::clients::Pipeline<fred::clients::Client>,
    k: &Keys,
    sums: &metrics::Sums,
) -> Result<()> {
    let metrics::Writes {
        increments: incr,
        expiries: ttl,
    } = sums.writes(k);
    for (key, field, n) in incr {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let () = p.hincrby(key, field, n).await?;
    }
    for (key, d) in ttl {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let () = p.expire(key, secs, None).await?;
    }
    Ok(())
}

/// Where a section's arguments hold its numbers of metrics increments and expiries.
const COUNTS: usize = 9;

/// Where a section's arguments hold its jobs run ahead and jobs to hold ahead.
const HOLD: usize = 11;

/// A section's keys before its queues'.
const FIXED_KEYS: usize = 14;

/// A section's arguments before its queues' names.
const FIXED_ARGS: usize = 14;

/// One part's reply to [`Store::send_sections`], for [`Store::read_reserved`].
#[derive(Debug, Clone)]
pub struct SectionReply(RedisValue);

/// One worker's part of a [`Store::finish_and_reserve`] call ([`Store::reserve_section`]):
/// its keys and arguments, sent with other workers' parts by [`Store::send_sections`].
#[derive(Debug, Clone)]
pub struct ReserveSection {
    keys: Vec<RedisValue>,
    argv: Vec<RedisValue>,
    /// Job metrics to add with this call (see [`ReserveSection::add_sums`]).
    sums: metrics::Sums,
}

impl ReserveSection {
    /// Adds job metrics summed by the caller ([`metrics::Sums`]) to this call: written in the
    /// same script call, so a resent call (the same token) adds them once. A worker sends its
    /// sums every few seconds this way rather than ten hash increments a job.
    pub fn add_sums(&mut self, sums: &metrics::Sums) {
        self.sums.merge(sums.clone());
    }

    /// Makes this a call of a worker that reserves ahead (`PREFETCH`): `ran` jobs taken
    /// from its held list ran, all done, before the finished job this call describes
    /// (they are counted with it and leave the held list); the next job is the held list's
    /// first, if any, else the queues' in order; and up to `ahead` more are moved from the
    /// queues to the held list in the same step ([`Reserved::Job::held`] answers the list
    /// as it then stands). Without this call the held list is not read at all.
    pub fn hold(&mut self, ran: u32, ahead: u32) {
        self.argv[HOLD] = i64::from(ran).into();
        self.argv[HOLD + 1] = i64::from(ahead).into();
    }
}

/// A job reserved ahead ([`ReserveSection::hold`]): moved from its queue to the worker's
/// held list (`resque-rs:held:<id>`), to run after the job before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The queue it was taken from.
    pub queue: String,
    /// The item as it was in the queue.
    pub raw: String,
}

/// The job whose bookkeeping [`Store::finish_and_reserve`] does: its failure record (the
/// Redis backend's list name and the record; `None` for a success or when another backend
/// saved it), whether it counts in `stat:failed` (see [`Store::job_done`]), and whether it
/// was registered under `worker:<id>` while it ran.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    /// `(list name, record)` to `RPUSH`.
    pub record: Option<(&'a str, &'a Failure)>,
    /// `INCRBY stat:failed` and `stat:failed:<id>`.
    pub count_failed: bool,
    /// The job was under `worker:<id>` while it ran (every job but an item that is not
    /// JSON). If a reaper unregistered the worker meanwhile (`resque-rs:reaped:<id>`, see
    /// [`Store::unregister_worker`]), the reaper's record (or requeued copy) stands and this
    /// run is not counted again; in reliable mode a requeued copy still waiting is taken
    /// back out instead, and this run counts.
    pub registered: bool,
    /// The run's queue, class and time, for our history ([`resque_protocol::metrics`]: the
    /// day's processed and failed jobs, recorded when the job is counted, as
    /// `stat:processed` is) and, with [`JobMetrics::per_class`], its job metrics (a run,
    /// recorded with the call); `None` records neither.
    pub metrics: Option<JobMetrics<'a>>,
}

/// What a finished job adds to the job metrics ([`Finished::metrics`]).
#[derive(Debug, Clone, Copy)]
pub struct JobMetrics<'a> {
    /// The queue it came from.
    pub queue: &'a str,
    /// Its class.
    pub class: &'a str,
    /// How long it ran, in milliseconds.
    pub millis: u64,
    /// Also this run's per-class metrics by minute, hour and in total (ten hash increments
    /// a job); `false` records only the day's history. A worker sums its runs in memory
    /// instead ([`resque_protocol::metrics::Sums`]) and sends them every few seconds
    /// ([`ReserveSection::add_sums`]).
    pub per_class: bool,
}

impl JobMetrics<'static> {
    /// The day's history alone (`per_class` false, which reads neither queue, class nor
    /// time): for a worker that sums its per-class runs itself ([`ReserveSection::add_sums`]).
    pub fn history_only() -> Self {
        Self {
            queue: "",
            class: "",
            millis: 0,
            per_class: false,
        }
    }
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
        /// The `worker:<id>` value the script set, the item as it is inside
        /// ([`WorkingOn::encode_raw`]); `None` when the item is not a job object (not JSON,
        /// or no `class`) and `worker:<id>` was not touched.
        written: Option<String>,
        /// A worker that reserves ahead ([`ReserveSection::hold`]): its held list, to run
        /// after this job, in order; empty otherwise.
        held: Vec<Held>,
    },
}
