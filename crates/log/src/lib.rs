//! resque-rs's structured log lines, one implementation for the three binaries
//! (`resque-worker`, `resque-scheduler`, `resque-web`): `LOGFORMAT=json` writes each line as
//! one JSON object, `logfmt` as `key="value"` pairs; each binary keeps its own text format
//! (Ruby's) as the default.
//!
//! A JSON line is resque-scheduler's (`{"name":..,"progname":..,"level":..,"timestamp":..,
//! "msg":..}`) plus the process id and the event's fields. Fields named `job.<x>` (the one
//! line a job gets: class, queue, worker, duration, outcome, error) appear as `<x>` here and
//! are left out of the text formats, whose job lines already say the same in words.
//!
//! Spans: each line also carries the fields of the spans it is in, outermost first, and
//! `span`, their names joined with `:` (the worker's `job` span gives every line a job
//! writes, in the forked child too, its `class`, `queue` and `worker`; the web's `request`
//! span its `method` and `path`). For that the subscriber records span fields with
//! [`JsonFields`]; the text formats leave spans out, as Ruby's lines have none. A field
//! named as one of the line's own keys (`name`, `level`, `msg`...) or an event's field is
//! left out: name span fields apart (the scheduler's says `schedule`, not `name`).

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
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

    /// Reads any fields (an event's, or a span's as it is made or recorded).
    fn of_record(fields: impl RecordFields) -> Self {
        let mut f = Self::default();
        fields.record(&mut f);
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

/// Records span fields as one JSON object, so that [`Structured`] can put them in each
/// line as values (tracing-subscriber's default keeps them as `key=value` text). Install it
/// with `.fmt_fields(JsonFields)` beside `.event_format(Structured { .. })`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl JsonFields {
    fn write(map: &Map<String, Value>, mut w: Writer<'_>) -> fmt::Result {
        write!(w, "{}", Value::Object(map.clone()))
    }

    fn merge(map: &mut Map<String, Value>, f: Fields) {
        if !f.message.is_empty() {
            map.insert("message".into(), f.message.into());
        }
        for (k, v) in f.fields {
            map.insert(k, v);
        }
    }
}

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, w: Writer<'w>, fields: R) -> fmt::Result {
        let mut map = Map::new();
        Self::merge(&mut map, Fields::of_record(fields));
        Self::write(&map, w)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        // `span.record(..)` after the span was made: merge into the object, not after it.
        let mut map: Map<String, Value> =
            serde_json::from_str(current.as_str()).unwrap_or_default();
        Self::merge(&mut map, Fields::of_record(fields));
        current.fields.clear();
        Self::write(&map, current.as_writer())
    }
}

/// The spans an event is in, outermost first: each name and its fields (as [`JsonFields`]
/// recorded them; none if another field formatter did).
fn spans_of<S, N>(ctx: &FmtContext<'_, S, N>) -> Vec<(&'static str, Map<String, Value>)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let Some(scope) = ctx.event_scope() else {
        return Vec::new();
    };
    scope
        .from_root()
        .map(|span| {
            let fields = span
                .extensions()
                .get::<FormattedFields<N>>()
                .and_then(|f| serde_json::from_str(f.as_str()).ok())
                .unwrap_or_default();
            (span.name(), fields)
        })
        .collect()
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
    /// One line for an event (without the newline), outside any span.
    pub fn line(&self, event: &Event<'_>) -> String {
        self.line_in(event, Vec::new())
    }

    /// One line for an event in `spans` (outermost first, each its name and fields): the
    /// event's fields, then the spans' (innermost first; a name the event has already is
    /// the event's), and `span`.
    fn line_in(&self, event: &Event<'_>, spans: Vec<(&'static str, Map<String, Value>)>) -> String {
        let mut f = Fields::of(event);
        if !spans.is_empty() {
            let names: Vec<&str> = spans.iter().map(|(n, _)| *n).collect();
            let path = names.join(":");
            let mut seen: std::collections::HashSet<String> = f
                .fields
                .iter()
                .map(|(k, _)| k.strip_prefix("job.").unwrap_or(k).to_owned())
                .collect();
            for (_, fields) in spans.into_iter().rev() {
                for (k, v) in fields {
                    if k != "message" && seen.insert(k.clone()) {
                        f.fields.push((k, v));
                    }
                }
            }
            if seen.insert("span".to_owned()) {
                f.fields.push(("span".to_owned(), path.into()));
            }
        }
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
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(w, "{}", self.line_in(event, spans_of(ctx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    /// Lines written to memory.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(format: LogFormat, log: impl FnOnce()) -> Vec<String> {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .fmt_fields(JsonFields)
            .event_format(Structured {
                format,
                progname: "resque-test",
            })
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let bytes = buf.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn lines_carry_their_spans_fields_and_names() {
        let lines = lines_of(LogFormat::Json, || {
            tracing::info!("outside");
            let job = tracing::info_span!(
                "job",
                class = "Archive",
                queue = "file_serve",
                worker = "box:1:q"
            );
            let _in = job.enter();
            let inner = tracing::info_span!("step", n = 2, later = tracing::field::Empty);
            inner.record("later", "set \"after\"");
            let _in2 = inner.enter();
            tracing::info!(user = 7, "from the job");
            // The event's own field wins over a span's of the same name.
            tracing::info!(job.class = "Mine", job.outcome = "done", "done");
        });
        let v: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(v.len(), 3, "{lines:?}");
        assert!(
            v[0].get("span").is_none() && v[0].get("class").is_none(),
            "{}",
            v[0]
        );
        assert_eq!(v[1]["msg"], "from the job");
        assert_eq!(v[1]["user"], 7);
        assert_eq!(v[1]["class"], "Archive");
        assert_eq!(v[1]["queue"], "file_serve");
        assert_eq!(v[1]["worker"], "box:1:q");
        assert_eq!(v[1]["n"], 2);
        assert_eq!(
            v[1]["later"], "set \"after\"",
            "recorded after the span was made"
        );
        assert_eq!(v[1]["span"], "job:step");
        assert_eq!(v[2]["class"], "Mine");
        assert_eq!(v[2]["outcome"], "done");
        assert_eq!(v[2]["worker"], "box:1:q");
    }

    #[test]
    fn logfmt_lines_carry_spans_too() {
        let lines = lines_of(LogFormat::Logfmt, || {
            let span = tracing::info_span!("request", method = "GET", path = "/a b\"c");
            let _in = span.enter();
            tracing::warn!("Redis error");
        });
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert!(l.contains(" level=\"WARN\" "), "{l}");
        assert!(
            l.ends_with(r#"msg="Redis error" method="GET" path="/a b\"c" span="request""#),
            "{l}"
        );
    }

    #[test]
    fn formats_parse() {
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        assert_eq!("".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
