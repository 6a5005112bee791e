//! The HTML pages and the form actions, at Ruby's resque-web paths.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use resque_failure::{Filter, Order};

use crate::PER_PAGE;
use crate::app::{CheckedForm, Conn, Root, Web};
use crate::error::Error;
use crate::query::{FailureQuery, MatchForm, Paging, Q, RecordForm};
use crate::views::*;

type Page = Result<Response, Error>;

/// The six tabs, as `Resque::Server.tabs`.
const TABS: [&str; 6] = [
    "Overview", "Working", "Failed", "Queues", "Workers", "Stats",
];

impl Web {
    /// The page frame for a tab.
    pub(crate) fn chrome(&self, root: &Root, tab: &str, fragment: bool) -> Chrome {
        let root = root.0.clone();
        let mut tabs: Vec<Tab> = TABS
            .iter()
            .map(|t| Tab {
                label: (*t).to_owned(),
                href: format!("{root}/{}", t.to_lowercase()),
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
                name: "failed".to_owned(),
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
        let mut working: Vec<WorkerRow> = rows.into_iter().filter(|w| w.job.is_some()).collect();
        // Ruby sorts by run_at (as text).
        working.sort_by(|a, b| {
            let key = |w: &WorkerRow| w.job.as_ref().map(|j| j.run_at.raw.clone());
            key(a).cmp(&key(b))
        });
        Ok(WorkingTable {
            working,
            total_workers,
        })
    }
}

// ---- overview, working -------------------------------------------------------------------

pub(crate) async fn root_redirect(root: Root) -> Redirect {
    Redirect::to(&format!("{}/overview", root.0))
}

async fn overview_page(web: Web, root: Root, fragment: bool, poll_href: String) -> Page {
    let c = web.conn().await?;
    // Both tables' reads go out together (fred pipelines them on one connection).
    let (qt, wt) = tokio::try_join!(web.queues_table(&c, &root), web.working_table(&c))?;
    Ok(OverviewPage {
        l: web.chrome(&root, "overview", fragment),
        qt,
        wt,
        poll_href,
    }
    .into_response())
}

pub(crate) async fn overview(State(web): State<Web>, root: Root) -> Page {
    let poll = format!("{}/overview.poll", root.0);
    overview_page(web, root, false, poll).await
}

pub(crate) async fn overview_poll(State(web): State<Web>, root: Root) -> Page {
    overview_page(web, root, true, String::new()).await
}

/// `/overview/:id` (Ruby renders the overview whatever the id) and `/overview/:id.poll`.
pub(crate) async fn overview_id(
    State(web): State<Web>,
    root: Root,
    Path(id): Path<String>,
) -> Page {
    match id.strip_suffix(".poll") {
        Some(_) => overview_page(web, root, true, String::new()).await,
        None => {
            let poll = format!("{}/overview/{}.poll", root.0, seg(&id));
            overview_page(web, root, false, poll).await
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
    let d = c.client.store().worker_details(&id).await?;
    if d.registered && d.payload.is_some() {
        return Ok(WorkingOnePage {
            l: web.chrome(&root, "working", false),
            w: WorkerRow::new(&id, d.payload.as_deref()),
        }
        .into_response());
    }
    working(State(web), root).await
}

// ---- workers -------------------------------------------------------------------------------

async fn workers_page(web: Web, root: Root, id: Option<String>, fragment: bool) -> Page {
    let c = web.conn().await?;
    let r = root.0.clone();
    // A worker id has colons; a host name has none.
    if let Some(id) = id.as_deref().filter(|i| i.contains(':')) {
        let d = c.client.store().worker_details(id).await?;
        if !d.registered {
            return Ok(not_registered(&web, &root, id));
        }
        return Ok(WorkerPage {
            l: web.chrome(&root, "workers", fragment),
            w: WorkerRow::new(id, d.payload.as_deref()),
            started: When::parse(d.started.as_deref().unwrap_or("")),
            heartbeat: When::parse(d.heartbeat.as_deref().unwrap_or("")),
            processed: d.processed,
            failed: d.failed,
        }
        .into_response());
    }
    let rows = web.worker_rows(&c).await?;
    let mut hosts: BTreeMap<String, usize> = BTreeMap::new();
    for w in &rows {
        *hosts.entry(w.host.clone()).or_default() += 1;
    }
    let host_tabs = |current: Option<&str>| -> Vec<Tab> {
        if hosts.len() <= 1 {
            return Vec::new();
        }
        hosts
            .keys()
            .map(|h| Tab {
                label: h.clone(),
                href: format!("{r}/workers/{}", seg(h)),
                current: current == Some(h.as_str()),
            })
            .collect()
    };
    let shown: Vec<WorkerRow> = match id.as_deref() {
        Some("all") => rows,
        Some(host) if hosts.contains_key(host) => {
            rows.into_iter().filter(|w| w.host == host).collect()
        }
        Some(other) => return Ok(not_registered(&web, &root, other)),
        None if hosts.len() <= 1 => rows,
        None => {
            let total = rows.len();
            let mut l = web.chrome(&root, "workers", fragment);
            l.subtabs = host_tabs(None);
            return Ok(HostsPage {
                l,
                hosts: hosts
                    .iter()
                    .map(|(h, n)| QueueRow {
                        name: h.clone(),
                        href: format!("{r}/workers/{}", seg(h)),
                        size: *n as u64,
                        empty: false,
                        first: false,
                    })
                    .collect(),
                total,
            }
            .into_response());
        }
    };
    let mut l = web.chrome(&root, "workers", fragment);
    l.subtabs = host_tabs(id.as_deref());
    let poll_href = match id.as_deref() {
        Some(i) => format!("{r}/workers/{}.poll", seg(i)),
        None => format!("{r}/workers.poll"),
    };
    Ok(WorkersPage {
        l,
        workers: shown,
        poll_href,
    }
    .into_response())
}

fn not_registered(web: &Web, root: &Root, id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        MessagePage {
            l: web.chrome(root, "workers", false),
            title: "Worker doesn't exist".to_owned(),
            text: format!("No registered worker or host is named {id:?}."),
        },
    )
        .into_response()
}

pub(crate) async fn workers(State(web): State<Web>, root: Root) -> Page {
    workers_page(web, root, None, false).await
}

pub(crate) async fn workers_poll(State(web): State<Web>, root: Root) -> Page {
    workers_page(web, root, None, true).await
}

pub(crate) async fn workers_id(State(web): State<Web>, root: Root, Path(id): Path<String>) -> Page {
    match id.strip_suffix(".poll") {
        Some(i) => workers_page(web, root, Some(i.to_owned()), true).await,
        None => workers_page(web, root, Some(id), false).await,
    }
}

// ---- queues --------------------------------------------------------------------------------

fn queue_subtabs(root: &Root, queues: &[QueueRow], current: Option<&str>) -> Vec<Tab> {
    queues
        .iter()
        .map(|q| Tab {
            label: q.name.clone(),
            href: format!("{}/queues/{}", root.0, seg(&q.name)),
            current: current == Some(q.name.as_str()),
        })
        .collect()
}

pub(crate) async fn queues(State(web): State<Web>, root: Root) -> Page {
    let c = web.conn().await?;
    let qt = web.queues_table(&c, &root).await?;
    Ok(QueuesPage {
        l: web.chrome(&root, "queues", false),
        qt,
    }
    .into_response())
}

pub(crate) async fn queue(
    State(web): State<Web>,
    root: Root,
    Path(name): Path<String>,
    Q(Paging { start }): Q<Paging>,
) -> Page {
    let c = web.conn().await?;
    let (size, items) = web.queue_slice(&c, &name, start, PER_PAGE).await?;
    let jobs = items
        .into_iter()
        .map(|item| match item {
            Ok(p) => QueuedJob {
                class: JobClass::of(Some(p.as_map())),
                args: inspect_args(p.as_map().get("args")),
                malformed: None,
            },
            Err((raw, why)) => QueuedJob {
                class: JobClass::default(),
                args: String::new(),
                malformed: Some((shorten(&raw, 2000), why)),
            },
        })
        .collect();
    let names = c.client.queues().await?;
    let rows: Vec<QueueRow> = names
        .into_iter()
        .map(|n| QueueRow {
            href: String::new(),
            name: n,
            size: 0,
            empty: false,
            first: false,
        })
        .collect();
    let mut l = web.chrome(&root, "queues", false);
    l.subtabs = queue_subtabs(&root, &rows, Some(&name));
    let base = format!("{}/queues/{}", root.0, seg(&name));
    Ok(QueuePage {
        l,
        remove_href: format!("{base}/remove"),
        info: PageInfo {
            start,
            stop: start + PER_PAGE - 1,
            size,
            per_page: PER_PAGE,
            noun: "job",
        },
        jobs,
        pager: Pager::new(start, Some(size), false, PER_PAGE, |s| {
            format!("{base}?start={s}")
        }),
        name,
    }
    .into_response())
}

pub(crate) async fn remove_queue(
    State(web): State<Web>,
    root: Root,
    Path(name): Path<String>,
    _form: CheckedForm,
) -> Page {
    let c = web.conn().await?;
    c.client.remove_queue(&name).await?;
    Ok(Redirect::to(&format!("{}/queues", root.0)).into_response())
}

// ---- failed --------------------------------------------------------------------------------

pub(crate) async fn failed(State(web): State<Web>, root: Root, Q(q): Q<FailureQuery>) -> Page {
    failed_page(web, root, None, q).await
}

pub(crate) async fn failed_list(
    State(web): State<Web>,
    root: Root,
    Path(list): Path<String>,
    Q(q): Q<FailureQuery>,
) -> Page {
    failed_page(web, root, Some(list), q).await
}

/// The search form's fields, as the filter has them.
fn search_of(filter: &Filter) -> Search {
    Search {
        class: filter.class.clone().unwrap_or_default(),
        exception: filter.exception.clone().unwrap_or_default(),
        queue: filter.queue.clone().unwrap_or_default(),
        text: filter.text.clone().unwrap_or_default(),
        active: !filter.is_empty(),
    }
}

/// The filter and order as a query string (without `start`), for page links.
fn search_query(s: &Search, asc: bool) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("class", &s.class),
        ("exception", &s.exception),
        ("queue", &s.queue),
        ("q", &s.text),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={}", seg(v)));
        }
    }
    if asc {
        parts.push("order=asc".to_owned());
    }
    parts.join("&")
}

