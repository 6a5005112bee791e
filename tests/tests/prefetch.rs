//! Reserving ahead (`RESQUE_PREFETCH`, `FORK_PER_JOB=false`), with the real worker binary
//! against a private redis-server: every job runs and is counted once; jobs held and not
//! run go back to the head of their queues, in order, when the worker stops or pauses;
//! and a worker killed while holding jobs has them put back by the reaper.

use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use resque_test_support::{RedisServer, eventually};

mod common;
use common::*;

fn record(n: u32) -> String {
    format!(r#"{{"class":"RecordJob","args":[{n}]}}"#)
}

fn noop(n: u32) -> String {
    format!(r#"{{"class":"NoopJob","args":[{n}]}}"#)
}

fn hook_lines(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn logged(log: &std::path::Path, prefix: &str) -> bool {
    hook_lines(log).iter().any(|l| l.starts_with(prefix))
}

fn runs(log: &std::path::Path) -> Vec<String> {
    hook_lines(log)
        .into_iter()
        .filter(|l| l.starts_with("ran "))
        .collect()
}

fn queue(server: &RedisServer, name: &str) -> Vec<String> {
    server.get_list(&["LRANGE", &format!("resque:queue:{name}"), "0", "-1"])
}

fn held_lists(server: &RedisServer) -> Vec<String> {
    server.get_list(&["KEYS", "resque:resque-rs:held:*"])
}

/// Nothing of ours is left holding jobs: no held list, no holder.
fn nothing_held(server: &RedisServer) -> bool {
    held_lists(server).is_empty()
        && server
            .get_list(&["SMEMBERS", "resque:resque-rs:holders"])
            .is_empty()
}

/// Enqueues `all` in queue `mix`.
fn seed(server: &RedisServer, all: &[String]) -> Result<()> {
    for j in all {
        enqueue(server, "mix", j)?;
    }
    Ok(())
}

/// Two no-op jobs, a ChaosJob that logs its start and end and takes 1.5 s, then no-op
/// jobs 3 to 12: the worker learns that its jobs are quick and holds the next ones ahead
/// while the slow one runs.
fn with_a_slow_one() -> Vec<String> {
    let mut all = vec![noop(1), noop(2)];
    all.push(r#"{"class":"ChaosJob","args":["slow",1500]}"#.to_owned());
    all.extend((3..=12).map(noop));
    all
}

/// Whether `left` is the end of `all`: the jobs not run, in their order, none twice.
fn is_tail(left: &[String], all: &[String]) -> bool {
    left.len() <= all.len() && all[all.len() - left.len()..] == *left
}

fn prefetching(log: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("FORK_PER_JOB", "false".into()),
        ("RESQUE_PREFETCH", "20".into()),
        ("INTERVAL", "0.1".into()),
        ("HOOK_LOG", log.display().to_string()),
    ]
}

/// Enqueues [`with_a_slow_one`], starts a worker with `env` and waits until the slow job
/// runs with the jobs after it held ahead (out of their queue). Returns the worker and
/// the jobs enqueued.
fn holding(
    server: &RedisServer,
    env: &[(&'static str, String)],
    log: &std::path::Path,
) -> Result<(std::process::Child, Vec<String>)> {
    let all = with_a_slow_one();
    seed(server, &all)?;
    let w = start(server, env)?;
    assert!(eventually(Duration::from_secs(10), || logged(
        log,
        "start \"slow\""
    )));
    assert_eq!(
        held_lists(server).len(),
        1,
        "jobs held while the slow one runs"
    );
    Ok((w, all))
}

fn start(server: &RedisServer, env: &[(&'static str, String)]) -> Result<std::process::Child> {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    worker(server, "mix", &env)
}

#[test]
fn a_prefetching_worker_runs_and_counts_every_job_once() -> Result<()> {
    let server = RedisServer::start();
    let mut fails = 0;
    let mut all = Vec::new();
    for n in 1..=600 {
        if n % 40 == 0 {
            all.push(format!(r#"{{"class":"FailJob","args":[{n}]}}"#));
            fails += 1;
        } else {
            all.push(noop(n));
        }
    }
    seed(&server, &all)?;
    let mut w = worker(
        &server,
        "mix",
        &[
            ("FORK_PER_JOB", "false"),
            ("CONCURRENCY", "3"),
            ("RESQUE_PREFETCH", "20"),
            ("INTERVAL", "0"),
        ],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    // Every job counted once (a job run twice would count twice, one lost not at all).
    assert_eq!(stat(&server, "processed"), 600);
    assert_eq!(stat(&server, "failed"), fails);
    assert_eq!(failures(&server)?.len(), usize::try_from(fails)?);
    assert!(queue(&server, "mix").is_empty());
    assert!(nothing_held(&server));
    assert!(registry_is_empty(&server));
    // It did hold jobs: far fewer reserve calls than jobs.
    let calls = server
        .get_str(&["INFO", "commandstats"])
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .and_then(|l| l.split("calls=").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("evalsha calls")?;
    assert!(calls < 300, "{calls} script calls for 600 jobs");
    Ok(())
}

#[test]
fn quit_puts_the_held_jobs_back_in_order_and_counts_what_ran() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    let (mut w, all) = holding(&server, &prefetching(&log), &log)?;
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    // The slow job finished; those not run are back at the head of the queue, in order;
    // each job is counted or queued, once.
    assert!(logged(&log, "done \"slow\""));
    let left = queue(&server, "mix");
    assert!(!left.is_empty() && is_tail(&left, &all), "{left:?}");
    assert_eq!(stat(&server, "processed") + i64::try_from(left.len())?, 13);
    assert!(failures(&server)?.is_empty());
    assert!(nothing_held(&server));
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn pausing_gives_the_held_jobs_back_and_resuming_runs_them() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    let (mut w, all) = holding(&server, &prefetching(&log), &log)?;
    signal(&w, Signal::SIGUSR2)?;
    // Paused after the slow job: the rest are back in the queue while the worker lives.
    assert!(eventually(Duration::from_secs(10), || nothing_held(
        &server
    ) && logged(
        &log,
        "done \"slow\""
    )));
    let left = queue(&server, "mix");
    assert!(!left.is_empty() && is_tail(&left, &all), "{left:?}");
    let processed = stat(&server, "processed");
    assert_eq!(processed + i64::try_from(left.len())?, 13);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        stat(&server, "processed"),
        processed,
        "nothing runs while paused"
    );
    signal(&w, Signal::SIGCONT)?;
    assert!(eventually(Duration::from_secs(10), || stat(
        &server,
        "processed"
    ) == 13));
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert!(queue(&server, "mix").is_empty());
    assert!(nothing_held(&server));
    Ok(())
}

#[test]
fn a_killed_workers_held_jobs_go_back_to_their_queue_and_run() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("ran.log");
    let mut env = prefetching(&log);
    env.push(("RESQUE_HEARTBEAT_INTERVAL", "1".into()));
    // The reaper listens elsewhere: only the lease rule (any host) finds the dead one.
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut reaper = worker(&server, "elsewhere", &env_ref)?;
    // Quick jobs, one that takes 30 s the first time, quick ones that log their runs.
    let mut all: Vec<String> = (1..=3).map(noop).collect();
    all.push(r#"{"class":"SlowOnceJob","args":["slow"]}"#.to_owned());
    all.extend((4..=12).map(record));
    seed(&server, &all)?;
    let mut w = start(&server, &env)?;
    assert!(eventually(Duration::from_secs(10), || logged(
        &log,
        r#"ran ["slow"]"#
    )));
    assert_eq!(held_lists(&server).len(), 1);
    w.kill()?;
    let _ = w.wait();
    // The reaper puts every held job back at the head of the queue, in order: none is
    // lost. (Held jobs that ran before the kill are back too: at least once.)
    assert!(eventually(Duration::from_secs(10), || held_lists(&server).is_empty()));
    let back = queue(&server, "mix");
    assert!(is_tail(&back, &all) && back.len() >= 9, "{back:?}");
    let mut again = start(&server, &env)?;
    assert!(eventually(Duration::from_secs(20), || queue(
        &server, "mix"
    )
    .is_empty()
        && held_lists(&server).is_empty()
        && logged(&log, "ran [12]")));
    let ran = runs(&log);
    for n in 4..=12 {
        assert!(
            ran.iter().any(|r| *r == format!("ran [{n}]")),
            "{n}: {ran:?}"
        );
    }
    quit_all(&mut [&mut again, &mut reaper])?;
    assert!(nothing_held(&server));
    Ok(())
}

#[test]
fn a_lost_reply_while_holding_loses_no_job_and_counts_none_twice() -> Result<()> {
    // The reply to one reserve call is lost after Redis ran it: it had counted the held
    // jobs run, trimmed them off and held more. Sent again under the same token, it
    // answers the same job and held list: every job runs once, and the counts are exact.
    let server = RedisServer::start();
    let log = server.dir().join("ran.log");
    let all: Vec<String> = (0..200).map(record).collect();
    seed(&server, &all)?;
    let proxy = resque_test_support::ReplyLosingProxy::start(&server, 4);
    let mut env = prefetching(&log);
    env.push(("INTERVAL", "0".into()));
    env.push(("REDIS_URL", proxy.url()));
    let mut w = start(&server, &env)?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    assert_eq!(proxy.lost(), 1, "one reply was lost");
    let mut ran = runs(&log);
    ran.sort_unstable();
    let mut want: Vec<String> = (0..200).map(|n| format!("ran [{n}]")).collect();
    want.sort_unstable();
    assert_eq!(ran, want, "every job ran exactly once");
    assert_eq!(stat(&server, "processed"), 200);
    assert!(failures(&server)?.is_empty());
    assert!(nothing_held(&server));
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn held_jobs_of_a_worker_someone_else_unregistered_go_back() -> Result<()> {
    // A Ruby pruner unregisters a dead worker with Ruby's commands and knows nothing of its
    // held list; the next reaper pass of any resque-rs worker puts the list back.
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    let mut env = prefetching(&log);
    // Its pruning lock (taken at start-up) lasts a heartbeat interval.
    env.push(("RESQUE_HEARTBEAT_INTERVAL", "1".into()));
    let (mut w, all) = holding(&server, &env, &log)?;
    let held = held_lists(&server);
    let id = held[0]
        .strip_prefix("resque:resque-rs:held:")
        .context("a held list's key")?
        .to_owned();
    w.kill()?;
    let _ = w.wait();
    // Ruby's unregister_worker: SREM workers, DEL worker:<id> and its stats.
    server.cmd(&["SREM", "resque:workers", &id])?;
    server.cmd(&["DEL", &format!("resque:worker:{id}")])?;
    server.cmd(&["DEL", &format!("resque:worker:{id}:started")])?;
    server.cmd(&["HDEL", "resque:workers:heartbeat", &id])?;
    assert_eq!(held_lists(&server).len(), 1, "still held: no one knew");
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut reaper = worker(&server, "elsewhere", &env_ref)?;
    assert!(eventually(Duration::from_secs(10), || nothing_held(
        &server
    )));
    let back = queue(&server, "mix");
    assert!(!back.is_empty() && is_tail(&back, &all), "{back:?}");
    quit_all(&mut [&mut reaper])?;
    Ok(())
}
