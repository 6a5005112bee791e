//! Jobs written in Rust: the [`Job`] and [`AsyncJob`] traits, their hooks, the shared state
//! they reach through [`Context`], and the runner that calls them in Ruby's order.
//!
//! A job is a type with a Resque class name, a default queue and an `Args` type. `Args` may
//! be any serde type; how each shape sits in the payload's `"args"` (a struct is one hash
//! argument, a tuple is the argument list, `()` is none) is in [`args`], and matches what
//! Ruby writes for the same `Resque.enqueue`.
//!
//! Hooks follow Ruby's job hooks (SPEC §1.11); where Ruby allows several methods per hook
//! (`before_perform_a`, `before_perform_b`), a Rust job has one method and calls what it needs.
//!
//! | Ruby | here |
//! |---|---|
//! | `before_enqueue` returning `false` cancels | [`Job::before_enqueue`] returns `false` |
//! | `after_enqueue`, `before_dequeue` (false cancels), `after_dequeue` | same names |
//! | `before_perform` raising `DontPerform` | [`Job::before_perform`] returns [`JobError::dont_perform`] |
//! | `around_perform` (may skip the yield) | [`Job::around_perform`] (may skip `perform`) |
//! | `after_perform`, `on_failure` | same names |
//!
//! Layout: [`args`] (shapes of `Args`), `error` ([`JobError`]), `context` ([`Context`]),
//! `registry` ([`Registry`] and shared state), `runtime` ([`JobRuntime`]: the async runtime
//! and Redis connection a worker lends its jobs).

pub mod args;
mod context;
mod error;
mod finite;
mod registry;
mod retry;
mod runtime;

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use args::{args_from_json, args_to_json, payload_for};
pub use context::Context;
pub use error::JobError;
pub use registry::{Registry, RetryHooks};
pub use retry::RetryPolicy;
pub use runtime::JobRuntime;

use crate::{Error, Result};

