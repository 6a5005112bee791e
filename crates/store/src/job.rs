//! Jobs written in Rust: the [`Job`] trait, its hooks, and the runner that calls them in
//! Ruby's order.
//!
//! A job is a type with a Resque class name, a default queue and an `Args` type that
//! serializes to a JSON array (a tuple: `(u64, String)`, `(f64,)`, `()`), so what Ruby
//! enqueues as `Resque.enqueue(Archive, 44, "masterbrew")` is `Archive::Args = (u64, String)`.
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

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Error, Result};

/// A job type. See the module docs.
///
/// ```
/// use resque_store::{Context, Job, JobError};
///
/// struct Archive;
/// impl Job for Archive {
///     const CLASS: &'static str = "Archive";
///     const QUEUE: &'static str = "file_serve";
///     type Args = (u64, String);
///     fn perform((id, branch): &Self::Args, _ctx: &mut Context) -> Result<(), JobError> {
///         if branch.is_empty() {
///             return Err(JobError::msg(format!("no branch for {id}")));
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Job: 'static {
    /// The Resque class name (`Archive`, `Mailers::Welcome`): what goes in `"class"`.
    const CLASS: &'static str;
    /// The default queue (Ruby's `@queue`).
    const QUEUE: &'static str;
    /// The arguments; must serialize to a JSON array (use a tuple; `()` is no arguments).
    type Args: Serialize + DeserializeOwned + Send + 'static;

    /// Does the work. Runs in a forked child under `resque-worker`.
    fn perform(args: &Self::Args, ctx: &mut Context) -> Result<(), JobError>;

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
    fn before_perform(_args: &Self::Args, _ctx: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
    /// Wraps `perform`; call `perform(ctx)` to run the job (or don't, to skip it).
    fn around_perform(
        _args: &Self::Args,
        ctx: &mut Context,
        perform: &mut dyn FnMut(&mut Context) -> Result<(), JobError>,
    ) -> Result<(), JobError> {
        perform(ctx)
    }
    /// Runs after a successful `perform`; an error here fails the job.
    fn after_perform(_args: &Self::Args, _ctx: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
    /// Runs once when the job fails, before the failure is recorded.
    fn on_failure(_error: &JobError, _args: &Self::Args) {}
}

/// Why a job failed: what a Ruby exception carries into a failure record.
#[derive(Clone, PartialEq, Eq)]
pub struct JobError {
    exception: String,
    message: String,
    backtrace: Vec<String>,
}

impl JobError {
    /// Ruby's `Resque::Job::DontPerform`.
    pub const DONT_PERFORM: &'static str = "Resque::Job::DontPerform";

    /// An error with an exception class name, as it will show in `"exception"`.
    pub fn new(exception: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            exception: exception.into(),
            message: message.into(),
            backtrace: Vec::new(),
        }
    }

    /// A plain error, recorded as `RuntimeError` (Ruby's `raise "message"`).
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new("RuntimeError", message)
    }

    /// Skip the job without a failure (from [`Job::before_perform`]).
    pub fn dont_perform() -> Self {
        Self::new(Self::DONT_PERFORM, "")
    }

    /// Adds backtrace frames (innermost first).
    pub fn with_backtrace(mut self, frames: Vec<String>) -> Self {
        self.backtrace = frames;
        self
    }

    /// The exception class name.
    pub fn exception(&self) -> &str {
        &self.exception
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The backtrace frames.
    pub fn backtrace(&self) -> &[String] {
        &self.backtrace
    }

    /// Whether this is [`JobError::dont_perform`].
    pub fn is_dont_perform(&self) -> bool {
        self.exception == Self::DONT_PERFORM
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception, self.message)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception, self.message)
    }
}

/// Any error converts, so `?` works inside `perform`; the exception name is the error's
/// type name (`ParseIntError`), its message the error's `Display` with its sources.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for JobError {
    fn from(e: E) -> Self {
        let name = std::any::type_name::<E>();
        let short = name.rsplit("::").next().unwrap_or(name);
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self::new(short, message)
    }
}

