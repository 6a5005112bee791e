//! The worker, run as a real binary against a private redis-server: draining queues in both
//! modes, misbehaving jobs, the registry while busy, process titles, and every signal.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use resque_test_support::{RedisServer, eventually};
use serde_json::Value;

mod common;
use common::*;

#[test]
fn drains_queues_with_misbehaving_jobs_fork_per_job() -> Result<()> {
    drain_misbehaving_jobs(true)
}

/// The same, against a server that refuses scripts (an ACL, as some hosted Redis set):
/// the worker falls back to separate commands and leaves the same state.
#[test]
fn drains_queues_the_same_without_scripts() -> Result<()> {
    drain_misbehaving_jobs(false)
}

fn drain_misbehaving_jobs(scripts: bool) -> Result<()> {
    let server = RedisServer::start();
    if !scripts {
        server.cmd(&["ACL", "SETUSER", "default", "-evalsha", "-script"])?;
    }
    for i in 0..20 {
        job(&server, "noop", "NoopJob", &format!("[{i}]"))?;
    }
    job(&server, "fail", "FailJob", r#"[44,"masterbrew"]"#)?;
    job(&server, "fail", "NoSuchJob", "[1]")?;
    job(&server, "bad", "PanicJob", "[]")?;
    job(&server, "bad", "AbortJob", "[]")?;
    job(&server, "bad", "LeakJob", "[]")?;
    enqueue(&server, "bad", "not json {")?;
    job(&server, "spawn", "SpawnJob", "[3]")?;
    let mut w = worker(&server, "noop,fail,bad,spawn", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));

    // 27 jobs, plus the 3 that SpawnJob enqueued (drained before the worker stopped).
    assert_eq!(stat(&server, "processed"), 30);
    assert_eq!(
        server.cmd(&["LLEN", "resque:queue:noop"])?,
        resque_test_support::Resp::Integer(0)
    );
    let f = failures(&server)?;
    let kinds: Vec<(&str, &str)> = f
        .iter()
        .map(|r| {
            (
                r["payload"]["class"].as_str().unwrap_or("(raw)"),
                r["exception"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("FailJob", "RuntimeError"),
            ("NoSuchJob", "NameError"),
            ("PanicJob", "Panic"),
            ("AbortJob", "Resque::DirtyExit"),
            ("(raw)", "Resque::Helpers::DecodeException"),
        ],
        "one record per failed job, none for the leak"
    );
    assert_eq!(f[0]["error"], r#"FailJob failed: [44, "masterbrew"]"#);
    assert_eq!(f[1]["error"], "uninitialized constant NoSuchJob");
    assert_eq!(f[2]["error"], "this job panics");
    // The panic's location is its backtrace's first line (no RUST_BACKTRACE here).
    assert_eq!(
        f[2]["backtrace"].as_array().map(|b| b.len()),
        Some(1),
        "{}",
        f[2]
    );
    assert!(
        f[2]["backtrace"][0]
            .as_str()
            .is_some_and(|l| l.starts_with("tests/bin/test_worker.rs:")),
        "{}",
        f[2]
    );
    assert!(
        f[3]["error"].as_str().unwrap_or("").contains("SIGABRT"),
        "{}",
        f[3]
    );
    assert_eq!(
        f[4]["payload"], "not json {",
        "the malformed item is kept whole"
    );
    assert!(f.iter().all(|r| {
        r["worker"]
            .as_str()
            .unwrap_or("")
            .ends_with(":noop,fail,bad,spawn")
    }));
    // Ruby counts exceptions raised by jobs in stat:failed, not dirty exits.
    assert_eq!(stat(&server, "failed"), 4);
    let pid = w.id();
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    let id = format!("{host}:{pid}:noop,fail,bad,spawn");
    assert_eq!(
        stat(&server, &format!("processed:{id}")),
        0,
        "removed on exit"
    );
    assert!(registry_is_empty(&server), "unregistered on exit");
    assert!(
        server
            .get_list(&["HKEYS", "resque:workers:heartbeat"])
            .is_empty()
    );
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert_eq!(
        log.contains("using separate commands"),
        !scripts,
        "the fallback is logged when (and only when) it happens:\n{log}"
    );
    Ok(())
}

#[test]
fn drains_queues_in_process_with_fork_per_job_false() -> Result<()> {
    let server = RedisServer::start();
    for i in 0..50 {
        job(&server, "noop", "NoopJob", &format!("[{i}]"))?;
    }
    job(&server, "fail", "FailJob", "[1]")?;
    job(&server, "bad", "PanicJob", "[]")?;
    job(&server, "spawn", "SpawnJob", "[2]")?;
    let mut w = worker(
        &server,
        "noop,fail,bad,spawn",
        &[
            ("INTERVAL", "0"),
            ("FORK_PER_JOB", "false"),
            ("RUST_BACKTRACE", "1"),
        ],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    assert_eq!(stat(&server, "processed"), 55);
    let f = failures(&server)?;
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[1]["exception"].as_str(), f[1]["error"].as_str()),
        (Some("Panic"), Some("this job panics"))
    );
    // RUST_BACKTRACE=1 (set for this worker): the location, then the frames.
    let bt = f[1]["backtrace"].as_array().cloned().unwrap_or_default();
    assert!(
        bt.first()
            .and_then(|l| l.as_str())
            .is_some_and(|l| l.starts_with("tests/bin/test_worker.rs:")),
        "{bt:?}"
    );
    assert!(bt.len() > 3, "a backtrace was asked for: {bt:?}");
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn busy_worker_is_registered_titled_and_quits_after_its_job() -> Result<()> {
    let server = RedisServer::start();
    // Not in the form Ruby writes JSON: worker:<id> must still hold Ruby's re-encoding.
    enqueue(
        &server,
        "sleep",
        r#"{ "class" : "SleepJob", "args" : [ 1.5 ] }"#,
    )?;
    let mut w = worker(&server, "sleep", &[("INTERVAL", "0.2")])?;
    let pid = w.id();
    assert!(eventually(Duration::from_secs(10), || forked(&w)));
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["KEYS", "resque:worker:*:sleep"])
        .len()
        == 1));
    let id = server
        .get_list(&["SMEMBERS", "resque:workers"])
        .pop()
        .context("registered")?;
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    assert_eq!(id, format!("{host}:{pid}:sleep"));
    let raw = server
        .get_str(&["GET", &format!("resque:worker:{id}")])
        .context("working on")?;
    assert!(
        raw.starts_with(r#"{"queue":"sleep","run_at":""#)
            && raw.ends_with(r#"Z","payload":{"class":"SleepJob","args":[1.5]}}"#),
        "{raw}"
    );
    let payload: Value = serde_json::from_str(&raw)?;
    assert_eq!(payload["queue"], "sleep");
    assert_eq!(
        payload["payload"],
        serde_json::json!({"class": "SleepJob", "args": [1.5]})
    );
    assert!(payload["run_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let started = server
        .get_str(&["GET", &format!("resque:worker:{id}:started")])
        .context("started")?;
    assert_eq!(started.len(), "2026-11-22 17:53:49 +0000".len());
    let hb = server
        .get_str(&["HGET", "resque:workers:heartbeat", &id])
        .context("heartbeat")?;
    assert!(hb.contains('T') && !hb.ends_with('Z'), "{hb}");
    // Titles as Ruby's: the parent "Forked", the child "Processing" (ps shows them whole).
    assert!(
        eventually(Duration::from_secs(5), || title(pid)
            .starts_with("resque-3.0.0: Forked ")),
        "{}",
        title(pid)
    );
    let child = children_of(pid).first().copied().context("a child")?;
    assert!(
        title(child).starts_with("resque-3.0.0: Processing sleep since ")
            && title(child).ends_with(" [SleepJob]"),
        "{}",
        title(child)
    );

    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert_eq!(stat(&server, "processed"), 1, "QUIT let the job finish");
    assert!(failures(&server)?.is_empty());
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn idle_worker_title_and_term() -> Result<()> {
    let server = RedisServer::start();
    let mut w = worker(
        &server,
        "b,a",
        &[("INTERVAL", "0.1"), ("RESQUE_PROCLINE_PREFIX", "app1 ")],
    )?;
    assert!(
        eventually(Duration::from_secs(10), || title(w.id())
            == "app1 resque-3.0.0: Waiting for b,a"),
        "{}",
        title(w.id())
    );
    let started = Instant::now();
    signal(&w, Signal::SIGTERM)?;
    assert_eq!(finish(&mut w, Duration::from_secs(5))?, Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "TERM while idle exits at once"
    );
    assert!(registry_is_empty(&server));
    Ok(())
}

/// Starts a worker busy with a 30 s job, returning it once the child runs.
fn busy(server: &RedisServer, env: &[(&str, &str)]) -> Result<Child> {
    job(server, "sleep", "SleepJob", "[30]")?;
    let w = worker(server, "sleep", env)?;
    if !eventually(Duration::from_secs(10), || forked(&w)) {
        bail!("the worker never forked");
    }
    Ok(w)
}

#[test]
fn term_and_int_kill_the_child_and_record_a_dirty_exit() -> Result<()> {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let server = RedisServer::start();
        let mut w = busy(&server, &[("INTERVAL", "0.1")])?;
        let started = Instant::now();
        signal(&w, sig)?;
        assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{sig}: child killed at once"
        );
        let f = failures(&server)?;
        assert_eq!(f.len(), 1, "{sig}");
        assert_eq!(f[0]["exception"], "Resque::DirtyExit");
        assert!(
            f[0]["error"].as_str().unwrap_or("").contains("SIGKILL"),
            "{}",
            f[0]
        );
        assert_eq!(
            stat(&server, "failed"),
            0,
            "dirty exits are not counted in stat:failed"
        );
        assert_eq!(stat(&server, "processed"), 1);
        assert!(registry_is_empty(&server));
    }
    Ok(())
}

#[test]
fn term_child_sends_term_first() -> Result<()> {
    let server = RedisServer::start();
    let mut w = busy(
        &server,
        &[
            ("INTERVAL", "0.1"),
            ("TERM_CHILD", "1"),
            ("RESQUE_TERM_TIMEOUT", "5"),
        ],
    )?;
    signal(&w, Signal::SIGTERM)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    let f = failures(&server)?;
    assert!(
        f[0]["error"].as_str().unwrap_or("").contains("SIGTERM"),
        "{}",
        f[0]
    );
    Ok(())
}

#[test]
fn graceful_term_finishes_the_job() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "sleep", "SleepJob", "[1]")?;
    let mut w = worker(
        &server,
        "sleep",
        &[("INTERVAL", "0.1"), ("GRACEFUL_TERM", "1")],
    )?;
    assert!(eventually(Duration::from_secs(10), || forked(&w)));
    signal(&w, Signal::SIGTERM)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(failures(&server)?.is_empty(), "{log}");
    assert_eq!(stat(&server, "processed"), 1, "{log}");
    Ok(())
}

#[test]
fn usr1_kills_the_child_and_carries_on() -> Result<()> {
    let server = RedisServer::start();
    let mut w = busy(&server, &[("INTERVAL", "0.1")])?;
    job(&server, "sleep", "NoopJob", "[]")?;
    signal(&w, Signal::SIGUSR1)?;
    assert!(
        eventually(Duration::from_secs(10), || stat(&server, "processed") == 2),
        "the next job ran"
    );
    assert_eq!(failures(&server)?.len(), 1);
    assert!(w.try_wait()?.is_none(), "still running");
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    Ok(())
}

#[test]
fn usr2_pauses_cont_resumes_and_pause_all_workers() -> Result<()> {
    let server = RedisServer::start();
    let mut w = worker(&server, "q", &[("INTERVAL", "0.1")])?;
    assert!(eventually(Duration::from_secs(10), || title(w.id())
        .contains("Waiting for q")));
    signal(&w, Signal::SIGUSR2)?;
    assert!(
        eventually(Duration::from_secs(5), || title(w.id())
            == "resque-3.0.0: Paused"),
        "{}",
        title(w.id())
    );
    job(&server, "q", "NoopJob", "[]")?;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stat(&server, "processed"), 0, "paused: the job waits");
    signal(&w, Signal::SIGCONT)?;
    assert!(eventually(Duration::from_secs(5), || stat(
        &server,
        "processed"
    ) == 1));

    // The global switch other tools set.
    server.cmd(&["SET", "resque:pause-all-workers", "true"])?;
    assert!(eventually(Duration::from_secs(5), || title(w.id())
        == "resque-3.0.0: Paused"));
    job(&server, "q", "NoopJob", "[]")?;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stat(&server, "processed"), 1);
    server.cmd(&["DEL", "resque:pause-all-workers"])?;
    assert!(eventually(Duration::from_secs(5), || stat(
        &server,
        "processed"
    ) == 2));
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    Ok(())
}