/// A job type. See the module docs; for `async fn perform`, implement [`AsyncJob`] instead.
///
/// The three settings are required; every hook has a default that does nothing:
///
/// ```
/// use resque_store::{Context, Job, JobError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Export {
///     account: u64,
///     format: String,
/// }
///
/// struct ExportJob;
/// impl Job for ExportJob {
///     // Ruby's class name, as in `"class":"Reports::Export"`.
///     const CLASS: &'static str = "Reports::Export";
///     // Ruby's `@queue`: where `Client::enqueue` puts it.
///     const QUEUE: &'static str = "reports";
///     // One hash argument: `"args":[{"account":7,"format":"csv"}]`.
///     type Args = Export;
///
///     fn perform(args: &Export, ctx: &mut Context) -> Result<(), JobError> {
///         let _rows: u64 = "12".parse()?; // any error converts
///         println!("exporting {} as {} from {}", args.account, args.format, ctx.queue());
///         Ok(())
///     }
///     fn before_enqueue(args: &Export) -> bool {
///         args.account != 0 // false: not enqueued
///     }
///     fn after_enqueue(_: &Export) {}
///     fn before_dequeue(_: &Export) -> bool {
///         true // false: not dequeued
///     }
///     fn after_dequeue(_: &Export) {}
///     fn before_perform(args: &Export, _: &mut Context) -> Result<(), JobError> {
///         if args.format == "none" {
///             return Err(JobError::dont_perform()); // skipped, not failed
///         }
///         Ok(())
///     }
///     fn around_perform(
///         _: &Export,
///         ctx: &mut Context,
///         perform: &mut dyn FnMut(&mut Context) -> Result<(), JobError>,
///     ) -> Result<(), JobError> {
///         let started = std::time::Instant::now();
///         let outcome = perform(ctx); // not calling it skips the job
///         println!("took {:?}", started.elapsed());
///         outcome
///     }
///     fn after_perform(_: &Export, _: &mut Context) -> Result<(), JobError> {
///         Ok(()) // an error here fails the job
///     }
///     fn on_failure(error: &JobError, args: &Export) {
///         eprintln!("export {} failed: {error}", args.account);
///     }
/// }
/// ```
pub trait Job: 'static {
    /// The Resque class name (`Archive`, `Mailers::Welcome`): what goes in `"class"`.
    const CLASS: &'static str;
    /// The default queue (Ruby's `@queue`).
    const QUEUE: &'static str;
    /// The arguments: a tuple is the argument list, a struct or map one hash argument, `()`
    /// none (the whole table is in [`args`]).
    type Args: Serialize + DeserializeOwned + Send + 'static;

    /// Does the work. Under `resque-worker` it runs in a forked child (or in the worker
    /// process with `FORK_PER_JOB=false`).
    fn perform(args: &Self::Args, ctx: &mut Context) -> std::result::Result<(), JobError>;

    /// Runs before enqueueing; `false` cancels the enqueue.
    fn before_enqueue(_args: &Self::Args) -> bool {
        true
    }
    /// Runs after the job is pushed.
    fn after_enqueue(_args: &Self::Args) {}
    /// Runs before a dequeue; `false` cancels it.
    fn before_dequeue(_args: &Self::Args) -> bool {
        true
    }
    /// Runs after a dequeue.
    fn after_dequeue(_args: &Self::Args) {}
    /// Runs before `perform`. Return [`JobError::dont_perform`] to skip the job quietly
    /// (not a failure; counted as processed), any other error to fail it.
    fn before_perform(_args: &Self::Args, _ctx: &mut Context) -> std::result::Result<(), JobError> {
        Ok(())
    }
    /// Wraps `perform`; call `perform(ctx)` to run the job (or don't, to skip it).
    fn around_perform(
        _args: &Self::Args,
        ctx: &mut Context,
        perform: &mut dyn FnMut(&mut Context) -> std::result::Result<(), JobError>,
    ) -> std::result::Result<(), JobError> {
        perform(ctx)
    }
    /// Runs after a successful `perform`; an error here fails the job.
    fn after_perform(_args: &Self::Args, _ctx: &mut Context) -> std::result::Result<(), JobError> {
        Ok(())
    }
    /// Runs once when the job fails, before the failure is recorded.
    fn on_failure(_error: &JobError, _args: &Self::Args) {}

    /// The longest this job may run: a forking worker stops a job that runs longer (the
    /// child signal to its process group, then KILL) and records a `Resque::JobTimeout`
    /// failure, which retries like any other. `None` (the default): no limit, unless the
    /// worker sets one (`--job-timeout`, `--timeout CLASS=SECONDS`).
    const TIMEOUT: Option<std::time::Duration> = None;

    /// resque-retry's settings for this class: `None` (the default) means failures are not
    /// retried and the job costs what it always did; `Some` retries it as resque-retry would
    /// (see [`RetryPolicy`]), sharing the attempt counter with Ruby jobs of the same class.
    fn retry_policy() -> Option<RetryPolicy> {
        None
    }

    /// resque-retry's `retry_criteria_check`: asked (in the worker's parent) when the
    /// exception alone does not allow a retry; `true` retries anyway (within the limit).
    fn retry_criteria(_exception: &str, _message: &str, _args: &Self::Args) -> bool {
        false
    }
    /// resque-retry's `retry_identifier`: the counter key's last part; `None` (the default)
    /// is the SHA1 of the args, as Ruby's default.
    fn retry_identifier(_args: &Self::Args) -> Option<String> {
        None
    }
    /// resque-retry's `retry_args`: the retry's arguments; `None` (the default) retries
    /// with the same.
    fn retry_args(_args: &Self::Args) -> Option<Self::Args> {
        None
    }
    /// resque-retry's `try_again_callback`, in the worker's parent, before the retry is
    /// written.
    fn try_again_callback(_exception: &str, _args: &Self::Args) {}
    /// resque-retry's `give_up_callback`, in the worker's parent, when no retry is left.
    fn give_up_callback(_exception: &str, _args: &Self::Args) {}

    /// resque-scheduler's `before_schedule`: runs before `enqueue_at`/`enqueue_in` writes
    /// the delayed job (or enqueues it at once), and again when the scheduler moves it to its
    /// queue or fires it from a schedule; `false` cancels (a moved item is then dropped, as
    /// in Ruby).
    fn before_schedule(_args: &Self::Args) -> bool {
        true
    }
    /// resque-scheduler's `after_schedule`: after the delayed write, and after the
    /// scheduler's enqueue.
    fn after_schedule(_args: &Self::Args) {}
    /// resque-scheduler's `before_delayed_enqueue`: in the scheduler, when the job leaves
    /// the delayed queue, before the enqueue hooks.
    fn before_delayed_enqueue(_args: &Self::Args) {}

    /// Whether this is an [`AsyncJob`]. Not meant to be overridden.
    #[doc(hidden)]
    const IS_ASYNC: bool = false;

    /// How an async caller runs this job inline ([`crate::Client`] in inline mode): a sync
    /// job runs at once; an [`AsyncJob`] is awaited on the caller's runtime instead of
    /// blocking it. Not meant to be overridden.
    #[doc(hidden)]
    fn run_awaiting<'a>(args: &'a Self::Args, ctx: &'a mut Context) -> BoxRun<'a>
    where
        Self: Sized,
    {
        Box::pin(std::future::ready(run::<Self>(args, ctx)))
    }
}

