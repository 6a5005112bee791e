//! Ruby's `prune_dead_workers`, at start-up and then periodically (the reaper): the workers
//! that died without unregistering, on this host or any other.

use resque_failure::Departure;
use resque_protocol::time;

use super::child::run_failure_hook;

use super::{Error, Run, block_on};

impl Run<'_> {
    /// Ruby's `prune_dead_workers`, run at start-up and then every quarter heartbeat
    /// interval (the periodic reaper), under Ruby's `SET NX` lock:
    /// 1. every heartbeat older than [`Run::prune_interval`] (5 × the heartbeat interval) by
    ///    Redis `TIME` (registered or not) is unregistered, its job failed with
    ///    `PruneDeadWorkerDirtyExit`;
    /// 2. every other registered worker on this host listening on the same queues (or any,
    ///    when this worker has `*`) whose pid does not exist is unregistered, its job failed
    ///    with `DirtyExit`;
    /// 3. ours, not at start-up: every other resque-rs worker whose lease
    ///    (`resque-rs:leases`, renewed with each heartbeat, 1.5 heartbeat intervals long) ran
    ///    out, on any host, is unregistered as dead (`PruneDeadWorkerDirtyExit`). A worker
    ///    killed just after a beat is so gone within 1.75 intervals of that beat.
    ///
    /// In reliable mode a dead worker's in-flight job goes back to its queue instead of
    /// becoming a failure ([`resque_failure::Backend::unregister_worker`]). Then jobs held
    /// ahead by workers no longer registered go back to their queues (`reap_held`).
    ///
    /// Unlike Ruby, rule 2 asks the kernel whether the pid exists rather than looking for a
    /// resque-titled process in `ps`: a live worker of another Resque client (node-resque,
    /// titled `node ...`) is not taken for dead, and a reused pid is caught by rules 1 and 3.
    /// Rule 3 waits one lease after start-up and after any Redis error this worker saw, so a
    /// Redis outage (when no worker could beat) does not make every worker look dead.
    pub(super) fn prune_dead_workers(&mut self, startup: bool) -> Result<(), Error> {
        let id = self.id.as_str().to_owned();
        let store = self.store;
        let heartbeat = self.cfg.heartbeat_interval;
        let prune_after = i64::try_from(self.prune_interval().as_secs()).unwrap_or(i64::MAX);
        // Ruby's heartbeat interval at start-up; the periodic passes hold it for as long as
        // their period.
        let lock_for = if startup { heartbeat } else { heartbeat / 4 };
        let got_lock = block_on(self.rt, || store.acquire_pruning_lock(&id, lock_for))?;
        if !got_lock {
            return Ok(());
        }
        let use_leases = !startup && std::time::Instant::now() >= self.lease_rule_from;
        let (all, heartbeats, leases, (now, micros)) = block_on(self.rt, || async {
            Ok::<_, resque_store::Error>((
                store.worker_ids().await?,
                store.heartbeats().await?,
                if use_leases {
                    store.leases().await?
                } else {
                    Default::default()
                },
                store.server_time().await?,
            ))
        })?;
        let now_ms = now.saturating_mul(1000).saturating_add(micros / 1000);
        let mut expired: Vec<&String> = heartbeats
            .iter()
            .filter(|(_, hb)| {
                time::parse_iso8601(hb).is_some_and(|t| now - t.as_second() > prune_after)
            })
            .map(|(w, _)| w)
            .collect();
        expired.sort();
        for w in &expired {
            tracing::info!(worker = %w, "pruning dead worker (heartbeat expired)");
            self.unregister_other(w, true)?;
        }
        let hostname = self.id.hostname().to_owned();
        let mine: std::collections::BTreeSet<&str> = self
            .cfg
            .queues
            .configured()
            .iter()
            .map(String::as_str)
            .collect();
        let mut no_process = Vec::new();
        for w in all.iter().filter(|w| !expired.contains(w) && **w != id) {
            // Ruby splits on every ':' here (unlike Worker.find).
            let mut parts = w.split(':');
            let (host, pid, queues) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let theirs: std::collections::BTreeSet<&str> = queues.split(',').collect();
            if !(mine.contains("*") || theirs == mine) || host != Some(hostname.as_str()) {
                continue;
            }
            if pid.is_none_or(pid_exists) {
                continue;
            }
            tracing::info!(worker = %w, "pruning dead worker (no such process)");
            self.unregister_other(w, false)?;
            no_process.push(w);
        }
        let mut lapsed: Vec<&String> = leases
            .iter()
            .filter(|(w, deadline)| {
                **deadline < now_ms && **w != id && !expired.contains(w) && !no_process.contains(w)
            })
            .map(|(w, _)| w)
            .collect();
        lapsed.sort();
        for w in &lapsed {
            tracing::info!(worker = %w, "pruning dead worker (no heartbeat within its lease)");
            self.unregister_other(w, true)?;
        }
        self.reap_held()
    }

    /// Jobs reserved ahead by workers no longer registered (whoever unregistered them: a
    /// Ruby pruner knows nothing of held lists) go back to the head of their queues; a
    /// worker that holds nothing leaves `resque-rs:holders`.
    fn reap_held(&mut self) -> Result<(), Error> {
        let store = self.store;
        block_on(self.rt, || async {
            let holders = store.holders().await?;
            if holders.is_empty() {
                return Ok(());
            }
            let registered: std::collections::HashSet<String> =
                store.worker_ids().await?.into_iter().collect();
            for w in holders.iter().filter(|w| !registered.contains(*w)) {
                let held = store.held(w).await?;
                if let Some(n) = store.return_held(w, &held).await?
                    && n > 0
                {
                    tracing::warn!(worker = %w, jobs = n, "put a gone worker's jobs reserved ahead back at the head of their queues");
                }
            }
            Ok::<_, resque_store::Error>(())
        })?;
        Ok(())
    }

    /// `unregister_worker` for another (dead) worker: its in-progress job becomes a failure
    /// (running the job class's `on_failure` hook if it is one of ours), then its entries go.
    pub(super) fn unregister_other(
        &mut self,
        worker: &str,
        heartbeat_expired: bool,
    ) -> Result<(), Error> {
        let why = if heartbeat_expired {
            Departure::HeartbeatExpired
        } else {
            Departure::DirtyExit
        };
        let registry = self.registry;
        block_on(self.rt, || {
            self.backend
                .unregister_worker(self.store, worker, why, |f| {
                    run_failure_hook(registry, &f.payload, &f.exception, &f.error)
                })
        })?;
        Ok(())
    }
}

/// Whether a process with this pid exists (`kill(pid, 0)`: only "no such process" says
/// no; a pid we may not signal is someone's live process). A pid that is not a positive
/// number counts as alive, so nothing is pruned on a misread id.
fn pid_exists(pid: &str) -> bool {
    let Some(pid) = pid.parse::<i32>().ok().filter(|p| *p > 0) else {
        return true;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}
