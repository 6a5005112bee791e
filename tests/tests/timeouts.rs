//! Per-job timeouts and the child signal, with the real forking worker: a hanging job is
//! stopped at its timeout, recorded and retried, and the worker goes on; an `--exec`
//! program's own children go with it; 1,000 jobs each timing out leave no zombie and no
//! descriptor behind; `--child-signal` is what a stopping job gets; without fork, a warning
//! and the job runs to its end.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use common::{children_of, failures, finish, job, signal, stat, worker};
use nix::sys::signal::Signal;
use resque_test_support::{RedisServer, eventually};

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry: look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

#[test]
fn a_hanging_job_is_stopped_at_its_timeout_recorded_retried_and_the_worker_goes_on() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "sleep", "SleepJob", "[30]")?;
    job(&server, "sleep", "NoopJob", "[]")?;
    let started = Instant::now();
    // The same flags as an operator's: the timeout and a retry for the class.
    let mut w = Command::new(env!("CARGO_BIN_EXE_resque-test-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUES", "sleep")
        .env("INTERVAL", "0")
        .env_remove("FAILURE_BACKEND")
        .args(["--timeout", "SleepJob=0.5", "--retry", "SleepJob=1"])
        .spawn()?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "two 0.5 s timeouts, not 30 s sleeps: {took:?}"
    );
    let records = failures(&server)?;
    assert_eq!(
        records.len(),
        2,
        "the attempt and its retry, each stopped: {records:?}"
    );
    for r in &records {
        assert_eq!(r["exception"], "Resque::JobTimeout");
        assert!(
            r["error"]
                .as_str()
                .unwrap_or_default()
                .contains("timeout of 0.5 s"),
            "{r}"
        );
    }
    assert_eq!(stat(&server, "failed"), 2);
    assert_eq!(stat(&server, "processed"), 3, "and the NoopJob after them");
    Ok(())
}

