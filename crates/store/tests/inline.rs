//! Inline mode with no Redis at all, as an application's unit tests use it: no server is
//! started here, and none is reachable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use resque_store::{AsyncJob, Client, Context, Error, Job, JobError, Registry};
use serde::{Deserialize, Serialize};

/// The application's "database" in the unit tests: counters the test reads afterwards.
#[derive(Default)]
struct Db {
    welcomes: AtomicU64,
    charged: AtomicU64,
}

/// What the jobs ask for: the shared handle (an application's pool is one too).
type DbHandle = Arc<Db>;

#[derive(Debug, Serialize, Deserialize)]
struct Signup {
    user_id: u64,
    plan: String,
}

struct Welcome;
impl Job for Welcome {
    const CLASS: &'static str = "Welcome";
    const QUEUE: &'static str = "mail";
    type Args = Signup;
    fn perform(signup: &Signup, ctx: &mut Context) -> Result<(), JobError> {
        if signup.plan.is_empty() {
            return Err(JobError::new("ArgumentError", "no plan"));
        }
        ctx.state::<DbHandle>()?
            .welcomes
            .fetch_add(1, Ordering::SeqCst);
        // A sync job enqueueing: inline, it runs at once.
        ctx.enqueue::<Charge>((signup.user_id, 5))?;
        Ok(())
    }
}

struct Charge;
impl AsyncJob for Charge {
    const CLASS: &'static str = "Charge";
    const QUEUE: &'static str = "billing";
    type Args = (u64, u64);
    async fn perform(&(_user, cents): &(u64, u64), ctx: &mut Context) -> Result<(), JobError> {
        tokio::task::yield_now().await;
        ctx.state::<DbHandle>()?
            .charged
            .fetch_add(cents, Ordering::SeqCst);
        Ok(())
    }
}

/// An async job that enqueues from async code, through `ctx.client()`.
struct Onboard;
impl AsyncJob for Onboard {
    const CLASS: &'static str = "Onboard";
    const QUEUE: &'static str = "mail";
    type Args = Signup;
    async fn perform(signup: &Signup, ctx: &mut Context) -> Result<(), JobError> {
        let client = ctx.client().await?;
        client
            .enqueue::<Welcome>(Signup {
                user_id: signup.user_id,
                plan: signup.plan.clone(),
            })
            .await?;
        Ok(())
    }
}

fn registry() -> (Registry, DbHandle) {
    let db = DbHandle::default();
    let mut reg = Registry::new();
    reg.register::<Welcome>()
        .register::<Charge>()
        .register::<Onboard>();
    let shared = Arc::clone(&db);
    reg.state(move || Arc::clone(&shared));
    (reg, db)
}

fn signup(plan: &str) -> Signup {
    Signup {
        user_id: 7,
        plan: plan.to_owned(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn inline_jobs_run_with_state_and_no_redis() -> Result<()> {
    let (reg, db) = registry();
    let client = Client::inline().with_registry(reg);
    assert!(client.is_inline());
    // Async job → typed enqueue of a sync job → sync enqueue of an async job.
    assert!(client.enqueue::<Onboard>(signup("pro")).await?);
    client
        .enqueue_to("billing", "Charge", vec![7.into(), 10.into()])
        .await?;
    assert_eq!(db.welcomes.load(Ordering::SeqCst), 1);
    assert_eq!(db.charged.load(Ordering::SeqCst), 5 + 10);

    // A failing job comes back to the caller, as Ruby's inline mode raises.
    match client.enqueue::<Welcome>(signup("")).await {
        Err(Error::Job { class, error }) => {
            assert_eq!(
                (class.as_str(), error.exception()),
                ("Welcome", "ArgumentError")
            );
        }
        other => panic!("expected the job's error, got {other:?}"),
    }
    // Reading Redis is a clear error, not a hang or a panic.
    let e = client.size("mail").await.expect_err("no Redis");
    assert!(matches!(e, Error::NoRedis(_)), "{e}");
    assert!(e.to_string().starts_with("no Redis connection: "), "{e}");
    Ok(())
}

#[test]
fn the_blocking_client_runs_inline_too() -> Result<()> {
    let (reg, db) = registry();
    let client = resque_store::blocking::Client::inline()?.with_registry(reg);
    // An async job from sync code: the blocking client's runtime drives it.
    assert!(client.enqueue::<Onboard>(signup("pro"))?);
    assert!(client.enqueue::<Charge>((1, 3))?);
    assert_eq!(db.welcomes.load(Ordering::SeqCst), 1);
    assert_eq!(db.charged.load(Ordering::SeqCst), 5 + 3);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn missing_state_and_unknown_classes_are_errors_naming_them() -> Result<()> {
    let mut reg = Registry::new();
    reg.register::<Welcome>();
    let client = Client::inline().with_registry(reg);
    match client.enqueue::<Welcome>(signup("pro")).await {
        Err(Error::Job { error, .. }) => {
            assert_eq!(error.exception(), "Resque::NoState");
            assert!(error.message().contains("alloc::sync::Arc<"), "{error}");
        }
        other => panic!("expected a missing-state failure, got {other:?}"),
    }
    let e = client
        .enqueue_to("q", "Nope", vec![])
        .await
        .expect_err("unknown");
    assert_eq!(
        e.to_string(),
        r#"no job type is registered for class "Nope""#
    );
    Ok(())
}
