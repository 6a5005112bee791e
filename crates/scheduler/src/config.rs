//! `resque-scheduler`'s command line: resque-scheduler 5.0's flags and environment
//! variables, validated into a typed [`Config`].
//!
//! Ruby's CLI turns a boolean on when its variable is merely present: `DYNAMIC_SCHEDULE=false`,
//! `VERBOSE=0` and `BACKGROUND=` all switch the option on (`!!"false"` is true). That is a
//! trap, but a shared deployment sets these variables for both schedulers, so we follow Ruby
//! and say so in `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
pub use resque_log::LogFormat;

/// Moves delayed Resque jobs to their queues when due and fires recurring schedules,
/// compatible with resque-scheduler 5.0 (one master among Ruby and Rust schedulers).
///
/// Boolean variables follow Ruby's CLI: any value, even `false`, turns them on.
#[derive(Debug, Clone, Parser)]
#[command(name = "resque-scheduler", version, about)]
pub struct Args {
    /// Name shown in the process title (`resque-scheduler-5.0.0[APP]: ...`).
    #[arg(short = 'n', long = "app-name", env = "APP_NAME")]
    pub app_name: Option<String>,
    /// Detach and run in the background.
    #[arg(short = 'B', long, env = "BACKGROUND", value_parser = present, num_args = 0..=1, default_missing_value = "1")]
    pub background: Option<bool>,
    /// Pick up schedule changes made with `set_schedule` / `resque schedule set` while running.
    #[arg(short = 'D', long = "dynamic-schedule", env = "DYNAMIC_SCHEDULE", value_parser = present, num_args = 0..=1, default_missing_value = "1")]
    pub dynamic: Option<bool>,
    /// Environment for `rails_env` filtering and the process title.
    #[arg(short = 'E', long = "environment", env = "RAILS_ENV")]
    pub environment: Option<String>,
    /// Ruby initializer (Ruby only: refused here; use --schedule).
    #[arg(short = 'I', long = "initializer-path", env = "INITIALIZER_PATH")]
    pub initializer: Option<PathBuf>,
    /// Seconds between polls (fractions allowed; 0 polls without sleeping).
    #[arg(
        short = 'i',
        long,
        env = "RESQUE_SCHEDULER_INTERVAL",
        default_value = "5"
    )]
    pub interval: String,
    /// Log to this file instead of stdout.
    #[arg(short = 'l', long, env = "LOGFILE")]
    pub logfile: Option<PathBuf>,
    /// Log line format: text, json or logfmt.
    #[arg(short = 'F', long, env = "LOGFORMAT", default_value = "text", value_parser = log_format)]
    pub logformat: LogFormat,
    /// Write the pid to this file (removed at exit).
    #[arg(short = 'P', long, env = "PIDFILE")]
    pub pidfile: Option<PathBuf>,
    /// Log only fatal errors.
    #[arg(short = 'q', long, env = "QUIET", value_parser = present, num_args = 0..=1, default_missing_value = "1")]
    pub quiet: Option<bool>,
    /// Log everything, debug lines included.
    #[arg(short = 'v', long, env = "VERBOSE", value_parser = present, num_args = 0..=1, default_missing_value = "1")]
    pub verbose: Option<bool>,
    /// A schedule file in resque-scheduler's YAML format.
    #[arg(short = 's', long = "schedule", env = "RESQUE_SCHEDULE")]
    pub schedule: Option<PathBuf>,
    /// Master lock TTL in seconds.
    #[arg(long = "lock-timeout", env = "LOCK_TIMEOUT", default_value = "180")]
    pub lock_timeout: String,
    /// Master lock key prefix, so several apps share one Redis (Ruby appends `:`).
    #[arg(long = "lock-prefix", env = "RESQUE_SCHEDULER_MASTER_LOCK_PREFIX")]
    pub lock_prefix: Option<String>,
    /// Delayed items moved per script call.
    #[arg(
        long = "batch-size",
        env = "DELAYED_REQUEUE_BATCH_SIZE",
        default_value = "100"
    )]
    pub batch_size: String,
    /// Redis connection string (`host:port/namespace`, `redis://...`, a unix socket path).
    #[arg(long, env = "REDIS_URL", default_value = "localhost:6379")]
    pub redis: String,
    /// Namespace (default: the connection string's, else `resque`).
    #[arg(long, env = "RESQUE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Failure backend for delayed items that cannot be enqueued (`redis`, `redis_multi_queue`).
    #[arg(
        long = "failure-backend",
        env = "FAILURE_BACKEND",
        default_value = "redis"
    )]
    pub failure_backend: String,
}

fn log_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
}

