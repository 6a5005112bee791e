//! The HTML pages and the form actions, at Ruby's resque-web paths: one file per tab, each
//! with its handlers and the template structs of its pages (the shared pieces, the page
//! frame and the tables two tabs show, stay here and in `views`).

mod delayed;
mod failed;
mod failed_actions;
mod metrics;
mod overview;
mod queues;
mod retry;
mod schedule;
mod stats;
mod workers;

pub(crate) use delayed::*;
pub(crate) use failed::*;
pub(crate) use failed_actions::*;
pub(crate) use metrics::*;
pub(crate) use overview::*;
pub(crate) use queues::*;
pub(crate) use retry::*;
pub(crate) use schedule::*;
pub(crate) use stats::*;
pub(crate) use workers::*;

use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::{Conn, Root, Web};
use crate::error::Error;
use crate::views::*;

pub(crate) type Page = Result<Response, Error>;

/// The tabs, as `Resque::Server.tabs` with resque-scheduler's two and resque-retry's one
/// after Stats, then ours (Metrics, at `/job-metrics`: `/metrics` is Prometheus's).
const TABS: [&str; 10] = [
    "Overview", "Working", "Failed", "Queues", "Workers", "Stats", "Schedule", "Delayed", "Retry",
    "Metrics",
];

/// A tab's path below the root.
fn tab_path(tab: &str) -> String {
    match tab {
        "Metrics" => "job-metrics".to_owned(),
        t => t.to_lowercase(),
    }
}

impl Web {
    /// The page frame for a tab.
    pub(crate) fn chrome(&self, root: &Root, tab: &str, fragment: bool) -> Chrome {
        let root = root.0.clone();
        let mut tabs: Vec<Tab> = TABS
            .iter()
            .map(|t| Tab {
                label: (*t).to_owned(),
                href: format!("{root}/{}", tab_path(t)),
                current: t.eq_ignore_ascii_case(tab),
            })
            .collect();
        for (label, href) in &self.config().tabs {
            let href = if href.starts_with('/') || href.contains("://") {
                href.clone()
            } else {
                format!("{root}/{href}")
            };
            tabs.push(Tab {
                label: label.clone(),
                current: false,
                href,
            });
        }
        let namespace = self.namespace().to_owned();
        Chrome {
            root,
            tabs,
            subtabs: Vec::new(),
            show_namespace: namespace != resque_protocol::DEFAULT_NAMESPACE,
            namespace,
            redis_id: self.redis_id().to_owned(),
            version: resque_protocol::RESQUE_VERSION,
            csrf: self.csrf().to_owned(),
            fragment,
            poll_ms: self.config().poll_interval.as_millis(),
            clock: jiff::Zoned::now().strftime("%H:%M:%S").to_string(),
        }
    }

    async fn queues_table(&self, c: &Conn, root: &Root) -> Result<QueuesTable, Error> {
        let r = &root.0;
        let sizes = async { Ok::<_, Error>(c.client.queue_sizes().await?) };
        let (mut sizes, failed) = tokio::try_join!(sizes, self.failed_rows(c, root))?;
        sizes.sort();
        let queues = sizes
            .into_iter()
            .map(|(name, size)| QueueRow {
                href: format!("{r}/queues/{}", seg(&name)),
                name,
                size,
                empty: size == 0,
                first: false,
            })
            .collect();
        Ok(QueuesTable { queues, failed })
    }

    /// The failed row(s) of the queues table: `failed`, or one per multi-queue list.
    async fn failed_rows(&self, c: &Conn, root: &Root) -> Result<Vec<QueueRow>, Error> {
        let r = &root.0;
        let mut failed = Vec::new();
        if self.multiple_failed_lists(c).await? {
            let mut lists = c.failures.queues().await?;
            lists.sort();
            for (i, name) in lists.into_iter().enumerate() {
                let size = c.failures.count(Some(&name), None).await?;
                failed.push(QueueRow {
                    href: format!("{r}/failed/{}", seg(&name)),
                    name,
                    size,
                    empty: size == 0,
                    first: i == 0,
                });
            }
        } else {
            let size = c.failures.count(None, None).await?;
            failed.push(QueueRow {
                name: resque_protocol::failure::FAILED_LIST.to_owned(),
                href: format!("{r}/failed"),
                size,
                empty: size == 0,
                first: true,
            });
        }
        Ok(failed)
    }

    /// Ruby's `failed_multiple_queues?`.
    async fn multiple_failed_lists(&self, c: &Conn) -> Result<bool, Error> {
        if c.failures.is_multi_queue() {
            return Ok(true);
        }
        let lists = c.failures.queues().await?;
        Ok(lists.len() > 1)
    }

    /// Registered workers with what they are doing (`SMEMBERS` + one `MGET`).
    async fn worker_rows(&self, c: &Conn) -> Result<Vec<WorkerRow>, Error> {
        Ok(self
            .workers_with_payloads(c)
            .await?
            .iter()
            .map(|(id, p)| WorkerRow::new(id, p.as_deref()))
            .collect())
    }

    async fn working_table(&self, c: &Conn) -> Result<WorkingTable, Error> {
        let rows = self.worker_rows(c).await?;
        let total_workers = rows.len();
        let ids = rows.iter().map(|r| r.id.clone()).collect();
        let mut working: Vec<WorkerRow> = rows.into_iter().filter(|w| w.job.is_some()).collect();
        // Ruby sorts by run_at (as text).
        working.sort_by(|a, b| {
            let key = |w: &WorkerRow| w.job.as_ref().map(|j| j.run_at.raw.clone());
            key(a).cmp(&key(b))
        });
        Ok(WorkingTable {
            working,
            total_workers,
            ids,
        })
    }
}

/// Unknown paths: a trailing slash is dropped (Ruby's routes accept `/overview/`); anything
/// else is a 404 page.
pub(crate) async fn not_found(root: Root, uri: Uri) -> Response {
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let target = match uri.query() {
            Some(q) => format!("{}{trimmed}?{q}", root.0),
            None => format!("{}{trimmed}", root.0),
        };
        return Redirect::permanent(&target).into_response();
    }
    Error::NotFound(format!("Nothing here: {path}")).into_response()
}
