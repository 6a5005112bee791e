//! [`Failures`]: Ruby's `Resque::Failure` API (count, all, each, queues, clear,
//! clear_retried, requeue, remove, requeue_queue, requeue_all, remove_queue), plus what
//! its users asked for: newest-first paging that is right across pages, search by class,
//! queue, exception and text, requeue-and-remove, and bulk operations by filter.
//!
//! Lists are read in chunks, so no call loads a whole failure list into memory. Index-based
//! changes check the record's bytes atomically first (see
//! [`resque_store::Store::list_remove_if`]), so a concurrent change never hits a neighbour.

use resque_protocol::{Payload, Value, failure, json, keys, time};
use resque_store::Store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::backend::{Backend, Member};
use crate::entry::Entry;
use crate::filter::Filter;
use crate::index::Index;
use crate::{Error, Result};

/// Records read per `LRANGE` while scanning.
const CHUNK: i64 = 1000;
/// New records after which a process shares its extended index again.
const SHARE_AFTER: u64 = 1000;
/// Records searched per server-side scan call: large enough that round trips do not
/// dominate, small enough that one call holds Redis only a few milliseconds.
const SERVER_CHUNK: i64 = 5000;

/// Which list layout the queries read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One list, `failed`.
    Single,
    /// `<queue>_failed` lists named in `failed_queues`.
    MultiQueue,
    /// A notifier first: Ruby's Airbrake backend keeps no records (`count` is
    /// `stat:failed`, lists are empty).
    None,
}

/// Page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest (highest index) first: page 1 holds the last records of the whole list.
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

/// A page of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records, in the order asked for.
    pub entries: Vec<Entry>,
    /// Records in the list (unfiltered length).
    pub list_len: u64,
    /// Whether more matching records follow this page.
    pub more: bool,
}

/// The Failure API over one backend's lists.
#[derive(Debug, Clone)]
pub struct Failures {
    store: Store,
    layout: Layout,
    /// Ruby's `Multiple.remove` removes from every member; a second Redis-kind member
    /// holding the same record is removed from too.
    also_remove_from: Vec<Layout>,
    url: Option<String>,
    /// Per-list indices for filtered pages (see `index.rs`); shared by clones.
    indices: Arc<Mutex<HashMap<String, Index>>>,
}

impl Failures {
    /// The API over `backend`'s first member (Ruby's `Multiple` routes queries there).
    pub fn new(store: Store, backend: &Backend) -> Self {
        let layout_of = |m: &Member| match m {
            Member::Redis => Layout::Single,
            Member::RedisMultiQueue => Layout::MultiQueue,
            #[allow(unreachable_patterns)]
            _ => Layout::None,
        };
        let mut layouts = backend.members().iter().map(layout_of);
        let layout = layouts.next().unwrap_or(Layout::Single);
        let also_remove_from = layouts
            .filter(|l| *l != Layout::None && *l != layout)
            .collect();
        Self {
            store,
            layout,
            also_remove_from,
            url: backend.url().map(str::to_owned),
            indices: Arc::default(),
        }
    }

    /// `Failure.url`: where the backend's failures are browsed, if elsewhere.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether records live in per-queue lists (RedisMultiQueue).
    pub fn is_multi_queue(&self) -> bool {
        self.layout == Layout::MultiQueue
    }

    /// `Failure.queues`: the failure lists (`["failed"]`, or the `failed_queues` members).
    pub async fn queues(&self) -> Result<Vec<String>> {
        Ok(match self.layout {
            Layout::Single => vec![failure::FAILED_LIST.to_owned()],
            Layout::MultiQueue => {
                self.store
                    .set_members(&self.store.keys().failed_queues())
                    .await?
            }
            Layout::None => Vec::new(),
        })
    }

    /// Resolves a list name as Ruby's backends do: the Redis backend accepts only
    /// `failed` (or none); RedisMultiQueue defaults to `failed`.
    fn list_name(&self, list: Option<&str>) -> Result<String> {
        match (self.layout, list) {
            (Layout::Single, None | Some(failure::FAILED_LIST)) => {
                Ok(failure::FAILED_LIST.to_owned())
            }
            (Layout::Single, Some(other)) => Err(Error::InvalidQueue(other.to_owned())),
            (_, Some(l)) => Ok(l.to_owned()),
            (_, None) => Ok(failure::FAILED_LIST.to_owned()),
        }
    }

