//! [`QueueWaiter`]: an idle worker's wait in Redis for a job, on a connection of its own,
//! that never takes the job (the reservation still does, so a job is never out of its
//! queue without `worker:<id>` for longer than that one script).

use std::time::Duration;

use fred::prelude::*;
use fred::types::config::Options;
use fred::types::lists::LMoveDirection;

use super::Store;
use crate::Result;

/// Waits for one queue to hold a job, blocking in Redis: `BLMOVE q q RIGHT RIGHT timeout`
/// takes the last item and puts it back at the tail in one step, so the queue is the same
/// before and after, and the reply only says "there is something". Needs Redis 6.2.
///
/// Its own connection, because a blocked connection can send nothing else; a wait is never
/// cancelled mid-way (the next command would queue behind it), it runs to its timeout.
pub struct QueueWaiter {
    client: fred::clients::Client,
    /// The connection's task: ended on drop, which closes the socket (and so unblocks the
    /// server side of a wait in progress).
    connection: tokio::task::JoinHandle<std::result::Result<(), fred::error::Error>>,
    key: String,
    queue: String,
}

impl std::fmt::Debug for QueueWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueWaiter")
            .field("queue", &self.queue)
            .finish()
    }
}

impl Drop for QueueWaiter {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Store {
    /// A waiter for `queue` on a new connection to the same server, with the same settings.
    pub async fn queue_waiter(&self, queue: &str) -> Result<QueueWaiter> {
        let client = self.client().clone_new();
        let connection = client.init().await?;
        Ok(QueueWaiter {
            client,
            connection,
            key: self.keys.queue(queue),
            queue: queue.to_owned(),
        })
    }
}

impl QueueWaiter {
    /// The queue this waiter watches.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Waits up to `timeout` (whole seconds or more are best; Redis takes fractions) for the
    /// queue to hold a job: `true` when it does (now or within the time), `false` when the
    /// time ran out. The queue is left as it was.
    pub async fn wait(&self, timeout: Duration) -> Result<bool> {
        // The command's own deadline comes after the server's, so a timeout is Redis's nil
        // reply, not a client-side cancellation.
        let options = Options {
            timeout: Some(timeout + Duration::from_secs(5)),
            ..Options::default()
        };
        let reply: std::result::Result<Option<Vec<u8>>, _> = self
            .client
            .with_options(&options)
            .blmove(
                &self.key,
                &self.key,
                LMoveDirection::Right,
                LMoveDirection::Right,
                timeout.as_secs_f64(),
            )
            .await;
        match reply {
            Ok(item) => Ok(item.is_some()),
            // fred turns the server's nil (the time ran out) into a timeout error.
            Err(e) if *e.kind() == fred::error::ErrorKind::Timeout => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
