//! `resque-worker`'s command line: Ruby Resque's environment variables, each also a flag,
//! validated into a typed [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::queues::{NoQueues, QueueSpec};

/// The most jobs `RESQUE_PREFETCH` may hold ahead (each is an entry in one reply).
const MAX_PREFETCH: u32 = 1000;
/// Runs Resque jobs, compatible with Ruby Resque 3.0 workers, queues and resque-web.
#[derive(Debug, Clone, Parser)]
#[command(name = "resque-worker", version, about)]
pub struct Args {
    /// Queues to work, in priority order: `critical,high`, `*`, globs, `!skip`.
    #[arg(long = "queues", short = 'q', env = "QUEUES")]
    pub queues: Option<String>,
    /// Same as --queues (Ruby reads QUEUES first, then QUEUE).
    #[arg(long = "queue", env = "QUEUE", hide = true)]
    pub queue: Option<String>,
    /// Seconds to sleep when every queue is empty; 0 drains the queues and exits.
    #[arg(long, env = "INTERVAL", default_value = "5")]
    pub interval: String,
    /// Seconds to sleep right after a job was found (default: INTERVAL).
    #[arg(long = "min-interval", env = "MIN_INTERVAL")]
    pub min_interval: Option<String>,
    /// Longest sleep when backing off on empty polls (default: INTERVAL).
    #[arg(long = "max-interval", env = "MAX_INTERVAL")]
    pub max_interval: Option<String>,
    /// Seconds added to the sleep after each empty poll, up to MAX_INTERVAL.
    #[arg(
        long = "backoff-interval",
        env = "BACKOFF_INTERVAL",
        default_value = "0.1"
    )]
    pub backoff_interval: String,
    /// Run this many worker processes (Ctrl-C stops them all).
    #[arg(long, env = "COUNT")]
    pub count: Option<String>,
    /// With FORK_PER_JOB=false: run this many jobs at once in this process, each slot a
    /// worker of its own (registered, heartbeating, counted) as Ruby sees it.
    #[arg(long, env = "CONCURRENCY", default_value = "1")]
    pub concurrency: String,
    /// Write the worker's pid to this file.
    #[arg(long, env = "PIDFILE")]
    pub pidfile: Option<PathBuf>,
    /// Detach and run in the background.
    #[arg(long, env = "BACKGROUND", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub background: Option<bool>,
    /// Log what the worker does (`*** message`).
    #[arg(long, short = 'v', env = "VERBOSE", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub verbose: Option<bool>,
    /// Same as VERBOSE.
    #[arg(long, env = "LOGGING", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1", hide = true)]
    pub logging: Option<bool>,
    /// Log in detail (`** [time] pid: message`).
    #[arg(long, env = "VVERBOSE", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub vverbose: Option<bool>,
    /// `false` runs jobs in the worker process instead of a child per job.
    #[arg(long = "fork-per-job", env = "FORK_PER_JOB", default_value = "true")]
    pub fork_per_job: String,
    /// On TERM, ask the child to stop (TERM) and kill it only after RESQUE_TERM_TIMEOUT.
    #[arg(long = "term-child", env = "TERM_CHILD", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub term_child: Option<bool>,
    /// With TERM_CHILD: seconds to let the job finish before sending it TERM.
    #[arg(
        long = "pre-shutdown-timeout",
        env = "RESQUE_PRE_SHUTDOWN_TIMEOUT",
        default_value = "0"
    )]
    pub pre_shutdown_timeout: String,
    /// With TERM_CHILD: seconds between TERM and KILL.
    #[arg(
        long = "term-timeout",
        env = "RESQUE_TERM_TIMEOUT",
        default_value = "4"
    )]
    pub term_timeout: String,
    /// Make TERM behave like QUIT (finish the job, then exit).
    #[arg(long = "graceful-term", env = "GRACEFUL_TERM", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub graceful_term: Option<bool>,
    /// Seconds between heartbeats (Ruby's `Resque.heartbeat_interval`); a worker whose
    /// heartbeat is 5 × this old is pruned as dead.
    #[arg(
        long = "heartbeat-interval",
        env = "RESQUE_HEARTBEAT_INTERVAL",
        default_value = "60"
    )]
    pub heartbeat_interval: String,
    /// Reliable mode: each job taken also sits in an in-flight record of ours until its
    /// bookkeeping, so a worker that dies (killed, its host gone) has its job put back at the
    /// head of its queue by the reaper instead of leaving only a DirtyExit record.
    #[arg(long, env = "RESQUE_RELIABLE", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub reliable: Option<bool>,
    /// Reliable mode: how often one job may be taken back from dead workers before it is
    /// recorded as a failure (Resque::PoisonJob) instead of requeued again.
    #[arg(
        long = "max-recoveries",
        env = "RESQUE_MAX_RECOVERIES",
        default_value = "3"
    )]
    pub max_recoveries: String,
    /// Poll every INTERVAL as Ruby does, instead of waiting in Redis for a job (blocking
    /// pickup needs Redis 6.2's BLMOVE and a connection per queue).
    #[arg(long, env = "RESQUE_POLLING", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub polling: Option<bool>,
    /// With FORK_PER_JOB=false: reserve up to this many jobs ahead of the one running, moved
    /// in the same step from their queues to a held list of ours (put back by the reaper
    /// should the worker die), so jobs shorter than a round trip to Redis run several to a
    /// round trip. 0 (the default) reserves one job at a time, as Ruby does.
    #[arg(long, env = "RESQUE_PREFETCH", default_value = "0")]
    pub prefetch: String,
    /// With CONCURRENCY above 1: send the job slots' reservations together, several slots'
    /// in one script call (less Redis CPU and fewer packets a job, one more thread hop).
    #[arg(long = "batch-reservations", env = "RESQUE_BATCH_RESERVATIONS", value_parser = env_flag, num_args = 0..=1, default_missing_value = "1")]
    pub batch_reservations: Option<bool>,
    /// Record each job's run in our job metrics and daily history (keys of our own under
    /// `resque-rs:`, with a TTL, in the same round trip as its bookkeeping): on unless 0;
    /// `history` records only the daily processed and failed counts (cheaper for Redis).
    #[arg(long, env = "RESQUE_METRICS", value_parser = metrics_mode, num_args = 0..=1, default_missing_value = "1")]
    pub metrics: Option<Metrics>,
    /// Prefix for the process title.
    #[arg(
        long = "procline-prefix",
        env = "RESQUE_PROCLINE_PREFIX",
        default_value = ""
    )]
    pub procline_prefix: String,
    /// Failure backend: redis, redis_multi_queue, airbrake, or a comma list of them.
    #[arg(
        long = "failure-backend",
        env = "FAILURE_BACKEND",
        default_value = "redis"
    )]
    pub failure_backend: String,
    /// Redis connection string (host:port, host:port:db/namespace, redis://, unix://...).
    #[arg(long, short = 'r', env = "REDIS_URL", default_value = "localhost:6379")]
    pub redis: String,
    /// Redis namespace.
    #[arg(long, short = 'N', env = "RESQUE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Airbrake project id (for FAILURE_BACKEND=...airbrake).
    #[arg(long = "airbrake-project-id", env = "AIRBRAKE_PROJECT_ID")]
    pub airbrake_project_id: Option<String>,
    /// Airbrake project key.
    #[arg(
        long = "airbrake-project-key",
        env = "AIRBRAKE_PROJECT_KEY",
        hide_env_values = true
    )]
    pub airbrake_project_key: Option<String>,
    /// Airbrake (or Errbit...) URL with its scheme; default <https://api.airbrake.io>.
    #[arg(long = "airbrake-host", env = "AIRBRAKE_HOST")]
    pub airbrake_host: Option<String>,
    /// Environment name reported to Airbrake.
    #[arg(long = "airbrake-environment", env = "AIRBRAKE_ENVIRONMENT")]
    pub airbrake_environment: Option<String>,
    /// Run jobs of CLASS by executing PROGRAM (args as JSON on stdin); `*=PROGRAM` catches
    /// every other class. Repeatable.
    #[arg(long = "exec", value_name = "CLASS=PROGRAM")]
    pub exec: Vec<String>,
    /// Retry failures of CLASS as resque-retry would: up to LIMIT times, DELAY seconds apart
    /// (one per attempt, the last repeating; none: at once); `*=` for every class without
    /// a setting of its own. Wins over a job type's own policy. Repeatable.
    #[arg(long = "retry", value_name = "CLASS=LIMIT[:DELAY,...]")]
    pub retry: Vec<String>,
    /// Where CLASS's retries go (default: the class's own queue for a Rust job, else the
    /// queue the job came from). Repeatable.
    #[arg(long = "retry-queue", value_name = "CLASS=QUEUE")]
    pub retry_queue: Vec<String>,
    /// The signal that asks a job's process to stop (with TERM_CHILD, and at a timeout),
    /// sent to its whole process group: TERM, INT, QUIT, USR1, USR2, HUP (KILL follows).
    #[arg(
        long = "child-signal",
        env = "RESQUE_CHILD_SIGNAL",
        default_value = "TERM"
    )]
    pub child_signal: String,
    /// Stop any job that runs longer than this many seconds (fork per job): the child
    /// signal, then KILL after --timeout-grace; recorded as a `Resque::JobTimeout` failure.
    #[arg(long = "job-timeout", env = "RESQUE_JOB_TIMEOUT")]
    pub job_timeout: Option<String>,
    /// A timeout for one class, over --job-timeout and the job type's own. Repeatable.
    #[arg(long = "timeout", value_name = "CLASS=SECONDS")]
    pub timeout: Vec<String>,
    /// Seconds between a timeout's child signal and KILL.
    #[arg(
        long = "timeout-grace",
        env = "RESQUE_TIMEOUT_GRACE",
        default_value = "4"
    )]
    pub timeout_grace: String,
    /// Log lines as Ruby's text, or one JSON object (or logfmt line) each.
    #[arg(long = "log-format", env = "LOGFORMAT", default_value = "text")]
    pub log_format: String,
}