/// Ruby's CLI rule: a variable that is present at all switches the option on.
fn present(_: &str) -> Result<bool, String> {
    Ok(true)
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `-n`.
    pub app_name: Option<String>,
    /// `-B`.
    pub background: bool,
    /// `-D`.
    pub dynamic: bool,
    /// `-E`.
    pub environment: Option<String>,
    /// `-i`; zero polls without sleeping.
    pub interval: Duration,
    /// `-l`.
    pub logfile: Option<PathBuf>,
    /// `-F`.
    pub logformat: LogFormat,
    /// `-P`.
    pub pidfile: Option<PathBuf>,
    /// `-q` (and `-B` without `-v`, as Ruby: quiet by default in the background).
    pub quiet: bool,
    /// `-v`.
    pub verbose: bool,
    /// The schedule file.
    pub schedule: Option<PathBuf>,
    /// `LOCK_TIMEOUT`.
    pub lock_timeout: Duration,
    /// `RESQUE_SCHEDULER_MASTER_LOCK_PREFIX`.
    pub lock_prefix: Option<String>,
    /// `DELAYED_REQUEUE_BATCH_SIZE`.
    pub batch_size: usize,
    /// `REDIS_URL`.
    pub redis: String,
    /// `RESQUE_NAMESPACE`.
    pub namespace: Option<String>,
    /// `FAILURE_BACKEND`.
    pub failure_backend: String,
}

/// A configuration that cannot run, with a one-line reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn seconds(name: &str, text: &str) -> Result<Duration, ConfigError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            ConfigError(format!(
                "{name} must be a number of seconds, found {text:?}"
            ))
        })
}

impl Config {
    /// Validates parsed arguments.
    pub fn from_args(a: Args) -> Result<Self, ConfigError> {
        if let Some(path) = a.initializer {
            return Err(ConfigError(format!(
                "-I/INITIALIZER_PATH loads Ruby code ({}); this scheduler takes its schedule from --schedule FILE / RESQUE_SCHEDULE and from Redis",
                path.display()
            )));
        }
        let lock_timeout = seconds("LOCK_TIMEOUT", &a.lock_timeout)?;
        if lock_timeout.as_secs() == 0 {
            return Err(ConfigError("LOCK_TIMEOUT must be at least 1 second".into()));
        }
        let batch_size: usize = a
            .batch_size
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ConfigError(format!(
                    "DELAYED_REQUEUE_BATCH_SIZE must be a positive whole number, found {:?}",
                    a.batch_size
                ))
            })?;
        let background = a.background.unwrap_or(false);
        let verbose = a.verbose.unwrap_or(false);
        Ok(Self {
            app_name: a.app_name.filter(|s| !s.is_empty()),
            background,
            dynamic: a.dynamic.unwrap_or(false),
            environment: a.environment.filter(|s| !s.is_empty()),
            interval: seconds("RESQUE_SCHEDULER_INTERVAL", &a.interval)?,
            logfile: a.logfile,
            logformat: a.logformat,
            pidfile: a.pidfile,
            quiet: a.quiet.unwrap_or(background && !verbose),
            verbose,
            schedule: a.schedule,
            lock_timeout,
            lock_prefix: a.lock_prefix.filter(|s| !s.is_empty()),
            batch_size,
            redis: a.redis,
            namespace: a.namespace.filter(|s| !s.is_empty()),
            failure_backend: a.failure_backend,
        })
    }

    /// Parses and validates a command line (`argv[0]` first), environment included.
    pub fn parse_from<I, T>(argv: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args = Args::try_parse_from(argv)?;
        Self::from_args(args).map_err(|e| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e}\n"))
        })
    }

    /// Ruby's process title: `resque-scheduler-5.0.0[app][env]: state`.
    pub fn procline(&self, state: &str) -> String {
        let mut s = String::from("resque-scheduler-5.0.0");
        if let Some(app) = &self.app_name {
            s.push_str(&format!("[{app}]"));
        }
        if let Some(env) = &self.environment {
            s.push_str(&format!("[{env}]"));
        }
        s.push_str(": ");
        s.push_str(state);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rubys_flags_and_the_boolean_trap() -> Result<(), clap::Error> {
        let c = Config::parse_from([
            "resque-scheduler",
            "-D",
            "false",
            "-i",
            "0.5",
            "-n",
            "app",
            "-E",
            "production",
        ])?;
        assert!(c.dynamic, "any value turns it on, as Ruby's CLI");
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(
            c.procline("Master scheduler"),
            "resque-scheduler-5.0.0[app][production]: Master scheduler"
        );
        assert_eq!(c.lock_timeout, Duration::from_secs(180));
        assert_eq!(c.batch_size, 100);
        let bg = Config::parse_from(["resque-scheduler", "-B"])?;
        assert!(bg.quiet, "quiet by default in the background");
        for bad in [
            vec!["resque-scheduler", "-i", "soon"],
            vec!["resque-scheduler", "--batch-size", "0"],
            vec!["resque-scheduler", "--lock-timeout", "0"],
            vec!["resque-scheduler", "-I", "init.rb"],
            vec!["resque-scheduler", "-F", "xml"],
        ] {
            assert!(Config::parse_from(bad.clone()).is_err(), "{bad:?}");
        }
        Ok(())
    }
}
