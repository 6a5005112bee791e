//! The mover as a library, with registered job types: their queues fill in for items
//! without one, their scheduling hooks run in resque-scheduler's order (a veto drops the
//! item, an error or args that do not fit make a failure record), and the client's own
//! hooks on `enqueue_at` and `enqueue_delayed`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use resque_failure::Backend;
use resque_protocol::DelayedItem;
use resque_scheduler::Mover;
use resque_store::{Client, Context, Job, JobError, Registry};
use resque_test_support::{RedisServer, Resp};

static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn calls() -> Vec<String> {
    CALLS
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

fn note(s: String) {
    if let Ok(mut v) = CALLS.lock() {
        v.push(s);
    }
}

struct Hooked;
impl Job for Hooked {
    const CLASS: &'static str = "Hooked";
    const QUEUE: &'static str = "hooked_q";
    type Args = (i64,);
    fn perform(_: &(i64,), _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
    fn before_schedule((n,): &(i64,)) -> bool {
        note(format!("before_schedule {n}"));
        *n != 13 // 13 is vetoed
    }
    fn before_delayed_enqueue((n,): &(i64,)) {
        note(format!("before_delayed_enqueue {n}"));
    }
    fn before_enqueue((n,): &(i64,)) -> bool {
        note(format!("before_enqueue {n}"));
        true
    }
    fn after_enqueue((n,): &(i64,)) {
        note(format!("after_enqueue {n}"));
    }
    fn after_schedule((n,): &(i64,)) {
        note(format!("after_schedule {n}"));
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// One test: the hooks note into one shared list.
#[tokio::test(flavor = "current_thread")]
async fn registered_jobs_give_queues_and_run_hooks_in_rubys_order() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url()).await?;
    let store = client.store()?.clone();

    // The client: enqueue_at runs before_schedule and after_schedule around the write.
    client
        .enqueue_in::<Hooked>(Duration::from_secs(3_600), (1,))
        .await?;
    assert_eq!(calls(), ["before_schedule 1", "after_schedule 1"]);
    assert!(
        !client
            .enqueue_in::<Hooked>(Duration::from_secs(3_600), (13,))
            .await?,
        "vetoed"
    );
    assert_eq!(client.delayed_queue_schedule_size().await?, 1);
    calls();
    // enqueue_delayed: every copy now, with the delayed-enqueue hooks.
    assert_eq!(client.enqueue_delayed::<Hooked>(&(1,)).await?, 1);
    assert_eq!(
        calls(),
        [
            "before_schedule 1",
            "before_delayed_enqueue 1",
            "before_enqueue 1",
            "after_enqueue 1",
            "after_schedule 1"
        ]
    );
    server.cmd(&["DEL", "resque:queue:hooked_q"])?;

    // The scheduler's move, with Hooked registered.
    let due = now() - 5;
    let items = [
        DelayedItem {
            class: "Hooked".into(),
            args: vec![2.into()],
            queue: None,
        }
        .encode()?, // queue from the class
        DelayedItem::new("elsewhere", "Hooked", vec![3.into()]).encode()?,
        DelayedItem::new("hooked_q", "Hooked", vec![13.into()]).encode()?, // vetoed: dropped
        DelayedItem::new("hooked_q", "Hooked", vec!["not a number".into()]).encode()?, // args do not fit
        DelayedItem {
            class: "Unknown".into(),
            args: vec![],
            queue: None,
        }
        .encode()?, // no queue anywhere
        DelayedItem::new("plain", "Unknown", vec![4.into()]).encode()?, // by name, no hooks
    ];
    store.delayed_push(due, &items).await?;
    let mut registry = Registry::new();
    registry.register::<Hooked>();
    let mut mover = Mover::new(
        Arc::new(registry),
        Backend::redis(),
        100,
        "test:1:resque-scheduler".into(),
    );
    let moved = mover.move_batch(&store, None).await?;
    assert_eq!((moved.pushed, moved.failed, moved.cancelled), (3, 2, 1));
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:hooked_q", "0", "-1"]),
        [r#"{"class":"Hooked","args":[2]}"#]
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:elsewhere", "0", "-1"]),
        [r#"{"class":"Hooked","args":[3]}"#]
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:plain", "0", "-1"]),
        [r#"{"class":"Unknown","args":[4]}"#]
    );
    let seen = calls();
    for n in [2, 3] {
        let order: Vec<&String> = seen
            .iter()
            .filter(|c| c.ends_with(&format!(" {n}")))
            .collect();
        assert_eq!(
            order,
            [
                &format!("before_schedule {n}"),
                &format!("before_delayed_enqueue {n}"),
                &format!("before_enqueue {n}"),
                &format!("after_enqueue {n}"),
                &format!("after_schedule {n}"),
            ],
            "{seen:?}"
        );
    }
    assert!(
        seen.contains(&"before_schedule 13".to_owned())
            && !seen.contains(&"before_enqueue 13".to_owned())
    );
    // Two failure records, the others moved, nothing left delayed.
    assert_eq!(server.cmd(&["LLEN", "resque:failed"])?, Resp::Integer(2));
    let records = server
        .get_list(&["LRANGE", "resque:failed", "0", "-1"])
        .join("\n");
    assert!(
        records.contains("Resque::NoQueueError") && records.contains("ArgumentError"),
        "{records}"
    );
    assert!(records.contains("test:1:resque-scheduler"));
    assert_eq!(client.delayed_queue_schedule_size().await?, 0);
    Ok(())
}