/// A boxed job run, for [`Job::run_awaiting`]: `Send`, so that an inline enqueue can be
/// awaited in a web handler.
#[doc(hidden)]
pub type BoxRun<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<Performed, JobError>> + Send + 'a>>;

/// A job whose `perform` is an `async fn`, run on the runtime the worker lends
/// ([`JobRuntime`]): in the forked child in fork-per-job mode, in the worker process with
/// `FORK_PER_JOB=false`. Every `AsyncJob` is a [`Job`], so it registers, enqueues and runs
/// inline the same way. The perform hooks are async too; `around_perform` is not offered
/// (wrap the work inside `perform`).
///
/// The futures are `Send` (write `async fn` as usual; a value that is not `Send`, such as
/// an `Rc`, must not live across an `.await`), and `Args` is `Sync`: an inline client runs
/// the job inside its caller's future, and a web handler's future must be `Send`.
///
/// ```
/// use resque_store::{AsyncJob, Context, JobError};
///
/// struct Fetch;
/// impl AsyncJob for Fetch {
///     const CLASS: &'static str = "Fetch";
///     const QUEUE: &'static str = "web";
///     type Args = (String,);
///     async fn perform((url,): &Self::Args, ctx: &mut Context) -> Result<(), JobError> {
///         // e.g. an HTTP client from the worker's shared state: ctx.state::<Http>()?
///         let client = ctx.client().await?;
///         client.enqueue_to("audit", "Fetched", vec![url.as_str().into()]).await?;
///         Ok(())
///     }
/// }
/// ```
pub trait AsyncJob: 'static {
    /// The Resque class name.
    const CLASS: &'static str;
    /// The default queue.
    const QUEUE: &'static str;
    /// The arguments, as [`Job::Args`].
    type Args: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Does the work (write it as `async fn perform`).
    fn perform(
        args: &Self::Args,
        ctx: &mut Context,
    ) -> impl Future<Output = std::result::Result<(), JobError>> + Send;

    /// As [`Job::before_enqueue`].
    fn before_enqueue(_args: &Self::Args) -> bool {
        true
    }
    /// As [`Job::after_enqueue`].
    fn after_enqueue(_args: &Self::Args) {}
    /// As [`Job::before_dequeue`].
    fn before_dequeue(_args: &Self::Args) -> bool {
        true
    }
    /// As [`Job::after_dequeue`].
    fn after_dequeue(_args: &Self::Args) {}
    /// As [`Job::before_perform`] (write it as `async fn before_perform`).
    fn before_perform(
        _args: &Self::Args,
        _ctx: &mut Context,
    ) -> impl Future<Output = std::result::Result<(), JobError>> + Send {
        std::future::ready(Ok(()))
    }
    /// As [`Job::after_perform`] (write it as `async fn after_perform`).
    fn after_perform(
        _args: &Self::Args,
        _ctx: &mut Context,
    ) -> impl Future<Output = std::result::Result<(), JobError>> + Send {
        std::future::ready(Ok(()))
    }
    /// As [`Job::on_failure`].
    fn on_failure(_error: &JobError, _args: &Self::Args) {}
    /// As [`Job::TIMEOUT`].
    const TIMEOUT: Option<std::time::Duration> = None;
    /// As [`Job::retry_policy`].
    fn retry_policy() -> Option<RetryPolicy> {
        None
    }
    /// As [`Job::retry_criteria`].
    fn retry_criteria(_exception: &str, _message: &str, _args: &Self::Args) -> bool {
        false
    }
    /// As [`Job::retry_identifier`].
    fn retry_identifier(_args: &Self::Args) -> Option<String> {
        None
    }
    /// As [`Job::retry_args`].
    fn retry_args(_args: &Self::Args) -> Option<Self::Args> {
        None
    }
    /// As [`Job::try_again_callback`].
    fn try_again_callback(_exception: &str, _args: &Self::Args) {}
    /// As [`Job::give_up_callback`].
    fn give_up_callback(_exception: &str, _args: &Self::Args) {}
    /// As [`Job::before_schedule`].
    fn before_schedule(_args: &Self::Args) -> bool {
        true
    }
    /// As [`Job::after_schedule`].
    fn after_schedule(_args: &Self::Args) {}
    /// As [`Job::before_delayed_enqueue`].
    fn before_delayed_enqueue(_args: &Self::Args) {}
}

