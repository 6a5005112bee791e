//! resque-retry in the real forking worker: a job that fails twice then passes, one that
//! exhausts its retries, fatal and ignored exceptions, a delayed retry with the suppressing
//! failure backend, and the counter's key and values as resque-retry's.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{failures, finish, job, stat, worker};
use resque::protocol::retry::{HashStyle, identifier};
use resque_test_support::{RedisServer, Resp};

fn runs(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Runs the worker on `retry` (and `retry_later`) until the queues are empty.
fn drain(server: &RedisServer, env: &[(&str, &str)]) -> Result<()> {
    let mut w = worker(server, "retry", &[&[("INTERVAL", "0")][..], env].concat())?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    Ok(())
}

#[test]
fn a_job_that_fails_twice_then_passes_runs_three_times_and_leaves_no_counter() -> Result<()> {
    let server = RedisServer::start();
    let file = server.dir().join("flaky.runs");
    let args = format!(r#"["{}"]"#, file.display());
    job(&server, "retry", "FlakyJob", &args)?;
    drain(&server, &[])?;
    assert_eq!(runs(&file), 3);
    // Each failed attempt is a record with the plain backend (resque-retry's default) and
    // counts in stat:failed; the success deletes the counter.
    assert_eq!(failures(&server)?.len(), 2);
    assert_eq!(stat(&server, "failed"), 2);
    assert_eq!(stat(&server, "processed"), 3);
    let id = identifier(&[file.display().to_string().into()], HashStyle::Ruby33);
    let key = format!("resque:resque-retry:FlakyJob:{}", id.unwrap_or_default());
    assert_eq!(server.cmd(&["EXISTS", key.as_str()])?, Resp::Integer(0));
    Ok(())
}

#[test]
fn exhausted_fatal_and_ignored_exceptions() -> Result<()> {
    let server = RedisServer::start();
    let dir = server.dir().to_owned();
    let (ex, fatal, ign) = (
        dir.join("ex.runs"),
        dir.join("fatal.runs"),
        dir.join("ign.runs"),
    );
    job(
        &server,
        "retry",
        "ExhaustJob",
        &format!(r#"["{}"]"#, ex.display()),
    )?;
    job(
        &server,
        "retry",
        "FatalJob",
        &format!(r#"["{}"]"#, fatal.display()),
    )?;
    job(
        &server,
        "retry",
        "IgnoredJob",
        &format!(r#"["{}"]"#, ign.display()),
    )?;
    drain(
        &server,
        &[("FAILURE_BACKEND", "multiple_with_retry_suppression")],
    )?;
    assert_eq!(runs(&ex), 3, "limit 2: three runs");
    assert_eq!(runs(&fatal), 1, "fatal: never retried");
    assert_eq!(runs(&ign), 4, "three ignored failures, then the pass");
    // With suppression and immediate retries, only the final failures are recorded.
    let records = failures(&server)?;
    let mut classes: Vec<&str> = records
        .iter()
        .filter_map(|r| r["payload"]["class"].as_str())
        .collect();
    classes.sort_unstable();
    assert_eq!(classes, ["ExhaustJob", "FatalJob"], "{records:?}");
    let exhausted = records
        .iter()
        .find(|r| r["payload"]["class"] == "ExhaustJob");
    assert_eq!(exhausted.map(|r| r["error"].clone()), Some("run 3".into()));
    assert_eq!(
        stat(&server, "failed"),
        3 + 1 + 3,
        "every failed attempt counts, as Ruby"
    );
    assert!(
        server
            .get_list(&["KEYS", "resque:resque-retry:*"])
            .is_empty(),
        "no counter left"
    );
    Ok(())
}

#[test]
fn a_delayed_retry_waits_in_the_delayed_queue_with_its_suppressed_record() -> Result<()> {
    let server = RedisServer::start();
    let file = server.dir().join("later.runs");
    let arg = file.display().to_string();
    job(&server, "retry", "LaterJob", &format!(r#"["{arg}"]"#))?;
    drain(
        &server,
        &[("FAILURE_BACKEND", "multiple_with_retry_suppression")],
    )?;
    assert_eq!(runs(&file), 1);
    let id = identifier(&[arg.clone().into()], HashStyle::Ruby33).unwrap_or_default();
    // The counter: 0 after the first run, as resque-retry leaves it, with our TTL.
    let counter = format!("resque:resque-retry:LaterJob:{id}");
    assert_eq!(
        server.get_str(&["GET", counter.as_str()]).as_deref(),
        Some("0")
    );
    assert!(matches!(server.cmd(&["TTL", counter.as_str()])?, Resp::Integer(t) if t > 86_000));
    // The retry: delayed about a minute, to the retry queue, in resque-scheduler's bytes.
    let tss = server.get_list(&["ZRANGE", "resque:delayed_queue_schedule", "0", "-1"]);
    assert_eq!(tss.len(), 1);
    let item = format!(r#"{{"class":"LaterJob","args":["{arg}"],"queue":"retry_later"}}"#);
    assert_eq!(
        server.get_list(&["LRANGE", &format!("resque:delayed:{}", tss[0]), "0", "-1"]),
        std::slice::from_ref(&item)
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", &format!("resque:timestamps:{item}")]),
        [format!("delayed:{}", tss[0])]
    );
    // Suppressed: no record in `failed`, one under failure-<key> for twice the delay.
    assert!(failures(&server)?.is_empty());
    let fkey = format!("resque:failure-resque-retry:LaterJob:{id}");
    let record: serde_json::Value =
        serde_json::from_str(&server.get_str(&["GET", fkey.as_str()]).unwrap_or_default())?;
    assert_eq!(record["error"], "later 1");
    assert!(
        !record["failed_at"]
            .as_str()
            .unwrap_or("UTC")
            .contains("UTC"),
        "no zone"
    );
    assert!(
        matches!(server.cmd(&["TTL", fkey.as_str()])?, Resp::Integer(t) if (100..=120).contains(&t))
    );
    assert_eq!(stat(&server, "failed"), 1);
    Ok(())
}

/// Round trips per job, counted by a proxy between the worker and Redis: a class without a
/// retry policy costs one a job, as before retries existed; a retrying class that succeeds
/// costs one more (the counter's `DEL`).
#[test]
fn a_class_without_retries_costs_what_it_did_and_a_retrying_one_one_round_trip_more() -> Result<()>
{
    let server = RedisServer::start();
    let proxy = resque_test_support::RoundTripProxy::start(&server);
    let turns = |class: &str, n: usize| -> Result<usize> {
        for i in 0..n {
            job(&server, "retry", class, &format!(r#"["/dev/null",{i}]"#))?;
        }
        proxy.reset();
        let mut w = common::worker_at(&proxy.url(), "retry", &[("INTERVAL", "0")], server.dir())?;
        assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
        Ok(proxy.turns())
    };
    let plain = (turns("NoopJob", 10)?, turns("NoopJob", 30)?);
    let retrying = (turns("RetryOkJob", 10)?, turns("RetryOkJob", 30)?);
    let per_job = |(a, b): (usize, usize)| (b as f64 - a as f64) / 20.0;
    eprintln!(
        "round trips a job: plain {:.2}, retrying {:.2} (totals {plain:?}, {retrying:?})",
        per_job(plain),
        per_job(retrying)
    );
    // At most one a job without retries (fewer when a reservation's reply and the next
    // reservation share a turn; the same figure as before retries existed, measured on that
    // commit); a retrying class adds about one (the counter's DEL).
    assert!(per_job(plain) <= 1.0, "{plain:?}");
    let extra = per_job(retrying) - per_job(plain);
    assert!(
        (0.9..=1.3).contains(&extra),
        "extra round trips a job: {extra:.2}"
    );
    Ok(())
}

/// `--retry` gives an `--exec` job (any language) retries without Rust code: three runs for
/// a limit of two, retried to `--retry-queue`'s queue, then one `Resque::ExecError` record.
#[test]
fn retry_flags_retry_jobs_in_any_language() -> Result<()> {
    let server = RedisServer::start();
    let file = server.dir().join("shell.runs");
    let program = format!("ShellJob=echo run >> {}; exit 3", file.display());
    job(&server, "shell", "ShellJob", "[1]")?;
    let mut w = std::process::Command::new(env!("CARGO_BIN_EXE_resque-test-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUES", "shell,shell_retries")
        .env("INTERVAL", "0")
        .env_remove("FAILURE_BACKEND")
        .args([
            "--exec",
            &program,
            "--retry",
            "ShellJob=2:0",
            "--retry-queue",
            "ShellJob=shell_retries",
        ])
        .spawn()?;
    assert_eq!(finish(&mut w, Duration::from_secs(30))?, Some(0));
    assert_eq!(runs(&file), 3);
    let records = failures(&server)?;
    assert_eq!(
        records.len(),
        3,
        "the plain backend records every failed attempt"
    );
    assert_eq!(records[2]["exception"], "Resque::ExecError");
    assert_eq!(
        records[1]["queue"], "shell_retries",
        "retried to --retry-queue's queue"
    );
    assert!(
        server
            .get_list(&["KEYS", "resque:resque-retry:*"])
            .is_empty()
    );
    // A bad setting is refused with one line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_resque-test-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUES", "x")
        .args(["--retry", "ShellJob=many"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--retry takes CLASS=LIMIT") && err.lines().count() == 1,
        "{err}"
    );
    Ok(())
}

/// The job type's resque-retry hooks: a criteria check, a custom identifier, new retry
/// args, and the try-again and give-up callbacks.
#[test]
fn criteria_identifier_retry_args_and_callbacks() -> Result<()> {
    let server = RedisServer::start();
    let log = server.dir().join("hooks.log");
    job(&server, "retry", "CriteriaJob", r#"[1,"transient"]"#)?;
    job(&server, "retry", "CriteriaJob", r#"[2,"permanent"]"#)?;
    drain(&server, &[("HOOK_LOG", log.to_str().unwrap_or_default())])?;
    let hooks = std::fs::read_to_string(&log)?;
    assert!(
        hooks.contains(r#"try_again CriteriaJob RuntimeError [1, "transient"]"#),
        "{hooks}"
    );
    assert!(
        hooks.contains(r#"give_up CriteriaJob RuntimeError [2, "permanent"]"#),
        "{hooks}"
    );
    // The custom identifier, whitespace removed, as resque-retry's key.
    assert_eq!(
        server
            .get_str(&["GET", "resque:resque-retry:CriteriaJob:account7"])
            .as_deref(),
        None,
        "given up: deleted (both share the key)"
    );
    let tss = server.get_list(&["ZRANGE", "resque:delayed_queue_schedule", "0", "-1"]);
    assert_eq!(tss.len(), 1, "one retry, delayed");
    assert_eq!(
        server.get_list(&["LRANGE", &format!("resque:delayed:{}", tss[0]), "0", "-1"]),
        [r#"{"class":"CriteriaJob","args":[1,"retried"],"queue":"retry"}"#],
        "the retry's args"
    );
    Ok(())
}

/// A delegate class, `expire_retry_key_after` (fixture 18: 30 + 3600 = 3630 s) and delays
/// per exception class (fixture 18's Hash `@retry_exceptions`: NetworkError's first, 5 s).
#[test]
fn delegate_expiry_and_per_exception_delays() -> Result<()> {
    let server = RedisServer::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    job(&server, "retry", "DelegateJob", r#"["/dev/null"]"#)?;
    job(&server, "retry", "ExpireJob", r#"["/dev/null","a"]"#)?;
    job(&server, "retry", "HashDelaysJob", r#"["/dev/null","h"]"#)?;
    drain(&server, &[])?;
    // The delegate: retried as DelegateTarget to its queue, the counter gone at once.
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:delegated", "0", "-1"]),
        [r#"{"class":"DelegateTarget","args":["/dev/null"]}"#]
    );
    assert!(
        server
            .get_list(&["KEYS", "resque:resque-retry:DelegateJob*"])
            .is_empty()
    );
    // The expiry.
    let id = identifier(&["/dev/null".into(), "a".into()], HashStyle::Ruby33).unwrap_or_default();
    let counter = format!("resque:resque-retry:ExpireJob:{id}");
    assert!(
        matches!(
            server.cmd(&["TTL", counter.as_str()])?,
            Resp::Integer(3_630)
        ),
        "{:?}",
        server.cmd(&["TTL", counter.as_str()])
    );
    // NetworkError's first delay: 5 s from now.
    let item = r#"{"class":"HashDelaysJob","args":["/dev/null","h"],"queue":"retry"}"#;
    let at: Vec<i64> = server
        .get_list(&["SMEMBERS", &format!("resque:timestamps:{item}")])
        .iter()
        .filter_map(|m| m.strip_prefix("delayed:")?.parse().ok())
        .collect();
    assert_eq!(at.len(), 1);
    assert!(
        (now + 4..=now + 7).contains(&at[0]),
        "due {} s from now",
        at[0] - now
    );
    Ok(())
}
