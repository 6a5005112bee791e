//! `every:` intervals as rufus-scheduler reads them: a duration, optionally with
//! `{first_in, first_at, last_in, last_at, times}`.
//!
//! Durations are fugit's: `30s`, `5m`, `1h`, `1d2h`, `1w`, `1M` (30 days), `1y` (365
//! days), long unit names (`2 hours`), ISO 8601 (`PT1H30M`), or a plain number of seconds.
//! As in rufus, counting starts when the schedule is loaded (so a restart resets the
//! phase): the first fire is `first_at`, else load time plus `first_in`, else load time
//! plus the period.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::{Error, Result, json};

/// A parsed `every` interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Every {
    source: String,
    options: Map<String, Value>,
    period: Duration,
    first_in: Option<Duration>,
    first_at: Option<Timestamp>,
    last_in: Option<Duration>,
    last_at: Option<Timestamp>,
    times: Option<u64>,
}

impl Every {
    /// Parses the duration and its options; unknown options are refused, naming them.
    pub fn parse(text: &str, options: Option<&Map<String, Value>>) -> Result<Self> {
        let period = parse_duration(text)?;
        if period.is_zero() {
            return Err(Error::Schedule(format!(
                "every {text:?}: the period must be above zero"
            )));
        }
        let mut every = Self {
            source: text.trim().to_owned(),
            options: options.cloned().unwrap_or_default(),
            period,
            first_in: None,
            first_at: None,
            last_in: None,
            last_at: None,
            times: None,
        };
        for (key, value) in every.options.clone() {
            let text_of = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match key.as_str() {
                "first_in" => every.first_in = Some(parse_duration(&text_of(&value))?),
                "last_in" => every.last_in = Some(parse_duration(&text_of(&value))?),
                "first_at" => every.first_at = Some(parse_time(&key, &text_of(&value))?),
                "last_at" => every.last_at = Some(parse_time(&key, &text_of(&value))?),
                "times" => {
                    every.times = Some(value.as_u64().ok_or_else(|| {
                        Error::Schedule(format!(
                            "every option times must be a whole number, found {}",
                            json::ruby_inspect(&value)
                        ))
                    })?)
                }
                // rufus options about running a job in the scheduler's thread; an enqueue
                // takes no time, so they change nothing here.
                "overlap" | "mutex" | "timeout" | "blocking" | "job" | "tag" | "tags" => {}
                other => {
                    return Err(Error::Schedule(format!(
                        "every option {other:?} is not known (first_in, first_at, last_in, last_at, times)"
                    )));
                }
            }
        }
        Ok(every)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How many fires at most (`times`).
    pub fn times(&self) -> Option<u64> {
        self.times
    }

    /// How resque-web shows it: `1h`, or `30s (first in 120s)`.
    pub fn describe(&self) -> String {
        if self.options.is_empty() {
            return self.source.clone();
        }
        let meta: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => json::ruby_inspect(other),
                };
                format!("{} {v}", k.replace('_', " "))
            })
            .collect();
        format!("{} ({})", self.source, meta.join(", "))
    }

    /// The first fire for a schedule loaded at `loaded`.
    pub fn first_fire(&self, loaded: Timestamp) -> Option<Timestamp> {
        let first = match (self.first_at, self.first_in) {
            (Some(at), _) => at.max(loaded),
            (None, Some(d)) => add(loaded, d)?,
            (None, None) => add(loaded, self.period)?,
        };
        self.allowed(first, 0, loaded).then_some(first)
    }

    /// The fire after `previous`, the `fired`-th (counting from 1) of a schedule loaded at
    /// `loaded`; `None` once `times`, `last_at` or `last_in` ends it.
    pub fn next_after(
        &self,
        previous: Timestamp,
        fired: u64,
        loaded: Timestamp,
    ) -> Option<Timestamp> {
        let next = add(previous, self.period)?;
        self.allowed(next, fired, loaded).then_some(next)
    }

    fn allowed(&self, at: Timestamp, fired: u64, loaded: Timestamp) -> bool {
        if self.times.is_some_and(|t| fired >= t) {
            return false;
        }
        if self.last_at.is_some_and(|last| at > last) {
            return false;
        }
        if let Some(d) = self.last_in
            && add(loaded, d).is_some_and(|last| at > last)
        {
            return false;
        }
        true
    }
}

fn add(t: Timestamp, d: Duration) -> Option<Timestamp> {
    t.checked_add(jiff::SignedDuration::try_from(d).ok()?).ok()
}

fn parse_time(key: &str, text: &str) -> Result<Timestamp> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    // Ruby's `Time#to_s` form, `2026-12-01 07:06:16 +0000`.
    jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", t)
        .and_then(|p| p.to_timestamp())
        .map_err(|_| {
            Error::Schedule(format!(
                "every option {key}: {text:?} is not a time (RFC 3339 or 2026-12-01 07:06:16 +0000)"
            ))
        })
}

