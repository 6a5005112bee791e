//! The heartbeat thread of a worker that runs jobs in-process (`FORK_PER_JOB=false`): while a
//! job runs on the worker's own thread, nothing else does, so without it a long job would
//! let the heartbeat and the lease lapse and another worker would prune this one as dead.
//! A forking worker has no such thread (the parent must be single-threaded at each fork)
//! and beats while it waits for its child.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use resque_store::{Connection, Store};

/// A running heartbeat thread; stopped when dropped.
pub(super) struct Beat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set by the thread when `SISMEMBER workers <id>` said no: the worker registers again.
    lost: Arc<AtomicBool>,
    /// Set by the thread when a heartbeat failed (Redis away).
    failed: Arc<AtomicBool>,
}

impl Beat {
    /// Starts beating for worker `id` on a connection of its own, every `interval`
    /// (every 5 s at most after a failure), renewing a lease of `lease`.
    pub(super) fn start(
        conn: &Connection,
        namespace: Option<&str>,
        id: String,
        interval: Duration,
        lease: Duration,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicBool::new(false));
        let (conn, namespace) = (conn.clone(), namespace.map(str::to_owned));
        let (lost2, failed2) = (lost.clone(), failed.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("resque-heartbeat".to_owned())
            .spawn(move || {
                let tz = jiff::tz::TimeZone::system();
                let mut store = None;
                let mut wait = interval;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    let beat = rt.block_on(async {
                        let s = match &store {
                            Some(s) => Store::clone(s),
                            None => {
                                let s = Store::connect(&conn, namespace.as_deref()).await?;
                                store = Some(s.clone());
                                s
                            }
                        };
                        s.heartbeat(&id, &tz, Some(lease)).await
                    });
                    match beat {
                        Ok((_, registered)) => {
                            wait = interval;
                            if !registered {
                                lost2.store(true, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "heartbeat failed; retrying");
                            failed2.store(true, Ordering::Relaxed);
                            wait = interval.min(Duration::from_secs(5));
                        }
                    }
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            lost,
            failed,
        })
    }

    /// Whether the registration was seen gone since the last call.
    pub(super) fn registration_lost(&self) -> bool {
        self.lost.swap(false, Ordering::Relaxed)
    }

    /// Whether a heartbeat failed since the last call.
    pub(super) fn failed(&self) -> bool {
        self.failed.swap(false, Ordering::Relaxed)
    }
}

impl Drop for Beat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
