//! Reserving ahead (`ReserveSection::hold`, `Store::return_held`), against a real
//! `redis-server` per test: held jobs move from their queues to the worker's held list in
//! the reservation's step, in priority order; the next call counts the ones that ran and
//! takes them out; the next job comes from the held list first; a resent call answers
//! again and counts nothing twice; and a held list goes back to the head of its queues in
//! order, once.

use anyhow::Result;
use resque_protocol::Failure;
use resque_store::{Client, Finished, Held, Reserved, Store};
use resque_test_support::RedisServer;

const RUN_AT: &str = "2026-12-02T05:00:00Z";
const ID: &str = "vm:9:a,b";

fn job(n: u32) -> String {
    format!(r#"{{"class":"NoopJob","args":[{n}]}}"#)
}

fn held_entry(queue: &str, n: u32) -> String {
    format!("\"{queue}\"\n{}", job(n))
}

fn get(server: &RedisServer, key: &str) -> Option<String> {
    server.get_str(&["GET", &format!("resque:{key}")])
}

fn list(server: &RedisServer, key: &str) -> Vec<String> {
    server.get_list(&["LRANGE", &format!("resque:{key}"), "0", "-1"])
}

fn done() -> Finished<'static> {
    Finished {
        record: None,
        count_failed: false,
        registered: true,
        metrics: None,
    }
}

/// One holding call: `ran` held jobs ran before `finished`, and up to `ahead` to hold.
async fn call(
    store: &Store,
    finished: Option<Finished<'_>>,
    queues: &[String],
    token: &str,
    ran: u32,
    ahead: u32,
) -> Result<Reserved> {
    let mut section = store.reserve_section(ID, finished, Some((queues, RUN_AT)), token, false)?;
    section.hold(ran, ahead);
    let reply = store.send_section(&section).await?;
    Ok(store.read_reserved(ID, Some((queues, RUN_AT)), reply)?)
}

