//! Stats: Resque's and Redis's figures, and the key viewer.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};

use super::Page;
use crate::PER_PAGE;
use crate::app::{Root, Web};
use crate::error::Error;
use crate::query::{Paging, Q};
use crate::views::*;

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
            let mut rows = c.client.store()?.server_info().await?;
            rows.sort();
            Ok(StatsPage {
                l: stats_chrome(&web, &root, "redis"),
                title: web.redis_id().to_owned(),
                rows,
            }
            .into_response())
        }
        "keys" => {
            let all = web.key_list().get(c.client.store()?).await?;
            let total = all.len() as u64;
            let start = q.start.min(total);
            let names: Vec<String> = all
                .iter()
                .skip(usize::try_from(start).unwrap_or(usize::MAX))
                .take(KEYS_PER_PAGE as usize)
                .cloned()
                .collect();
            let summaries = c.client.store()?.key_summaries(&names).await?;
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
        .store()?
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

#[derive(Template, WebTemplate)]
#[template(path = "stats/stats.html")]
pub(crate) struct StatsPage {
    pub(crate) l: Chrome,
    pub(crate) title: String,
    pub(crate) rows: Vec<(String, String)>,
}

/// A key in the keys table.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub(crate) name: String,
    pub(crate) href: String,
    pub(crate) kind: String,
    pub(crate) size: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "stats/keys.html")]
pub(crate) struct KeysPage {
    pub(crate) l: Chrome,
    pub(crate) redis_id: String,
    pub(crate) keys: Vec<KeyRow>,
    pub(crate) total: u64,
    pub(crate) pager: Pager,
}

#[derive(Template, WebTemplate)]
#[template(path = "stats/key.html")]
pub(crate) struct KeyPage {
    pub(crate) l: Chrome,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) size: u64,
    pub(crate) info: PageInfo,
    pub(crate) string: Option<String>,
    pub(crate) truncated: bool,
    pub(crate) rows: Vec<(String, Option<String>)>,
    pub(crate) pager: Pager,
}
