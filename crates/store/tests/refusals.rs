//! Redis answering errors on the worker's path, against real servers: out of memory
//! (`maxmemory` with `noeviction`) and a read-only replica. A clear error or a retry,
//! nothing lost, nothing half-done.

use std::time::Duration;

use anyhow::Result;
use resque_protocol::Failure;
use resque_store::{Client, Context, Error, Finished, Job, JobError, Reserved};
use resque_test_support::{RedisServer, eventually};

const ID: &str = "vm:9:a";
const RUN_AT: &str = "2026-12-01T05:00:00Z";

struct Noop;
impl Job for Noop {
    const CLASS: &'static str = "NoopJob";
    const QUEUE: &'static str = "a";
    type Args = (u64,);
    fn perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

fn failure() -> Failure {
    Failure {
        failed_at: "2026/12/01 05:00:01 UTC".into(),
        payload: serde_json::json!({"class": "NoopJob", "args": [1]}),
        exception: "RuntimeError".into(),
        error: "boom".into(),
        backtrace: vec![],
        worker: ID.into(),
        queue: "a".into(),
        retried_at: None,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn out_of_memory_refuses_enqueues_clearly_and_never_a_jobs_bookkeeping() -> Result<()> {
    let server = RedisServer::start();
    let c = Client::connect(&server.url()).await?;
    let s = c.store()?.clone();
    let queues = vec!["a".to_owned()];
    for n in 1..=2u64 {
        c.enqueue::<Noop>((n,)).await?;
    }
    // Over the limit from now on: Redis refuses every write that adds data.
    server.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])?;
    server.cmd(&["CONFIG", "SET", "maxmemory", "1"])?;

    let err = c.enqueue::<Noop>((3,)).await.expect_err("refused");
    assert!(err.to_string().contains("OOM"), "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    assert_eq!(
        server.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("2")
    );

    // Taking a job frees memory (LPOP), and the script may then write.
    let got = s
        .finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "t1", false)
        .await?;
    assert!(matches!(got, Reserved::Job { .. }), "{got:?}");
    // The job failed: its record, its counts and the next reservation all go through,
    // because the script's first write is a DEL, which Redis allows when out of memory.
    let record = failure();
    let finished = Some(Finished {
        record: Some(("failed", &record)),
        count_failed: true,
        registered: true,
        metrics: None,
    });
    let got = s
        .finish_and_reserve(ID, finished, Some((&queues, RUN_AT)), "t2", false)
        .await?;
    assert!(matches!(got, Reserved::Job { .. }), "{got:?}");
    assert_eq!(
        server.get_list(&["LRANGE", "resque:failed", "0", "-1"]),
        [record.encode()?]
    );
    assert_eq!(
        server.get_str(&["GET", "resque:stat:failed"]).as_deref(),
        Some("1")
    );
    assert_eq!(
        server.get_str(&["GET", "resque:stat:processed"]).as_deref(),
        Some("1")
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_only_replica_refuses_before_writing_and_the_call_can_be_sent_again() -> Result<()> {
    let master = RedisServer::start_tcp();
    let replica = RedisServer::start();
    let port = master.port().expect("tcp").to_string();
    let c = Client::connect(&master.url()).await?;
    c.enqueue::<Noop>((1,)).await?;
    replica.cmd(&["REPLICAOF", "127.0.0.1", &port])?;
    assert!(eventually(Duration::from_secs(10), || {
        replica.get_str(&["LLEN", "resque:queue:a"]).as_deref() == Some("1")
    }));
    let r = Client::connect(&replica.url()).await?;
    let s = r.store()?.clone();
    let queues = vec!["a".to_owned()];

    let err = r.enqueue::<Noop>((2,)).await.expect_err("refused");
    assert!(err.to_string().contains("READONLY"), "{err}");

    // Taking a job: the LPOP is refused, reported, and nothing is taken.
    let got = s
        .finish_and_reserve(ID, None, Some((&queues, RUN_AT)), "t1", false)
        .await?;
    assert!(
        matches!(&got, Reserved::Failed(e) if e.contains("READONLY")),
        "{got:?}"
    );
    // A job's bookkeeping: refused before anything was written, so the worker keeps it and
    // sends it again (to the new master) instead of dropping it as half-done.
    let done = Some(Finished {
        record: None,
        count_failed: false,
        registered: true,
        metrics: None,
    });
    let err = s
        .finish_and_reserve(ID, done, Some((&queues, RUN_AT)), "t2", false)
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::WritesRefused(_)), "{err:?}");
    assert!(err.can_resend());
    assert_eq!(
        master.get_str(&["LLEN", "resque:queue:a"]).as_deref(),
        Some("1")
    );
    assert_eq!(master.get_str(&["GET", "resque:stat:processed"]), None);
    Ok(())
}
