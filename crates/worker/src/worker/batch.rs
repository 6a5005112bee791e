//! Job slots' reservations, sent together: with `CONCURRENCY` above 1, each slot's end of
//! one job and start of the next (its part of the reserve script, made by its own store)
//! goes to one thread that sends every part waiting as one script call. Thirty slots on a
//! Redis a millisecond away then share a round trip instead of taking one each, and Redis
//! runs one script call for many jobs.
//!
//! Each part is a worker's own call, in Redis's eyes and in the end state: its own keys,
//! token and answer record (a resent part is answered, not run again), so what ARCHITECTURE
//! says of one worker's reservation holds for each slot.

use std::sync::Arc;

use resque_store::{Connection, ReserveSection, SectionReply, Store};
use tokio::sync::{Semaphore, mpsc};

use super::{Error, sys};

/// The most parts one call carries (a slot's part has 12 keys and its queues').
const MAX_PARTS: usize = 64;

/// Calls sent and not yet answered at once, on one lane's connection. With one, the slots
/// that come back while it is out wait a whole round trip for the next; with a few, they go
/// in the next call at once and the round trips overlap (measured: 1, 2, 3, 4 and 8; 4 was
/// best).
const IN_FLIGHT: usize = 4;

/// Slots that share one lane (one thread and connection): the measured best for thirty
/// slots a millisecond from Redis was five lanes of six.
pub(super) const SLOTS_PER_LANE: u32 = 6;

type Reply = Result<SectionReply, resque_store::Error>;

struct Request {
    section: ReserveSection,
    reply: std::sync::mpsc::SyncSender<Reply>,
}

/// Where one slot's replies come back: made once per slot. The slot waits on it with its
/// thread parked (a futex), not in its runtime (an eventfd and an epoll wake a job).
pub(super) struct Mailbox {
    tx: std::sync::mpsc::SyncSender<Reply>,
    rx: std::sync::mpsc::Receiver<Reply>,
}

impl Mailbox {
    pub(super) fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        Self { tx, rx }
    }
}

/// The thread that sends the slots' parts (see the module docs). Dropped, it finishes what
/// it was sent and stops.
pub(super) struct Batcher {
    tx: Option<mpsc::UnboundedSender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Batcher {
    /// Connects its own connection to `conn` and starts the thread.
    pub(super) fn start(conn: &Connection, namespace: Option<&str>) -> Result<Arc<Self>, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(sys("building the reservations' runtime"))?;
        let store = rt.block_on(Store::connect(conn, namespace))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("reservations".into())
            .spawn(move || rt.block_on(serve(store, rx)))
            .map_err(sys("starting the reservations' thread"))?;
        Ok(Arc::new(Self {
            tx: Some(tx),
            thread: Some(thread),
        }))
    }

    /// Sends `section` with whatever other slots' parts are waiting, and waits for its
    /// reply (blocking this thread: call it outside the slot's runtime).
    pub(super) fn call(&self, mailbox: &Mailbox, section: ReserveSection) -> Reply {
        let stopped = || {
            // Only while the process stops (the thread outlives every slot): nothing sent.
            resque_store::Error::ScriptUnavailable("the reservations' thread has stopped".into())
        };
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        let reply = mailbox.tx.clone();
        tx.send(Request { section, reply }).map_err(|_| stopped())?;
        mailbox.rx.recv().map_err(|_| stopped())?
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(store: Store, mut rx: mpsc::UnboundedReceiver<Request>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut calls = tokio::task::JoinSet::new();
    while let Some(first) = rx.recv().await {
        // Waiting for a free call here, not after collecting, lets the parts that arrive
        // meanwhile join this call.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let mut parts = vec![first];
        while parts.len() < MAX_PARTS {
            match rx.try_recv() {
                Ok(r) => parts.push(r),
                Err(_) => break,
            }
        }
        let store = store.clone();
        calls.spawn(async move {
            send(&store, parts).await;
            drop(permit);
        });
        // Reaps the calls already answered, so the set does not grow.
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
}

async fn send(store: &Store, parts: Vec<Request>) {
    let (sections, replies): (Vec<_>, Vec<_>) =
        parts.into_iter().map(|r| (r.section, r.reply)).unzip();
    match store.send_sections(&sections).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A slot that stopped waiting is gone; its part was done all the same, and
                // its answer record tells it so if it asks again.
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.duplicate()));
            }
        }
    }
}
