//! `resque-worker --exec CLASS=PROGRAM`: jobs in any language, run by the shipped binary.

use std::process::Command;

use anyhow::{Context as _, Result};
use resque_test_support::RedisServer;
use serde_json::Value;

fn enqueue(server: &RedisServer, queue: &str, payload: &str) -> Result<()> {
    server.cmd(&["SADD", "resque:queues", queue])?;
    server.cmd(&["RPUSH", &format!("resque:queue:{queue}"), payload])?;
    Ok(())
}

/// The shipped worker draining `queue` once (INTERVAL=0), with a clean environment.
fn worker(server: &RedisServer, queue: &str, fork: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_resque-worker"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", server.url())
        .env("QUEUES", queue)
        .env("INTERVAL", "0")
        .env("FORK_PER_JOB", fork);
    c
}

fn failures(server: &RedisServer) -> Result<Vec<Value>> {
    Ok(server
        .get_list(&["LRANGE", "resque:failed", "0", "-1"])
        .iter()
        .map(|r| serde_json::from_str(r))
        .collect::<Result<_, _>>()?)
}

#[test]
fn exec_handlers_in_both_modes() -> Result<()> {
    for fork in ["true", "false"] {
        let server = RedisServer::start();
        let dir = server.dir().to_owned();
        let out = dir.join("archive.out");
        enqueue(
            &server,
            "files",
            r#"{"class":"Archive","args":[44,"masterbrew",1.0e+20]}"#,
        )?;
        enqueue(&server, "files", r#"{"class":"Broken","args":[]}"#)?;
        enqueue(&server, "files", r#"{"class":"Anything","args":["x"]}"#)?;
        enqueue(&server, "files", r#"{"class":"Killed","args":[]}"#)?;
        let status = worker(&server, "files", fork)
            .arg("--exec")
            .arg(format!("Archive=cat > {}; echo >> {}; echo \"$RESQUE_QUEUE $RESQUE_CLASS $RESQUE_WORKER\" >> {}", out.display(), out.display(), out.display()))
            .arg("--exec")
            .arg("Broken=echo first line >&2; echo 'no such repository' >&2; exit 3")
            .arg("--exec")
            .arg("Killed=kill -9 $$")
            .arg("--exec")
            .arg(format!("*=cat > {}/catchall.out", dir.display()))
            .status()?;
        assert!(status.success(), "fork={fork}");
        let written = std::fs::read_to_string(&out)?;
        let mut lines = written.lines();
        assert_eq!(
            lines.next(),
            Some(r#"[44,"masterbrew",1.0e+20]"#),
            "args as JSON on stdin"
        );
        let env_line = lines.next().context("env line")?;
        assert!(
            env_line.starts_with("files Archive ") && env_line.ends_with(":files"),
            "{env_line}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("catchall.out"))?,
            r#"["x"]"#,
            "*= catches other classes"
        );
        let failed = failures(&server)?;
        assert_eq!(failed.len(), 2, "fork={fork}: {failed:?}");
        assert_eq!(failed[0]["exception"], "Resque::ExecError");
        assert!(
            failed[0]["error"]
                .as_str()
                .unwrap_or("")
                .contains("exited with status 3: no such repository"),
            "{}",
            failed[0]
        );
        assert_eq!(
            failed[0]["backtrace"],
            serde_json::json!(["first line", "no such repository"])
        );
        assert!(
            failed[1]["error"]
                .as_str()
                .unwrap_or("")
                .contains("killed by signal 9"),
            "{}",
            failed[1]
        );
        assert_eq!(
            server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
            Some("4")
        );
    }
    Ok(())
}

#[test]
fn without_a_handler_a_class_is_a_name_error() -> Result<()> {
    let server = RedisServer::start();
    enqueue(&server, "q", r#"{"class":"Nobody","args":[]}"#)?;
    let status = Command::new(env!("CARGO_BIN_EXE_resque-worker"))
        .env("REDIS_URL", server.url())
        .env("QUEUE", "q")
        .env("INTERVAL", "0")
        .status()?;
    assert!(status.success());
    let failed = server.get_list(&["LRANGE", "resque:failed", "0", "-1"]);
    assert!(
        failed[0].contains(r#""exception":"NameError","error":"uninitialized constant Nobody""#),
        "{failed:?}"
    );
    Ok(())
}

#[test]
fn a_chatty_program_with_large_args_does_not_deadlock() -> Result<()> {
    // The program writes 200 KB to stderr before it reads its 200 KB of input: writing all
    // the input before reading any stderr would leave both sides waiting on a full pipe.
    // Its stderr's last lines still make the failure record.
    for fork in ["true", "false"] {
        let server = RedisServer::start();
        let big = "y".repeat(200_000);
        enqueue(
            &server,
            "chat",
            &format!(r#"{{"class":"Chatty","args":["{big}"]}}"#),
        )?;
        // And one that never reads its large input: a success all the same.
        enqueue(
            &server,
            "chat",
            &format!(r#"{{"class":"Deaf","args":["{big}"]}}"#),
        )?;
        let mut worker = worker(&server, "chat", fork)
            .arg("--exec")
            .arg(
                "Chatty=i=0; while [ $i -lt 2000 ]; do \
                 echo \"line $i of a chatty program's log, padded to about a hundred bytes ......\" >&2; \
                 i=$((i+1)); done; n=$(wc -c); echo \"read $n bytes\" >&2; exit 4",
            )
            .arg("--exec")
            .arg("Deaf=exit 0")
            .spawn()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(s) = worker.try_wait()? {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = worker.kill();
                anyhow::bail!("fork={fork}: the worker hung (stdin and stderr both full)");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(status.success(), "fork={fork}");
        let failed = failures(&server)?;
        assert_eq!(failed.len(), 1, "fork={fork}");
        assert_eq!(
            server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
            Some("2")
        );
        assert_eq!(
            failed[0]["error"]
                .as_str()
                .map(|e| e.ends_with("exited with status 4: read 200004 bytes")),
            Some(true),
            "{}",
            failed[0]["error"]
        );
        let trace = failed[0]["backtrace"].as_array().context("backtrace")?;
        assert_eq!(trace.len(), 20);
        assert!(
            trace[0].as_str().unwrap_or("").starts_with("line 1981 "),
            "{}",
            trace[0]
        );
    }
    Ok(())
}
