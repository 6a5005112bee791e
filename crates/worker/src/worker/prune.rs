//! Ruby's `prune_dead_workers`: at start-up, the workers that died without unregistering.

use resque_failure::Departure;
use resque_protocol::time;

use super::child::run_failure_hook;

use super::{Error, Run, block_on};

impl Run<'_> {
    /// Ruby's `prune_dead_workers`, run at start-up under the `SET NX EX 60` lock:
    /// 1. every heartbeat older than [`Run::prune_interval`] (5 × the heartbeat interval) by Redis `TIME` (registered or not)
    ///    is unregistered, its job failed with `PruneDeadWorkerDirtyExit`;
    /// 2. every other registered worker on this host listening on the same queues (or any,
    ///    when this worker has `*`) whose pid is not a resque-titled process in `ps` is
    ///    unregistered, its job failed with `DirtyExit`.
    ///
    /// Unlike Ruby, pass 2 is skipped if `ps` cannot be run: an empty process list would
    /// otherwise make every live worker on the host look dead.
    pub(super) fn prune_dead_workers(&mut self) -> Result<(), Error> {
        let id = self.id.as_str().to_owned();
        let store = self.store;
        let heartbeat = self.cfg.heartbeat_interval;
        let prune_after = i64::try_from(self.prune_interval().as_secs()).unwrap_or(i64::MAX);
        let got_lock = block_on(self.rt, || {
            // EX takes whole seconds, at least 1.
            store.acquire_pruning_lock(&id, i64::try_from(heartbeat.as_secs()).unwrap_or(60).max(1))
        })?;
        if !got_lock {
            return Ok(());
        }
        let all = block_on(self.rt, || store.worker_ids())?;
        let known = live_resque_pids();
        let (heartbeats, (now, _)) = block_on(self.rt, || async {
            Ok::<_, resque_store::Error>((store.heartbeats().await?, store.server_time().await?))
        })?;
        let mut expired: Vec<String> = heartbeats
            .iter()
            .filter(|(_, hb)| {
                time::parse_iso8601(hb).is_some_and(|t| now - t.as_second() > prune_after)
            })
            .map(|(w, _)| w.clone())
            .collect();
        expired.sort();
        for w in &expired {
            tracing::info!(worker = %w, "pruning dead worker (heartbeat expired)");
            self.unregister_other(w, true)?;
        }
        let Some(known) = known else {
            tracing::warn!("cannot run ps; not pruning same-host workers without a heartbeat");
            return Ok(());
        };
        let hostname = self.id.hostname().to_owned();
        let mine: std::collections::BTreeSet<&str> = self
            .cfg
            .queues
            .configured()
            .iter()
            .map(String::as_str)
            .collect();
        for w in all.iter().filter(|w| !expired.contains(w)) {
            // Ruby splits on every ':' here (unlike Worker.find).
            let mut parts = w.split(':');
            let (host, pid, queues) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let theirs: std::collections::BTreeSet<&str> = queues.split(',').collect();
            if !(mine.contains("*") || theirs == mine) || host != Some(hostname.as_str()) {
                continue;
            }
            if pid.is_some_and(|p| known.contains(p)) {
                continue;
            }
            tracing::info!(worker = %w, "pruning dead worker (no such process)");
            self.unregister_other(w, false)?;
        }
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

/// Ruby's `worker_pids`: pids of processes whose command line looks like a Resque worker
/// (`ps -A -o pid,command | grep -E "[r]esque:work|[r]esque:\sStarting|[r]esque-[0-9]" |
/// grep -v resque-web`). `None` if `ps` cannot be run.
pub(super) fn live_resque_pids() -> Option<std::collections::HashSet<String>> {
    let out = std::process::Command::new("ps")
        .args(["-A", "-o", "pid,command"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter(|l| !l.contains("resque-web"))
            .filter(|l| {
                l.contains("resque:work")
                    || l.match_indices("resque:").any(|(i, m)| {
                        let mut rest = l[i + m.len()..].chars();
                        rest.next().is_some_and(char::is_whitespace)
                            && rest.as_str().starts_with("Starting")
                    })
                    || l.match_indices("resque-")
                        .any(|(i, m)| l[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
            })
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect(),
    )
}