#[test]
fn leaking_jobs_leave_the_parent_flat() -> Result<()> {
    let server = RedisServer::start();
    for _ in 0..3 {
        job(&server, "bad", "LeakJob", "[]")?;
    }
    let mut w = worker(&server, "bad", &[("INTERVAL", "0.1")])?;
    assert!(eventually(Duration::from_secs(30), || stat(
        &server,
        "processed"
    ) == 3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.id()))?;
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("VmHWM")?;
    assert!(
        peak_kb < 40 * 1024,
        "parent peak RSS {peak_kb} kB after three 200 MB leaks"
    );
    assert!(failures(&server)?.is_empty());
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    Ok(())
}

#[test]
fn no_queue_is_a_clear_error() -> Result<()> {
    let out = Command::new(WORKER)
        .env_remove("QUEUE")
        .env_remove("QUEUES")
        .env("REDIS_URL", "localhost:1")
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "resque-worker: set QUEUE env var, e.g. $ QUEUE=critical,high rake resque:work, or pass -q/--queues critical,high (Please give each worker at least one queue.)\n"
    );
    let out = Command::new(WORKER)
        .env("QUEUE", "a")
        .env("REDIS_URL", "localhost:notaport")
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("resque-worker: error: bad Redis connection string")
    );
    // Nothing listening: the same plain line as `resque` and resque-web.
    let out = Command::new(WORKER)
        .env("QUEUE", "a")
        .env("REDIS_URL", "127.0.0.1:1")
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "resque-worker: error: cannot connect to Redis at redis://127.0.0.1:1/0: connection refused\n"
    );
    // Ruby forks unless FORK_PER_JOB is exactly "false": other spellings are refused.
    let out = Command::new(WORKER)
        .args(["-q", "a", "--fork-per-job", "no"])
        .env("REDIS_URL", "127.0.0.1:1")
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must be true or false, got \"no\""),
        "{out:?}"
    );
    Ok(())
}

