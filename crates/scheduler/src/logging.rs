//! The scheduler's log lines in resque-scheduler's three formats (`LOGFORMAT`): its text
//! line here, `json` and `logfmt` from `resque-log` (shared with the worker and the web), at
//! Ruby's levels: `-q` errors only, `-v` debug, else info.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, LogFormat};

const PROGNAME: &str = "resque-scheduler";

/// resque-scheduler's text line: `resque-scheduler: [INFO] 2026-12-01T07:06:04+00:00: msg`.
struct RubyText;

impl<S, N> FormatEvent<S, N> for RubyText
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let f = resque_log::Fields::of(event);
        let level = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            _ => "DEBUG",
        };
        let at = jiff::Zoned::now()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        writeln!(
            w,
            "{PROGNAME}: [{level}] {at}: {}{}",
            f.message,
            f.text_tail()
        )
    }
}

/// Installs the subscriber (does nothing if the application installed one). A log file
/// that cannot be opened is an error naming it.
pub(crate) fn init(config: &Config) -> anyhow::Result<()> {
    let level = if config.quiet {
        Level::ERROR
    } else if config.verbose {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false);
    let structured = resque_log::Structured {
        format: config.logformat,
        progname: PROGNAME,
    };
    let text = config.logformat == LogFormat::Text;
    // Already installed by the application: keep theirs (the results are ignored).
    match &config.logfile {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))?;
            let b = builder.with_writer(Mutex::new(file));
            let _ = if text {
                b.event_format(RubyText).try_init()
            } else {
                b.fmt_fields(resque_log::JsonFields)
                    .event_format(structured)
                    .try_init()
            };
        }
        None => {
            let b = builder.with_writer(std::io::stdout);
            let _ = if text {
                b.event_format(RubyText).try_init()
            } else {
                b.fmt_fields(resque_log::JsonFields)
                    .event_format(structured)
                    .try_init()
            };
        }
    }
    Ok(())
}
