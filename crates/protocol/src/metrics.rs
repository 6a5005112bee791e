//! resque-rs's job metrics and history (keys Ruby never reads, written by our workers
//! inside their bookkeeping script calls):
//!
//! - `<ns>:resque-rs:history:<YYYY-MM-DD>` (UTC day): a hash with `processed` and `failed`,
//!   counted with each job as `stat:processed` is, kept [`HISTORY_TTL`] after the day's
//!   first job: the dashboard's 7/30/90-day graph.
//! - `<ns>:resque-rs:metrics:<YYYYMMDDHHMM>` (UTC minute): a hash per minute, kept
//!   [`MINUTE_TTL`] (Sidekiq 7 keeps its metrics as long): for each queue and class, the runs
//!   (`n`), failures (`f`), total run time in milliseconds (`ms`) and a coarse histogram
//!   of run times (`b<bound>`, see [`BUCKETS_MS`]).
//! - `<ns>:resque-rs:metrics-hour:<YYYYMMDDHH>` (UTC hour): the same fields per hour, kept
//!   [`HOUR_TTL`], so the 8- to 72-hour views read 8 to 72 hashes, not 480 to 4,320.
//! - `<ns>:resque-rs:metrics:total`: the same fields since it was made, for Prometheus
//!   counters that only grow; it expires [`HISTORY_TTL`] after the last write.
//!
//! The per-class fields are added up in the worker ([`Sums`]) and written every few
//! seconds, each write setting its keys' expiries (so they count from the last write).
//!
//! A field is `<kind>|<["queue","class"] as JSON>`, so any queue or class name (a `|`, a
//! newline, anything) reads back as it was.

use std::collections::BTreeMap;

use jiff::Timestamp;

/// How long a day's history is kept: 91 days (the longest graph is 90).
pub const HISTORY_TTL: std::time::Duration = std::time::Duration::from_secs(91 * 24 * 3600);

/// How long a minute's metrics are kept: 72 hours.
pub const MINUTE_TTL: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// How long an hour's metrics are kept: 73 hours (an hour's key is made at its first job,
/// so the oldest hour of a 72-hour view is still whole).
pub const HOUR_TTL: std::time::Duration = std::time::Duration::from_secs(73 * 3600);

/// The histogram's upper bounds in milliseconds; a run longer than the last is in `inf`.
pub const BUCKETS_MS: [u64; 9] = [1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000];

/// The bucket labels, [`BUCKETS_MS`] then `inf`.
pub const BUCKET_LABELS: [&str; 10] = [
    "1", "5", "10", "50", "100", "500", "1000", "5000", "10000", "inf",
];

/// The label of the bucket a run of `millis` falls in.
pub fn bucket_label(millis: u64) -> &'static str {
    BUCKET_LABELS[bucket_index(millis)]
}

/// The index in [`BUCKET_LABELS`] of the bucket a run of `millis` falls in.
fn bucket_index(millis: u64) -> usize {
    BUCKETS_MS
        .iter()
        .position(|b| millis <= *b)
        .unwrap_or(BUCKETS_MS.len())
}

/// The JSON part of a field: `["queue","class"]`.
pub fn field_suffix(queue: &str, class: &str) -> String {
    serde_json::to_string(&[queue, class]).unwrap_or_else(|_| "[\"\",\"\"]".to_owned())
}

/// A day's key suffix: `YYYY-MM-DD`, UTC.
pub fn day(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d").to_string()
}

/// A minute's key suffix: `YYYYMMDDHHMM`, UTC.
pub fn minute(at: Timestamp) -> String {
    at.strftime("%Y%m%d%H%M").to_string()
}

/// An hour's key suffix: `YYYYMMDDHH`, UTC.
pub fn hour(at: Timestamp) -> String {
    at.strftime("%Y%m%d%H").to_string()
}

/// One queue and class's figures over some minutes (or since the total began).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Runs.
    pub runs: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Total run time, milliseconds.
    pub millis: u64,
    /// Runs per bucket of [`BUCKET_LABELS`] (not cumulative).
    pub buckets: [u64; 10],
}

impl ClassStats {
    /// Mean run time in milliseconds (0 with no runs).
    pub fn mean_millis(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.millis as f64 / self.runs as f64
        }
    }

    fn add(&mut self, kind: &str, n: u64) {
        match kind {
            "n" => self.runs += n,
            "f" => self.failed += n,
            "ms" => self.millis += n,
            _ => {
                if let Some(i) = kind
                    .strip_prefix('b')
                    .and_then(|l| BUCKET_LABELS.iter().position(|b| *b == l))
                {
                    self.buckets[i] += n;
                }
            }
        }
    }

    /// Adds another period's figures.
    pub fn merge(&mut self, other: &ClassStats) {
        self.runs += other.runs;
        self.failed += other.failed;
        self.millis += other.millis;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
    }
}