/// Fixture 11's registry (entries A to G), rebuilt with this host's name and real pids: a
/// starting worker prunes exactly what Ruby's does.
#[test]
fn prunes_dead_workers_like_fixture_11() -> Result<()> {
    let server = RedisServer::start();
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    // A live worker (a resque-titled process) that must survive.
    let mut live = worker(&server, "file_serve", &[("INTERVAL", "0.2")])?;
    let live_id = format!("{host}:{}:file_serve", live.id());
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "resque:workers"])
        .contains(&live_id)));
    // A live process that is not resque-titled (F), as a node-resque worker is.
    let mut sleeper = Command::new("sleep").arg("60").spawn()?;
    let now: i64 = match server.cmd(&["TIME"])? {
        resque_test_support::Resp::Array(t) => match &t[0] {
            resque_test_support::Resp::Bulk(b) => String::from_utf8_lossy(b).parse()?,
            other => bail!("TIME: {other:?}"),
        },
        other => bail!("TIME: {other:?}"),
    };
    let utc = resque::protocol::time::heartbeat(now, &jiff_utc()).context("fresh")?;
    let old = resque::protocol::time::heartbeat(now - 400, &jiff_utc()).context("expired")?;
    let job = r#"{"queue":"file_serve","run_at":"2026-11-22T17:45:48Z","payload":{"class":"Archive","args":[44,"masterbrew"]}}"#;
    let a = format!("{host}:999991:file_serve");
    let b = format!("{host}:999991:other");
    let f = format!("{host}:{}:file_serve", sleeper.id());
    let entries: [(&str, Option<&str>, bool, bool); 7] = [
        (&a, Some(&utc), true, true),
        (&b, Some(&utc), true, false),
        ("otherhost:123:file_serve", None, true, false),
        ("otherhost:456:file_serve", Some(&old), true, true),
        ("ghost:789:file_serve", Some(&old), false, false),
        (&f, Some(&utc), true, false),
        ("otherhost:999:file_serve", Some(&utc), true, false),
    ];
    for (id, hb, registered, with_job) in entries {
        if registered {
            server.cmd(&["SADD", "resque:workers", id])?;
            server.cmd(&[
                "SET",
                &format!("resque:worker:{id}:started"),
                "2026-11-22 17:37:28 +0000",
            ])?;
        }
        if let Some(hb) = hb {
            server.cmd(&["HSET", "resque:workers:heartbeat", id, hb])?;
        }
        if with_job {
            server.cmd(&["SET", &format!("resque:worker:{id}"), job])?;
        }
    }
    // The live worker holds the pruning lock from its own start; free it, as Ruby's capture did.
    server.cmd(&["DEL", "resque:pruning_dead_workers_in_progress"])?;
    let mut new = worker(&server, "file_serve", &[("INTERVAL", "0.2")])?;
    let new_id = format!("{host}:{}:file_serve", new.id());
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "resque:workers"])
        .contains(&new_id)));

    let workers = server.get_list(&["SMEMBERS", "resque:workers"]);
    let beats = server.get_list(&["HKEYS", "resque:workers:heartbeat"]);
    let kept = |id: &str| workers.iter().any(|w| w == id);
    let beating = |id: &str| beats.iter().any(|w| w == id);
    assert!(
        !kept(&a) && !beating(&a),
        "A: same host, dead pid, same queues"
    );
    assert!(kept(&b) && beating(&b), "B: other queues");
    assert!(
        kept("otherhost:123:file_serve"),
        "C: other host, no heartbeat"
    );
    assert!(
        !kept("otherhost:456:file_serve") && !beating("otherhost:456:file_serve"),
        "D: expired heartbeat"
    );
    assert!(
        !beating("ghost:789:file_serve"),
        "E: expired heartbeat, never registered"
    );
    // Ruby prunes F (no resque-titled process has its pid); we do not: a live process may
    // be another client's worker (node-resque is titled `node ...`). docs/compat.md.
    assert!(
        kept(&f) && beating(&f),
        "F: live pid that is not a resque-titled process"
    );
    assert!(
        kept("otherhost:999:file_serve") && beating("otherhost:999:file_serve"),
        "G: fresh heartbeat elsewhere"
    );
    assert!(kept(&live_id), "the live worker survives");
    assert_eq!(
        server
            .get_str(&["GET", "resque:pruning_dead_workers_in_progress"])
            .as_deref(),
        Some(new_id.as_str())
    );
    let f_records = failures(&server)?;
    assert_eq!(f_records.len(), 2);
    assert_eq!(
        f_records[0]["exception"],
        "Resque::PruneDeadWorkerDirtyExit"
    );
    assert_eq!(
        f_records[0]["error"],
        "Worker otherhost:456:file_serve did not gracefully exit while processing Archive"
    );
    assert_eq!(f_records[1]["exception"], "Resque::DirtyExit");
    assert_eq!(f_records[1]["error"], "Job still being processed");
    assert_eq!(f_records[1]["worker"], a.as_str());

    for w in [&live, &new] {
        signal(w, Signal::SIGQUIT)?;
    }
    assert_eq!(finish(&mut live, Duration::from_secs(10))?, Some(0));
    assert_eq!(finish(&mut new, Duration::from_secs(10))?, Some(0));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    Ok(())
}

