//! No job lost: the periodic reaper (a worker killed on this host or another is cleaned up
//! within two heartbeat intervals, with no worker starting; a live process of another
//! client is never taken for dead), the heartbeat thread of an in-process worker, and
//! reliable mode (a killed worker's job goes back to its queue; a poison job stops).

mod common;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use common::*;
use nix::sys::signal::Signal;
use resque_test_support::{RedisServer, Resp, eventually};

fn host() -> Result<String> {
    Ok(nix::unistd::gethostname()?.to_string_lossy().into_owned())
}

/// Redis's clock, in seconds and milliseconds.
fn redis_now(server: &RedisServer) -> Result<(i64, i64)> {
    let Resp::Array(t) = server.cmd(&["TIME"])? else {
        anyhow::bail!("TIME");
    };
    let num = |r: &Resp| match r {
        Resp::Bulk(b) => String::from_utf8_lossy(b).parse::<i64>().ok(),
        _ => None,
    };
    let (s, us) = (num(&t[0]).context("secs")?, num(&t[1]).context("micros")?);
    Ok((s, s * 1000 + us / 1000))
}

fn registered(server: &RedisServer, id: &str) -> bool {
    server
        .get_list(&["SMEMBERS", "resque:workers"])
        .iter()
        .any(|w| w == id)
}

/// The id of the worker that holds a job (its `worker:<id>` is set), if any.
fn busy_worker(server: &RedisServer) -> Option<String> {
    server
        .get_list(&["SMEMBERS", "resque:workers"])
        .into_iter()
        .find(|w| {
            server
                .get_str(&["GET", &format!("resque:worker:{w}")])
                .is_some()
        })
}

fn kill_with_children(pid: u32) -> Result<()> {
    for c in children_of(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(c)?),
            Signal::SIGKILL,
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid)?),
        Signal::SIGKILL,
    )?;
    Ok(())
}

fn runs(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("ran "))
        .map(str::to_owned)
        .collect()
}

const HEARTBEAT: Duration = Duration::from_secs(1);

