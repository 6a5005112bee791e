//! [`Registry`]: job types by class name, and the shared state their jobs reach.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{BoxRun, Context, Job, JobError, JobRuntime, Performed, args_from_json, run};

type Runner = fn(&[Value], &mut Context) -> std::result::Result<Performed, JobError>;
type AwaitingRunner = for<'a> fn(&'a [Value], &'a mut Context) -> BoxRun<'a>;
type FailureHook = fn(&JobError, &[Value]);
type ScheduleHook = fn(&[Value]) -> std::result::Result<bool, JobError>;
type AfterScheduleHook = fn(&[Value]);

type Shared = Arc<dyn Any + Send + Sync>;
type Make = Box<dyn Fn() -> std::result::Result<Shared, JobError> + Send + Sync>;

/// One kind of shared state: how to make it, and the value once made.
struct Slot {
    type_name: &'static str,
    make: Make,
    value: Mutex<Option<Shared>>,
}

#[derive(Clone, Copy)]
struct Entry {
    run: Runner,
    run_awaiting: AwaitingRunner,
    on_failure: FailureHook,
    queue: &'static str,
    before_scheduled_enqueue: ScheduleHook,
    after_scheduled_enqueue: AfterScheduleHook,
    retry_policy: fn() -> Option<super::RetryPolicy>,
    timeout: Option<std::time::Duration>,
    retry_hooks: RetryHooks,
}

/// A class's resque-retry hooks, on its args as JSON (see [`Registry::retry_hooks`]).
#[derive(Clone, Copy)]
pub struct RetryHooks {
    criteria: fn(&str, &str, &[Value]) -> bool,
    identifier: fn(&[Value]) -> Option<String>,
    args: fn(&[Value]) -> Option<Vec<Value>>,
    try_again: fn(&str, &[Value]),
    give_up: fn(&str, &[Value]),
}

impl std::fmt::Debug for RetryHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryHooks")
    }
}

impl RetryHooks {
    fn of<J: Job>() -> Self {
        fn criteria<J: Job>(e: &str, m: &str, a: &[Value]) -> bool {
            args_from_json::<J>(a).is_ok_and(|a| J::retry_criteria(e, m, &a))
        }
        fn identifier<J: Job>(a: &[Value]) -> Option<String> {
            J::retry_identifier(&args_from_json::<J>(a).ok()?)
        }
        fn retry_args<J: Job>(a: &[Value]) -> Option<Vec<Value>> {
            let new = J::retry_args(&args_from_json::<J>(a).ok()?)?;
            super::args_to_json::<J>(&new).ok()
        }
        fn try_again<J: Job>(e: &str, a: &[Value]) {
            if let Ok(a) = args_from_json::<J>(a) {
                J::try_again_callback(e, &a);
            }
        }
        fn give_up<J: Job>(e: &str, a: &[Value]) {
            if let Ok(a) = args_from_json::<J>(a) {
                J::give_up_callback(e, &a);
            }
        }
        Self {
            criteria: criteria::<J>,
            identifier: identifier::<J>,
            args: retry_args::<J>,
            try_again: try_again::<J>,
            give_up: give_up::<J>,
        }
    }

    /// `retry_criteria_check`.
    pub fn criteria(&self, exception: &str, message: &str, args: &[Value]) -> bool {
        (self.criteria)(exception, message, args)
    }
    /// A custom `retry_identifier`, if the class has one.
    pub fn identifier(&self, args: &[Value]) -> Option<String> {
        (self.identifier)(args)
    }
    /// Custom `retry_args`, if the class has them.
    pub fn retry_args(&self, args: &[Value]) -> Option<Vec<Value>> {
        (self.args)(args)
    }
    /// `try_again_callback`.
    pub fn try_again(&self, exception: &str, args: &[Value]) {
        (self.try_again)(exception, args)
    }
    /// `give_up_callback`.
    pub fn give_up(&self, exception: &str, args: &[Value]) {
        (self.give_up)(exception, args)
    }
}

