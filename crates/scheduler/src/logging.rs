//! The scheduler's log lines in resque-scheduler's three formats (`LOGFORMAT`), at Ruby's
//! levels: `-q` fatal only, `-v` debug, else info.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::Visit;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, LogFormat};

const PROGNAME: &str = "resque-scheduler";

struct RubyFormat(LogFormat);

/// The event's message and fields as one text.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

impl<S, N> FormatEvent<S, N> for RubyFormat
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
        let mut msg = Message::default();
        event.record(&mut msg);
        let level = severity(event.metadata().level());
        let at = jiff::Zoned::now()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        match self.0 {
            LogFormat::Text => writeln!(w, "{PROGNAME}: [{level}] {at}: {}", msg.0),
            LogFormat::Json => {
                let line = serde_json::json!({
                    "name": PROGNAME, "progname": PROGNAME, "level": level,
                    "timestamp": at, "msg": msg.0,
                });
                writeln!(w, "{line}")
            }
            LogFormat::Logfmt => writeln!(
                w,
                "timestamp=\"{at}\" level=\"{level}\" progname=\"{PROGNAME}\" msg=\"{}\"",
                msg.0
            ),
        }
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
        .with_ansi(false)
        .event_format(RubyFormat(config.logformat));
    let result = match &config.logfile {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))?;
            builder.with_writer(Mutex::new(file)).try_init()
        }
        None => builder.with_writer(std::io::stdout).try_init(),
    };
    // Already installed by the application: keep theirs.
    let _ = result;
    Ok(())
}
