//! resque-rs's structured log lines, one implementation for the three binaries
//! (`resque-worker`, `resque-scheduler`, `resque-web`): `LOGFORMAT=json` writes each line as
//! one JSON object, `logfmt` as `key="value"` pairs; each binary keeps its own text format
//! (Ruby's) as the default.
//!
//! A JSON line is resque-scheduler's (`{"name":..,"progname":..,"level":..,"timestamp":..,
//! "msg":..}`) plus the process id and the event's fields. Fields named `job.<x>` (the one
//! line a job gets: class, queue, worker, duration, outcome, error) appear as `<x>` here and
//! are left out of the text formats, whose job lines already say the same in words.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// `LOGFORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// The binary's own (Ruby's) text lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
    /// `timestamp="..." level="INFO" progname=".." msg="..."`, then the fields.
    Logfmt,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            "logfmt" => Ok(Self::Logfmt),
            other => Err(format!(
                "LOGFORMAT must be text, json or logfmt, got {other:?}"
            )),
        }
    }
}

/// An event's message and fields, in order.
#[derive(Debug, Default)]
pub struct Fields {
    /// The message.
    pub message: String,
    /// The other fields, `job.` prefixes kept.
    pub fields: Vec<(String, Value)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        self.put(field, Value::String(text));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
}

impl Fields {
    /// Reads an event.
    pub fn of(event: &Event<'_>) -> Self {
        let mut f = Self::default();
        event.record(&mut f);
        f
    }

    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            self.fields.push((field.name().to_owned(), value));
        }
    }

    /// The text formats' `key=value` tail: every field but the `job.` ones.
    pub fn text_tail(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.fields.iter().filter(|(k, _)| !k.starts_with("job.")) {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(out, " {k}={v}");
        }
        out
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

/// The structured formats ([`LogFormat::Json`], [`LogFormat::Logfmt`]) for a program.
#[derive(Debug, Clone, Copy)]
pub struct Structured {
    /// `json` or `logfmt` (text is the binary's own).
    pub format: LogFormat,
    /// The program's name (`resque-worker`).
    pub progname: &'static str,
}

impl Structured {
    /// One line for an event (without the newline).
    pub fn line(&self, event: &Event<'_>) -> String {
        let f = Fields::of(event);
        let level = severity(event.metadata().level());
        let at = jiff::Zoned::now()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let pid = std::process::id();
        match self.format {
            LogFormat::Logfmt => {
                let q = |s: &str| {
                    s.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n")
                };
                let mut out = format!(
                    "timestamp=\"{at}\" level=\"{level}\" progname=\"{}\" pid={pid} msg=\"{}\"",
                    self.progname,
                    q(&f.message)
                );
                for (k, v) in &f.fields {
                    let k = k.strip_prefix("job.").unwrap_or(k);
                    let v = match v {
                        Value::String(s) => format!("\"{}\"", q(s)),
                        other => other.to_string(),
                    };
                    let _ = write!(out, " {k}={v}");
                }
                out
            }
            _ => {
                let mut m = Map::new();
                m.insert("name".into(), self.progname.into());
                m.insert("progname".into(), self.progname.into());
                m.insert("level".into(), level.into());
                m.insert("timestamp".into(), at.into());
                m.insert("pid".into(), pid.into());
                m.insert("msg".into(), f.message.into());
                for (k, v) in f.fields {
                    let k = k.strip_prefix("job.").map(str::to_owned).unwrap_or(k);
                    m.entry(k).or_insert(v);
                }
                Value::Object(m).to_string()
            }
        }
    }
}

impl<S, N> FormatEvent<S, N> for Structured
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
        writeln!(w, "{}", self.line(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        assert_eq!("".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
