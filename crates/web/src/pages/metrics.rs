//! The Metrics tab (Sidekiq 7's, for our job metrics: [`resque_protocol::metrics`]): the
//! classes of the last hour(s) by total run time, one class's minutes and run-time
//! histogram; and the Overview's history chart. Only resque-rs workers write these
//! figures: the pages say so when other workers share the Redis.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use std::sync::Arc;

use resque_protocol::metrics::{BUCKET_LABELS, ClassStats};
use resque_store::ClassTable;
use serde::Deserialize;

use super::Page;
use crate::app::{Conn, Root, Web};
use crate::chart::{Chart, Point};
use crate::error::Error;
use crate::figures::{Period, Unit};
use crate::query::Q;
use crate::views::*;

/// The periods the Metrics tab offers, in minutes (72 hours is all that is kept).
pub(crate) const PERIODS: [(u32, &str); 4] = [
    (60, "1 hour"),
    (480, "8 hours"),
    (1440, "24 hours"),
    (4320, "72 hours"),
];

/// The history lengths the Overview offers, in days.
pub(crate) const HISTORY_DAYS: [u32; 3] = [7, 30, 90];

/// `?minutes=N&queue=Q&class=C`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MetricsQuery {
    minutes: Option<String>,
    queue: Option<String>,
    class: Option<String>,
}

impl MetricsQuery {
    /// The period asked for, one of [`PERIODS`] (the first when absent or another).
    pub(crate) fn minutes(&self) -> u32 {
        let asked = self.minutes.as_deref().and_then(|m| m.parse().ok());
        PERIODS
            .iter()
            .map(|(m, _)| *m)
            .find(|m| Some(*m) == asked)
            .unwrap_or(PERIODS[0].0)
    }
}

/// A choice of period or length, as a link.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub(crate) label: String,
    pub(crate) href: String,
    pub(crate) current: bool,
}

/// One class's row.
#[derive(Debug, Clone)]
pub(crate) struct ClassRow {
    pub(crate) queue: String,
    pub(crate) class: String,
    pub(crate) href: String,
    pub(crate) runs: u64,
    pub(crate) failed: u64,
    pub(crate) seconds: String,
    pub(crate) mean_ms: String,
}

/// The Overview's history: the chart and its figures.
#[derive(Debug, Clone)]
pub(crate) struct History {
    pub(crate) chart: Chart,
    pub(crate) days: u32,
    pub(crate) choices: Vec<Choice>,
    pub(crate) processed: u64,
    pub(crate) failed: u64,
    pub(crate) failure_rate: String,
    /// Registered workers that are not ours (they write no history).
    pub(crate) foreign: usize,
}

fn rate(failed: u64, total: u64) -> String {
    if total == 0 {
        "0%".to_owned()
    } else {
        format!("{:.1}%", failed as f64 * 100.0 / total as f64)
    }
}

fn row(root: &str, minutes: u32, (queue, class): (String, String), s: &ClassStats) -> ClassRow {
    let href = format!(
        "{root}/job-metrics/class?minutes={minutes}&queue={}&class={}",
        seg(&queue),
        seg(&class)
    );
    ClassRow {
        href,
        runs: s.runs,
        failed: s.failed,
        seconds: format!("{:.3}", s.millis as f64 / 1000.0),
        mean_ms: format!("{:.1}", s.mean_millis()),
        queue,
        class,
    }
}

/// A bar's label: `HH:MM UTC` of a `YYYYMMDDHHMM` minute, `MM-DD HH:00 UTC` of a
/// `YYYYMMDDHH` hour.
fn clock(name: &str) -> String {
    let part = |r: std::ops::Range<usize>| name.get(r).unwrap_or("");
    match name.len() {
        12 => format!("{}:{} UTC", part(8..10), part(10..12)),
        10 => format!("{}-{} {}:00 UTC", part(4..6), part(6..8), part(8..10)),
        _ => name.to_owned(),
    }
}