/// An async job run from sync code (the worker, the blocking client): each async hook is
/// driven to its end on the job runtime.
impl<J: AsyncJob> Job for J {
    const IS_ASYNC: bool = true;
    const CLASS: &'static str = J::CLASS;
    const QUEUE: &'static str = J::QUEUE;
    type Args = J::Args;

    fn perform(args: &Self::Args, ctx: &mut Context) -> std::result::Result<(), JobError> {
        let rt = ctx.runtime();
        match ctx.time_left() {
            // A worker's timeout, without a child to kill: the future is dropped, which is
            // how an async job is cancelled.
            Some(left) => match rt
                .block_on(async { tokio::time::timeout(left, J::perform(args, ctx)).await })?
            {
                Ok(done) => done,
                Err(_) => Err(JobError::new(
                    JOB_TIMEOUT,
                    format!(
                        "the job ran past its timeout of {} s and was cancelled",
                        left.as_secs_f64()
                    ),
                )),
            },
            None => rt.block_on(J::perform(args, ctx))?,
        }
    }
    fn before_enqueue(args: &Self::Args) -> bool {
        J::before_enqueue(args)
    }
    fn after_enqueue(args: &Self::Args) {
        J::after_enqueue(args)
    }
    fn before_dequeue(args: &Self::Args) -> bool {
        J::before_dequeue(args)
    }
    fn after_dequeue(args: &Self::Args) {
        J::after_dequeue(args)
    }
    fn before_perform(args: &Self::Args, ctx: &mut Context) -> std::result::Result<(), JobError> {
        let rt = ctx.runtime();
        rt.block_on(J::before_perform(args, ctx))?
    }
    fn after_perform(args: &Self::Args, ctx: &mut Context) -> std::result::Result<(), JobError> {
        let rt = ctx.runtime();
        rt.block_on(J::after_perform(args, ctx))?
    }
    fn on_failure(error: &JobError, args: &Self::Args) {
        J::on_failure(error, args)
    }
    const TIMEOUT: Option<std::time::Duration> = J::TIMEOUT;
    fn retry_policy() -> Option<RetryPolicy> {
        J::retry_policy()
    }
    fn retry_criteria(exception: &str, message: &str, args: &Self::Args) -> bool {
        J::retry_criteria(exception, message, args)
    }
    fn retry_identifier(args: &Self::Args) -> Option<String> {
        J::retry_identifier(args)
    }
    fn retry_args(args: &Self::Args) -> Option<Self::Args> {
        J::retry_args(args)
    }
    fn try_again_callback(exception: &str, args: &Self::Args) {
        J::try_again_callback(exception, args)
    }
    fn give_up_callback(exception: &str, args: &Self::Args) {
        J::give_up_callback(exception, args)
    }
    fn before_schedule(args: &Self::Args) -> bool {
        J::before_schedule(args)
    }
    fn after_schedule(args: &Self::Args) {
        J::after_schedule(args)
    }
    fn before_delayed_enqueue(args: &Self::Args) {
        J::before_delayed_enqueue(args)
    }
    fn run_awaiting<'a>(args: &'a Self::Args, ctx: &'a mut Context) -> BoxRun<'a> {
        Box::pin(run_async::<J>(args, ctx))
    }
}