fn jiff_utc() -> resque::protocol::time::Tz {
    resque::protocol::time::Tz::UTC
}

#[test]
fn worker_hooks_run_in_order_and_in_the_right_process() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    let log_s = log.display().to_string();
    job(&server, "q", "NoopJob", "[]")?;
    let mut w = worker(&server, "q", &[("INTERVAL", "0.1"), ("HOOK_LOG", &log_s)])?;
    let pid = w.id();
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("queue_empty")
    }));
    signal(&w, Signal::SIGUSR2)?;
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("before_pause")
    }));
    signal(&w, Signal::SIGCONT)?;
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("after_pause")
    }));
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    let text = std::fs::read_to_string(&log)?;
    let lines: Vec<&str> = text.lines().collect();
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    let id = format!("{host}:{pid}:q");
    assert_eq!(lines[0], format!("before_first_fork {pid}"));
    assert_eq!(
        lines[1],
        format!("before_fork NoopJob {pid}"),
        "before_fork runs in the parent"
    );
    let after: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(&after[..2], ["after_fork", "NoopJob"]);
    assert_ne!(after[2], pid.to_string(), "after_fork runs in the child");
    assert_eq!(
        &lines[3..],
        [
            "queue_empty".to_owned(),
            format!("before_pause {id}"),
            format!("after_pause {id}"),
            "shutdown".to_owned(),
            "worker_exit".to_owned(),
        ]
    );
    Ok(())
}