/// A function that pushes a payload to a queue (see [`Context::with_pusher`]).
pub type Pusher = Arc<dyn Fn(&str, &resque_protocol::Payload) -> Result<()> + Send + Sync>;

/// Where `Context::enqueue` sends jobs.
#[derive(Clone)]
pub(crate) enum Sink {
    /// Inline mode: run at once, touch no Redis.
    Inline(Arc<Registry>),
    /// A callback that pushes to Redis (the worker gives the child a lazily connected one).
    Push(Pusher),
    /// Enqueueing is not available (a job run by `perform_now` without a client).
    None,
}

/// What a running job can reach: its queue, its worker and a way to enqueue more jobs.
pub struct Context {
    queue: String,
    worker: Option<String>,
    sink: Sink,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("queue", &self.queue)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for a job from `queue`, with no way to enqueue (tests, simple callers).
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            worker: None,
            sink: Sink::None,
        }
    }

    /// A context whose enqueues go through `push(queue, payload)`.
    pub fn with_pusher(queue: impl Into<String>, worker: Option<String>, push: Pusher) -> Self {
        Self {
            queue: queue.into(),
            worker,
            sink: Sink::Push(push),
        }
    }

    pub(crate) fn inline(queue: impl Into<String>, registry: Arc<Registry>) -> Self {
        Self {
            queue: queue.into(),
            worker: None,
            sink: Sink::Inline(registry),
        }
    }

    /// The queue the job came from (`inline` in inline mode, as in Ruby).
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The id of the worker running the job, if any.
    pub fn worker(&self) -> Option<&str> {
        self.worker.as_deref()
    }

    /// Enqueues a job from inside `perform`, with its enqueue hooks. Returns `false` when
    /// `before_enqueue` cancelled it.
    pub fn enqueue<J: Job>(&mut self, args: J::Args) -> Result<bool> {
        self.enqueue_to::<J>(J::QUEUE, args)
    }

    /// [`Context::enqueue`] to a given queue.
    pub fn enqueue_to<J: Job>(&mut self, queue: &str, args: J::Args) -> Result<bool> {
        if !J::before_enqueue(&args) {
            return Ok(false);
        }
        validate(J::CLASS, queue)?;
        match &self.sink {
            Sink::Inline(registry) => {
                let mut ctx = Context::inline("inline", Arc::clone(registry));
                run::<J>(&args, &mut ctx).map_err(|error| Error::Job {
                    class: J::CLASS.to_owned(),
                    error,
                })?;
            }
            Sink::Push(push) => push(queue, &payload_for::<J>(&args)?)?,
            Sink::None => {
                return Err(Error::UnknownClass(format!(
                    "{} (this context cannot enqueue)",
                    J::CLASS
                )));
            }
        }
        J::after_enqueue(&args);
        Ok(true)
    }
}

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

/// Serializes job args to the JSON array that goes in `"args"`.
pub fn args_to_json<J: Job>(args: &J::Args) -> Result<Vec<Value>> {
    match serde_json::to_value(args).map_err(|e| resque_protocol::Error::Encode(e.to_string()))? {
        Value::Array(a) => Ok(a),
        // `()` serializes as null: no arguments.
        Value::Null => Ok(Vec::new()),
        other => Err(Error::ArgsNotArray {
            class: J::CLASS.to_owned(),
            found: other.to_string().chars().take(80).collect(),
        }),
    }
}

/// Reads job args back from the JSON array in `"args"`.
pub fn args_from_json<J: Job>(args: &[Value]) -> std::result::Result<J::Args, JobError> {
    let value = Value::Array(args.to_vec());
    serde_json::from_value::<J::Args>(value)
        .or_else(|e| {
            // `()` deserializes from null, not from [].
            if args.is_empty() {
                serde_json::from_value::<J::Args>(Value::Null).map_err(|_| e)
            } else {
                Err(e)
            }
        })
        .map_err(|e| {
            JobError::new(
                "ArgumentError",
                format!(
                    "arguments {} do not fit {}: {e}",
                    Value::Array(args.to_vec()),
                    J::CLASS
                ),
            )
        })
}

