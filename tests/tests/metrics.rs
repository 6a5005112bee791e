//! Our job metrics and daily history (`resque-rs:metrics:*`, `resque-rs:metrics-hour:*`,
//! `resque-rs:history:*`), written by the worker binary with each job's bookkeeping: their
//! figures, fields and expiries, with and without scripts, and nothing at all with
//! `RESQUE_METRICS=0`. (That they cost no round trip is `retry.rs`'s round-trip test, which
//! runs with metrics on.)

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use resque::protocol::metrics::{self, ClassStats};
use resque_test_support::{RedisServer, Resp};

mod common;
use common::*;

/// A class name no job type has, with the characters a field must survive.
const HOSTILE: &str = "Evil|<script>\"x\"\n";

fn seed(server: &RedisServer) -> Result<()> {
    for i in 0..5 {
        job(server, "m1", "NoopJob", &format!("[{i}]"))?;
    }
    for _ in 0..2 {
        job(server, "m1", "FailJob", "[1]")?;
    }
    job(
        server,
        "m2",
        &HOSTILE.replace('"', "\\\"").replace('\n', "\\n"),
        "[]",
    )?;
    Ok(())
}

fn hash(server: &RedisServer, key: &str) -> Vec<(String, String)> {
    let flat = server.get_list(&["HGETALL", key]);
    flat.chunks(2)
        .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
        .collect()
}

fn stats(server: &RedisServer, key: &str) -> BTreeMap<(String, String), ClassStats> {
    let h = hash(server, key);
    metrics::read_hash(h.iter().map(|(f, v)| (f.as_str(), v.as_str())))
}

fn ttl(server: &RedisServer, key: &str) -> i64 {
    match server.cmd(&["TTL", key]) {
        Ok(Resp::Integer(t)) => t,
        _ => -3,
    }
}

/// Every minute's (or hour's) key the run wrote, summed (a run may cross a minute).
fn summed(
    server: &RedisServer,
    pattern: &str,
) -> (BTreeMap<(String, String), ClassStats>, Vec<String>) {
    let keys: Vec<String> = server.get_list(&["KEYS", pattern]).into_iter().collect();
    let mut sum: BTreeMap<(String, String), ClassStats> = BTreeMap::new();
    for k in &keys {
        for (id, s) in stats(server, k) {
            sum.entry(id).or_default().merge(&s);
        }
    }
    (sum, keys)
}

fn check(server: &RedisServer) {
    // One day's key (two, should the run cross midnight UTC).
    let days = server.get_list(&["KEYS", "resque:resque-rs:history:*"]);
    assert!(matches!(days.len(), 1 | 2), "{days:?}");
    let mut history: BTreeMap<String, i64> = BTreeMap::new();
    for day in &days {
        for (f, v) in hash(server, day) {
            *history.entry(f).or_default() += v.parse::<i64>().unwrap_or(-1000);
        }
        let t = ttl(server, day);
        assert!((90 * 86_400..=91 * 86_400).contains(&t), "{day}: TTL {t}");
    }
    assert_eq!(history.get("processed"), Some(&8), "{history:?}");
    assert_eq!(history.get("failed"), Some(&3));
    let (by_minute, keys) = summed(server, "resque:resque-rs:metrics:2*");
    assert!(!keys.is_empty());
    for k in &keys {
        let t = ttl(server, k);
        assert!((71 * 3600..=72 * 3600).contains(&t), "{k}: TTL {t}");
    }
    let (by_hour, keys) = summed(server, "resque:resque-rs:metrics-hour:*");
    assert!(matches!(keys.len(), 1 | 2), "{keys:?}");
    for k in &keys {
        let t = ttl(server, k);
        assert!((72 * 3600..=73 * 3600).contains(&t), "{k}: TTL {t}");
    }
    let total = stats(server, "resque:resque-rs:metrics:total");
    assert_eq!(by_minute, total, "the minutes add up to the total");
    assert_eq!(by_hour, total, "the hours add up to the total");
    let noop = &total[&("m1".to_owned(), "NoopJob".to_owned())];
    assert_eq!((noop.runs, noop.failed), (5, 0));
    assert_eq!(noop.buckets.iter().sum::<u64>(), 5);
    let fail = &total[&("m1".to_owned(), "FailJob".to_owned())];
    assert_eq!((fail.runs, fail.failed), (2, 2));
    let evil = &total[&("m2".to_owned(), HOSTILE.to_owned())];
    assert_eq!(
        (evil.runs, evil.failed),
        (1, 1),
        "an unknown class fails, and is counted"
    );
    assert_eq!(total.len(), 3, "{total:?}");
    assert_eq!(
        stat(server, "processed"),
        8,
        "the history agrees with Ruby's counter"
    );
}

