//! The job API under the real worker binary: shared state made where the job runs, async
//! jobs on the runtime the worker lends, and struct arguments, in both fork modes.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use resque_test_support::RedisServer;

mod common;
use common::*;

/// Five sync jobs reading shared state, five async jobs using a shared connection (one of
/// them panics after its work), then what the hook log says about where state was made.
fn state_and_async_jobs(fork_per_job: bool) -> Result<()> {
    let server = RedisServer::start();
    for i in 0..5 {
        job(&server, "state", "StateJob", "[]")?;
        job(
            &server,
            "async",
            "AsyncStateJob",
            &format!(r#"[{{"n":{i}}}]"#),
        )?;
    }
    let log = server.dir().join("hooks.log");
    let log_s = log.display().to_string();
    let mode = if fork_per_job { "true" } else { "false" };
    let mut w = worker(
        &server,
        "state,async,noop",
        &[
            ("INTERVAL", "0"),
            ("FORK_PER_JOB", mode),
            ("HOOK_LOG", &log_s),
        ],
    )?;
    let worker_pid = w.id();
    assert_eq!(finish(&mut w, Duration::from_secs(60))?, Some(0));
    // 10 jobs and the 5 NoopJobs the async ones enqueued; the panic is a failure.
    assert_eq!(stat(&server, "processed"), 15);
    assert_eq!(stat(&server, "visits"), 1 + 2 + 3 + 4);
    let failures = failures(&server)?;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["exception"], "Panic");
    assert_eq!(failures[0]["error"], "an async job panics");
    assert_eq!(
        failures[0]["payload"]["args"],
        serde_json::json!([{"n": 0}])
    );

    let lines = std::fs::read_to_string(&log)?;
    let field = |line: &str, name: &str| -> Option<u32> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
    };
    for kind in ["state", "async"] {
        let runs: Vec<(u32, u32)> = lines
            .lines()
            .filter(|l| l.starts_with(kind))
            .filter_map(|l| Some((field(l, "made_in")?, field(l, "runs_in")?)))
            .collect();
        let want = if kind == "state" { 5 } else { 4 };
        assert_eq!(runs.len(), want, "{kind}: {lines}");
        let runners: BTreeSet<u32> = runs.iter().map(|r| r.1).collect();
        let makers: BTreeSet<u32> = runs.iter().map(|r| r.0).collect();
        if fork_per_job {
            // Each child made its own, after the fork; the parent never made one.
            assert!(
                runs.iter().all(|(made, ran)| made == ran),
                "{kind}: {runs:?}"
            );
            assert_eq!(runners.len(), want, "a child per job: {runs:?}");
            assert!(!runners.contains(&worker_pid));
        } else {
            // Made once, in the worker, and kept across jobs (and across the panic).
            assert_eq!(runners, BTreeSet::from([worker_pid]), "{kind}");
            assert_eq!(makers, BTreeSet::from([worker_pid]), "{kind}");
        }
    }
    // Each process made its state once.
    assert!(
        lines
            .lines()
            .filter(|l| l.starts_with("state"))
            .all(|l| l.ends_with("number=1")),
        "{lines}"
    );
    assert!(registry_is_empty(&server));
    Ok(())
}

#[test]
fn shared_state_and_async_jobs_fork_per_job() -> Result<()> {
    state_and_async_jobs(true)
}

#[test]
fn shared_state_and_async_jobs_in_process() -> Result<()> {
    state_and_async_jobs(false)
}