/// Ruby treats any set value as on (`ENV['TERM_CHILD']` is truthy when set); we also
/// accept the usual spellings of off, so `TERM_CHILD=0` does what it says.
fn env_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Ok(true),
    }
}

/// What a worker records for the dashboard (`RESQUE_METRICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metrics {
    /// Nothing (`0`).
    Off,
    /// The daily processed and failed counts only (`history`): one or two hash increments
    /// a job, in its bookkeeping call.
    History,
    /// The daily counts and the per-class metrics by minute and hour (`1`, the default):
    /// the latter added up in the worker and sent every five seconds and when it goes
    /// idle, pauses or stops, with a bookkeeping call.
    #[default]
    Full,
}

fn metrics_mode(s: &str) -> Result<Metrics, String> {
    if s.trim().eq_ignore_ascii_case("history") {
        return Ok(Metrics::History);
    }
    Ok(if env_flag(s)? {
        Metrics::Full
    } else {
        Metrics::Off
    })
}

/// A validated worker configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Queue selection.
    pub queues: QueueSpec,
    /// Sleep when idle; `None` for INTERVAL=0 (drain and exit).
    pub interval: Option<Duration>,
    /// Sleep after a job.
    pub min_interval: Duration,
    /// Longest idle sleep.
    pub max_interval: Duration,
    /// Added per empty poll.
    pub backoff_interval: Duration,
    /// Worker processes to run.
    pub count: u32,
    /// Job slots in this process (`FORK_PER_JOB=false` only).
    pub concurrency: u32,
    /// Pid file.
    pub pidfile: Option<PathBuf>,
    /// Daemonize.
    pub background: bool,
    /// `*** message` logging.
    pub verbose: bool,
    /// Detailed logging.
    pub very_verbose: bool,
    /// A child per job.
    pub fork_per_job: bool,
    /// TERM the child before KILL.
    pub term_child: bool,
    /// Wait before TERMing the child.
    pub pre_shutdown_timeout: Duration,
    /// Wait between TERM and KILL.
    pub term_timeout: Duration,
    /// TERM acts like QUIT.
    pub graceful_term: bool,
    /// Between heartbeats (and so, × 5, when a silent worker counts as dead).
    pub heartbeat_interval: Duration,
    /// Reliable mode (`--reliable` / `RESQUE_RELIABLE`).
    pub reliable: bool,
    /// Reliable mode: recoveries of one job before it is a poison job.
    pub max_recoveries: u32,
    /// Ruby's polling instead of blocking pickup (`--polling` / `RESQUE_POLLING`).
    pub polling: bool,
    /// Jobs reserved ahead of the running one, at most (`--prefetch` / `RESQUE_PREFETCH`;
    /// 0, the default, for none).
    pub prefetch: u32,
    /// Job slots send their reservations together (`--batch-reservations` /
    /// `RESQUE_BATCH_RESERVATIONS`; no effect with one slot).
    pub batch_reservations: bool,
    /// Job metrics and daily history (`--metrics` / `RESQUE_METRICS`, all on by default).
    pub metrics: Metrics,
    /// Process title prefix.
    pub procline_prefix: String,
    /// Failure backend names.
    pub failure_backend: String,
    /// Redis connection string.
    pub redis: String,
    /// Namespace override.
    pub namespace: Option<String>,
    /// `--exec` handlers: class (or `*`) and program.
    pub exec: Vec<(String, String)>,
    /// `--retry` policies: class (or `*`) and its policy (with `--retry-queue` applied).
    pub retries: Vec<(String, resque_store::RetryPolicy)>,
    /// `--child-signal`: what asks a job's process group to stop.
    pub child_signal: nix::sys::signal::Signal,
    /// `--job-timeout`: every job's timeout.
    pub job_timeout: Option<Duration>,
    /// `--timeout CLASS=SECONDS`.
    pub timeouts: Vec<(String, Duration)>,
    /// `--timeout-grace`.
    pub timeout_grace: Duration,
    /// `LOGFORMAT`.
    pub log_format: resque_log::LogFormat,
    /// The Airbrake notifier's settings, when an id and key were given.
    pub airbrake: Option<resque_failure::airbrake::Config>,
}

