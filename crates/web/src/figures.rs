//! The job metrics and history the pages read ([`resque_protocol::metrics`]), with what no
//! longer changes kept in memory for a while.
//!
//! A minute, hour or day that ended more than [`GRACE`] ago gets no more writes (a worker
//! records a run in the minute it ends by its own clock), so it is read from Redis once and
//! kept for [`KEEP_FOR`]; a page then reads only the open ones and the expired, and the
//! 72-hour Metrics view costs a few hashes a request instead of 72. Kept figures are
//! dropped after [`KEEP_FOR`] so that a Redis restarted empty, or a worker whose clock runs
//! behind, shows within a minute. Memory is bounded: only the longest view's names are
//! kept (60 minutes, 72 hours, 90 days).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use resque_protocol::metrics::{self, ClassStats};
use resque_store::{ClassTable, DayCounts, Store};

use crate::error::Error;

/// How long after its end a minute, hour or day is taken to get no more writes.
pub(crate) const GRACE: SignedDuration = SignedDuration::from_mins(2);

/// How long a closed minute's, hour's or day's figures are kept in memory.
pub(crate) const KEEP_FOR: Duration = Duration::from_secs(60);

/// The longest views: the Metrics tab's hour by minute, its 72 hours by hour, the
/// Overview's 90 days.
const MAX_MINUTES: u32 = 60;
const MAX_HOURS: u32 = 72;
const MAX_DAYS: u32 = 90;

/// A unit of time the figures are kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Unit {
    Minute,
    Hour,
    Day,
}

impl Unit {
    fn step(self) -> SignedDuration {
        match self {
            Unit::Minute => SignedDuration::from_mins(1),
            Unit::Hour => SignedDuration::from_hours(1),
            Unit::Day => SignedDuration::from_hours(24),
        }
    }

    fn name(self, at: Timestamp) -> String {
        match self {
            Unit::Minute => metrics::minute(at),
            Unit::Hour => metrics::hour(at),
            Unit::Day => metrics::day(at),
        }
    }

    /// The last `n` names up to `now`'s, oldest first. Names sort as their times do.
    pub(crate) fn last(self, now: Timestamp, n: u32) -> Vec<String> {
        (0..n)
            .rev()
            .map(|back| {
                let at = now
                    .checked_sub(self.step() * i32::try_from(back).unwrap_or(i32::MAX))
                    .unwrap_or(now);
                self.name(at)
            })
            .collect()
    }
}

/// Figures by name, each with when it was read.
type Kept<T> = Mutex<BTreeMap<String, (Instant, T)>>;

/// A view's closed tables added up: the first and last names it covers, when, and the sum.
#[derive(Debug)]
struct Summed {
    first: String,
    last: String,
    at: Instant,
    classes: Arc<ClassTable>,
}

/// The closed figures read so far, for one dashboard (one Redis and namespace).
#[derive(Debug, Default)]
pub(crate) struct Figures {
    minutes: Kept<Arc<ClassTable>>,
    hours: Kept<Arc<ClassTable>>,
    days: Kept<DayCounts>,
    /// Per view (unit and length), its closed tables added up: a request then adds only
    /// the open ones (60 tables of 20 classes cost more to add than to draw).
    summed: Mutex<HashMap<(Unit, u32), Summed>>,
}

/// A view's figures: each table's name and sum (its bar), and every class over the view.
#[derive(Debug, Default)]
pub(crate) struct Period {
    pub(crate) bars: Vec<(String, ClassStats)>,
    pub(crate) classes: ClassTable,
}

/// Adds `table`'s classes into `all`.
fn add_into(all: &mut ClassTable, table: &ClassTable) {
    for (id, s) in table {
        // Most classes are there already: clone the names only for a new one.
        match all.get_mut(id) {
            Some(a) => a.merge(s),
            None => {
                all.insert(id.clone(), s.clone());
            }
        }
    }
}

impl Figures {
    /// The last `n` minutes or hours, their bars and every class over them.
    pub(crate) async fn period(&self, store: &Store, unit: Unit, n: u32) -> Result<Period, Error> {
        let tables = self.tables(store, unit, n).await?;
        let now = Timestamp::now();
        let closed_before = unit.name(now.checked_sub(GRACE).unwrap_or(now));
        let k = tables
            .iter()
            .take_while(|(name, _)| *name < closed_before)
            .count();
        let mut classes = ClassTable::default();
        if let (Some((first, _)), Some((last, _))) = (tables.first(), tables[..k].last()) {
            let key = (unit, n);
            let kept = {
                let summed = self.summed.lock().unwrap_or_else(|e| e.into_inner());
                summed
                    .get(&key)
                    .filter(|s| s.first == *first && s.last == *last && s.at.elapsed() < KEEP_FOR)
                    .map(|s| Arc::clone(&s.classes))
            };
            let closed = match kept {
                Some(c) => c,
                None => {
                    let mut sum = ClassTable::default();
                    for (_, t) in &tables[..k] {
                        add_into(&mut sum, t);
                    }
                    let sum = Arc::new(sum);
                    let mut summed = self.summed.lock().unwrap_or_else(|e| e.into_inner());
                    summed.insert(
                        key,
                        Summed {
                            first: first.clone(),
                            last: last.clone(),
                            at: Instant::now(),
                            classes: Arc::clone(&sum),
                        },
                    );
                    sum
                }
            };
            classes = (*closed).clone();
        }
        for (_, t) in &tables[k..] {
            add_into(&mut classes, t);
        }
        let bars = tables
            .into_iter()
            .map(|(name, t)| {
                let mut sum = ClassStats::default();
                for s in t.values() {
                    sum.merge(s);
                }
                (name, sum)
            })
            .collect();
        Ok(Period { bars, classes })
    }

