//! [`Builder`]: a worker binary's job types, shared state, hooks and settings, then
//! [`Builder::main`] (the whole `resque-worker` command line) or [`Builder::run`].

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use resque_store::{Job, JobError, Registry};

use crate::config::{Args, Config, ConfigError};
use crate::worker::{Error, Hooks, JobInfo, Worker};
use crate::{logging, proctitle, supervise};

/// Builds a worker: job types, shared state, worker hooks and settings, then
/// [`Builder::main`] or [`Builder::run`].
///
/// Settings given in code are defaults: the environment overrides them and a flag
/// overrides both (flag > environment > code > the built-in default). That is Ruby's
/// habit of `ENV['QUEUE'] ||= 'critical'` in a Rakefile, and lets an operator change any
/// setting of a deployed binary without a rebuild.
///
/// ```no_run
/// # use resque_store::{Context, Job, JobError};
/// # struct Archive;
/// # impl Job for Archive {
/// #     const CLASS: &'static str = "Archive"; const QUEUE: &'static str = "file_serve";
/// #     type Args = (u64, String);
/// #     fn perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> { Ok(()) }
/// # }
/// # struct Pool;
/// # impl Pool { fn connect_lazy(_: &str) -> Self { Pool } }
/// use std::time::Duration;
/// fn main() -> std::process::ExitCode {
///     resque_worker::Builder::cli()
///         .job::<Archive>()
///         // Made in the process that runs the job: after the fork, or once without one.
///         .state(|| Pool::connect_lazy("postgres://db/app"))
///         .queues(["critical", "file_serve"])
///         .interval(Duration::from_secs(1))
///         .main()
/// }
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until .main() or .run()"]
pub struct Builder {
    registry: Registry,
    hooks: Hooks,
    /// Settings from code: a clap argument id and its value as the command line spells it.
    defaults: Vec<(&'static str, String)>,
    /// `--exec` handlers from code (the command line's come first).
    exec: Vec<String>,
}

/// A setter per setting: `name(value)` makes `value` the default of the argument `id`.
macro_rules! settings {
    ($($(#[$doc:meta])* $name:ident($ty:ty) => $id:literal, |$v:ident| $to:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(self, $v: $ty) -> Self {
            self.default_of($id, $to)
        }
    )*};
}

fn seconds(d: Duration) -> String {
    d.as_secs_f64().to_string()
}

fn flag(on: bool) -> String {
    if on { "1" } else { "0" }.to_owned()
}

impl Builder {
    /// A worker with Ruby's command line and no job types yet.
    pub fn cli() -> Self {
        Self::default()
    }

    /// Registers a job type (a [`Job`] or an [`AsyncJob`](resque_store::AsyncJob)).
    pub fn job<J: Job>(mut self) -> Self {
        self.registry.register::<J>();
        self
    }

    /// Gives jobs a shared value (a database pool, an HTTP client), reached with
    /// `ctx.state::<T>()`. `make` runs the first time a job asks, in the process that runs
    /// the job: after the fork in fork-per-job mode (a pool is not fork-safe, so each
    /// child makes its own), once for the worker's life with `FORK_PER_JOB=false`. It runs
    /// inside the jobs' tokio runtime, so constructors that need one find it.
    pub fn state<T: Send + Sync + 'static>(
        mut self,
        make: impl Fn() -> T + Send + Sync + 'static,
    ) -> Self {
        self.registry.state(make);
        self
    }

    /// [`Builder::state`] for a constructor that can fail: its error fails the job that
    /// asked, and the next job asks again.
    pub fn try_state<T, E>(
        mut self,
        make: impl Fn() -> Result<T, E> + Send + Sync + 'static,
    ) -> Self
    where
        T: Send + Sync + 'static,
        E: Into<JobError>,
    {
        self.registry.try_state(make);
        self
    }

    /// `Resque.before_first_fork`: once, at start-up, before the worker registers.
    pub fn before_first_fork(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.before_first_fork.push(Box::new(f));
        self
    }

