//! Several workers' reservations in one script call (`Store::send_sections`), against a
//! real `redis-server` per test: one round trip for all of them, each worker's part done as
//! its own call would have done it, in the order given, and a resent call answered from
//! each part's record rather than run twice.

use anyhow::Result;
use resque_protocol::Failure;
use resque_store::{Client, Finished, Reserved, Store};
use resque_test_support::{RedisServer, RoundTripProxy};

const RUN_AT: &str = "2026-12-01T05:00:00Z";
const IDS: [&str; 3] = ["vm:9:a,b", "vm:9:a,b,!slot-1", "vm:9:b"];

fn job(n: u32) -> String {
    format!(r#"{{"class":"NoopJob","args":[{n}]}}"#)
}

fn failure(worker: &str) -> Failure {
    Failure {
        failed_at: "2026/12/01 05:00:01 UTC".into(),
        payload: serde_json::json!({"class": "NoopJob", "args": [1]}),
        exception: "RuntimeError".into(),
        error: "boom".into(),
        backtrace: vec![],
        worker: worker.into(),
        queue: "a".into(),
        retried_at: None,
    }
}

fn get(server: &RedisServer, key: &str) -> Option<String> {
    server.get_str(&["GET", &format!("resque:{key}")])
}

/// Each worker has a store of its own, as each job slot does.
async fn stores(url: &str) -> Result<Vec<Store>> {
    let mut out = Vec::new();
    for _ in IDS {
        out.push(Client::connect(url).await?.store()?.clone());
    }
    Ok(out)
}

#[tokio::test(flavor = "current_thread")]
async fn several_workers_reserve_and_finish_in_one_round_trip_as_each_alone_would() -> Result<()> {
    let server = RedisServer::start();
    let proxy = RoundTripProxy::start(&server);
    let stores = stores(&proxy.url()).await?;
    for n in 1..=3 {
        server.cmd(&["RPUSH", "resque:queue:a", &job(n)])?;
    }
    server.cmd(&["RPUSH", "resque:queue:b", &job(10)])?;
    let ab = vec!["a".to_owned(), "b".to_owned()];
    let b = vec!["b".to_owned()];
    let queues = [&ab, &ab, &b];
    // The script's first use loads it (SCRIPT LOAD): not part of the count.
    stores[0]
        .finish_and_reserve(IDS[0], None, None, "load", false)
        .await?;

    // Round 1: all three take a job; priorities hold per worker, in the order given.
    let sections = (0..3)
        .map(|i| stores[i].reserve_section(IDS[i], None, Some((queues[i], RUN_AT)), "t1", false))
        .collect::<resque_store::Result<Vec<_>>>()?;
    proxy.reset();
    let replies = stores[0].send_sections(&sections).await?;
    assert_eq!(proxy.turns(), 1, "three reservations share one round trip");
    let got: Vec<Reserved> = replies
        .into_iter()
        .enumerate()
        .map(|(i, r)| stores[i].read_reserved(IDS[i], Some((queues[i], RUN_AT)), r))
        .collect::<resque_store::Result<_>>()?;
    let taken: Vec<(&str, &str)> = got
        .iter()
        .map(|r| match r {
            Reserved::Job { queue, raw, .. } => (queue.as_str(), raw.as_str()),
            other => panic!("expected a job, got {other:?}"),
        })
        .collect();
    assert_eq!(
        taken,
        vec![
            ("a", job(1).as_str()),
            ("a", job(2).as_str()),
            ("b", job(10).as_str())
        ]
    );
    for (i, r) in got.iter().enumerate() {
        let Reserved::Job { written, .. } = r else {
            unreachable!()
        };
        assert_eq!(get(&server, &format!("worker:{}", IDS[i])), written.clone());
    }

    // Round 2: the first finishes and takes the last job; the second fails (a record);
    // the third finishes and takes nothing (its queue is empty).
    let record = failure(IDS[1]);
    let done = Finished {
        record: None,
        count_failed: false,
        registered: true,
        metrics: None,
    };
    let failed = Finished {
        record: Some(("failed", &record)),
        count_failed: true,
        registered: true,
        metrics: None,
    };
    let round2 = |stores: &[Store]| {
        vec![
            stores[0].reserve_section(IDS[0], Some(done), Some((&ab, RUN_AT)), "t2", false),
            stores[1].reserve_section(IDS[1], Some(failed), Some((&ab, RUN_AT)), "t2", false),
            stores[2].reserve_section(IDS[2], Some(done), Some((&b, RUN_AT)), "t2", false),
        ]
        .into_iter()
        .collect::<resque_store::Result<Vec<_>>>()
    };
    let sections = round2(&stores)?;
    proxy.reset();
    let replies = stores[0].send_sections(&sections).await?;
    assert_eq!(proxy.turns(), 1);
    let first: Vec<Reserved> = replies
        .into_iter()
        .enumerate()
        .map(|(i, r)| stores[i].read_reserved(IDS[i], Some((queues[i], RUN_AT)), r))
        .collect::<resque_store::Result<_>>()?;
    assert!(matches!(&first[0], Reserved::Job { raw, .. } if *raw == job(3)));
    assert_eq!(first[1], Reserved::Empty);
    assert_eq!(first[2], Reserved::Empty);
    let counts = |server: &RedisServer| {
        [
            get(server, "stat:processed"),
            get(server, "stat:failed"),
            get(server, &format!("stat:processed:{}", IDS[0])),
            get(server, &format!("stat:processed:{}", IDS[1])),
            get(server, &format!("stat:failed:{}", IDS[1])),
            get(server, &format!("stat:processed:{}", IDS[2])),
            server.get_str(&["LLEN", "resque:failed"]),
        ]
    };
    let after = counts(&server);
    let one = Some("1".to_owned());
    assert_eq!(
        after,
        [
            Some("3".into()),
            one.clone(),
            one.clone(),
            one.clone(),
            one.clone(),
            one.clone(),
            one
        ]
    );
    assert_eq!(
        server
            .get_str(&["LINDEX", "resque:failed", "0"])
            .map(|r| Failure::decode(r.as_bytes()))
            .transpose()?,
        Some(record.clone())
    );
    // As N workers alone would leave it: the busy one registered, the others not.
    assert!(get(&server, &format!("worker:{}", IDS[0])).is_some());
    assert_eq!(get(&server, &format!("worker:{}", IDS[1])), None);
    assert_eq!(get(&server, &format!("worker:{}", IDS[2])), None);

    // The same call again (its reply lost): every part answers what it did, and nothing
    // is counted or taken twice.
    server.cmd(&["RPUSH", "resque:queue:a", &job(4)])?;
    let again: Vec<Reserved> = stores[2]
        .send_sections(&round2(&stores)?)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, r)| stores[i].read_reserved(IDS[i], Some((queues[i], RUN_AT)), r))
        .collect::<resque_store::Result<_>>()?;
    assert_eq!(again, first);
    assert_eq!(counts(&server), after);
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("1"),
        "the job pushed since was not taken"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_pause_stops_every_part_after_its_bookkeeping() -> Result<()> {
    let server = RedisServer::start();
    let stores = stores(&server.url()).await?;
    let a = vec!["a".to_owned()];
    for n in 1..=2 {
        server.cmd(&["RPUSH", "resque:queue:a", &job(n)])?;
    }
    let sections = (0..2)
        .map(|i| stores[i].reserve_section(IDS[i], None, Some((&a, RUN_AT)), "p1", false))
        .collect::<resque_store::Result<Vec<_>>>()?;
    stores[0].send_sections(&sections).await?;
    server.cmd(&["SET", "resque:pause-all-workers", " TRUE\n"])?;
    let done = Some(Finished {
        record: None,
        count_failed: false,
        registered: true,
        metrics: None,
    });
    let sections = (0..2)
        .map(|i| stores[i].reserve_section(IDS[i], done, Some((&a, RUN_AT)), "p2", false))
        .collect::<resque_store::Result<Vec<_>>>()?;
    let got: Vec<Reserved> = stores[0]
        .send_sections(&sections)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, r)| stores[i].read_reserved(IDS[i], Some((&a, RUN_AT)), r))
        .collect::<resque_store::Result<_>>()?;
    assert_eq!(got, vec![Reserved::Paused, Reserved::Paused]);
    assert_eq!(get(&server, "stat:processed").as_deref(), Some("2"));
    assert_eq!(get(&server, &format!("worker:{}", IDS[0])), None);
    assert_eq!(get(&server, &format!("worker:{}", IDS[1])), None);
    Ok(())
}