    fn key(&self, list: &str) -> String {
        self.store.keys().failure_list(list)
    }

    /// The lists a whole-backend operation covers.
    async fn all_lists(&self) -> Result<Vec<String>> {
        self.queues().await
    }

    /// `Failure.count(queue, class_name)`. Without a list, RedisMultiQueue sums every list.
    pub async fn count(&self, list: Option<&str>, class: Option<&str>) -> Result<u64> {
        if self.layout == Layout::None {
            return Ok(u64::try_from(self.store.stat("failed").await?).unwrap_or(0));
        }
        let lists = match (self.layout, list) {
            (Layout::MultiQueue, None) => self.all_lists().await?,
            _ => vec![self.list_name(list)?],
        };
        let mut n = 0;
        for l in lists {
            n += match class {
                None => self.store.list_len(&self.key(&l)).await?,
                Some(c) => self.search_count(Some(&l), &Filter::class(c)).await?,
            };
        }
        Ok(n)
    }

    /// `Failure.all(offset, limit, queue)`: records `offset..offset+limit`, oldest first.
    pub async fn all(&self, offset: u64, limit: u64, list: Option<&str>) -> Result<Vec<Entry>> {
        if self.layout == Layout::None || limit == 0 {
            return Ok(Vec::new());
        }
        let name = self.list_name(list)?;
        let start = to_i64(offset);
        let raws = self
            .store
            .list_range_raw(
                &self.key(&name),
                start,
                start.saturating_add(to_i64(limit)) - 1,
            )
            .await?;
        Ok(raws
            .into_iter()
            .enumerate()
            .map(|(i, r)| Entry::new(&name, offset + i as u64, r))
            .collect())
    }

    /// One record by index.
    pub async fn get(&self, index: u64, list: Option<&str>) -> Result<Entry> {
        let name = self.list_name(list)?;
        match self
            .store
            .list_index(&self.key(&name), to_i64(index))
            .await?
        {
            Some(raw) => Ok(Entry::new(&name, index, raw)),
            None => Err(Error::NoSuchRecord { list: name, index }),
        }
    }