/// The payload for a typed job.
pub fn payload_for<J: Job>(args: &J::Args) -> Result<resque_protocol::Payload> {
    Ok(resque_protocol::Payload::new(
        J::CLASS,
        args_to_json::<J>(args)?,
    ))
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

type Runner = fn(&[Value], &mut Context) -> std::result::Result<Performed, JobError>;
type FailureHook = fn(&JobError, &[Value]);

/// Job types by class name: what turns a payload into a call (the Rust side of Ruby's
/// `constantize`).
#[derive(Default, Clone)]
pub struct Registry {
    jobs: HashMap<String, (Runner, FailureHook)>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.jobs.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("classes", &names).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a job type under its class name.
    pub fn register<J: Job>(&mut self) -> &mut Self {
        fn runner<J: Job>(
            args: &[Value],
            ctx: &mut Context,
        ) -> std::result::Result<Performed, JobError> {
            let args = args_from_json::<J>(args)?;
            run::<J>(&args, ctx)
        }
        fn failure_hook<J: Job>(error: &JobError, args: &[Value]) {
            if let Ok(args) = args_from_json::<J>(args) {
                J::on_failure(error, &args);
            }
        }
        self.jobs
            .insert(J::CLASS.to_owned(), (runner::<J>, failure_hook::<J>));
        self
    }

    /// Whether a class is registered.
    pub fn contains(&self, class: &str) -> bool {
        self.jobs.contains_key(class)
    }

    /// Registered class names, sorted.
    pub fn classes(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.jobs.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Runs the job a payload names. `None` when no type is registered for its class.
    pub fn perform(
        &self,
        class: &str,
        args: &[Value],
        ctx: &mut Context,
    ) -> Option<std::result::Result<Performed, JobError>> {
        let (runner, _) = self.jobs.get(class)?;
        Some(runner(args, ctx))
    }

    /// Runs a class's `on_failure` hook for a failure found outside `perform` (a child
    /// killed by a signal, a worker pruned mid-job).
    pub fn on_failure(&self, class: &str, error: &JobError, args: &[Value]) {
        if let Some((_, hook)) = self.jobs.get(class) {
            hook(error, args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
    fn log(s: impl Into<String>) {
        LOG.lock().expect("log").push(s.into());
    }
    fn take() -> Vec<String> {
        std::mem::take(&mut *LOG.lock().expect("log"))
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

    struct BadArgs;
    impl Job for BadArgs {
        const CLASS: &'static str = "BadArgs";
        const QUEUE: &'static str = "q";
        type Args = std::collections::BTreeMap<String, u32>;
        fn perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
            Ok(())
        }
    }

    #[test]
    fn args_encoding() {
        assert_eq!(
            args_to_json::<NoArgs>(&()).expect("encodes"),
            Vec::<Value>::new()
        );
        args_from_json::<NoArgs>(&[]).expect("() from []");
        assert!(matches!(
            args_to_json::<BadArgs>(&Default::default()),
            Err(Error::ArgsNotArray { .. })
        ));
        let e = args_from_json::<Hooked>(&[Value::from(1)]).expect_err("wrong type");
        assert_eq!(e.exception(), "ArgumentError");
        let mut reg = Registry::new();
        reg.register::<Hooked>().register::<NoArgs>();
        assert_eq!(reg.classes(), ["Hooked", "NoArgs"]);
        assert!(reg.perform("Nope", &[], &mut Context::new("q")).is_none());
        assert_eq!(
            reg.perform("NoArgs", &[], &mut Context::new("q")),
            Some(Ok(Performed::Yes))
        );
    }

    #[test]
    fn std_errors_convert() {
        let e: JobError = "x".parse::<u32>().expect_err("not a number").into();
        assert_eq!(e.exception(), "ParseIntError");
        assert_eq!(e.message(), "invalid digit found in string");
    }
}
