//! The hook order of sync and async jobs, and the registry.

use super::*;
use std::sync::Mutex;

type Result<T, E = JobError> = std::result::Result<T, E>;

/// What the hooks did, in order: one per test, since tests may run side by side.
struct Log(Mutex<Vec<String>>);
impl Log {
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }
    fn push(&self, s: impl Into<String>) {
        self.0.lock().expect("log").push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
}

static LOG: Log = Log::new();
fn log(s: impl Into<String>) {
    LOG.push(s);
}
fn take() -> Vec<String> {
    LOG.take()
}

struct Hooked;
impl Job for Hooked {
    const CLASS: &'static str = "Hooked";
    const QUEUE: &'static str = "q";
    type Args = (String,);
    fn perform((mode,): &Self::Args, _: &mut Context) -> Result<(), JobError> {
        log("perform");
        if mode == "fail" {
            return Err(JobError::msg("boom"));
        }
        Ok(())
    }
    fn before_perform((mode,): &Self::Args, _: &mut Context) -> Result<(), JobError> {
        log("before");
        match mode.as_str() {
            "skip" => Err(JobError::dont_perform()),
            "before_fails" => Err(JobError::new("ArgumentError", "bad")),
            _ => Ok(()),
        }
    }
    fn around_perform(
        (mode,): &Self::Args,
        ctx: &mut Context,
        perform: &mut dyn FnMut(&mut Context) -> Result<(), JobError>,
    ) -> Result<(), JobError> {
        log("around start");
        if mode == "around_skips" {
            return Ok(());
        }
        let r = perform(ctx);
        log("around finish");
        r
    }
    fn after_perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        log("after");
        Ok(())
    }
    fn on_failure(e: &JobError, _: &Self::Args) {
        log(format!("on_failure {}", e.exception()));
    }
}

fn go(mode: &str) -> (std::result::Result<Performed, JobError>, Vec<String>) {
    take();
    let r = run::<Hooked>(&(mode.to_owned(),), &mut Context::new("q"));
    (r, take())
}

// One test, because the hooks log to a shared static.
#[test]
fn hook_order_matches_ruby() {
    let (r, l) = go("ok");
    assert_eq!(r, Ok(Performed::Yes));
    assert_eq!(
        l,
        [
            "before",
            "around start",
            "perform",
            "around finish",
            "after"
        ]
    );

    let (r, l) = go("fail");
    assert_eq!(r.expect_err("fails").exception(), "RuntimeError");
    assert_eq!(
        l,
        [
            "before",
            "around start",
            "perform",
            "around finish",
            "on_failure RuntimeError"
        ]
    );

    let (r, l) = go("skip");
    assert_eq!(r, Ok(Performed::No));
    assert_eq!(l, ["before"]);

    let (r, l) = go("before_fails");
    assert_eq!(r.expect_err("fails").exception(), "ArgumentError");
    assert_eq!(l, ["before", "on_failure ArgumentError"]);

    let (r, l) = go("around_skips");
    assert_eq!(r, Ok(Performed::No));
    assert_eq!(l, ["before", "around start", "after"]);
}

struct NoArgs;
impl Job for NoArgs {
    const CLASS: &'static str = "NoArgs";
    const QUEUE: &'static str = "q";
    type Args = ();
    fn perform(_: &(), _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

#[test]
fn registry_runs_what_it_knows() {
    let mut reg = Registry::new();
    reg.register::<Hooked>().register::<NoArgs>();
    assert_eq!(reg.classes(), ["Hooked", "NoArgs"]);
    assert!(reg.perform("Nope", &[], &mut Context::new("q")).is_none());
    assert_eq!(
        reg.perform("NoArgs", &[], &mut Context::new("q")),
        Some(Ok(Performed::Yes))
    );
    let e = reg
        .perform(
            "Hooked",
            &[serde_json::Value::from(1)],
            &mut Context::new("q"),
        )
        .expect("known")
        .expect_err("wrong type");
    assert_eq!(e.exception(), "ArgumentError");
}

static ASYNC_LOG: Log = Log::new();
fn alog(s: impl Into<String>) {
    ASYNC_LOG.push(s);
}
fn atake() -> Vec<String> {
    ASYNC_LOG.take()
}

struct Awaited;
impl AsyncJob for Awaited {
    const CLASS: &'static str = "Awaited";
    const QUEUE: &'static str = "q";
    type Args = (String,);
    async fn perform((mode,): &Self::Args, _: &mut Context) -> Result<(), JobError> {
        // A real suspension point: the runtime's timer must be there.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        alog("perform");
        if mode == "fail" {
            return Err(JobError::msg("boom"));
        }
        Ok(())
    }
    async fn before_perform((mode,): &Self::Args, _: &mut Context) -> Result<(), JobError> {
        alog("before");
        if mode == "skip" {
            return Err(JobError::dont_perform());
        }
        Ok(())
    }
    async fn after_perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        alog("after");
        Ok(())
    }
    fn on_failure(e: &JobError, _: &Self::Args) {
        alog(format!("on_failure {}", e.exception()));
    }
}

// One test, because the hooks log to a shared static.
#[test]
fn async_jobs_keep_the_hook_order_from_sync_and_async_callers() {
    for mode in ["ok", "fail", "skip"] {
        atake();
        let args = (mode.to_owned(),);
        let sync = run::<Awaited>(&args, &mut Context::new("q"));
        let sync_log = atake();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let awaited = rt.block_on(async {
            let mut ctx = Context::new("q");
            Awaited::run_awaiting(&args, &mut ctx).await
        });
        assert_eq!(sync, awaited, "{mode}");
        assert_eq!(sync_log, atake(), "{mode}");
        let want: &[&str] = match mode {
            "ok" => &["before", "perform", "after"],
            "fail" => &["before", "perform", "on_failure RuntimeError"],
            _ => &["before"],
        };
        assert_eq!(sync_log, want, "{mode}");
    }
}

struct Quiet;
impl AsyncJob for Quiet {
    const CLASS: &'static str = "Quiet";
    const QUEUE: &'static str = "q";
    type Args = ();
    async fn perform(_: &(), _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

#[test]
fn an_async_job_called_from_sync_code_inside_a_runtime_fails_instead_of_panicking() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(async { run::<Quiet>(&(), &mut Context::new("q")) });
    let e = outcome.expect_err("refused");
    assert_eq!(e.exception(), "RuntimeError");
    assert!(e.message().contains("already runs an async runtime"), "{e}");
}
