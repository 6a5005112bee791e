//! The Retry tab, at resque-retry's routes: the delayed queue with each job's retry
//! attempts (`resque-retry:<Class>:<identifier>`), one timestamp's jobs with the failure
//! kept for their pending retry (`failure-resque-retry:...`), and removing a retry (the job
//! at its time, its counter and its record). The identifier is the default one (the SHA1 of
//! the args, Ruby 3.3's `Hash#inspect`); a class with its own identifier shows `n/a`, as in
//! Ruby's tab.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use resque_protocol::retry::{HashStyle, identifier};
use resque_protocol::{DelayedItem, Failure, Value};

use super::Page;
use crate::PER_PAGE;
use crate::app::{CheckedForm, Conn, Root, Web};
use crate::error::Error;
use crate::query::{Paging, Q};
use crate::views::*;

/// One delayed job with its retry state.
#[derive(Debug, Clone)]
pub(crate) struct RetryJob {
    pub(crate) class: String,
    pub(crate) args: String,
    pub(crate) queue: String,
    /// The counter's value, or `n/a`.
    pub(crate) attempts: String,
    /// The suppressed failure record, if one is kept.
    pub(crate) failure: Option<Failure>,
    /// Where the Remove button posts.
    pub(crate) remove_href: String,
    pub(crate) malformed: Option<String>,
}

/// One row of the timestamps page.
#[derive(Debug, Clone)]
pub(crate) struct RetryRow {
    pub(crate) ts: i64,
    pub(crate) time: String,
    pub(crate) count: u64,
    pub(crate) href: String,
    pub(crate) first: Option<RetryJob>,
}

impl Web {
    /// A delayed item with its counter (and, with `with_failure`, its suppressed record).
    async fn retry_job(
        &self,
        c: &Conn,
        root: &Root,
        ts: i64,
        raw: &[u8],
        with_failure: bool,
    ) -> Result<RetryJob, Error> {
        let remove_href = format!(
            "{}/retry/{ts}/jobs/{}/remove",
            root.0,
            seg(&String::from_utf8_lossy(raw))
        );
        let item = match DelayedItem::decode(raw) {
            Ok(item) => item,
            Err(e) => {
                return Ok(RetryJob {
                    class: String::new(),
                    args: shorten(&String::from_utf8_lossy(raw), 2000),
                    queue: String::new(),
                    attempts: "n/a".to_owned(),
                    failure: None,
                    remove_href,
                    malformed: Some(e.to_string()),
                });
            }
        };
        let store = c.client.store()?;
        let id = identifier(&item.args, HashStyle::Ruby33);
        let counter = store.keys().retry_counter(&item.class, id.as_deref());
        let attempts = store
            .get_bytes(&counter)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|| "n/a".to_owned());
        let failure = if with_failure {
            let key = store.keys().retry_failure(&item.class, id.as_deref());
            store
                .get_bytes(&key)
                .await?
                .and_then(|b| serde_json::from_slice::<Failure>(&b).ok())
        } else {
            None
        };
        Ok(RetryJob {
            args: show_args(Some(&Value::Array(item.args.clone()))),
            queue: item.queue.clone().unwrap_or_default(),
            class: item.class,
            attempts,
            failure,
            remove_href,
            malformed: None,
        })
    }
}

pub(crate) async fn retry(
    State(web): State<Web>,
    root: Root,
    Q(Paging { start }): Q<Paging>,
) -> Page {
    let c = web.conn().await?;
    let store = c.client.store()?;
    let (size, tss) = tokio::try_join!(
        c.client.delayed_queue_schedule_size(),
        c.client.delayed_queue_peek(start as i64, PER_PAGE as i64)
    )?;
    let mut rows = Vec::with_capacity(tss.len());
    for ts in tss {
        let (count, first) = tokio::try_join!(
            store.delayed_timestamp_size(ts),
            store.delayed_timestamp_items(ts, 0, 1)
        )?;
        let first = match first.first() {
            Some(raw) => Some(web.retry_job(&c, &root, ts, raw, false).await?),
            None => None,
        };
        rows.push(RetryRow {
            ts,
            time: local_time(ts),
            count,
            href: format!("{}/retry/{ts}", root.0),
            first,
        });
    }
    let base = format!("{}/retry", root.0);
    Ok(RetryPage {
        l: web.chrome(&root, "retry", false),
        info: PageInfo {
            start,
            size,
            per_page: PER_PAGE,
            noun: "timestamp",
        },
        pager: Pager::new(start, Some(size), false, PER_PAGE, |s| {
            format!("{base}?start={s}")
        }),
        rows,
    }
    .into_response())
}