/// The built-in defaults, the same as the command line's; no queues (a worker refuses to
/// start without some: set [`Config::queues`]).
impl Default for Config {
    fn default() -> Self {
        let interval = Duration::from_secs(5);
        Self {
            queues: QueueSpec::default(),
            interval: Some(interval),
            min_interval: interval,
            max_interval: interval,
            backoff_interval: Duration::from_millis(100),
            count: 1,
            concurrency: 1,
            pidfile: None,
            background: false,
            verbose: false,
            very_verbose: false,
            fork_per_job: true,
            term_child: false,
            pre_shutdown_timeout: Duration::ZERO,
            term_timeout: Duration::from_secs(4),
            graceful_term: false,
            heartbeat_interval: Duration::from_secs(60),
            reliable: false,
            max_recoveries: 3,
            polling: false,
            prefetch: 0,
            batch_reservations: false,
            metrics: Metrics::Full,
            procline_prefix: String::new(),
            failure_backend: "redis".to_owned(),
            redis: "localhost:6379".to_owned(),
            namespace: None,
            exec: Vec::new(),
            retries: Vec::new(),
            child_signal: nix::sys::signal::Signal::SIGTERM,
            job_timeout: None,
            timeouts: Vec::new(),
            timeout_grace: Duration::from_secs(4),
            log_format: resque_log::LogFormat::Text,
            airbrake: None,
        }
    }
}

