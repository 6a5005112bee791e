//! The Failed tab's actions (POST + CSRF): retry, remove, clear, by record, list or
//! search.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::Page;
use crate::app::{CheckedForm, Root, Web};
use crate::error::Error;
use crate::query::{MatchForm, RecordForm};
use crate::views::*;

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