/// Over TCP, a call sent while another's reply is awaited goes out at once: the two share
/// one delay of a slow link. (fred leaves Nagle's algorithm on by default, which held the
/// second call back until the first reply's ACK: two delays.) Thirty pairs, after the
/// connection's first exchanges (when Linux still ACKs at once); the margin is half a delay
/// a pair, so this checks behaviour, not speed.
#[tokio::test(flavor = "current_thread")]
async fn calls_sent_together_over_tcp_share_one_delay() -> Result<()> {
    let server = RedisServer::start_tcp();
    let upstream = format!("127.0.0.1:{}", server.port().unwrap_or(0)).parse()?;
    let delay = std::time::Duration::from_millis(20);
    let proxy = resque_test_support::DelayProxy::start(upstream, delay)?;
    let s = Client::connect(&format!("redis://{}/0", proxy.url()))
        .await?
        .store()?
        .clone();
    let a = vec!["a".to_owned()];
    let section = |t: &str| s.reserve_section(IDS[0], None, Some((&a, RUN_AT)), t, false);
    s.send_sections(&[section("load")?]).await?;
    let pairs = 30;
    let started = std::time::Instant::now();
    for n in 0..pairs {
        let (one, two) = ([section(&format!("a{n}"))?], [section(&format!("b{n}"))?]);
        let (x, y) = tokio::join!(s.send_sections(&one), s.send_sections(&two));
        x?;
        y?;
    }
    let took = started.elapsed();
    assert!(
        took < delay * pairs * 3 / 2,
        "{pairs} pairs of calls sent together took {took:?}, one delay each is {:?}",
        delay * pairs
    );
    Ok(())
}