/// Job types by class name (the Rust side of Ruby's `constantize`), and the application's
/// shared state that their jobs reach with [`Context::state`].
///
/// Clones share the state's values.
#[derive(Default, Clone)]
pub struct Registry {
    /// A B-tree: a worker looks its class up several times a job, and a few comparisons
    /// of short names cost less than hashing the name with SipHash each time.
    jobs: BTreeMap<String, Entry>,
    states: HashMap<TypeId, Arc<Slot>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut states: Vec<&str> = self.states.values().map(|s| s.type_name).collect();
        states.sort_unstable();
        f.debug_struct("Registry")
            .field("classes", &self.classes())
            .field("states", &states)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a job type (a [`Job`] or an [`AsyncJob`](super::AsyncJob)) under its
    /// class name.
    pub fn register<J: Job>(&mut self) -> &mut Self {
        fn runner<J: Job>(
            args: &[Value],
            ctx: &mut Context,
        ) -> std::result::Result<Performed, JobError> {
            let args = args_from_json::<J>(args)?;
            run::<J>(&args, ctx)
        }
        fn awaiting<'a, J: Job>(args: &'a [Value], ctx: &'a mut Context) -> BoxRun<'a> {
            Box::pin(async move {
                let args = args_from_json::<J>(args)?;
                J::run_awaiting(&args, ctx).await
            })
        }
        fn failure_hook<J: Job>(error: &JobError, args: &[Value]) {
            if let Ok(args) = args_from_json::<J>(args) {
                J::on_failure(error, &args);
            }
        }
        // The scheduler's enqueue of a delayed or recurring job, in resque-scheduler's
        // order: before_schedule (false cancels), before_delayed_enqueue, then the core
        // before_enqueue (false cancels); after the push, after_enqueue, after_schedule.
        fn before_scheduled<J: Job>(args: &[Value]) -> std::result::Result<bool, JobError> {
            let args = args_from_json::<J>(args)?;
            if !J::before_schedule(&args) {
                return Ok(false);
            }
            J::before_delayed_enqueue(&args);
            Ok(J::before_enqueue(&args))
        }
        fn after_scheduled<J: Job>(args: &[Value]) {
            if let Ok(args) = args_from_json::<J>(args) {
                J::after_enqueue(&args);
                J::after_schedule(&args);
            }
        }
        self.jobs.insert(
            J::CLASS.to_owned(),
            Entry {
                run: runner::<J>,
                run_awaiting: awaiting::<J>,
                on_failure: failure_hook::<J>,
                queue: J::QUEUE,
                before_scheduled_enqueue: before_scheduled::<J>,
                after_scheduled_enqueue: after_scheduled::<J>,
                retry_policy: J::retry_policy,
                timeout: J::TIMEOUT,
                retry_hooks: RetryHooks::of::<J>(),
            },
        );
        self
    }

