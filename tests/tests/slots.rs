//! Jobs in parallel in one process (`CONCURRENCY`, with `FORK_PER_JOB=false`): each slot a
//! worker of its own to Redis, as N Ruby workers would be.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::Signal;
use resque_test_support::{RedisServer, eventually};

mod common;
use common::*;

fn slots(
    server: &RedisServer,
    queues: &str,
    n: &str,
    interval: &str,
) -> Result<std::process::Child> {
    worker(
        server,
        queues,
        &[
            ("FORK_PER_JOB", "false"),
            ("CONCURRENCY", n),
            ("INTERVAL", interval),
        ],
    )
}

fn working(server: &RedisServer) -> usize {
    server
        .get_list(&["SMEMBERS", "resque:workers"])
        .iter()
        .filter(|id| {
            server
                .cmd(&["GET", &format!("resque:worker:{id}")])
                .is_ok_and(|r| matches!(r, resque_test_support::Resp::Bulk(_)))
        })
        .count()
}

#[test]
fn each_slot_is_a_worker_with_its_own_registration_and_counts() -> Result<()> {
    let server = RedisServer::start();
    for _ in 0..3 {
        job(&server, "sleep", "SleepJob", "[1.0]")?;
    }
    for i in 0..30 {
        job(&server, "noop", "NoopJob", &format!("[{i}]"))?;
    }
    let started = Instant::now();
    let mut w = slots(&server, "sleep,noop", "3", "0")?;
    assert!(
        eventually(Duration::from_secs(10), || working(&server) == 3),
        "three slots busy at once"
    );
    let ids: BTreeSet<String> = server
        .get_list(&["SMEMBERS", "resque:workers"])
        .into_iter()
        .collect();
    let pid = w.id();
    let want: BTreeSet<String> = [
        format!(":{pid}:sleep,noop"),
        format!(":{pid}:sleep,noop,!slot-1"),
        format!(":{pid}:sleep,noop,!slot-2"),
    ]
    .into();
    let got: BTreeSet<String> = ids
        .iter()
        .map(|id| id[id.find(':').unwrap_or(0)..].to_owned())
        .collect();
    assert_eq!(got, want);
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    // Three one-second jobs side by side: well under three seconds.
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stat(&server, "processed"), 33);
    let per_worker: i64 = ids
        .iter()
        .map(|id| stat(&server, &format!("processed:{id}")))
        .sum();
    assert_eq!(
        per_worker, 0,
        "a worker's own counters go when it unregisters, as in Ruby"
    );
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn quit_waits_for_every_busy_slot() -> Result<()> {
    let server = RedisServer::start();
    for _ in 0..3 {
        job(&server, "sleep", "SleepJob", "[1.5]")?;
    }
    let mut w = slots(&server, "sleep", "3", "1")?;
    assert!(eventually(Duration::from_secs(10), || working(&server) == 3));
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    assert_eq!(stat(&server, "processed"), 3, "every slot finished its job");
    assert!(failures(&server)?.is_empty());
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn a_panicking_job_in_one_slot_leaves_the_others_alone() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "bad", "PanicJob", "[]")?;
    job(&server, "bad", "PanicJob", "[]")?;
    for _ in 0..3 {
        job(&server, "sleep", "SleepJob", "[0.5]")?;
    }
    for i in 0..20 {
        job(&server, "noop", "NoopJob", &format!("[{i}]"))?;
    }
    let mut w = slots(&server, "bad,sleep,noop", "3", "0")?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    assert_eq!(stat(&server, "processed"), 25);
    let f = failures(&server)?;
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|r| r["exception"] == "Panic"), "{f:?}");
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn term_and_int_stop_every_slot() -> Result<()> {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let server = RedisServer::start();
        let mut w = slots(&server, "noop", "4", "5")?;
        assert!(eventually(Duration::from_secs(10), || server
            .get_list(&["SMEMBERS", "resque:workers"])
            .len()
            == 4));
        let t = Instant::now();
        signal(&w, sig)?;
        assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0), "{sig}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{sig}: {:?}",
            t.elapsed()
        );
        assert!(registry_is_empty(&server), "{sig}");
    }
    Ok(())
}

#[test]
fn concurrency_with_fork_per_job_is_refused_in_one_line() -> Result<()> {
    let server = RedisServer::start();
    let mut w = worker(&server, "noop", &[("CONCURRENCY", "4"), ("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(2));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(
        log.contains("CONCURRENCY (--concurrency) needs FORK_PER_JOB=false"),
        "{log}"
    );
    Ok(())
}

/// With RESQUE_BATCH_RESERVATIONS, slots a millisecond from Redis share their round trips:
/// each reserve-script call carries several slots' parts (twelve slots make two lanes), and
/// the counts and failure records are exactly those of as many workers calling alone.
#[test]
fn slots_share_reservations_and_count_as_separate_workers_would() -> Result<()> {
    let server = RedisServer::start_tcp();
    let upstream = format!("127.0.0.1:{}", server.port().unwrap_or(0)).parse()?;
    let proxy = resque_test_support::DelayProxy::start(upstream, Duration::from_millis(1))?;
    let (noop, fail) = (400, 40);
    for i in 0..noop {
        job(&server, "work", "NoopJob", &format!("[{i}]"))?;
        if i % 10 == 0 {
            job(&server, "work", "FailJob", &format!("[{i}]"))?;
        }
    }
    let mut w = worker_at(
        &format!("redis://{}/0", proxy.url()),
        "work",
        &[
            ("FORK_PER_JOB", "false"),
            ("CONCURRENCY", "12"),
            ("INTERVAL", "0"),
            ("RESQUE_BATCH_RESERVATIONS", "1"),
        ],
        server.dir(),
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    let pid = w.id();
    assert_eq!(stat(&server, "processed"), noop + fail);
    assert_eq!(stat(&server, "failed"), fail);
    let f = failures(&server)?;
    assert_eq!(f.len(), usize::try_from(fail)?);
    let by: BTreeSet<String> = f
        .iter()
        .map(|r| r["worker"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        by.iter().all(|id| id.contains(&format!(":{pid}:work"))),
        "each record names the slot that ran it: {by:?}"
    );
    assert!(
        f.iter()
            .all(|r| r["exception"] == "RuntimeError" && r["queue"] == "work")
    );
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:work"]).as_deref(),
        Some("0")
    );
    assert!(registry_is_empty(&server));
    let info = server
        .get_str(&["INFO", "commandstats"])
        .unwrap_or_default();
    let calls: i64 = info
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(calls > 0, "{info}");
    // Alone, each slot makes a call a job and one more on its way out.
    assert!(
        calls < noop + fail,
        "{calls} reserve calls for {} jobs: the slots' reservations were not shared",
        noop + fail
    );
    Ok(())
}