    /// `Resque.before_fork`: in the parent, before each job's child is forked.
    pub fn before_fork(mut self, f: impl for<'a> Fn(JobInfo<'a>) + Send + Sync + 'static) -> Self {
        self.hooks.before_fork.push(Box::new(f));
        self
    }

    /// `Resque.after_fork`: in the child, before the job runs.
    pub fn after_fork(mut self, f: impl for<'a> Fn(JobInfo<'a>) + Send + Sync + 'static) -> Self {
        self.hooks.after_fork.push(Box::new(f));
        self
    }

    /// `Resque.before_pause`: on USR2, given the worker id.
    pub fn before_pause(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.hooks.before_pause.push(Box::new(f));
        self
    }

    /// `Resque.after_pause`: on CONT, given the worker id.
    pub fn after_pause(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.hooks.after_pause.push(Box::new(f));
        self
    }

    /// `Resque.queue_empty`: when the worker goes from working to idle.
    pub fn queue_empty(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.queue_empty.push(Box::new(f));
        self
    }

    /// `Resque.worker_exit`: after the worker unregistered, as it exits.
    pub fn worker_exit(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.worker_exit.push(Box::new(f));
        self
    }

    /// `Resque.shutdown`: when QUIT, TERM or INT asks the worker to stop.
    pub fn shutdown(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hooks.shutdown.push(Box::new(f));
        self
    }

    fn default_of(mut self, id: &'static str, value: String) -> Self {
        self.defaults.retain(|(i, _)| *i != id);
        self.defaults.push((id, value));
        self
    }

    /// The queues, in priority order (`QUEUES`, `--queues`): names, `*`, globs, `!skip`.
    pub fn queues<Q: AsRef<str>>(self, queues: impl IntoIterator<Item = Q>) -> Self {
        let list: Vec<String> = queues.into_iter().map(|q| q.as_ref().to_owned()).collect();
        // The default of QUEUE, Ruby's fallback for QUEUES: so either variable overrides it.
        self.default_of("queue", list.join(","))
    }

    settings! {
        /// The Redis connection string (`REDIS_URL`, `--redis`).
        redis(&str) => "redis", |v| v.to_owned();
        /// The namespace (`RESQUE_NAMESPACE`, `--namespace`).
        namespace(&str) => "namespace", |v| v.to_owned();
        /// Sleep when every queue is empty (`INTERVAL`); zero drains the queues and exits.
        interval(Duration) => "interval", |v| seconds(v);
        /// Sleep right after a job (`MIN_INTERVAL`).
        min_interval(Duration) => "min_interval", |v| seconds(v);
        /// Longest sleep when backing off (`MAX_INTERVAL`).
        max_interval(Duration) => "max_interval", |v| seconds(v);
        /// Added to the sleep after each empty poll (`BACKOFF_INTERVAL`).
        backoff_interval(Duration) => "backoff_interval", |v| seconds(v);
        /// Worker processes to run (`COUNT`; [`Builder::main`] only).
        count(u32) => "count", |v| v.to_string();
        /// Jobs at once in this process, each slot a worker of its own (`CONCURRENCY`;
        /// needs `fork_per_job(false)`).
        concurrency(u32) => "concurrency", |v| v.to_string();
        /// Detach and run in the background (`BACKGROUND`; [`Builder::main`] only).
        background(bool) => "background", |v| flag(v);
        /// `*** message` logging (`VERBOSE`).
        verbose(bool) => "verbose", |v| flag(v);
        /// Detailed logging (`VVERBOSE`).
        very_verbose(bool) => "vverbose", |v| flag(v);
        /// A child per job (`FORK_PER_JOB`); `false` runs jobs in the worker process.
        fork_per_job(bool) => "fork_per_job", |v| v.to_string();
        /// On TERM, TERM the child before KILL (`TERM_CHILD`).
        term_child(bool) => "term_child", |v| flag(v);
        /// With TERM_CHILD, time to let the job finish before TERM (`RESQUE_PRE_SHUTDOWN_TIMEOUT`).
        pre_shutdown_timeout(Duration) => "pre_shutdown_timeout", |v| seconds(v);
        /// With TERM_CHILD, time between TERM and KILL (`RESQUE_TERM_TIMEOUT`).
        term_timeout(Duration) => "term_timeout", |v| seconds(v);
        /// TERM behaves like QUIT (`GRACEFUL_TERM`).
        graceful_term(bool) => "graceful_term", |v| flag(v);
        /// Between heartbeats (`RESQUE_HEARTBEAT_INTERVAL`).
        heartbeat_interval(Duration) => "heartbeat_interval", |v| seconds(v);
        /// Reliable mode (`RESQUE_RELIABLE`).
        reliable(bool) => "reliable", |v| flag(v);
        /// Reliable mode's recoveries before a poison job (`RESQUE_MAX_RECOVERIES`).
        max_recoveries(u32) => "max_recoveries", |v| v.to_string();
        /// Poll every INTERVAL as Ruby does instead of blocking pickup (`RESQUE_POLLING`).
        polling(bool) => "polling", |v| flag(v);
        /// Jobs reserved ahead of the running one, at most (`RESQUE_PREFETCH`; needs
        /// `fork_per_job(false)`).
        prefetch(u32) => "prefetch", |v| v.to_string();
        /// Job slots send their reservations together (`RESQUE_BATCH_RESERVATIONS`).
        batch_reservations(bool) => "batch_reservations", |v| flag(v);
        /// Job metrics and daily history (`RESQUE_METRICS`: all by default).
        metrics(crate::Metrics) => "metrics", |v| match v {
            crate::Metrics::Off => "0",
            crate::Metrics::History => "history",
            crate::Metrics::Full => "1",
        }
        .to_owned();
        /// Prefix of the process title (`RESQUE_PROCLINE_PREFIX`).
        procline_prefix(&str) => "procline_prefix", |v| v.to_owned();
        /// Failure backends: `redis`, `redis_multi_queue`, `airbrake`, or a comma list
        /// (`FAILURE_BACKEND`).
        failure_backend(&str) => "failure_backend", |v| v.to_owned();
        /// Airbrake project id (`AIRBRAKE_PROJECT_ID`).
        airbrake_project_id(&str) => "airbrake_project_id", |v| v.to_owned();
        /// Airbrake project key (`AIRBRAKE_PROJECT_KEY`).
        airbrake_project_key(&str) => "airbrake_project_key", |v| v.to_owned();
        /// Airbrake-compatible server URL (`AIRBRAKE_HOST`).
        airbrake_host(&str) => "airbrake_host", |v| v.to_owned();
        /// Environment reported to Airbrake (`AIRBRAKE_ENVIRONMENT`).
        airbrake_environment(&str) => "airbrake_environment", |v| v.to_owned();
    }

    /// The pid file (`PIDFILE`; [`Builder::main`] only).
    pub fn pidfile(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_string_lossy().into_owned();
        self.default_of("pidfile", path)
    }

    /// Runs jobs of `class` (or `*`: every class without a Rust type) by executing
    /// `program` (`--exec CLASS=PROGRAM`); the command line's handlers are tried first.
    pub fn exec(mut self, class: &str, program: &str) -> Self {
        self.exec.push(format!("{class}={program}"));
        self
    }

    /// `resque-worker`'s command line, with this builder's settings as its defaults.
    fn command(&self) -> clap::Command {
        let mut cmd = Args::command();
        for (id, value) in &self.defaults {
            let value = value.clone();
            cmd = cmd.mut_arg(*id, |a| a.default_value(value));
        }
        cmd
    }

    fn config_of(&self, matches: &clap::ArgMatches) -> Result<Config, ConfigError> {
        let mut args =
            Args::from_arg_matches(matches).map_err(|e| ConfigError::Usage(e.to_string()))?;
        args.exec.extend(self.exec.iter().cloned());
        Config::try_from(args)
    }

    /// The configuration this builder gives with `argv` as the command line (its first
    /// item is the program name) and the process's environment: what [`Builder::main`]
    /// would run.
    pub fn config_from<I, T>(&self, argv: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = self
            .command()
            .try_get_matches_from(argv)
            .map_err(|e| ConfigError::Usage(e.to_string()))?;
        self.config_of(&matches)
    }

    /// Runs the worker in this process with the code's settings under the environment's
    /// (no command line; `COUNT`, `BACKGROUND` and `PIDFILE` are [`Builder::main`]'s).
    /// Logging is the caller's to set up. Returns when the worker stops.
    pub fn run(self) -> Result<(), Error> {
        let config = self.config_from(["resque-worker"])?;
        Worker::with_hooks(config, self.registry, self.hooks).run()
    }

    /// The entry point of a worker binary: parses the command line and environment over
    /// the code's settings, sets up logging on stdout (`VERBOSE`, `VVERBOSE`), takes over
    /// the process title, and runs. Exit status 0 on a clean stop, 1 on an error (printed
    /// on one line), 2 on bad usage.
    pub fn main(self) -> ExitCode {
        let argv: Vec<OsString> = std::env::args_os().collect();
        // Prints help, the version or a usage error and exits, as any clap program.
        let matches = self.command().get_matches_from(argv.iter());
        let config = match self.config_of(&matches) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("resque-worker: {e}");
                return ExitCode::from(2);
            }
        };
        logging::init(config.verbose, config.very_verbose, config.log_format);
        if config.count > 1 {
            return supervise::supervise(config.count, &argv);
        }
        if config.background
            && let Err(e) = nix::unistd::daemon(true, true)
        {
            eprintln!("resque-worker: error: cannot go to the background: {e}");
            return ExitCode::from(1);
        }
        if let Some(path) = &config.pidfile
            && let Err(e) = std::fs::write(path, format!("{}\n", std::process::id()))
        {
            eprintln!(
                "resque-worker: error: cannot write PIDFILE {}: {e}",
                path.display()
            );
            return ExitCode::from(1);
        }
        // After parsing: the argv memory becomes the title.
        proctitle::init();
        let result = Worker::with_hooks(config.clone(), self.registry, self.hooks).run();
        if let Some(path) = &config.pidfile {
            let _ = std::fs::remove_file(path);
        }
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("resque-worker: error: {e}");
                ExitCode::from(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_settings_are_defaults_under_flags() -> Result<(), ConfigError> {
        let b = Builder::cli()
            .queues(["critical", "low"])
            .interval(Duration::from_millis(250))
            .fork_per_job(false)
            .term_child(true)
            .namespace("app")
            .max_recoveries(7)
            .exec("Archive", "/bin/true");
        let c = b.config_from(["resque-worker"])?;
        assert_eq!(c.queues.configured(), ["critical", "low"]);
        assert_eq!(c.interval, Some(Duration::from_millis(250)));
        assert!(!c.fork_per_job && c.term_child);
        assert_eq!(c.namespace.as_deref(), Some("app"));
        assert_eq!(c.max_recoveries, 7);
        assert_eq!(c.exec, [("Archive".to_owned(), "/bin/true".to_owned())]);

        let c = b.config_from([
            "resque-worker",
            "-q",
            "other",
            "--interval",
            "0",
            "--term-child",
            "0",
            "--exec",
            "Archive=/bin/false",
        ])?;
        assert_eq!(c.queues.configured(), ["other"], "a flag wins");
        assert_eq!(c.interval, None);
        assert!(!c.term_child);
        assert_eq!(c.exec[0], ("Archive".to_owned(), "/bin/false".to_owned()));
        assert_eq!(
            (c.fork_per_job, c.namespace.as_deref()),
            (false, Some("app")),
            "what no flag set keeps the code's value"
        );
        Ok(())
    }

    #[test]
    fn bad_code_settings_and_flags_are_one_line_errors() {
        let e = Builder::cli()
            .config_from(["resque-worker"])
            .expect_err("no queues");
        assert!(matches!(e, ConfigError::NoQueues(_)));
        let e = Builder::cli()
            .queues(["a"])
            .config_from(["resque-worker", "--nope"])
            .expect_err("unknown flag");
        assert!(
            matches!(&e, ConfigError::Usage(m) if m.contains("--nope")),
            "{e}"
        );
    }
}