#[test]
fn dead_workers_are_reaped_within_two_heartbeat_intervals_and_live_processes_never() -> Result<()> {
    let server = RedisServer::start();
    let host = host()?;
    let beat = [("RESQUE_HEARTBEAT_INTERVAL", "1"), ("INTERVAL", "0.1")];
    // Two workers on the same queue; one of them takes the long job and is killed.
    let mut a = worker(&server, "sleep", &beat)?;
    let mut b = worker(&server, "sleep", &beat)?;
    // A live process of another Resque client on this host, same queue (node-resque is
    // titled `node ...`; `sleep` stands in): Ruby's ps rule would prune it.
    let mut other_client = std::process::Command::new("sleep").arg("60").spawn()?;
    let other_id = format!("{host}:{}:sleep", other_client.id());
    let (secs, now_ms) = redis_now(&server)?;
    let fresh = resque::protocol::time::heartbeat(secs, &resque::protocol::time::Tz::UTC)
        .context("heartbeat")?;
    server.cmd(&["SADD", "resque:workers", &other_id])?;
    server.cmd(&["HSET", "resque:workers:heartbeat", &other_id, &fresh])?;
    // A resque-rs worker on another host that stops beating now: its lease (what its
    // heartbeat renews) runs out 1.5 s from now.
    let far = "elsewhere.example:4242:sleep";
    server.cmd(&["SADD", "resque:workers", far])?;
    server.cmd(&["HSET", "resque:workers:heartbeat", far, &fresh])?;
    server.cmd(&[
        "HSET",
        "resque:resque-rs:leases",
        far,
        &(now_ms + 1500).to_string(),
    ])?;
    server.cmd(&[
        "SET",
        &format!("resque:worker:{far}"),
        r#"{"queue":"sleep","run_at":"2026-12-01T10:00:00Z","payload":{"class":"SleepJob","args":[60]}}"#,
    ])?;
    let far_beat = Instant::now();
    assert!(eventually(Duration::from_secs(10), || {
        registered(&server, &format!("{host}:{}:sleep", a.id()))
            && registered(&server, &format!("{host}:{}:sleep", b.id()))
    }));

    job(&server, "sleep", "SleepJob", "[60]")?;
    let busy = {
        let mut found = None;
        assert!(eventually(Duration::from_secs(10), || {
            found = server
                .get_list(&["SMEMBERS", "resque:workers"])
                .into_iter()
                .filter(|w| w != far)
                .find(|w| {
                    server
                        .get_str(&["GET", &format!("resque:worker:{w}")])
                        .is_some()
                });
            found.is_some()
        }));
        found.context("a busy worker")?
    };
    let (victim, survivor) = if busy == format!("{host}:{}:sleep", a.id()) {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    kill_with_children(victim.id())?;
    let killed = Instant::now();
    let _ = victim.wait();

    // Same host: its pid is gone; the survivor's reaper (every half interval) finds it.
    assert!(
        eventually(2 * HEARTBEAT, || !registered(&server, &busy)),
        "the killed worker is unregistered within two heartbeat intervals"
    );
    let same_host_after = killed.elapsed();
    // Another host: nothing to ask but its lease.
    assert!(
        eventually((2 * HEARTBEAT).saturating_sub(far_beat.elapsed()), || {
            !registered(&server, far)
        }),
        "the silent worker elsewhere is unregistered within two heartbeat intervals of its last beat ({:?}; log: {})",
        far_beat.elapsed(),
        std::fs::read_to_string(server.dir().join("worker.log")).unwrap_or_default()
    );
    let far_after = far_beat.elapsed();
    let records = failures(&server)?;
    assert_eq!(records.len(), 2, "{records:?}");
    let by_worker = |w: &str| records.iter().find(|r| r["worker"] == w).cloned();
    let mine = by_worker(&busy).context("the killed worker's job")?;
    assert_eq!(mine["exception"], "Resque::DirtyExit");
    assert_eq!(mine["payload"]["args"][0], 60);
    let theirs = by_worker(far).context("the far worker's job")?;
    assert_eq!(theirs["exception"], "Resque::PruneDeadWorkerDirtyExit");
    assert!(
        server
            .get_str(&["HGET", "resque:resque-rs:leases", far])
            .is_none()
    );
    assert!(
        server
            .get_str(&["HGET", "resque:workers:heartbeat", far])
            .is_none()
    );

    // The other client's live worker stayed through every pass (at least five by now).
    std::thread::sleep(HEARTBEAT);
    assert!(
        registered(&server, &other_id),
        "a live process is never pruned"
    );
    assert!(registered(
        &server,
        &format!("{host}:{}:sleep", survivor.id())
    ));
    signal(survivor, Signal::SIGQUIT)?;
    assert_eq!(finish(survivor, Duration::from_secs(10))?, Some(0));
    let _ = other_client.kill();
    let _ = other_client.wait();
    eprintln!(
        "reaped: same host after {same_host_after:?}, other host {far_after:?} after its last beat"
    );
    Ok(())
}

#[test]
fn an_in_process_worker_keeps_beating_through_a_long_job() -> Result<()> {
    // A job on the worker's own thread blocks it for 3.5 lease-lengths' worth of beats; the
    // heartbeat thread keeps the lease, so the other worker's reaper leaves it alone.
    let server = RedisServer::start();
    let beat = [("RESQUE_HEARTBEAT_INTERVAL", "1"), ("INTERVAL", "0.1")];
    let mut reaper = worker(&server, "elsewhere", &beat)?;
    let mut w = worker(
        &server,
        "sleep",
        &[beat[0], beat[1], ("FORK_PER_JOB", "false")],
    )?;
    let id = format!("{}:{}:sleep", host()?, w.id());
    assert!(eventually(Duration::from_secs(10), || registered(
        &server, &id
    )));
    job(&server, "sleep", "SleepJob", "[4]")?;
    assert!(eventually(Duration::from_secs(5), || busy_worker(&server)
        .as_deref()
        == Some(id.as_str())));
    let until = Instant::now() + Duration::from_millis(3500);
    while Instant::now() < until {
        assert!(registered(&server, &id), "pruned while its job ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(eventually(Duration::from_secs(5), || stat(
        &server,
        "processed"
    ) == 1));
    assert!(failures(&server)?.is_empty());
    quit_all(&mut [&mut w, &mut reaper])?;
    assert!(registry_is_empty(&server));
    assert!(
        server
            .get_list(&["HKEYS", "resque:resque-rs:leases"])
            .is_empty()
    );
    Ok(())
}

#[test]
fn reliable_mode_puts_a_killed_forking_workers_job_back_and_it_runs_once_more() -> Result<()> {
    killed_worker_job_comes_back("true")
}

#[test]
fn reliable_mode_puts_a_killed_in_process_workers_job_back_and_it_runs_once_more() -> Result<()> {
    killed_worker_job_comes_back("false")
}

