//! `resque failures ...` against a private redis-server, on records Ruby Resque wrote.

mod common;

use std::process::Command;

use anyhow::{Context as _, Result};

use common::{ok, resque};
use resque_test_support::RedisServer;

/// Seeds the three records of fixture 05 plus a corrupt one.
fn seed(server: &RedisServer, key: &str) -> Result<Vec<String>> {
    let fx: serde_json::Value =
        serde_json::from_str(&resque_test_support::fixture("05_failure_redis"))?;
    let mut records: Vec<String> = fx["steps"][0]["keys"]["resque:failed"]["value"]
        .as_array()
        .context("records")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    records.push("not json at all".to_owned());
    for r in &records {
        server.cmd(&["RPUSH", key, r])?;
    }
    Ok(records)
}

#[test]
fn list_show_count() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    seed(&server, "resque:failed")?;
    let list = ok(&url, &["failures", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 4, "{list}");
    assert!(lines[0].starts_with("#3     (corrupt record:"), "{list}");
    assert!(lines[3].starts_with("#0     2026/11/22 17:54:00 UTC  file_serve  FailJob  RuntimeError: FailJob failed: [44, \"masterbrew\"]"), "{list}");
    assert_eq!(
        ok(&url, &["failures", "list", "--asc", "--limit", "1"])
            .lines()
            .count(),
        2,
        "one record and a 'more' line"
    );
    assert_eq!(
        ok(&url, &["failures", "list", "--class", "UnicodeFailJob"])
            .lines()
            .count(),
        1
    );
    assert!(ok(&url, &["failures", "list", "--exception", "NameError"]).contains("NoSuchJob"));
    assert!(ok(&url, &["failures", "list", "--text", "BOOM"]).contains("CustomError: boom é☃"));
    let json = ok(&url, &["failures", "list", "--json"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().context("a line")?)?;
    assert_eq!(
        (first["index"].as_u64(), first["corrupt"].as_bool()),
        (Some(3), Some(true))
    );
    let show = ok(&url, &["failures", "show", "0"]);
    assert!(
        show.contains("worker:    vm:7180:file_serve")
            && show.contains("  peers/ruby/jobs.rb:14:in `perform'"),
        "{show}"
    );
    assert!(ok(&url, &["failures", "show", "1", "--json"]).starts_with("{\"failed_at\":"));
    assert_eq!(ok(&url, &["failures", "count"]), "4\n");
    assert_eq!(
        ok(&url, &["failures", "count", "--class", "FailJob"]),
        "1\n"
    );
    let o = resque(&url, &["failures", "show", "9"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "resque: error: no failure record at index 9 of failed\n"
    );
    Ok(())
}

#[test]
fn requeue_remove_clear() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    seed(&server, "resque:failed")?;
    assert_eq!(
        ok(&url, &["failures", "requeue", "0"]),
        "** requeued 1 job\n"
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        [r#"{"class":"FailJob","args":[44,"masterbrew"]}"#]
    );
    assert!(ok(&url, &["failures", "list", "--class", "FailJob"]).contains("[retried "));
    assert_eq!(
        ok(&url, &["failures", "clear-retried"]),
        "** removed 1 retried failure\n"
    );
    assert_eq!(ok(&url, &["failures", "count"]), "3\n");
    // By class, with removal; the corrupt record is skipped, never deleted.
    assert_eq!(
        ok(
            &url,
            &[
                "failures",
                "requeue",
                "--class",
                "UnicodeFailJob",
                "--remove"
            ]
        ),
        "** requeued and removed 1 job\n"
    );
    assert_eq!(
        ok(&url, &["failures", "requeue", "--all"]),
        "** requeued 1 job\n"
    );
    let o = resque(&url, &["failures", "requeue"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("say which"));
    assert_eq!(
        ok(&url, &["failures", "remove", "0"]),
        "** removed failure 0\n"
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:failed", "0", "-1"]),
        ["not json at all"]
    );
    assert_eq!(ok(&url, &["failures", "clear"]), "** cleared\n");
    assert_eq!(ok(&url, &["failures", "count"]), "0\n");
    Ok(())
}

#[test]
fn multi_queue_backend_from_env() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    seed(&server, "resque:file_serve_failed")?;
    server.cmd(&["SADD", "resque:failed_queues", "file_serve_failed"])?;
    let o = Command::new(env!("CARGO_BIN_EXE_resque"))
        .args(["-r", &url, "failures", "count"])
        .env("FAILURE_BACKEND", "redis_multi_queue")
        .output()?;
    assert_eq!(String::from_utf8_lossy(&o.stdout), "4\n");
    assert_eq!(
        ok(
            &url,
            &["failures", "--backend", "redis_multi_queue", "list"]
        )
        .lines()
        .count(),
        4
    );
    assert_eq!(
        ok(
            &url,
            &[
                "failures",
                "--backend",
                "redis_multi_queue",
                "requeue",
                "0",
                "--list",
                "file_serve_failed"
            ]
        ),
        "** requeued 1 job\n"
    );
    let rec = server.get_list(&["LRANGE", "resque:file_serve_failed", "0", "0"]);
    assert!(
        rec[0].contains("\"retried_at\":\"") && !rec[0].ends_with(" UTC\"}"),
        "no zone for multi-queue: {}",
        rec[0]
    );
    // An index without --list: the error names the lists that hold records.
    let o = Command::new(env!("CARGO_BIN_EXE_resque"))
        .args(["-r", &url, "failures", "requeue", "0"])
        .env("FAILURE_BACKEND", "redis_multi_queue")
        .output()?;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "resque: error: redis_multi_queue keeps a failure list per queue: say which with \
         --list (records are in file_serve_failed (4))\n"
    );
    // The plain redis backend refuses other lists, as Ruby's ArgumentError does.
    let o = resque(&url, &["failures", "count", "--list", "file_serve_failed"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid queue: file_serve_failed"));
    Ok(())
}

#[test]
fn remove_records_the_job_through_the_configured_backend() -> Result<()> {
    // `resque remove` under redis_multi_queue: the in-flight job's DirtyExit record goes to
    // its queue's list, as Ruby's worker writes it (it went to `failed` before).
    let server = RedisServer::start();
    let url = server.url();
    server.cmd(&["SADD", "resque:workers", "elsewhere:42:file_serve"])?;
    server.cmd(&[
        "SET",
        "resque:worker:elsewhere:42:file_serve",
        r#"{"queue":"file_serve","run_at":"2026-11-22T17:40:00Z","payload":{"class":"A","args":[]}}"#,
    ])?;
    let o = Command::new(env!("CARGO_BIN_EXE_resque"))
        .args(["remove", "elsewhere:42:file_serve", "-r", &url])
        .env("FAILURE_BACKEND", "redis_multi_queue")
        .output()?;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        server.cmd(&["LLEN", "resque:failed"])?,
        resque_test_support::Resp::Integer(0)
    );
    let rec = server.get_list(&["LRANGE", "resque:file_serve_failed", "0", "-1"]);
    assert_eq!(rec.len(), 1);
    assert!(
        rec[0].contains(r#""exception":"Resque::DirtyExit""#),
        "{rec:?}"
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:failed_queues"]),
        ["file_serve_failed"]
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:workers"]),
        Vec::<String>::new()
    );
    Ok(())
}

#[test]
fn remove_under_a_notifier_only_backend_keeps_the_job_in_failed() -> Result<()> {
    // The command calls no notifier, so FAILURE_BACKEND=airbrake must not mean "nowhere".
    let server = RedisServer::start();
    let url = server.url();
    server.cmd(&["SADD", "resque:workers", "elsewhere:43:q"])?;
    server.cmd(&[
        "SET",
        "resque:worker:elsewhere:43:q",
        r#"{"queue":"q","run_at":"2026-11-22T17:40:00Z","payload":{"class":"A","args":[]}}"#,
    ])?;
    let o = Command::new(env!("CARGO_BIN_EXE_resque"))
        .args(["remove", "elsewhere:43:q", "-r", &url])
        .env("FAILURE_BACKEND", "airbrake")
        .output()?;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = server.get_list(&["LRANGE", "resque:failed", "0", "-1"]);
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert!(rec[0].contains(r#""exception":"Resque::DirtyExit""#));
    Ok(())
}
