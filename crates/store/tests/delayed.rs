//! resque-scheduler's delayed-job API against a real redis-server: the keys and bytes of
//! fixtures 12 and 13 (replayed with timestamps moved into the future), the read API, the
//! atomic removals, and the scheduler's read-decide-commit move.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, bail};
use resque_protocol::{DelayedItem, Keys, Value};
use resque_store::{Client, Committed, Context, Job, JobError, MoveAction, MoveGroup};
use resque_test_support::{RedisServer, Resp};

struct Archive;
impl Job for Archive {
    const CLASS: &'static str = "Archive";
    const QUEUE: &'static str = "file_serve";
    type Args = Vec<Value>;
    fn perform(_: &Vec<Value>, _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

struct HookedJob;
impl Job for HookedJob {
    const CLASS: &'static str = "HookedJob";
    const QUEUE: &'static str = "file_serve";
    type Args = (i64,);
    fn perform(_: &(i64,), _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

struct VetoedJob;
impl Job for VetoedJob {
    const CLASS: &'static str = "VetoedJob";
    const QUEUE: &'static str = "file_serve";
    type Args = (i64,);
    fn perform(_: &(i64,), _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
    fn before_schedule(_: &(i64,)) -> bool {
        false
    }
}

fn fixture(name: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(&resque_test_support::fixture(name))?)
}

fn strings(r: Resp) -> Vec<String> {
    match r {
        Resp::Array(items) => items.into_iter().flat_map(strings).collect(),
        Resp::Bulk(b) => vec![String::from_utf8_lossy(&b).into_owned()],
        Resp::Integer(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// Every key under `resque:` as (type, value) the way the fixtures dump them; `shift`
/// maps our timestamps back to the fixture's.
fn dump(
    server: &RedisServer,
    shift: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut out = BTreeMap::new();
    for key in strings(server.cmd(&["KEYS", "resque:*"])?) {
        let ty = server.get_str(&["TYPE", key.as_str()]).context("type")?;
        let value = match ty.as_str() {
            "list" => serde_json::json!(
                strings(server.cmd(&["LRANGE", key.as_str(), "0", "-1"])?)
                    .iter()
                    .map(|s| shift(s))
                    .collect::<Vec<_>>()
            ),
            "set" => {
                let mut v: Vec<String> = strings(server.cmd(&["SMEMBERS", key.as_str()])?)
                    .iter()
                    .map(|s| shift(s))
                    .collect();
                v.sort();
                serde_json::json!(v)
            }
            "zset" => serde_json::json!(
                strings(server.cmd(&["ZRANGE", key.as_str(), "0", "-1"])?)
                    .iter()
                    .map(|s| shift(s))
                    .collect::<Vec<_>>()
            ),
            other => bail!("unexpected type {other} of {key}"),
        };
        out.insert(shift(&key), serde_json::json!({"type": ty, "value": value}));
    }
    Ok(out)
}

/// A fixture's key dump in the same shape (sets sorted, zsets as members).
fn fixture_keys(keys: &serde_json::Value) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut out = BTreeMap::new();
    for (k, v) in keys.as_object().context("keys")? {
        let ty = v["type"].as_str().context("type")?;
        let value = match ty {
            "zset" => serde_json::json!(
                v["value"]
                    .as_array()
                    .context("zset")?
                    .iter()
                    .map(|m| m[0].clone())
                    .collect::<Vec<_>>()
            ),
            "set" => {
                let mut s: Vec<String> = v["value"]
                    .as_array()
                    .context("set")?
                    .iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect();
                s.sort();
                serde_json::json!(s)
            }
            _ => v["value"].clone(),
        };
        out.insert(k.clone(), serde_json::json!({"type": ty, "value": value}));
    }
    Ok(out)
}

fn at(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Fixture 12 replayed: the same calls, each timestamp moved by the same offset into our
/// future, leave exactly the fixture's keys (timestamps moved back), and the read API
/// answers as Ruby's did.
#[tokio::test(flavor = "current_thread")]
async fn enqueue_at_writes_fixture_12s_keys() -> Result<()> {
    let fx = fixture("12_scheduler_enqueue_at")?;
    let fx_now = fx["now_epoch"].as_i64().context("now_epoch")?;
    let offset = now() + 100_000 - fx_now;
    let ts = |fixture_ts: i64| fixture_ts + offset;
    let server = RedisServer::start();
    let client = Client::connect(&server.url()).await?;
    let args =
        |v: serde_json::Value| -> Vec<Value> { serde_json::from_value(v).unwrap_or_default() };

    // The steps, as fixture 12's actions.
    client
        .enqueue_at::<Archive>(
            at(ts(1796112481)),
            args(serde_json::json!([44, "masterbrew"])),
        )
        .await?;
    client
        .enqueue_at::<Archive>(at(ts(1796116081)), args(serde_json::json!([45])))
        .await?;
    client
        .enqueue_at_with_queue::<Archive>("low", at(ts(1796112481)), args(serde_json::json!([46])))
        .await?;
    client
        .enqueue_at_to("low", at(ts(1796116081)), "RemoteOnlyJob", vec!["x".into()])
        .await?;
    client
        .enqueue_at::<Archive>(
            at(ts(1796112481)),
            args(serde_json::json!([44, "masterbrew"])),
        )
        .await?;
    client
        .enqueue_at::<Archive>(
            at(ts(1796116081)),
            args(serde_json::json!([44, "masterbrew"])),
        )
        .await?;
    let hash: Vec<Value> = vec![resque_protocol::json::from_slice(
        br#"{"user_id":1,"b":[1.5,null]}"#,
    )?];
    client
        .enqueue_at::<Archive>(at(ts(1796112481)), hash)
        .await?;
    // In the past, and zero seconds: enqueued at once.
    client
        .enqueue_at::<Archive>(at(now() - 10), args(serde_json::json!([47])))
        .await?;
    client
        .enqueue_in::<Archive>(Duration::ZERO, args(serde_json::json!([48])))
        .await?;
    assert!(
        client
            .enqueue_at::<HookedJob>(at(ts(1796112482)), (1,))
            .await?
    );
    assert!(
        !client
            .enqueue_at::<VetoedJob>(at(ts(1796112482)), (1,))
            .await?
    );

    let back = |s: &str| -> String {
        // Our timestamps (10 digits) mapped back to the fixture's.
        let mut out = s.to_owned();
        for fixture_ts in [1796112481, 1796112482, 1796116081] {
            out = out.replace(&ts(fixture_ts).to_string(), &fixture_ts.to_string());
        }
        out
    };
    let want = fixture_keys(&fx["steps"][6]["keys"])?;
    assert_eq!(dump(&server, &back)?, want);

    // The read API (step 7's return values).
    let rv = &fx["steps"][7]["return_value"];
    let peek = client.delayed_queue_peek(0, 10).await?;
    let want_peek: Vec<i64> = rv["delayed_queue_peek(0,10)"]
        .as_array()
        .context("peek")?
        .iter()
        .filter_map(|v| v.as_i64())
        .map(ts)
        .collect();
    assert_eq!(peek, want_peek);
    assert_eq!(client.delayed_queue_schedule_size().await?, 3);
    assert_eq!(client.delayed_timestamp_size(ts(1796112481)).await?, 4);
    let one = client.delayed_timestamp_peek(ts(1796112481), 0, 1).await?;
    assert_eq!(one.len(), 1);
    let ten = client.delayed_timestamp_peek(ts(1796112481), 0, 10).await?;
    assert_eq!(ten.len(), 4);
    assert_eq!(
        ten[1].as_ref().ok().map(|i| i.queue.as_deref()),
        Some(Some("low"))
    );
    assert_eq!(client.count_all_scheduled_jobs().await?, 8);
    let mut at_times = client
        .scheduled_at::<Archive>(&args(serde_json::json!([44, "masterbrew"])))
        .await?;
    at_times.sort_unstable();
    assert_eq!(at_times, vec![ts(1796112481), ts(1796116081)]);
    assert!(
        client
            .is_delayed::<Archive>(&args(serde_json::json!([44, "masterbrew"])))
            .await?
    );
    assert_eq!(client.next_delayed_timestamp(None).await?, None);
    assert_eq!(
        client
            .next_delayed_timestamp(Some(at(ts(fx_now + 4000))))
            .await?,
        Some(ts(1796112481))
    );
    let found = client
        .find_delayed_selection(Some("Archive"), |a| {
            a.first().and_then(Value::as_i64) == Some(45)
        })
        .await?;
    assert_eq!(
        found,
        vec![r#"{"class":"Archive","args":[45],"queue":"file_serve"}"#]
    );
    Ok(())
}

/// Fixture 13's removals, with Ruby's return values; an emptied timestamp also leaves
/// `delayed_queue_schedule` (Ruby leaves it for the scheduler).
#[tokio::test(flavor = "current_thread")]
async fn removals_match_fixture_13_and_clean_up() -> Result<()> {
    let fx = fixture("13_scheduler_remove_delayed")?;
    let want: Vec<serde_json::Value> = fx["steps"]
        .as_array()
        .context("steps")?
        .iter()
        .map(|s| s["return_value"].clone())
        .collect();
    let server = RedisServer::start();
    let client = Client::connect(&server.url()).await?;
    let keys = Keys::default();
    let (ta, tb, tc) = (now() + 3_600, now() + 7_200, now() + 10_800);
    let a = |n: i64| vec![Value::from(n)];
    let mb = vec![Value::from(44), Value::from("masterbrew")];
    client.enqueue_at::<Archive>(at(ta), mb.clone()).await?;
    client.enqueue_at::<Archive>(at(tb), mb.clone()).await?;
    client.enqueue_at::<Archive>(at(tb), mb.clone()).await?;
    client
        .enqueue_at_with_queue::<Archive>("low", at(ta), a(46))
        .await?;
    for n in [45, 47, 48, 49, 50] {
        client.enqueue_at::<Archive>(at(tb), a(n)).await?;
    }
    client.enqueue_at::<Archive>(at(ta), a(45)).await?;

    assert_eq!(
        serde_json::json!(client.remove_delayed::<Archive>(&mb).await?),
        want[0]
    );
    assert_eq!(
        serde_json::json!(
            client
                .remove_delayed_in_queue::<Archive>("low", &a(46))
                .await?
        ),
        want[1]
    );
    assert_eq!(
        serde_json::json!(
            client
                .remove_delayed_job_from_timestamp::<Archive>(tb, &a(45))
                .await?
        ),
        want[2]
    );
    let n = client
        .remove_delayed_selection(Some("Archive"), |args| {
            args.first().and_then(Value::as_i64) == Some(47)
        })
        .await?;
    assert_eq!(serde_json::json!(n), want[3]);
    assert_eq!(
        serde_json::json!(client.enqueue_delayed::<Archive>(&a(48)).await?),
        want[4]
    );
    let n = client
        .enqueue_delayed_selection(None, |args| {
            args.first().and_then(Value::as_i64) == Some(49)
        })
        .await?;
    assert_eq!(serde_json::json!(n), want[5]);
    let moved = client.delay_or_enqueue_at::<Archive>(at(tc), a(50)).await?;
    let created = client.delay_or_enqueue_at::<Archive>(at(tc), a(51)).await?;
    assert_eq!(serde_json::json!([moved, created]), want[6]);
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        vec![
            r#"{"class":"Archive","args":[48]}"#,
            r#"{"class":"Archive","args":[49]}"#
        ]
    );
    // ta held 44/masterbrew, 46 (low) and 45: only 45 is left; tb only what was not removed.
    assert_eq!(client.delayed_timestamp_size(ta).await?, 1);
    assert_eq!(client.delayed_timestamp_size(tb).await?, 0);
    assert_eq!(
        client.delayed_queue_peek(0, 10).await?,
        vec![ta, tc],
        "emptied tb left the schedule"
    );
    assert_eq!(
        server.cmd(&["EXISTS", keys.delayed(tb).as_str()])?,
        Resp::Integer(0)
    );
    assert_eq!(client.scheduled_at::<Archive>(&a(50)).await?, vec![tc]);

    client.reset_delayed_queue().await?;
    let mut left = strings(server.cmd(&["KEYS", "resque:*"])?);
    left.sort();
    assert_eq!(left, vec!["resque:queue:file_serve", "resque:queues"]);
    Ok(())
}

/// The scheduler's move: items pushed to a due timestamp after it was read are never
/// trimmed (Ruby's LRANGE-before-WATCH loses them), a timestamp changed at its head is left
/// whole and reported stale, an orphan timestamp is cleaned up, and a caller without the
/// lock writes nothing.
#[tokio::test(flavor = "current_thread")]
async fn a_move_commits_only_what_it_read() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url()).await?;
    let store = client.store()?;
    let due = now() - 5;
    let item = |n: i64| DelayedItem::new("q", "Archive", vec![n.into()]).encode();
    store.delayed_push(due, &[item(1)?, item(2)?]).await?;
    server.cmd(&["ZADD", "resque:delayed_queue_schedule", "1000", "1000"])?; // an orphan
    let batch = store.due_batch(100, 10).await?;
    assert!(batch.now >= due);
    assert_eq!(batch.groups.len(), 2);
    assert_eq!(batch.groups[0], (1000, vec![]));
    assert_eq!(batch.groups[1].1.len(), 2);
    // Pushed after the read, before the commit.
    store.delayed_push(due, &[item(3)?]).await?;
    let groups: Vec<MoveGroup> = batch
        .groups
        .iter()
        .map(|(ts, items)| MoveGroup {
            ts: *ts,
            items: items
                .iter()
                .map(|raw| {
                    let payload = DelayedItem::decode(raw).and_then(|i| i.payload().encode());
                    (
                        raw.clone(),
                        MoveAction::Push {
                            queue: "q".into(),
                            payload: payload.unwrap_or_default(),
                        },
                    )
                })
                .collect(),
        })
        .collect();
    // Without the lock: nothing.
    server.cmd(&["SET", "lock", "someone-else"])?;
    let lock = resque_store::LockHeld {
        key: "lock",
        value: "me",
        ttl: 30,
    };
    assert_eq!(
        store.commit_moves(Some(lock), &groups).await?,
        Committed::NotMaster
    );
    assert_eq!(server.cmd(&["LLEN", "resque:queue:q"])?, Resp::Integer(0));
    // With it.
    server.cmd(&["SET", "lock", "me"])?;
    assert_eq!(
        store.commit_moves(Some(lock), &groups).await?,
        Committed::Done {
            pushed: 2,
            stale: vec![]
        }
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        vec![
            r#"{"class":"Archive","args":[1]}"#,
            r#"{"class":"Archive","args":[2]}"#
        ]
    );
    assert_eq!(
        server.get_list(&[
            "LRANGE",
            format!("resque:delayed:{due}").as_str(),
            "0",
            "-1"
        ]),
        vec![item(3)?]
    );
    assert!(
        matches!(server.cmd(&["TTL", "lock"])?, Resp::Integer(t) if t > 0),
        "the commit refreshed the lock"
    );
    assert_eq!(
        client.delayed_queue_peek(0, 10).await?,
        vec![due],
        "the orphan is gone"
    );
    assert_eq!(
        server.cmd(&["EXISTS", format!("resque:timestamps:{}", item(1)?).as_str()])?,
        Resp::Integer(0)
    );

    // A removal at the head between read and commit: the group is stale, nothing moves.
    let batch = store.due_batch(100, 10).await?;
    server.cmd(&["LPOP", format!("resque:delayed:{due}").as_str()])?;
    server.cmd(&[
        "RPUSH",
        format!("resque:delayed:{due}").as_str(),
        item(4)?.as_str(),
    ])?;
    let groups: Vec<MoveGroup> = batch
        .groups
        .iter()
        .map(|(ts, items)| MoveGroup {
            ts: *ts,
            items: items
                .iter()
                .map(|r| (r.clone(), MoveAction::Drop))
                .collect(),
        })
        .collect();
    assert_eq!(
        store.commit_moves(None, &groups).await?,
        Committed::Done {
            pushed: 0,
            stale: vec![due]
        }
    );
    assert_eq!(client.delayed_timestamp_size(due).await?, 1);

    // Queue now (web): the first item of any timestamp, in one step.
    let later = now() + 3_600;
    store.delayed_push(later, &[item(5)?, item(6)?]).await?;
    let moved = client.enqueue_next_item(later).await?;
    assert_eq!(moved.map(|i| i.args), Some(vec![Value::from(5)]));
    assert_eq!(client.delayed_timestamp_size(later).await?, 1);
    assert_eq!(server.cmd(&["LLEN", "resque:queue:q"])?, Resp::Integer(3));
    Ok(())
}

/// Stored schedules: set (validated), fetched, listed, removed, each announcing the name.
#[tokio::test(flavor = "current_thread")]
async fn schedules_are_stored_as_ruby_stores_them() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url()).await?;
    let config = resque_protocol::ScheduleConfig::decode(
        br#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"description":"hourly","persist":true}"#,
    )?;
    client.set_schedule("dyn_every", &config).await?;
    assert_eq!(
        server
            .get_str(&["HGET", "resque:persistent_schedules", "dyn_every"])
            .as_deref(),
        Some(
            r#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"description":"hourly"}"#
        )
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:schedules_changed"]),
        vec!["dyn_every"]
    );
    let bad = resque_protocol::ScheduleConfig::decode(br#"{"class":"A","cron":"61 * * * *"}"#)?;
    let err = client
        .set_schedule("bad", &bad)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("bad cron line"), "{err}");
    assert_eq!(
        client
            .fetch_schedule("dyn_every")
            .await?
            .map(|c| c.encode().ok()),
        Some(config.encode().ok())
    );
    server.cmd(&["HSET", "resque:persistent_schedules", "broken", "{nope"])?;
    let all = client.all_schedules().await?;
    assert_eq!(all.len(), 2);
    assert!(
        all[0].1.is_err(),
        "broken sorts first and is reported, not hidden"
    );
    assert!(client.remove_schedule("dyn_every").await?);
    assert!(!client.remove_schedule("dyn_every").await?);
    assert_eq!(
        client.store()?.schedules_changed_take().await?,
        vec!["dyn_every"]
    );
    assert!(client.store()?.schedules_changed_take().await?.is_empty());
    Ok(())
}

/// node-resque stores `{"class","queue","args"}` with JavaScript's numbers; removing by
/// class and arguments takes its copies too (Ruby's byte match would miss them), at every
/// time and at one time, and leaves other jobs alone.
#[tokio::test(flavor = "current_thread")]
async fn removals_take_node_resques_items_too() -> Result<()> {
    let server = RedisServer::start();
    let c = Client::connect(&server.url()).await?;
    let ts = now() + 3600;
    // The bytes node-resque 9.7's enqueueAt writes for these arguments.
    let node = r#"{"class":"Archive","queue":"mail","args":[1,"é"]}"#;
    let other = r#"{"class":"Archive","queue":"mail","args":[2]}"#;
    for (t, item) in [(ts, node), (ts + 60, node), (ts, other), (ts + 120, node)] {
        server.cmd(&["RPUSH", &format!("resque:delayed:{t}"), item])?;
        server.cmd(&[
            "SADD",
            &format!("resque:timestamps:{item}"),
            &format!("delayed:{t}"),
        ])?;
        server.cmd(&[
            "ZADD",
            "resque:delayed_queue_schedule",
            &t.to_string(),
            &t.to_string(),
        ])?;
    }
    let args = vec![Value::from(1.0), Value::from("é")];
    let at_one = c
        .remove_delayed_class_from_timestamp(ts + 120, "mail", "Archive", args.clone())
        .await?;
    assert_eq!(at_one, 1);
    assert_eq!(c.remove_delayed_class("mail", "Archive", args).await?, 2);
    assert_eq!(
        strings(server.cmd(&["LRANGE", &format!("resque:delayed:{ts}"), "0", "-1"])?),
        vec![other.to_owned()]
    );
    assert_eq!(
        strings(server.cmd(&["ZRANGE", "resque:delayed_queue_schedule", "0", "-1"])?),
        vec![ts.to_string()]
    );
    assert!(strings(server.cmd(&["KEYS", &format!("resque:timestamps:{node}")])?).is_empty());
    Ok(())
}