fn held(queue: &str, ns: &[u32]) -> Vec<Held> {
    ns.iter()
        .map(|n| Held {
            queue: queue.into(),
            raw: job(*n),
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn held_jobs_move_in_the_reservations_step_and_are_counted_with_the_next_call() -> Result<()>
{
    let server = RedisServer::start();
    let store = Client::connect(&server.url()).await?.store()?.clone();
    server.cmd(&["RPUSH", "resque:queue:a", &job(1)])?;
    for n in 2..=5 {
        server.cmd(&["RPUSH", "resque:queue:b", &job(n)])?;
    }
    let ab = vec!["a".to_owned(), "b".to_owned()];

    // The first job from `a` (priority order), three more held, from `b`.
    let got = call(&store, None, &ab, "t1", 0, 3).await?;
    let Reserved::Job {
        queue,
        raw,
        held: h,
        ..
    } = got
    else {
        panic!("expected a job, got {got:?}");
    };
    assert_eq!((queue.as_str(), raw.as_str()), ("a", job(1).as_str()));
    assert_eq!(h, held("b", &[2, 3, 4]));
    assert_eq!(
        list(&server, &format!("resque-rs:held:{ID}")),
        [2, 3, 4].map(|n| held_entry("b", n))
    );
    assert_eq!(list(&server, "queue:b"), [job(5)]);
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:resque-rs:holders"]),
        [ID]
    );
    assert!(get(&server, &format!("worker:{ID}")).is_some_and(|w| w.contains("[1]")));

    // Jobs 1, 2 and 3 ran (done), 4 is the one described: four counted, the held list
    // emptied, and the next job is 5 from `b`, with nothing left to hold.
    let got = call(&store, Some(done()), &ab, "t2", 3, 3).await?;
    assert!(
        matches!(&got, Reserved::Job { raw, held, .. } if *raw == job(5) && held.is_empty()),
        "{got:?}"
    );
    assert_eq!(get(&server, "stat:processed").as_deref(), Some("4"));
    assert_eq!(
        get(&server, &format!("stat:processed:{ID}")).as_deref(),
        Some("4")
    );
    assert!(list(&server, &format!("resque-rs:held:{ID}")).is_empty());

    // Its reply lost, the same call is answered again and counts nothing twice.
    let again = call(&store, Some(done()), &ab, "t2", 3, 3).await?;
    assert_eq!(again, got);
    assert_eq!(get(&server, "stat:processed").as_deref(), Some("4"));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_failure_the_next_job_is_the_first_still_held() -> Result<()> {
    let server = RedisServer::start();
    let store = Client::connect(&server.url()).await?.store()?.clone();
    for n in 1..=4 {
        server.cmd(&["RPUSH", "resque:queue:a", &job(n)])?;
    }
    let a = vec!["a".to_owned()];
    call(&store, None, &a, "t1", 0, 3).await?;
    // Job 1 ran (done), then held job 2 failed: 3 and 4 are still held.
    let record = Failure {
        failed_at: "2026/12/02 05:00:01 UTC".into(),
        payload: serde_json::json!({"class": "NoopJob", "args": [2]}),
        exception: "RuntimeError".into(),
        error: "boom".into(),
        backtrace: vec![],
        worker: ID.into(),
        queue: "a".into(),
        retried_at: None,
    };
    let failed = Finished {
        record: Some(("failed", &record)),
        count_failed: true,
        registered: true,
        metrics: None,
    };
    // A new job arrives meanwhile: held jobs still come first.
    server.cmd(&["RPUSH", "resque:queue:a", &job(5)])?;
    let got = call(&store, Some(failed), &a, "t2", 1, 3).await?;
    let Reserved::Job { raw, held: h, .. } = got else {
        panic!("expected a job, got {got:?}");
    };
    assert_eq!(raw, job(3));
    assert_eq!(h, held("a", &[4, 5]));
    assert_eq!(get(&server, "stat:processed").as_deref(), Some("2"));
    assert_eq!(get(&server, "stat:failed").as_deref(), Some("1"));
    assert_eq!(list(&server, "failed").len(), 1);
    assert!(get(&server, &format!("worker:{ID}")).is_some_and(|w| w.contains("[3]")));
    assert!(list(&server, "queue:a").is_empty());
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_held_list_goes_back_to_the_head_of_its_queues_in_order_once() -> Result<()> {
    let server = RedisServer::start();
    let store = Client::connect(&server.url()).await?.store()?.clone();
    server.cmd(&["RPUSH", "resque:queue:a", &job(1), &job(2)])?;
    server.cmd(&["RPUSH", "resque:queue:b", &job(3), &job(4)])?;
    let ab = vec!["a".to_owned(), "b".to_owned()];
    call(&store, None, &ab, "t1", 0, 2).await?;
    // Held: 2 (a) and 3 (b); 4 still in b.
    let seen = store.held(ID).await?;
    assert_eq!(
        seen.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>(),
        [held("a", &[2]), held("b", &[3])].concat()
    );
    // A list that changed since it was read is left alone.
    let stale = vec![seen[0].clone()];
    assert_eq!(store.return_held(ID, &stale).await?, None);
    assert_eq!(store.return_held(ID, &seen).await?, Some(2));
    assert_eq!(list(&server, "queue:a"), [job(2)]);
    assert_eq!(list(&server, "queue:b"), [job(3), job(4)]);
    assert!(list(&server, &format!("resque-rs:held:{ID}")).is_empty());
    assert!(
        server
            .get_list(&["SMEMBERS", "resque:resque-rs:holders"])
            .is_empty()
    );
    // Sent again (a lost reply): the list is gone, nothing goes back twice.
    assert_eq!(store.return_held(ID, &seen).await?, None);
    assert_eq!(list(&server, "queue:b"), [job(3), job(4)]);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_worker_that_never_holds_leaves_the_held_list_alone() -> Result<()> {
    let server = RedisServer::start();
    let store = Client::connect(&server.url()).await?.store()?.clone();
    server.cmd(&["RPUSH", "resque:queue:a", &job(1), &job(2)])?;
    // Someone else's entry under this id (a list this worker, not holding, never reads).
    server.cmd(&[
        "RPUSH",
        &format!("resque:resque-rs:held:{ID}"),
        &held_entry("a", 9),
    ])?;
    let a = vec!["a".to_owned()];
    let got = store
        .finish_and_reserve(ID, None, Some((&a, RUN_AT)), "t1", false)
        .await?;
    assert!(
        matches!(&got, Reserved::Job { raw, held, .. } if *raw == job(1) && held.is_empty()),
        "{got:?}"
    );
    assert_eq!(list(&server, "queue:a"), [job(2)]);
    assert_eq!(list(&server, &format!("resque-rs:held:{ID}")).len(), 1);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn the_fill_takes_each_queue_in_turn_and_goes_past_a_key_that_is_not_a_list() -> Result<()> {
    let server = RedisServer::start();
    let store = Client::connect(&server.url()).await?.store()?.clone();
    // `a` has the job to run and two more; `b` is a string (someone's SET), whose pop with
    // a count fails and whose single pop fails too; `c` has four.
    for n in 1..=3 {
        server.cmd(&["RPUSH", "resque:queue:a", &job(n)])?;
    }
    server.cmd(&["SET", "resque:queue:b", "not a list"])?;
    for n in 4..=7 {
        server.cmd(&["RPUSH", "resque:queue:c", &job(n)])?;
    }
    let abc = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let got = call(&store, None, &abc, "t1", 0, 5).await?;
    let Reserved::Job { raw, held: h, .. } = got else {
        panic!("expected a job, got {got:?}");
    };
    assert_eq!(raw, job(1));
    let mut want = held("a", &[2, 3]);
    want.extend(held("c", &[4, 5, 6]));
    assert_eq!(h, want);
    assert_eq!(
        list(&server, &format!("resque-rs:held:{ID}")),
        [("a", 2), ("a", 3), ("c", 4), ("c", 5), ("c", 6)].map(|(q, n)| held_entry(q, n))
    );
    assert_eq!(list(&server, "queue:c"), [job(7)]);
    assert_eq!(get(&server, "queue:b").as_deref(), Some("not a list"));

    // The next call: job 1 and held job 2 ran before held job 3, the one described (two
    // entries leave the list); the next job is the first still held, and the list is
    // topped up from `c`'s last job, past `b` again.
    let got = call(&store, Some(done()), &abc, "t2", 2, 5).await?;
    let Reserved::Job { raw, held: h, .. } = got else {
        panic!("expected a job, got {got:?}");
    };
    assert_eq!(raw, job(4), "the first still held");
    assert_eq!(h, held("c", &[5, 6, 7]));
    assert!(list(&server, "queue:c").is_empty());
    assert_eq!(get(&server, "stat:processed").as_deref(), Some("3"));
    Ok(())
}
