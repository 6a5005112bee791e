//! Queues: the list, one queue's jobs a page at a time, and removing a queue.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};

use super::Page;
use crate::PER_PAGE;
use crate::app::{CheckedForm, Root, Web};
use crate::query::{Paging, Q};
use crate::views::*;

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
                args: show_args(p.as_map().get("args")),
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

#[derive(Template, WebTemplate)]
#[template(path = "queues/queues.html")]
pub(crate) struct QueuesPage {
    pub(crate) l: Chrome,
    pub(crate) qt: QueuesTable,
}

/// One job in a queue.
#[derive(Debug, Clone)]
pub(crate) struct QueuedJob {
    pub(crate) class: JobClass,
    pub(crate) args: String,
    /// The raw item and why it is not a payload.
    pub(crate) malformed: Option<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "queues/queue.html")]
pub(crate) struct QueuePage {
    pub(crate) l: Chrome,
    pub(crate) name: String,
    pub(crate) remove_href: String,
    pub(crate) info: PageInfo,
    pub(crate) jobs: Vec<QueuedJob>,
    pub(crate) pager: Pager,
}