/// Reads one metrics hash's fields (`HGETALL`) into figures per `(queue, class)`; fields
/// that are not ours, or not numbers, are skipped.
pub fn read_hash<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<(String, String), ClassStats> {
    let mut out: BTreeMap<(String, String), ClassStats> = BTreeMap::new();
    for (field, value) in fields {
        let Some((kind, json)) = field.split_once('|') else {
            continue;
        };
        let Ok([queue, class]) = serde_json::from_str::<[String; 2]>(json) else {
            continue;
        };
        let Ok(n) = value.parse::<i64>() else {
            continue;
        };
        out.entry((queue, class))
            .or_default()
            .add(kind, u64::try_from(n).unwrap_or(0));
    }
    out
}

/// Job runs added up in a worker's memory, to be written as a few sums every few seconds
/// instead of ten hash increments a job (Sidekiq's way with its metrics): per UTC minute,
/// queue and class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    /// By the minute (seconds since the epoch / 60), then the queue, then the class:
    /// nested, so a run of a queue and class already there is added by `&str` lookups,
    /// with no allocation (a worker adds one a job).
    runs: BTreeMap<i64, BTreeMap<String, BTreeMap<String, ClassStats>>>,
}

/// The entry for `key` in `map`, made (with the key's one allocation) only if missing.
fn entry_for<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    match map.get_mut(key) {
        Some(v) => v,
        None => unreachable!("inserted just above"),
    }
}

impl Sums {
    /// Adds one run that ended at `at`.
    pub fn add(&mut self, at: Timestamp, queue: &str, class: &str, millis: u64, failed: bool) {
        let minute = at.as_second().div_euclid(60);
        let s = entry_for(
            entry_for(self.runs.entry(minute).or_default(), queue),
            class,
        );
        s.runs += 1;
        s.failed += u64::from(failed);
        s.millis = s.millis.saturating_add(millis);
        s.buckets[bucket_index(millis)] += 1;
    }

    /// Adds another set of sums (say, ones that could not be sent).
    pub fn merge(&mut self, other: Sums) {
        for (minute, queues) in other.runs {
            let mine = self.runs.entry(minute).or_default();
            for (queue, classes) in queues {
                let mine = mine.entry(queue).or_default();
                for (class, v) in classes {
                    mine.entry(class).or_default().merge(&v);
                }
            }
        }
    }

    /// Nothing added.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Each `(minute, queue, class)` with its runs, in that order.
    fn each(&self) -> impl Iterator<Item = (i64, &str, &str, &ClassStats)> {
        self.runs.iter().flat_map(|(minute, queues)| {
            queues.iter().flat_map(move |(queue, classes)| {
                classes
                    .iter()
                    .map(move |(class, s)| (*minute, queue.as_str(), class.as_str(), s))
            })
        })
    }

    /// The runs added.
    pub fn runs(&self) -> u64 {
        self.each().map(|(_, _, _, s)| s.runs).sum()
    }

    /// What to write: `(key, field, n)` for `HINCRBY`, in the minute's, the hour's and the
    /// total's hashes, one increment per key and field; then each key and the expiry to
    /// set on it (`EXPIRE`, each time: the minute's and the hour's keys so last
    /// [`MINUTE_TTL`] and [`HOUR_TTL`] from their last write, a few minutes more than
    /// from their first; the total [`HISTORY_TTL`]).
    pub fn writes(&self, keys: &crate::Keys) -> Writes {
        // Every reserve call asks, and almost every time there is nothing: no key made.
        if self.runs.is_empty() {
            return Writes::default();
        }
        let mut incr: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut ttl: BTreeMap<String, std::time::Duration> = BTreeMap::new();
        let total = keys.job_metrics_total();
        for (minute_no, queue, class, s) in self.each() {
            let at = Timestamp::from_second(minute_no.saturating_mul(60)).unwrap_or_default();
            let f = field_suffix(queue, class);
            let minute = keys.job_metrics(&minute(at));
            let hour = keys.job_metrics_hour(&hour(at));
            ttl.insert(minute.clone(), MINUTE_TTL);
            ttl.insert(hour.clone(), HOUR_TTL);
            for key in [&total, &minute, &hour] {
                // A run of 0 ms still has its `ms` field, so every class has `n` and `ms`.
                let mut put = |kind: &str, n: u64, always: bool| {
                    if n > 0 || always {
                        *incr
                            .entry((key.clone(), format!("{kind}|{f}")))
                            .or_default() += n;
                    }
                };
                put("n", s.runs, false);
                put("f", s.failed, false);
                put("ms", s.millis, true);
                for (label, n) in BUCKET_LABELS.iter().zip(s.buckets) {
                    put(&format!("b{label}"), n, false);
                }
            }
        }
        ttl.insert(total, HISTORY_TTL);
        Writes {
            increments: incr.into_iter().map(|((k, f), n)| (k, f, n)).collect(),
            expiries: ttl.into_iter().collect(),
        }
    }
}