#[test]
fn count_runs_several_workers_and_stops_them_all() -> Result<()> {
    let server = RedisServer::start();
    let mut sup = worker(&server, "q", &[("INTERVAL", "0.1"), ("COUNT", "2")])?;
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "resque:workers"])
        .len()
        == 2));
    let ids = server.get_list(&["SMEMBERS", "resque:workers"]);
    assert!(
        ids.iter()
            .all(|id| !id.contains(&format!(":{}:", sup.id()))),
        "the supervisor itself does not register"
    );
    for i in 0..10 {
        job(&server, "q", "NoopJob", &format!("[{i}]"))?;
    }
    assert!(eventually(Duration::from_secs(10), || stat(
        &server,
        "processed"
    ) == 10));
    signal(&sup, Signal::SIGTERM)?;
    assert_eq!(finish(&mut sup, Duration::from_secs(10))?, Some(0));
    assert!(registry_is_empty(&server), "TERM reached both workers");
    Ok(())
}

#[test]
fn pidfile_background_verbose_and_namespace() -> Result<()> {
    let server = RedisServer::start();
    let pidfile = server.dir().join("worker.pid");
    let pf = pidfile.display().to_string();
    // BACKGROUND: the launched process returns at once; the daemon keeps working.
    let mut launcher = worker(
        &server,
        "q",
        &[
            ("INTERVAL", "0.1"),
            ("BACKGROUND", "1"),
            ("PIDFILE", &pf),
            ("RESQUE_NAMESPACE", "bg"),
        ],
    )?;
    assert_eq!(finish(&mut launcher, Duration::from_secs(10))?, Some(0));
    assert!(eventually(Duration::from_secs(10), || pidfile.exists()));
    let pid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    assert_ne!(pid, i32::try_from(launcher.id())?, "a new process");
    assert!(
        eventually(Duration::from_secs(10), || server
            .get_list(&["SMEMBERS", "bg:workers"])
            .len()
            == 1),
        "registered under RESQUE_NAMESPACE"
    );
    enqueue(&server, "q", r#"{"class":"NoopJob","args":[]}"#)?; // default namespace: not ours
    server.cmd(&["SADD", "bg:queues", "q"])?;
    server.cmd(&["RPUSH", "bg:queue:q", r#"{"class":"NoopJob","args":[]}"#])?;
    assert!(eventually(Duration::from_secs(10), || server
        .get_str(&["GET", "bg:stat:processed"])
        .as_deref()
        == Some("1")));
    assert_eq!(
        server
            .get_list(&["LRANGE", "resque:queue:q", "0", "-1"])
            .len(),
        1
    );
    kill(Pid::from_raw(pid), Signal::SIGQUIT)?;
    assert!(
        eventually(Duration::from_secs(10), || !pidfile.exists()),
        "PIDFILE removed at exit"
    );
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "bg:workers"])
        .is_empty()));
    // VERBOSE logs what the worker does, one line per job.
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(log.contains("*** done: (Job{q} | NoopJob) in "), "{log}");
    Ok(())
}

#[test]
fn verbose_and_very_verbose_write_rubys_two_formats_one_info_line_per_job() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "q", "NoopJob", "[]")?;
    job(&server, "q", "FailJob", "[1]")?;
    let mut w = worker(&server, "q", &[("INTERVAL", "0"), ("VERBOSE", "1")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with("*** ")), "{log}");
    let jobs: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("*** done: ") || l.starts_with("*** failed: "))
        .collect();
    assert_eq!(jobs.len(), 2, "one line per job: {log}");
    assert!(jobs[0].starts_with("*** done: (Job{q} | NoopJob) in ") && jobs[0].ends_with(" ms"));
    assert!(
        jobs[1].starts_with("*** failed: (Job{q} | FailJob) in ")
            && jobs[1].contains(" ms: RuntimeError: FailJob failed: [1]"),
        "{}",
        jobs[1]
    );
    assert!(!log.contains('\u{1b}'), "no colour codes in a log file");

    std::fs::remove_file(server.dir().join("worker.log"))?;
    job(&server, "q", "NoopJob", "[]")?;
    let mut w = worker(&server, "q", &[("INTERVAL", "0"), ("VVERBOSE", "1")])?;
    let pid = w.id();
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    // `** [HH:MM:SS YYYY-MM-DD] pid: message`, the child's own pid in its lines.
    for l in log.lines() {
        let rest = l.strip_prefix("** [").unwrap_or_default();
        let (stamp, after) = rest.split_once("] ").unwrap_or_default();
        let b = stamp.as_bytes();
        assert!(
            b.len() == 19 && b[2] == b':' && b[5] == b':' && b[8] == b' ' && b[13] == b'-',
            "{l}"
        );
        let (p, _msg) = after.split_once(": ").unwrap_or_default();
        assert!(p.parse::<u32>().is_ok(), "{l}");
    }
    assert!(
        log.contains(&format!("] {pid}: got: (Job{{q}} | NoopJob)")),
        "{log}"
    );
    assert!(
        log.contains(&format!("] {pid}: done: (Job{{q}} | NoopJob) in ")),
        "{log}"
    );
    Ok(())
}