/// `exception` of the record of a job its timeout stopped (ours; Ruby has no timeouts).
pub const JOB_TIMEOUT: &str = "Resque::JobTimeout";

/// Ruby's `Resque.validate`.
pub(crate) fn validate(class: &str, queue: &str) -> Result<()> {
    if queue.is_empty() {
        return Err(Error::NoQueue {
            class: class.to_owned(),
        });
    }
    if class.is_empty() {
        return Err(Error::NoClass);
    }
    Ok(())
}

/// Whether a job ran: Ruby's `Job#perform` return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Performed {
    /// `perform` ran and succeeded.
    Yes,
    /// Skipped by `before_perform` ([`JobError::dont_perform`]) or by `around_perform` not
    /// calling `perform`. Not a failure.
    No,
}

/// Runs a job with its hooks, in Ruby's order: `before_perform`, `around_perform` wrapping
/// `perform`, `after_perform`; on any error, `on_failure` once, then the error is returned.
pub fn run<J: Job>(args: &J::Args, ctx: &mut Context) -> std::result::Result<Performed, JobError> {
    let outcome = (|| {
        if let Err(e) = J::before_perform(args, ctx) {
            if e.is_dont_perform() {
                return Ok(Performed::No);
            }
            return Err(e);
        }
        let mut performed = false;
        J::around_perform(args, ctx, &mut |ctx| {
            J::perform(args, ctx)?;
            performed = true;
            Ok(())
        })?;
        J::after_perform(args, ctx)?;
        Ok(if performed {
            Performed::Yes
        } else {
            Performed::No
        })
    })();
    if let Err(e) = &outcome {
        J::on_failure(e, args);
    }
    outcome
}

/// [`run`] for an [`AsyncJob`], awaited: the same order, each hook awaited.
pub async fn run_async<J: AsyncJob>(
    args: &J::Args,
    ctx: &mut Context,
) -> std::result::Result<Performed, JobError> {
    let outcome = async {
        if let Err(e) = J::before_perform(args, ctx).await {
            if e.is_dont_perform() {
                return Ok(Performed::No);
            }
            return Err(e);
        }
        J::perform(args, ctx).await?;
        J::after_perform(args, ctx).await?;
        Ok(Performed::Yes)
    }
    .await;
    if let Err(e) = &outcome {
        J::on_failure(e, args);
    }
    outcome
}

#[cfg(test)]
mod tests;