/// A configuration error: one line naming the setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No queue given; Ruby's rake task prints the same line.
    #[error(
        "set QUEUE env var, e.g. $ QUEUE=critical,high rake resque:work, or pass -q/--queues critical,high ({0})"
    )]
    NoQueues(NoQueues),
    /// A number that is not one.
    #[error("{name} must be a number of seconds, got {value:?}")]
    BadSeconds {
        /// The variable.
        name: &'static str,
        /// What was given.
        value: String,
    },
    /// A bad COUNT.
    #[error("COUNT must be a whole number from 1, got {0:?}")]
    BadCount(String),
    /// A bad FORK_PER_JOB.
    #[error(
        "FORK_PER_JOB (--fork-per-job) must be true or false, got {0:?} (Ruby forks for anything but \"false\")"
    )]
    BadForkPerJob(String),
    /// A bad CONCURRENCY, or one with fork per job.
    #[error("CONCURRENCY (--concurrency) {0}")]
    BadConcurrency(String),
    /// A bad RESQUE_PREFETCH, or one with fork per job.
    #[error("RESQUE_PREFETCH (--prefetch) {0}")]
    BadPrefetch(String),
    /// A bad RESQUE_MAX_RECOVERIES.
    #[error("RESQUE_MAX_RECOVERIES (--max-recoveries) must be a whole number, got {0:?}")]
    BadMaxRecoveries(String),
    /// A bad --exec.
    #[error("--exec takes CLASS=PROGRAM (or *=PROGRAM), got {0:?}")]
    BadExec(String),
    /// A bad --retry or --retry-queue.
    #[error("{0}")]
    BadRetry(String),
    /// A bad --child-signal, --job-timeout, --timeout or --timeout-grace.
    #[error("{0}")]
    BadTimeout(String),
    /// A command line clap refused (unknown flag, missing value), in clap's words.
    #[error("{}", .0.trim_end())]
    Usage(String),
}

