//! Failed: the failure lists, one list a page at a time, and search.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use resque_failure::{Filter, Order};

use super::Page;
use crate::PER_PAGE;
use crate::app::{Root, Web};
use crate::query::{FailureQuery, Q};
use crate::views::*;

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

/// One failure record.
#[derive(Debug, Clone)]
pub(crate) struct FailedEntry {
    pub(crate) index: u64,
    pub(crate) tag: String,
    /// Set when the record is not valid JSON: the raw text (shortened) and why.
    pub(crate) corrupt: Option<(String, String)>,
    pub(crate) worker_href: String,
    pub(crate) worker_label: String,
    pub(crate) queue: String,
    pub(crate) failed_at: When,
    pub(crate) retried_at: Option<When>,
    pub(crate) class: JobClass,
    pub(crate) class_href: Option<String>,
    pub(crate) args: String,
    pub(crate) exception: String,
    pub(crate) error: String,
    pub(crate) backtrace: String,
}

/// The failed-list page's filter form values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Search {
    pub(crate) class: String,
    pub(crate) exception: String,
    pub(crate) queue: String,
    pub(crate) text: String,
    pub(crate) active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "failed/failed.html")]
pub(crate) struct FailedPage {
    pub(crate) l: Chrome,
    pub(crate) list: Option<String>,
    /// `failed` or `failed/<list>`, under root: where the list's actions live.
    pub(crate) base: String,
    pub(crate) title: String,
    pub(crate) list_len: u64,
    pub(crate) info: Option<PageInfo>,
    pub(crate) start: u64,
    pub(crate) order_desc: bool,
    pub(crate) order_toggle_href: String,
    pub(crate) entries: Vec<FailedEntry>,
    pub(crate) pager: Pager,
    pub(crate) search: Search,
}

/// A failure list in the multi-queue overview, with counts per class.
#[derive(Debug, Clone)]
pub(crate) struct FailedList {
    pub(crate) name: String,
    pub(crate) href: String,
    pub(crate) count: u64,
    pub(crate) classes: Vec<(String, String, u64)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "failed/failed_lists.html")]
pub(crate) struct FailedListsPage {
    pub(crate) l: Chrome,
    pub(crate) total: u64,
    pub(crate) lists: Vec<FailedList>,
}
