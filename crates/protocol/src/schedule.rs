//! resque-scheduler's recurring schedules: one entry's config (as stored in
//! `persistent_schedules` and written in schedule files), and its interval, `cron` or
//! `every`, parsed and evaluated.
//!
//! A config is a JSON object kept in the caller's key order, because Ruby stores it that
//! way (fixture 15). The keys that mean something:
//!
//! | key | meaning |
//! |---|---|
//! | `cron` | fugit cron: 5 fields, or 6 with seconds first, an optional trailing time zone, `@daily` and friends, `L`, `#n` |
//! | `every` | a duration (`30s`, `1h`, `1d2h`, `PT1H`, plain seconds), or `[duration, {first_in, first_at, last_at, last_in, times}]` |
//! | `class` | the job class; the schedule's name when missing |
//! | `queue` | the queue; else the class's own queue, which only a scheduler that knows the class has |
//! | `args` | an array is the argument list, a hash one argument, a scalar one argument, none `[]` |
//! | `description` | shown in resque-web |
//! | `rails_env` / `env` | a comma or space list; the entry runs only in those environments |
//! | `persist` | `set_schedule` only: store it in Redis (never stored itself) |
//!
//! `cron` wins when both are set; an empty or `null` value counts as missing, and an entry
//! with neither only fires from resque-web's "Queue now".

mod cron;
mod every;
mod file;

use serde_json::{Map, Value};

use crate::{Error, Result, json};

pub use cron::Cron;
pub use every::{Every, parse_duration};
pub use file::parse_file;

/// One schedule entry's config.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    map: Map<String, Value>,
}

/// How often an entry fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Interval {
    /// A cron line.
    Cron(Cron),
    /// A fixed period.
    Every(Every),
}

impl ScheduleConfig {
    /// A config from a JSON object (any other JSON is refused).
    pub fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            other => Err(Error::Decode {
                message: format!(
                    "a schedule entry must be a hash, found {}",
                    json::ruby_inspect(&other)
                ),
            }),
        }
    }

    /// A config from its JSON bytes (a `persistent_schedules` value).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_value(json::from_slice(bytes)?)
    }

    /// The bytes `set_schedule` stores: the config without `persist`, keys in order.
    pub fn encode(&self) -> Result<String> {
        let mut map = self.map.clone();
        map.shift_remove("persist");
        json::to_string(&Value::Object(map))
    }

    /// The whole config, in its key order.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    fn string(&self, key: &str) -> Option<&str> {
        match self.map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// The job class: `class`, else the schedule's `name` (as `Resque.schedule=` fills it).
    pub fn class<'a>(&'a self, name: &'a str) -> &'a str {
        self.string("class").unwrap_or(name)
    }

    /// The class a fire enqueues: a `custom_job_class` other than `Resque::Job` when set
    /// (what Ruby's `enqueue_from_config` enqueues when it cannot load that class, which a
    /// process without the Ruby code never can), else [`ScheduleConfig::class`].
    pub fn enqueued_class<'a>(&'a self, name: &'a str) -> &'a str {
        match self.custom_job_class() {
            Some(custom) if custom != "Resque::Job" => custom,
            _ => self.class(name),
        }
    }

    /// The `queue`, if given.
    pub fn queue(&self) -> Option<&str> {
        self.string("queue")
    }

    /// The `description`, if given.
    pub fn description(&self) -> Option<&str> {
        self.string("description")
    }

    /// `custom_job_class`, if given (its `.scheduled` is Ruby-only; shown, not used).
    pub fn custom_job_class(&self) -> Option<&str> {
        self.string("custom_job_class")
    }

    /// `parameters`: what resque-web's "Queue now" asks for before enqueueing.
    pub fn parameters(&self) -> Option<&Map<String, Value>> {
        match self.map.get("parameters") {
            Some(Value::Object(p)) if !p.is_empty() => Some(p),
            _ => None,
        }
    }

    /// Whether `persist` is truthy (Ruby: anything but `nil` and `false`).
    pub fn persist(&self) -> bool {
        !matches!(
            self.map.get("persist"),
            None | Some(Value::Null | Value::Bool(false))
        )
    }

    /// The job arguments, shaped as resque-scheduler shapes them: an array is the list, a
    /// hash is one argument, a scalar is one argument, none is `[]` (fixture 16).
    pub fn args(&self) -> Vec<Value> {
        match self.map.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        }
    }

    /// `rails_env`, else `env`: the environments the entry runs in.
    pub fn configured_env(&self) -> Option<&str> {
        match (self.map.get("rails_env"), self.map.get("env")) {
            (Some(Value::String(s)), _) => Some(s),
            (None | Some(Value::Null), Some(Value::String(s))) => Some(s),
            _ => None,
        }
    }

    /// Whether the entry runs in `env` (`RAILS_ENV` / `-E`): always when it names no
    /// environment, else only when `env` is one of those it names (split on commas and
    /// spaces), so an entry that names one never runs without `-E`.
    pub fn runs_in(&self, env: Option<&str>) -> bool {
        match self.configured_env() {
            None => true,
            Some(list) => env.is_some_and(|env| {
                list.split(|c: char| c == ',' || c.is_whitespace())
                    .any(|e| e == env)
            }),
        }
    }

    /// The interval: `cron` if set, else `every`, else `None` (a manual-only entry). A
    /// value that does not parse is an error naming it.
    pub fn interval(&self) -> Result<Option<Interval>> {
        for key in ["cron", "every"] {
            let (text, options) = match self.map.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.trim().is_empty() => continue,
                Some(Value::Array(a)) if a.is_empty() => continue,
                Some(Value::String(s)) => (s.clone(), None),
                Some(Value::Number(n)) if key == "every" => (n.to_string(), None),
                Some(Value::Array(a)) => match (a.first(), a.get(1)) {
                    (Some(Value::String(s)), opts) => (s.clone(), opts),
                    (Some(Value::Number(n)), opts) if key == "every" => (n.to_string(), opts),
                    _ => return Err(bad(key, &self.map[key])),
                },
                Some(other) => return Err(bad(key, other)),
            };
            let options = match options {
                None | Some(Value::Null) => None,
                Some(Value::Object(o)) => Some(o),
                Some(other) => return Err(bad(key, other)),
            };
            return Ok(Some(if key == "cron" {
                Interval::Cron(Cron::parse(&text)?)
            } else {
                Interval::Every(Every::parse(&text, options)?)
            }));
        }
        Ok(None)
    }
}

