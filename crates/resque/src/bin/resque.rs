//! `resque`: the admin command, Ruby's `bin/resque` extended.
//!
//! ```text
//! resque [-r REDIS] [-N NAMESPACE] list | remove WORKER | kill WORKER
//!        | enqueue QUEUE CLASS [ARG...] | queues | info | stats
//! ```

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use resque::blocking::Client;
use resque::{Value, WorkerId};

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
        default_value = "localhost:6379"
    )]
    redis: String,
    /// Redis namespace (default: the one in the connection string, else `resque`).
    #[arg(short = 'N', long = "namespace", env = "RESQUE_NAMESPACE")]
    namespace: Option<String>,
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
    let client = Client::connect(&args.redis, args.namespace.as_deref())?.with_environment(
        std::env::var("RAILS_ENV")
            .or_else(|_| std::env::var("RACK_ENV"))
            .unwrap_or_else(|_| "development".to_owned()),
    );
    let mut out = std::io::stdout().lock();
    match args.command {
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
            client.remove_worker(&worker)?;
            writeln!(out, "** removed {worker}")?;
        }
        Command::Kill { worker } => {
            kill(&client, &worker, &mut out)?;
        }
        Command::Enqueue {
            queue,
            class,
            args,
            args_json,
            json,
        } => {
            let args = match args_json {
                Some(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Array(a)) => a,
                    Ok(_) => bail!("--args must be a JSON array, e.g. '[44,\"masterbrew\"]'"),
                    Err(e) => bail!("--args is not valid JSON: {e}"),
                },
                None => args.iter().map(|a| parse_arg(a)).collect(),
            };
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
    client.remove_worker(worker)?;
    writeln!(out, "** removed {worker}")?;
    Ok(())
}
