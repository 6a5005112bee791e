//! Helpers the end-to-end test files share: the test worker binary run against a private
//! redis-server, and reading what it left in Redis.
// Each test file uses its own part of these.
#![allow(dead_code)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use resque_test_support::RedisServer;
use serde_json::Value;

pub(crate) const WORKER: &str = env!("CARGO_BIN_EXE_resque-test-worker");

pub(crate) fn enqueue(server: &RedisServer, queue: &str, payload: &str) -> Result<()> {
    server.cmd(&["SADD", "resque:queues", queue])?;
    server.cmd(&["RPUSH", &format!("resque:queue:{queue}"), payload])?;
    Ok(())
}

pub(crate) fn job(server: &RedisServer, queue: &str, class: &str, args: &str) -> Result<()> {
    enqueue(
        server,
        queue,
        &format!(r#"{{"class":"{class}","args":{args}}}"#),
    )
}

pub(crate) fn worker(server: &RedisServer, queues: &str, env: &[(&str, &str)]) -> Result<Child> {
    worker_at(&server.url(), queues, env, server.dir())
}

/// [`worker`] for any connection string (a proxy's), logging into `log_dir`.
#[allow(dead_code)] // not every test file that includes this module uses it
pub(crate) fn worker_at(
    url: &str,
    queues: &str,
    env: &[(&str, &str)],
    log_dir: &std::path::Path,
) -> Result<Child> {
    let mut c = Command::new(WORKER);
    for v in [
        "REDIS_URL",
        "RESQUE_NAMESPACE",
        "QUEUE",
        "QUEUES",
        "INTERVAL",
        "FORK_PER_JOB",
        "CONCURRENCY",
        "RESQUE_POLLING",
        "RESQUE_BATCH_RESERVATIONS",
        "RESQUE_PREFETCH",
        "RESQUE_METRICS",
        "TERM_CHILD",
        "GRACEFUL_TERM",
        "FAILURE_BACKEND",
        "VERBOSE",
        "VVERBOSE",
        "RUST_BACKTRACE",
        "RUST_LIB_BACKTRACE",
        "RESQUE_CHILD_SIGNAL",
        "LOGFORMAT",
        "RESQUE_JOB_TIMEOUT",
        "RESQUE_TIMEOUT_GRACE",
    ] {
        c.env_remove(v);
    }
    // The worker's log goes to a file beside the server, for failing tests to show.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir.join("worker.log"))?;
    c.env("REDIS_URL", url)
        .env("QUEUES", queues)
        .env("VERBOSE", "1")
        .stdout(log.try_clone()?)
        .stderr(log);
    for (k, v) in env {
        c.env(k, v);
    }
    Ok(c.spawn()?)
}

/// Waits for the worker to exit (killing it after `timeout`) and returns its exit code.
pub(crate) fn finish(child: &mut Child, timeout: Duration) -> Result<Option<i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("worker did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn signal(child: &Child, sig: Signal) -> Result<()> {
    kill(Pid::from_raw(i32::try_from(child.id())?), sig)?;
    Ok(())
}

pub(crate) fn stat(server: &RedisServer, name: &str) -> i64 {
    server
        .get_str(&["GET", &format!("resque:stat:{name}")])
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn failures(server: &RedisServer) -> Result<Vec<Value>> {
    server
        .get_list(&["LRANGE", "resque:failed", "0", "-1"])
        .iter()
        .map(|r| Ok(serde_json::from_str(r)?))
        .collect()
}

pub(crate) fn title(pid: u32) -> String {
    Command::new("ps")
        .args(["-o", "command=", "-p", &pid.to_string()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether the worker has forked a job (its title says so; a child alone could be `ps`).
pub(crate) fn forked(w: &Child) -> bool {
    title(w.id()).starts_with("resque-3.0.0: Forked ")
}

pub(crate) fn registry_is_empty(server: &RedisServer) -> bool {
    let keys = server.get_list(&["KEYS", "resque:worker*"]);
    keys.is_empty() && server.get_list(&["SMEMBERS", "resque:workers"]).is_empty()
}

/// QUITs each worker and checks that each exits 0 within 10 s.
pub(crate) fn quit_all(workers: &mut [&mut Child]) -> Result<()> {
    for w in workers.iter_mut() {
        signal(w, Signal::SIGQUIT)?;
        let code = finish(w, Duration::from_secs(10))?;
        if code != Some(0) {
            bail!("worker {} exited with {code:?}", w.id());
        }
    }
    Ok(())
}
