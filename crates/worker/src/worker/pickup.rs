//! Blocking pickup: an idle worker waits in Redis for a job instead of sleeping INTERVAL.
//!
//! One [`QueueWaiter`] per queue (each its own connection, as a blocked connection can send
//! nothing else) runs as a task on the worker's runtime and blocks in `BLMOVE q q RIGHT
//! RIGHT`, which leaves the queue as it was. When one returns, it hints the worker, which
//! runs its usual reservation over every queue in order: priorities hold, and a job leaves
//! its queue only inside the reserve script, as with polling. A waiter that fired waits to
//! be re-armed until the worker has found every queue empty again (its queue may hold the
//! job until then, and asking again would return at once).
//!
//! The worker still wakes every INTERVAL while idle, for what Ruby checks then: the
//! `pause-all-workers` flag (one GET) and, for `*` and globs, the queue list. The waits
//! themselves last [`BLOCK`] and are asked again after it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use resque_store::Store;
use signal_hook::consts::signal::{SIGCONT, SIGUSR2};
use tokio::sync::{mpsc, watch};

use super::{Error, Run, block_on};

/// How long one wait lasts in Redis before it is asked again.
pub(super) const BLOCK: Duration = Duration::from_secs(25);

/// More queues than this are polled (a connection each would be too many).
pub(super) const MAX_WAITERS: usize = 16;

/// The waiters of one worker and what they tell it.
pub(super) struct Pickup {
    waiters: HashMap<String, tokio::task::JoinHandle<()>>,
    hint_tx: mpsc::UnboundedSender<()>,
    hints: mpsc::UnboundedReceiver<()>,
    /// Bumped each time the worker finds every queue empty: fired waiters wait again.
    epoch: watch::Sender<u64>,
    /// Why Redis refused to wait (older than 6.2, an ACL): the worker polls from then on.
    refused: Arc<OnceLock<String>>,
    told: bool,
}

impl Pickup {
    pub(super) fn new() -> Self {
        let (hint_tx, hints) = mpsc::unbounded_channel();
        Self {
            waiters: HashMap::new(),
            hint_tx,
            hints,
            epoch: watch::Sender::new(0),
            refused: Arc::default(),
            told: false,
        }
    }

    /// Whether blocking pickup can be used (Redis did not refuse it).
    pub(super) fn usable(&mut self) -> bool {
        match self.refused.get() {
            None => true,
            Some(why) => {
                if !std::mem::replace(&mut self.told, true) {
                    tracing::warn!(reason = %why, "Redis will not block for jobs (BLMOVE); polling every INTERVAL instead");
                }
                false
            }
        }
    }

    /// Makes the waiters match `queues`: new ones start (connecting in their task), those
    /// of queues no longer worked end.
    fn sync(&mut self, rt: &tokio::runtime::Runtime, store: &Store, queues: &[String]) {
        self.waiters.retain(|q, task| {
            let keep = queues.contains(q);
            if !keep {
                task.abort();
            }
            keep
        });
        for queue in queues {
            if self.waiters.contains_key(queue) {
                continue;
            }
            let task = rt.spawn(wait_loop(
                store.clone(),
                queue.clone(),
                self.hint_tx.clone(),
                self.epoch.subscribe(),
                Arc::clone(&self.refused),
            ));
            self.waiters.insert(queue.clone(), task);
        }
    }

    /// After every queue was found empty: old hints are stale (a job that came since is
    /// hinted again by its re-armed waiter), and fired waiters may wait again.
    fn rearm(&mut self) {
        while self.hints.try_recv().is_ok() {}
        self.epoch.send_modify(|e| *e += 1);
    }
}

impl Drop for Pickup {
    fn drop(&mut self) {
        for task in self.waiters.values() {
            task.abort();
        }
    }
}

/// One queue's waiter: wait, hint, wait to be re-armed, and again.
async fn wait_loop(
    store: Store,
    queue: String,
    hints: mpsc::UnboundedSender<()>,
    mut epoch: watch::Receiver<u64>,
    refused: Arc<OnceLock<String>>,
) {
    let mut waiter = None;
    let mut armed_at = *epoch.borrow_and_update();
    loop {
        if waiter.is_none() {
            match store.queue_waiter(&queue).await {
                Ok(w) => waiter = Some(w),
                Err(e) => {
                    tracing::debug!(queue, error = %e, "opening the wait connection; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let Some(w) = &waiter else { continue };
        match w.wait(BLOCK).await {
            Ok(true) => {
                if hints.send(()).is_err() {
                    return;
                }
                if epoch.wait_for(|e| *e != armed_at).await.is_err() {
                    return;
                }
                armed_at = *epoch.borrow_and_update();
            }
            Ok(false) => {}
            Err(e) if refuses_blocking(&e) => {
                let _ = refused.set(e.to_string());
                let _ = hints.send(());
                return;
            }
            Err(e) => {
                // Redis away or restarting: fred reconnects; wait again shortly.
                tracing::debug!(queue, error = %e, "waiting for a job; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// An answer that will not change by asking again: no such command, or not allowed.
fn refuses_blocking(e: &resque_store::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("unknown command") || text.contains("noperm") || text.contains("blmove")
}

/// What ended a wait.
enum Woke {
    Hint,
    Signal(i32),
    Tick,
}

impl Run<'_> {
    /// An idle worker's wait, instead of sleeping: until a waiter hints that a queue holds
    /// a job, a signal that changes what the worker does, or `pause-all-workers` is seen at
    /// one of the INTERVAL checks (`cadence`). The heartbeat and the reaper keep their times.
    pub(super) fn wait_for_job(
        &mut self,
        queues: &[String],
        cadence: Duration,
    ) -> Result<(), Error> {
        self.pickup.sync(self.rt, self.store, queues);
        self.pickup.rearm();
        let mut tick = Instant::now() + cadence;
        while !self.flags.shutdown {
            self.heartbeat_if_due()?;
            let wake = tick.min(self.next_duty());
            let (signals, hints) = (&mut *self.signals, &mut self.pickup.hints);
            let woke = self.rt.block_on(async {
                use futures_util::StreamExt;
                tokio::select! {
                    h = hints.recv() => h.map_or(Woke::Tick, |()| Woke::Hint),
                    s = signals.next() => s.map_or(Woke::Tick, Woke::Signal),
                    () = tokio::time::sleep_until(wake.into()) => Woke::Tick,
                }
            });
            match woke {
                Woke::Hint => return Ok(()),
                Woke::Signal(s) => {
                    self.on_signal(s);
                    if s == SIGCONT || s == SIGUSR2 {
                        return Ok(());
                    }
                }
                Woke::Tick if Instant::now() >= tick => {
                    tick = Instant::now() + cadence;
                    // Ruby looks at the flag every INTERVAL: so do we (the reservation
                    // then sees it too and takes nothing).
                    if block_on(self.rt, || self.store.pause_all_requested()).unwrap_or(false) {
                        return Ok(());
                    }
                    if self.cfg.queues.is_dynamic() {
                        // A queue appeared (or went), or Redis did not answer: back to the
                        // reservation, which reads the list again (and retries on errors).
                        match block_on(self.rt, || self.store.queue_names()) {
                            Ok(names) if self.cfg.queues.resolve(&names).as_slice() == queues => {}
                            _ => return Ok(()),
                        }
                    }
                }
                Woke::Tick => {}
            }
        }
        self.flags.kill_child = false;
        Ok(())
    }
}
