//! The failure backends and the Failure API against a real redis-server, with records
//! written by Ruby Resque 3.0 (fixtures 05 and 06) and by us.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use resque_failure::{Backend, Departure, Error, Failures, Filter, Member, NewFailure, Order};
use resque_protocol::{Failure, Value};
use resque_store::{Connection, Store};
use resque_test_support::RedisServer;
use serde_json::json;

fn fixture(name: &str) -> Result<Value> {
    Ok(serde_json::from_str(&resque_test_support::fixture(name))?)
}

/// The failure records Ruby wrote in a fixture step, as stored bytes.
fn ruby_records(fx: &Value, key: &str) -> Vec<String> {
    fx["steps"][0]["keys"][key]["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

async fn store(server: &RedisServer) -> Result<Store> {
    Ok(Store::connect(&Connection::parse(&server.url())?, None).await?)
}

fn new_failure(class: &str, queue: &str, error: &str) -> NewFailure {
    NewFailure {
        payload: json!({"class": class, "args": [44, "masterbrew"]}),
        exception: "RuntimeError".into(),
        error: error.into(),
        backtrace: vec!["src/jobs.rs:14:in `perform'".into()],
        worker: "vm:7180:file_serve".into(),
        queue: queue.into(),
    }
}

fn list(server: &RedisServer, key: &str) -> Vec<String> {
    server.get_list(&["LRANGE", key, "0", "-1"])
}

#[tokio::test(flavor = "current_thread")]
async fn redis_backend_on_ruby_records_fixture_05() -> Result<()> {
    let server = RedisServer::start();
    let fx = fixture("05_failure_redis")?;
    let records = ruby_records(&fx, "resque:failed");
    assert_eq!(records.len(), 3);
    for r in &records {
        server.cmd(&["RPUSH", "resque:failed", r])?;
    }
    let f = Backend::redis().failures(store(&server).await?);
    assert_eq!(f.queues().await?, ["failed"]);
    assert_eq!(f.count(None, None).await?, 3);
    assert_eq!(f.count(None, Some("FailJob")).await?, 1);
    let all = f.all(0, 3, None).await?;
    assert_eq!(all[2].class(), Some("NoSuchJob"));
    assert_eq!(all[1].error(), Some("boom é☃ [\"x\"]"));
    assert!(matches!(
        f.count(Some("file_serve_failed"), None).await,
        Err(Error::InvalidQueue(_))
    ));

    // requeue(0): retried_at appended last with a zone; the job pushed as Job.create does.
    let mon = server.monitor();
    f.requeue(0, None).await?;
    let cmds = mon.data_commands();
    let after = list(&server, "resque:failed");
    let want_prefix = &records[0][..records[0].len() - 1];
    assert!(after[0].starts_with(want_prefix), "{}", after[0]);
    let rec = Failure::decode(after[0].as_bytes())?;
    let retried = rec.retried_at.context("retried_at")?;
    assert!(
        retried.len() == 23 && retried.ends_with(" UTC"),
        "{retried}"
    );
    assert_eq!(
        list(&server, "resque:queue:file_serve"),
        [r#"{"class":"FailJob","args":[44,"masterbrew"]}"#]
    );
    let tail: Vec<&Vec<String>> = cmds.iter().rev().take(2).collect();
    assert_eq!(*tail[1], ["sadd", "resque:queues", "file_serve"]);
    assert_eq!(tail[0][0], "rpush");

    // remove(1), then clear_retried leaves only the unknown-class record, then clear.
    f.remove(1, None).await?;
    assert_eq!(f.count(None, None).await?, 2);
    assert_eq!(f.clear_retried().await?, 1);
    assert_eq!(list(&server, "resque:failed"), [records[2].clone()]);
    // Requeueing a record whose class Ruby could not load still pushes it (Ruby does).
    f.clear(None).await?;
    assert_eq!(
        server.cmd(&["EXISTS", "resque:failed"])?,
        resque_test_support::Resp::Integer(0)
    );
    assert_eq!(f.count(None, None).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn saved_records_are_byte_compatible() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    Backend::redis()
        .save(
            &s,
            &new_failure(
                "FailJob",
                "file_serve",
                "FailJob failed: [44, \"masterbrew\"]",
            ),
        )
        .await?;
    let raw = list(&server, "resque:failed");
    // Same keys in the same order as fixture 05; failed_at in the local zone.
    let v: serde_json::Map<String, Value> = serde_json::from_str(&raw[0])?;
    assert_eq!(
        v.keys().collect::<Vec<_>>(),
        [
            "failed_at",
            "payload",
            "exception",
            "error",
            "backtrace",
            "worker",
            "queue"
        ]
    );
    let failed_at = v["failed_at"].as_str().context("failed_at")?;
    assert!(
        resque_protocol::time::parse_failed_at(failed_at, &jiff::tz::TimeZone::system()).is_some(),
        "{failed_at}"
    );
    assert!(raw[0].contains(r#""payload":{"class":"FailJob","args":[44,"masterbrew"]},"exception":"RuntimeError","error":"FailJob failed: [44, \"masterbrew\"]","backtrace":["src/jobs.rs:14:in `perform'"],"worker":"vm:7180:file_serve","queue":"file_serve"}"#), "{}", raw[0]);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn redis_multi_queue_fixture_06() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    let b = Backend::redis_multi_queue();
    let mon = server.monitor();
    b.save(&s, &new_failure("FailJob", "file_serve", "a"))
        .await?;
    b.save(&s, &new_failure("FailJob", "low", "b")).await?;
    let cmds = mon.data_commands();
    assert_eq!(
        cmds[0],
        ["sadd", "resque:failed_queues", "file_serve_failed"]
    );
    assert_eq!(
        cmds[1][..2],
        ["rpush".to_owned(), "resque:file_serve_failed".to_owned()]
    );
    assert_eq!(
        server.cmd(&["EXISTS", "resque:failed"])?,
        resque_test_support::Resp::Integer(0)
    );

    let f = b.failures(s.clone());
    assert!(f.is_multi_queue());
    assert_eq!(f.queues().await?, ["file_serve_failed", "low_failed"]);
    assert_eq!(f.count(None, None).await?, 2);
    assert_eq!(f.count(Some("low_failed"), None).await?, 1);

    f.requeue(0, Some("file_serve_failed")).await?;
    let rec = Failure::decode(list(&server, "resque:file_serve_failed")[0].as_bytes())?;
    let retried = rec.retried_at.context("retried_at")?;
    assert_eq!(retried.len(), 19, "no zone: {retried}");
    assert_eq!(list(&server, "resque:queue:file_serve").len(), 1);

    f.remove(0, Some("low_failed")).await?;
    assert!(list(&server, "resque:low_failed").is_empty());

    mon.clear();
    assert_eq!(f.remove_queue("file_serve").await?, 1);
    let cmds = mon.data_commands();
    assert_eq!(
        cmds.first().map(|c| c.as_slice()),
        Some(
            &[
                "sadd".to_owned(),
                "resque:failed_queues".to_owned(),
                "file_serve_failed".to_owned()
            ][..]
        )
    );
    assert_eq!(
        cmds.last().map(|c| c.as_slice()),
        Some(&["del".to_owned(), "resque:file_serve_failed".to_owned()][..])
    );
    // The name stays in failed_queues, as in Ruby.
    assert_eq!(f.queues().await?, ["file_serve_failed", "low_failed"]);

    // Ruby-written records of fixture 06 read and requeue the same way.
    let fx = fixture("06_failure_redis_multi_queue")?;
    let ruby = ruby_records(&fx, "resque:file_serve_failed");
    for r in &ruby {
        server.cmd(&["RPUSH", "resque:file_serve_failed", r])?;
    }
    let page = f
        .page(
            Some("file_serve_failed"),
            &Filter::default(),
            Order::Asc,
            0,
            20,
        )
        .await?;
    assert_eq!(page.entries.len(), ruby.len());
    assert_eq!(f.requeue_all().await?, ruby.len() as u64);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn multiple_saves_everywhere_and_queries_the_first() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    let b = Backend::multiple(vec![Member::Redis, Member::RedisMultiQueue]);
    b.save(&s, &new_failure("A", "q", "x")).await?;
    assert_eq!(list(&server, "resque:failed").len(), 1);
    assert_eq!(list(&server, "resque:q_failed").len(), 1);
    let f = b.failures(s);
    assert_eq!(f.queues().await?, ["failed"]);
    f.remove(0, None).await?;
    assert!(list(&server, "resque:failed").is_empty());
    assert!(
        list(&server, "resque:q_failed").is_empty(),
        "remove goes to all members"
    );
    Ok(())
}

async fn seeded(server: &RedisServer, n: usize) -> Result<Failures> {
    let s = store(server).await?;
    let b = Backend::redis();
    for i in 0..n {
        let class = if i % 3 == 0 { "Archive" } else { "Mailer" };
        let queue = if i % 2 == 0 { "even" } else { "odd" };
        b.save(&s, &new_failure(class, queue, &format!("boom number {i}")))
            .await?;
    }
    Ok(b.failures(s))
}

#[tokio::test(flavor = "current_thread")]
async fn newest_first_is_right_across_pages() -> Result<()> {
    let server = RedisServer::start();
    let f = seeded(&server, 45).await?;
    let idx = |p: &resque_failure::Page| p.entries.iter().map(|e| e.index).collect::<Vec<_>>();
    let p1 = f.page(None, &Filter::default(), Order::Desc, 0, 20).await?;
    assert_eq!(idx(&p1), (25..45).rev().collect::<Vec<u64>>());
    assert!(p1.more && p1.list_len == 45);
    let p3 = f
        .page(None, &Filter::default(), Order::Desc, 40, 20)
        .await?;
    assert_eq!(idx(&p3), [4, 3, 2, 1, 0]);
    assert!(!p3.more);
    let asc = f.page(None, &Filter::default(), Order::Asc, 40, 20).await?;
    assert_eq!(idx(&asc), [40, 41, 42, 43, 44]);
    assert!(
        f.page(None, &Filter::default(), Order::Desc, 45, 20)
            .await?
            .entries
            .is_empty()
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn search_filters_and_bulk_operations() -> Result<()> {
    let server = RedisServer::start();
    let f = seeded(&server, 30).await?;
    // Corrupt neighbours: not JSON, and JSON of the wrong shape.
    server.cmd(&[
        "LINSERT",
        "resque:failed",
        "BEFORE",
        &list(&server, "resque:failed")[3],
        "not json",
    ])?;
    server.cmd(&["RPUSH", "resque:failed", r#"{"payload":"oops","queue":7}"#])?;
    assert_eq!(f.count(None, None).await?, 32);

    let archive = Filter::class("Archive");
    assert_eq!(f.search_count(None, &archive).await?, 10);
    let p = f.page(None, &archive, Order::Desc, 0, 4).await?;
    assert_eq!(
        p.entries
            .iter()
            .map(|e| e.error().unwrap_or_default().to_owned())
            .collect::<Vec<_>>(),
        [
            "boom number 27",
            "boom number 24",
            "boom number 21",
            "boom number 18"
        ]
    );
    assert!(p.more);
    let text = Filter {
        text: Some("NUMBER 2".into()),
        queue: Some("odd".into()),
        ..Filter::default()
    };
    assert_eq!(f.search_count(None, &text).await?, 5); // 21, 23, 25, 27, 29
    let exc = Filter {
        exception: Some("RuntimeError".into()),
        ..Filter::default()
    };
    assert_eq!(f.search_count(None, &exc).await?, 30);
    // Unfiltered pages show corrupt records as such.
    let all = f.page(None, &Filter::default(), Order::Asc, 0, 100).await?;
    assert_eq!(
        all.entries.iter().filter(|e| e.is_corrupt()).count(),
        1,
        "not json"
    );
    assert!(
        all.entries
            .iter()
            .any(|e| e.raw == r#"{"payload":"oops","queue":7}"#)
    );

    // Bulk requeue-and-remove by class: every Archive job pushed, oldest first, records gone,
    // corrupt neighbours untouched.
    assert_eq!(f.requeue_matching(None, &archive, true).await?, 10);
    let pushed = list(&server, "resque:queue:even");
    assert_eq!(pushed.len(), 5);
    assert_eq!(f.search_count(None, &archive).await?, 0);
    assert_eq!(f.count(None, None).await?, 22);
    let remaining = list(&server, "resque:failed");
    assert!(remaining.contains(&"not json".to_owned()));
    assert!(remaining.contains(&r#"{"payload":"oops","queue":7}"#.to_owned()));

    // Bulk remove by queue; requeue_all skips corrupt records instead of failing.
    assert_eq!(f.remove_matching(None, &Filter::queue("odd")).await?, 10);
    assert_eq!(f.count(None, None).await?, 12);
    assert_eq!(f.requeue_all().await?, 10);
    assert_eq!(f.remove_queue("even").await?, 10);
    assert_eq!(
        list(&server, "resque:failed"),
        ["not json", r#"{"payload":"oops","queue":7}"#]
    );
    let e = f.requeue(0, None).await.expect_err("corrupt");
    assert!(e.to_string().contains("corrupt"), "{e}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn stale_indices_never_touch_a_neighbour() -> Result<()> {
    let server = RedisServer::start();
    let f = seeded(&server, 3).await?;
    let stale = f.get(1, None).await?;
    // Someone else removes record 0: record 1 moves to index 0.
    f.remove(0, None).await?;
    let before = list(&server, "resque:failed");
    // Acting on the stale view of index 1 must not touch the record now at index 1.
    assert_eq!(before.len(), 2);
    let e = f.requeue_and_remove_entry(&stale).await;
    // The record at index 1 is now a different one: refused, nothing changed.
    assert!(matches!(e, Err(Error::Changed { .. })), "{e:?}");
    assert_eq!(list(&server, "resque:failed"), before);
    assert!(matches!(
        f.remove_entry(&stale).await,
        Err(Error::Changed { .. })
    ));
    assert!(matches!(
        f.requeue_entry(&stale).await,
        Err(Error::Changed { .. })
    ));
    assert_eq!(list(&server, "resque:failed"), before);
    assert!(matches!(
        f.remove(9, None).await,
        Err(Error::NoSuchRecord { .. })
    ));
    Ok(())
}

/// A one-thread HTTP server for the notifier tests: answers `status` after `delay`, and
/// records each request's head and body.
/// Requests a test tracker saw: (request head, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn tracker(status: u16, delay: Duration) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut head = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            sink.lock()
                .expect("lock")
                .push((head, String::from_utf8_lossy(&body).into_owned()));
            std::thread::sleep(delay);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
        }
    });
    (addr, seen)
}

fn airbrake(host: &str, timeout_ms: u64, retries: u32) -> resque_failure::airbrake::Config {
    let mut c = resque_failure::airbrake::Config::new("1234", "secret-key");
    c.host = host.to_owned();
    c.environment = "staging".into();
    c.timeout = Duration::from_millis(timeout_ms);
    c.retries = retries;
    c
}

#[tokio::test(flavor = "current_thread")]
async fn airbrake_notice_shape() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    let (host, seen) = tracker(201, Duration::ZERO);
    let b = Backend::from_names("redis,airbrake", Some(airbrake(&host, 2000, 2)))?;
    b.save(&s, &new_failure("Archive", "file_serve", "boom é"))
        .await?;
    assert_eq!(list(&server, "resque:failed").len(), 1);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1, "one notice per failed job");
    let (head, body) = &seen[0];
    assert!(
        head.starts_with("POST /api/v3/projects/1234/notices?key=secret-key HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(head.contains("Bearer secret-key"), "{head}");
    let notice: Value = serde_json::from_str(body)?;
    assert_eq!(notice["errors"][0]["type"], "RuntimeError");
    assert_eq!(notice["errors"][0]["message"], "boom é");
    assert_eq!(
        notice["errors"][0]["backtrace"][0],
        json!({"file": "src/jobs.rs", "line": 14, "function": "perform"})
    );
    assert_eq!(notice["context"]["notifier"]["name"], "resque-rs");
    assert_eq!(notice["context"]["environment"], "staging");
    assert_eq!(notice["context"]["hostname"], "vm");
    assert_eq!(
        notice["params"],
        json!({"class": "Archive", "args": [44, "masterbrew"], "queue": "file_serve", "worker": "vm:7180:file_serve"})
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn tracker_down_slow_or_failing_is_bounded_and_loses_nothing() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    // Down: nothing listens on the port.
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let cases = [
        ("down", format!("http://{closed}"), None),
        ("slow", tracker(201, Duration::from_millis(1500)).0, None),
        ("500", String::new(), Some(tracker(500, Duration::ZERO))),
    ];
    for (name, host, t500) in cases {
        let (host, seen) = match t500 {
            Some((h, seen)) => (h, Some(seen)),
            None => (host, None),
        };
        let config = airbrake(&host, 300, 2);
        let bound = config.max_duration();
        let b = Backend::from_names("redis,airbrake", Some(config))?;
        let before = list(&server, "resque:failed").len();
        let started = Instant::now();
        let result = b.save(&s, &new_failure("A", "q", name)).await;
        let took = started.elapsed();
        assert!(
            matches!(result, Err(Error::Notify { .. })),
            "{name}: {result:?}"
        );
        // The bound, plus slack for a loaded machine; never the tracker's own 1.5 s delay x3.
        assert!(
            took <= bound + Duration::from_millis(700),
            "{name}: took {took:?}, bound {bound:?}"
        );
        assert_eq!(
            list(&server, "resque:failed").len(),
            before + 1,
            "{name}: Redis record written"
        );
        if let Some(seen) = seen {
            assert_eq!(seen.lock().expect("lock").len(), 3, "500 is retried twice");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn airbrake_first_counts_stat_failed() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    server.cmd(&["SET", "resque:stat:failed", "7"])?;
    let (host, _) = tracker(201, Duration::ZERO);
    let f = Backend::from_names("airbrake,redis", Some(airbrake(&host, 1000, 0)))?.failures(s);
    assert_eq!(f.count(None, None).await?, 7);
    assert!(f.queues().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn filter_index_follows_list_changes() -> Result<()> {
    let server = RedisServer::start();
    let f = seeded(&server, 30).await?;
    let s = f.store().clone();
    let archive = Filter::class("Archive");
    let errors = |p: &resque_failure::Page| {
        p.entries
            .iter()
            .map(|e| e.error().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errors(&f.page(None, &archive, Order::Desc, 0, 2).await?),
        ["boom number 27", "boom number 24"]
    );
    // Appended records show up (the index reads only the new tail).
    Backend::redis()
        .save(&s, &new_failure("Archive", "q", "boom number 30"))
        .await?;
    assert_eq!(
        errors(&f.page(None, &archive, Order::Desc, 0, 2).await?),
        ["boom number 30", "boom number 27"]
    );
    // A removal at the head shifts every index: the index notices and rebuilds.
    f.remove(0, None).await?;
    f.remove(0, None).await?;
    let p = f.page(None, &archive, Order::Asc, 0, 3).await?;
    assert_eq!(
        errors(&p),
        ["boom number 3", "boom number 6", "boom number 9"]
    );
    assert_eq!(p.entries[0].index, 1);
    // Replaced in place (another client's LSET): still right, and counts agree with a scan.
    server.cmd(&[
        "LSET",
        "resque:failed",
        "1",
        r#"{"payload":{"class":"Other","args":[]},"queue":"q","exception":"E"}"#,
    ])?;
    assert_eq!(
        errors(&f.page(None, &archive, Order::Asc, 0, 1).await?),
        ["boom number 6"]
    );
    assert_eq!(f.search_count(None, &archive).await?, 9);
    assert_eq!(f.search_count(None, &Filter::class("Other")).await?, 1);
    assert_eq!(f.search_count(None, &Filter::class("Never")).await?, 0);
    // ActiveJob records match their wrapped class.
    let aj = json!({"class": "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper", "args": [{"job_class": "SendMail"}]});
    Backend::redis()
        .save(
            &s,
            &NewFailure {
                payload: aj,
                ..new_failure("x", "mail", "aj")
            },
        )
        .await?;
    assert_eq!(
        errors(
            &f.page(None, &Filter::class("SendMail"), Order::Desc, 0, 5)
                .await?
        ),
        ["aj"]
    );
    Ok(())
}

/// A custom notifier that records what it was given (the backend trait users implement).
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>, bool);

impl resque_failure::Notifier for Recorder {
    fn notify(&self, f: &NewFailure) -> resque_failure::Result<()> {
        self.0.lock().expect("lock").push(f.error.clone());
        if self.1 {
            return Err(Error::Notify {
                attempts: 1,
                last: "down".into(),
            });
        }
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn custom_notifiers_requeue_queue_and_url() -> Result<()> {
    let server = RedisServer::start();
    let s = store(&server).await?;
    let ok = Arc::new(Recorder::default());
    let down = Arc::new(Recorder(Mutex::default(), true));
    let b = Backend::multiple(vec![
        Member::Redis,
        Member::Custom(down.clone()),
        Member::Custom(ok.clone()),
    ])
    .with_url("https://errors.example/resque");
    let e = b
        .save(&s, &new_failure("A", "q", "first"))
        .await
        .expect_err("one notifier is down");
    assert!(matches!(e, Error::Notify { .. }));
    assert_eq!(
        *ok.0.lock().expect("lock"),
        ["first"],
        "a failing notifier does not stop the next"
    );
    assert_eq!(list(&server, "resque:failed").len(), 1);
    let f = b.failures(s.clone());
    assert_eq!(f.url(), Some("https://errors.example/resque"));
    assert_eq!(Backend::redis().failures(s.clone()).url(), None);

    // requeue_queue on both layouts.
    b.save(&s, &new_failure("B", "other", "second")).await.ok();
    assert_eq!(f.requeue_queue("q").await?, 1);
    assert_eq!(list(&server, "resque:queue:q").len(), 1);
    assert!(list(&server, "resque:queue:other").is_empty());
    let m = Backend::redis_multi_queue();
    m.save(&s, &new_failure("C", "mq", "third")).await?;
    let mf = m.failures(s.clone());
    assert_eq!(mf.requeue_queue("mq").await?, 1);
    assert_eq!(list(&server, "resque:queue:mq").len(), 1);
    mf.clear(Some("mq_failed")).await?;
    assert_eq!(mf.count(None, None).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_new_process_starts_from_the_shared_index() -> Result<()> {
    let server = RedisServer::start();
    let first = seeded(&server, 3000).await?;
    let archive = Filter::class("Archive");
    let p1 = first.page(None, &archive, Order::Desc, 0, 3).await?;
    assert_eq!(
        server.cmd(&["EXISTS", "resque:resque-rs:failure-index:failed"])?,
        resque_test_support::Resp::Integer(1)
    );
    // A second Failures is what a new process has: no index of its own.
    let second = Backend::redis().failures(store(&server).await?);
    let mon = server.monitor();
    let p2 = second.page(None, &archive, Order::Desc, 0, 3).await?;
    assert_eq!(p1.entries, p2.entries);
    assert!(
        !mon.data_commands()
            .iter()
            .any(|c| c[0] == "lrange" || c[0] == "eval"),
        "answered from the shared index without reading the list: {:?}",
        mon.data_commands()
    );
    // The list changes under both: the shared copy is detected as stale and rebuilt.
    second.remove(0, None).await?;
    let third = Backend::redis().failures(store(&server).await?);
    let p3 = third.page(None, &archive, Order::Asc, 0, 1).await?;
    assert_eq!(p3.entries[0].error(), Some("boom number 3"));
    assert_eq!(p3.entries[0].index, 2);
    // Garbage in the shared key is ignored, not trusted.
    server.cmd(&["SET", "resque:resque-rs:failure-index:failed", "garbage"])?;
    let fourth = Backend::redis().failures(store(&server).await?);
    assert_eq!(fourth.search_count(None, &archive).await?, 999);
    Ok(())
}

/// A worker registered as working on a SleepJob from `file_serve`.
fn busy_worker(server: &RedisServer, id: &str) -> Result<()> {
    server.cmd(&["SADD", "resque:workers", id])?;
    server.cmd(&[
        "SET",
        &format!("resque:worker:{id}"),
        r#"{"queue":"file_serve","run_at":"2026-11-22T17:54:00Z","payload":{"class":"SleepJob","args":[3]}}"#,
    ])?;
    server.cmd(&["SET", &format!("resque:stat:processed:{id}"), "7"])?;
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn unregister_worker_records_the_job_through_the_configured_backend() -> Result<()> {
    let server = RedisServer::start();
    let store = store(&server).await?;

    // The default backend: a DirtyExit record in `failed`, then the registry pipeline.
    busy_worker(&server, "vm:2:*")?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let f = Backend::redis()
        .unregister_worker(&store, "vm:2:*", Departure::DirtyExit, move |f| {
            s2.lock().map(|mut v| v.push(f.exception.clone())).ok();
        })
        .await?
        .context("a job was in flight")?;
    assert_eq!(
        *seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?,
        ["Resque::DirtyExit"]
    );
    assert_eq!(f.queue, "file_serve");
    let records = list(&server, "resque:failed");
    assert_eq!(records.len(), 1);
    let r = Failure::decode(records[0].as_bytes())?;
    assert_eq!(
        (
            r.exception.as_str(),
            r.error.as_str(),
            r.worker.as_str(),
            r.queue.as_str()
        ),
        (
            "Resque::DirtyExit",
            "Job still being processed",
            "vm:2:*",
            "file_serve"
        )
    );
    assert_eq!(r.payload, json!({"class":"SleepJob","args":[3]}));
    assert!(r.backtrace.is_empty());
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:workers"]),
        Vec::<String>::new()
    );
    assert_eq!(
        server.cmd(&["EXISTS", "resque:stat:processed:vm:2:*"])?,
        resque_test_support::Resp::Integer(0)
    );

    // redis_multi_queue: the record goes to the job's queue's list (it went to `failed`
    // before there was one implementation); a panicking on_failure hook is caught.
    busy_worker(&server, "vm:3:file_serve")?;
    let f = Backend::redis_multi_queue()
        .unregister_worker(
            &store,
            "vm:3:file_serve",
            Departure::HeartbeatExpired,
            |_| panic!("a hook that panics"),
        )
        .await?
        .context("a job was in flight")?;
    assert_eq!(f.exception, "Resque::PruneDeadWorkerDirtyExit");
    assert_eq!(
        f.error,
        "Worker vm:3:file_serve did not gracefully exit while processing SleepJob"
    );
    assert_eq!(
        list(&server, "resque:failed").len(),
        1,
        "nothing more in `failed`"
    );
    assert_eq!(list(&server, "resque:file_serve_failed").len(), 1);
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:failed_queues"]),
        ["file_serve_failed"]
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:workers"]),
        Vec::<String>::new()
    );

    // An idle worker: no record, the registry entries still go.
    server.cmd(&["SADD", "resque:workers", "vm:4:q"])?;
    let none = Backend::redis()
        .unregister_worker(&store, "vm:4:q", Departure::DirtyExit, |_| {
            panic!("not called without a job")
        })
        .await?;
    assert!(none.is_none());
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:workers"]),
        Vec::<String>::new()
    );
    assert_eq!(list(&server, "resque:failed").len(), 1);
    Ok(())
}
