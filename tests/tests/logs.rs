//! `LOGFORMAT=json` for the worker: every line it prints is one JSON object, each job has
//! one line with its class, queue, duration and outcome (and error), and every line logged
//! for a job (its own, in the forked child) carries the job and the worker from its span.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{finish, job, worker};
use resque_test_support::RedisServer;

#[test]
fn every_worker_line_is_json_and_each_job_has_one() -> Result<()> {
    let server = RedisServer::start();
    job(&server, "logs", "NoopJob", "[]")?;
    job(&server, "logs", "FailJob", r#"["x"]"#)?;
    job(&server, "logs", "LogJob", "[44]")?;
    let mut w = worker(&server, "logs", &[("INTERVAL", "0"), ("LOGFORMAT", "json")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("not JSON: {l:?}: {e}")))
        .collect::<Result<_>>()?;
    assert!(lines.len() >= 3, "{log}");
    for l in &lines {
        assert_eq!(l["progname"], "resque-worker");
        assert!(
            l["level"].is_string() && l["timestamp"].is_string() && l["pid"].is_u64(),
            "{l}"
        );
    }
    let done = lines
        .iter()
        .find(|l| l["outcome"] == "done")
        .ok_or_else(|| anyhow::anyhow!("no done line: {log}"))?;
    assert_eq!(
        (done["class"].as_str(), done["queue"].as_str()),
        (Some("NoopJob"), Some("logs"))
    );
    assert!(done["duration_ms"].is_f64());
    let failed = lines
        .iter()
        .find(|l| l["outcome"] == "failed")
        .ok_or_else(|| anyhow::anyhow!("no failed line"))?;
    assert_eq!(failed["class"], "FailJob");
    assert_eq!(failed["exception"], "RuntimeError");
    assert_eq!(failed["error"], r#"FailJob failed: ["x"]"#);
    // The job span: the parent's job lines and the job's own line, written in the forked
    // child, carry the worker and the job.
    let id = done["worker"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no worker on the done line: {done}"))?;
    assert!(id.ends_with(":logs"), "{id}");
    assert_eq!(done["span"], "job");
    assert_eq!(failed["worker"], id);
    let own = lines
        .iter()
        .find(|l| l["msg"] == "archiving")
        .ok_or_else(|| anyhow::anyhow!("no line from the job: {log}"))?;
    assert_eq!(
        (
            own["class"].as_str(),
            own["queue"].as_str(),
            own["worker"].as_str()
        ),
        (Some("LogJob"), Some("logs"), Some(id))
    );
    assert_eq!(own["repo"], "[44]");
    assert_ne!(own["pid"], done["pid"], "written by the forked child");
    // In process (FORK_PER_JOB=false, two slots), the same.
    job(&server, "logs", "LogJob", "[45]")?;
    std::fs::remove_file(server.dir().join("worker.log"))?;
    let mut w = worker(
        &server,
        "logs",
        &[
            ("INTERVAL", "0"),
            ("LOGFORMAT", "json"),
            ("FORK_PER_JOB", "false"),
            ("CONCURRENCY", "2"),
        ],
    )?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let log = std::fs::read_to_string(server.dir().join("worker.log"))?;
    let own: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["msg"] == "archiving")
        .ok_or_else(|| anyhow::anyhow!("no line from the job: {log}"))?;
    assert_eq!(own["class"], "LogJob");
    assert_eq!(own["span"], "job");
    assert!(
        own["worker"].as_str().is_some_and(|w| w.contains(":logs")),
        "{own}"
    );
    // The text format is unchanged: the job's fields are not appended to its line.
    job(&server, "logs", "NoopJob", "[]")?;
    std::fs::remove_file(server.dir().join("worker.log"))?;
    let mut w = worker(&server, "logs", &[("INTERVAL", "0")])?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    let text = std::fs::read_to_string(server.dir().join("worker.log"))?;
    let line = text
        .lines()
        .find(|l| l.contains("done: (Job{logs} | NoopJob)"))
        .unwrap_or_default();
    assert!(
        line.starts_with("*** done: (Job{logs} | NoopJob) in ") && line.ends_with(" ms"),
        "{line:?}"
    );
    Ok(())
}