/// How a period is read: by minute for the hour, by hour for the longer periods (8 to 72
/// hashes, not 480 to 4,320); and what a bar is.
fn unit_of(minutes: u32) -> (Unit, u32, &'static str) {
    if minutes <= 60 {
        (Unit::Minute, minutes, "minute")
    } else {
        (Unit::Hour, minutes / 60, "hour")
    }
}

/// A period's tables, each with its bar's label, and what a bar is.
pub(crate) async fn period_tables(
    web: &Web,
    store: &resque_store::Store,
    minutes: u32,
) -> Result<(Vec<(String, Arc<ClassTable>)>, &'static str), Error> {
    let (unit, n, per) = unit_of(minutes);
    let tables = web.figures().tables(store, unit, n).await?;
    Ok((
        tables.into_iter().map(|(n, t)| (clock(&n), t)).collect(),
        per,
    ))
}

/// A period's bars (labelled) and classes, and what a bar is.
pub(crate) async fn period_view(
    web: &Web,
    store: &resque_store::Store,
    minutes: u32,
) -> Result<(Period, &'static str), Error> {
    let (unit, n, per) = unit_of(minutes);
    let mut period = web.figures().period(store, unit, n).await?;
    for (name, _) in &mut period.bars {
        *name = clock(name);
    }
    Ok((period, per))
}

impl Web {
    /// The Overview's history for `days` (one of [`HISTORY_DAYS`], else the first), and
    /// the resque-rs leases (the caller counts the registered workers without one, from the
    /// ids it reads anyway).
    pub(crate) async fn history(
        &self,
        c: &Conn,
        root: &Root,
        days: u32,
    ) -> Result<(History, std::collections::HashMap<String, i64>), Error> {
        let days = if HISTORY_DAYS.contains(&days) {
            days
        } else {
            HISTORY_DAYS[0]
        };
        let store = c.client.store()?;
        let (counts, leases) = tokio::try_join!(self.figures().days(store, days), async {
            Ok(store.leases().await?)
        })?;
        let processed = counts.iter().map(|d| d.processed).sum();
        let failed = counts.iter().map(|d| d.failed).sum();
        // The days that have ended are drawn once and kept (chart::Heads).
        let chart = self.chart_heads().chart(
            counts
                .into_iter()
                .map(|d| Point {
                    label: d.day,
                    total: d.processed,
                    failed: d.failed,
                    note: String::new(),
                })
                .collect(),
        );
        Ok((
            History {
                chart,
                days,
                choices: HISTORY_DAYS
                    .iter()
                    .map(|d| Choice {
                        label: format!("{d} days"),
                        href: format!("{}/overview?days={d}", root.0),
                        current: *d == days,
                    })
                    .collect(),
                failure_rate: rate(failed, processed),
                processed,
                failed,
                foreign: 0,
            },
            leases,
        ))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "metrics/metrics.html")]
pub(crate) struct MetricsPage {
    pub(crate) l: Chrome,
    pub(crate) period: String,
    pub(crate) choices: Vec<Choice>,
    pub(crate) rows: Vec<ClassRow>,
    pub(crate) chart: Chart,
    /// What one bar is: a "minute" or an "hour".
    pub(crate) per: &'static str,
    pub(crate) runs: u64,
    pub(crate) failure_rate: String,
    pub(crate) foreign: usize,
}

fn choices(root: &Root, path: &str, extra: &str, minutes: u32) -> Vec<Choice> {
    PERIODS
        .iter()
        .map(|(m, label)| Choice {
            label: (*label).to_owned(),
            href: format!("{}{path}?minutes={m}{extra}", root.0),
            current: *m == minutes,
        })
        .collect()
}

fn period_label(minutes: u32) -> String {
    PERIODS
        .iter()
        .find(|(m, _)| *m == minutes)
        .map_or_else(String::new, |(_, l)| (*l).to_owned())
}

