//! Worker identities (`host:pid:q1,q2`) and the `worker:<id>` "working on" payload.

use std::fmt;

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::{Error, Payload, Result, json};

/// A worker id as Ruby writes it: `"#{hostname}:#{pid}:#{queues.join(',')}"`.
///
/// Parsed like `Worker.find` does, with `split(':', 3)`, so a queue name may contain `:`.
/// The original string is kept: it is the member of `workers` and the suffix of every
/// per-worker key, and must be written back byte for byte.
///
/// ```
/// let id: resque_protocol::WorkerId = "vm:5883:file_serve,low".parse()?;
/// assert_eq!(id.hostname(), "vm");
/// assert_eq!(id.pid(), Some(5883));
/// assert_eq!(id.queues().collect::<Vec<_>>(), ["file_serve", "low"]);
/// # Ok::<(), resque_protocol::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId {
    raw: String,
    host_end: usize,
    pid_end: usize,
}

impl WorkerId {
    /// Builds the id of a worker on `hostname` with `pid` listening on `queues` (as given,
    /// `*` and globs included; Ruby leaves `!negated` entries out, and so must the caller).
    pub fn new<S: AsRef<str>>(hostname: &str, pid: u32, queues: &[S]) -> Self {
        let queues: Vec<&str> = queues.iter().map(AsRef::as_ref).collect();
        let raw = format!("{hostname}:{pid}:{}", queues.join(","));
        let host_end = hostname.len();
        let pid_end = host_end + 1 + pid.to_string().len();
        Self {
            raw,
            host_end,
            pid_end,
        }
    }

    /// Parses an id read from Redis. Ruby accepts any string here; we need at least the
    /// two separators so that host and pid can be told apart.
    pub fn parse(raw: &str) -> Result<Self> {
        let host_end = raw
            .find(':')
            .ok_or_else(|| Error::BadWorkerId(raw.to_owned()))?;
        let pid_end = raw[host_end + 1..]
            .find(':')
            .map(|i| host_end + 1 + i)
            .ok_or_else(|| Error::BadWorkerId(raw.to_owned()))?;
        Ok(Self {
            raw: raw.to_owned(),
            host_end,
            pid_end,
        })
    }

    /// The id exactly as stored.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The host name part.
    pub fn hostname(&self) -> &str {
        &self.raw[..self.host_end]
    }

    /// The pid part as written.
    pub fn pid_str(&self) -> &str {
        &self.raw[self.host_end + 1..self.pid_end]
    }

    /// The pid, if the pid part is a number.
    pub fn pid(&self) -> Option<u32> {
        self.pid_str().parse().ok()
    }

    /// The queue list part, as written (`file_serve,low`, `*`).
    pub fn queues_str(&self) -> &str {
        &self.raw[self.pid_end + 1..]
    }

    /// The queues this worker listens on.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.queues_str().split(',').filter(|q| !q.is_empty())
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for WorkerId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// What `worker:<id>` holds while a worker runs a job:
/// `{"queue":"file_serve","run_at":"2026-11-22T17:42:37Z","payload":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkingOn {
    /// The queue the job came from.
    pub queue: String,
    /// When the job started, `Time.now.utc.iso8601` (see [`crate::time::run_at`]).
    pub run_at: String,
    /// The job payload as decoded and re-encoded.
    pub payload: Payload,
}

impl WorkingOn {
    /// Encodes the value as Ruby writes it (keys `queue`, `run_at`, `payload`).
    pub fn encode(&self) -> Result<String> {
        Self::encode_parts(&self.queue, &self.run_at, &self.payload)
    }

    /// [`WorkingOn::encode`] from borrowed parts: the same bytes, without copying the
    /// payload into a `WorkingOn` first (the worker does this for every job).
    pub fn encode_parts(queue: &str, run_at: &str, payload: &Payload) -> Result<String> {
        let mut out = Vec::with_capacity(96 + queue.len() + run_at.len());
        Self::layout(
            &mut out,
            |o| json::to_writer(o, queue),
            run_at,
            |o| json::to_writer(o, payload),
        )?;
        String::from_utf8(out).map_err(|e| Error::Decode {
            message: e.to_string(),
        })
    }

    /// A `worker:<id>` value around a payload kept as it came (`payload_json`, the item's
    /// text) and a queue name already encoded as JSON (`queue_json`): the bytes the
    /// worker's reserve script writes (`finish_and_reserve.lua` concatenates the same
    /// parts). For a payload in Ruby's canonical form this is exactly
    /// [`WorkingOn::encode_parts`]; for one that is not (spaces, other escapes), the two
    /// differ and the worker writes Ruby's re-encoding.
    pub fn encode_raw(queue_json: &str, run_at: &str, payload_json: &str) -> String {
        let mut out = Vec::with_capacity(34 + queue_json.len() + run_at.len() + payload_json.len());
        // Neither part can fail, and the bytes are three `str`s and ASCII: valid UTF-8.
        let _ = Self::layout(
            &mut out,
            |o| {
                o.extend_from_slice(queue_json.as_bytes());
                Ok(())
            },
            run_at,
            |o| {
                o.extend_from_slice(payload_json.as_bytes());
                Ok(())
            },
        );
        String::from_utf8(out).unwrap_or_default()
    }