#[test]
fn each_job_adds_to_the_metrics_and_the_days_history() -> Result<()> {
    for env in [
        vec![("INTERVAL", "0")],
        vec![("INTERVAL", "0"), ("FORK_PER_JOB", "false")],
    ] {
        let server = RedisServer::start();
        seed(&server)?;
        let mut w = worker(&server, "m1,m2", &env)?;
        assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0), "{env:?}");
        check(&server);
    }
    Ok(())
}

#[test]
fn without_scripts_the_pipeline_writes_the_same() -> Result<()> {
    let server = RedisServer::start();
    server.cmd(&["ACL", "SETUSER", "default", "-evalsha", "-script"])?;
    seed(&server)?;
    let mut w = worker(&server, "m1,m2", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    check(&server);
    Ok(())
}

#[test]
fn metrics_off_writes_none() -> Result<()> {
    let server = RedisServer::start();
    seed(&server)?;
    let mut w = worker(
        &server,
        "m1,m2",
        &[("INTERVAL", "0"), ("RESQUE_METRICS", "0")],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    assert_eq!(stat(&server, "processed"), 8);
    assert!(
        server
            .get_list(&["KEYS", "resque:resque-rs:[mh]*"])
            .is_empty()
    );
    Ok(())
}

#[test]
fn metrics_history_writes_only_the_days_counts() -> Result<()> {
    // With scripts and without: the same keys.
    for scripts in [true, false] {
        let server = RedisServer::start();
        if !scripts {
            server.cmd(&["ACL", "SETUSER", "default", "-evalsha", "-script"])?;
        }
        seed(&server)?;
        let mut w = worker(
            &server,
            "m1,m2",
            &[("INTERVAL", "0"), ("RESQUE_METRICS", "history")],
        )?;
        assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
        assert!(
            server
                .get_list(&["KEYS", "resque:resque-rs:metrics*"])
                .is_empty(),
            "no per-class metrics (scripts: {scripts})"
        );
        let days = server.get_list(&["KEYS", "resque:resque-rs:history:*"]);
        assert!(matches!(days.len(), 1 | 2), "{days:?}");
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for day in &days {
            for (f, v) in hash(&server, day) {
                *counts.entry(f).or_default() += v.parse::<i64>().unwrap_or(-1000);
            }
            let t = ttl(&server, day);
            assert!((90 * 86_400..=91 * 86_400).contains(&t), "{day}: TTL {t}");
        }
        assert_eq!(counts.get("processed"), Some(&8), "{counts:?}");
        assert_eq!(counts.get("failed"), Some(&3));
    }
    Ok(())
}

/// `cmdstat_hincrby`'s calls so far.
fn hincrbys(server: &RedisServer) -> i64 {
    let info = server
        .get_str(&["INFO", "commandstats"])
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_hincrby:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The worker adds its runs up in memory and sends the sums with a bookkeeping call every
/// few seconds and when its queues run dry, not ten hash increments a job: a worker that
/// stays up (INTERVAL 1) has written every run's figures once it is idle, with about one
/// increment a job (the day's history) plus a few a send. Both job modes.
#[test]
fn a_busy_worker_sends_sums_not_increments_a_job_and_all_of_them_once_idle() -> Result<()> {
    const JOBS: i64 = 300;
    for env in [
        vec![("INTERVAL", "1")],
        vec![("INTERVAL", "1"), ("FORK_PER_JOB", "false")],
    ] {
        let server = RedisServer::start();
        for i in 0..JOBS {
            job(&server, "m1", "NoopJob", &format!("[{i}]"))?;
        }
        let before = hincrbys(&server);
        let mut w = worker(&server, "m1", &env)?;
        let runs = || {
            stats(&server, "resque:resque-rs:metrics:total")
                .get(&("m1".to_owned(), "NoopJob".to_owned()))
                .map_or(0, |s| s.runs)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while runs() < u64::try_from(JOBS)? && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            runs(),
            u64::try_from(JOBS)?,
            "every run, the worker still up ({env:?})"
        );
        assert!(w.try_wait()?.is_none(), "still running");
        assert_eq!(stat(&server, "processed"), JOBS);
        let (by_minute, _) = summed(&server, "resque:resque-rs:metrics:2*");
        let (by_hour, _) = summed(&server, "resque:resque-rs:metrics-hour:*");
        let total = stats(&server, "resque:resque-rs:metrics:total");
        assert_eq!((&by_minute, &by_hour), (&total, &total));
        let used = hincrbys(&server) - before;
        // Written a job at a time this was ten increments a job; now it is one (the
        // day's `processed`) and a dozen fields a send (when idle, and every five seconds).
        assert!(
            used < JOBS + 100,
            "{used} HINCRBY for {JOBS} jobs ({env:?})"
        );
        signal(&w, nix::sys::signal::Signal::SIGQUIT)?;
        assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
        assert_eq!(runs(), u64::try_from(JOBS)?, "nothing more on the way out");
    }
    Ok(())
}