fn seconds(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let bad = || ConfigError::BadSeconds {
        name,
        value: value.to_owned(),
    };
    let f: f64 = value.trim().parse().map_err(|_| bad())?;
    if !f.is_finite() || f < 0.0 {
        return Err(bad());
    }
    Duration::try_from_secs_f64(f).map_err(|_| bad())
}

impl TryFrom<Args> for Config {
    type Error = ConfigError;

    fn try_from(a: Args) -> Result<Self, ConfigError> {
        // Ruby: (ENV["QUEUES"] || ENV['QUEUE']).
        let list = a.queues.or(a.queue).unwrap_or_default();
        let queues = QueueSpec::parse(&list).map_err(ConfigError::NoQueues)?;
        let interval = seconds("INTERVAL", &a.interval)?;
        let min_interval = a
            .min_interval
            .as_deref()
            .map(|v| seconds("MIN_INTERVAL", v))
            .transpose()?
            .unwrap_or(interval);
        let max_interval = a
            .max_interval
            .as_deref()
            .map(|v| seconds("MAX_INTERVAL", v))
            .transpose()?
            .unwrap_or(interval);
        let count = match a.count.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(c) => c
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ConfigError::BadCount(c.to_owned()))?,
        };
        // Ruby forks unless FORK_PER_JOB is exactly "false", so `no` or `0` would fork there
        // and not here: both spellings are refused rather than read differently.
        let fork_per_job = match a.fork_per_job.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(ConfigError::BadForkPerJob(a.fork_per_job)),
        };
        let concurrency = a
            .concurrency
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ConfigError::BadConcurrency(format!(
                    "must be a whole number from 1 to 1000, got {:?}",
                    a.concurrency
                ))
            })?;
        if concurrency > 1 && fork_per_job {
            // Each job of a forking worker has its own process already: COUNT runs more.
            return Err(ConfigError::BadConcurrency(
                "needs FORK_PER_JOB=false (with fork per job, run more processes with COUNT)"
                    .to_owned(),
            ));
        }
        let prefetch = a
            .prefetch
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_PREFETCH)
            .ok_or_else(|| {
                ConfigError::BadPrefetch(format!(
                    "must be a whole number from 0 to {MAX_PREFETCH}, got {:?}",
                    a.prefetch
                ))
            })?;
        if prefetch > 0 && fork_per_job {
            // A forking parent takes one job per child; holding more would only keep them
            // from other workers while the children start.
            return Err(ConfigError::BadPrefetch(
                "needs FORK_PER_JOB=false".to_owned(),
            ));
        }
        let exec = a
            .exec
            .iter()
            .map(|e| match e.split_once('=') {
                Some((class, program))
                    if !class.trim().is_empty() && !program.trim().is_empty() =>
                {
                    Ok((class.trim().to_owned(), program.trim().to_owned()))
                }
                _ => Err(ConfigError::BadExec(e.clone())),
            })
            .collect::<Result<_, _>>()?;
        let retries = retry_policies(&a.retry, &a.retry_queue)?;
        let child_signal = child_signal(&a.child_signal)?;
        let positive = |what: &str, text: &str| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .and_then(|v| Duration::try_from_secs_f64(v).ok())
                .ok_or_else(|| {
                    ConfigError::BadTimeout(format!(
                        "{what} must be a number of seconds above 0, got {text:?}"
                    ))
                })
        };
        let job_timeout = a
            .job_timeout
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(|t| positive("--job-timeout (RESQUE_JOB_TIMEOUT)", t))
            .transpose()?;
        let timeouts = a
            .timeout
            .iter()
            .map(|t| match t.split_once('=') {
                Some((class, secs)) if !class.trim().is_empty() => Ok((
                    class.trim().to_owned(),
                    positive("--timeout CLASS=SECONDS", secs)?,
                )),
                _ => Err(ConfigError::BadTimeout(format!(
                    "--timeout takes CLASS=SECONDS, got {t:?}"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let timeout_grace = positive("--timeout-grace (RESQUE_TIMEOUT_GRACE)", &a.timeout_grace)?;
        let airbrake = resque_failure::airbrake::Config::from_lookup(|k| match k {
            "AIRBRAKE_PROJECT_ID" => a.airbrake_project_id.clone(),
            "AIRBRAKE_PROJECT_KEY" => a.airbrake_project_key.clone(),
            "AIRBRAKE_HOST" => a.airbrake_host.clone(),
            "AIRBRAKE_ENVIRONMENT" => a.airbrake_environment.clone(),
            _ => None,
        });
        Ok(Self {
            airbrake,
            queues,
            interval: (!interval.is_zero()).then_some(interval),
            min_interval,
            max_interval,
            backoff_interval: seconds("BACKOFF_INTERVAL", &a.backoff_interval)?,
            count,
            concurrency,
            pidfile: a.pidfile,
            background: a.background.unwrap_or(false),
            verbose: a.logging.unwrap_or(false) || a.verbose.unwrap_or(false),
            very_verbose: a.vverbose.unwrap_or(false),
            fork_per_job,
            term_child: a.term_child.unwrap_or(false),
            pre_shutdown_timeout: seconds("RESQUE_PRE_SHUTDOWN_TIMEOUT", &a.pre_shutdown_timeout)?,
            term_timeout: seconds("RESQUE_TERM_TIMEOUT", &a.term_timeout)?,
            graceful_term: a.graceful_term.unwrap_or(false),
            heartbeat_interval: Some(seconds("RESQUE_HEARTBEAT_INTERVAL", &a.heartbeat_interval)?)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError::BadSeconds {
                    name: "RESQUE_HEARTBEAT_INTERVAL",
                    value: a.heartbeat_interval.clone(),
                })?,
            reliable: a.reliable.unwrap_or(false),
            max_recoveries: a
                .max_recoveries
                .trim()
                .parse()
                .map_err(|_| ConfigError::BadMaxRecoveries(a.max_recoveries.clone()))?,
            polling: a.polling.unwrap_or(false),
            prefetch,
            batch_reservations: a.batch_reservations.unwrap_or(false),
            metrics: a.metrics.unwrap_or_default(),
            procline_prefix: a.procline_prefix,
            failure_backend: a.failure_backend,
            redis: a.redis,
            namespace: a.namespace,
            exec,
            retries,
            child_signal,
            job_timeout,
            timeouts,
            timeout_grace,
            log_format: a.log_format.parse().map_err(ConfigError::BadTimeout)?,
        })
    }
}

impl Config {
    /// The timeout of a job of `class`: `--timeout CLASS=`, else the job type's own
    /// (`type_timeout`), else `--job-timeout`.
    pub fn timeout_for(&self, class: &str, type_timeout: Option<Duration>) -> Option<Duration> {
        self.timeouts
            .iter()
            .find(|(c, _)| c == class)
            .map(|(_, t)| *t)
            .or(type_timeout)
            .or(self.job_timeout)
    }

    /// The `--retry` policy for `class`: its own, else `*`'s.
    pub fn retry_policy_for(&self, class: &str) -> Option<resque_store::RetryPolicy> {
        let find = |c: &str| {
            self.retries
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, p)| p.clone())
        };
        find(class).or_else(|| find("*"))
    }
}