    /// The last `n` minutes' or hours' job metrics, oldest first, with their names.
    pub(crate) async fn tables(
        &self,
        store: &Store,
        unit: Unit,
        n: u32,
    ) -> Result<Vec<(String, Arc<ClassTable>)>, Error> {
        let now = Timestamp::now();
        let (kept, max) = match unit {
            Unit::Hour => (&self.hours, MAX_HOURS),
            _ => (&self.minutes, MAX_MINUTES),
        };
        through(kept, unit, now, n.min(max), max, |names| async move {
            let tables = match unit {
                Unit::Hour => store.job_metrics_hours(&names).await?,
                _ => store.job_metrics_minutes(&names).await?,
            };
            Ok(tables.into_iter().map(Arc::new).collect())
        })
        .await
    }

    /// The last `n` days' counts, oldest first, today last.
    pub(crate) async fn days(&self, store: &Store, n: u32) -> Result<Vec<DayCounts>, Error> {
        let now = Timestamp::now();
        let got = through(
            &self.days,
            Unit::Day,
            now,
            n.min(MAX_DAYS),
            MAX_DAYS,
            |names| async move { Ok(store.history_days(&names).await?) },
        )
        .await?;
        Ok(got.into_iter().map(|(_, d)| d).collect())
    }
}

/// The last `n` figures of `unit`: the kept ones still fresh, the rest read with `read`
/// (one pipeline, in the order asked). Closed figures read are kept; names older than
/// the longest view (`max`) are dropped.
async fn through<T, F, Fut>(
    kept: &Kept<T>,
    unit: Unit,
    now: Timestamp,
    n: u32,
    max: u32,
    read: F,
) -> Result<Vec<(String, T)>, Error>
where
    T: Clone,
    F: FnOnce(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, Error>>,
{
    let names = unit.last(now, n);
    let closed_before = unit.name(now.checked_sub(GRACE).unwrap_or(now));
    let mut got: Vec<Option<T>> = {
        let kept = kept.lock().unwrap_or_else(|e| e.into_inner());
        names
            .iter()
            .map(|name| {
                kept.get(name)
                    .filter(|(at, _)| at.elapsed() < KEEP_FOR)
                    .map(|(_, v)| v.clone())
            })
            .collect()
    };
    let missing: Vec<String> = names
        .iter()
        .zip(&got)
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| name.clone())
        .collect();
    if !missing.is_empty() {
        let read_now = Instant::now();
        let fresh = read(missing.clone()).await?;
        let oldest = unit.name(
            now.checked_sub(unit.step() * i32::try_from(max - 1).unwrap_or(0))
                .unwrap_or(now),
        );
        {
            let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
            for (name, v) in missing.iter().zip(&fresh) {
                if *name < closed_before {
                    kept.insert(name.clone(), (read_now, v.clone()));
                }
            }
            kept.retain(|name, (at, _)| *name >= oldest && at.elapsed() < KEEP_FOR);
        }
        let mut fresh = fresh.into_iter();
        for slot in got.iter_mut().filter(|v| v.is_none()) {
            *slot = fresh.next();
        }
    }
    Ok(names
        .into_iter()
        .zip(got)
        .filter_map(|(name, v)| Some((name, v?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_run_oldest_first_and_sort_as_times() {
        let now: Timestamp = "2026-12-01T00:30:10Z".parse().expect("time");
        assert_eq!(
            Unit::Minute.last(now, 3),
            ["202612010028", "202612010029", "202612010030"]
        );
        assert_eq!(Unit::Hour.last(now, 2), ["2026113023", "2026120100"]);
        assert_eq!(Unit::Day.last(now, 2), ["2026-11-30", "2026-12-01"]);
        let mut sorted = Unit::Hour.last(now, 72);
        sorted.sort();
        assert_eq!(sorted, Unit::Hour.last(now, 72));
    }

    #[tokio::test]
    async fn closed_figures_are_read_once_and_open_ones_every_time() {
        let kept: Kept<u32> = Mutex::default();
        let now = Timestamp::now();
        let reads = Mutex::new(Vec::new());
        for _ in 0..3 {
            let got = through(&kept, Unit::Minute, now, 5, 60, |names| {
                reads.lock().expect("lock").push(names.len());
                async move { Ok(names.iter().map(|_| 7).collect()) }
            })
            .await
            .expect("figures");
            assert_eq!(got.len(), 5);
            assert!(got.iter().all(|(_, v)| *v == 7));
        }
        // The first read takes all five; then only the minutes still open (this one and
        // those within the grace: two or three of them).
        let reads = reads.into_inner().expect("lock");
        assert_eq!(reads[0], 5);
        assert!(reads[1] < 5 && reads[1] >= 2, "{reads:?}");
        assert_eq!(reads[1], reads[2]);
        assert!(kept.lock().expect("lock").len() <= 3);
    }
}