#[test]
fn max_interval_caps_the_idle_sleep_and_min_interval_follows_a_job() -> Result<()> {
    let server = RedisServer::start();
    let mut w = worker(
        &server,
        "q",
        &[
            ("INTERVAL", "30"),
            ("MIN_INTERVAL", "0"),
            ("MAX_INTERVAL", "0.2"),
            ("BACKOFF_INTERVAL", "0.05"),
        ],
    )?;
    assert!(eventually(Duration::from_secs(10), || title(w.id())
        .contains("Waiting for q")));
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    job(&server, "q", "NoopJob", "[]")?;
    assert!(eventually(Duration::from_secs(5), || stat(
        &server,
        "processed"
    ) == 1));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "picked up within MAX_INTERVAL, not INTERVAL=30"
    );
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    Ok(())
}

#[test]
fn failure_backend_redis_multi_queue() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "fail", "FailJob", "[1]")?;
    let mut w = worker(
        &server,
        "fail",
        &[("INTERVAL", "0"), ("FAILURE_BACKEND", "redis_multi_queue")],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:failed_queues"]),
        ["fail_failed"]
    );
    let rec = server.get_list(&["LRANGE", "resque:fail_failed", "0", "-1"]);
    assert!(
        rec[0].contains(r#""error":"FailJob failed: [1]""#),
        "{rec:?}"
    );
    assert_eq!(
        server.cmd(&["EXISTS", "resque:failed"])?,
        resque_test_support::Resp::Integer(0)
    );
    let mut w = worker(
        &server,
        "fail",
        &[("INTERVAL", "0"), ("FAILURE_BACKEND", "sentry")],
    )?;
    assert_eq!(
        finish(&mut w, Duration::from_secs(10))?,
        Some(1),
        "an unknown backend is an error"
    );
    Ok(())
}

#[test]
fn pre_shutdown_timeout_lets_a_short_job_finish() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "sleep", "SleepJob", "[0.5]")?;
    let mut w = worker(
        &server,
        "sleep",
        &[
            ("INTERVAL", "0.1"),
            ("TERM_CHILD", "1"),
            ("RESQUE_PRE_SHUTDOWN_TIMEOUT", "3"),
        ],
    )?;
    assert!(eventually(Duration::from_secs(10), || forked(&w)));
    signal(&w, Signal::SIGTERM)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert!(
        failures(&server)?.is_empty(),
        "the job finished inside the pre-shutdown window"
    );
    assert_eq!(stat(&server, "processed"), 1);
    Ok(())
}

#[test]
fn on_failure_runs_for_a_killed_child_and_logging_levels() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    let log_s = log.display().to_string();
    let mut w = busy(
        &server,
        &[("INTERVAL", "0.1"), ("HOOK_LOG", &log_s), ("VVERBOSE", "1")],
    )?;
    signal(&w, Signal::SIGUSR1)?;
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("on_failure")
    }));
    let text = std::fs::read_to_string(&log)?;
    let line = text
        .lines()
        .find(|l| l.starts_with("on_failure"))
        .context("hook line")?;
    assert_eq!(
        line,
        format!("on_failure SleepJob Resque::DirtyExit {}", w.id()),
        "run once, in the parent"
    );
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    // VVERBOSE adds debug lines (Ruby's "Sleeping for N seconds").
    let out = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(out.contains("Sleeping for"), "{out}");

    // LOGGING is VERBOSE's other name (Ruby: LOGGING || VERBOSE); without either, quiet.
    for (env, loud) in [
        ([("VERBOSE", "0"), ("LOGGING", "1")], true),
        ([("VERBOSE", "0"), ("LOGGING", "0")], false),
    ] {
        let server = RedisServer::start();
        let mut w = worker(&server, "q", &[&[("INTERVAL", "0")][..], &env[..]].concat())?;
        assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
        let out = std::fs::read_to_string(server.dir().join("worker.log"))?;
        assert_eq!(out.contains("started"), loud, "{env:?}: {out}");
        assert!(!out.contains("Sleeping for"), "{out}");
    }
    Ok(())
}

