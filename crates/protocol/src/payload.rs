//! The job payload stored in `queue:<q>`: `{"class":"Archive","args":[44,"masterbrew"]}`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{Error, Result, json};

/// One job as stored in a queue list.
///
/// The whole decoded object is kept, in its original key order, so a payload written by
/// another client (extra keys such as ActiveJob's, or `args` before `class`) re-encodes to
/// what Ruby's decode-then-encode would produce. A payload built here has the keys in Ruby's
/// order: `class`, then `args`.
///
/// ```
/// use resque_protocol::Payload;
/// let p = Payload::new("Archive", vec![44.into(), "masterbrew".into()]);
/// assert_eq!(p.encode()?, r#"{"class":"Archive","args":[44,"masterbrew"]}"#);
/// let back = Payload::decode(br#"{"class":"Archive","args":[44,"masterbrew"],"extra":"kept"}"#)?;
/// assert_eq!(back.class(), Some("Archive"));
/// assert_eq!(back.encode()?, r#"{"class":"Archive","args":[44,"masterbrew"],"extra":"kept"}"#);
/// # Ok::<(), resque_protocol::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    map: Map<String, Value>,
}

impl Payload {
    /// A payload for `class` with `args`, keys in Ruby's order.
    pub fn new(class: impl Into<String>, args: Vec<Value>) -> Self {
        let mut map = Map::new();
        map.insert("class".to_owned(), Value::String(class.into()));
        map.insert("args".to_owned(), Value::Array(args));
        Self { map }
    }

    /// Wraps a decoded JSON object as a payload. Anything but an object is refused, because
    /// Ruby's worker would fail on it (`payload['class']` on a non-hash).
    pub fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            other => Err(Error::NotAnObject {
                found: json_type(&other),
            }),
        }
    }

    /// Decodes a payload read from Redis.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_value(json::from_slice(bytes)?)
    }

    /// Encodes the payload as Ruby would (see [`crate::json`]).
    pub fn encode(&self) -> Result<String> {
        json::to_string(&self.map)
    }

    /// The job class name, if `class` is a string.
    pub fn class(&self) -> Option<&str> {
        self.field("class").and_then(Value::as_str)
    }

    /// The job arguments. A missing or `null` `args` is no arguments, as in Ruby's worker
    /// (`args || []`); `None` when `args` is something other than an array.
    pub fn args(&self) -> Option<&[Value]> {
        match self.field("args") {
            None | Some(Value::Null) => Some(&[]),
            Some(Value::Array(a)) => Some(a),
            Some(_) => None,
        }
    }

    /// The class name for display, as resque-web shows it: the ActiveJob class for jobs
    /// wrapped by Rails' adapter (`args[0].job_class`), else `class`.
    pub fn display_class(&self) -> Option<&str> {
        let class = self.class()?;
        if class == ACTIVE_JOB_WRAPPER
            && let Some(inner) = self
                .args()
                .and_then(|a| a.first())
                .and_then(|a| a.get("job_class"))
                .and_then(Value::as_str)
        {
            return Some(inner);
        }
        Some(class)
    }

    fn field(&self, name: &str) -> Option<&Value> {
        map_field(&self.map, name)
    }

    /// The underlying JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// Consumes the payload, returning the JSON object.
    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }
}

/// The class Rails' ActiveJob adapter enqueues every job as.
pub const ACTIVE_JOB_WRAPPER: &str = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper";

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Payload::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// A top-level field of a job as JSON (`class`, `args`), as [`Payload`]'s accessors find
/// it; `None` when `job` is not an object or has no such key.
///
/// ```
/// use resque_protocol::payload::field;
/// let job = serde_json::json!({"class": "Archive", "args": [44]});
/// assert_eq!(field(&job, "class").and_then(|c| c.as_str()), Some("Archive"));
/// assert_eq!(field(&job, "queue"), None);
/// ```
pub fn field<'a>(job: &'a Value, name: &str) -> Option<&'a Value> {
    job.as_object().and_then(|map| map_field(map, name))
}

/// A job has a few keys (`class`, `args`, now and then a few more): comparing them in
/// order is cheaper than hashing the name (SipHash) for the map's lookup, and a worker
/// looks up `class` and `args` several times a job.
fn map_field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() > 8 {
        return map.get(name);
    }
    map.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A short name for a JSON value's type, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_order_is_kept() -> Result<()> {
        let raw = br#"{"args":[44,"masterbrew"],"class":"Archive"}"#;
        let p = Payload::decode(raw)?;
        assert_eq!(p.encode()?.as_bytes(), raw);
        assert_eq!(p.class(), Some("Archive"));
        Ok(())
    }

    #[test]
    fn spaced_payloads_are_normalised_like_ruby() -> Result<()> {
        let p = Payload::decode(br#"{"class": "Archive", "args": [44, 1e2]}"#)?;
        assert_eq!(p.encode()?, r#"{"class":"Archive","args":[44,100.0]}"#);
        Ok(())
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(matches!(
            Payload::decode(b"not json"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            Payload::decode(b"[1,2]"),
            Err(Error::NotAnObject { found: "an array" })
        ));
        let p = Payload::decode(br#"{"class":1,"args":"x"}"#).expect("an object");
        assert_eq!(p.class(), None);
        assert_eq!(p.args(), None);
        let p = Payload::decode(br#"{"class":"A"}"#).expect("an object");
        assert_eq!(p.args(), Some(&[][..]));
    }

    #[test]
    fn fields_are_found_in_small_and_large_objects_and_a_repeated_key_keeps_its_last_value()
    -> Result<()> {
        // Nine keys or more take the map's own lookup; fewer are compared in order.
        for extra in [0, 3, 12] {
            let mut text = String::from(r#"{"class":"First""#);
            for i in 0..extra {
                text.push_str(&format!(r#","k{i}":{i}"#));
            }
            text.push_str(r#","args":[1],"class":"Last"}"#);
            let p = Payload::decode(text.as_bytes())?;
            assert_eq!(p.class(), Some("Last"), "{extra} extra keys");
            assert_eq!(p.args(), Some(&[Value::from(1)][..]), "{extra} extra keys");
            let v = p.into_value();
            assert_eq!(field(&v, "class"), Some(&Value::from("Last")));
            assert_eq!(field(&v, "k1").is_some(), extra > 1);
            assert_eq!(field(&v, "nope"), None);
        }
        assert_eq!(field(&Value::from("not an object"), "class"), None);
        Ok(())
    }

    #[test]
    fn active_job_display_class() -> Result<()> {
        let p = Payload::decode(
            br#"{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":"SendMail"}]}"#,
        )?;
        assert_eq!(p.display_class(), Some("SendMail"));
        Ok(())
    }
}