/// What [`Sums::writes`] says to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    /// `(key, field, n)` for `HINCRBY`.
    pub increments: Vec<(String, String, u64)>,
    /// `(key, expiry)` for `EXPIRE`.
    pub expiries: Vec<(String, std::time::Duration)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_whatever_the_names() {
        let odd = ("q|1\n", "Cls\"<b>|x");
        let s = field_suffix(odd.0, odd.1);
        let fields = [
            (format!("n|{s}"), "3".to_owned()),
            (format!("f|{s}"), "1".to_owned()),
            (format!("ms|{s}"), "250".to_owned()),
            (format!("b{}|{s}", bucket_label(7)), "2".to_owned()),
            (format!("b{}|{s}", bucket_label(20_000)), "1".to_owned()),
            ("junk".to_owned(), "1".to_owned()),
            (format!("n|{s}"), "x".to_owned()),
        ];
        let got = read_hash(fields.iter().map(|(f, v)| (f.as_str(), v.as_str())));
        let stats = &got[&(odd.0.to_owned(), odd.1.to_owned())];
        assert_eq!((stats.runs, stats.failed, stats.millis), (3, 1, 250));
        assert_eq!(stats.buckets[2], 2, "7 ms is in the 10 ms bucket");
        assert_eq!(stats.buckets[9], 1, "20 s is past the last bound");
        assert!((stats.mean_millis() - 83.333).abs() < 0.01);
    }

    #[test]
    fn buckets_and_time_keys() {
        assert_eq!(bucket_label(0), "1");
        assert_eq!(bucket_label(1), "1");
        assert_eq!(bucket_label(2), "5");
        assert_eq!(bucket_label(10_000), "10000");
        assert_eq!(bucket_label(10_001), "inf");
        let t: Timestamp = "2026-12-01T19:05:59Z".parse().expect("time");
        assert_eq!(day(t), "2026-12-01");
        assert_eq!(minute(t), "202612011905");
        assert_eq!(hour(t), "2026120119");
    }

    #[test]
    fn sums_become_one_increment_per_key_and_field() {
        let keys = crate::Keys::new("ns").expect("namespace");
        let t: Timestamp = "2026-12-01T19:05:30Z".parse().expect("time");
        let later: Timestamp = "2026-12-01T19:06:01Z".parse().expect("time");
        let mut sums = Sums::default();
        sums.add(t, "q", "A", 3, false);
        sums.add(t, "q", "A", 700, true);
        sums.add(later, "q", "A", 0, false);
        let mut other = Sums::default();
        other.add(later, "q", "B", 2, false);
        sums.merge(other);
        assert_eq!(sums.runs(), 4);
        let Writes {
            increments: incr,
            expiries: ttl,
        } = sums.writes(&keys);
        let get = |key: &str, field: &str| {
            incr.iter()
                .find(|(k, f, _)| k == key && f == field)
                .map(|(_, _, n)| *n)
        };
        let a = field_suffix("q", "A");
        let total = keys.job_metrics_total();
        assert_eq!(get(&total, &format!("n|{a}")), Some(3));
        assert_eq!(get(&total, &format!("f|{a}")), Some(1));
        assert_eq!(get(&total, &format!("ms|{a}")), Some(703));
        assert_eq!(get(&total, &format!("b5|{a}")), Some(1));
        assert_eq!(get(&total, &format!("b1|{a}")), Some(1));
        assert_eq!(get(&total, &format!("b1000|{a}")), Some(1));
        let m05 = keys.job_metrics("202612011905");
        let m06 = keys.job_metrics("202612011906");
        assert_eq!(get(&m05, &format!("n|{a}")), Some(2));
        assert_eq!(get(&m06, &format!("n|{a}")), Some(1));
        assert_eq!(
            get(&m06, &format!("ms|{a}")),
            Some(0),
            "a 0 ms run keeps its field"
        );
        assert_eq!(get(&m06, &format!("f|{a}")), None, "no zero increments");
        let hour = keys.job_metrics_hour("2026120119");
        assert_eq!(get(&hour, &format!("n|{a}")), Some(3));
        assert_eq!(
            get(&hour, &format!("n|{}", field_suffix("q", "B"))),
            Some(1)
        );
        let mut unique = incr.iter().map(|(k, f, _)| (k, f)).collect::<Vec<_>>();
        unique.dedup();
        assert_eq!(unique.len(), incr.len(), "one increment per key and field");
        assert_eq!(
            ttl,
            vec![
                (m05, MINUTE_TTL),
                (m06, MINUTE_TTL),
                (total, HISTORY_TTL),
                (hour, HOUR_TTL),
            ]
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        assert!(Sums::default().writes(&keys).expiries.is_empty());
    }
}
