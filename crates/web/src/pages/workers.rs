//! Workers: all of them, one host's, or one worker.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Page;
use crate::app::{Root, Web};
use crate::views::*;

async fn workers_page(web: Web, root: Root, id: Option<String>, fragment: bool) -> Page {
    let c = web.conn().await?;
    let r = root.0.clone();
    // A worker id has colons; a host name has none.
    if let Some(id) = id.as_deref().filter(|i| i.contains(':')) {
        let d = c.client.store()?.worker_details(id).await?;
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

#[derive(Template, WebTemplate)]
#[template(path = "workers/workers.html")]
pub(crate) struct WorkersPage {
    pub(crate) l: Chrome,
    pub(crate) workers: Vec<WorkerRow>,
    pub(crate) poll_href: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "workers/hosts.html")]
pub(crate) struct HostsPage {
    pub(crate) l: Chrome,
    pub(crate) hosts: Vec<QueueRow>,
    pub(crate) total: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "workers/worker.html")]
pub(crate) struct WorkerPage {
    pub(crate) l: Chrome,
    pub(crate) w: WorkerRow,
    pub(crate) started: When,
    pub(crate) heartbeat: When,
    pub(crate) processed: i64,
    pub(crate) failed: i64,
}
