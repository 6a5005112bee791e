//! Redis failover under a busy worker: a master, a replica and three real Sentinels; the
//! master is killed while the worker (reliable mode, fork per job) drains jobs through a
//! `redis-sentinel://` connection string. The worker follows the new master without a
//! crash loop, registers there, finishes the queue, and every job is accounted for.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::*;
use nix::sys::signal::Signal;
use resque_test_support::{SentinelGroup, eventually};

#[test]
fn a_sentinel_failover_under_load_is_followed_and_loses_no_job() -> Result<()> {
    let mut group = SentinelGroup::start();
    let log = group.master.dir().join("jobs.log");
    let log_s = log.display().to_string();
    let jobs = 600u64;
    group.master.cmd(&["SADD", "resque:queues", "chaos"])?;
    for n in 0..jobs {
        group.master.cmd(&[
            "RPUSH",
            "resque:queue:chaos",
            &format!(r#"{{"class":"ChaosJob","args":[{n},5]}}"#),
        ])?;
    }
    group.sync();
    let url = group.url();
    let mut w = worker(
        &group.master,
        "chaos",
        &[
            ("REDIS_URL", url.as_str()),
            ("INTERVAL", "0.1"),
            ("RESQUE_RELIABLE", "1"),
            ("RESQUE_HEARTBEAT_INTERVAL", "1"),
            ("HOOK_LOG", log_s.as_str()),
        ],
    )?;
    let done = |log: &std::path::Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("done "))
            .count()
    };
    assert!(eventually(Duration::from_secs(20), || done(&log) >= 50));
    let took = group.kill_master();
    eprintln!("failover took {took:?}");
    // The worker is still the same process, and drains the rest on the new master.
    let drained = eventually(Duration::from_secs(60), || {
        group
            .replica
            .get_str(&["LLEN", "resque:queue:chaos"])
            .as_deref()
            == Some("0")
            && group
                .replica
                .get_list(&["KEYS", "resque:resque-rs:inflight:*"])
                .is_empty()
    });
    let worker_log =
        std::fs::read_to_string(group.master.dir().join("worker.log")).unwrap_or_default();
    assert!(drained, "not drained after the failover: {worker_log}");
    assert!(w.try_wait()?.is_none(), "the worker ended: {worker_log}");
    // Registered on the new master (replicated, or registered again by its heartbeat).
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    let id = format!("{host}:{}:chaos", w.id());
    assert!(eventually(Duration::from_secs(5), || group
        .replica
        .get_list(&["SMEMBERS", "resque:workers"])
        .contains(&id)));

    // Every job ran (or, reliable, is accounted for by a record): none lost.
    let ran: std::collections::HashSet<u64> = std::fs::read_to_string(&log)?
        .lines()
        .filter_map(|l| {
            l.strip_prefix("done ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let records = group
        .replica
        .get_list(&["LRANGE", "resque:failed", "0", "-1"]);
    let lost: Vec<u64> = (0..jobs).filter(|n| !ran.contains(n)).collect();
    assert!(lost.is_empty(), "lost {lost:?}; records {records:?}");
    // The outage is logged once, and its end once (naming the new master), not every retry.
    let replica = format!("at 127.0.0.1:{}", group.replica.port().unwrap_or(0));
    assert_eq!(
        worker_log.matches("lost the connection to Redis").count(),
        1,
        "{worker_log}"
    );
    assert_eq!(
        worker_log.matches("connected to Redis again").count(),
        1,
        "{worker_log}"
    );
    assert!(worker_log.contains(&replica), "{worker_log}");

    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    assert!(
        !group
            .replica
            .get_list(&["SMEMBERS", "resque:workers"])
            .contains(&id)
    );
    Ok(())
}
