//! Golden tests for resque-scheduler 5.0's formats: every delayed item, key and schedule
//! config in the captures (fixtures 12-17, copied from `shared/spec/fixtures`) is what our
//! types write.

mod common;

use anyhow::{Context, Result, bail};
use common::{commands, fixture};
use resque_protocol::delayed::timestamp;
use resque_protocol::keys::delayed_member;
use resque_protocol::{DelayedItem, Keys, ScheduleConfig, Value, json};

/// Every `RPUSH delayed:<ts> <item>` in fixture 12 is an item we encode byte for byte from
/// its decoded parts, with the `timestamps:` and `delayed_queue_schedule` writes beside it.
#[test]
fn delayed_items_12() -> Result<()> {
    let fx = fixture("12_scheduler_enqueue_at")?;
    let keys = Keys::default();
    let mut seen = 0;
    for step in fx["steps"].as_array().context("steps")? {
        let cmds = commands(step);
        for (i, c) in cmds.iter().enumerate() {
            if c[0] != "rpush" || !c[1].starts_with("resque:delayed:") {
                continue;
            }
            let ts: i64 = c[1]["resque:delayed:".len()..].parse()?;
            let item = DelayedItem::decode(c[2].as_bytes())?;
            assert_eq!(item.encode()?, c[2], "item bytes");
            assert_eq!(keys.delayed(ts), c[1]);
            let sadd = &cmds[i + 1];
            assert_eq!(sadd[0], "sadd");
            assert_eq!(sadd[1], keys.timestamps(&c[2]));
            assert_eq!(sadd[2], delayed_member(ts));
            let zadd = &cmds[i + 2];
            assert_eq!(zadd[1], keys.delayed_queue_schedule());
            assert_eq!(
                (zadd[2].as_str(), zadd[3].as_str()),
                (ts.to_string().as_str(), ts.to_string().as_str())
            );
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} delayed pushes found");
    // The first step: Time.at(now + 3600.75).to_i.
    let first = &fx["steps"][0];
    let float = first["time_arg_float"].as_f64().context("time_arg_float")?;
    assert_eq!(timestamp(float), first["timestamp_used"].as_i64());
    let item = DelayedItem::new(
        "file_serve",
        "Archive",
        vec![44.into(), "masterbrew".into()],
    );
    assert_eq!(
        item.encode()?,
        first["delayed_item_bytes"].as_str().context("bytes")?
    );
    Ok(())
}

/// The payload the scheduler pushes for each item it moves (fixture 14) is the item's
/// class and args, without the queue.
#[test]
fn moved_payloads_14() -> Result<()> {
    let fx = fixture("14_scheduler_handle_delayed_items")?;
    let keys = Keys::default();
    let mut moved = 0;
    for step in fx["steps"].as_array().context("steps")? {
        let cmds = commands(step);
        for (i, c) in cmds.iter().enumerate() {
            if c[0] != "srem" || !c[1].starts_with("resque:timestamps:") {
                continue;
            }
            let item = DelayedItem::decode(&c[1].as_bytes()["resque:timestamps:".len()..])?;
            // resque-web's "Queue now" (enqueue_next_item) checks the list length in
            // between; the scheduler's batch goes straight to the push.
            let Some(push) = cmds[i + 1..].iter().find(|c| c[0] == "rpush") else {
                bail!("no push after {c:?}");
            };
            let queue = item.queue.as_deref().context("queue")?;
            assert_eq!(push[1], keys.queue(queue));
            assert_eq!(push[2], item.payload().encode()?);
            moved += 1;
        }
    }
    assert!(moved >= 9, "only {moved} moves found");
    Ok(())
}

/// `persistent_schedules` values are the config minus `persist`, in the caller's key order
/// (fixture 15), and fixture 16's schedule has the intervals and args shapes it fired with.
#[test]
fn schedule_configs_15_16() -> Result<()> {
    let fx = fixture("15_scheduler_dynamic_schedule")?;
    let first = &fx["steps"][0];
    let hset = &commands(first)[0];
    assert_eq!(hset[0], "hset");
    assert_eq!(hset[1], Keys::default().persistent_schedules());
    let given = ScheduleConfig::from_value(serde_json::from_str(
        r#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"description":"hourly","persist":true}"#,
    )?)?;
    assert_eq!(given.encode()?, hset[3]);

    let fx = fixture("16_scheduler_recurring_fire")?;
    let schedule = fx["schedule"].as_object().context("schedule")?;
    let queues = &fx["steps"][1]["queue_bytes"];
    let pushed: Vec<&str> = queues
        .as_object()
        .context("queue_bytes")?
        .values()
        .flat_map(|v| v.as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    for (name, raw) in schedule {
        let config = ScheduleConfig::from_value(raw.clone())?;
        let interval = config.interval()?;
        if name == "no_interval" {
            assert!(interval.is_none());
            continue;
        }
        assert!(interval.is_some(), "{name}");
        if name == "wrong_env" {
            assert!(!config.runs_in(Some("development")));
            continue;
        }
        let payload = resque_protocol::Payload::new(config.class(name), config.args()).encode()?;
        assert!(
            pushed.contains(&payload.as_str()),
            "{name}: {payload} not in {pushed:?}"
        );
    }
    // Every `every` entry was loaded with `first_in 4s`.
    let every = ScheduleConfig::from_value(schedule["NoopJob"].clone())?;
    let Some(resque_protocol::Interval::Every(e)) = every.interval()? else {
        bail!("NoopJob is an every schedule");
    };
    let loaded: jiff::Timestamp = "2026-12-01T07:08:17Z".parse()?;
    assert_eq!(
        e.first_fire(loaded)
            .map(|t| t.as_second() - loaded.as_second()),
        Some(4)
    );
    Ok(())
}

/// The master lock's key and value (fixtures 14 and 17).
#[test]
fn master_lock_17() -> Result<()> {
    let fx = fixture("17_scheduler_master_election")?;
    let step = &fx["steps"][0];
    let cmds = commands(step);
    let evalsha = cmds.iter().find(|c| c[0] == "evalsha").context("evalsha")?;
    assert_eq!(evalsha[3], Keys::default().scheduler_master_lock(None));
    let value = step["lock_value"].as_str().context("lock_value")?;
    assert_eq!(evalsha[4], value);
    let (host, pid) = value.rsplit_once(':').context("host:pid")?;
    assert!(!host.is_empty() && pid.parse::<u32>().is_ok());
    // last_enqueued_at is Time#to_s, the same format as worker:<id>:started.
    let fx = fixture("16_scheduler_recurring_fire")?;
    let at = fx["steps"][1]["last_enqueued_at"]["NoopJob"]
        .as_str()
        .context("at")?;
    let parsed = jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", at)?.to_zoned()?;
    assert_eq!(resque_protocol::time::started(&parsed), at);
    assert_eq!(json::to_string(&at)?, format!("\"{at}\""));
    Ok(())
}
