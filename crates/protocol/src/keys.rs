//! Every Redis key Ruby Resque 3.0 uses, under one namespace.
//!
//! This is the only place in the workspace that spells a key name. Ruby writes every key
//! through `Redis::Namespace`, so the real key is `<namespace>:<key>`; the default namespace
//! is `resque`. See `shared/spec/KEYS.md` for who reads and writes each one.

use crate::{Error, Result};

/// The default namespace, as in Ruby (`Redis::Namespace.new(:resque, ..)`).
pub const DEFAULT_NAMESPACE: &str = "resque";

/// Key names under one namespace.
///
/// ```
/// let keys = resque_protocol::Keys::new("resque")?;
/// assert_eq!(keys.queue("file_serve"), "resque:queue:file_serve");
/// assert_eq!(keys.stat_processed_for("vm:1:a"), "resque:stat:processed:vm:1:a");
/// # Ok::<(), resque_protocol::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keys {
    namespace: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_owned(),
        }
    }
}

impl Keys {
    /// Keys under `namespace` (for example `resque` or `resque:GitHub`). An empty namespace
    /// is refused: Ruby would write bare keys, which resque-web and workers never look at.
    pub fn new(namespace: impl Into<String>) -> Result<Self> {
        let namespace = namespace.into();
        if namespace.is_empty() {
            return Err(Error::EmptyNamespace);
        }
        Ok(Self { namespace })
    }

    /// The namespace, without the trailing `:`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Any key under the namespace: `<ns>:<key>`.
    pub fn key(&self, key: &str) -> String {
        let mut s = String::with_capacity(self.namespace.len() + 1 + key.len());
        s.push_str(&self.namespace);
        s.push(':');
        s.push_str(key);
        s
    }