async fn failed_page(web: Web, root: Root, list: Option<String>, q: FailureQuery) -> Page {
    let c = web.conn().await?;
    if let Some(url) = c.failures.url() {
        return Ok(Redirect::to(url).into_response());
    }
    let r = root.0.clone();
    if list.is_none() && web.multiple_failed_lists(&c).await? {
        let total = c.failures.count(None, None).await?;
        let mut names = c.failures.queues().await?;
        names.sort();
        let mut lists = Vec::new();
        for name in names {
            let count = c.failures.count(Some(&name), None).await?;
            let classes = c
                .failures
                .class_counts(Some(&name))
                .await?
                .into_iter()
                .map(|(class, n)| {
                    let href = format!("{r}/failed/{}?class={}", seg(&name), seg(&class));
                    (class, href, n)
                })
                .collect();
            lists.push(FailedList {
                href: format!("{r}/failed/{}", seg(&name)),
                name,
                count,
                classes,
            });
        }
        return Ok(FailedListsPage {
            l: web.chrome(&root, "failed", false),
            total,
            lists,
        }
        .into_response());
    }
    let (start, asc, filter) = (q.start, q.asc(), q.filter());
    let search = search_of(&filter);
    let page = c
        .failures
        .page(
            list.as_deref(),
            &filter,
            if asc { Order::Asc } else { Order::Desc },
            start,
            PER_PAGE,
        )
        .await?;
    // Counting a text search scans the whole list, so text searches page without a total.
    let total = if filter.is_empty() {
        Some(page.list_len)
    } else if filter.text.is_none() {
        Some(c.failures.search_count(list.as_deref(), &filter).await?)
    } else {
        None
    };
    let base = match &list {
        Some(l) => format!("{r}/failed/{}", seg(l)),
        None => format!("{r}/failed"),
    };
    let query = search_query(&search, asc);
    let page_href = |s: u64| {
        if query.is_empty() {
            format!("{base}?start={s}")
        } else {
            format!("{base}?{query}&start={s}")
        }
    };
    let pager = Pager::new(start, total, page.more, PER_PAGE, page_href);
    let toggle_query = search_query(&search, !asc);
    let order_toggle_href = if toggle_query.is_empty() {
        base.clone()
    } else {
        format!("{base}?{toggle_query}")
    };
    let entries = page
        .entries
        .iter()
        .map(|e| failed_entry(&r, &base, e))
        .collect();
    let mut title = "Failed Jobs".to_owned();
    if let Some(l) = &list {
        title.push_str(&format!(" on '{l}'"));
    }
    if let Some(cl) = &filter.class {
        title.push_str(&format!(" with class '{cl}'"));
    }
    Ok(FailedPage {
        l: web.chrome(&root, "failed", false),
        title,
        info: total.map(|size| PageInfo {
            start,
            stop: (start + PER_PAGE - 1).min(size.saturating_sub(1)),
            size,
            per_page: PER_PAGE,
            noun: "job",
        }),
        list_len: page.list_len,
        start,
        order_desc: !asc,
        order_toggle_href,
        entries,
        pager,
        search,
        base,
        list,
    }
    .into_response())
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn failed_entry(root: &str, base: &str, e: &resque_failure::Entry) -> FailedEntry {
    let tag = record_tag(&e.raw);
    if let Err(why) = &e.record {
        return FailedEntry {
            index: e.index,
            tag,
            corrupt: Some((shorten(&e.raw, 2000), why.clone())),
            worker_href: String::new(),
            worker_label: String::new(),
            queue: String::new(),
            failed_at: When::default(),
            retried_at: None,
            class: JobClass::default(),
            class_href: None,
            args: String::new(),
            exception: String::new(),
            error: String::new(),
            backtrace: String::new(),
        };
    }
    let worker = e.worker().unwrap_or_default();
    let class = JobClass::of(e.payload());
    let class_href = e
        .class()
        .map(|_| format!("{base}?class={}", seg(&class.name)));
    FailedEntry {
        index: e.index,
        tag,
        corrupt: None,
        worker_href: format!("{root}/workers/{}", seg(worker)),
        worker_label: worker.splitn(3, ':').take(2).collect::<Vec<_>>().join(":"),
        queue: e.queue().unwrap_or_default().to_owned(),
        failed_at: When::parse(e.failed_at().unwrap_or_default()),
        retried_at: e.retried_at().map(When::parse),
        class,
        class_href,
        args: show_args(e.payload().and_then(|p| p.get("args"))),
        exception: e.exception().unwrap_or_default().to_owned(),
        error: e.error().unwrap_or_default().to_owned(),
        backtrace: e.backtrace().join("\n"),
    }
}

/// Where a failure action returns: the list's page, at the page it was sent from.
fn back_to(root: &Root, list: Option<&str>, start: u64) -> Response {
    let base = match list {
        Some(l) => format!("{}/failed/{}", root.0, seg(l)),
        None => format!("{}/failed", root.0),
    };
    let target = if start > 0 {
        format!("{base}?start={start}")
    } else {
        base
    };
    Redirect::to(&target).into_response()
}

/// A failure action that names no single record.
enum Bulk {
    /// Clear a list (`None`: the default one).
    Clear(Option<String>),
    ClearRetried,
    RequeueAll,
    /// Requeue every record of a multi-queue list.
    RequeueList(String),
}

/// Runs a [`Bulk`] action and goes back to the list (Ruby redirects to `/failed` except
/// after requeueing one list).
async fn bulk(web: Web, root: Root, action: Bulk) -> Page {
    let c = web.conn().await?;
    let f = &c.failures;
    let done = match &action {
        Bulk::Clear(list) => f.clear(list.as_deref()).await.map(drop),
        Bulk::ClearRetried => f.clear_retried().await.map(drop),
        Bulk::RequeueAll => f.requeue_all().await.map(drop),
        Bulk::RequeueList(list) => f
            .requeue_queue(resque_protocol::keys::job_queue_name(list))
            .await
            .map(drop),
    };
    done?;
    let back = match &action {
        Bulk::RequeueList(list) => Some(list.as_str()),
        _ => None,
    };
    Ok(back_to(&root, back, 0))
}

/// `POST /failed/clear`.
pub(crate) async fn failed_clear(State(web): State<Web>, root: Root, _f: CheckedForm) -> Page {
    bulk(web, root, Bulk::Clear(None)).await
}

/// `POST /failed/clear_retried`.
pub(crate) async fn failed_clear_retried(
    State(web): State<Web>,
    root: Root,
    _f: CheckedForm,
) -> Page {
    bulk(web, root, Bulk::ClearRetried).await
}

/// `POST /failed/:queue/clear`: clears that failure list (Ruby redirects to `/failed`).
pub(crate) async fn failed_clear_list(
    State(web): State<Web>,
    root: Root,
    Path(list): Path<String>,
    _f: CheckedForm,
) -> Page {
    bulk(web, root, Bulk::Clear(Some(list))).await
}

/// `POST /failed/requeue/all`.
pub(crate) async fn failed_requeue_all(
    State(web): State<Web>,
    root: Root,
    _f: CheckedForm,
) -> Page {
    bulk(web, root, Bulk::RequeueAll).await
}

/// `POST /failed/:queue/requeue/all`: Ruby's `requeue_queue(job_queue_name(queue))`.
pub(crate) async fn failed_requeue_list(
    State(web): State<Web>,
    root: Root,
    Path(list): Path<String>,
    _f: CheckedForm,
) -> Page {
    bulk(web, root, Bulk::RequeueList(list)).await
}

async fn matching(
    web: Web,
    root: Root,
    list: Option<String>,
    CheckedForm(form): CheckedForm<MatchForm>,
    requeue: bool,
) -> Page {
    let c = web.conn().await?;
    let filter = form.search.filter();
    if filter.is_empty() {
        return Err(Error::BadRequest(
            "a search is needed; use Retry all or Clear for the whole list".to_owned(),
        ));
    }
    let done = if requeue {
        c.failures
            .requeue_matching(
                list.as_deref(),
                &filter,
                form.remove.as_deref() == Some("1"),
            )
            .await
    } else {
        c.failures.remove_matching(list.as_deref(), &filter).await
    };
    done?;
    Ok(back_to(&root, list.as_deref(), 0))
}

pub(crate) async fn failed_requeue_matching(
    State(web): State<Web>,
    root: Root,
    f: CheckedForm<MatchForm>,
) -> Page {
    matching(web, root, None, f, true).await
}

pub(crate) async fn failed_remove_matching(
    State(web): State<Web>,
    root: Root,
    f: CheckedForm<MatchForm>,
) -> Page {
    matching(web, root, None, f, false).await
}

pub(crate) async fn failed_requeue_matching_list(
    State(web): State<Web>,
    root: Root,
    Path(list): Path<String>,
    f: CheckedForm<MatchForm>,
) -> Page {
    matching(web, root, Some(list), f, true).await
}

pub(crate) async fn failed_remove_matching_list(
    State(web): State<Web>,
    root: Root,
    Path(list): Path<String>,
    f: CheckedForm<MatchForm>,
) -> Page {
    matching(web, root, Some(list), f, false).await
}

/// Retry or remove one record. The form carries the record's tag (a hash of its bytes):
/// if another client shifted the list meanwhile, nothing happens and the page says so,
/// where Ruby would act on whatever record now sits at that index.
async fn one(
    web: Web,
    root: Root,
    list: Option<String>,
    index: String,
    CheckedForm(form): CheckedForm<RecordForm>,
    requeue: bool,
) -> Page {
    let index: u64 = index
        .parse()
        .map_err(|_| Error::BadRequest(format!("not a record index: {index:?}")))?;
    let c = web.conn().await?;
    let entry = c.failures.get(index, list.as_deref()).await?;
    if let Some(tag) = &form.tag
        && *tag != record_tag(&entry.raw)
    {
        return Err(Error::Conflict(
            "That failure record changed or moved since the page was loaded; nothing was done. \
             Reload the page and try again."
                .to_owned(),
        ));
    }
    let done = if requeue {
        c.failures.requeue_entry(&entry).await
    } else {
        c.failures.remove_entry(&entry).await
    };
    done?;
    Ok(back_to(&root, list.as_deref(), form.start))
}

pub(crate) async fn failed_requeue(
    State(web): State<Web>,
    root: Root,
    Path(index): Path<String>,
    f: CheckedForm<RecordForm>,
) -> Page {
    one(web, root, None, index, f, true).await
}

pub(crate) async fn failed_requeue_in(
    State(web): State<Web>,
    root: Root,
    Path((list, index)): Path<(String, String)>,
    f: CheckedForm<RecordForm>,
) -> Page {
    one(web, root, Some(list), index, f, true).await
}

pub(crate) async fn failed_remove(
    State(web): State<Web>,
    root: Root,
    Path(index): Path<String>,
    f: CheckedForm<RecordForm>,
) -> Page {
    one(web, root, None, index, f, false).await
}

pub(crate) async fn failed_remove_in(
    State(web): State<Web>,
    root: Root,
    Path((list, index)): Path<(String, String)>,
    f: CheckedForm<RecordForm>,
) -> Page {
    one(web, root, Some(list), index, f, false).await
}

// ---- stats ---------------------------------------------------------------------------------

fn stats_chrome(web: &Web, root: &Root, current: &str) -> Chrome {
    let mut l = web.chrome(root, "stats", false);
    l.subtabs = ["resque", "redis", "keys"]
        .iter()
        .map(|s| Tab {
            label: (*s).to_owned(),
            href: format!("{}/stats/{s}", root.0),
            current: *s == current,
        })
        .collect();
    l
}

pub(crate) async fn stats_redirect(root: Root) -> Redirect {
    Redirect::to(&format!("{}/stats/resque", root.0))
}

/// Keys listed per page on the keys table.
const KEYS_PER_PAGE: u64 = 100;

pub(crate) async fn stats(
    State(web): State<Web>,
    root: Root,
    Path(id): Path<String>,
    Q(q): Q<Paging>,
) -> Page {
    let c = web.conn().await?;
    match id.as_str() {
        "resque" => {
            let info = c.client.info().await?;
            let mut rows = vec![
                ("environment".to_owned(), info.environment.clone()),
                ("failed".to_owned(), info.failed.to_string()),
                ("pending".to_owned(), info.pending.to_string()),
                ("processed".to_owned(), info.processed.to_string()),
                ("queues".to_owned(), info.queues.to_string()),
                ("servers".to_owned(), format!("{:?}", info.servers)),
                ("workers".to_owned(), info.workers.to_string()),
                ("working".to_owned(), info.working.to_string()),
            ];
            rows.sort();
            Ok(StatsPage {
                l: stats_chrome(&web, &root, "resque"),
                title: format!("Resque Client connected to {}", web.redis_id()),
                rows,
            }
            .into_response())
        }
        "redis" => {
            let mut rows = c.client.store().server_info().await?;
            rows.sort();
            Ok(StatsPage {
                l: stats_chrome(&web, &root, "redis"),
                title: web.redis_id().to_owned(),
                rows,
            }
            .into_response())
        }
        "keys" => {
            let all = c.client.keys().await?;
            let total = all.len() as u64;
            let start = q.start.min(total);
            let names: Vec<String> = all
                .into_iter()
                .skip(usize::try_from(start).unwrap_or(usize::MAX))
                .take(KEYS_PER_PAGE as usize)
                .collect();
            let summaries = c.client.store().key_summaries(&names).await?;
            let r = &root.0;
            let keys = names
                .into_iter()
                .zip(summaries)
                .map(|(name, (kind, size))| KeyRow {
                    href: format!("{r}/stats/keys/{}", seg(&name)),
                    name,
                    kind: kind.to_string(),
                    size,
                })
                .collect();
            let base = format!("{r}/stats/keys");
            Ok(KeysPage {
                l: stats_chrome(&web, &root, "keys"),
                redis_id: web.redis_id().to_owned(),
                keys,
                total,
                pager: Pager::new(start, Some(total), false, KEYS_PER_PAGE, |s| {
                    format!("{base}?start={s}")
                }),
            }
            .into_response())
        }
        other => Err(Error::NotFound(format!("no stats page {other:?}"))),
    }
}

/// Longest string value the key viewer shows.
const MAX_STRING: u64 = 64 * 1024;

pub(crate) async fn stats_key(
    State(web): State<Web>,
    root: Root,
    Path(key): Path<String>,
    Q(Paging { start }): Q<Paging>,
) -> Page {
    let c = web.conn().await?;
    let page = c
        .client
        .store()
        .key_page(&key, start, PER_PAGE, MAX_STRING)
        .await?;
    let is_string = page.kind == resque_store::KeyType::String;
    let base = format!("{}/stats/keys/{}", root.0, seg(&key));
    let (string, rows) = if is_string {
        (page.items.into_iter().next().map(|(v, _)| v), Vec::new())
    } else {
        (None, page.items)
    };
    Ok(KeyPage {
        l: stats_chrome(&web, &root, "keys"),
        kind: page.kind.to_string(),
        size: page.size,
        info: PageInfo {
            start,
            stop: start + PER_PAGE - 1,
            size: page.size,
            per_page: PER_PAGE,
            noun: "item",
        },
        truncated: is_string && page.size > MAX_STRING,
        string,
        rows,
        pager: if is_string {
            Pager::default()
        } else {
            Pager::new(start, Some(page.size), false, PER_PAGE, |s| {
                format!("{base}?start={s}")
            })
        },
        name: key,
    }
    .into_response())
}

// ---- fallback ------------------------------------------------------------------------------

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
