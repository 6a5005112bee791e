//! Reliable mode's in-flight records against a real `redis-server` per test: the reserve
//! script keeps the job in `resque-rs:inflight:<id>` in the same round trip, the job's
//! bookkeeping removes it, and a dead worker's job goes back to its queue once, or becomes
//! a poison record.

use anyhow::Result;
use resque_store::{Client, Finished, InFlight, RecordTo, Recovered, Reserved};
use resque_test_support::{RedisServer, RoundTripProxy};

const ID: &str = "vm:77:a,b";
const RUN_AT: &str = "2026-12-01T05:00:00Z";

fn poison() -> RecordTo<'static> {
    RecordTo {
        list: "failed",
        record: r#"{"exception":"Resque::PoisonJob"}"#,
        failed_queues_member: None,
    }
}

/// A server, a store on it and the one queue `a` most tests take jobs from.
async fn setup() -> Result<(RedisServer, resque_store::Store, Vec<String>)> {
    let server = RedisServer::start();
    let s = Client::connect(&server.url()).await?.store()?.clone();
    Ok((server, s, vec!["a".to_owned()]))
}

#[tokio::test(flavor = "current_thread")]
async fn reliable_reservation_keeps_the_job_in_flight_in_the_same_round_trip() -> Result<()> {
    let server = RedisServer::start();
    let proxy = RoundTripProxy::start(&server);
    let s = Client::connect(&proxy.url()).await?.store()?.clone();
    let queues = vec!["a".to_owned(), "b".to_owned()];
    let job = r#"{"class":"NoopJob","args":[1]}"#;
    server.cmd(&["RPUSH", "resque:queue:b", job])?;
    server.cmd(&["RPUSH", "resque:queue:b", "not json {"])?;
    let inflight = format!("resque:resque-rs:inflight:{ID}");
    // The script's first use loads it (SCRIPT LOAD): not part of the count.
    s.finish_and_reserve(ID, None, None, "t0", true).await?;

    proxy.reset();
    let got = s
        .finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "t1", true)
        .await?;
    assert_eq!(
        proxy.turns(),
        1,
        "the pop and the in-flight copy share one call"
    );
    assert!(matches!(got, Reserved::Job { ref queue, ref raw, .. } if queue == "b" && raw == job));
    // One string: the queue's name as JSON, a newline, the item's bytes.
    let record = format!("\"b\"\n{job}");
    assert_eq!(server.get_str(&["GET", &inflight]), Some(record.clone()));
    assert_eq!(
        s.inflight(ID).await?,
        Some(InFlight {
            queue: "b".into(),
            item: job.into(),
            record,
        })
    );
    // Ruby's view is unchanged: the job is under worker:<id>, as without reliable mode.
    assert!(
        server
            .get_str(&["GET", &format!("resque:worker:{ID}")])
            .is_some()
    );

    // The next call: the job's bookkeeping removes it; the next item (not JSON) is in
    // flight in its place, whole.
    let done = done_registered();
    proxy.reset();
    let got = s
        .finish_and_reserve(ID, done, Some((&queues, RUN_AT)), "t2", true)
        .await?;
    assert_eq!(proxy.turns(), 1);
    assert!(matches!(got, Reserved::Job { ref raw, written: None, .. } if raw == "not json {"));
    assert_eq!(
        server.get_str(&["GET", &inflight]).as_deref(),
        Some("\"b\"\nnot json {")
    );
    // Its lone bookkeeping (no reservation) empties it. (An item that is not a job is never
    // under worker:<id>.)
    let not_registered = Some(Finished {
        record: None,
        count_failed: false,
        registered: false,
        metrics: None,
    });
    s.finish_and_reserve(ID, not_registered, None, "t3", true)
        .await?;
    assert_eq!(server.get_str(&["GET", &inflight]), None);
    assert_eq!(
        server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
        Some("2")
    );

    // Without reliable mode nothing of ours is written.
    server.cmd(&["RPUSH", "resque:queue:a", job])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "t4", false)
        .await?;
    assert_eq!(server.get_str(&["GET", &inflight]), None);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_dead_workers_job_goes_back_once_then_becomes_a_poison_record() -> Result<()> {
    let (server, s, queues) = setup().await?;
    let job = r#"{"class":"KillerJob","args":[]}"#;
    server.cmd(&["RPUSH", "resque:queue:a", r#"{"class":"Later","args":[]}"#])?;
    server.cmd(&["LPUSH", "resque:queue:a", job])?;
    for round in 1..=3u32 {
        // A new worker each round (the one before died).
        let id = format!("vm:{round}:a");
        let id = id.as_str();
        let got = s
            .finish_and_reserve(id, None, Some((&queues, RUN_AT)), "r", true)
            .await?;
        assert!(
            matches!(got, Reserved::Job { ref raw, .. } if raw == job),
            "{got:?}"
        );
        // The worker dies here. Its job is read back and taken back.
        let held = s.inflight(id).await?.expect("in flight");
        let outcome = s.recover_inflight(id, &held, 2, poison()).await?;
        if round <= 2 {
            assert_eq!(outcome, Recovered::Requeued(round));
            // At the head of its queue, before the job that was waiting behind it.
            assert_eq!(
                server
                    .get_str(&["LINDEX", "resque:queue:a", "0"])
                    .as_deref(),
                Some(job)
            );
            assert_eq!(
                server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
                Some("2")
            );
        } else {
            assert_eq!(outcome, Recovered::Poisoned(3));
            assert_eq!(
                server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
                Some("1")
            );
            assert_eq!(
                server.get_list(&["LRANGE", "resque:failed", "0", "-1"]),
                [poison().record]
            );
            // The count goes with the record: the job retried from Failed starts afresh.
            assert!(
                server
                    .get_list(&["HKEYS", "resque:resque-rs:recoveries"])
                    .is_empty()
            );
        }
        // worker:<id> went in the same step: unregistering records no DirtyExit for it.
        assert_eq!(
            server.get_str(&["GET", &format!("resque:worker:{id}")]),
            None
        );
        // Sent again (a lost reply), it does nothing.
        assert_eq!(
            s.recover_inflight(id, &held, 2, poison()).await?,
            Recovered::Gone
        );
    }
    assert_eq!(
        server.get_str(&["LLEN", "resque:failed"]).as_deref(),
        Some("1")
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_job_that_finishes_forgets_its_recoveries_and_a_refused_requeue_keeps_it() -> Result<()> {
    let (server, s, queues) = setup().await?;
    let job = r#"{"class":"NoopJob","args":[9]}"#;
    server.cmd(&["RPUSH", "resque:queue:a", job])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "x1", true)
        .await?;
    let held = s.inflight(ID).await?.expect("in flight");
    assert_eq!(
        s.recover_inflight(ID, &held, 3, poison()).await?,
        Recovered::Requeued(1)
    );
    // Another worker takes it, and finishes it.
    let next = "vm:78:a";
    s.finish_and_reserve(next, None, Some((&queues, RUN_AT)), "x2", true)
        .await?;
    assert_eq!(
        server
            .get_str(&["HLEN", "resque:resque-rs:recoveries"])
            .as_deref(),
        Some("1")
    );
    let done = done_registered();
    s.finish_and_reserve(next, done, None, "x3", true).await?;
    assert_eq!(
        server
            .get_str(&["HLEN", "resque:resque-rs:recoveries"])
            .as_deref(),
        Some("0")
    );

    // A queue key of the wrong type refuses the requeue: the job stays in flight, whole.
    server.cmd(&["RPUSH", "resque:queue:a", job])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "x4", true)
        .await?;
    server.cmd(&["SET", "resque:queue:a", "not a list"])?;
    let held = s.inflight(ID).await?.expect("in flight");
    assert!(s.recover_inflight(ID, &held, 3, poison()).await.is_err());
    assert_eq!(s.inflight(ID).await?, Some(held));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_job_given_back_goes_to_the_head_of_its_queue_once() -> Result<()> {
    let (server, s, queues) = setup().await?;
    let job = r#"{"class":"NoopJob","args":[1]}"#;
    server.cmd(&[
        "RPUSH",
        "resque:queue:a",
        job,
        r#"{"class":"NoopJob","args":[2]}"#,
    ])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "g1", true)
        .await?;
    assert!(s.give_back(ID, "a", job).await?);
    assert!(!s.give_back(ID, "a", job).await?, "a resend does nothing");
    assert_eq!(
        server
            .get_str(&["LINDEX", "resque:queue:a", "0"])
            .as_deref(),
        Some(job)
    );
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("2")
    );
    assert_eq!(s.inflight(ID).await?, None);
    assert_eq!(
        server.get_str(&["GET", &format!("resque:worker:{ID}")]),
        None
    );
    Ok(())
}

/// A finished job that was under `worker:<id>` while it ran.
fn done_registered() -> Option<Finished<'static>> {
    Some(Finished {
        record: None,
        count_failed: false,
        registered: true,
        metrics: None,
    })
}