/// Job metrics summed by a worker go with its call: added once however often the call is
/// sent again under its token (its reply lost), each part's own in a shared call, and a
/// call with nothing to finish or reserve carries them too.
#[tokio::test(flavor = "current_thread")]
async fn summed_job_metrics_are_added_once_per_call_whatever_is_resent() -> Result<()> {
    use resque_protocol::metrics::{self, Sums};
    let server = RedisServer::start();
    let stores = stores(&server.url()).await?;
    let a = vec!["a".to_owned()];
    server.cmd(&["RPUSH", "resque:queue:a", &job(1)])?;
    let now = jiff::Timestamp::now();
    let mut sums = Sums::default();
    for ms in [2, 3, 700] {
        sums.add(now, "a", "NoopJob", ms, ms == 700);
    }
    let section = |i: usize, token: &str, sums: &Sums| -> resque_store::Result<_> {
        let mut s = stores[i].reserve_section(IDS[i], None, Some((&a, RUN_AT)), token, false)?;
        s.add_sums(sums);
        Ok(s)
    };
    // Sent, then sent again with the same token: the job comes back again, the sums count once.
    for _ in 0..2 {
        let reply = stores[0].send_section(&section(0, "t1", &sums)?).await?;
        assert!(matches!(
            stores[0].read_reserved(IDS[0], Some((&a, RUN_AT)), reply)?,
            Reserved::Job { .. }
        ));
    }
    let total = || {
        let flat = server.get_list(&["HGETALL", "resque:resque-rs:metrics:total"]);
        let pairs: Vec<(String, String)> = flat
            .chunks(2)
            .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
            .collect();
        metrics::read_hash(pairs.iter().map(|(f, v)| (f.as_str(), v.as_str())))
            .remove(&("a".to_owned(), "NoopJob".to_owned()))
            .unwrap_or_default()
    };
    let got = total();
    assert_eq!((got.runs, got.failed, got.millis), (3, 1, 705));
    assert_eq!(got.buckets[1], 2, "2 and 3 ms in the 5 ms bucket");
    assert_eq!(got.buckets[6], 1, "700 ms in the 1 s bucket");
    // Two parts in one call, each with its own sums, and a part that only carries sums.
    let mut one = Sums::default();
    one.add(now, "a", "NoopJob", 1, false);
    let parts = [section(1, "t2", &one)?, {
        let mut s = stores[2].reserve_section(IDS[2], None, None, "t3", false)?;
        s.add_sums(&one);
        s
    }];
    stores[1].send_sections(&parts).await?;
    stores[1].send_sections(&parts).await?;
    assert_eq!(total().runs, 5, "two parts' sums, once each");
    // The minute's and the hour's keys hold the same and expire; the total too.
    let minute = format!("resque:resque-rs:metrics:{}", metrics::minute(now));
    let hour = format!("resque:resque-rs:metrics-hour:{}", metrics::hour(now));
    for (key, most) in [
        (minute.as_str(), metrics::MINUTE_TTL),
        (hour.as_str(), metrics::HOUR_TTL),
        ("resque:resque-rs:metrics:total", metrics::HISTORY_TTL),
    ] {
        let ttl = match server.cmd(&["TTL", key])? {
            resque_test_support::Resp::Integer(t) => t,
            other => anyhow::bail!("TTL {key}: {other:?}"),
        };
        let most = i64::try_from(most.as_secs())?;
        assert!((most - 60..=most).contains(&ttl), "{key}: {ttl}");
        assert_eq!(
            server.get_str(&[
                "HGET",
                key,
                &format!("n|{}", metrics::field_suffix("a", "NoopJob"))
            ]),
            Some("5".to_owned()),
            "{key}"
        );
    }
    Ok(())
}