/// Parses a fugit duration (`30s`, `1d2h`, `2 hours`, `PT1H30M`, `90`).
///
/// ```
/// use resque_protocol::schedule::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("1d2h")?, Duration::from_secs(93_600));
/// assert_eq!(parse_duration("PT1H30M")?, Duration::from_secs(5_400));
/// assert_eq!(parse_duration("1.5m")?, Duration::from_secs(90));
/// assert!(parse_duration("soon").is_err());
/// # Ok::<(), resque_protocol::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || {
        Error::Schedule(format!(
            "bad duration {text:?} (use 30s, 5m, 1h, 1d2h, 1w, PT1H or seconds)"
        ))
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let iso = t.strip_prefix('P').or_else(|| t.strip_prefix('p'));
    let body = iso.unwrap_or(t);
    let mut total = 0f64;
    let mut chars = body.char_indices().peekable();
    let mut in_time = false;
    let mut any = false;
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() || c == ',' {
            chars.next();
            continue;
        }
        if iso.is_some() && (c == 'T' || c == 't') {
            in_time = true;
            chars.next();
            continue;
        }
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_ascii_digit() || c == '.' {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let number: f64 = body[start..end].parse().map_err(|_| bad())?;
        while chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let unit_start = chars.peek().map_or(body.len(), |&(i, _)| i);
        let mut unit_end = unit_start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_ascii_alphabetic() && !(iso.is_some() && (c == 'T' || c == 't')) {
                unit_end = i + 1;
                chars.next();
                // ISO units are one letter each (`1H30M`).
                if iso.is_some() {
                    break;
                }
            } else {
                break;
            }
        }
        let unit = &body[unit_start..unit_end];
        let seconds = unit_seconds(unit, iso.is_some(), in_time).ok_or_else(bad)?;
        total += number * seconds;
        any = true;
    }
    if !any {
        return Err(bad());
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

fn unit_seconds(unit: &str, iso: bool, in_time: bool) -> Option<f64> {
    const MIN: f64 = 60.0;
    const HOUR: f64 = 3_600.0;
    const DAY: f64 = 86_400.0;
    if iso {
        return Some(match (unit.to_ascii_uppercase().as_str(), in_time) {
            ("Y", false) => 365.0 * DAY,
            ("M", false) => 30.0 * DAY,
            ("W", false) => 7.0 * DAY,
            ("D", false) => DAY,
            ("H", true) => HOUR,
            ("M", true) => MIN,
            ("S", true) => 1.0,
            _ => return None,
        });
    }
    Some(match unit {
        // fugit's short units are case-sensitive only for months (`M`) against minutes.
        "M" => 30.0 * DAY,
        "y" | "Y" => 365.0 * DAY,
        "w" | "W" => 7.0 * DAY,
        "d" | "D" => DAY,
        "h" | "H" => HOUR,
        "m" => MIN,
        "s" | "S" => 1.0,
        long => match long.to_ascii_lowercase().trim_end_matches('s') {
            "year" | "yr" => 365.0 * DAY,
            "month" | "mon" => 30.0 * DAY,
            "week" | "wk" => 7.0 * DAY,
            "day" => DAY,
            "hour" | "hr" => HOUR,
            "minute" | "min" => MIN,
            "second" | "sec" => 1.0,
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() -> Result<()> {
        let s = |n| Duration::from_secs(n);
        assert_eq!(parse_duration("30s")?, s(30));
        assert_eq!(parse_duration("5m")?, s(300));
        assert_eq!(parse_duration("1h")?, s(3_600));
        assert_eq!(parse_duration("1w")?, s(604_800));
        assert_eq!(parse_duration("1M")?, s(2_592_000));
        assert_eq!(parse_duration("1y")?, s(31_536_000));
        assert_eq!(parse_duration("2 hours 30 minutes")?, s(9_000));
        assert_eq!(parse_duration("P1D")?, s(86_400));
        assert_eq!(parse_duration("P1DT2M")?, s(86_520));
        assert_eq!(parse_duration("90")?, s(90));
        for bad in ["", "h", "1x", "-", "1.2.3s", "PT1D"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        Ok(())
    }

    #[test]
    fn fires_and_limits() -> Result<()> {
        let t0: Timestamp = "2026-12-01T07:08:17Z"
            .parse()
            .map_err(|_| Error::Schedule("t".into()))?;
        let plain = Every::parse("1h", None)?;
        assert_eq!(
            plain.first_fire(t0),
            Some(add(t0, Duration::from_secs(3_600)).ok_or(Error::Schedule("t".into()))?)
        );
        let opts: Map<String, Value> = serde_json::from_str(r#"{"first_in":"4s","times":2}"#)
            .map_err(|e| Error::Schedule(e.to_string()))?;
        let limited = Every::parse("1h", Some(&opts))?;
        let first = limited
            .first_fire(t0)
            .ok_or(Error::Schedule("first".into()))?;
        assert_eq!(first.as_second() - t0.as_second(), 4);
        let second = limited
            .next_after(first, 1, t0)
            .ok_or(Error::Schedule("second".into()))?;
        assert_eq!(second.as_second() - first.as_second(), 3_600);
        assert_eq!(limited.next_after(second, 2, t0), None);
        assert_eq!(limited.describe(), "1h (first in 4s, times 2)");
        let unknown: Map<String, Value> = serde_json::from_str(r#"{"frist_in":"4s"}"#)
            .map_err(|e| Error::Schedule(e.to_string()))?;
        assert!(Every::parse("1h", Some(&unknown)).is_err());
        assert!(Every::parse("0s", None).is_err());
        Ok(())
    }
}
