//! Overview and Working: the queues and what every worker is doing.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};

use super::{HISTORY_DAYS, History, Page};
use crate::app::{Root, Web};
use crate::query::Q;
use crate::views::*;

pub(crate) async fn root_redirect(root: Root) -> Redirect {
    Redirect::to(&format!("{}/overview", root.0))
}

/// `?days=N` on the overview: the history's length.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct HistoryQuery {
    days: Option<String>,
}

impl HistoryQuery {
    fn days(&self) -> u32 {
        self.days
            .as_deref()
            .and_then(|d| d.parse().ok())
            .unwrap_or(HISTORY_DAYS[0])
    }
}

/// `?days=N` for a length other than the default (Ruby's poll link stays as it was).
fn days_query(days: u32) -> String {
    if days == HISTORY_DAYS[0] {
        String::new()
    } else {
        format!("?days={days}")
    }
}

async fn overview_page(web: Web, root: Root, fragment: bool, poll_href: String, days: u32) -> Page {
    let c = web.conn().await?;
    // Every read goes out together (fred pipelines them on one connection).
    let stat =
        |name: &'static str| async { Ok::<_, crate::error::Error>(c.client.stat(name).await?) };
    let (qt, wt, processed, failed, delayed, (mut history, leases)) = tokio::try_join!(
        web.queues_table(&c, &root),
        web.working_table(&c),
        stat("processed"),
        stat("failed"),
        web.delayed_count(&c),
        web.history(&c, &root, days)
    )?;
    history.foreign = wt.ids.iter().filter(|id| !leases.contains_key(*id)).count();
    let counts = Counts {
        processed,
        failed,
        working: wt.working.len(),
        workers: wt.total_workers,
        pending: qt.queues.iter().map(|q| q.size).sum(),
        delayed,
        delayed_href: format!("{}/delayed", root.0),
    };
    Ok(OverviewPage {
        l: web.chrome(&root, "overview", fragment),
        counts,
        history,
        qt,
        wt,
        poll_href,
    }
    .into_response())
}

pub(crate) async fn overview(State(web): State<Web>, root: Root, Q(q): Q<HistoryQuery>) -> Page {
    let days = q.days();
    let poll = format!("{}/overview.poll{}", root.0, days_query(days));
    overview_page(web, root, false, poll, days).await
}

pub(crate) async fn overview_poll(
    State(web): State<Web>,
    root: Root,
    Q(q): Q<HistoryQuery>,
) -> Page {
    overview_page(web, root, true, String::new(), q.days()).await
}

/// `/overview/:id` (Ruby renders the overview whatever the id) and `/overview/:id.poll`.
pub(crate) async fn overview_id(
    State(web): State<Web>,
    root: Root,
    Path(id): Path<String>,
    Q(q): Q<HistoryQuery>,
) -> Page {
    let days = q.days();
    match id.strip_suffix(".poll") {
        Some(_) => overview_page(web, root, true, String::new(), days).await,
        None => {
            let poll = format!("{}/overview/{}.poll{}", root.0, seg(&id), days_query(days));
            overview_page(web, root, false, poll, days).await
        }
    }
}

pub(crate) async fn working(State(web): State<Web>, root: Root) -> Page {
    let c = web.conn().await?;
    let wt = web.working_table(&c).await?;
    Ok(WorkingPage {
        l: web.chrome(&root, "working", false),
        wt,
    }
    .into_response())
}

/// `/working/:id`: one worker's job; Ruby falls back to the whole list when the worker is
/// gone or idle.
pub(crate) async fn working_one(
    State(web): State<Web>,
    root: Root,
    Path(id): Path<String>,
) -> Page {
    let c = web.conn().await?;
    let d = c.client.store()?.worker_details(&id).await?;
    if d.registered && d.payload.is_some() {
        return Ok(WorkingOnePage {
            l: web.chrome(&root, "working", false),
            w: WorkerRow::new(&id, d.payload.as_deref()),
        }
        .into_response());
    }
    working(State(web), root).await
}

#[derive(Template)]
#[template(path = "overview/overview.html")]
pub(crate) struct OverviewPage {
    pub(crate) l: Chrome,
    pub(crate) counts: Counts,
    pub(crate) history: History,
    pub(crate) qt: QueuesTable,
    pub(crate) wt: WorkingTable,
    pub(crate) poll_href: String,
}

/// The figures at the top of the overview (Ruby's `Resque.info`, from the reads the page
/// makes anyway, plus the two counters).
#[derive(Debug, Clone)]
pub(crate) struct Counts {
    /// `stat:processed`.
    pub(crate) processed: i64,
    /// `stat:failed`.
    pub(crate) failed: i64,
    /// Workers on a job.
    pub(crate) working: usize,
    /// Registered workers.
    pub(crate) workers: usize,
    /// Jobs waiting in every queue.
    pub(crate) pending: u64,
    /// Delayed jobs (resque-scheduler's), see [`Delayed`].
    pub(crate) delayed: Delayed,
    pub(crate) delayed_href: String,
}

/// How many jobs are delayed: counted exactly up to [`EXACT_UP_TO`] timestamps (one
/// script, a length per timestamp), else told as a number of timestamps, so a huge backlog
/// does not slow every overview poll.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Delayed {
    Jobs(u64),
    Timestamps(u64),
}

const EXACT_UP_TO: u64 = 10_000;

impl Web {
    pub(crate) async fn delayed_count(
        &self,
        c: &crate::app::Conn,
    ) -> Result<Delayed, crate::error::Error> {
        let timestamps = c.client.delayed_queue_schedule_size().await?;
        if timestamps > EXACT_UP_TO {
            return Ok(Delayed::Timestamps(timestamps));
        }
        Ok(Delayed::Jobs(c.client.count_all_scheduled_jobs().await?))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "overview/working.html")]
pub(crate) struct WorkingPage {
    pub(crate) l: Chrome,
    pub(crate) wt: WorkingTable,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview/working_one.html")]
pub(crate) struct WorkingOnePage {
    pub(crate) l: Chrome,
    pub(crate) w: WorkerRow,
}

/// The Overview's size varies with its history (7 to 90 bars): rendered into a buffer as
/// large as the last one needed, not grown from askama's estimate by copying.
impl IntoResponse for OverviewPage {
    fn into_response(self) -> axum::response::Response {
        static LAST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        crate::views::render_sized(&self, &LAST)
    }
}
