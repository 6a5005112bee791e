//! Reading our job metrics and daily history ([`resque_protocol::metrics`]), which our
//! workers write with each job's bookkeeping (`finish_and_reserve.lua`, `Store::job_done`).

use std::collections::{BTreeMap, HashMap};

use fred::prelude::*;
use resque_protocol::metrics::{self, ClassStats};

use super::Store;
use crate::Result;

/// One UTC day's counts ([`Store::history_days`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayCounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Jobs our workers counted as processed that day.
    pub processed: u64,
    /// Of those, failed.
    pub failed: u64,
}

/// Figures per `(queue, class)`.
pub type ClassTable = BTreeMap<(String, String), ClassStats>;

impl Store {
    /// The named UTC days' counts (`YYYY-MM-DD`, [`metrics::day`]), in the order given (a
    /// day without jobs is zero): one pipeline.
    pub async fn history_days(&self, days: &[String]) -> Result<Vec<DayCounts>> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client().pipeline();
        for d in days {
            let () = p
                .hmget(self.keys.history(d), vec!["processed", "failed"])
                .await?;
        }
        let replies: Vec<Vec<Option<i64>>> = p.all().await?;
        Ok(days
            .iter()
            .zip(replies)
            .map(|(day, r)| {
                let n = |i: usize| {
                    r.get(i)
                        .copied()
                        .flatten()
                        .and_then(|v| u64::try_from(v).ok())
                        .unwrap_or(0)
                };
                DayCounts {
                    processed: n(0),
                    failed: n(1),
                    day: day.clone(),
                }
            })
            .collect())
    }

    /// The named UTC minutes' job metrics (`YYYYMMDDHHMM`, [`metrics::minute`]), in the
    /// order given (a minute without jobs is empty): one pipeline.
    pub async fn job_metrics_minutes(&self, minutes: &[String]) -> Result<Vec<ClassTable>> {
        let keys: Vec<String> = minutes.iter().map(|m| self.keys.job_metrics(m)).collect();
        self.metric_tables(&keys).await
    }

    /// The named UTC hours' job metrics (`YYYYMMDDHH`, [`metrics::hour`]), in the order
    /// given: one pipeline.
    pub async fn job_metrics_hours(&self, hours: &[String]) -> Result<Vec<ClassTable>> {
        let keys: Vec<String> = hours
            .iter()
            .map(|h| self.keys.job_metrics_hour(h))
            .collect();
        self.metric_tables(&keys).await
    }

    async fn metric_tables(&self, keys: &[String]) -> Result<Vec<ClassTable>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client().pipeline();
        for k in keys {
            let () = p.hgetall(k).await?;
        }
        let replies: Vec<HashMap<String, String>> = p.all().await?;
        Ok(replies
            .iter()
            .map(|h| metrics::read_hash(h.iter().map(|(f, v)| (f.as_str(), v.as_str()))))
            .collect())
    }

    /// The job metrics since they began (for counters that only grow).
    pub async fn job_metrics_total(&self) -> Result<ClassTable> {
        let h: HashMap<String, String> =
            self.client().hgetall(self.keys.job_metrics_total()).await?;
        Ok(metrics::read_hash(
            h.iter().map(|(f, v)| (f.as_str(), v.as_str())),
        ))
    }

    /// Registered workers that hold no resque-rs lease: Ruby's or another client's (they
    /// write no metrics), or ours not yet beating.
    pub async fn workers_without_lease(&self) -> Result<usize> {
        let (workers, leases) = tokio::try_join!(self.worker_ids(), self.leases())?;
        Ok(workers.iter().filter(|w| !leases.contains_key(*w)).count())
    }
}
