//! `resque enqueue-at`, `enqueue-in`, `delayed ...` and `schedule ...`: resque-scheduler's
//! delayed jobs and stored schedules from the command line.

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use resque::Value;
use resque::blocking::Client;
use resque::protocol::{DelayedItem, ScheduleConfig};

use crate::job_args;

/// QUEUE CLASS [ARG...]: the job, as `resque enqueue` takes it.
#[derive(Debug, clap::Args)]
pub(crate) struct JobArgs {
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
    /// Print the stored delayed item (or the payload, when enqueued now) as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DelayedCommand {
    /// Lists timestamps with their job counts, soonest first (the default).
    List {
        /// Skip this many timestamps.
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Show at most this many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows the jobs delayed to one timestamp.
    Show {
        /// The timestamp (Unix seconds).
        ts: i64,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Removes a delayed job (every copy, at every time; with --at, at one time only).
    Remove {
        /// Only at this timestamp.
        #[arg(long)]
        at: Option<i64>,
        #[command(flatten)]
        job: JobArgs,
    },
    /// Enqueues the first job of a timestamp now (resque-web's "Queue now").
    QueueNow {
        /// The timestamp (Unix seconds).
        ts: i64,
    },
    /// Removes every delayed job.
    Clear,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Lists stored schedules (the default).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stores a schedule (persistent; a DYNAMIC_SCHEDULE scheduler picks it up).
    Set {
        /// The schedule's name.
        name: String,
        /// A cron line (5 or 6 fields, optional time zone).
        #[arg(long, conflicts_with = "every", required_unless_present = "every")]
        cron: Option<String>,
        /// A duration (30s, 5m, 1h, 1d2h).
        #[arg(long)]
        every: Option<String>,
        /// The job class.
        #[arg(long)]
        class: String,
        /// The queue.
        #[arg(long)]
        queue: Option<String>,
        /// The arguments, as JSON (an array is the argument list).
        #[arg(long = "args", value_name = "JSON")]
        args: Option<String>,
        /// Shown in resque-web.
        #[arg(long)]
        description: Option<String>,
        /// Print the stored JSON.
        #[arg(long)]
        json: bool,
    },
    /// Removes a stored schedule.
    Remove {
        /// The schedule's name.
        name: String,
    },
}

/// TIME as Unix seconds (fractions allowed) or RFC 3339.
fn parse_time(text: &str) -> Result<SystemTime> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            bail!("TIME must be Unix seconds or RFC 3339 (2026-12-01T18:00:00Z), found {text:?}");
        }
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    let ts: jiff::Timestamp = t.parse().map_err(|_| {
        anyhow::anyhow!(
            "TIME must be Unix seconds or RFC 3339 (2026-12-01T18:00:00Z), found {text:?}"
        )
    })?;
    Ok(SystemTime::from(ts))
}

fn delay_to(client: &Client, at: SystemTime, job: JobArgs, out: &mut impl Write) -> Result<()> {
    let args = job_args(&job.args, job.args_json.as_deref())?;
    let now = SystemTime::now();
    let immediate = at <= now;
    let item = DelayedItem::new(job.queue.as_str(), job.class.as_str(), args.clone());
    client.enqueue_at_to(&job.queue, at, &job.class, args)?;
    match (job.json, immediate) {
        (true, true) => writeln!(out, "{}", item.payload().encode()?)?,
        (true, false) => writeln!(out, "{}", item.encode()?)?,
        (false, true) => writeln!(
            out,
            "** enqueued {} to {} (the time is not in the future)",
            job.class, job.queue
        )?,
        (false, false) => {
            let secs = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            writeln!(out, "** delayed {} to {} at {secs}", job.class, job.queue)?
        }
    }
    Ok(())
}

pub(crate) fn enqueue_at(
    client: &Client,
    time: &str,
    job: JobArgs,
    out: &mut impl Write,
) -> Result<()> {
    delay_to(client, parse_time(time)?, job, out)
}

pub(crate) fn enqueue_in(
    client: &Client,
    seconds: &str,
    job: JobArgs,
    out: &mut impl Write,
) -> Result<()> {
    let secs: f64 = seconds
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite())
        .with_context(|| format!("SECONDS must be a number, found {seconds:?}"))?;
    let at = if secs <= 0.0 {
        SystemTime::now()
    } else {
        SystemTime::now() + Duration::from_secs_f64(secs.min(1e12))
    };
    delay_to(client, at, job, out)
}

fn local(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S %z")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_string())
}