    /// Gives jobs a shared value of type `T`, made by `make` the first time a job asks
    /// ([`Context::state`]) in the process that runs it, inside the jobs' runtime (so a
    /// constructor that needs tokio finds one). A second call for the same `T` replaces
    /// the first.
    ///
    /// Under a forking worker each job's child makes its own, after the fork: a database
    /// pool or an HTTP client is never shared with the parent. Under `FORK_PER_JOB=false`
    /// it is made once for the worker's life.
    pub fn state<T: Send + Sync + 'static>(
        &mut self,
        make: impl Fn() -> T + Send + Sync + 'static,
    ) -> &mut Self {
        self.try_state(move || Ok::<T, JobError>(make()))
    }

    /// [`Registry::state`] for a constructor that can fail: its error fails the job that
    /// asked (and the next job asks again).
    pub fn try_state<T, E>(
        &mut self,
        make: impl Fn() -> std::result::Result<T, E> + Send + Sync + 'static,
    ) -> &mut Self
    where
        T: Send + Sync + 'static,
        E: Into<JobError>,
    {
        let make: Make = Box::new(move || match make() {
            Ok(v) => Ok(Arc::new(v) as Shared),
            Err(e) => Err(e.into()),
        });
        self.states.insert(
            TypeId::of::<T>(),
            Arc::new(Slot {
                type_name: std::any::type_name::<T>(),
                make,
                value: Mutex::new(None),
            }),
        );
        self
    }

    /// The state of type `T`, made now if no job asked before.
    pub(crate) fn state_for<T: Send + Sync + 'static>(
        &self,
        runtime: &JobRuntime,
    ) -> std::result::Result<Arc<T>, JobError> {
        let name = std::any::type_name::<T>();
        let slot = self.states.get(&TypeId::of::<T>()).ok_or_else(|| {
            JobError::new(
                "Resque::NoState",
                format!(
                    "no shared state of type {name}: give it to the worker with Builder::state"
                ),
            )
        })?;
        // A poisoned lock only means a constructor panicked once: try again.
        let mut value = slot.value.lock().unwrap_or_else(|p| p.into_inner());
        let shared = match &*value {
            Some(v) => Arc::clone(v),
            None => {
                let made = runtime.enter(&slot.make)??;
                *value = Some(Arc::clone(&made));
                made
            }
        };
        shared
            .downcast::<T>()
            .map_err(|_| JobError::msg(format!("shared state {name} has another type")))
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
        let entry = self.jobs.get(class)?;
        Some((entry.run)(args, ctx))
    }

    /// [`Registry::perform`] from async code: an async job is awaited, not blocked on.
    pub fn perform_awaiting<'a>(
        &self,
        class: &str,
        args: &'a [Value],
        ctx: &'a mut Context,
    ) -> Option<BoxRun<'a>> {
        let entry = self.jobs.get(class)?;
        Some((entry.run_awaiting)(args, ctx))
    }

    /// Runs a class's `on_failure` hook for a failure found outside `perform` (a child
    /// killed by a signal, a worker pruned mid-job).
    pub fn on_failure(&self, class: &str, error: &JobError, args: &[Value]) {
        if let Some(entry) = self.jobs.get(class) {
            (entry.on_failure)(error, args);
        }
    }

    /// A registered class's default queue (Ruby's `@queue`).
    pub fn queue_of(&self, class: &str) -> Option<&'static str> {
        self.jobs.get(class).map(|e| e.queue)
    }

    /// The scheduler's hooks before it enqueues a job of `class` (a delayed item coming
    /// due, or a recurring fire): `before_schedule`, `before_delayed_enqueue` and
    /// `before_enqueue`. `None` for a class not registered (no hooks, as Ruby for a class
    /// it cannot load); `Some(Ok(false))` when a hook cancelled; an error when the args do
    /// not fit the job's `Args`.
    pub fn before_scheduled_enqueue(
        &self,
        class: &str,
        args: &[Value],
    ) -> Option<std::result::Result<bool, JobError>> {
        let entry = self.jobs.get(class)?;
        Some((entry.before_scheduled_enqueue)(args))
    }

    /// The hooks after the scheduler's enqueue: `after_enqueue`, then `after_schedule`.
    pub fn after_scheduled_enqueue(&self, class: &str, args: &[Value]) {
        if let Some(entry) = self.jobs.get(class) {
            (entry.after_scheduled_enqueue)(args);
        }
    }

    /// A registered class's resque-retry settings ([`super::Job::retry_policy`]).
    pub fn retry_policy(&self, class: &str) -> Option<super::RetryPolicy> {
        self.jobs.get(class).and_then(|e| (e.retry_policy)())
    }

    /// A registered class's own timeout ([`super::Job::TIMEOUT`]).
    pub fn timeout_of(&self, class: &str) -> Option<std::time::Duration> {
        self.jobs.get(class).and_then(|e| e.timeout)
    }

    /// A registered class's resque-retry hooks (criteria, identifier, args, callbacks).
    pub fn retry_hooks(&self, class: &str) -> Option<RetryHooks> {
        self.jobs.get(class).map(|e| e.retry_hooks)
    }
}