/// `--child-signal`: a name (`TERM`, `SIGTERM`, any case) or a number, of the signals a job
/// may be asked to stop with (KILL and STOP are not asks).
fn child_signal(text: &str) -> Result<nix::sys::signal::Signal, ConfigError> {
    use nix::sys::signal::Signal;
    let t = text.trim().to_ascii_uppercase();
    let name = t.strip_prefix("SIG").unwrap_or(&t);
    let sig = match name {
        "TERM" | "15" => Signal::SIGTERM,
        "INT" | "2" => Signal::SIGINT,
        "QUIT" | "3" => Signal::SIGQUIT,
        "USR1" | "10" => Signal::SIGUSR1,
        "USR2" | "12" => Signal::SIGUSR2,
        "HUP" | "1" => Signal::SIGHUP,
        _ => {
            return Err(ConfigError::BadTimeout(format!(
                "--child-signal (RESQUE_CHILD_SIGNAL) must be TERM, INT, QUIT, USR1, USR2 or HUP, got {text:?}"
            )));
        }
    };
    Ok(sig)
}

/// `--retry CLASS=LIMIT[:DELAY,...]` and `--retry-queue CLASS=QUEUE`.
fn retry_policies(
    retry: &[String],
    queues: &[String],
) -> Result<Vec<(String, resque_store::RetryPolicy)>, ConfigError> {
    let bad = |what: &str, got: &str| {
        ConfigError::BadRetry(format!(
            "--retry takes CLASS=LIMIT[:DELAY,DELAY,...] (LIMIT a whole number, DELAYs seconds), got {got:?}: {what}"
        ))
    };
    let mut out: Vec<(String, resque_store::RetryPolicy)> = Vec::new();
    for r in retry {
        let Some((class, spec)) = r.split_once('=') else {
            return Err(bad("no CLASS=", r));
        };
        let class = class.trim();
        if class.is_empty() {
            return Err(bad("no class", r));
        }
        let (limit, delays) = match spec.split_once(':') {
            Some((l, d)) => (l, Some(d)),
            None => (spec, None),
        };
        let limit: i64 = limit
            .trim()
            .parse()
            .map_err(|_| bad("LIMIT is not a whole number", r))?;
        let mut policy = resque_store::RetryPolicy::limit(limit);
        if let Some(d) = delays {
            let delays: Vec<f64> = d
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                })
                .collect::<Option<_>>()
                .ok_or_else(|| bad("a DELAY is not a number of seconds", r))?;
            policy = policy.backoff(delays).with_limit(limit);
        }
        out.push((class.to_owned(), policy));
    }
    for q in queues {
        let Some((class, queue)) = q
            .split_once('=')
            .filter(|(c, q)| !c.trim().is_empty() && !q.trim().is_empty())
        else {
            return Err(ConfigError::BadRetry(format!(
                "--retry-queue takes CLASS=QUEUE, got {q:?}"
            )));
        };
        let Some(entry) = out.iter_mut().find(|(c, _)| c == class.trim()) else {
            return Err(ConfigError::BadRetry(format!(
                "--retry-queue {q:?}: no --retry for {}",
                class.trim()
            )));
        };
        entry.1 = entry.1.clone().queue(queue.trim());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["resque-worker"];
        argv.extend_from_slice(args);
        Config::try_from(Args::try_parse_from(argv).expect("clap accepts"))
    }

    #[test]
    fn defaults_match_ruby() -> Result<(), ConfigError> {
        let c = parse(&["--queues", "critical,high"])?;
        assert_eq!(c.queues.configured(), ["critical", "high"]);
        assert_eq!(c.interval, Some(Duration::from_secs(5)));
        assert_eq!(
            (c.min_interval, c.max_interval),
            (Duration::from_secs(5), Duration::from_secs(5))
        );
        assert_eq!(c.backoff_interval, Duration::from_millis(100));
        assert_eq!(c.term_timeout, Duration::from_secs(4));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(60));
        assert_eq!(c.pre_shutdown_timeout, Duration::ZERO);
        assert!(c.fork_per_job && !c.term_child && !c.graceful_term && !c.verbose);
        assert_eq!((c.count, c.failure_backend.as_str()), (1, "redis"));
        Ok(())
    }

    #[test]
    fn default_is_the_command_line_without_queues() -> Result<(), ConfigError> {
        let mut parsed = parse(&["-q", "a"])?;
        parsed.queues = QueueSpec::default();
        assert_eq!(parsed, Config::default());
        Ok(())
    }

    #[test]
    fn values_and_errors() -> Result<(), ConfigError> {
        let c = parse(&[
            "-q",
            "a",
            "--interval",
            "0",
            "--min-interval",
            "0.5",
            "--fork-per-job",
            "false",
            "--term-child",
            "--exec",
            "Archive=/bin/true",
            "--exec",
            "*=./any.sh",
        ])?;
        assert_eq!(c.interval, None, "INTERVAL=0 drains and exits");
        assert_eq!(c.min_interval, Duration::from_millis(500));
        assert!(!c.fork_per_job && c.term_child);
        assert_eq!(
            c.exec,
            [
                ("Archive".to_owned(), "/bin/true".to_owned()),
                ("*".to_owned(), "./any.sh".to_owned())
            ]
        );
        assert_eq!(
            parse(&[]).expect_err("no queue").to_string(),
            "set QUEUE env var, e.g. $ QUEUE=critical,high rake resque:work, or pass -q/--queues critical,high (Please give each worker at least one queue.)"
        );
        assert!(matches!(
            parse(&["-q", "a", "--interval", "soon"]),
            Err(ConfigError::BadSeconds {
                name: "INTERVAL",
                ..
            })
        ));
        assert!(matches!(
            parse(&["-q", "a", "--interval=-1"]),
            Err(ConfigError::BadSeconds { .. })
        ));
        assert!(matches!(
            parse(&["-q", "a", "--count", "0"]),
            Err(ConfigError::BadCount(_))
        ));
        for v in ["maybe", "no", "0", "FALSE"] {
            assert_eq!(
                parse(&["-q", "a", "--fork-per-job", v]),
                Err(ConfigError::BadForkPerJob(v.to_owned())),
                "{v}"
            );
        }
        assert!(matches!(
            parse(&["-q", "a", "--exec", "nobody"]),
            Err(ConfigError::BadExec(_))
        ));
        assert!(!parse(&["-q", "a", "--term-child", "0"])?.term_child);
        Ok(())
    }
}