fn timestamp(text: &str) -> Result<i64, Error> {
    text.parse()
        .map_err(|_| Error::NotFound(format!("{text:?} is not a timestamp")))
}

pub(crate) async fn retry_timestamp(
    State(web): State<Web>,
    root: Root,
    Path(ts): Path<String>,
    Q(Paging { start }): Q<Paging>,
) -> Page {
    let ts = timestamp(&ts)?;
    let c = web.conn().await?;
    let store = c.client.store()?;
    let (size, items) = tokio::try_join!(
        store.delayed_timestamp_size(ts),
        store.delayed_timestamp_items(ts, start as i64, PER_PAGE as i64)
    )?;
    let mut jobs = Vec::with_capacity(items.len());
    for raw in &items {
        jobs.push(web.retry_job(&c, &root, ts, raw, true).await?);
    }
    let base = format!("{}/retry/{ts}", root.0);
    Ok(RetryTimestampPage {
        l: web.chrome(&root, "retry", false),
        time: local_time(ts),
        remove_all: format!("{base}/remove"),
        info: PageInfo {
            start,
            size,
            per_page: PER_PAGE,
            noun: "job",
        },
        pager: Pager::new(start, Some(size), false, PER_PAGE, |s| {
            format!("{base}?start={s}")
        }),
        jobs,
    }
    .into_response())
}

/// Removes one retry: the job at its time (its exact bytes), its counter and its record.
async fn remove_one(c: &Conn, ts: i64, raw: &str) -> Result<u64, Error> {
    let store = c.client.store()?;
    let n = store.delayed_remove_at(ts, raw).await?;
    if let Ok(item) = DelayedItem::decode(raw.as_bytes()) {
        let id = identifier(&item.args, HashStyle::Ruby33);
        store
            .delete(&store.keys().retry_counter(&item.class, id.as_deref()))
            .await?;
        store
            .delete(&store.keys().retry_failure(&item.class, id.as_deref()))
            .await?;
    }
    Ok(n)
}

/// `POST /retry/:timestamp/jobs/:id/remove` (`:id` the item's JSON, URL-escaped).
pub(crate) async fn retry_remove_job(
    State(web): State<Web>,
    root: Root,
    Path((ts, item)): Path<(String, String)>,
    _f: CheckedForm,
) -> Page {
    let ts = timestamp(&ts)?;
    let c = web.conn().await?;
    if remove_one(&c, ts, &item).await? == 0 {
        return Err(Error::NotFound(
            "No such job at that time (already run or removed?)".to_owned(),
        ));
    }
    Ok(Redirect::to(&format!("{}/retry/{ts}", root.0)).into_response())
}

/// `POST /retry/:timestamp/remove`: every job of the timestamp, with their counters and
/// records (one timestamp's list: the page that shows it reads it a page at a time, this
/// action reads it whole, as there is no other way to know its items).
pub(crate) async fn retry_remove_timestamp(
    State(web): State<Web>,
    root: Root,
    Path(ts): Path<String>,
    _f: CheckedForm,
) -> Page {
    let ts = timestamp(&ts)?;
    let c = web.conn().await?;
    let items = c.client.store()?.delayed_timestamp_items(ts, 0, 0).await?;
    for raw in items {
        remove_one(&c, ts, &String::from_utf8_lossy(&raw)).await?;
    }
    Ok(Redirect::to(&format!("{}/retry", root.0)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "retry/retry.html")]
pub(crate) struct RetryPage {
    pub(crate) l: Chrome,
    pub(crate) info: PageInfo,
    pub(crate) pager: Pager,
    pub(crate) rows: Vec<RetryRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "retry/timestamp.html")]
pub(crate) struct RetryTimestampPage {
    pub(crate) l: Chrome,
    pub(crate) time: String,
    pub(crate) remove_all: String,
    pub(crate) info: PageInfo,
    pub(crate) pager: Pager,
    pub(crate) jobs: Vec<RetryJob>,
}
