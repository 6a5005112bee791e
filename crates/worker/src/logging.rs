//! The worker's log lines in Ruby's two formats: `VERBOSE` (`*** message`) and `VVERBOSE`
//! (`** [12:00:01 2026-12-01] 4242: message`), or `LOGFORMAT=json`/`logfmt` (`resque-log`),
//! written synchronously to stdout (a logging thread must never exist at a fork).

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// Ruby's `VerboseFormatter` or `VeryVerboseFormatter`; the event's fields follow its
/// message as `key=value`.
#[derive(Debug, Clone, Copy)]
struct RubyFormat {
    very_verbose: bool,
}

impl<S, N> FormatEvent<S, N> for RubyFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if self.very_verbose {
            // The pid is read per line: a forked child logs its own.
            let now = jiff::Zoned::now();
            write!(
                w,
                "** [{}] {}: ",
                now.strftime("%H:%M:%S %Y-%m-%d"),
                std::process::id()
            )?;
        } else {
            w.write_str("*** ")?;
        }
        // The message, then the fields as key=value (a job's `job.` fields are for the
        // structured formats: its text line already says them).
        let _ = ctx;
        let f = resque_log::Fields::of(event);
        writeln!(w, "{}{}", f.message, f.text_tail())
    }
}

/// Installs the worker's subscriber: warnings and errors always, `info` with `VERBOSE`,
/// `debug` with `VVERBOSE`, in Ruby's text or a structured `format`. Does nothing if the
/// application installed one already.
pub(crate) fn init(verbose: bool, very_verbose: bool, format: resque_log::LogFormat) {
    let level = if very_verbose {
        tracing::Level::DEBUG
    } else if verbose {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stdout)
        .with_ansi(false);
    let _ = match format {
        resque_log::LogFormat::Text => builder.event_format(RubyFormat { very_verbose }).try_init(),
        structured => builder
            .fmt_fields(resque_log::JsonFields)
            .event_format(resque_log::Structured {
                format: structured,
                progname: "resque-worker",
            })
            .try_init(),
    };
}
