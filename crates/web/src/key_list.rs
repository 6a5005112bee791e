//! The key list (`/stats/keys`): every key of the namespace, sorted, read once for all the
//! requests of [`KEEP_FOR`]. Read for each page it was a `SCAN` of the whole keyspace and a
//! sort: with the 4,400 keys our job metrics keep, 3.6 ms of Redis a request and p99 38 ms
//! at 8 connections (`scripts/bench-web.sh`). The list may be that much behind; each key's
//! type and size on the page are read live.

use std::sync::Arc;
use std::time::{Duration, Instant};

use resque_store::Store;

/// How long a list read is used.
pub(crate) const KEEP_FOR: Duration = Duration::from_secs(2);

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct KeyList {
    /// The last list and when it was read. Held while reading, so that requests arriving
    /// meanwhile wait for that read rather than each start one.
    kept: tokio::sync::Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl KeyList {
    /// The namespace's keys (without it), sorted: the kept list if it is fresh, else a new
    /// read ([`Store::all_keys`]).
    pub(crate) async fn get(&self, store: &Store) -> resque_store::Result<Arc<Vec<String>>> {
        let mut kept = self.kept.lock().await;
        if let Some((at, keys)) = &*kept
            && at.elapsed() < KEEP_FOR
        {
            return Ok(Arc::clone(keys));
        }
        let keys = Arc::new(store.all_keys().await?);
        *kept = Some((Instant::now(), Arc::clone(&keys)));
        Ok(keys)
    }
}