#[test]
fn worker_rides_out_a_redis_restart() -> Result<()> {
    let mut server = RedisServer::start();
    let mut w = worker(&server, "q", &[("INTERVAL", "0.1")])?;
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "resque:workers"])
        .len()
        == 1));
    server.stop();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        w.try_wait()?.is_none(),
        "the worker is still running while Redis is down"
    );
    server.restart();
    job(&server, "q", "NoopJob", "[]")?;
    assert!(
        eventually(Duration::from_secs(20), || stat(&server, "processed") == 1),
        "it reconnected and ran the job: {}",
        std::fs::read_to_string(server.dir().join("worker.log")).unwrap_or_default()
    );
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    Ok(())
}

/// A job that ends while Redis is down keeps its bookkeeping until Redis is back (here a
/// fresh, empty server: only what the worker sends after the restart is in it).
#[test]
fn a_job_that_ends_while_redis_is_down_is_counted_when_it_is_back() -> Result<()> {
    let mut server = RedisServer::start();
    job(&server, "q", "SleepJob", "[1.5]")?;
    let mut w = worker(&server, "q", &[("INTERVAL", "0.1")])?;
    assert!(eventually(Duration::from_secs(10), || forked(&w)));
    let pid = w.id();
    server.stop();
    // The job ends (and its bookkeeping fails) while the server is away.
    assert!(eventually(Duration::from_secs(10), || children_of(pid).is_empty()));
    std::thread::sleep(Duration::from_secs(1));
    assert!(w.try_wait()?.is_none(), "the worker is still running");
    server.restart();
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    assert!(
        eventually(Duration::from_secs(20), || stat(&server, "processed") == 1
            && stat(&server, &format!("processed:{host}:{pid}:q")) == 1),
        "the kept bookkeeping arrived: {}",
        std::fs::read_to_string(server.dir().join("worker.log")).unwrap_or_default()
    );
    assert!(failures(&server)?.is_empty(), "a success, not a dirty exit");
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    Ok(())
}

#[test]
fn a_refused_stats_command_is_logged_and_not_counted_twice() -> Result<()> {
    // `stat:failed` is a list (someone's mistake): Redis refuses its INCRBY and takes the
    // rest of the bookkeeping, as Ruby's pipeline would. Both ways of talking to Redis
    // must go on working, record the failure once and never send the bookkeeping again.
    for scripts in [true, false] {
        let server = RedisServer::start();
        if !scripts {
            server.cmd(&["ACL", "SETUSER", "default", "-evalsha", "-script"])?;
        }
        server.cmd(&["RPUSH", "resque:stat:failed", "not a counter"])?;
        job(&server, "q", "FailJob", r#"[1,"x"]"#)?;
        job(&server, "q", "NoopJob", "[]")?;
        let mut w = worker(&server, "q", &[("INTERVAL", "0")])?;
        assert_eq!(
            finish(&mut w, Duration::from_secs(30))?,
            Some(0),
            "scripts: {scripts}"
        );
        // Processed counts both jobs once each: the bookkeeping was not sent again.
        assert_eq!(stat(&server, "processed"), 2, "scripts: {scripts}");
        assert_eq!(
            server
                .get_list(&["LRANGE", "resque:stat:failed", "0", "-1"])
                .len(),
            1
        );
        assert_eq!(failures(&server)?.len(), 1, "one record, not one per retry");
        let log = std::fs::read_to_string(server.dir().join("worker.log")).unwrap_or_default();
        assert!(log.contains("WRONGTYPE"), "the refusal is logged: {log}");
    }
    Ok(())
}

#[test]
fn a_job_that_leaves_a_forked_process_behind_does_not_hang_the_worker() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "bad", "DaemonJob", "[]")?;
    let t = Instant::now();
    let mut w = worker(&server, "bad", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "did not wait for the grandchild: {:?}",
        t.elapsed()
    );
    let f = failures(&server)?;
    assert_eq!(
        f[0]["error"], "left a daemon behind",
        "the report still arrived"
    );
    Ok(())
}