    /// A page of matching records. `offset` counts matching records in the chosen order, so
    /// with [`Order::Desc`] page 1 is the newest records of the whole list (Ruby reverses
    /// only within a page). Memory is bounded by one chunk plus the page.
    pub async fn page(
        &self,
        list: Option<&str>,
        filter: &Filter,
        order: Order,
        offset: u64,
        limit: u64,
    ) -> Result<Page> {
        if self.layout == Layout::None {
            return Ok(Page {
                entries: Vec::new(),
                list_len: 0,
                more: false,
            });
        }
        let name = self.list_name(list)?;
        let key = self.key(&name);
        let len = self.store.list_len(&key).await?;
        let (entries, more) = if filter.is_empty() {
            // Direct index arithmetic: one LRANGE.
            let mut entries = Vec::new();
            if offset < len && limit > 0 {
                let (start, stop) = match order {
                    Order::Asc => (offset, (offset + limit).min(len) - 1),
                    Order::Desc => {
                        let stop = len - 1 - offset;
                        (stop.saturating_sub(limit - 1), stop)
                    }
                };
                let raws = self
                    .store
                    .list_range_raw(&key, to_i64(start), to_i64(stop))
                    .await?;
                entries = raws
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| Entry::new(&name, start + i as u64, r))
                    .collect();
                if order == Order::Desc {
                    entries.reverse();
                }
            }
            (entries, offset.saturating_add(limit) < len)
        } else if Index::can_answer(filter) {
            self.indexed_page(&name, filter, order, offset, limit)
                .await?
        } else {
            self.scan_page(&name, filter, order, offset, limit).await?
        };
        Ok(Page {
            entries,
            list_len: len,
            more,
        })
    }

    /// A filtered page through the list's index (built or brought up to date first).
    /// Every fetched record is checked against the filter; if one does not match, the list
    /// changed under the index, which is rebuilt once.
    async fn indexed_page(
        &self,
        name: &str,
        filter: &Filter,
        order: Order,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Entry>, bool)> {
        let key = self.key(name);
        for attempt in 0..2 {
            let index = self.fresh_index(name, &key, attempt > 0).await?;
            let mut picked = index.matches(filter, order == Order::Desc, offset, limit);
            self.indices
                .lock()
                .map_err(|_| Error::IndexPoisoned)?
                .insert(name.to_owned(), index);
            let more = picked.len() as u64 > limit;
            picked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let wanted: Vec<i64> = picked.iter().map(|i| to_i64(*i)).collect();
            let raws = self.store.list_indices(&key, &wanted).await?;
            let entries: Vec<Entry> = picked
                .iter()
                .zip(raws)
                .filter_map(|(i, raw)| raw.map(|r| Entry::new(name, *i, r)))
                .collect();
            if entries.len() == picked.len() && entries.iter().all(|e| filter.matches(e)) {
                return Ok((entries, more));
            }
        }
        // The list keeps changing under us: answer by scanning instead.
        self.scan_page(name, filter, order, offset, limit).await
    }

    /// A filtered page by scanning: skips `offset` matches, takes `limit`, and says whether
    /// more follow.
    async fn scan_page(
        &self,
        name: &str,
        filter: &Filter,
        order: Order,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Entry>, bool)> {
        let mut entries = Vec::new();
        let mut more = false;
        let mut skipped = 0;
        self.scan(
            name,
            order,
            |e| {
                if !filter.matches(&e) {
                    return true;
                }
                if skipped < offset {
                    skipped += 1;
                    return true;
                }
                if entries.len() as u64 == limit {
                    more = true;
                    return false;
                }
                entries.push(e);
                true
            },
            filter,
        )
        .await?;
        Ok((entries, more))
    }

    /// The list's index, checked and extended to the list's current length (or rebuilt).
    async fn fresh_index(&self, name: &str, key: &str, rebuild: bool) -> Result<Index> {
        let cached = self
            .indices
            .lock()
            .map_err(|_| Error::IndexPoisoned)?
            .remove(name);
        let len = self.store.list_len(key).await?;
        // A process without its own copy starts from the copy another process shared.
        let shared_key = self.store.keys().failure_index(name);
        let cached = match cached {
            None if !rebuild => self
                .store
                .get_bytes(&shared_key)
                .await?
                .and_then(|b| Index::decode(&b)),
            other => other,
        };
        let mut index = match cached {
            Some(ix) if !rebuild => {
                let last = match ix.len() {
                    0 => None,
                    n => self.store.list_index(key, to_i64(n - 1)).await?,
                };
                if ix.still_prefix(len, last.as_deref()) {
                    ix
                } else {
                    Index::default()
                }
            }
            _ => Index::default(),
        };
        let before = index.len();
        let mut start = before;
        while start < len {
            let raws = self
                .store
                .list_range_raw(key, to_i64(start), to_i64(start) + CHUNK - 1)
                .await?;
            if raws.is_empty() {
                break;
            }
            start += raws.len() as u64;
            for raw in &raws {
                index.push(raw);
            }
        }
        // Share the work: after a (re)build, or when many records were added. Best effort:
        // a copy that fails to save is only a slower start for the next process.
        let worth_sharing = (before == 0 && index.len() > 0) || index.len() - before >= SHARE_AFTER;
        if worth_sharing && let Err(e) = self.store.set_bytes(&shared_key, &index.encode()).await {
            tracing::debug!(error = %e, "could not share the failure index");
        }
        Ok(index)
    }

    /// Records per job class in one list, sorted by class (`nil` for records without
    /// one), as the web UI's multi-queue overview shows them. Answered from the list's
    /// index, so only records added since the last look are read.
    pub async fn class_counts(&self, list: Option<&str>) -> Result<Vec<(String, u64)>> {
        if self.layout == Layout::None {
            return Ok(Vec::new());
        }
        let name = self.list_name(list)?;
        let index = self.fresh_index(&name, &self.key(&name), false).await?;
        let counts = index.class_counts();
        self.indices
            .lock()
            .map_err(|_| Error::IndexPoisoned)?
            .insert(name, index);
        Ok(counts)
    }

    /// How many records match a filter (a full scan, in chunks).
    pub async fn search_count(&self, list: Option<&str>, filter: &Filter) -> Result<u64> {
        let name = self.list_name(list)?;
        if Index::can_answer(filter) {
            let index = self.fresh_index(&name, &self.key(&name), false).await?;
            let n = index.count(filter);
            self.indices
                .lock()
                .map_err(|_| Error::IndexPoisoned)?
                .insert(name, index);
            return Ok(n);
        }
        let mut n = 0;
        self.scan(
            &name,
            Order::Asc,
            |e| {
                if filter.matches(&e) {
                    n += 1;
                }
                true
            },
            filter,
        )
        .await?;
        Ok(n)
    }

    /// Visits records in `order`, chunk by chunk, until `visit` returns `false`. With a
    /// filter, Redis itself skips records whose raw text cannot match
    /// ([`Store::list_scan_matching`]), so only candidates are sent and decoded.
    async fn scan(
        &self,
        list: &str,
        order: Order,
        mut visit: impl FnMut(Entry) -> bool,
        filter: &Filter,
    ) -> Result<()> {
        let key = self.key(list);
        let len = to_i64(self.store.list_len(&key).await?);
        let (exact, ci) = filter.raw_needles();
        let server_side = !(exact.is_empty() && ci.is_empty());
        let chunk = if server_side { SERVER_CHUNK } else { CHUNK };
        let read = |start: i64, stop: i64| {
            let (store, key, exact, ci) = (&self.store, &key, &exact, &ci);
            async move {
                if server_side {
                    store.list_scan_matching(key, start, stop, exact, ci).await
                } else {
                    let raws = store.list_range_raw(key, start, stop).await?;
                    Ok(raws.into_iter().zip(start..).map(|(r, i)| (i, r)).collect())
                }
            }
        };
        let ranges: Box<dyn Iterator<Item = (i64, i64)> + Send> = match order {
            Order::Asc => Box::new(
                (0..len)
                    .step_by(chunk as usize)
                    .map(|s| (s, (s + chunk - 1).min(len - 1))),
            ),
            Order::Desc => Box::new(
                std::iter::successors(Some(len - 1), move |stop| Some(stop - chunk))
                    .take_while(|stop| *stop >= 0)
                    .map(move |stop| ((stop - chunk + 1).max(0), stop)),
            ),
        };
        for (start, stop) in ranges {
            let mut items = read(start, stop).await?;
            if order == Order::Desc {
                items.reverse();
            }
            for (i, raw) in items {
                if !visit(Entry::new(list, u64::try_from(i).unwrap_or(0), raw)) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// `Failure.requeue(index, queue)`: marks the record `retried_at` (appended last; the
    /// multi-queue backend writes it without a zone, as Ruby does) and pushes its job again
    /// without enqueue hooks. The record stays in the list.
    pub async fn requeue(&self, index: u64, list: Option<&str>) -> Result<()> {
        let entry = self.get(index, list).await?;
        self.requeue_entry(&entry).await
    }

    /// [`Failures::requeue`] for a record read earlier: refused with [`Error::Changed`] if
    /// the list no longer holds exactly that record at that index.
    pub async fn requeue_entry(&self, entry: &Entry) -> Result<()> {
        let (queue, class, args) = entry.job()?;
        let mut record = entry.record.clone().map_err(|reason| Error::Corrupt {
            list: entry.list.clone(),
            index: entry.index,
            reason,
        })?;
        let now = time::now();
        let retried_at = match self.layout {
            Layout::MultiQueue => time::retried_at_without_zone(&now),
            _ => time::failed_at(&now),
        };
        failure::mark_retried(&mut record, retried_at);
        let new = json::to_string(&record)?;
        let key = self.key(&entry.list);
        if !self
            .store
            .list_replace_if(
                &key,
                to_i64(entry.index),
                entry.raw.as_bytes(),
                new.as_bytes(),
            )
            .await?
        {
            return Err(Error::Changed {
                list: entry.list.clone(),
                index: entry.index,
            });
        }
        self.push_job(&queue, &class, args).await
    }

    async fn push_job(&self, queue: &str, class: &str, args: Vec<Value>) -> Result<()> {
        let payload = Payload::new(class, args);
        self.store.push(queue, &payload.encode()?).await?;
        Ok(())
    }

    /// Beyond Ruby (resque#924, #548): pushes the job again and removes its record, so a
    /// retried job is not left behind as a failure.
    pub async fn requeue_and_remove(&self, index: u64, list: Option<&str>) -> Result<()> {
        let entry = self.get(index, list).await?;
        self.requeue_and_remove_entry(&entry).await
    }

    /// [`Failures::requeue_and_remove`] for a record read earlier (checked like
    /// [`Failures::requeue_entry`]).
    pub async fn requeue_and_remove_entry(&self, entry: &Entry) -> Result<()> {
        let (queue, class, args) = entry.job()?;
        // Remove first: if the record changed meanwhile, nothing is pushed twice.
        self.remove_entry(entry).await?;
        self.push_job(&queue, &class, args).await
    }

    /// `Failure.remove(index, queue)`. Also removes the same record from the other members
    /// of a Multiple backend, as Ruby's `Multiple.remove` does.
    pub async fn remove(&self, index: u64, list: Option<&str>) -> Result<()> {
        let entry = self.get(index, list).await?;
        self.remove_entry(&entry).await
    }

    /// [`Failures::remove`] for a record read earlier (checked like
    /// [`Failures::requeue_entry`]).
    pub async fn remove_entry(&self, entry: &Entry) -> Result<()> {
        let key = self.key(&entry.list);
        if !self
            .store
            .list_remove_if(&key, to_i64(entry.index), entry.raw.as_bytes())
            .await?
        {
            return Err(Error::Changed {
                list: entry.list.clone(),
                index: entry.index,
            });
        }
        for layout in &self.also_remove_from {
            let other_list = match layout {
                Layout::Single => failure::FAILED_LIST.to_owned(),
                _ => entry
                    .queue()
                    .map(keys::failure_queue_name)
                    .unwrap_or_default(),
            };
            let other = self.key(&other_list);
            // The same bytes at the same index, if that member holds it; else leave it.
            let _ = self
                .store
                .list_remove_if(&other, to_i64(entry.index), entry.raw.as_bytes())
                .await?;
        }
        Ok(())
    }

    /// `Failure.clear(queue)`: deletes a failure list (RedisMultiQueue without a list:
    /// every list).
    pub async fn clear(&self, list: Option<&str>) -> Result<()> {
        let lists = match (self.layout, list) {
            (Layout::None, _) => return Ok(()),
            (Layout::MultiQueue, None) => self.all_lists().await?,
            _ => vec![self.list_name(list)?],
        };
        for l in lists {
            self.store.delete(&self.key(&l)).await?;
        }
        Ok(())
    }

    /// `Failure.clear_retried`: removes every record that has `retried_at`. Returns how
    /// many went.
    pub async fn clear_retried(&self) -> Result<u64> {
        self.remove_where(None, &Filter::default(), |e| e.retried_at().is_some())
            .await
    }

    /// `Failure.requeue_queue(queue)`: requeues every record of jobs from `queue`.
    pub async fn requeue_queue(&self, queue: &str) -> Result<u64> {
        match self.layout {
            Layout::MultiQueue => {
                // Ruby registers the list name as a side effect (failure_queue_name).
                let list = keys::failure_queue_name(queue);
                self.store
                    .set_add(&self.store.keys().failed_queues(), &list)
                    .await?;
                self.requeue_matching(Some(&list), &Filter::default(), false)
                    .await
            }
            _ => {
                self.requeue_matching(None, &Filter::queue(queue), false)
                    .await
            }
        }
    }

    /// `Failure.requeue_all`.
    pub async fn requeue_all(&self) -> Result<u64> {
        let mut n = 0;
        for l in self.all_lists().await? {
            n += self
                .requeue_matching(Some(&l), &Filter::default(), false)
                .await?;
        }
        Ok(n)
    }

    /// `Failure.remove_queue(queue)`: the Redis backend removes every record of that queue;
    /// RedisMultiQueue deletes `<queue>_failed` (after `SADD`ing its name, as Ruby does).
    pub async fn remove_queue(&self, queue: &str) -> Result<u64> {
        match self.layout {
            Layout::MultiQueue => {
                let list = keys::failure_queue_name(queue);
                self.store
                    .set_add(&self.store.keys().failed_queues(), &list)
                    .await?;
                let n = self.store.list_len(&self.key(&list)).await?;
                self.store.delete(&self.key(&list)).await?;
                Ok(n)
            }
            Layout::Single => self.remove_matching(None, &Filter::queue(queue)).await,
            Layout::None => Ok(0),
        }
    }

    /// Beyond Ruby: requeues every record matching `filter`, oldest first (corrupt records
    /// skipped); with `remove`, each record goes once its job is pushed. Returns how many.
    pub async fn requeue_matching(
        &self,
        list: Option<&str>,
        filter: &Filter,
        remove: bool,
    ) -> Result<u64> {
        let name = self.list_name(list)?;
        self.walk(
            &name,
            filter,
            |e| !e.is_corrupt() && filter.matches(e),
            |this, e| {
                Box::pin(async move {
                    if remove {
                        this.requeue_and_remove_entry(&e).await.map(|()| true)
                    } else {
                        this.requeue_entry(&e).await.map(|()| false)
                    }
                })
            },
        )
        .await
    }

    /// Beyond Ruby: removes every record matching `filter` (corrupt records are kept).
    pub async fn remove_matching(&self, list: Option<&str>, filter: &Filter) -> Result<u64> {
        self.remove_where(list, filter, |e| !e.is_corrupt() && filter.matches(e))
            .await
    }

    async fn remove_where(
        &self,
        list: Option<&str>,
        filter: &Filter,
        pred: impl Fn(&Entry) -> bool,
    ) -> Result<u64> {
        let lists = match (self.layout, list) {
            (Layout::None, _) => return Ok(0),
            (Layout::MultiQueue, None) => self.all_lists().await?,
            _ => vec![self.list_name(list)?],
        };
        let mut n = 0;
        for name in lists {
            n += self
                .walk(&name, filter, &pred, |this, e| {
                    Box::pin(async move { this.remove_entry(&e).await.map(|()| true) })
                })
                .await?;
        }
        Ok(n)
    }

    /// Walks a list oldest first, one chunk in memory at a time, calling `act` on records
    /// that satisfy `pred`. `act` says whether it removed the record, so the walk knows the
    /// next record now sits at the same index. A record that changed meanwhile (or is
    /// corrupt) is skipped, never a neighbour. Returns how many records `act` handled.
    async fn walk<'s, P, A>(&'s self, list: &str, filter: &Filter, pred: P, act: A) -> Result<u64>
    where
        P: Fn(&Entry) -> bool,
        A: Fn(
            &'s Self,
            Entry,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool>> + Send + 's>>,
    {
        let key = self.key(list);
        let mut pos: i64 = 0;
        let mut n = 0;
        loop {
            let raws = self
                .store
                .list_range_raw(&key, pos, pos + CHUNK - 1)
                .await?;
            if raws.is_empty() {
                break;
            }
            for raw in raws {
                let candidate = filter.may_match_raw(&raw);
                let entry = Entry::new(list, u64::try_from(pos).unwrap_or(0), raw);
                if candidate && pred(&entry) {
                    match act(self, entry).await {
                        Ok(true) => {
                            n += 1;
                            continue; // removed: the next record moved into `pos`
                        }
                        Ok(false) => n += 1,
                        Err(Error::Corrupt { .. } | Error::Changed { .. }) => {}
                        Err(other) => return Err(other),
                    }
                }
                pos += 1;
            }
        }
        Ok(n)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Backend {
    /// The Failure API (count, all, requeue, remove...) over this backend.
    pub fn failures(&self, store: Store) -> Failures {
        Failures::new(store, self)
    }
}