    /// Strips the namespace from a full key; `None` if the key is not under it.
    pub fn strip<'k>(&self, full: &'k str) -> Option<&'k str> {
        full.strip_prefix(self.namespace.as_str())?
            .strip_prefix(':')
    }

    /// A `SCAN MATCH` pattern for every key under the namespace, with glob characters in
    /// the namespace itself escaped.
    pub fn scan_pattern(&self) -> String {
        let mut s = String::with_capacity(self.namespace.len() + 3);
        for c in self.namespace.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                s.push('\\');
            }
            s.push(c);
        }
        s.push_str(":*");
        s
    }

    /// `queues`: the set of known queue names.
    pub fn queues(&self) -> String {
        self.key("queues")
    }

    /// `queue:<q>`: the list of pending job payloads of one queue.
    pub fn queue(&self, queue: &str) -> String {
        self.key(&format!("queue:{queue}"))
    }

    /// `workers`: the set of registered worker ids.
    pub fn workers(&self) -> String {
        self.key("workers")
    }

    /// `worker:<id>`: what a worker is working on (absent when idle).
    pub fn worker(&self, id: &str) -> String {
        self.key(&format!("worker:{id}"))
    }

    /// `worker:<id>:started`: when the worker registered (`Time.now.to_s`).
    pub fn worker_started(&self, id: &str) -> String {
        self.key(&format!("worker:{id}:started"))
    }

    /// `workers:heartbeat`: hash of worker id to last heartbeat.
    pub fn heartbeats(&self) -> String {
        self.key("workers:heartbeat")
    }

    /// `pruning_dead_workers_in_progress`: the `SET NX EX` lock taken at worker start-up.
    pub fn pruning_lock(&self) -> String {
        self.key("pruning_dead_workers_in_progress")
    }

    /// `pause-all-workers`: every worker pauses while this is `true`.
    pub fn pause_all_workers(&self) -> String {
        self.key("pause-all-workers")
    }

    /// `stat:<name>`: a counter.
    pub fn stat(&self, name: &str) -> String {
        self.key(&format!("stat:{name}"))
    }

    /// `stat:processed`.
    pub fn stat_processed(&self) -> String {
        self.stat("processed")
    }

    /// `stat:failed`.
    pub fn stat_failed(&self) -> String {
        self.stat("failed")
    }

    /// `stat:processed:<id>`: one worker's processed count.
    pub fn stat_processed_for(&self, id: &str) -> String {
        self.key(&format!("stat:processed:{id}"))
    }

    /// `stat:failed:<id>`: one worker's failed count.
    pub fn stat_failed_for(&self, id: &str) -> String {
        self.key(&format!("stat:failed:{id}"))
    }

    /// `failed`: the Redis failure backend's list.
    pub fn failed(&self) -> String {
        self.key("failed")
    }

    /// `failed_queues`: the set of per-queue failure list names (RedisMultiQueue backend).
    pub fn failed_queues(&self) -> String {
        self.key("failed_queues")
    }

    /// resque-rs's record of a worker's last reservation call: its token and reply, so a
    /// call sent again after a lost reply answers the same instead of running twice (a key
    /// Ruby never reads; it expires).
    pub fn reserve_marker(&self, worker: &str) -> String {
        self.key(&format!("resque-rs:reserve:{worker}"))
    }

    /// resque-rs's worker leases (a hash Ruby never reads): worker id to the Redis time, in
    /// milliseconds, by which that worker must beat again or count as dead. Every resque-rs
    /// worker renews its field with each heartbeat; see the periodic reaper.
    pub fn leases(&self) -> String {
        self.key("resque-rs:leases")
    }

    /// resque-rs's in-flight record of a worker in reliable mode (a key Ruby never reads): the
    /// queue's name, then the job exactly as it was in the queue, put there in the same
    /// step as the pop and removed with the job's bookkeeping.
    pub fn inflight(&self, worker: &str) -> String {
        self.key(&format!("resque-rs:inflight:{worker}"))
    }

    /// resque-rs's jobs a worker reserved ahead (`PREFETCH`; a list Ruby never reads): each
    /// entry the queue's name as JSON, a newline, then the job exactly as it was in the
    /// queue, moved here in the same step as its pop and removed with its bookkeeping, or
    /// put back at the head of its queue by [`Self::holders`]' reaper.
    pub fn held(&self, worker: &str) -> String {
        self.key(&format!("resque-rs:held:{worker}"))
    }

    /// resque-rs's set of the workers that hold (or held) jobs reserved ahead
    /// ([`Self::held`]), so a reaper finds a held list whose worker is gone, whoever
    /// unregistered it (a Ruby pruner knows nothing of held lists).
    pub fn holders(&self) -> String {
        self.key("resque-rs:holders")
    }

    /// resque-rs's note of where a dead worker's in-flight job was put back (the queue key,
    /// then the job), so the worker, if it was only stopped and finishes the job after all,
    /// takes the copy back out (a list Ruby never reads; it expires).
    pub fn requeued(&self, worker: &str) -> String {
        self.key(&format!("resque-rs:requeued:{worker}"))
    }

    /// resque-rs's mark that worker `<id>` was unregistered (by a reaper, `resque remove`,
    /// or its own exit), so a worker that was only stopped and finishes its job after all
    /// does not count that job a second time (a string Ruby never reads; it expires, and a
    /// worker starting under the same id removes it).
    pub fn reaped(&self, worker: &str) -> String {
        self.key(&format!("resque-rs:reaped:{worker}"))
    }

    /// resque-rs's count of how often each job (by the SHA1 of its bytes) was taken back
    /// from a dead worker in reliable mode, to stop a job that kills its worker from
    /// looping (a hash Ruby never reads; it expires).
    pub fn recoveries(&self) -> String {
        self.key("resque-rs:recoveries")
    }

    /// resque-rs's processed and failed counts of one UTC day, `YYYY-MM-DD` (a hash Ruby
    /// never reads; see [`crate::metrics`]).
    pub fn history(&self, day: &str) -> String {
        self.key(&format!("resque-rs:history:{day}"))
    }

    /// resque-rs's job metrics of one UTC minute, `YYYYMMDDHHMM` (a hash Ruby never reads;
    /// see [`crate::metrics`]).
    pub fn job_metrics(&self, minute: &str) -> String {
        self.key(&format!("resque-rs:metrics:{minute}"))
    }

    /// resque-rs's job metrics of one UTC hour, `YYYYMMDDHH` (a hash Ruby never reads; see
    /// [`crate::metrics`]).
    pub fn job_metrics_hour(&self, hour: &str) -> String {
        self.key(&format!("resque-rs:metrics-hour:{hour}"))
    }

    /// resque-rs's job metrics since they began, for counters that only grow (see
    /// [`crate::metrics`]).
    pub fn job_metrics_total(&self) -> String {
        self.key("resque-rs:metrics:total")
    }

    /// resque-rs's shared search index of a failure list (a key Ruby never reads).
    pub fn failure_index(&self, list: &str) -> String {
        self.key(&format!("resque-rs:failure-index:{list}"))
    }

    /// A failure list by its name as stored in `failed_queues` (`failed`, `<q>_failed`).
    pub fn failure_list(&self, name: &str) -> String {
        self.key(name)
    }

    // ---- resque-scheduler 5.0 (SCHEDULER.md's key table) --------------------------------

    /// `delayed_queue_schedule`: the sorted set of timestamps that have delayed jobs
    /// (member and score are both the integer Unix second).
    pub fn delayed_queue_schedule(&self) -> String {
        self.key("delayed_queue_schedule")
    }

    /// `delayed:<ts>`: the list of delayed items due at Unix second `ts`.
    pub fn delayed(&self, ts: i64) -> String {
        self.key(&delayed_member(ts))
    }

    /// `<ns>:delayed:`, the part of [`Keys::delayed`] before the timestamp (for scripts that
    /// build the key inside Redis).
    pub fn delayed_prefix(&self) -> String {
        self.key(DELAYED_MEMBER_PREFIX)
    }

    /// `<ns>:timestamps:`, the part of [`Keys::timestamps`] before the item.
    pub fn timestamps_prefix(&self) -> String {
        self.key("timestamps:")
    }

    /// `<ns>:queue:`, the part of [`Keys::queue`] before the queue name.
    pub fn queue_prefix(&self) -> String {
        self.key("queue:")
    }

    /// `timestamps:<item>`: the set of `delayed:<ts>` names (without the namespace) holding
    /// `item`; the key embeds the item's JSON byte for byte.
    pub fn timestamps(&self, item: &str) -> String {
        let mut s = self.timestamps_prefix();
        s.push_str(item);
        s
    }

    /// `persistent_schedules`: schedule name to its JSON config (`set_schedule` with
    /// `persist`).
    pub fn persistent_schedules(&self) -> String {
        self.key("persistent_schedules")
    }

    /// `schedules_changed`: names whose schedule changed, for dynamic schedulers.
    pub fn schedules_changed(&self) -> String {
        self.key("schedules_changed")
    }

    /// `delayed:last_enqueued_at`: schedule name to the time it last fired.
    pub fn last_enqueued_at(&self) -> String {
        self.key("delayed:last_enqueued_at")
    }

    /// The scheduler's master lock. Ruby names it `"<ns>:<prefix>resque_scheduler_master_lock"`
    /// and then namespaces that again, so the namespace appears twice
    /// (`resque:resque:resque_scheduler_master_lock`); `prefix` is
    /// `RESQUE_SCHEDULER_MASTER_LOCK_PREFIX`, to which Ruby appends `:`.
    pub fn scheduler_master_lock(&self, prefix: Option<&str>) -> String {
        let prefix = prefix.filter(|p| !p.is_empty());
        let inner = match prefix {
            Some(p) => format!("{}:{p}:resque_scheduler_master_lock", self.namespace),
            None => format!("{}:resque_scheduler_master_lock", self.namespace),
        };
        self.key(&inner)
    }

    /// resque-retry's attempt counter of a job: `resque-retry:<Class>[:<identifier>]`
    /// (see [`crate::retry`]).
    pub fn retry_counter(&self, class: &str, identifier: Option<&str>) -> String {
        self.key(&crate::retry::key_name(class, identifier))
    }

    /// `MultipleWithRetrySuppression`'s record of a failure whose retry is pending:
    /// `failure-` then the counter's key without the namespace.
    pub fn retry_failure(&self, class: &str, identifier: Option<&str>) -> String {
        self.key(&format!(
            "failure-{}",
            crate::retry::key_name(class, identifier)
        ))
    }

    /// resque-rs's record of the last slot each recurring schedule fired for (name to Unix
    /// second; a hash Ruby never reads), so a fire is never repeated across a failover or a
    /// clock step.
    pub fn schedule_fired(&self) -> String {
        self.key("resque-rs:schedule-fired")
    }
}