fn killed_worker_job_comes_back(fork: &str) -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("ran.log");
    let log_s = log.display().to_string();
    let env = [
        ("RESQUE_HEARTBEAT_INTERVAL", "1"),
        ("INTERVAL", "0.1"),
        ("RESQUE_RELIABLE", "1"),
        ("FORK_PER_JOB", fork),
        ("HOOK_LOG", log_s.as_str()),
    ];
    // The reaper listens elsewhere: only the lease rule (any host) can find the dead one.
    let mut reaper = worker(&server, "elsewhere", &env)?;
    let mut w = worker(&server, "slow", &env)?;
    let payload = r#"{"class":"SlowOnceJob","args":["first"]}"#;
    enqueue(&server, "slow", payload)?;
    enqueue(
        &server,
        "slow",
        r#"{"class":"SlowOnceJob","args":["second"]}"#,
    )?;
    assert!(eventually(Duration::from_secs(10), || runs(&log).len() == 1));
    let id = busy_worker(&server).context("busy")?;
    assert_eq!(
        server.get_str(&["GET", &format!("resque:resque-rs:inflight:{id}")]),
        Some(format!("\"slow\"\n{payload}"))
    );
    kill_with_children(w.id())?;
    let _ = w.wait();

    // Back at the head of its queue, byte for byte; no failure record; the dead worker gone.
    assert!(eventually(Duration::from_secs(5), || !registered(
        &server, &id
    )));
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:slow", "0", "-1"]),
        [payload, r#"{"class":"SlowOnceJob","args":["second"]}"#]
    );
    assert!(failures(&server)?.is_empty());
    assert!(
        server
            .get_list(&["KEYS", "resque:resque-rs:inflight:*"])
            .is_empty()
    );

    let mut again = worker(&server, "slow", &env)?;
    assert!(eventually(Duration::from_secs(10), || stat(
        &server,
        "processed"
    ) == 2));
    let ran = runs(&log);
    assert_eq!(ran.len(), 3, "{ran:?}");
    assert!(ran[0].starts_with(r#"ran ["first"]"#) && ran[1].starts_with(r#"ran ["first"]"#));
    assert!(ran[2].starts_with(r#"ran ["second"]"#));
    assert!(failures(&server)?.is_empty());
    quit_all(&mut [&mut again, &mut reaper])?;
    assert!(registry_is_empty(&server));
    assert!(
        server
            .get_list(&["KEYS", "resque:resque-rs:inflight:*"])
            .is_empty()
    );
    assert!(
        server
            .get_list(&["HKEYS", "resque:resque-rs:recoveries"])
            .is_empty()
    );
    Ok(())
}

#[test]
fn a_job_that_keeps_killing_its_worker_becomes_a_poison_record() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("ran.log");
    let log_s = log.display().to_string();
    let env = [
        ("RESQUE_HEARTBEAT_INTERVAL", "1"),
        ("INTERVAL", "0.1"),
        ("RESQUE_RELIABLE", "1"),
        ("RESQUE_MAX_RECOVERIES", "1"),
        ("HOOK_LOG", log_s.as_str()),
    ];
    let payload = r#"{"class":"KillerJob","args":["boom"]}"#;
    enqueue(&server, "killer", payload)?;
    // Each worker takes the job (taken back from the one before) and is killed by it.
    for n in 1..=2 {
        let mut w = worker(&server, "killer", &env)?;
        assert_eq!(
            finish(&mut w, Duration::from_secs(10))?,
            None,
            "killed (run {n})"
        );
        assert_eq!(runs(&log).len(), n);
    }
    // The third finds it was taken back once already: a record, and nothing to run.
    let mut w = worker(&server, "killer", &env)?;
    assert!(eventually(Duration::from_secs(5), || !failures(&server)
        .unwrap_or_default()
        .is_empty()));
    let records = failures(&server)?;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["exception"], "Resque::PoisonJob");
    assert_eq!(records[0]["payload"]["class"], "KillerJob");
    assert_eq!(records[0]["queue"], "killer");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runs(&log).len(), 2, "not run a third time");
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:killer"]).as_deref(),
        Some("0")
    );
    signal(&w, Signal::SIGQUIT)?;
    assert_eq!(finish(&mut w, Duration::from_secs(10))?, Some(0));
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn reliable_mode_with_count_puts_a_killed_siblings_job_back() -> Result<()> {
    // COUNT=2: two worker processes under one supervisor. One is killed with its job; its
    // sibling (same host and queues: its pid is gone) takes the job back and runs it.
    let server = RedisServer::start();
    let log = server.dir().join("ran.log");
    let log_s = log.display().to_string();
    let mut sup = worker(
        &server,
        "slow",
        &[
            ("COUNT", "2"),
            ("RESQUE_HEARTBEAT_INTERVAL", "1"),
            ("INTERVAL", "0.1"),
            ("RESQUE_RELIABLE", "1"),
            ("HOOK_LOG", log_s.as_str()),
        ],
    )?;
    assert!(eventually(Duration::from_secs(10), || server
        .get_list(&["SMEMBERS", "resque:workers"])
        .len()
        == 2));
    enqueue(
        &server,
        "slow",
        r#"{"class":"SlowOnceJob","args":["count"]}"#,
    )?;
    assert!(eventually(Duration::from_secs(10), || runs(&log).len() == 1));
    let id = busy_worker(&server).context("busy")?;
    let pid: u32 = id.split(':').nth(1).context("pid")?.parse()?;
    kill_with_children(pid)?;
    assert!(eventually(Duration::from_secs(5), || runs(&log).len() == 2));
    assert!(eventually(Duration::from_secs(5), || stat(
        &server,
        "processed"
    ) == 1));
    assert!(failures(&server)?.is_empty());
    assert!(!registered(&server, &id));
    signal(&sup, Signal::SIGQUIT)?;
    let _ = finish(&mut sup, Duration::from_secs(10))?;
    Ok(())
}
