//! The Delayed tab, at resque-scheduler's routes: timestamps a page at a time, one
//! timestamp's jobs, every timestamp of one job, a search, and the actions (queue now,
//! cancel, clear), each one step in Redis.
//!
//! No page reads a whole list: the timestamps page reads 20 timestamps with their length
//! and first item, a timestamp's page 20 items, and the search runs inside Redis, bounded
//! to [`SEARCH_LIMIT`] matches per kind. The "All schedules" page of one job finds its
//! queue from the link (our links carry it), else by `SCAN`ning `timestamps:` keys of that
//! class and args, since the dashboard has no Ruby class to ask for a queue.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use resque_protocol::{DelayedItem, Value};

use super::Page;
use crate::PER_PAGE;
use crate::app::{CheckedForm, Root, Web};
use crate::error::Error;
use crate::query::{Paging, Q};
use crate::views::*;

/// Matches shown per kind (delayed, queued, working) by a search.
const SEARCH_LIMIT: usize = 100;

/// One delayed job, ready to show (and to act on: `raw` is its exact bytes).
#[derive(Debug, Clone)]
pub(crate) struct DelayedJob {
    pub(crate) ts: i64,
    pub(crate) time: String,
    pub(crate) class: String,
    pub(crate) args: String,
    pub(crate) queue: String,
    pub(crate) raw: String,
    pub(crate) all_href: String,
    pub(crate) malformed: Option<String>,
}

impl DelayedJob {
    fn new(root: &Root, ts: i64, raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw).into_owned();
        match DelayedItem::decode(raw) {
            Ok(item) => {
                let args_json = resque_protocol::json::to_string(&item.args).unwrap_or_default();
                let mut href = format!(
                    "{}/delayed/jobs/{}?args={}",
                    root.0,
                    seg(&item.class),
                    seg(&args_json)
                );
                if let Some(q) = &item.queue {
                    href.push_str(&format!("&queue={}", seg(q)));
                }
                Self {
                    ts,
                    time: local_time(ts),
                    args: show_args(Some(&Value::Array(item.args.clone()))),
                    queue: item.queue.clone().unwrap_or_default(),
                    class: item.class,
                    raw: text,
                    all_href: href,
                    malformed: None,
                }
            }
            Err(e) => Self {
                ts,
                time: local_time(ts),
                class: String::new(),
                args: String::new(),
                queue: String::new(),
                raw: shorten(&text, 2000),
                all_href: String::new(),
                malformed: Some(e.to_string()),
            },
        }
    }
}

/// One row of the timestamps page.
#[derive(Debug, Clone)]
pub(crate) struct TimestampRow {
    pub(crate) ts: i64,
    pub(crate) time: String,
    pub(crate) count: u64,
    pub(crate) href: String,
    /// The job, when it is the only one.
    pub(crate) only: Option<DelayedJob>,
}

pub(crate) async fn delayed(
    State(web): State<Web>,
    root: Root,
    Q(Paging { start }): Q<Paging>,
) -> Page {
    let c = web.conn().await?;
    let client = &c.client;
    let store = client.store()?;
    let (size, tss) = tokio::try_join!(
        client.delayed_queue_schedule_size(),
        client.delayed_queue_peek(start as i64, PER_PAGE as i64)
    )?;
    let rows = futures_util::future::try_join_all(tss.into_iter().map(|ts| {
        let root = &root;
        async move {
            let (count, first) = tokio::try_join!(
                store.delayed_timestamp_size(ts),
                store.delayed_timestamp_items(ts, 0, 1)
            )?;
            Ok::<_, Error>(TimestampRow {
                ts,
                time: local_time(ts),
                count,
                href: format!("{}/delayed/{ts}", root.0),
                only: (count == 1)
                    .then(|| first.first().map(|raw| DelayedJob::new(root, ts, raw)))
                    .flatten(),
            })
        }
    }))
    .await?;
    let base = format!("{}/delayed", root.0);
    Ok(DelayedPage {
        l: web.chrome(&root, "delayed", false),
        now: jiff::Zoned::now()
            .strftime("%Y-%m-%d %H:%M:%S %z")
            .to_string(),
        info: PageInfo {
            start,
            size,
            per_page: PER_PAGE,
            noun: "timestamp",
        },
        pager: Pager::new(start, Some(size), false, PER_PAGE, |s| {
            format!("{base}?start={s}")
        }),
        base,
        rows,
    }
    .into_response())
}