#[tokio::test(flavor = "current_thread")]
async fn a_worker_given_up_for_dead_that_finishes_after_all_counts_nothing_twice() -> Result<()> {
    let (server, s, queues) = setup().await?;
    let job = r#"{"class":"NoopJob","args":[1]}"#;
    server.cmd(&["RPUSH", "resque:queue:a", job])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "z1", false)
        .await?;
    // The worker is stopped past its lease; a reaper records its job (DirtyExit, with the
    // mark) and unregisters it, as resque-failure's Backend::unregister_worker does.
    let working = server
        .get_str(&["GET", &format!("resque:worker:{ID}")])
        .expect("registered");
    let target = RecordTo {
        list: "failed",
        record: "{\"exception\":\"Resque::DirtyExit\"}",
        failed_queues_member: None,
    };
    assert!(s.fail_working_on(ID, &working, target).await?);
    s.unregister_worker(ID).await?;
    // It resumes and finishes the job: the reaper's record stands, nothing more is counted.
    s.finish_and_reserve(ID, done_registered(), None, "z2", false)
        .await?;
    assert_eq!(server.get_str(&["GET", "resque:stat:processed"]), None);
    assert_eq!(
        server.get_str(&["LLEN", "resque:failed"]).as_deref(),
        Some("1")
    );
    assert_eq!(
        server.get_str(&["GET", &format!("resque:worker:{ID}")]),
        None
    );
    // The mark is used up: its next job counts.
    server.cmd(&["RPUSH", "resque:queue:a", job])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "z3", false)
        .await?;
    s.finish_and_reserve(ID, done_registered(), None, "z4", false)
        .await?;
    assert_eq!(
        server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
        Some("1")
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_stopped_reliable_worker_that_finishes_takes_its_requeued_copy_back_out() -> Result<()> {
    let (server, s, queues) = setup().await?;
    let job = r#"{"class":"NoopJob","args":[1]}"#;
    let other = r#"{"class":"NoopJob","args":[2]}"#;
    server.cmd(&["RPUSH", "resque:queue:a", job, other])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "s1", true)
        .await?;
    let held = s.inflight(ID).await?.expect("in flight");
    assert_eq!(
        s.recover_inflight(ID, &held, 3, poison()).await?,
        Recovered::Requeued(1)
    );
    s.unregister_worker(ID).await?;
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("2")
    );
    // It was only stopped: it finishes the job, and the copy still waiting goes.
    s.finish_and_reserve(ID, done_registered(), None, "s2", true)
        .await?;
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:a", "0", "-1"]),
        [other]
    );
    assert_eq!(
        server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
        Some("1")
    );
    assert!(
        server
            .get_list(&["HKEYS", "resque:resque-rs:recoveries"])
            .is_empty()
    );
    assert_eq!(
        server
            .get_str(&["EXISTS", &format!("resque:resque-rs:requeued:{ID}")])
            .as_deref(),
        Some("0")
    );

    // Again, but another worker has taken the copy already: it runs twice (at least once),
    // and only the other worker's run counts.
    let other_worker = "vm:78:a";
    server.cmd(&["DEL", "resque:queue:a"])?;
    server.cmd(&["RPUSH", "resque:queue:a", job])?;
    s.finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "s3", true)
        .await?;
    let held = s.inflight(ID).await?.expect("in flight");
    s.recover_inflight(ID, &held, 3, poison()).await?;
    s.unregister_worker(ID).await?;
    let got = s
        .finish_and_reserve(other_worker, None, Some((&queues, RUN_AT)), "o1", true)
        .await?;
    assert!(matches!(got, Reserved::Job { ref raw, .. } if raw == job));
    s.finish_and_reserve(ID, done_registered(), None, "s4", true)
        .await?;
    assert_eq!(
        server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
        Some("1")
    );
    assert_eq!(
        server.get_str(&["GET", &format!("resque:resque-rs:inflight:{other_worker}")]),
        Some(format!("\"a\"\n{job}")),
        "the other worker's run is untouched"
    );
    s.finish_and_reserve(other_worker, done_registered(), None, "o2", true)
        .await?;
    assert_eq!(
        server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
        Some("2")
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_dead_workers_record_is_written_once_however_often_it_is_sent() -> Result<()> {
    let server = RedisServer::start();
    let s = Client::connect(&server.url()).await?.store()?.clone();
    let working =
        r#"{"queue":"a","run_at":"2026-12-01T05:00:00Z","payload":{"class":"NoopJob","args":[]}}"#;
    server.cmd(&["SET", &format!("resque:worker:{ID}"), working])?;
    let target = RecordTo {
        list: "a_failed",
        record: r#"{"exception":"Resque::DirtyExit"}"#,
        failed_queues_member: Some("a_failed"),
    };
    // A different job under worker:<id> than the one read: nothing is written.
    assert!(!s.fail_working_on(ID, "something else", target).await?);
    assert!(s.fail_working_on(ID, working, target).await?);
    // Sent again (a lost reply, fred's resend, a second reaper): no second record.
    assert!(!s.fail_working_on(ID, working, target).await?);
    assert_eq!(
        server.get_list(&["LRANGE", "resque:a_failed", "0", "-1"]),
        [target.record]
    );
    assert_eq!(
        server.get_list(&["SMEMBERS", "resque:failed_queues"]),
        ["a_failed"]
    );
    assert_eq!(
        server.get_str(&["GET", &format!("resque:worker:{ID}")]),
        None
    );
    Ok(())
}
