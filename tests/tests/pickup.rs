//! Blocking pickup, run as the real worker binary: an idle worker waits in Redis and takes
//! a job within milliseconds, in priority order, answering signals and pauses while it
//! waits, across a Redis restart, for queues that appear after it started, and falling
//! back to Ruby's polling where Redis will not block.

use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::Signal;
use resque_test_support::{RedisServer, eventually};

mod common;
use common::*;

/// The hook log's lines, read afresh.
fn lines(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// An idle worker on `queues` (INTERVAL as given) logging to hooks.log; returns when it
/// is registered and has made its first empty reservation (so it is waiting).
fn idle_worker(
    server: &RedisServer,
    queues: &str,
    env: &[(&str, &str)],
) -> Result<(std::process::Child, std::path::PathBuf)> {
    let log = server.dir().join("hooks.log");
    let log_s = log.display().to_string();
    let mut all = vec![("HOOK_LOG", log_s.as_str())];
    all.extend_from_slice(env);
    let w = worker(server, queues, &all)?;
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "resque:workers"])
        .len()
        == 1));
    // Past the first (empty) reservation, into the wait.
    std::thread::sleep(Duration::from_millis(300));
    Ok((w, log))
}

/// Waits for the log to hold `n` lines starting with `prefix`; how long that took.
fn logged_within(
    log: &std::path::Path,
    prefix: &str,
    n: usize,
    limit: Duration,
) -> Option<Duration> {
    let t = Instant::now();
    eventually(limit, || {
        lines(log).iter().filter(|l| l.starts_with(prefix)).count() >= n
    })
    .then(|| t.elapsed())
}

#[test]
fn an_idle_worker_takes_each_job_at_once_not_after_an_interval() -> Result<()> {
    let server = RedisServer::start();
    // INTERVAL 5: with polling, a job would wait up to 5 s.
    let (mut w, log) = idle_worker(&server, "record", &[("INTERVAL", "5")])?;
    for i in 0..5 {
        job(&server, "record", "RecordJob", &format!("[{i}]"))?;
        let took = logged_within(&log, "ran", i + 1, Duration::from_secs(3));
        assert!(
            took.is_some_and(|t| t < Duration::from_secs(1)),
            "job {i} taken in {took:?}, not after an INTERVAL"
        );
    }
    assert_eq!(stat(&server, "processed"), 5);
    quit_all(&mut [&mut w])?;
    Ok(())
}

#[test]
fn priorities_hold_when_jobs_arrive_in_several_queues_at_once() -> Result<()> {
    let server = RedisServer::start();
    let (mut w, log) = idle_worker(&server, "high,low", &[("INTERVAL", "5")])?;
    // All four arrive in one step (one script; `cmd` opens a connection per command, so a
    // MULTI there would not hold): the worker must take high's first.
    server.cmd(&[
        "EVAL",
        r#"for i, q in ipairs({"low", "low", "high", "high"}) do
             redis.call("SADD", "resque:queues", q)
             redis.call("RPUSH", "resque:queue:" .. q, '{"class":"RecordJob","args":[' .. ARGV[i] .. ']}')
           end"#,
        "0",
        "1",
        "2",
        "3",
        "4",
    ])?;
    assert!(logged_within(&log, "ran", 4, Duration::from_secs(5)).is_some());
    let ran: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| l.starts_with("ran"))
        .collect();
    assert_eq!(ran, ["ran [3]", "ran [4]", "ran [1]", "ran [2]"]);
    quit_all(&mut [&mut w])?;
    Ok(())
}

#[test]
fn pauses_and_signals_are_answered_while_waiting() -> Result<()> {
    let server = RedisServer::start();
    let (mut w, log) = idle_worker(&server, "record", &[("INTERVAL", "1")])?;
    // USR2: paused at once; a job that arrives is not run until CONT.
    signal(&w, Signal::SIGUSR2)?;
    std::thread::sleep(Duration::from_millis(200));
    job(&server, "record", "RecordJob", "[1]")?;
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        lines(&log).iter().all(|l| !l.starts_with("ran")),
        "ran while paused"
    );
    signal(&w, Signal::SIGCONT)?;
    assert!(logged_within(&log, "ran", 1, Duration::from_secs(3)).is_some());

    // pause-all-workers: seen within INTERVAL (1 s here); a job that arrives is not run.
    server.cmd(&["SET", "resque:pause-all-workers", "true"])?;
    std::thread::sleep(Duration::from_millis(1500));
    job(&server, "record", "RecordJob", "[2]")?;
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lines(&log).iter().filter(|l| l.starts_with("ran")).count(),
        1
    );
    server.cmd(&["DEL", "resque:pause-all-workers"])?;
    assert!(logged_within(&log, "ran", 2, Duration::from_secs(5)).is_some());

    // QUIT while waiting: out at once, not after the wait's 25 s.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "QUIT took {:?}",
        t.elapsed()
    );
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn term_and_int_end_a_waiting_worker_at_once() -> Result<()> {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let server = RedisServer::start();
        let (mut w, _) = idle_worker(&server, "record", &[("INTERVAL", "5")])?;
        let t = Instant::now();
        signal(&w, sig)?;
        assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0), "{sig}");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{sig} took {:?}",
            t.elapsed()
        );
        // USR1 has no child to kill while waiting; checked on its own below.
    }
    let server = RedisServer::start();
    let (mut w, log) = idle_worker(&server, "record", &[("INTERVAL", "5")])?;
    signal(&w, Signal::SIGUSR1)?;
    job(&server, "record", "RecordJob", "[1]")?;
    assert!(
        logged_within(&log, "ran", 1, Duration::from_secs(2)).is_some(),
        "USR1 while waiting leaves the worker waiting"
    );
    quit_all(&mut [&mut w])?;
    Ok(())
}

