//! Machine-readable views: Ruby's `/stats.txt` (as text/plain), `/metrics` in the
//! Prometheus text format, and a read-only JSON API under `/api`.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use resque_protocol::Value;
use serde::Serialize;

use crate::app::{Root, Web};
use crate::error::Error;
use crate::query::{FailureQuery, Q, Window};

type Data = Result<Response, Error>;

/// Most items one API call returns.
const API_MAX: u64 = 1000;

/// A window's count: a page by default, at most [`API_MAX`].
fn api_count(count: Option<u64>) -> u64 {
    count.unwrap_or(crate::PER_PAGE).clamp(1, API_MAX)
}

/// `GET /stats.txt`: Ruby's lines, served as text/plain (3.0 served text/html, an XSS
/// vector through queue names).
pub(crate) async fn stats_txt(State(web): State<Web>) -> Data {
    let c = web.conn().await?;
    let (info, sizes) = tokio::try_join!(c.client.info(), c.client.queue_sizes())?;
    let mut out = format!(
        "resque.pending={}\nresque.processed+={}\nresque.failed+={}\nresque.workers={}\nresque.working={}",
        info.pending, info.processed, info.failed, info.workers, info.working
    );
    for (q, n) in sizes {
        let _ = write!(out, "\nqueues.{q}={n}");
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`: queue sizes, workers, working, processed and failed.
pub(crate) async fn metrics(State(web): State<Web>) -> Data {
    let c = web.conn().await?;
    let store = c.client.store()?;
    let (info, sizes, failed_stat, delayed_ts, totals) = tokio::try_join!(
        c.client.info(),
        c.client.queue_sizes(),
        c.client.stat("failed"),
        c.client.delayed_queue_schedule_size(),
        store.job_metrics_total()
    )?;
    let mut o = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            o,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "resque_pending_jobs",
        "gauge",
        "Jobs waiting in all queues.",
        info.pending.to_string(),
    );
    metric(
        "resque_processed_jobs_total",
        "counter",
        "Jobs processed (stat:processed), failed ones included.",
        info.processed.to_string(),
    );
    metric(
        "resque_failed_jobs_total",
        "counter",
        "Jobs that failed (stat:failed).",
        failed_stat.to_string(),
    );
    metric(
        "resque_failed_records",
        "gauge",
        "Records in the failed list.",
        info.failed.to_string(),
    );
    metric(
        "resque_delayed_timestamps",
        "gauge",
        "Times with delayed jobs (resque-scheduler's delayed_queue_schedule).",
        delayed_ts.to_string(),
    );
    if let crate::pages::Delayed::Jobs(n) = web.delayed_count(&c).await? {
        metric(
            "resque_delayed_jobs",
            "gauge",
            "Delayed jobs at every time (omitted past 10,000 times).",
            n.to_string(),
        );
    }
    metric(
        "resque_workers",
        "gauge",
        "Registered workers.",
        info.workers.to_string(),
    );
    metric(
        "resque_working_workers",
        "gauge",
        "Workers running a job.",
        info.working.to_string(),
    );
    metric(
        "resque_queues",
        "gauge",
        "Known queues.",
        info.queues.to_string(),
    );
    let _ = writeln!(
        o,
        "# HELP resque_queue_size Jobs waiting in a queue.\n# TYPE resque_queue_size gauge"
    );
    for (q, n) in sizes {
        let _ = writeln!(o, "resque_queue_size{{queue=\"{}\"}} {n}", label(&q));
    }
    job_metrics_text(&mut o, &totals);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        o,
    )
        .into_response())
}

/// Our job metrics since they began (`resque-rs:metrics:total`) as Prometheus counters and
/// a histogram, by queue and class. Only resque-rs workers write them.
fn job_metrics_text(o: &mut String, totals: &resque_store::ClassTable) {
    use resque_protocol::metrics::{BUCKETS_MS, ClassStats};
    /// A counter's name, help and value.
    type Counter = (&'static str, &'static str, fn(&ClassStats) -> u64);
    let counters: [Counter; 2] = [
        (
            "resque_job_runs_total",
            "Jobs run by resque-rs workers, by queue and class.",
            |s| s.runs,
        ),
        (
            "resque_job_failures_total",
            "Jobs run by resque-rs workers that failed.",
            |s| s.failed,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
        for ((q, c), s) in totals {
            let _ = writeln!(
                o,
                "{name}{{queue=\"{}\",class=\"{}\"}} {}",
                label(q),
                label(c),
                value(s)
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP resque_job_duration_seconds Run time of jobs run by resque-rs workers.\n\
         # TYPE resque_job_duration_seconds histogram"
    );
    for ((q, c), s) in totals {
        let (q, c) = (label(q), label(c));
        let mut cumulative = 0;
        for (i, runs) in s.buckets.iter().enumerate() {
            cumulative += runs;
            let le = BUCKETS_MS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |ms| (*ms as f64 / 1000.0).to_string());
            let _ = writeln!(
                o,
                "resque_job_duration_seconds_bucket{{queue=\"{q}\",class=\"{c}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            o,
            "resque_job_duration_seconds_sum{{queue=\"{q}\",class=\"{c}\"}} {}",
            s.millis as f64 / 1000.0
        );
        let _ = writeln!(
            o,
            "resque_job_duration_seconds_count{{queue=\"{q}\",class=\"{c}\"}} {}",
            s.runs
        );
    }
}

#[derive(Serialize)]
struct ApiClassStats {
    queue: String,
    class: String,
    runs: u64,
    failed: u64,
    total_ms: u64,
    mean_ms: f64,
    /// Runs per bucket: upper bound in ms (`inf` for the rest) to count, not cumulative.
    histogram: Vec<(&'static str, u64)>,
}

#[derive(Serialize)]
struct ApiMetrics {
    minutes: u32,
    classes: Vec<ApiClassStats>,
    history: Vec<resque_store::DayCounts>,
    workers_without_metrics: usize,
}

/// `GET /api/metrics?minutes=N`: the Metrics tab's figures for the last N minutes (60, 480,
/// 1440 or 4320), by queue and class, most total run time first, and 90 days of history.
pub(crate) async fn api_metrics(
    State(web): State<Web>,
    crate::query::Q(q): crate::query::Q<crate::pages::MetricsQuery>,
) -> Data {
    let minutes = q.minutes();
    let c = web.conn().await?;
    let store = c.client.store()?;
    let ((period, _), history, foreign) = tokio::try_join!(
        crate::pages::period_view(&web, store, minutes),
        web.figures().days(store, 90),
        async { Ok(store.workers_without_lease().await?) }
    )?;
    let all = period.classes;
    let mut classes: Vec<ApiClassStats> = all
        .into_iter()
        .map(|((queue, class), s)| ApiClassStats {
            mean_ms: s.mean_millis(),
            histogram: resque_protocol::metrics::BUCKET_LABELS
                .iter()
                .copied()
                .zip(s.buckets)
                .collect(),
            queue,
            class,
            runs: s.runs,
            failed: s.failed,
            total_ms: s.millis,
        })
        .collect();
    classes.sort_by_key(|c| std::cmp::Reverse(c.total_ms));
    Ok(Json(ApiMetrics {
        minutes,
        classes,
        history,
        workers_without_metrics: foreign,
    })
    .into_response())
}

#[derive(Serialize)]
pub(crate) struct Endpoints {
    endpoints: Vec<String>,
}

/// `GET /api`: what the API offers.
pub(crate) async fn api_index(root: Root) -> Json<Endpoints> {
    let r = root.0;
    Json(Endpoints {
        endpoints: [
            "info",
            "metrics?minutes=60|480|1440|4320",
            "queues",
            "queues/{queue}?start=&count=",
            "workers",
            "workers/{id}",
            "working",
            "failed?start=&count=&order=asc|desc&class=&exception=&queue=&q=",
            "failed/{list}?start=&count=&...",
        ]
        .iter()
        .map(|e| format!("{r}/api/{e}"))
        .collect(),
    })
}

#[derive(Serialize)]
struct ApiInfo {
    namespace: String,
    redis: String,
    version: &'static str,
    /// Times with delayed jobs.
    delayed_timestamps: u64,
    /// Delayed jobs (absent past 10,000 times).
    #[serde(skip_serializing_if = "Option::is_none")]
    delayed: Option<u64>,
    #[serde(flatten)]
    info: resque_store::Info,
}

pub(crate) async fn api_info(State(web): State<Web>) -> Data {
    let c = web.conn().await?;
    let info = c.client.info().await?;
    let delayed_timestamps = c.client.delayed_queue_schedule_size().await?;
    let delayed = match web.delayed_count(&c).await? {
        crate::pages::Delayed::Jobs(n) => Some(n),
        crate::pages::Delayed::Timestamps(_) => None,
    };
    Ok(Json(ApiInfo {
        namespace: web.namespace().to_owned(),
        redis: web.redis_id().to_owned(),
        version: resque_protocol::RESQUE_VERSION,
        delayed_timestamps,
        delayed,
        info,
    })
    .into_response())
}

#[derive(Serialize)]
struct QueueSize {
    name: String,
    size: u64,
}

pub(crate) async fn api_queues(State(web): State<Web>) -> Data {
    let c = web.conn().await?;
    let sizes = c.client.queue_sizes().await?;
    let out: Vec<QueueSize> = sizes
        .into_iter()
        .map(|(name, size)| QueueSize { name, size })
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Serialize)]
struct QueueJobs {
    name: String,
    size: u64,
    start: u64,
    /// Payloads as stored; an item that is not one is `{"malformed": raw, "error": why}`.
    jobs: Vec<Value>,
}

pub(crate) async fn api_queue(
    State(web): State<Web>,
    Path(name): Path<String>,
    Q(q): Q<Window>,
) -> Data {
    let c = web.conn().await?;
    let (start, count) = (q.start, api_count(q.count));
    let (size, items) = web.queue_slice(&c, &name, start, count).await?;
    let jobs = items
        .into_iter()
        .map(|i| match i {
            Ok(p) => p.into_value(),
            Err((raw, why)) => serde_json::json!({ "malformed": raw, "error": why }),
        })
        .collect();
    Ok(Json(QueueJobs {
        name,
        size,
        start,
        jobs,
    })
    .into_response())
}

#[derive(Serialize)]
struct ApiWorker {
    id: String,
    host: String,
    pid: String,
    queues: Vec<String>,
    state: &'static str,
    /// The `worker:<id>` value (queue, run_at, payload) while working.
    job: Option<Value>,
}

fn api_worker_of(id: &str, payload: Option<&str>) -> ApiWorker {
    let row = crate::views::WorkerRow::new(id, payload);
    ApiWorker {
        id: row.id,
        host: row.host,
        pid: row.pid,
        queues: row.queues,
        state: row.state,
        job: payload.filter(|p| !p.is_empty()).map(|p| {
            resque_protocol::json::from_slice(p.as_bytes())
                .unwrap_or_else(|_| Value::String(p.to_owned()))
        }),
    }
}

async fn all_workers(web: &Web) -> Result<Vec<ApiWorker>, Error> {
    let c = web.conn().await?;
    Ok(web
        .workers_with_payloads(&c)
        .await?
        .iter()
        .map(|(id, p)| api_worker_of(id, p.as_deref()))
        .collect())
}

pub(crate) async fn api_workers(State(web): State<Web>) -> Data {
    Ok(Json(all_workers(&web).await?).into_response())
}

pub(crate) async fn api_working(State(web): State<Web>) -> Data {
    let working: Vec<ApiWorker> = all_workers(&web)
        .await?
        .into_iter()
        .filter(|w| w.job.is_some())
        .collect();
    Ok(Json(working).into_response())
}

#[derive(Serialize)]
struct ApiWorkerDetail {
    #[serde(flatten)]
    worker: ApiWorker,
    started: Option<String>,
    heartbeat: Option<String>,
    processed: i64,
    failed: i64,
}

pub(crate) async fn api_worker(State(web): State<Web>, Path(id): Path<String>) -> Data {
    let c = web.conn().await?;
    let d = c.client.store()?.worker_details(&id).await?;
    if !d.registered {
        return Err(Error::NotFound(format!("no such worker {id:?}")));
    }
    Ok(Json(ApiWorkerDetail {
        worker: api_worker_of(&id, d.payload.as_deref()),
        started: d.started,
        heartbeat: d.heartbeat,
        processed: d.processed,
        failed: d.failed,
    })
    .into_response())
}

#[derive(Serialize)]
struct ApiFailure {
    list: String,
    index: u64,
    /// The record as stored, or the raw text when it is not JSON.
    record: Value,
}

#[derive(Serialize)]
struct ApiFailures {
    list_len: u64,
    start: u64,
    more: bool,
    entries: Vec<ApiFailure>,
}

pub(crate) async fn api_failed(State(web): State<Web>, Q(q): Q<FailureQuery>) -> Data {
    failed(web, None, q).await
}

pub(crate) async fn api_failed_list(
    State(web): State<Web>,
    Path(list): Path<String>,
    Q(q): Q<FailureQuery>,
) -> Data {
    failed(web, Some(list), q).await
}

async fn failed(web: Web, list: Option<String>, q: FailureQuery) -> Data {
    let c = web.conn().await?;
    let (start, count) = (q.start, api_count(q.count));
    let (filter, order) = (q.filter(), q.order());
    let page = c
        .failures
        .page(list.as_deref(), &filter, order, start, count)
        .await?;
    let entries = page
        .entries
        .into_iter()
        .map(|e| ApiFailure {
            record: match e.record {
                Ok(m) => Value::Object(m),
                Err(_) => Value::String(e.raw),
            },
            list: e.list,
            index: e.index,
        })
        .collect();
    Ok(Json(ApiFailures {
        list_len: page.list_len,
        start,
        more: page.more,
        entries,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