fn bad(key: &str, value: &Value) -> Error {
    Error::Schedule(format!(
        "{key} must be a string or [string, {{options}}], found {}",
        json::ruby_inspect(value)
    ))
}

impl Interval {
    /// How resque-web shows it: `cron: 0 3 * * *`, `every: 1h (first in 120s)`.
    pub fn describe(&self) -> String {
        match self {
            Interval::Cron(c) => format!("cron: {}", c.source()),
            Interval::Every(e) => format!("every: {}", e.describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json_text: &str) -> ScheduleConfig {
        ScheduleConfig::decode(json_text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn args_shapes_and_class_default() -> Result<()> {
        assert_eq!(config(r#"{"args":[44,"m"]}"#).args().len(), 2);
        assert_eq!(
            json::to_string(&config(r#"{"args":{"user_id":7}}"#).args())?,
            r#"[{"user_id":7}]"#
        );
        assert_eq!(
            json::to_string(&config(r#"{"args":"contributors"}"#).args())?,
            r#"["contributors"]"#
        );
        assert!(config("{}").args().is_empty());
        assert_eq!(config("{}").class("NoopJob"), "NoopJob");
        assert_eq!(config(r#"{"class":"A"}"#).class("n"), "A");
        Ok(())
    }

    #[test]
    fn encode_drops_persist_and_keeps_order() -> Result<()> {
        let c = config(
            r#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"persist":true,"description":"hourly"}"#,
        );
        assert!(c.persist());
        assert_eq!(
            c.encode()?,
            r#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"description":"hourly"}"#
        );
        Ok(())
    }

    #[test]
    fn environments() {
        let c = config(r#"{"rails_env":"production, staging"}"#);
        assert!(c.runs_in(Some("staging")));
        assert!(!c.runs_in(Some("development")));
        assert!(!c.runs_in(None));
        assert!(config("{}").runs_in(None));
        assert!(config(r#"{"env":"a b"}"#).runs_in(Some("b")));
    }

    #[test]
    fn intervals() -> Result<()> {
        assert!(config(r#"{"cron":"","every":""}"#).interval()?.is_none());
        let both = config(r#"{"cron":"0 3 * * *","every":"1h"}"#).interval()?;
        assert!(matches!(both, Some(Interval::Cron(_))));
        let every = config(r#"{"every":["30s",{"first_in":"120s"}]}"#).interval()?;
        assert_eq!(
            every.map(|i| i.describe()).as_deref(),
            Some("every: 30s (first in 120s)")
        );
        assert!(config(r#"{"cron":"61 * * * *"}"#).interval().is_err());
        assert!(config(r#"{"every":"soon"}"#).interval().is_err());
        assert!(config(r#"{"every":{"a":1}}"#).interval().is_err());
        Ok(())
    }
}