#[test]
fn a_waiting_worker_rides_out_a_redis_restart() -> Result<()> {
    let mut server = RedisServer::start();
    let (mut w, log) = idle_worker(&server, "record", &[("INTERVAL", "1")])?;
    server.restart();
    // The restarted server is empty: the worker registers again at its heartbeat; what
    // matters here is that a job is taken without a restart of the worker.
    job(&server, "record", "RecordJob", "[1]")?;
    assert!(
        logged_within(&log, "ran", 1, Duration::from_secs(15)).is_some(),
        "{}",
        std::fs::read_to_string(server.dir().join("worker.log")).unwrap_or_default()
    );
    assert!(w.try_wait()?.is_none(), "still running");
    // And it waits again afterwards: the next job is quick.
    std::thread::sleep(Duration::from_millis(500));
    job(&server, "record", "RecordJob", "[2]")?;
    let took = logged_within(&log, "ran", 2, Duration::from_secs(5));
    assert!(took.is_some_and(|t| t < Duration::from_secs(1)), "{took:?}");
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    Ok(())
}

#[test]
fn a_queue_created_after_a_star_worker_started_is_worked() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "existing", "RecordJob", "[0]")?;
    let (mut w, log) = idle_worker(&server, "*", &[("INTERVAL", "3")])?;
    assert!(logged_within(&log, "ran", 1, Duration::from_secs(5)).is_some());
    // A new queue: seen at the next INTERVAL check (3 s), then waited on.
    job(&server, "brand_new", "RecordJob", "[1]")?;
    assert!(logged_within(&log, "ran", 2, Duration::from_secs(8)).is_some());
    std::thread::sleep(Duration::from_millis(300));
    job(&server, "brand_new", "RecordJob", "[2]")?;
    let took = logged_within(&log, "ran", 3, Duration::from_secs(5));
    assert!(
        took.is_some_and(|t| t < Duration::from_millis(1500)),
        "waited on, not found at the next 3 s check: {took:?}"
    );
    quit_all(&mut [&mut w])?;
    Ok(())
}

#[test]
fn where_redis_refuses_to_block_the_worker_polls() -> Result<()> {
    let server = RedisServer::start();
    // An ACL that forbids BLMOVE, as a locked-down managed Redis might.
    server.cmd(&["ACL", "SETUSER", "default", "-blmove"])?;
    let (mut w, log) = idle_worker(&server, "record", &[("INTERVAL", "0.5")])?;
    for i in 0..3 {
        job(&server, "record", "RecordJob", &format!("[{i}]"))?;
        assert!(logged_within(&log, "ran", i + 1, Duration::from_secs(3)).is_some());
    }
    let worker_log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(
        worker_log.contains("polling every INTERVAL"),
        "{worker_log}"
    );
    quit_all(&mut [&mut w])?;
    // And --polling asks for Ruby's polling without trying.
    let server = RedisServer::start();
    let (mut w, log) = idle_worker(
        &server,
        "record",
        &[("INTERVAL", "0.5"), ("RESQUE_POLLING", "1")],
    )?;
    job(&server, "record", "RecordJob", "[9]")?;
    assert!(logged_within(&log, "ran", 1, Duration::from_secs(3)).is_some());
    let clients = match server.cmd(&["CLIENT", "LIST"])? {
        resque_test_support::Resp::Bulk(b) => String::from_utf8(b)?,
        _ => String::new(),
    };
    assert!(!clients.contains("cmd=blmove"), "{clients}");
    quit_all(&mut [&mut w])?;
    Ok(())
}