#[test]
fn a_failure_whose_report_outgrows_the_pipe_is_recorded_not_hung() -> Result<()> {
    // FailJob's message is Ruby's inspect of its args: 30,000 backslashes become 60,000,
    // and JSON doubles them again. Sizes were once bounded before encoding, so a report
    // like this filled the pipe and the child blocked writing it while the parent waited
    // for it to exit.
    let server = RedisServer::start();
    let wide = "\\\\".repeat(30_000);
    job(&server, "fail", "FailJob", &format!(r#"["{wide}"]"#))?;
    let mut w = worker(&server, "fail", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    let f = failures(&server)?;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["exception"], "RuntimeError");
    let error = f[0]["error"].as_str().context("error is text")?;
    assert!(
        error.starts_with(r#"FailJob failed: ["\\\\"#),
        "{}",
        &error[..40]
    );
    assert!(error.len() > 16 * 1024, "kept most of it: {}", error.len());
    assert_eq!(stat(&server, "failed"), 1);
    assert_eq!(stat(&server, "processed"), 1);
    Ok(())
}

#[test]
fn a_half_written_report_does_not_spoil_the_next_one() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "bad", "ScribbleJob", "[]")?;
    job(&server, "bad", "FailJob", "[1]")?;
    job(&server, "bad", "NoopJob", "[]")?;
    job(&server, "bad", "FailJob", "[2]")?;
    let mut w = worker(&server, "bad", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(20))?, Some(0));
    let f = failures(&server)?;
    let got: Vec<(&str, &str)> = f
        .iter()
        .map(|r| {
            (
                r["exception"].as_str().unwrap_or("?"),
                r["error"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, "Resque::DirtyExit", "{got:?}");
    assert!(got[0].1.contains("SIGABRT"), "{got:?}");
    assert_eq!(got[1], ("RuntimeError", "FailJob failed: [1]"));
    assert_eq!(got[2], ("RuntimeError", "FailJob failed: [2]"));
    assert_eq!(stat(&server, "processed"), 4);
    Ok(())
}

#[test]
fn a_worker_whose_registration_vanished_registers_again_at_its_next_heartbeat() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "q", "SleepJob", "[3]")?;
    let mut w = worker(
        &server,
        "q",
        &[("INTERVAL", "0.1"), ("RESQUE_HEARTBEAT_INTERVAL", "0.3")],
    )?;
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    let id = format!("{host}:{}:q", w.id());
    let busy = |s: &RedisServer| {
        s.get_str(&["GET", &format!("resque:worker:{id}")])
            .is_some()
    };
    assert!(eventually(Duration::from_secs(10), || busy(&server)));
    let started = server.get_str(&["GET", &format!("resque:worker:{id}:started")]);
    // Redis lost the worker's entries (a restart without its data, `resque remove`).
    server.cmd(&["SREM", "resque:workers", &id])?;
    server.cmd(&[
        "DEL",
        &format!("resque:worker:{id}"),
        &format!("resque:worker:{id}:started"),
    ])?;
    assert!(
        eventually(Duration::from_secs(10), || {
            server.get_list(&["SMEMBERS", "resque:workers"]) == [id.clone()] && busy(&server)
        }),
        "registered again, with its job"
    );
    assert_eq!(
        server.get_str(&["GET", &format!("resque:worker:{id}:started")]),
        started,
        "with the time it started"
    );
    kill(Pid::from_raw(i32::try_from(w.id())?), Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    assert_eq!(stat(&server, "processed"), 1);
    assert!(registry_is_empty(&server));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(log.contains("registering again"), "{log}");
    Ok(())
}

#[test]
fn redis_restarting_under_a_busy_forking_worker_never_ends_it() -> Result<()> {
    // Each restart makes fred reconnect (and resolve the address again) while the worker
    // forks a child per job: a fork refused for a passing reason is waited out, never an
    // exit. Over TCP, as in production: fred resolves the address again at a reconnect,
    // on a blocking-pool thread that lives a moment after.
    let mut server = RedisServer::start_tcp();
    let tcp = format!("127.0.0.1:{}", server.port().context("a TCP port")?);
    let mut w = worker(&server, "q", &[("INTERVAL", "0.05"), ("REDIS_URL", &tcp)])?;
    for round in 0..8 {
        for i in 0..40 {
            job(&server, "q", "NoopJob", &format!("[{round}, {i}]"))?;
        }
        assert!(
            eventually(Duration::from_secs(30), || stat(&server, "processed") >= 20),
            "round {round}: the worker took jobs after the restart"
        );
        server.restart();
        assert!(
            w.try_wait()?.is_none(),
            "round {round}: the worker is still running"
        );
    }
    job(&server, "q", "NoopJob", "[]")?;
    assert!(eventually(Duration::from_secs(30), || stat(
        &server,
        "processed"
    ) >= 1));
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    assert!(!log.contains("refusing to fork"), "{log}");
    Ok(())
}

#[test]
fn a_lost_reserve_reply_loses_no_job_and_counts_none_twice() -> Result<()> {
    // The reply to one reserve-script call is lost after Redis ran it (it popped a job and
    // did the last job's bookkeeping). The call is sent again with the same token and
    // answers the same job: every job runs once, and the counts are exact.
    let server = RedisServer::start();
    let log = server.dir().join("ran.log");
    for n in 0..40 {
        job(&server, "record", "RecordJob", &format!("[{n}]"))?;
    }
    let proxy = resque_test_support::ReplyLosingProxy::start(&server, 12);
    let mut w = worker(
        &server,
        "record",
        &[
            ("INTERVAL", "0"),
            ("FORK_PER_JOB", "false"),
            ("REDIS_URL", &proxy.url()),
            ("HOOK_LOG", &log.display().to_string()),
        ],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    assert_eq!(proxy.lost(), 1, "one reply was lost");
    let ran = std::fs::read_to_string(&log)?;
    let mut runs: Vec<&str> = ran.lines().filter(|l| l.starts_with("ran ")).collect();
    runs.sort_unstable();
    let mut want: Vec<String> = (0..40).map(|n| format!("ran [{n}]")).collect();
    want.sort_unstable();
    assert_eq!(runs, want, "every job ran exactly once");
    assert_eq!(stat(&server, "processed"), 40);
    assert!(failures(&server)?.is_empty());
    assert!(registry_is_empty(&server));
    Ok(())
}
