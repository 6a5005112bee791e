//! The parent's waits: for a child, a signal, the next poll or the heartbeat; and what
//! each signal does (Ruby's `register_signal_handlers`).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::signal::{SIGCONT, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

use super::{Error, Run, block_on};

/// The signals the worker acts on (Ruby's `register_signal_handlers`).
pub(super) const SIGNALS: [i32; 6] = [SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCONT];

/// Parent-side flags set by signals.
#[derive(Debug, Default)]
pub(super) struct Flags {
    pub(super) shutdown: bool,
    pub(super) paused: bool,
    /// Kill the running child (TERM/INT/USR1), with TERM_CHILD escalation.
    pub(super) kill_child: bool,
}

impl Run<'_> {
    /// Waits for the child, reacting to signals: QUIT finishes the job; TERM and INT kill
    /// it (KILL, or with TERM_CHILD: the child signal after RESQUE_PRE_SHUTDOWN_TIMEOUT,
    /// KILL after RESQUE_TERM_TIMEOUT); USR1 kills it and goes on; USR2/CONT pause and
    /// resume. With a `timeout`, a child still running then gets the child signal, and KILL
    /// after `--timeout-grace`. Every signal goes to the child's process group (it leads
    /// one: see `fork`), so what the job started goes too. Returns how the child ended and
    /// whether its timeout stopped it.
    pub(super) fn wait_child(
        &mut self,
        pid: Pid,
        timeout: Option<Duration>,
    ) -> Result<(WaitStatus, bool), Error> {
        let cfg = self.cfg;
        let mut escalation: Option<(Instant, Signal)> = None;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut timed_out = false;
        loop {
            if self.flags.kill_child && escalation.is_none() {
                self.flags.kill_child = false;
                escalation = if cfg.term_child {
                    Some((Instant::now() + cfg.pre_shutdown_timeout, cfg.child_signal))
                } else {
                    signal_group(pid, Signal::SIGKILL);
                    None
                };
            }
            if let Some(at) = deadline
                && !timed_out
                && escalation.is_none()
                && Instant::now() >= at
            {
                timed_out = true;
                escalation = Some((at, cfg.child_signal));
            }
            if let Some((at, sig)) = escalation
                && Instant::now() >= at
            {
                signal_group(pid, sig);
                let grace = if timed_out {
                    cfg.timeout_grace
                } else {
                    cfg.term_timeout
                };
                escalation =
                    (sig != Signal::SIGKILL).then(|| (Instant::now() + grace, Signal::SIGKILL));
            }
            self.heartbeat_if_due()?;
            let mut wake = escalation.map_or(self.next_duty(), |(at, _)| at.min(self.next_duty()));
            if let Some(at) = deadline.filter(|_| !timed_out) {
                wake = wake.min(at);
            }
            // The wake pipe was emptied before the fork, so the child's SIGCHLD is in it by
            // the time it has exited: `waitpid` is asked after each wait, not before.
            let woke = self.wake.wait(wake);
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                // Another signal came (not the child's exit): take it, and any others,
                // from the runtime.
                Ok(WaitStatus::StillAlive) => {
                    if woke {
                        self.take_signals();
                    }
                }
                Ok(s) => {
                    // Whatever the job left in its group (an `--exec` program's children)
                    // goes with it when it was stopped.
                    if timed_out || escalation.is_some() {
                        signal_group(pid, Signal::SIGKILL);
                    }
                    return Ok((s, timed_out));
                }
                Err(e) => {
                    return Err(Error::Sys {
                        what: "waiting for the child",
                        source: e.into(),
                    });
                }
            }
        }
    }

    /// Handles the signals that have arrived, going through the runtime (whose reactor
    /// has to turn to see them), waiting at most a few milliseconds for stragglers.
    pub(super) fn take_signals(&mut self) {
        loop {
            let s = self.rt.block_on(async {
                tokio::select! {
                    s = self.signals.next() => s,
                    () = tokio::time::sleep(Duration::from_millis(2)) => None,
                }
            });
            match s {
                Some(s) => self.on_signal(s),
                None => break,
            }
        }
    }

    pub(super) fn on_signal(&mut self, sig: i32) {
        match sig {
            SIGQUIT => self.shutdown(false),
            SIGTERM if self.cfg.graceful_term => self.shutdown(false),
            SIGTERM | SIGINT => self.shutdown(true),
            SIGUSR1 => self.flags.kill_child = true,
            SIGUSR2 => {
                tracing::info!("USR2 received; pausing job processing");
                for h in &self.hooks.before_pause {
                    h(self.id.as_str());
                }
                self.flags.paused = true;
            }
            SIGCONT => {
                tracing::info!("CONT received; resuming job processing");
                for h in &self.hooks.after_pause {
                    h(self.id.as_str());
                }
                self.flags.paused = false;
            }
            _ => {}
        }
    }

    /// Ruby's `shutdown` (finish the job) or `shutdown!` (kill the child); the `shutdown`
    /// hooks run once.
    pub(super) fn shutdown(&mut self, kill_child: bool) {
        if !self.flags.shutdown {
            for h in &self.hooks.shutdown {
                h();
            }
        }
        self.flags.shutdown = true;
        self.flags.kill_child |= kill_child;
    }

    /// Handles signals already delivered, without waiting.
    pub(super) fn drain_signals(&mut self) {
        loop {
            let s = self.rt.block_on(async {
                tokio::select! {
                    biased;
                    s = self.signals.next() => s,
                    () = std::future::ready(()) => None,
                }
            });
            match s {
                Some(s) => self.on_signal(s),
                None => break,
            }
        }
        // A kill request with no child running is moot.
        self.flags.kill_child = false;
    }

    /// Sleeps `d`, waking early for QUIT/TERM/INT, and beating the heart when due.
    pub(super) fn sleep(&mut self, d: Duration) -> Result<(), Error> {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.flags.shutdown {
            self.heartbeat_if_due()?;
            let wake = until.min(self.next_duty());
            let sig = self.rt.block_on(async {
                tokio::select! {
                    s = self.signals.next() => s,
                    () = tokio::time::sleep_until(wake.into()) => None,
                }
            });
            if let Some(s) = sig {
                self.on_signal(s);
                if s == SIGCONT || s == SIGUSR2 {
                    return Ok(());
                }
            }
        }
        self.flags.kill_child = false;
        Ok(())
    }

    /// The next time the heartbeat or the reaper is due.
    pub(super) fn next_duty(&self) -> Instant {
        self.next_heartbeat.min(self.next_reap)
    }

    /// Beats the heart (renewing this worker's lease) and runs the periodic reaper, each
    /// when due. With a heartbeat thread (in-process jobs), only takes its news.
    pub(super) fn heartbeat_if_due(&mut self) -> Result<(), Error> {
        // fred reconnects by itself (to the new master, after a failover): say so once.
        self.store.log_connection_news();
        let now = Instant::now();
        let interval = self.cfg.heartbeat_interval;
        if let Some(beat) = &self.beat {
            if beat.failed() {
                self.lease_rule_from = now + super::lease(self.cfg);
            }
            if beat.registration_lost() && !self.started.is_empty() {
                self.register_again();
            }
            self.next_heartbeat = now + interval;
        } else if now >= self.next_heartbeat {
            let lease = Some(super::lease(self.cfg));
            match block_on(self.rt, || {
                self.store.heartbeat(self.id.as_str(), &self.tz, lease)
            }) {
                Ok((_, registered)) => {
                    self.next_heartbeat = Instant::now() + interval;
                    if !registered && !self.started.is_empty() {
                        self.register_again();
                    }
                }
                // Redis away: try again soon; the worker keeps going.
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed; retrying");
                    self.next_heartbeat = Instant::now() + interval.min(Duration::from_secs(5));
                    self.lease_rule_from = now + super::lease(self.cfg);
                }
            }
        }
        if now >= self.next_reap && !self.started.is_empty() {
            self.next_reap = now + interval / 4;
            if let Err(e) = self.prune_dead_workers(false) {
                // Tried again at the next pass; workers' leases are trusted only a lease
                // after Redis answers again.
                tracing::warn!(error = %e, "pruning dead workers failed");
                self.lease_rule_from = Instant::now() + super::lease(self.cfg);
            }
        }
        Ok(())
    }

    /// The worker's registration vanished (Redis restarted without its data, a failover to
    /// an empty replica, `resque remove` by mistake): register again, with the running
    /// job's `worker:<id>`, so Ruby's resque-web and pruning see this worker again.
    fn register_again(&mut self) {
        tracing::warn!(
            worker = %self.id,
            "this worker's registration is gone from Redis; registering again"
        );
        let (id, started) = (self.id.as_str(), self.started.as_str());
        let working_on = self.working_on.as_deref();
        let again = block_on(self.rt, || async {
            self.store.register_worker(id, started).await?;
            if let Some(w) = working_on {
                self.store.set_working_on(id, w).await?;
            }
            Ok::<_, resque_store::Error>(())
        });
        if let Err(e) = again {
            // Tried again at the next heartbeat.
            tracing::warn!(error = %e, "registering again failed");
        }
    }
}

/// Sends `sig` to the child's process group, or to the child alone if the group is gone or
/// not made yet (it leads its group from its first instruction on; see `fork`).
fn signal_group(pid: Pid, sig: Signal) {
    if kill(Pid::from_raw(-pid.as_raw()), sig).is_err() {
        let _ = kill(pid, sig);
    }
}