pub(crate) fn delayed(
    client: &Client,
    command: Option<DelayedCommand>,
    out: &mut impl Write,
) -> Result<()> {
    match command.unwrap_or(DelayedCommand::List {
        offset: 0,
        limit: 20,
        json: false,
    }) {
        DelayedCommand::List {
            offset,
            limit,
            json,
        } => {
            let total = client.delayed_queue_schedule_size()?;
            let tss = client.delayed_queue_peek(offset.max(0), limit.max(0))?;
            if json {
                let rows: Vec<Value> = tss
                    .iter()
                    .map(|ts| Ok(serde_json::json!({"timestamp": ts, "jobs": client.delayed_timestamp_size(*ts)?})))
                    .collect::<Result<_>>()?;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"timestamps": total, "page": rows})
                )?;
            } else if tss.is_empty() {
                writeln!(out, "None")?;
            } else {
                for ts in &tss {
                    writeln!(
                        out,
                        "{ts}  {}  {} job(s)",
                        local(*ts),
                        client.delayed_timestamp_size(*ts)?
                    )?;
                }
                if (offset.max(0) + tss.len() as i64) < total as i64 {
                    writeln!(out, "... more: --offset {}", offset.max(0) + limit.max(0))?;
                }
            }
        }
        DelayedCommand::Show { ts, json } => {
            for item in client.delayed_timestamp_peek(ts, 0, 0)? {
                match item {
                    Ok(item) if json => writeln!(out, "{}", item.encode()?)?,
                    Ok(item) => writeln!(
                        out,
                        "{} {} ({})",
                        item.class,
                        Value::Array(item.args.clone()),
                        item.queue.as_deref().unwrap_or("no queue")
                    )?,
                    Err((raw, why)) => writeln!(out, "(corrupt: {why}) {raw}")?,
                }
            }
        }
        DelayedCommand::Remove { at, job } => {
            let args = job_args(&job.args, job.args_json.as_deref())?;
            let n = match at {
                Some(ts) => {
                    client.remove_delayed_class_from_timestamp(ts, &job.queue, &job.class, args)?
                }
                None => client.remove_delayed_class(&job.queue, &job.class, args)?,
            };
            writeln!(out, "** removed {n} delayed job(s)")?;
        }
        DelayedCommand::QueueNow { ts } => match client.enqueue_next_item(ts)? {
            Some(item) => writeln!(
                out,
                "** enqueued {} to {}",
                item.class,
                item.queue.as_deref().unwrap_or("?")
            )?,
            None => writeln!(out, "** nothing delayed to {ts}")?,
        },
        DelayedCommand::Clear => {
            client.reset_delayed_queue()?;
            writeln!(out, "** cleared the delayed queue")?;
        }
    }
    Ok(())
}

pub(crate) fn schedule(
    client: &Client,
    command: Option<ScheduleCommand>,
    out: &mut impl Write,
) -> Result<()> {
    match command.unwrap_or(ScheduleCommand::List { json: false }) {
        ScheduleCommand::List { json } => {
            let all = client.all_schedules()?;
            if all.is_empty() && !json {
                writeln!(out, "None")?;
            }
            let mut rows = Vec::new();
            for (name, config) in all {
                let last = client.last_enqueued_at(&name)?;
                match config {
                    Ok(c) if json => rows.push(serde_json::json!({"name": name, "config": Value::Object(c.as_map().clone()), "last_enqueued_at": last})),
                    Ok(c) => {
                        let interval = match c.interval() {
                            Ok(Some(i)) => i.describe(),
                            Ok(None) => "Not currently scheduled".to_owned(),
                            Err(e) => format!("invalid: {e}"),
                        };
                        writeln!(
                            out,
                            "{name}  {interval}  {} -> {}  args {}  last {}{}",
                            c.class(&name),
                            c.queue().unwrap_or("(class queue)"),
                            Value::Array(c.args()),
                            last.as_deref().unwrap_or("never"),
                            c.description().map(|d| format!("  ({d})")).unwrap_or_default()
                        )?;
                    }
                    Err(e) if json => rows.push(serde_json::json!({"name": name, "error": e.to_string()})),
                    Err(e) => writeln!(out, "{name}  (unreadable: {e})")?,
                }
            }
            if json {
                writeln!(out, "{}", Value::Array(rows))?;
            }
        }
        ScheduleCommand::Set {
            name,
            cron,
            every,
            class,
            queue,
            args,
            description,
            json,
        } => {
            let mut map = resque::protocol::Map::new();
            map.insert("class".into(), class.into());
            if let Some(c) = cron {
                map.insert("cron".into(), c.into());
            }
            if let Some(e) = every {
                map.insert("every".into(), e.into());
            }
            if let Some(q) = queue {
                map.insert("queue".into(), q.into());
            }
            if let Some(a) = args {
                let v: Value = serde_json::from_str(&a)
                    .map_err(|e| anyhow::anyhow!("--args is not valid JSON: {e}"))?;
                map.insert("args".into(), v);
            }
            if let Some(d) = description {
                map.insert("description".into(), d.into());
            }
            let config = ScheduleConfig::from_value(Value::Object(map))?;
            client.set_schedule(&name, &config)?;
            if json {
                writeln!(out, "{}", config.encode()?)?;
            } else {
                writeln!(out, "** set schedule {name}")?;
            }
        }
        ScheduleCommand::Remove { name } => {
            if client.remove_schedule(&name)? {
                writeln!(out, "** removed schedule {name}")?;
            } else {
                bail!("no stored schedule named {name:?}");
            }
        }
    }
    Ok(())
}