/// `GET /job-metrics`: every class of the period, most total run time first, and all jobs
/// per minute (the hour) or per hour (longer periods, whole hours: the current one and
/// those before it).
pub(crate) async fn job_metrics(State(web): State<Web>, root: Root, Q(q): Q<MetricsQuery>) -> Page {
    let minutes = q.minutes();
    let c = web.conn().await?;
    let store = c.client.store()?;
    let ((period, per), foreign) = tokio::try_join!(period_view(&web, store, minutes), async {
        Ok(store.workers_without_lease().await?)
    })?;
    let all = period.classes;
    let points = period
        .bars
        .into_iter()
        .map(|(label, sum)| Point {
            label,
            total: sum.runs,
            failed: sum.failed,
            note: String::new(),
        })
        .collect();
    let runs = all.values().map(|s| s.runs).sum();
    let failed = all.values().map(|s| s.failed).sum();
    let mut rows: Vec<(u64, ClassRow)> = all
        .into_iter()
        .map(|(id, s)| (s.millis, row(&root.0, minutes, id, &s)))
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.class.cmp(&b.1.class)));
    Ok(MetricsPage {
        l: web.chrome(&root, "metrics", false),
        period: period_label(minutes),
        choices: choices(&root, "/job-metrics", "", minutes),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        chart: Chart::new(points),
        per,
        runs,
        failure_rate: rate(failed, runs),
        foreign,
    }
    .into_response())
}

/// One histogram bucket's row.
#[derive(Debug, Clone)]
pub(crate) struct BucketRow {
    pub(crate) label: String,
    pub(crate) runs: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "metrics/class.html")]
pub(crate) struct ClassPage {
    pub(crate) l: Chrome,
    pub(crate) period: String,
    pub(crate) choices: Vec<Choice>,
    pub(crate) back: String,
    pub(crate) row: ClassRow,
    pub(crate) chart: Chart,
    /// What one bar is: a "minute" or an "hour".
    pub(crate) per: &'static str,
    pub(crate) buckets: Vec<BucketRow>,
}

/// `GET /job-metrics/class?queue=Q&class=C`: one class's runs per minute or hour (failures on
/// top, the mean run time in each bar's title) and its run-time histogram.
pub(crate) async fn job_metrics_class(
    State(web): State<Web>,
    root: Root,
    Q(q): Q<MetricsQuery>,
) -> Page {
    let minutes = q.minutes();
    let (Some(queue), Some(class)) = (q.queue.clone(), q.class.clone()) else {
        return Err(Error::BadRequest("queue and class are needed".to_owned()));
    };
    let c = web.conn().await?;
    let (tables, per) = period_tables(&web, c.client.store()?, minutes).await?;
    let id = (queue, class);
    let mut sum = ClassStats::default();
    let mut points = Vec::with_capacity(tables.len());
    for (label, table) in tables {
        let s = table.get(&id).cloned().unwrap_or_default();
        sum.merge(&s);
        points.push(Point {
            label,
            total: s.runs,
            failed: s.failed,
            note: if s.runs > 0 {
                format!(", mean {:.1} ms", s.mean_millis())
            } else {
                String::new()
            },
        });
    }
    let extra = format!("&queue={}&class={}", seg(&id.0), seg(&id.1));
    Ok(ClassPage {
        l: web.chrome(&root, "metrics", false),
        period: period_label(minutes),
        choices: choices(&root, "/job-metrics/class", &extra, minutes),
        back: format!("{}/job-metrics?minutes={minutes}", root.0),
        buckets: BUCKET_LABELS
            .iter()
            .zip(sum.buckets)
            .map(|(l, runs)| BucketRow {
                label: if *l == "inf" {
                    "more than 10 s".to_owned()
                } else {
                    format!("≤ {l} ms")
                },
                runs,
            })
            .collect(),
        row: row(&root.0, minutes, id, &sum),
        chart: Chart::new(points),
        per,
    }
    .into_response())
}