pub(crate) async fn delayed_timestamp(
    State(web): State<Web>,
    root: Root,
    Path(ts): Path<String>,
    Q(Paging { start }): Q<Paging>,
) -> Page {
    let ts: i64 = ts
        .parse()
        .map_err(|_| Error::NotFound(format!("{ts:?} is not a timestamp")))?;
    let c = web.conn().await?;
    let (size, items) = tokio::try_join!(
        c.client.delayed_timestamp_size(ts),
        c.client
            .store()?
            .delayed_timestamp_items(ts, start as i64, PER_PAGE as i64)
    )?;
    let base = format!("{}/delayed/{ts}", root.0);
    Ok(TimestampPage {
        l: web.chrome(&root, "delayed", false),
        time: local_time(ts),
        ts,
        cancel: format!("{}/delayed/cancel_now", root.0),
        info: PageInfo {
            start,
            size,
            per_page: PER_PAGE,
            noun: "job",
        },
        pager: Pager::new(start, Some(size), false, PER_PAGE, |s| {
            format!("{base}?start={s}")
        }),
        jobs: items
            .iter()
            .map(|raw| DelayedJob::new(&root, ts, raw))
            .collect(),
    }
    .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct JobQuery {
    args: Option<String>,
    queue: Option<String>,
}

/// `GET /delayed/jobs/:klass?args=JSON[&queue=Q]`: every timestamp of one job.
pub(crate) async fn delayed_jobs(
    State(web): State<Web>,
    root: Root,
    Path(class): Path<String>,
    Q(query): Q<JobQuery>,
) -> Page {
    let args_text = query.args.unwrap_or_else(|| "[]".to_owned());
    let args: Vec<Value> = match resque_protocol::json::from_slice(args_text.as_bytes()) {
        Ok(Value::Array(a)) => a,
        _ => {
            return Err(Error::BadRequest(format!(
                "args must be a JSON array, found {args_text:?}"
            )));
        }
    };
    let args_json =
        resque_protocol::json::to_string(&args).map_err(|e| Error::BadRequest(e.to_string()))?;
    let c = web.conn().await?;
    let found: Vec<(String, Vec<i64>)> = match &query.queue {
        Some(q) => vec![(
            q.clone(),
            c.client.scheduled_at_class(q, &class, args.clone()).await?,
        )],
        None => {
            c.client
                .store()?
                .delayed_timestamps_any_queue(&class, &args_json)
                .await?
        }
    };
    let mut rows: Vec<(String, i64, String)> = found
        .into_iter()
        .flat_map(|(q, tss)| {
            tss.into_iter()
                .map(move |ts| (q.clone(), ts, local_time(ts)))
        })
        .collect();
    rows.sort_by_key(|r| r.1);
    Ok(JobTimesPage {
        l: web.chrome(&root, "delayed", false),
        args: show_args(Some(&Value::Array(args))),
        class,
        rows: rows
            .into_iter()
            .map(|(queue, ts, time)| JobTime {
                href: format!("{}/delayed/{ts}", root.0),
                queue,
                time,
            })
            .collect(),
    }
    .into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    search: String,
}

/// A queued or working job a search found.
#[derive(Debug, Clone)]
pub(crate) struct FoundJob {
    pub(crate) queue: String,
    pub(crate) class: String,
    pub(crate) args: String,
    pub(crate) worker: String,
}

fn class_matches(payload: &resque_protocol::Map<String, Value>, needle: &str) -> bool {
    payload
        .get("class")
        .and_then(Value::as_str)
        .is_some_and(|c| c.to_lowercase().contains(needle))
}

/// `POST /delayed/search`: jobs whose class contains the text (any case), delayed, queued
/// and working, as Ruby's; each kind bounded, and searched inside Redis.
pub(crate) async fn delayed_search(
    State(web): State<Web>,
    root: Root,
    form: CheckedForm<SearchForm>,
) -> Page {
    let needle = form.0.search.trim().to_lowercase();
    let c = web.conn().await?;
    let store = c.client.store()?;
    let mut delayed = Vec::new();
    let mut queued = Vec::new();
    let mut working = Vec::new();
    if !needle.is_empty() {
        for (ts, raw) in store.delayed_search(&needle, SEARCH_LIMIT).await? {
            delayed.push(DelayedJob::new(&root, ts, &raw));
        }
        let mut queues = c.client.queues().await?;
        queues.sort();
        'queues: for q in queues {
            let key = store.keys().queue(&q);
            let len = store.list_len(&key).await? as i64;
            let mut start = 0;
            while start < len {
                let stop = start + 999;
                // A cheap prefilter inside Redis (the text anywhere), then the class itself.
                for (_, raw) in store
                    .list_scan_matching(&key, start, stop, &[], &[needle.clone().into_bytes()])
                    .await?
                {
                    let Ok(p) = resque_protocol::Payload::decode(&raw) else {
                        continue;
                    };
                    if class_matches(p.as_map(), &needle) {
                        queued.push(FoundJob {
                            queue: q.clone(),
                            class: p.class().unwrap_or_default().to_owned(),
                            args: show_args(p.as_map().get("args")),
                            worker: String::new(),
                        });
                        if queued.len() >= SEARCH_LIMIT {
                            break 'queues;
                        }
                    }
                }
                start = stop + 1;
            }
        }
        for (id, payload) in web.workers_with_payloads(&c).await? {
            let Some(text) = payload else { continue };
            let Ok(Value::Object(w)) = resque_protocol::json::from_slice(text.as_bytes()) else {
                continue;
            };
            let Some(Value::Object(job)) = w.get("payload") else {
                continue;
            };
            if class_matches(job, &needle) && working.len() < SEARCH_LIMIT {
                working.push(FoundJob {
                    queue: w
                        .get("queue")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    class: job
                        .get("class")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    args: show_args(job.get("args")),
                    worker: id.clone(),
                });
            }
        }
    }
    Ok(SearchPage {
        l: web.chrome(&root, "delayed", false),
        search: form.0.search,
        limit: SEARCH_LIMIT,
        cancel: format!("{}/delayed/cancel_now", root.0),
        delayed,
        queued,
        working,
    }
    .into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TimestampForm {
    timestamp: String,
}

fn timestamp_of(text: &str) -> Result<i64, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::BadRequest(format!("{text:?} is not a timestamp")))
}

/// `POST /delayed/queue_now`: the first job of a timestamp to its queue now, in one step.
pub(crate) async fn delayed_queue_now(
    State(web): State<Web>,
    root: Root,
    form: CheckedForm<TimestampForm>,
) -> Page {
    let ts = timestamp_of(&form.0.timestamp)?;
    let c = web.conn().await?;
    match c.client.enqueue_next_item(ts).await {
        Ok(_) => Ok(Redirect::to(&format!("{}/delayed", root.0)).into_response()),
        Err(resque_store::Error::NoQueue { class }) => Err(Error::Conflict(format!(
            "the first job at this time ({class}) names no queue; only a scheduler that knows the class can move it"
        ))),
        Err(e @ resque_store::Error::Protocol(_)) => Err(Error::Conflict(format!(
            "the first job at this time cannot be read ({e}); it is left where it is"
        ))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CancelForm {
    timestamp: String,
    /// Our forms: the item's exact bytes.
    item: Option<String>,
    /// Ruby's form: the class and the args' JSON (and, with ours, the queue).
    klass: Option<String>,
    args: Option<String>,
    queue: Option<String>,
}

/// `POST /delayed/cancel_now`: removes a job from one timestamp (every copy there).
pub(crate) async fn delayed_cancel_now(
    State(web): State<Web>,
    root: Root,
    form: CheckedForm<CancelForm>,
) -> Page {
    let f = form.0;
    let ts = timestamp_of(&f.timestamp)?;
    let c = web.conn().await?;
    let store = c.client.store()?;
    let mut removed = 0;
    if let Some(item) = f.item.filter(|i| !i.is_empty()) {
        removed = store.delayed_remove_at(ts, &item).await?;
    } else if let Some(class) = f.klass {
        let args: Vec<Value> =
            match resque_protocol::json::from_slice(f.args.as_deref().unwrap_or("[]").as_bytes()) {
                Ok(Value::Array(a)) => a,
                _ => return Err(Error::BadRequest("args must be a JSON array".to_owned())),
            };
        // Without a queue, the copies at this timestamp with that class and args, whatever
        // their queue: found in the (one) list, removed by their bytes.
        for raw in store.delayed_timestamp_items(ts, 0, 0).await? {
            let Ok(item) = DelayedItem::decode(&raw) else {
                continue;
            };
            if item.class == class
                && item.args == args
                && f.queue
                    .as_ref()
                    .is_none_or(|q| item.queue.as_ref() == Some(q))
            {
                removed += store
                    .delayed_remove_at(ts, &String::from_utf8_lossy(&raw))
                    .await?;
            }
        }
    } else {
        return Err(Error::BadRequest(
            "say which job: item, or klass and args".to_owned(),
        ));
    }
    if removed == 0 {
        return Err(Error::NotFound(
            "No such job at that time (already moved or removed?)".to_owned(),
        ));
    }
    Ok(Redirect::to(&format!("{}/delayed", root.0)).into_response())
}

/// `POST /delayed/clear`: every delayed job.
pub(crate) async fn delayed_clear(State(web): State<Web>, root: Root, _f: CheckedForm) -> Page {
    let c = web.conn().await?;
    c.client.reset_delayed_queue().await?;
    Ok(Redirect::to(&format!("{}/delayed", root.0)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "delayed/delayed.html")]
pub(crate) struct DelayedPage {
    pub(crate) l: Chrome,
    pub(crate) base: String,
    pub(crate) now: String,
    pub(crate) info: PageInfo,
    pub(crate) pager: Pager,
    pub(crate) rows: Vec<TimestampRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "delayed/timestamp.html")]
pub(crate) struct TimestampPage {
    pub(crate) l: Chrome,
    pub(crate) ts: i64,
    pub(crate) time: String,
    pub(crate) cancel: String,
    pub(crate) info: PageInfo,
    pub(crate) pager: Pager,
    pub(crate) jobs: Vec<DelayedJob>,
}

/// One timestamp of one job.
#[derive(Debug, Clone)]
pub(crate) struct JobTime {
    pub(crate) href: String,
    pub(crate) queue: String,
    pub(crate) time: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "delayed/jobs.html")]
pub(crate) struct JobTimesPage {
    pub(crate) l: Chrome,
    pub(crate) class: String,
    pub(crate) args: String,
    pub(crate) rows: Vec<JobTime>,
}

#[derive(Template, WebTemplate)]
#[template(path = "delayed/search.html")]
pub(crate) struct SearchPage {
    pub(crate) l: Chrome,
    pub(crate) search: String,
    pub(crate) limit: usize,
    pub(crate) cancel: String,
    pub(crate) delayed: Vec<DelayedJob>,
    pub(crate) queued: Vec<FoundJob>,
    pub(crate) working: Vec<FoundJob>,
}
