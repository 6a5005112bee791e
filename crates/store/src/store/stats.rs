//! `stat:*` counters, and the default failure backend's list.

use fred::prelude::*;
use resque_protocol::Failure;

use super::Store;
use crate::Result;

impl Store {
    /// `Stat[name]`: `GET stat:<name>`, read like Ruby's `to_i`.
    pub async fn stat(&self, name: &str) -> Result<i64> {
        let v: Option<String> = self.client().get(self.keys.stat(name)).await?;
        Ok(resque_protocol::parse_stat(v.as_deref()))
    }

    /// `Stat.incr`: `INCRBY stat:<name> by`.
    pub async fn incr_stat(&self, name: &str, by: i64) -> Result<i64> {
        Ok(self.client().incr_by(self.keys.stat(name), by).await?)
    }

    /// `Stat.decr`: `DECRBY stat:<name> by`.
    pub async fn decr_stat(&self, name: &str, by: i64) -> Result<i64> {
        Ok(self.client().decr_by(self.keys.stat(name), by).await?)
    }

    /// `Stat.clear`: `DEL stat:<name>`.
    pub async fn clear_stat(&self, name: &str) -> Result<()> {
        let () = self.client().del(self.keys.stat(name)).await?;
        Ok(())
    }

    /// `num_failed`: `LLEN failed`.
    pub async fn failed_count(&self) -> Result<u64> {
        Ok(self.client().llen(self.keys.failed()).await?)
    }

    /// `push_to_failed_queue`: `RPUSH <list> <record>` (`failed` for the Redis backend).
    pub async fn push_failure(&self, list_name: &str, record: &Failure) -> Result<()> {
        let encoded = record.encode()?;
        let () = self
            .client()
            .rpush(self.keys.failure_list(list_name), encoded)
            .await?;
        Ok(())
    }
}
