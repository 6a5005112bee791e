//! `resque failures ...`: listing, showing, requeueing and removing failed jobs.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Subcommand;
use resque::Value;
use resque::blocking::Client;
/// Which records: filters shared by several `failures` subcommands.
#[derive(Debug, clap::Args)]
pub(crate) struct FilterArgs {
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
pub(crate) enum FailuresCommand {
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

pub(crate) fn failures(
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
