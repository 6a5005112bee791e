//! `resque`: the admin command, Ruby's `bin/resque` extended.
//!
//! ```text
//! resque [-r REDIS] [-N NAMESPACE] [--failure-backend NAMES] COMMAND
//!   list | remove WORKER | kill WORKER
//!   enqueue QUEUE CLASS [ARG...] [--args JSON] | queues | info | stats
//!   enqueue-at TIME QUEUE CLASS [ARG...] | enqueue-in SECONDS QUEUE CLASS [ARG...]
//!   delayed [list | show TS | remove [--at TS] QUEUE CLASS [ARG...] | queue-now TS | clear]
//!   schedule [list | set NAME (--cron EXPR | --every DURATION) --class C ... | remove NAME]
//!   failures [--backend NAMES] list | show N | count | requeue | remove N | clear | clear-retried
//! ```
//!
//! Global options are accepted before or after the command; every command has `--help`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use resque::blocking::Client;
use resque::{Value, WorkerId};

mod failures;
mod scheduled;

use failures::{FailuresCommand, failures};

/// Manage Resque queues and workers (compatible with Ruby Resque 3.0).
#[derive(Debug, Parser)]
#[command(name = "resque", version, about)]
struct Args {
    /// Redis connection string: host:port, host:port:db, host:port/namespace,
    /// host:port:db/namespace, redis://..., unix:///path.sock, redis-sentinel://...
    #[arg(
        short = 'r',
        long = "redis",
        env = "REDIS_URL",
        default_value = "localhost:6379",
        global = true
    )]
    redis: String,
    /// Redis namespace (default: the one in the connection string, else `resque`).
    #[arg(
        short = 'N',
        long = "namespace",
        env = "RESQUE_NAMESPACE",
        global = true
    )]
    namespace: Option<String>,
    /// The failure backend (redis, redis_multi_queue, airbrake, or a comma list): where
    /// `remove` and `kill` record a worker's in-flight job, and whose lists `failures`
    /// reads (the first member's, as Ruby's Multiple). Notifiers are not called here.
    #[arg(
        long = "failure-backend",
        env = "FAILURE_BACKEND",
        default_value = "redis",
        global = true
    )]
    failure_backend: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists known workers and their state.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Removes a worker from the registry (its in-flight job becomes a DirtyExit failure).
    Remove {
        /// The worker id, host:pid:queues.
        worker: String,
    },
    /// Kills a worker on this host with SIGKILL, then removes it.
    Kill {
        /// The worker id, host:pid:queues.
        worker: String,
    },
    /// Enqueues a job for any worker, Ruby or Rust.
    Enqueue {
        /// The queue.
        queue: String,
        /// The job class name.
        class: String,
        /// Arguments: each is JSON if it parses as JSON, else a string.
        #[arg(conflicts_with = "args_json")]
        args: Vec<String>,
        /// All arguments as one JSON array, instead of ARG...
        #[arg(long = "args", value_name = "JSON_ARRAY")]
        args_json: Option<String>,
        /// Print the stored payload as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists queues with their sizes.
    Queues {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows Resque.info: pending, processed, queues, workers, working, failed.
    Info {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prints counters in resque-web's stats.txt format.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delays a job until TIME (Unix seconds or RFC 3339); a time not in the future
    /// enqueues it now, as Ruby's enqueue_at.
    EnqueueAt {
        /// When: Unix seconds (`1796112481`) or RFC 3339 (`2026-12-01T18:00:00Z`).
        time: String,
        #[command(flatten)]
        job: scheduled::JobArgs,
    },
    /// Delays a job by SECONDS (fractions allowed); 0 or less enqueues it now.
    EnqueueIn {
        /// How long to wait, in seconds.
        #[arg(allow_hyphen_values = true)]
        seconds: String,
        #[command(flatten)]
        job: scheduled::JobArgs,
    },
    /// Lists, shows, removes and clears delayed jobs (resque-scheduler's delayed queue).
    Delayed {
        #[command(subcommand)]
        command: Option<scheduled::DelayedCommand>,
    },
    /// Lists, sets and removes recurring schedules stored in Redis (for DYNAMIC_SCHEDULE).
    Schedule {
        #[command(subcommand)]
        command: Option<scheduled::ScheduleCommand>,
    },
    /// Lists, shows, requeues and removes failed jobs.
    Failures {
        /// The failure backend whose lists to read (default: --failure-backend).
        #[arg(long = "backend")]
        backend: Option<String>,
        #[command(subcommand)]
        command: FailuresCommand,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("resque: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    let client = Client::builder(&args.redis)
        .namespace_override(args.namespace.as_deref())
        .environment(
            std::env::var("RAILS_ENV")
                .or_else(|_| std::env::var("RACK_ENV"))
                .unwrap_or_else(|_| "development".to_owned()),
        )
        .connect()?;
    let mut out = std::io::stdout().lock();
    match args.command {
        Command::EnqueueAt { time, job } => scheduled::enqueue_at(&client, &time, job, &mut out)?,
        Command::EnqueueIn { seconds, job } => {
            scheduled::enqueue_in(&client, &seconds, job, &mut out)?
        }
        Command::Delayed { command } => scheduled::delayed(&client, command, &mut out)?,
        Command::Schedule { command } => scheduled::schedule(&client, command, &mut out)?,
        Command::Failures { backend, command } => {
            let backend = backend.as_deref().unwrap_or(&args.failure_backend);
            failures(&client, backend, command, &mut out)?
        }
        Command::List { json } => {
            let ids = client.workers()?;
            let mut rows = Vec::new();
            for id in &ids {
                rows.push((id.clone(), client.worker_state(id)?));
            }
            if json {
                let v: Vec<Value> = rows
                    .iter()
                    .map(|(id, state)| serde_json::json!({"id": id, "state": state}))
                    .collect();
                writeln!(out, "{}", Value::Array(v))?;
            } else if rows.is_empty() {
                writeln!(out, "None")?;
            } else {
                for (id, state) in rows {
                    writeln!(out, "{id} ({state})")?;
                }
            }
        }
        Command::Remove { worker } => {
            remove_worker(&client, &args.failure_backend, &worker)?;
            writeln!(out, "** removed {worker}")?;
        }
        Command::Kill { worker } => {
            kill(&client, &worker, &mut out)?;
            remove_worker(&client, &args.failure_backend, &worker)?;
            writeln!(out, "** removed {worker}")?;
        }
        Command::Enqueue {
            queue,
            class,
            args,
            args_json,
            json,
        } => {
            let args = job_args(&args, args_json.as_deref())?;
            let payload = resque::Payload::new(class.as_str(), args.clone());
            client.enqueue_to(&queue, &class, args)?;
            if json {
                writeln!(out, "{}", payload.encode()?)?;
            } else {
                writeln!(out, "** enqueued {class} to {queue}")?;
            }
        }
        Command::Queues { json } => {
            let sizes = client.queue_sizes()?;
            if json {
                let m: serde_json::Map<String, Value> =
                    sizes.into_iter().map(|(q, n)| (q, n.into())).collect();
                writeln!(out, "{}", Value::Object(m))?;
            } else if sizes.is_empty() {
                writeln!(out, "None")?;
            } else {
                let width = sizes.iter().map(|(q, _)| q.len()).max().unwrap_or(0);
                for (q, n) in sizes {
                    writeln!(out, "{q:<width$}  {n}")?;
                }
            }
        }
        Command::Info { json } => {
            let info = client.info()?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&info)?)?;
            } else {
                writeln!(out, "pending      {}", info.pending)?;
                writeln!(out, "processed    {}", info.processed)?;
                writeln!(out, "queues       {}", info.queues)?;
                writeln!(out, "workers      {}", info.workers)?;
                writeln!(out, "working      {}", info.working)?;
                writeln!(out, "failed       {}", info.failed)?;
                writeln!(out, "servers      {}", info.servers.join(", "))?;
                writeln!(out, "environment  {}", info.environment)?;
            }
        }
        Command::Stats { json } => {
            let info = client.info()?;
            let sizes = client.queue_sizes()?;
            if json {
                let queues: serde_json::Map<String, Value> =
                    sizes.into_iter().map(|(q, n)| (q, n.into())).collect();
                let v = serde_json::json!({
                    "pending": info.pending, "processed": info.processed, "failed": info.failed,
                    "workers": info.workers, "working": info.working, "queues": queues,
                });
                writeln!(out, "{v}")?;
            } else {
                writeln!(out, "resque.pending={}", info.pending)?;
                writeln!(out, "resque.processed+={}", info.processed)?;
                writeln!(out, "resque.failed+={}", info.failed)?;
                writeln!(out, "resque.workers={}", info.workers)?;
                writeln!(out, "resque.working={}", info.working)?;
                for (q, n) in sizes {
                    writeln!(out, "queues.{q}={n}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A job's arguments from the command line: `--args JSON_ARRAY`, else each ARG.
pub(crate) fn job_args(args: &[String], args_json: Option<&str>) -> Result<Vec<Value>> {
    Ok(match args_json {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(a)) => a,
            Ok(_) => bail!("--args must be a JSON array, e.g. '[44,\"masterbrew\"]'"),
            Err(e) => bail!("--args is not valid JSON: {e}"),
        },
        None => args.iter().map(|a| parse_arg(a)).collect(),
    })
}

/// An ARG is JSON if it parses as JSON (`44`, `true`, `{"a":1}`), else a plain string.
fn parse_arg(arg: &str) -> Value {
    serde_json::from_str(arg).unwrap_or_else(|_| Value::String(arg.to_owned()))
}

/// Ruby's `kill`: SIGKILL the pid, then remove the worker. Unlike Ruby, a worker on
/// another host is refused, because its pid means nothing here.
fn kill(client: &Client, worker: &str, out: &mut impl Write) -> Result<()> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let id = WorkerId::parse(worker)?;
    if !client.workers()?.iter().any(|w| w == worker) {
        bail!("no such worker {worker:?}");
    }
    let here = nix::unistd::gethostname()
        .context("reading this host's name")?
        .to_string_lossy()
        .into_owned();
    if id.hostname() != here {
        bail!(
            "worker {worker} runs on host {:?}, not on this host ({here:?}); run `resque kill` there",
            id.hostname()
        );
    }
    let pid = id
        .pid()
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 1)
        .with_context(|| format!("worker id {worker} has no usable pid"))?;
    match kill(Pid::from_raw(pid), Signal::SIGKILL) {
        Ok(()) => writeln!(out, "** killed {worker}")?,
        Err(nix::errno::Errno::ESRCH) => writeln!(out, "** worker {worker} not running")?,
        Err(e) => bail!("cannot kill pid {pid}: {e}"),
    }
    Ok(())
}

/// `Resque.remove_worker`: a job the worker was on becomes a DirtyExit record in the
/// configured backend's lists, then the worker's registry entries go.
fn remove_worker(client: &Client, backend: &str, worker: &str) -> Result<()> {
    use resque::failure::{Backend, Member};
    let backend = Backend::for_reading(backend)?;
    // Notifiers are not called from here, so a backend of notifiers only (`airbrake`) would
    // keep the in-flight job nowhere: it goes to the default `failed` list instead.
    let keeps_records = backend
        .members()
        .iter()
        .any(|m| matches!(m, Member::Redis | Member::RedisMultiQueue));
    let backend = if keeps_records {
        backend
    } else {
        Backend::redis()
    };
    if !client.worker_exists(worker)? {
        return Err(resque::store::Error::NoSuchWorker(worker.to_owned()).into());
    }
    let store = client.async_client().store()?;
    client.block_on(backend.unregister_worker(
        store,
        worker,
        resque::failure::Departure::DirtyExit,
        |_| {},
    ))?;
    Ok(())
}
