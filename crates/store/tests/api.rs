//! The Resque client API against a real `redis-server` per test, checked against the
//! command sequences and key states captured from Ruby Resque 3.0.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, Result};
use resque_protocol::{Failure, Payload, Value};
use resque_store::{Client, Connection, Context, Error, Job, JobError, Registry, Store};
use resque_test_support::{RedisServer, RoundTripProxy};
use serde_json::json;

fn fixture(name: &str) -> Result<Value> {
    Ok(serde_json::from_str(&resque_test_support::fixture(name))?)
}

/// The data commands of a fixture step, without connection noise.
fn fixture_commands(fx: &Value, step: usize) -> Vec<Vec<String>> {
    fx["steps"][step]["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get(2)?.as_array())
        .map(|argv| {
            argv.iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// A `resque:stat:<name>` counter as Redis holds it.
fn stat(server: &RedisServer, name: &str) -> Option<String> {
    server.get_str(&["GET", &format!("resque:stat:{name}")])
}

async fn client(server: &RedisServer) -> Result<Client> {
    Ok(Client::connect(&server.url()).await?)
}

struct Archive;
impl Job for Archive {
    const CLASS: &'static str = "Archive";
    const QUEUE: &'static str = "file_serve";
    type Args = (u64, String);
    fn perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn enqueue_matches_fixture_01_in_one_round_trip() -> Result<()> {
    let server = RedisServer::start();
    let proxy = RoundTripProxy::start(&server);
    let c = Client::connect(&proxy.url()).await?;
    let fx = fixture("01_enqueue")?;
    let mon = server.monitor();
    proxy.reset();
    assert!(c.enqueue::<Archive>((44, "masterbrew".into())).await?);
    assert_eq!(proxy.turns(), 1, "SADD + RPUSH share one round trip");
    assert_eq!(mon.data_commands(), fixture_commands(&fx, 0));
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        [r#"{"class":"Archive","args":[44,"masterbrew"]}"#]
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:queues"]),
        ["file_serve"]
    );

    // Step 2: enqueue_to another queue, and a raw push with an extra key.
    mon.clear();
    c.enqueue_to("low", "Archive", vec![45.into()]).await?;
    let raw = Payload::decode(br#"{"class":"Archive","args":[],"extra":"kept"}"#)?;
    c.push("low", &raw).await?;
    assert_eq!(mon.data_commands(), fixture_commands(&fx, 1));

    // Step 3: reserve is one LPOP.
    mon.clear();
    let job = c.pop("file_serve").await?.context("a job")?;
    assert_eq!(job.class(), Some("Archive"));
    assert_eq!(mon.data_commands(), fixture_commands(&fx, 2));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn dequeue_matches_fixture_09() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?;
    let fx = fixture("09_dequeue")?;
    for _ in 0..2 {
        c.enqueue::<Archive>((44, "masterbrew".into())).await?;
    }
    c.enqueue::<Archive>((45, "other".into())).await?;
    c.enqueue_to("file_serve", "NoopJob", vec![]).await?;
    for raw in [
        r#"{"args":[44,"masterbrew"],"class":"Archive"}"#,
        r#"{"class": "Archive", "args": [44, "masterbrew"]}"#,
        r#"{"class":"Archive","args":[44,"masterbrew"],"id":"x"}"#,
    ] {
        server.cmd(&["RPUSH", "resque:queue:file_serve", raw])?;
    }
    let mon = server.monitor();
    assert_eq!(
        c.dequeue::<Archive>(Some(&(44, "masterbrew".into())))
            .await?,
        Some(2)
    );
    assert_eq!(mon.data_commands(), fixture_commands(&fx, 0));
    let want: Vec<String> = fx["steps"][0]["keys"]["resque:queue:file_serve"]["value"]
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        want
    );

    mon.clear();
    assert_eq!(c.dequeue::<Archive>(None).await?, Some(4));
    assert_eq!(mon.data_commands(), fixture_commands(&fx, 1));
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        [r#"{"class":"NoopJob","args":[]}"#]
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn destroy_and_remove_queue_match_fixtures_10_and_08() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?;
    let fx10 = fixture("10_job_destroy")?;
    for _ in 0..2 {
        c.enqueue::<Archive>((44, "masterbrew".into())).await?;
    }
    c.enqueue_to("file_serve", "Archive", vec![45.into()])
        .await?;
    let mon = server.monitor();
    assert_eq!(
        c.destroy(
            "file_serve",
            "Archive",
            Some(&[44.into(), "masterbrew".into()])
        )
        .await?,
        2
    );
    assert_eq!(mon.data_commands(), fixture_commands(&fx10, 0));
    mon.clear();
    assert_eq!(c.destroy("file_serve", "Archive", None).await?, 1);
    assert_eq!(mon.data_commands(), fixture_commands(&fx10, 1));
    mon.clear();
    assert_eq!(c.destroy("nope", "Archive", None).await?, 0);
    assert_eq!(mon.data_commands(), fixture_commands(&fx10, 2));
    // The queue stays in `queues` even when emptied.
    assert_eq!(c.queues().await?, ["file_serve"]);

    let fx08 = fixture("08_remove_queue")?;
    c.enqueue::<Archive>((1, "x".into())).await?;
    mon.clear();
    assert_eq!(c.store()?.remove_queue("file_serve").await?, (1, 1));
    assert_eq!(mon.data_commands(), fixture_commands(&fx08, 0));
    mon.clear();
    assert_eq!(c.store()?.remove_queue("nope").await?, (0, 0));
    assert_eq!(mon.data_commands(), fixture_commands(&fx08, 1));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn queue_inspection() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?;
    for i in 0..5 {
        c.enqueue_to("b", "Noop", vec![i.into()]).await?;
    }
    c.enqueue_to("a", "Noop", vec![]).await?;
    c.watch_queue("empty").await?;
    assert_eq!(c.queues().await?, ["a", "b", "empty"]);
    assert_eq!(c.size("b").await?, 5);
    assert_eq!(
        c.queue_sizes().await?,
        [
            ("a".to_owned(), 1),
            ("b".to_owned(), 5),
            ("empty".to_owned(), 0)
        ]
    );
    // peek(q, start, 1) is one LINDEX; larger counts are one LRANGE.
    let mon = server.monitor();
    let one = c.peek("b", 2, 1).await?;
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0]
            .as_ref()
            .ok()
            .and_then(|p| p.args())
            .map(<[Value]>::to_vec),
        Some(vec![2.into()])
    );
    let three = c.peek("b", 1, 3).await?;
    assert_eq!(three.len(), 3);
    assert_eq!(
        mon.data_commands(),
        [
            vec!["lindex", "resque:queue:b", "2"],
            vec!["lrange", "resque:queue:b", "1", "3"]
        ]
    );
    assert!(c.peek("b", 10, 5).await?.is_empty());
    assert_eq!(c.pop("nope").await?, None);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn stats_info_keys_and_workers() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?.with_environment("production");
    assert_eq!(c.stat("processed").await?, 0);
    assert_eq!(c.incr_stat("processed", 5).await?, 5);
    assert_eq!(c.decr_stat("processed", 2).await?, 3);
    assert_eq!(stat(&server, "processed").as_deref(), Some("3"));
    c.incr_stat("custom", 1).await?;
    c.clear_stat("custom").await?;
    assert_eq!(c.stat("custom").await?, 0);

    // A registry as a Ruby worker leaves it: one idle, one working.
    let working_payload = r#"{"queue":"file_serve","run_at":"2026-11-22T17:40:00Z","payload":{"class":"SleepJob","args":[3]}}"#;
    for id in ["vm:1:file_serve", "vm:2:*"] {
        server.cmd(&["SADD", "resque:workers", id])?;
        server.cmd(&[
            "SET",
            &format!("resque:worker:{id}:started"),
            "2026-11-22 17:40:00 +0000",
        ])?;
    }
    server.cmd(&["SET", "resque:worker:vm:2:*", working_payload])?;
    server.cmd(&["RPUSH", "resque:failed", "{}"])?;
    c.enqueue_to("file_serve", "A", vec![]).await?;
    c.enqueue_to("low", "A", vec![]).await?;
    c.enqueue_to("low", "A", vec![]).await?;

    let info = c.info().await?;
    assert_eq!(
        (
            info.pending,
            info.processed,
            info.queues,
            info.workers,
            info.working,
            info.failed
        ),
        (3, 3, 2, 2, 1, 1)
    );
    assert_eq!(info.environment, "production");
    assert_eq!(info.servers, [c.store()?.redis_id().to_owned()]);
    assert_eq!(c.workers().await?, ["vm:1:file_serve", "vm:2:*"]);
    let working = c.working().await?;
    assert_eq!(working.len(), 1);
    assert_eq!(working[0].worker, "vm:2:*");
    assert_eq!(
        working[0].job.as_ref().map(|w| w.queue.as_str()),
        Ok("file_serve")
    );
    assert_eq!(c.worker_state("vm:1:file_serve").await?, "idle");
    assert_eq!(c.worker_state("vm:2:*").await?, "working");

    let keys = c.keys().await?;
    for k in [
        "queues",
        "queue:low",
        "workers",
        "worker:vm:2:*",
        "stat:processed",
        "failed",
    ] {
        assert!(keys.contains(&k.to_owned()), "{k} in {keys:?}");
    }

    // unregister_worker: the registry entries go in one pipeline, as in Ruby's
    // unregister_worker, then our lease (the in-flight job's record is the failure crate's part:
    // `Backend::unregister_worker`, tested there).
    server.cmd(&["SET", "resque:stat:processed:vm:2:*", "7"])?;
    assert!(c.worker_exists("vm:2:*").await?);
    let mon = server.monitor();
    c.store()?.unregister_worker("vm:2:*").await?;
    let cmds = mon.data_commands();
    assert_eq!(
        cmds,
        [
            vec!["srem", "resque:workers", "vm:2:*"],
            vec!["del", "resque:worker:vm:2:*"],
            vec!["del", "resque:worker:vm:2:*:started"],
            vec!["hdel", "resque:workers:heartbeat", "vm:2:*"],
            vec!["del", "resque:stat:processed:vm:2:*"],
            vec!["del", "resque:stat:failed:vm:2:*"],
            // Ours, after Ruby's: the worker's lease for the periodic reaper.
            vec!["hdel", "resque:resque-rs:leases", "vm:2:*"],
        ]
    );
    assert_eq!(c.workers().await?, ["vm:1:file_serve"]);
    assert!(!c.worker_exists("vm:2:*").await?);
    Ok(())
}

static HOOK_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Hooked;
impl Job for Hooked {
    const CLASS: &'static str = "Hooked";
    const QUEUE: &'static str = "hooks";
    type Args = (i64,);
    fn perform((n,): &Self::Args, ctx: &mut Context) -> Result<(), JobError> {
        HOOK_LOG
            .lock()
            .expect("log")
            .push(format!("perform {n} in {}", ctx.queue()));
        if *n < 0 {
            return Err(JobError::msg("negative"));
        }
        if *n > 0 {
            // A job can enqueue another; in inline mode it runs at once.
            ctx.enqueue::<Hooked>((n - 1,))
                .map_err(|e| JobError::msg(e.to_string()))?;
        }
        Ok(())
    }
    fn before_enqueue((n,): &Self::Args) -> bool {
        HOOK_LOG
            .lock()
            .expect("log")
            .push(format!("before_enqueue {n}"));
        *n != 99
    }
    fn after_enqueue((n,): &Self::Args) {
        HOOK_LOG
            .lock()
            .expect("log")
            .push(format!("after_enqueue {n}"));
    }
    fn before_dequeue((n,): &Self::Args) -> bool {
        *n != 99
    }
    fn after_dequeue((n,): &Self::Args) {
        HOOK_LOG
            .lock()
            .expect("log")
            .push(format!("after_dequeue {n}"));
    }
    fn on_failure(e: &JobError, (n,): &Self::Args) {
        HOOK_LOG
            .lock()
            .expect("log")
            .push(format!("on_failure {n} {}", e.message()));
    }
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut *HOOK_LOG.lock().expect("log"))
}

// One test for the hook log, since it is shared.
#[tokio::test(flavor = "current_thread")]
async fn hooks_and_inline_mode() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?;
    take_log();
    assert!(
        !c.enqueue::<Hooked>((99,)).await?,
        "before_enqueue false cancels"
    );
    assert_eq!(c.size("hooks").await?, 0);
    assert_eq!(take_log(), ["before_enqueue 99"]);
    assert!(c.enqueue::<Hooked>((1,)).await?);
    assert_eq!(take_log(), ["before_enqueue 1", "after_enqueue 1"]);
    assert_eq!(c.size("hooks").await?, 1);
    assert_eq!(
        c.dequeue::<Hooked>(Some(&(99,))).await?,
        None,
        "before_dequeue false cancels"
    );
    assert_eq!(c.dequeue::<Hooked>(Some(&(1,))).await?, Some(1));
    assert_eq!(take_log(), ["after_dequeue 1"]);

    // Inline: perform and all hooks run in the caller; Redis sees nothing at all.
    let mut reg = Registry::new();
    reg.register::<Hooked>();
    let inline = c.clone().with_inline(true).with_registry(reg);
    let mon = server.monitor();
    assert!(inline.enqueue::<Hooked>((2,)).await?);
    assert_eq!(
        take_log(),
        [
            "before_enqueue 2",
            "perform 2 in inline",
            "before_enqueue 1",
            "perform 1 in inline",
            "before_enqueue 0",
            "perform 0 in inline",
            "after_enqueue 0",
            "after_enqueue 1",
            "after_enqueue 2",
        ]
    );
    // Untyped enqueue of a registered class runs it too; an unknown class is an error.
    inline.enqueue_to("hooks", "Hooked", vec![0.into()]).await?;
    assert_eq!(take_log(), ["perform 0 in inline"]);
    assert!(matches!(
        inline.enqueue_to("q", "Nope", vec![]).await,
        Err(Error::UnknownClass(_))
    ));
    // Failures raise to the caller after on_failure.
    let err = inline.enqueue::<Hooked>((-1,)).await.expect_err("fails");
    assert!(
        matches!(&err, Error::Job { class, error } if class == "Hooked" && error.message() == "negative")
    );
    assert_eq!(
        take_log(),
        [
            "before_enqueue -1",
            "perform -1 in inline",
            "on_failure -1 negative"
        ]
    );
    assert!(
        mon.data_commands().is_empty(),
        "inline mode touches no Redis key"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn validation_errors_match_ruby() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?;
    let e = c
        .enqueue_to("", "Archive", vec![])
        .await
        .expect_err("no queue");
    assert_eq!(
        e.to_string(),
        "Jobs must be placed onto a queue. No queue could be inferred for class Archive"
    );
    let e = c.enqueue_to("q", "", vec![]).await.expect_err("no class");
    assert_eq!(e.to_string(), "Jobs must be given a class.");
    assert!(c.queues().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn batch_enqueue_is_one_round_trip_and_keeps_order() -> Result<()> {
    let server = RedisServer::start();
    let proxy = RoundTripProxy::start(&server);
    let c = Client::connect(&proxy.url()).await?;
    proxy.reset();
    let jobs: Vec<(String, &str, Vec<Value>)> = (0..2500)
        .map(|i| {
            (
                if i % 3 == 0 { "a" } else { "b" }.to_owned(),
                "Noop",
                vec![i.into()],
            )
        })
        .collect();
    assert_eq!(c.enqueue_batch(jobs).await?, 2500);
    assert_eq!(proxy.turns(), 1);
    assert_eq!(c.size("a").await?, 834);
    assert_eq!(c.size("b").await?, 1666);
    let b = server.get_list(&["LRANGE", "resque:queue:b", "0", "2"]);
    assert_eq!(
        b,
        [
            r#"{"class":"Noop","args":[1]}"#,
            r#"{"class":"Noop","args":[2]}"#,
            r#"{"class":"Noop","args":[4]}"#
        ]
    );
    assert_eq!(c.queues().await?, ["a", "b"]);
    assert_eq!(
        c.enqueue_batch(Vec::<(String, String, Vec<Value>)>::new())
            .await?,
        0
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn malformed_payloads_are_reported_and_never_deleted() -> Result<()> {
    let server = RedisServer::start();
    let c = client(&server).await?;
    server.cmd(&["RPUSH", "resque:queue:q", "not json {"])?;
    server.cmd(&[
        "RPUSH",
        "resque:queue:q",
        r#"{"class":"Archive","args":[1]}"#,
    ])?;
    server.cmd(&["RPUSH", "resque:queue:q", "[1,2]"])?;
    server.cmd(&["SADD", "resque:queues", "q"])?;

    let err = c.pop("q").await.expect_err("malformed head");
    let msg = err.to_string();
    assert!(
        msg.contains("malformed job payload in queue \"q\""),
        "{msg}"
    );
    assert!(msg.contains("not json {"), "{msg}");
    // Put back at the head: nothing lost, nothing reordered.
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "0"]),
        ["not json {"]
    );
    assert_eq!(c.size("q").await?, 3);

    let peeked = c.peek("q", 0, 3).await?;
    assert!(peeked[0].is_err() && peeked[1].is_ok() && peeked[2].is_err());
    assert_eq!(c.destroy("q", "Archive", None).await?, 1);
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        ["not json {", "[1,2]"]
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn connection_errors_are_clear() -> Result<()> {
    let e = Client::connect("localhost:notaport")
        .await
        .expect_err("bad string");
    assert!(
        e.to_string()
            .starts_with("bad Redis connection string \"localhost:notaport\""),
        "{e}"
    );

    let dir = tempfile::tempdir()?;
    let missing = format!("unix://{}/none.sock", dir.path().display());
    let started = Instant::now();
    let e = Client::connect(&missing).await.expect_err("unreachable");
    assert!(
        e.to_string()
            .starts_with("cannot connect to Redis at unix://"),
        "{e}"
    );
    let e = Client::connect("127.0.0.1:1").await.expect_err("refused");
    assert!(
        e.to_string()
            .starts_with("cannot connect to Redis at redis://127.0.0.1:1/0"),
        "{e}"
    );
    assert!(started.elapsed().as_secs() < 10, "fails fast");

    // Redis going away after connecting: commands fail with an error, no panic.
    let mut server = RedisServer::start();
    let c = Client::builder(&server.url())
        .reconnect(false)
        .connect()
        .await?;
    c.enqueue_to("q", "A", vec![]).await?;
    server.stop();
    let e = c.size("q").await.expect_err("server gone");
    assert!(matches!(e, Error::Redis(_)), "{e}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn tcp_host_port_db_namespace_form() -> Result<()> {
    let server = RedisServer::start_tcp();
    let port = server.port().context("tcp port")?;
    let conn = Connection::parse(&format!("127.0.0.1:{port}:3/myapp"))?;
    let store = Store::connect(&conn, None).await?;
    let c = Client::new(store);
    c.enqueue::<Archive>((44, "masterbrew".into())).await?;
    assert_eq!(
        server.get_list(&["KEYS", "*"]),
        Vec::<String>::new(),
        "nothing in db 0"
    );
    let keys = {
        // `cmd` opens a fresh connection each time, so select db 3 inside one script.
        let r = server.cmd(&[
            "EVAL",
            "redis.call('SELECT', 3); return redis.call('LRANGE', 'myapp:queue:file_serve', 0, -1)",
            "0",
        ])?;
        format!("{r:?}")
    };
    assert!(
        keys.contains(&format!(
            "{:?}",
            br#"{"class":"Archive","args":[44,"masterbrew"]}"#.to_vec()
        )),
        "{keys}"
    );
    // -N style override beats the string's namespace.
    let other = Store::connect(&conn, Some("override")).await?;
    assert_eq!(other.keys().queue("x"), "override:queue:x");
    Ok(())
}

#[test]
fn blocking_client_round_trip() -> Result<()> {
    let server = RedisServer::start();
    let c = resque_store::blocking::Client::builder(&server.url())
        .namespace("blk")
        .connect()?;
    assert!(c.enqueue::<Archive>((1, "b".into()))?);
    c.enqueue_batch([("q", "A", vec![]), ("q", "B", vec![])])?;
    assert_eq!(
        c.queue_sizes()?,
        [("file_serve".to_owned(), 1), ("q".to_owned(), 2)]
    );
    assert_eq!(
        server.get_list(&["LRANGE", "blk:queue:q", "0", "-1"]).len(),
        2
    );
    assert_eq!(
        c.pop("q")?
            .and_then(|p| p.class().map(str::to_owned))
            .as_deref(),
        Some("A")
    );
    assert_eq!(c.info()?.pending, 2);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn connects_through_a_real_sentinel() -> Result<()> {
    let master = RedisServer::start_tcp();
    let port = master.port().context("tcp port")?;
    // A sentinel watching the test master, on a free loopback port, in the master's temp dir.
    let sport = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = master.dir().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sport}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {port} 1\ndir {}\n",
            master.dir().display()
        ),
    )?;
    let mut sentinel = std::process::Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting redis-server --sentinel")?;
    let url = format!("redis-sentinel://127.0.0.1:{sport}/0?sentinelServiceName=mymaster");
    let mut connected = None;
    for _ in 0..100 {
        if let Ok(c) = Client::connect(&url).await {
            connected = Some(c);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let result = async {
        let c = connected.context("connect through the sentinel")?;
        c.enqueue::<Archive>((44, "masterbrew".into())).await?;
        assert_eq!(
            master.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
            [r#"{"class":"Archive","args":[44,"masterbrew"]}"#]
        );
        anyhow::Ok(())
    }
    .await;
    let _ = sentinel.kill();
    let _ = sentinel.wait();
    result
}

#[tokio::test(flavor = "current_thread")]
async fn worker_registry_operations_match_fixtures_03_and_04() -> Result<()> {
    let server = RedisServer::start();
    let s = client(&server).await?.store()?.clone();
    let fx3 = fixture("03_worker_idle")?;
    let id = "vm:5883:file_serve,low";
    let utc = jiff::tz::TimeZone::UTC;
    let mon = server.monitor();
    s.remove_heartbeat(id).await?;
    assert!(
        s.acquire_pruning_lock(id, std::time::Duration::from_secs(60))
            .await?
    );
    assert!(
        !s.acquire_pruning_lock("other:1:q", std::time::Duration::from_secs(60))
            .await?,
        "NX: the second worker does not get it"
    );
    let (now, registered) = s.heartbeat(id, &utc, None).await?;
    assert!(!registered, "a heartbeat alone does not register");
    s.register_worker(id, "2026-11-22 17:53:49 +0000").await?;
    assert!(!s.pause_all_requested().await?);
    assert_eq!(
        s.pop_first(&["file_serve".into(), "low".into()]).await?,
        None
    );
    let cmds = mon.data_commands();
    let want = fixture_commands(&fx3, 0);
    let shape = |c: &Vec<String>| c[..c.len().min(2)].to_vec();
    // Same commands on the same keys (heartbeat value and timing differ by nature).
    for c in [
        &want[0], &want[1], &want[3], &want[4], &want[7], &want[8], &want[9], &want[10], &want[11],
    ] {
        assert!(
            cmds.iter().any(|got| shape(got) == shape(c)),
            "missing {c:?} in {cmds:?}"
        );
    }
    match server.cmd(&["TTL", "resque:pruning_dead_workers_in_progress"])? {
        resque_test_support::Resp::Integer(ttl) => {
            assert!((55..=60).contains(&ttl), "the lock expires in 60 s: {ttl}")
        }
        other => anyhow::bail!("TTL answered {other:?}"),
    }
    assert_eq!(
        server
            .get_str(&["GET", "resque:pruning_dead_workers_in_progress"])
            .as_deref(),
        Some(id)
    );
    let hb = server
        .get_str(&["HGET", "resque:workers:heartbeat", id])
        .context("heartbeat")?;
    assert_eq!(
        resque_protocol::time::parse_iso8601(&hb).map(|t| t.as_second()),
        Some(now)
    );
    assert!(hb.ends_with("+00:00"), "{hb}");

    // Pause, a job, and the after-job pipeline (fixture 04), then a failed job.
    server.cmd(&["SET", "resque:pause-all-workers", " TRUE\n"])?;
    assert!(s.pause_all_requested().await?);
    server.cmd(&["DEL", "resque:pause-all-workers"])?;
    server.cmd(&[
        "RPUSH",
        "resque:queue:low",
        r#"{"class":"SleepJob","args":[3]}"#,
    ])?;
    let (queue, raw) = s
        .pop_first(&["file_serve".into(), "low".into()])
        .await?
        .context("a job")?;
    assert_eq!(queue, "low");
    let working = r#"{"queue":"low","run_at":"2026-11-22T17:53:53Z","payload":{"class":"SleepJob","args":[3]}}"#;
    s.set_working_on(id, working).await?;
    assert_eq!(
        server
            .get_str(&["GET", &format!("resque:worker:{id}")])
            .as_deref(),
        Some(working)
    );
    mon.clear();
    assert!(!s.job_done(id, None, false, None, None).await?);
    assert_eq!(
        mon.data_commands(),
        [
            vec!["del".to_owned(), format!("resque:worker:{id}")],
            vec![
                "incrby".to_owned(),
                "resque:stat:processed".to_owned(),
                "1".to_owned()
            ],
            vec![
                "incrby".to_owned(),
                format!("resque:stat:processed:{id}"),
                "1".to_owned()
            ],
            // The next iteration's first command, in the same round trip.
            vec!["get".to_owned(), "resque:pause-all-workers".to_owned()],
        ]
    );
    let record = Failure {
        failed_at: "2026/11/22 17:54:00 UTC".into(),
        payload: serde_json::from_str(&raw)?,
        exception: "RuntimeError".into(),
        error: "boom".into(),
        backtrace: vec![],
        worker: id.into(),
        queue,
        retried_at: None,
    };
    s.job_done(id, Some(("failed", &record)), true, None, None)
        .await?;
    assert_eq!(stat(&server, "processed").as_deref(), Some("2"));
    assert_eq!(stat(&server, "failed").as_deref(), Some("1"));
    assert_eq!(stat(&server, &format!("failed:{id}")).as_deref(), Some("1"));
    assert_eq!(
        server.get_list(&["LRANGE", "resque:failed", "0", "-1"]),
        [record.encode()?]
    );
    s.unregister_worker(id).await?;
    assert_eq!(
        server
            .get_list(&["KEYS", "*"])
            .iter()
            .filter(|k| k.contains(id))
            .count(),
        0
    );
    Ok(())
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The commands a script ran, as MONITOR shows them, without the EVALSHA / SCRIPT lines
/// and without those on our own record of the call (`resque-rs:reserve:<id>`, tested in
/// `a_resent_reservation_answers_again_and_does_nothing_twice`): Ruby's commands alone.
fn script_commands(mon: &resque_test_support::Monitor) -> Vec<Vec<String>> {
    mon.data_commands()
        .into_iter()
        .filter(|c| c[0] != "evalsha" && c[0] != "script")
        .filter(|c| !c.get(1).is_some_and(|k| k.contains(":resque-rs:reserve:")))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn finish_and_reserve_runs_rubys_commands_in_one_round_trip() -> Result<()> {
    use resque_store::{Finished, Reserved};
    let server = RedisServer::start();
    let proxy = RoundTripProxy::start(&server);
    let s = Client::connect(&proxy.url()).await?.store()?.clone();
    // Every call is a new one: a new token each time.
    let mut n = 0;
    let mut tok = || {
        n += 1;
        format!("t{n}")
    };
    let id = "vm:77:a,b";
    let w = format!("resque:worker:{id}");
    let queues = vec!["a".to_owned(), "b".to_owned()];
    let run_at = "2026-11-23T05:00:00Z";
    for item in [
        r#"{"class":"NoopJob","args":[1]}"#,
        r#"{ "class" : "NoopJob", "args" : [2] }"#,
        "not json {",
        r#"[1,2]"#,
    ] {
        server.cmd(&["RPUSH", "resque:queue:b", item])?;
    }
    let mon = server.monitor();

    // The first job: no bookkeeping yet; Ruby's paused?, then LPOP a, LPOP b, SET.
    proxy.reset();
    let got = s
        .finish_and_reserve(id, None, Some((&queues, run_at)), &tok(), false)
        .await?;
    let working =
        r#"{"queue":"b","run_at":"2026-11-23T05:00:00Z","payload":{"class":"NoopJob","args":[1]}}"#;
    assert_eq!(
        got,
        Reserved::Job {
            queue: "b".into(),
            raw: r#"{"class":"NoopJob","args":[1]}"#.into(),
            written: Some(working.into()),
            held: vec![],
        }
    );
    // What the script wrote is what protocol's WorkingOn encodes (canonical item).
    let taken = resque_protocol::WorkingOn::decode(working.as_bytes())?;
    assert_eq!(taken.encode()?, working);
    assert_eq!(
        script_commands(&mon),
        [
            argv(&["get", "resque:pause-all-workers"]),
            argv(&["lpop", "resque:queue:a"]),
            argv(&["lpop", "resque:queue:b"]),
            argv(&["set", &w, working]),
        ]
    );
    assert_eq!(server.get_str(&["GET", &w]).as_deref(), Some(working));
    assert_eq!(proxy.turns(), 2, "SCRIPT LOAD once, then EVALSHA");

    // A failed job's bookkeeping and the next job, in one round trip, in Ruby's order.
    mon.clear();
    proxy.reset();
    let record = Failure {
        failed_at: "2026/11/23 05:00:01 UTC".into(),
        payload: json!({"class": "NoopJob", "args": [1]}),
        exception: "RuntimeError".into(),
        error: "boom".into(),
        backtrace: vec!["a.rb:1".into()],
        worker: id.into(),
        queue: "b".into(),
        retried_at: None,
    };
    // A job that failed, recorded in `failed` and counted.
    let failed = || {
        Some(Finished {
            record: Some(("failed", &record)),
            count_failed: true,
            registered: true,
            metrics: None,
        })
    };
    let got = s
        .finish_and_reserve(id, failed(), Some((&queues, run_at)), &tok(), false)
        .await?;
    assert_eq!(proxy.turns(), 1);
    // Not canonical JSON: written as it came, and the caller is told so it can re-encode.
    let Reserved::Job { raw, written, .. } = got else {
        panic!("expected a job, got {got:?}")
    };
    assert_eq!(raw, r#"{ "class" : "NoopJob", "args" : [2] }"#);
    let working2 = format!(r#"{{"queue":"b","run_at":"{run_at}","payload":{raw}}}"#);
    assert_eq!(written.as_deref(), Some(working2.as_str()));
    let rec = record.encode()?;
    assert_eq!(
        script_commands(&mon),
        [
            // Ours: was this worker given up for dead while the job ran (a reaper's mark)?
            argv(&["del", &format!("resque:resque-rs:reaped:{id}")]),
            argv(&["rpush", "resque:failed", &rec]),
            argv(&["incrby", "resque:stat:failed", "1"]),
            argv(&["incrby", &format!("resque:stat:failed:{id}"), "1"]),
            argv(&["del", &w]),
            argv(&["incrby", "resque:stat:processed", "1"]),
            argv(&["incrby", &format!("resque:stat:processed:{id}"), "1"]),
            argv(&["get", "resque:pause-all-workers"]),
            argv(&["lpop", "resque:queue:a"]),
            argv(&["lpop", "resque:queue:b"]),
            argv(&["set", &w, &working2]),
        ]
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:failed", "0", "-1"]),
        [rec]
    );

    assert_eq!(
        server.get_str(&["GET", &w]),
        written,
        "the reply says what was SET"
    );

    // Items that are not job objects are handed over without touching worker:<id>.
    let done = Some(Finished {
        record: None,
        count_failed: false,
        registered: false,
        metrics: None,
    });
    for bad in ["not json {", "[1,2]"] {
        let got = s
            .finish_and_reserve(id, done, Some((&queues, run_at)), &tok(), false)
            .await?;
        assert_eq!(
            got,
            Reserved::Job {
                queue: "b".into(),
                raw: bad.into(),
                written: None,
                held: vec![],
            }
        );
        assert_eq!(server.get_str(&["GET", &w]), None);
    }

    // Paused (Ruby's strip.downcase): the bookkeeping is done, nothing is taken.
    server.cmd(&[
        "RPUSH",
        "resque:queue:a",
        r#"{"class":"NoopJob","args":[]}"#,
    ])?;
    server.cmd(&["SET", "resque:pause-all-workers", " TRUE\n"])?;
    let got = s
        .finish_and_reserve(id, done, Some((&queues, run_at)), &tok(), false)
        .await?;
    assert_eq!(got, Reserved::Paused);
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("1")
    );
    assert_eq!(stat(&server, "processed").as_deref(), Some("4"));
    server.cmd(&["DEL", "resque:pause-all-workers"])?;

    // The bookkeeping alone (stopping), then an empty poll.
    server.cmd(&["DEL", "resque:queue:a"])?;
    assert_eq!(
        s.finish_and_reserve(id, done, None, &tok(), false).await?,
        Reserved::Empty
    );
    assert_eq!(
        s.finish_and_reserve(id, None, Some((&queues, run_at)), &tok(), false)
            .await?,
        Reserved::Empty
    );
    assert_eq!(stat(&server, "processed").as_deref(), Some("5"));
    assert_eq!(
        stat(&server, &format!("processed:{id}")).as_deref(),
        Some("5")
    );
    assert_eq!(stat(&server, "failed").as_deref(), Some("1"));

    // A queue key of the wrong type: the error is reported, the bookkeeping before it done
    // once (a retry must not count the job twice).
    server.cmd(&["SET", "resque:queue:a", "oops"])?;
    let got = s
        .finish_and_reserve(id, done, Some((&queues, run_at)), &tok(), false)
        .await?;
    assert!(
        matches!(&got, Reserved::Failed(e) if e.contains("WRONGTYPE")),
        "{got:?}"
    );
    assert_eq!(stat(&server, "processed").as_deref(), Some("6"));
    server.cmd(&["DEL", "resque:queue:a"])?;

    // A stats key of the wrong type: as in Ruby's pipeline, that one command is refused and
    // every other one (the record, the rest of the stats, the reservation) still runs.
    // (No job was registered since the last call: nothing of this worker's to check.)
    let lone_failure = Some(Finished {
        record: Some(("failed", &record)),
        count_failed: true,
        registered: false,
        metrics: None,
    });
    server.cmd(&["RPUSH", "resque:stat:failed", "oops"])?;
    server.cmd(&[
        "RPUSH",
        "resque:queue:b",
        r#"{"class":"NoopJob","args":[3]}"#,
    ])?;
    let got = s
        .finish_and_reserve(id, lone_failure, Some((&queues, run_at)), &tok(), false)
        .await?;
    assert!(
        matches!(&got, Reserved::Job { written: Some(_), raw, .. } if raw.contains("[3]")),
        "{got:?}"
    );
    assert_eq!(
        server
            .get_list(&["LRANGE", "resque:failed", "0", "-1"])
            .len(),
        2
    );
    assert_eq!(stat(&server, "processed").as_deref(), Some("7"));
    assert_eq!(stat(&server, &format!("failed:{id}")).as_deref(), Some("2"));
    server.cmd(&["DEL", "resque:stat:failed"])?;

    // The server forgot the script (SCRIPT FLUSH, a restart): loaded again, transparently.
    server.cmd(&["SCRIPT", "FLUSH"])?;
    server.cmd(&[
        "RPUSH",
        "resque:queue:a",
        r#"{"class":"NoopJob","args":[]}"#,
    ])?;
    assert!(matches!(
        s.finish_and_reserve(id, None, Some((&queues, run_at)), &tok(), false)
            .await?,
        Reserved::Job {
            written: Some(_),
            ..
        }
    ));

    // Another worker id and another queue list (a dynamic list that changed): the keys
    // kept from the calls before are not reused.
    let other = "host:2:c,a";
    let other_queues = vec!["c".to_owned(), "a".to_owned()];
    server.cmd(&["RPUSH", "resque:queue:c", r#"{"class":"C","args":[]}"#])?;
    assert_eq!(
        s.finish_and_reserve(other, None, Some((&other_queues, run_at)), &tok(), false)
            .await?,
        Reserved::Job {
            queue: "c".into(),
            raw: r#"{"class":"C","args":[]}"#.into(),
            written: Some(
                r#"{"queue":"c","run_at":"2026-11-23T05:00:00Z","payload":{"class":"C","args":[]}}"#
                    .into()
            ),
            held: vec![],
        }
    );
    assert_eq!(
        server
            .get_str(&["GET", &format!("resque:worker:{other}")])
            .as_deref(),
        Some(r#"{"queue":"c","run_at":"2026-11-23T05:00:00Z","payload":{"class":"C","args":[]}}"#)
    );
    server.cmd(&["DEL", &format!("resque:worker:{other}")])?;

    // A server that refuses scripts (an ACL here): nothing is done, and the caller is told.
    server.cmd(&[
        "RPUSH",
        "resque:queue:a",
        r#"{"class":"NoopJob","args":[]}"#,
    ])?;
    server.cmd(&["ACL", "SETUSER", "default", "-evalsha", "-script"])?;
    let err = s
        .finish_and_reserve(id, done, Some((&queues, run_at)), &tok(), false)
        .await
        .expect_err("scripts are refused");
    assert!(matches!(err, Error::ScriptUnavailable(_)), "{err:?}");
    assert_eq!(stat(&server, "processed").as_deref(), Some("7"));
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("1")
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_resent_reservation_answers_again_and_does_nothing_twice() -> Result<()> {
    // The chaos run's loss: the script ran, its reply was lost, and the call was sent again.
    // With the same token, the second call answers the first one's job and changes nothing.
    use resque_store::{Finished, Reserved};
    let server = RedisServer::start();
    let s = Client::connect(&server.url()).await?.store()?.clone();
    let id = "vm:78:q";
    let queues = vec!["q".to_owned()];
    let run_at = "2026-12-01T10:00:00Z";
    for n in 1..=3 {
        server.cmd(&[
            "RPUSH",
            "resque:queue:q",
            &format!(r#"{{"class":"NoopJob","args":[{n}]}}"#),
        ])?;
    }
    let first = s
        .finish_and_reserve(id, None, Some((&queues, run_at)), "run:1", false)
        .await?;
    let done = Some(Finished {
        record: None,
        count_failed: false,
        registered: false,
        metrics: None,
    });
    let second = s
        .finish_and_reserve(id, done, Some((&queues, run_at)), "run:2", false)
        .await?;
    assert!(
        matches!(&second, Reserved::Job { raw, .. } if raw.contains("[2]")),
        "{second:?}"
    );
    // "run:2" again, as after a lost reply: the same job, the bookkeeping not counted again.
    let mon = server.monitor();
    let again = s
        .finish_and_reserve(id, done, Some((&queues, run_at)), "run:2", false)
        .await?;
    assert_eq!(again, second);
    assert_eq!(
        script_commands(&mon),
        Vec::<Vec<String>>::new(),
        "Ruby's commands are not run again"
    );
    assert_eq!(
        stat(&server, "processed").as_deref(),
        Some("1"),
        "counted once"
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        [r#"{"class":"NoopJob","args":[3]}"#],
        "nothing else was popped"
    );
    // Empty and paused answers replay too.
    server.cmd(&["SET", "resque:pause-all-workers", "true"])?;
    assert_eq!(
        s.finish_and_reserve(id, done, Some((&queues, run_at)), "run:3", false)
            .await?,
        Reserved::Paused
    );
    server.cmd(&["DEL", "resque:pause-all-workers"])?;
    assert_eq!(
        s.finish_and_reserve(id, done, Some((&queues, run_at)), "run:3", false)
            .await?,
        Reserved::Paused,
        "the same answer, though the pause is gone"
    );
    assert_eq!(stat(&server, "processed").as_deref(), Some("2"));
    // The next new call goes on as usual; the record of the call expires.
    let next = s
        .finish_and_reserve(id, done, Some((&queues, run_at)), "run:4", false)
        .await?;
    assert!(
        matches!(&next, Reserved::Job { raw, .. } if raw.contains("[3]")),
        "{next:?}"
    );
    let ttl = server.cmd(&["TTL", "resque:resque-rs:reserve:vm:78:q"])?;
    assert!(
        matches!(ttl, resque_test_support::Resp::Integer(t) if t > 3000 && t <= 3600),
        "{ttl:?}"
    );
    let _ = first;
    Ok(())
}