/// `delayed:<ts>` without the namespace: a `delayed_queue_schedule` timestamp's list, as
/// stored in the `timestamps:<item>` sets.
pub fn delayed_member(ts: i64) -> String {
    format!("{DELAYED_MEMBER_PREFIX}{ts}")
}

/// What a `timestamps:<item>` member starts with: `delayed:` (then the timestamp).
pub const DELAYED_MEMBER_PREFIX: &str = "delayed:";

/// The timestamp of a `timestamps:<item>` member (`delayed:<ts>`). Ruby strips the prefix
/// with `String#tr` and calls `to_i`; anything else is `None` here.
pub fn parse_delayed_member(member: &str) -> Option<i64> {
    member.strip_prefix(DELAYED_MEMBER_PREFIX)?.parse().ok()
}

/// `Failure.failure_queue_name(q)`: the per-queue failure list name, `<q>_failed`.
pub fn failure_queue_name(queue: &str) -> String {
    format!("{queue}_failed")
}

/// `Failure.job_queue_name(fq)`: the queue a `<q>_failed` list belongs to.
pub fn job_queue_name(failure_queue: &str) -> &str {
    failure_queue
        .strip_suffix("_failed")
        .unwrap_or(failure_queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_keys_md() -> std::result::Result<(), Error> {
        let k = Keys::new("resque")?;
        let id = "vm:5883:file_serve,low";
        let cases = [
            (k.queues(), "resque:queues"),
            (k.queue("file_serve"), "resque:queue:file_serve"),
            (k.workers(), "resque:workers"),
            (k.worker(id), "resque:worker:vm:5883:file_serve,low"),
            (
                k.worker_started(id),
                "resque:worker:vm:5883:file_serve,low:started",
            ),
            (k.heartbeats(), "resque:workers:heartbeat"),
            (k.pruning_lock(), "resque:pruning_dead_workers_in_progress"),
            (k.pause_all_workers(), "resque:pause-all-workers"),
            (k.stat_processed(), "resque:stat:processed"),
            (k.stat_failed(), "resque:stat:failed"),
            (
                k.stat_processed_for(id),
                "resque:stat:processed:vm:5883:file_serve,low",
            ),
            (
                k.stat_failed_for(id),
                "resque:stat:failed:vm:5883:file_serve,low",
            ),
            (k.failed(), "resque:failed"),
            (k.failed_queues(), "resque:failed_queues"),
            (
                k.failure_list(&failure_queue_name("low")),
                "resque:low_failed",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        assert_eq!(job_queue_name("low_failed"), "low");
        Ok(())
    }

    #[test]
    fn scheduler_keys() -> std::result::Result<(), Error> {
        let k = Keys::new("resque")?;
        let item = r#"{"class":"Archive","args":[1],"queue":"file_serve"}"#;
        assert_eq!(k.delayed_queue_schedule(), "resque:delayed_queue_schedule");
        assert_eq!(k.delayed(1796112481), "resque:delayed:1796112481");
        assert_eq!(k.timestamps(item), format!("resque:timestamps:{item}"));
        assert_eq!(k.persistent_schedules(), "resque:persistent_schedules");
        assert_eq!(k.schedules_changed(), "resque:schedules_changed");
        assert_eq!(k.last_enqueued_at(), "resque:delayed:last_enqueued_at");
        assert_eq!(
            k.scheduler_master_lock(None),
            "resque:resque:resque_scheduler_master_lock"
        );
        assert_eq!(
            k.scheduler_master_lock(Some("MyApp:")),
            "resque:resque:MyApp::resque_scheduler_master_lock"
        );
        assert_eq!(parse_delayed_member("delayed:17"), Some(17));
        assert_eq!(parse_delayed_member("17"), None);
        assert_eq!(k.delayed_prefix() + "17", k.delayed(17));
        assert_eq!(k.queue_prefix() + "q", k.queue("q"));
        Ok(())
    }

    #[test]
    fn namespaces() -> std::result::Result<(), Error> {
        let k = Keys::new("resque:GitHub")?;
        assert_eq!(k.queue("a"), "resque:GitHub:queue:a");
        assert_eq!(k.strip("resque:GitHub:queue:a"), Some("queue:a"));
        assert_eq!(k.strip("resque:queue:a"), None);
        assert_eq!(k.strip("resque:GitHubX:a"), None);
        assert_eq!(Keys::new("a*[b]")?.scan_pattern(), "a\\*\\[b\\]:*");
        assert!(matches!(Keys::new(""), Err(Error::EmptyNamespace)));
        Ok(())
    }
}
