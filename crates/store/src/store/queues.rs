//! Queues: `Resque::DataStore::QueueAccess`.

use std::collections::HashMap;

use fred::prelude::*;
use fred::types::Value as RedisValue;

use super::{MAX_ITEMS_PER_RPUSH, Store, value_to_bytes, value_to_string};
use crate::Result;

impl Store {
    /// `push_to_queue`: `SADD queues <q>` and `RPUSH queue:<q> <item>` in one round trip.
    pub async fn push(&self, queue: &str, encoded: &str) -> Result<()> {
        let p = self.client().pipeline();
        let () = p.sadd(self.keys.queues(), queue).await?;
        let () = p.rpush(self.keys.queue(queue), encoded).await?;
        let _: (i64, i64) = p.all().await?;
        Ok(())
    }

    /// Pushes many items, possibly to several queues, in one round trip: one `SADD queues`
    /// of every queue named, then `RPUSH`es that keep each queue's items in order.
    pub async fn push_many<Q: AsRef<str>, S: AsRef<str>>(&self, items: &[(Q, S)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        // Group by queue, keeping the first-seen order of queues and the order within each.
        let mut order: Vec<&str> = Vec::new();
        let mut by_queue: HashMap<&str, Vec<&str>> = HashMap::new();
        for (q, s) in items {
            let q = q.as_ref();
            by_queue
                .entry(q)
                .or_insert_with(|| {
                    order.push(q);
                    Vec::new()
                })
                .push(s.as_ref());
        }
        let p = self.client().pipeline();
        let () = p.sadd(self.keys.queues(), order.clone()).await?;
        for q in &order {
            let key = self.keys.queue(q);
            for chunk in by_queue[q].chunks(MAX_ITEMS_PER_RPUSH) {
                let () = p.rpush(key.as_str(), chunk.to_vec()).await?;
            }
        }
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `pop_from_queue`: `LPOP queue:<q>`, the item's exact bytes (an item that is not
    /// UTF-8 must not fail after Redis has already removed it).
    pub async fn pop(&self, queue: &str) -> Result<Option<Vec<u8>>> {
        let v: RedisValue = self.client().lpop(self.keys.queue(queue), None).await?;
        Ok(value_to_bytes(v))
    }

    /// Puts an item back at the head of a queue, byte for byte (used to undo a pop of an
    /// item that could not be decoded, so nothing is lost).
    pub async fn push_front(&self, queue: &str, raw: &[u8]) -> Result<()> {
        let () = self
            .client()
            .lpush(
                self.keys.queue(queue),
                RedisValue::Bytes(raw.to_vec().into()),
            )
            .await?;
        Ok(())
    }

    /// `queue_size`: `LLEN queue:<q>`.
    pub async fn size(&self, queue: &str) -> Result<u64> {
        Ok(self.client().llen(self.keys.queue(queue)).await?)
    }

    /// `peek_in_queue` on a queue (see [`Store::list_range`]).
    pub async fn peek(&self, queue: &str, start: i64, count: i64) -> Result<Vec<String>> {
        self.list_range(&self.keys.queue(queue), start, count).await
    }

    /// `list_range` on any full key: `LINDEX` when `count == 1` (as Ruby), else
    /// `LRANGE start start+count-1`. Items that are not UTF-8 are shown lossily.
    pub async fn list_range(&self, key: &str, start: i64, count: i64) -> Result<Vec<String>> {
        if count <= 0 {
            return Ok(Vec::new());
        }
        if count == 1 {
            let v: RedisValue = self.client().lindex(key, start).await?;
            return Ok(value_to_string(v).into_iter().collect());
        }
        let vs: Vec<RedisValue> = self.client().lrange(key, start, start + count - 1).await?;
        Ok(vs.into_iter().filter_map(value_to_string).collect())
    }

    /// `queue_names`: `SMEMBERS queues`, sorted (Redis returns them in no order).
    pub async fn queue_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.client().smembers(self.keys.queues()).await?;
        names.sort();
        Ok(names)
    }

    /// `Resque.queue_sizes`: `LLEN` of every queue, pipelined.
    pub async fn queue_sizes(&self) -> Result<Vec<(String, u64)>> {
        let names = self.queue_names().await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client().pipeline();
        for n in &names {
            let () = p.llen(self.keys.queue(n)).await?;
        }
        let sizes: Vec<u64> = p.all().await?;
        Ok(names.into_iter().zip(sizes).collect())
    }

    /// `remove_queue`: `SREM queues <q>` and `DEL queue:<q>` in one pipeline. Returns
    /// `(removed from the set, keys deleted)` as Ruby's pipeline does.
    pub async fn remove_queue(&self, queue: &str) -> Result<(u64, u64)> {
        let p = self.client().pipeline();
        let () = p.srem(self.keys.queues(), queue).await?;
        let () = p.del(self.keys.queue(queue)).await?;
        Ok(p.all().await?)
    }

    /// `watch_queue`: `SADD queues <q>`.
    pub async fn watch_queue(&self, queue: &str) -> Result<()> {
        let () = self.client().sadd(self.keys.queues(), queue).await?;
        Ok(())
    }

    /// `everything_in_queue`: `LRANGE queue:<q> 0 -1`, as exact bytes.
    pub async fn everything_in_queue(&self, queue: &str) -> Result<Vec<Vec<u8>>> {
        let vs: Vec<RedisValue> = self.client().lrange(self.keys.queue(queue), 0, -1).await?;
        Ok(vs.into_iter().filter_map(value_to_bytes).collect())
    }

    /// `remove_from_queue`: `LREM queue:<q> 0 <exact bytes>`; returns how many went.
    pub async fn remove_from_queue(&self, queue: &str, item: &[u8]) -> Result<u64> {
        Ok(self
            .client()
            .lrem(
                self.keys.queue(queue),
                0,
                RedisValue::Bytes(item.to_vec().into()),
            )
            .await?)
    }
}
