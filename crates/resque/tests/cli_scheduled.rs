//! The real `resque` binary's scheduler commands: enqueue-at, enqueue-in, delayed and
//! schedule, against a private redis-server.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use common::{resque, stderr, stdout};
use resque_test_support::{RedisServer, Resp};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn enqueue_at_and_in_write_resque_schedulers_bytes() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    let ts = now() + 3_600;
    let o = resque(
        &url,
        &[
            "enqueue-at",
            &ts.to_string(),
            "file_serve",
            "Archive",
            "44",
            "masterbrew",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let item = r#"{"class":"Archive","args":[44,"masterbrew"],"queue":"file_serve"}"#;
    assert_eq!(stdout(&o), format!("{item}\n"));
    assert_eq!(
        server.get_list(&["LRANGE", &format!("resque:delayed:{ts}"), "0", "-1"]),
        [item]
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", &format!("resque:timestamps:{item}")]),
        [format!("delayed:{ts}")]
    );
    // RFC 3339, and a time in the past enqueues at once.
    let o = resque(
        &url,
        &[
            "enqueue-at",
            "2001-01-01T00:00:00Z",
            "file_serve",
            "Archive",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("enqueued Archive to file_serve"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        server.cmd(&["LLEN", "resque:queue:file_serve"])?,
        Resp::Integer(1)
    );
    let o = resque(
        &url,
        &[
            "enqueue-in",
            "90",
            "low",
            "Remote",
            "--args",
            r#"[{"a":1.5}]"#,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("** delayed Remote to low at "),
        "{}",
        stdout(&o)
    );
    let o = resque(&url, &["enqueue-in", "0", "low", "Now"]);
    assert!(stdout(&o).contains("enqueued Now to low"));
    // Bad input: one line each, nothing written.
    for bad in [
        vec!["enqueue-in", "soon", "q", "A"],
        vec!["enqueue-at", "tomorrow", "q", "A"],
        vec!["enqueue-in", "5", "", "A"],
    ] {
        let o = resque(&url, &bad);
        assert!(!o.status.success(), "{bad:?}");
        assert_eq!(stderr(&o).lines().count(), 1, "{bad:?}: {}", stderr(&o));
    }
    assert_eq!(
        server.cmd(&["ZCARD", "resque:delayed_queue_schedule"])?,
        Resp::Integer(2)
    );
    Ok(())
}

#[test]
fn delayed_lists_shows_removes_queues_now_and_clears() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    let (a, b) = (now() + 3_600, now() + 7_200);
    for (ts, n) in [(a, 1), (a, 2), (b, 3)] {
        let o = resque(
            &url,
            &[
                "enqueue-at",
                &ts.to_string(),
                "q",
                "Archive",
                &n.to_string(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = resque(&url, &["delayed"]);
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("{a}  "))
            && out.contains("2 job(s)")
            && out.contains(&format!("{b}  ")),
        "{out}"
    );
    let o = resque(&url, &["delayed", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o))?;
    assert_eq!(v["timestamps"], 2);
    assert_eq!(v["page"][0]["jobs"], 2);
    let o = resque(&url, &["delayed", "show", &a.to_string()]);
    assert_eq!(stdout(&o), "Archive [1] (q)\nArchive [2] (q)\n");
    let o = resque(&url, &["delayed", "queue-now", &a.to_string()]);
    assert_eq!(stdout(&o), "** enqueued Archive to q\n");
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        [r#"{"class":"Archive","args":[1]}"#]
    );
    let o = resque(&url, &["delayed", "remove", "q", "Archive", "2"]);
    assert_eq!(stdout(&o), "** removed 1 delayed job(s)\n");
    assert_eq!(
        server.cmd(&["ZCARD", "resque:delayed_queue_schedule"])?,
        Resp::Integer(1),
        "emptied timestamp removed"
    );
    let o = resque(
        &url,
        &[
            "delayed",
            "remove",
            "--at",
            &a.to_string(),
            "q",
            "Archive",
            "3",
        ],
    );
    assert_eq!(stdout(&o), "** removed 0 delayed job(s)\n");
    let o = resque(&url, &["delayed", "clear"]);
    assert!(o.status.success());
    assert_eq!(
        server.cmd(&["EXISTS", "resque:delayed_queue_schedule"])?,
        Resp::Integer(0)
    );
    Ok(())
}

#[test]
fn schedule_sets_lists_and_removes_stored_schedules() -> Result<()> {
    let server = RedisServer::start();
    let url = server.url();
    let o = resque(
        &url,
        &[
            "schedule",
            "set",
            "hourly",
            "--every",
            "1h",
            "--class",
            "Archive",
            "--queue",
            "file_serve",
            "--args",
            "[1]",
            "--description",
            "hourly",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stored = r#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"description":"hourly"}"#;
    assert_eq!(stdout(&o), format!("{stored}\n"));
    assert_eq!(
        server
            .get_str(&["HGET", "resque:persistent_schedules", "hourly"])
            .as_deref(),
        Some(stored)
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:schedules_changed"]),
        ["hourly"]
    );
    let o = resque(&url, &["schedule"]);
    assert_eq!(
        stdout(&o),
        "hourly  every: 1h  Archive -> file_serve  args [1]  last never  (hourly)\n"
    );
    for (bad, needle) in [
        (
            vec![
                "schedule",
                "set",
                "x",
                "--cron",
                "61 * * * *",
                "--class",
                "A",
            ],
            "bad cron line",
        ),
        (
            vec!["schedule", "set", "x", "--every", "soon", "--class", "A"],
            "bad duration",
        ),
        (vec!["schedule", "set", "x", "--class", "A"], "--cron"),
        (vec!["schedule", "remove", "nope"], "no stored schedule"),
    ] {
        let o = resque(&url, &bad);
        assert!(!o.status.success(), "{bad:?}");
        assert!(stderr(&o).contains(needle), "{bad:?}: {}", stderr(&o));
    }
    let o = resque(&url, &["schedule", "remove", "hourly"]);
    assert_eq!(stdout(&o), "** removed schedule hourly\n");
    assert_eq!(
        server.cmd(&["HLEN", "resque:persistent_schedules"])?,
        Resp::Integer(0)
    );
    Ok(())
}