    /// The one layout of a `worker:<id>` value: `{"queue":Q,"run_at":"T","payload":P}`,
    /// Ruby's key order. A `run_at` of ours (`time::run_at`: digits, `-`, `:`, `T`, `Z`)
    /// goes in as it is; one read from Redis may hold anything, and is escaped (a property
    /// test found a control character written raw, which no reader could decode). `queue`
    /// and `payload` write their JSON.
    fn layout(
        out: &mut Vec<u8>,
        queue: impl FnOnce(&mut Vec<u8>) -> Result<()>,
        run_at: &str,
        payload: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        out.extend_from_slice(br#"{"queue":"#);
        queue(out)?;
        out.extend_from_slice(br#","run_at":"#);
        if run_at.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            out.push(b'"');
            out.extend_from_slice(run_at.as_bytes());
            out.push(b'"');
        } else {
            json::to_writer(&mut *out, run_at)?;
        }
        out.extend_from_slice(br#","payload":"#);
        payload(out)?;
        out.push(b'}');
        Ok(())
    }

    /// Decodes a `worker:<id>` value.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let value = json::from_slice(bytes)?;
        serde_json::from_value(value).map_err(|e| Error::Decode {
            message: e.to_string(),
        })
    }
}

/// The queue and job payload of a `worker:<id>` value, leniently: a value that is not a
/// `{"queue":..,"payload":..}` object gives an empty queue and the raw text as payload, so
/// a failure record can still be written for it.
pub fn split_working_on(raw: &str) -> (String, Value) {
    match json::from_slice(raw.as_bytes()) {
        Ok(Value::Object(mut m)) => (
            m.get("queue")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            m.remove("payload").unwrap_or(Value::Null),
        ),
        _ => (String::new(), Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_split_3() -> Result<()> {
        let id = WorkerId::parse("host.example:42:a:b,c")?;
        assert_eq!(id.hostname(), "host.example");
        assert_eq!(id.pid(), Some(42));
        assert_eq!(id.queues_str(), "a:b,c");
        assert_eq!(id.queues().collect::<Vec<_>>(), ["a:b", "c"]);
        let built = WorkerId::new("vm", 5883, &["file_serve", "low"]);
        assert_eq!(built.as_str(), "vm:5883:file_serve,low");
        assert_eq!(built, WorkerId::parse("vm:5883:file_serve,low")?);
        assert!(WorkerId::parse("nocolons").is_err());
        assert!(WorkerId::parse("one:colon").is_err());
        assert_eq!(WorkerId::parse("h:x:*")?.pid(), None);
        Ok(())
    }

    #[test]
    fn working_on_matches_fixture_04() -> Result<()> {
        let w = WorkingOn {
            queue: "file_serve".into(),
            run_at: "2026-11-22T17:40:00Z".into(),
            payload: Payload::new("SleepJob", vec![3.into()]),
        };
        let want = r#"{"queue":"file_serve","run_at":"2026-11-22T17:40:00Z","payload":{"class":"SleepJob","args":[3]}}"#;
        assert_eq!(w.encode()?, want);
        assert_eq!(WorkingOn::decode(want.as_bytes())?, w);
        // The reserve script's form is the same bytes for a canonical payload...
        assert_eq!(
            WorkingOn::encode_raw(
                &crate::json::to_string(&w.queue)?,
                &w.run_at,
                &w.payload.encode()?
            ),
            want
        );
        // ...and keeps a payload that is not canonical as it came (the worker re-encodes).
        let odd = r#"{ "class" : "SleepJob", "args" : [3] }"#;
        let raw = WorkingOn::encode_raw(r#""q\"x""#, "t", odd);
        assert_eq!(
            raw,
            r#"{"queue":"q\"x","run_at":"t","payload":{ "class" : "SleepJob", "args" : [3] }}"#
        );
        let back = WorkingOn::decode(raw.as_bytes())?;
        assert_eq!(
            (back.queue.as_str(), back.payload.class()),
            ("q\"x", Some("SleepJob"))
        );
        assert_ne!(back.encode()?, raw);
        let (queue, payload) = split_working_on(want);
        assert_eq!(
            (queue.as_str(), payload["class"].as_str()),
            ("file_serve", Some("SleepJob"))
        );
        assert_eq!(
            split_working_on("junk"),
            (String::new(), Value::String("junk".into()))
        );
        Ok(())
    }
}
