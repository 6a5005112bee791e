//! Runs the real `resque` binary against a private redis-server.

mod common;

use std::process::Command;

use anyhow::Result;

use common::{resque, stderr, stdout};
use resque_test_support::{RedisServer, RoundTripProxy};

#[test]
fn enqueue_stores_exactly_what_ruby_stores_in_one_round_trip() -> Result<()> {
    let server = RedisServer::start();
    let proxy = RoundTripProxy::start(&server);
    let mon = server.monitor();
    let o = resque(
        &proxy.url(),
        &["enqueue", "file_serve", "Archive", "44", "masterbrew"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "** enqueued Archive to file_serve\n");
    assert_eq!(
        mon.data_commands(),
        [
            vec!["sadd", "resque:queues", "file_serve"],
            vec![
                "rpush",
                "resque:queue:file_serve",
                r#"{"class":"Archive","args":[44,"masterbrew"]}"#
            ],
        ]
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        [r#"{"class":"Archive","args":[44,"masterbrew"]}"#]
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:queues"]),
        ["file_serve"]
    );
    // The connection handshake takes a few turns; the enqueue itself takes one. Count
    // the handshake with a command that sends nothing else.
    proxy.reset();
    let o = resque(&proxy.url(), &["enqueue", "file_serve", "Archive", "45"]);
    assert!(o.status.success());
    let with_enqueue = proxy.turns();
    proxy.reset();
    let o = resque(&proxy.url(), &["enqueue", "", "Archive"]);
    assert!(
        !o.status.success(),
        "empty queue is refused before any command"
    );
    let handshake = proxy.turns();
    assert_eq!(
        with_enqueue,
        handshake + 1,
        "enqueue is one round trip after connecting"
    );
    Ok(())
}

#[test]
fn enqueue_argument_forms() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    let o = resque(
        &url,
        &[
            "enqueue",
            "q",
            "Job",
            "1.5",
            "true",
            "null",
            r#"{"a":[1]}"#,
            "plain text",
            r#""44""#,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = resque(
        &url,
        &[
            "enqueue",
            "q",
            "Job",
            "--args",
            r#"[1e20,"x",18446744073709551616]"#,
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"class\":\"Job\",\"args\":[1.0e+20,\"x\",18446744073709551616]}\n"
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        [
            r#"{"class":"Job","args":[1.5,true,null,{"a":[1]},"plain text","44"]}"#,
            r#"{"class":"Job","args":[1.0e+20,"x",18446744073709551616]}"#,
        ]
    );
    let o = resque(&url, &["enqueue", "q", "Job", "--args", "{}"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--args must be a JSON array"),
        "{}",
        stderr(&o)
    );
    let o = resque(&url, &["enqueue", "q", "", "x"]);
    assert_eq!(stderr(&o), "resque: error: Jobs must be given a class.\n");
    Ok(())
}

#[test]
fn namespace_from_flag_env_and_string() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    assert!(
        resque(&url, &["-N", "myapp", "enqueue", "q", "A"])
            .status
            .success()
    );
    let o = Command::new(env!("CARGO_BIN_EXE_resque"))
        .args(["enqueue", "q", "B"])
        .env("REDIS_URL", &url)
        .env("RESQUE_NAMESPACE", "envns")
        .output()?;
    assert!(o.status.success(), "{}", stderr(&o));
    let mut keys = server.get_list(&["KEYS", "*"]);
    keys.sort();
    assert_eq!(
        keys,
        [
            "envns:queue:q",
            "envns:queues",
            "myapp:queue:q",
            "myapp:queues"
        ]
    );
    Ok(())
}

#[test]
fn queues_info_stats_and_json() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    for (q, n) in [("high", 2), ("low", 1)] {
        for _ in 0..n {
            assert!(resque(&url, &["enqueue", q, "Noop"]).status.success());
        }
    }
    server.cmd(&["SET", "resque:stat:processed", "12"])?;
    server.cmd(&["RPUSH", "resque:failed", "{}"])?;
    assert_eq!(stdout(&resque(&url, &["queues"])), "high  2\nlow   1\n");
    assert_eq!(
        stdout(&resque(&url, &["queues", "--json"])),
        "{\"high\":2,\"low\":1}\n"
    );
    let info = stdout(&resque(&url, &["info"]));
    assert!(
        info.contains("pending      3\n")
            && info.contains("processed    12\n")
            && info.contains("failed       1\n"),
        "{info}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&resque(&url, &["info", "--json"])))?;
    assert_eq!(
        (
            v["pending"].as_u64(),
            v["queues"].as_u64(),
            v["environment"].as_str()
        ),
        (Some(3), Some(2), Some("development"))
    );
    assert_eq!(
        stdout(&resque(&url, &["stats"])),
        "resque.pending=3\nresque.processed+=12\nresque.failed+=1\nresque.workers=0\nresque.working=0\nqueues.high=2\nqueues.low=1\n"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&resque(&url, &["stats", "--json"])))?;
    assert_eq!(v["queues"]["high"].as_u64(), Some(2));
    Ok(())
}

#[test]
fn list_remove_and_kill_workers() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    assert_eq!(stdout(&resque(&url, &["list"])), "None\n");
    let host = nix::unistd::gethostname()?.to_string_lossy().into_owned();
    // A real process standing in for a worker on this host, and one on another host.
    let mut child = Command::new("sleep").arg("60").spawn()?;
    let local = format!("{host}:{}:q", child.id());
    for id in [local.as_str(), "elsewhere:42:q"] {
        server.cmd(&["SADD", "resque:workers", id])?;
        server.cmd(&[
            "SET",
            &format!("resque:worker:{id}:started"),
            "2026-11-22 17:40:00 +0000",
        ])?;
    }
    server.cmd(&[
        "SET",
        "resque:worker:elsewhere:42:q",
        r#"{"queue":"q","run_at":"2026-11-22T17:40:00Z","payload":{"class":"A","args":[]}}"#,
    ])?;
    let listed = stdout(&resque(&url, &["list"]));
    assert!(
        listed.contains(&format!("{local} (idle)\n"))
            && listed.contains("elsewhere:42:q (working)\n"),
        "{listed}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&resque(&url, &["list", "--json"])))?;
    assert_eq!(v.as_array().map(Vec::len), Some(2));

    let o = resque(&url, &["kill", "elsewhere:42:q"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("runs on host \"elsewhere\""),
        "{}",
        stderr(&o)
    );

    let o = resque(&url, &["kill", &local]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("** killed {local}\n** removed {local}\n")
    );
    let status = child.wait()?;
    assert!(!status.success(), "the process was killed");

    let o = resque(&url, &["remove", "elsewhere:42:q"]);
    assert_eq!(stdout(&o), "** removed elsewhere:42:q\n");
    assert_eq!(stdout(&resque(&url, &["list"])), "None\n");
    // Its job became a DirtyExit failure, as Ruby's unregister_worker records it.
    let failed = server.get_list(&["LRANGE", "resque:failed", "0", "-1"]);
    assert!(
        failed[0]
            .contains(r#""exception":"Resque::DirtyExit","error":"Job still being processed""#),
        "{failed:?}"
    );
    let o = resque(&url, &["remove", "nobody:1:q"]);
    assert_eq!(stderr(&o), "resque: error: no such worker \"nobody:1:q\"\n");
    Ok(())
}

#[test]
fn connection_problems_are_one_clear_line() -> Result<()> {
    let o = resque("localhost:port", &["queues"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "resque: error: bad Redis connection string \"localhost:port\": port \"port\""
        ),
        "{err}"
    );

    let dir = tempfile_dir();
    let o = resque(&format!("unix://{dir}/none.sock"), &["info"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err,
        format!(
            "resque: error: cannot connect to Redis at unix://{dir}/none.sock?db=0: no such file or directory\n"
        )
    );
    let o = resque("127.0.0.1:1", &["info"]);
    assert_eq!(
        stderr(&o),
        "resque: error: cannot connect to Redis at redis://127.0.0.1:1/0: connection refused\n"
    );
    let o = resque("redis://localhost:port", &["info"]);
    assert_eq!(
        stderr(&o),
        "resque: error: bad Redis connection string \"redis://localhost:port\": the port is not a number from 1 to 65535\n"
    );
    Ok(())
}

fn tempfile_dir() -> String {
    std::env::temp_dir()
        .join(format!("resque-cli-{}", std::process::id()))
        .display()
        .to_string()
}

#[test]
fn malformed_queue_items_are_reported_not_lost() -> Result<()> {
    let server = RedisServer::start();
    server.cmd(&["RPUSH", "resque:queue:q", "garbage"])?;
    server.cmd(&["SADD", "resque:queues", "q"])?;
    let o = resque(&server.url(), &["queues"]);
    assert_eq!(stdout(&o), "q  1\n");
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        ["garbage"]
    );
    Ok(())
}

#[test]
fn global_options_work_after_the_subcommand_and_typos_get_suggestions() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    server.cmd(&["SADD", "resque:queues", "mail"])?;
    server.cmd(&["RPUSH", "resque:queue:mail", r#"{"class":"A","args":[]}"#])?;
    server.cmd(&["SADD", "myapp:queues", "other"])?;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_resque"))
            .args(args)
            .env_remove("REDIS_URL")
            .env_remove("RESQUE_NAMESPACE")
            .env_remove("FAILURE_BACKEND")
            .output()
    };
    let o = run(&["queues", "-r", &url])?;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "mail  1\n");
    let o = run(&["queues", "--redis", &url, "-N", "myapp"])?;
    assert_eq!(stdout(&o), "other  0\n");
    let o = run(&["queus", "-r", &url])?;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("tip: some similar subcommands exist: 'enqueue', 'queues'"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn follows_a_sentinel_failover() -> Result<()> {
    let mut group = resque_test_support::SentinelGroup::start();
    let url = group.url();
    let o = resque(&url, &["enqueue", "mail", "Mailer", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    group.sync();
    group.kill_master();
    // A new process asks the Sentinels, and reaches the new master with the job on it.
    let o = resque(&url, &["enqueue", "mail", "Mailer", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        group
            .replica
            .get_list(&["LRANGE", "resque:queue:mail", "0", "-1"]),
        [
            r#"{"class":"Mailer","args":[1]}"#,
            r#"{"class":"Mailer","args":[2]}"#
        ]
    );
    let o = resque(&url, &["queues"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("mail"), "{}", stdout(&o));
    Ok(())
}