#[test]
fn an_exec_programs_children_are_stopped_with_it() -> Result<()> {
    let server = RedisServer::start();
    let pidfile = server.dir().join("grandchild.pid");
    let program = format!("Shell=sleep 100 & echo $! > {}; wait", pidfile.display());
    job(&server, "shell", "Shell", "[]")?;
    let mut w = Command::new(env!("CARGO_BIN_EXE_resque-test-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUES", "shell")
        .env("INTERVAL", "0")
        .args([
            "--exec",
            &program,
            "--job-timeout",
            "0.5",
            "--timeout-grace",
            "1",
        ])
        .spawn()?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let grandchild: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    assert!(
        eventually(Duration::from_secs(5), || !alive(grandchild)),
        "the program's own child was stopped too"
    );
    let records = failures(&server)?;
    assert_eq!(records[0]["exception"], "Resque::JobTimeout");
    Ok(())
}

#[test]
fn a_thousand_timeouts_leave_no_zombie_and_no_descriptor() -> Result<()> {
    let server = RedisServer::start();
    let n = 1_000;
    let script = format!(
        "for i = 1, {n} do redis.call('RPUSH', KEYS[1], '{{\"class\":\"SleepJob\",\"args\":[30]}}') end"
    );
    server.cmd(&["EVAL", script.as_str(), "1", "resque:queue:sleep"])?;
    server.cmd(&["SADD", "resque:queues", "sleep"])?;
    let mut w = Command::new(env!("CARGO_BIN_EXE_resque-test-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUES", "sleep")
        .env("INTERVAL", "0.2")
        .args(["--timeout", "SleepJob=0.005", "--timeout-grace", "0.5"])
        .spawn()?;
    let pid = w.id();
    // Its descriptors once it is running.
    assert!(eventually(Duration::from_secs(10), || stat(
        &server, "failed"
    ) >= 5));
    let before = fds(pid);
    assert!(
        eventually(Duration::from_secs(120), || stat(&server, "failed") == n),
        "{} of {n} timed out",
        stat(&server, "failed")
    );
    assert!(
        eventually(Duration::from_secs(5), || children_of(pid).is_empty()),
        "no child left (zombie or not)"
    );
    let after = fds(pid);
    assert!(after <= before + 1, "descriptors: {before} then {after}");
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    let records = server.get_list(&["LRANGE", "resque:failed", "0", "-1"]);
    assert_eq!(records.len(), n as usize);
    assert!(records.iter().all(|r| r.contains("Resque::JobTimeout")));
    Ok(())
}

#[test]
fn the_child_signal_is_what_a_stopping_job_gets() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "sleep", "SleepJob", "[30]")?;
    let mut w = worker(
        &server,
        "sleep",
        &[
            ("TERM_CHILD", "1"),
            ("RESQUE_CHILD_SIGNAL", "INT"),
            ("RESQUE_TERM_TIMEOUT", "5"),
        ],
    )?;
    let pid = w.id();
    assert!(eventually(Duration::from_secs(10), || !children_of(pid).is_empty()));
    signal(&w, Signal::SIGTERM)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    let records = failures(&server)?;
    let error = records
        .first()
        .and_then(|r| r["error"].as_str())
        .context("a record")?
        .to_owned();
    assert!(error.contains("SIGINT"), "the child got INT: {error}");
    // A bad name is refused in one line.
    let out = Command::new(env!("CARGO_BIN_EXE_resque-test-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUES", "x")
        .env("RESQUE_CHILD_SIGNAL", "KILL")
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--child-signal"));
    Ok(())
}

/// Without fork: an async job's future is cancelled at its timeout (a record, the worker
/// goes on); a sync job runs to its end, and the worker says so at start.
#[test]
fn without_fork_async_jobs_are_cancelled_and_sync_jobs_run_to_their_end() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    job(&server, "sleep", "AsyncSleepJob", "[30]")?;
    job(&server, "sleep", "SleepJob", "[0.3]")?;
    job(&server, "sleep", "AsyncSleepJob", "[0.01]")?;
    let t = Instant::now();
    let mut w = worker(
        &server,
        "sleep",
        &[
            ("INTERVAL", "0"),
            ("FORK_PER_JOB", "false"),
            ("RESQUE_JOB_TIMEOUT", "0.2"),
            ("HOOK_LOG", log.to_str().unwrap_or_default()),
        ],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the 30 s sleep was cancelled: {:?}",
        t.elapsed()
    );
    let records = failures(&server)?;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["exception"], "Resque::JobTimeout");
    assert!(
        records[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled")
    );
    assert_eq!(stat(&server, "processed"), 3);
    let hooks = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        hooks.contains("AsyncSleepJob finished 0.01") && !hooks.contains("finished 30"),
        "{hooks}"
    );
    let wlog = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(
        wlog.contains("a job timeout cancels async jobs only"),
        "{wlog}"
    );
    Ok(())
}

/// The Heroku recipe (what resque-heroku-signals does, built in): with a child signal other
/// than TERM the job ignores a TERM sent to it directly (a platform signals every process),
/// and the parent, on its own TERM, lets it run RESQUE_PRE_SHUTDOWN_TIMEOUT, then sends the
/// child signal.
#[test]
fn with_another_child_signal_a_platforms_term_to_the_job_is_ignored() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "sleep", "SleepJob", "[30]")?;
    let mut w = worker(
        &server,
        "sleep",
        &[
            ("TERM_CHILD", "1"),
            ("RESQUE_CHILD_SIGNAL", "QUIT"),
            ("RESQUE_PRE_SHUTDOWN_TIMEOUT", "1"),
        ],
    )?;
    let pid = w.id();
    assert!(eventually(Duration::from_secs(10), || !children_of(pid).is_empty()));
    let child = children_of(pid)[0] as i32;
    // The platform's TERM to every process: the job goes on.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child), Signal::SIGTERM)?;
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(child), "the job ignored the TERM sent to it");
    let t = Instant::now();
    signal(&w, Signal::SIGTERM)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "the pre-shutdown time was given"
    );
    let records = failures(&server)?;
    let error = records
        .first()
        .and_then(|r| r["error"].as_str())
        .context("a record")?
        .to_owned();
    assert!(error.contains("SIGQUIT"), "then the child signal: {error}");
    Ok(())
}

/// A job type's own `TIMEOUT` applies with no flag at all.
#[test]
fn a_job_types_own_timeout_applies() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "sleep", "HangJob", "[]")?;
    let t = Instant::now();
    let mut w = worker(&server, "sleep", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let records = failures(&server)?;
    assert_eq!(records[0]["exception"], "Resque::JobTimeout");
    assert!(
        records[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout of 0.3 s")
    );
    Ok(())
}
