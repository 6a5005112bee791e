//! `resque`: the admin command, Ruby's `bin/resque` extended.
//!
//! ```text
//! resque [-r REDIS] [-N NAMESPACE] [--failure-backend NAMES] COMMAND
//!   list | remove WORKER | kill WORKER
//!   enqueue QUEUE CLASS [ARG...] [--args JSON] | queues | info | stats
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
    /// Lists, shows, requeues and removes failed jobs.
    Failures {
        /// The failure backend whose lists to read (default: --failure-backend).
        #[arg(long = "backend")]
        backend: Option<String>,
        #[command(subcommand)]
        command: FailuresCommand,
    },
}

/// Which records: filters shared by several `failures` subcommands.
#[derive(Debug, clap::Args)]
struct FilterArgs {
    /// Only jobs of this class.
    #[arg(long)]
    class: Option<String>,
    /// Only jobs from this queue.
    #[arg(long)]
    queue: Option<String>,
    /// Only this exception class (RuntimeError, Resque::DirtyExit).
    #[arg(long)]
    exception: Option<String>,
    /// Only records whose message or arguments contain this text (any case).
    #[arg(long)]
    text: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> resque::failure::Filter {
        resque::failure::Filter {
            class: self.class.clone(),
            queue: self.queue.clone(),
            exception: self.exception.clone(),
            text: self.text.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum FailuresCommand {
    /// Lists failed jobs, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// The failure list (`failed`; `<queue>_failed` for redis_multi_queue).
        #[arg(long)]
        list: Option<String>,
        /// Oldest first.
        #[arg(long)]
        asc: bool,
        /// Skip this many matching records.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Show at most this many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON lines (index, list, record).
        #[arg(long)]
        json: bool,
    },
    /// Shows one record in full.
    Show {
        /// Its index in the list.
        index: u64,
        /// The failure list.
        #[arg(long)]
        list: Option<String>,
        /// Print the stored JSON.
        #[arg(long)]
        json: bool,
    },
    /// Counts records (all, or those matching the filters).
    Count {
        #[command(flatten)]
        filter: FilterArgs,
        /// The failure list.
        #[arg(long)]
        list: Option<String>,
    },
    /// Requeues failed jobs: one by index, or --all, or those matching filters.
    Requeue {
        /// Index of the record to requeue.
        index: Option<u64>,
        /// Every record.
        #[arg(long, conflicts_with = "index")]
        all: bool,
        #[command(flatten)]
        filter: FilterArgs,
        /// Also remove each record once its job is requeued.
        #[arg(long)]
        remove: bool,
        /// The failure list.
        #[arg(long)]
        list: Option<String>,
    },
    /// Removes one record.
    Remove {
        /// Its index in the list.
        index: u64,
        /// The failure list.
        #[arg(long)]
        list: Option<String>,
    },
    /// Deletes every record (of one list with --list).
    Clear {
        /// The failure list.
        #[arg(long)]
        list: Option<String>,
    },
    /// Removes every record that has been requeued.
    ClearRetried,
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

fn failures(
    client: &Client,
    backend: &str,
    command: FailuresCommand,
    out: &mut impl Write,
) -> Result<()> {
    use resque::failure::{Backend, Order};
    let backend = Backend::for_reading(backend)?;
    let f = backend.failures(client.async_client().store()?.clone());
    macro_rules! rt {
        ($fut:expr) => {
            client.block_on($fut)
        };
    }
    match command {
        FailuresCommand::List {
            filter,
            list,
            asc,
            offset,
            limit,
            json,
        } => {
            let order = if asc { Order::Asc } else { Order::Desc };
            let lists = match (&list, f.is_multi_queue()) {
                (None, true) => rt!(f.queues())?,
                _ => vec![
                    list.clone()
                        .unwrap_or_else(|| resque::protocol::failure::FAILED_LIST.to_owned()),
                ],
            };
            for name in lists {
                let page = rt!(f.page(Some(&name), &filter.filter(), order, offset, limit))?;
                for e in &page.entries {
                    if json {
                        let record = e.record.clone().map(Value::Object).unwrap_or(Value::Null);
                        let line = serde_json::json!({"index": e.index, "list": e.list, "corrupt": e.is_corrupt(), "raw": if e.is_corrupt() { Value::String(e.raw.clone()) } else { Value::Null }, "record": record});
                        writeln!(out, "{line}")?;
                    } else {
                        writeln!(out, "{}", summary(e))?;
                    }
                }
                if !json && page.more {
                    writeln!(out, "... more: --offset {}", offset + limit)?;
                }
            }
        }
        FailuresCommand::Show { index, list, json } => {
            need_list(client, &f, list.as_deref())?;
            let e = rt!(f.get(index, list.as_deref()))?;
            if json {
                writeln!(out, "{}", e.raw)?;
            } else {
                writeln!(out, "{}", summary(&e))?;
                if e.record.is_ok() {
                    writeln!(out, "worker:    {}", e.worker().unwrap_or("?"))?;
                    writeln!(
                        out,
                        "args:      {}",
                        e.args()
                            .map(|a| Value::Array(a.clone()).to_string())
                            .unwrap_or_default()
                    )?;
                    for frame in e.backtrace() {
                        writeln!(out, "  {frame}")?;
                    }
                }
            }
        }
        FailuresCommand::Count { filter, list } => {
            let filter = filter.filter();
            let n = if filter.is_empty() {
                rt!(f.count(list.as_deref(), None))?
            } else {
                rt!(f.search_count(list.as_deref(), &filter))?
            };
            writeln!(out, "{n}")?;
        }
        FailuresCommand::Requeue {
            index,
            all,
            filter,
            remove,
            list,
        } => {
            let filter = filter.filter();
            if index.is_some() {
                need_list(client, &f, list.as_deref())?;
            }
            let n = match index {
                Some(i) if remove => rt!(f.requeue_and_remove(i, list.as_deref())).map(|()| 1)?,
                Some(i) => rt!(f.requeue(i, list.as_deref())).map(|()| 1)?,
                None if !all && filter.is_empty() => bail!(
                    "say which: an INDEX, --all, or a filter (--class, --queue, --exception, --text)"
                ),
                None if f.is_multi_queue() && list.is_none() => {
                    let mut n = 0;
                    for l in rt!(f.queues())? {
                        n += rt!(f.requeue_matching(Some(&l), &filter, remove))?;
                    }
                    n
                }
                None => rt!(f.requeue_matching(list.as_deref(), &filter, remove))?,
            };
            let verb = if remove {
                "requeued and removed"
            } else {
                "requeued"
            };
            writeln!(out, "** {verb} {n} job{}", if n == 1 { "" } else { "s" })?;
        }
        FailuresCommand::Remove { index, list } => {
            need_list(client, &f, list.as_deref())?;
            rt!(f.remove(index, list.as_deref()))?;
            writeln!(out, "** removed failure {index}")?;
        }
        FailuresCommand::Clear { list } => {
            rt!(f.clear(list.as_deref()))?;
            writeln!(out, "** cleared")?;
        }
        FailuresCommand::ClearRetried => {
            let n = rt!(f.clear_retried())?;
            writeln!(
                out,
                "** removed {n} retried failure{}",
                if n == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

/// An index names a record in one list: under redis_multi_queue, without `--list`, an
/// error that names the lists holding records (rather than looking in `failed`).
fn need_list(client: &Client, f: &resque::failure::Failures, list: Option<&str>) -> Result<()> {
    if !f.is_multi_queue() || list.is_some() {
        return Ok(());
    }
    let mut held = Vec::new();
    for l in client.block_on(f.queues())? {
        let n = client.block_on(f.count(Some(&l), None))?;
        if n > 0 {
            held.push(format!("{l} ({n})"));
        }
    }
    let which = if held.is_empty() {
        "no list holds records".to_owned()
    } else {
        format!("records are in {}", held.join(", "))
    };
    bail!("redis_multi_queue keeps a failure list per queue: say which with --list ({which})")
}

/// One line for a record: index, time, queue, class, exception and message.
fn summary(e: &resque::failure::Entry) -> String {
    if let Err(why) = &e.record {
        let raw: String = e.raw.chars().take(80).collect();
        return format!("#{:<5} (corrupt record: {why}) {raw}", e.index);
    }
    let error = e.error().unwrap_or("").lines().next().unwrap_or("");
    let retried = e
        .retried_at()
        .map(|r| format!("  [retried {r}]"))
        .unwrap_or_default();
    format!(
        "#{:<5} {}  {}  {}  {}: {error}{retried}",
        e.index,
        e.failed_at().unwrap_or("?"),
        e.queue().unwrap_or("?"),
        e.class().unwrap_or("?"),
        e.exception().unwrap_or("?"),
    )
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
