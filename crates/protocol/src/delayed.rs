//! resque-scheduler's delayed items: what `enqueue_at` stores in `delayed:<ts>` and embeds in
//! `timestamps:<item>`, and the payload pushed to the queue when the item is due.
//!
//! The bytes are `{"class":"Archive","args":[44,"masterbrew"],"queue":"file_serve"}`: keys
//! `class`, `args`, `queue` in that order, written by [`crate::json`] like every other value
//! (fixture 12). Removals match items byte for byte, as Ruby does, so the order matters.
//! Timestamps are integer Unix seconds ([`timestamp`]).

use serde_json::{Map, Value};

use crate::payload::json_type;
use crate::{Error, Payload, Result, json};

/// A delayed job as resque-scheduler stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayedItem {
    /// The job class name (`"class"`).
    pub class: String,
    /// The arguments, exactly as given (`"args"`).
    pub args: Vec<Value>,
    /// The queue it goes to when due; `None` is stored as `"queue":null` (Ruby's
    /// `enqueue_at_with_queue(nil, ..)`), which only a scheduler that knows the class's queue
    /// can move.
    pub queue: Option<String>,
}

impl DelayedItem {
    /// An item for `queue`.
    pub fn new(queue: impl Into<String>, class: impl Into<String>, args: Vec<Value>) -> Self {
        Self {
            class: class.into(),
            args,
            queue: Some(queue.into()),
        }
    }

    /// The stored bytes: `{"class":..,"args":..,"queue":..}`.
    ///
    /// ```
    /// use resque_protocol::DelayedItem;
    /// let item = DelayedItem::new("file_serve", "Archive", vec![44.into(), "masterbrew".into()]);
    /// assert_eq!(
    ///     item.encode()?,
    ///     r#"{"class":"Archive","args":[44,"masterbrew"],"queue":"file_serve"}"#
    /// );
    /// # Ok::<(), resque_protocol::Error>(())
    /// ```
    pub fn encode(&self) -> Result<String> {
        let mut map = Map::with_capacity(3);
        map.insert("class".to_owned(), Value::String(self.class.clone()));
        map.insert("args".to_owned(), Value::Array(self.args.clone()));
        map.insert(
            "queue".to_owned(),
            self.queue.clone().map_or(Value::Null, Value::String),
        );
        json::to_string(&Value::Object(map))
    }

    /// Reads stored bytes in any key order (other tools write other orders; they move fine,
    /// only byte-matching removals miss them). `"args"` missing or `null` is no arguments, a
    /// single non-array value is one argument (as `Array(args)` would make it); a `"class"`
    /// that is not a non-empty string is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let value = json::from_slice(bytes)?;
        let Value::Object(map) = value else {
            return Err(Error::NotAnObject {
                found: json_type(&value),
            });
        };
        let class = match map.get("class") {
            Some(Value::String(c)) if !c.is_empty() => c.clone(),
            _ => {
                return Err(Error::Decode {
                    message: "a delayed item needs a \"class\" string".to_owned(),
                });
            }
        };
        let args = match map.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        };
        let queue = match map.get("queue") {
            Some(Value::String(q)) if !q.is_empty() => Some(q.clone()),
            _ => None,
        };
        Ok(Self { class, args, queue })
    }

    /// The queue payload pushed when the item is due: `{"class":..,"args":..}` (the
    /// `"queue"` key is dropped, as `Resque.enqueue_to` does; fixture 14).
    pub fn payload(&self) -> Payload {
        Payload::new(self.class.clone(), self.args.clone())
    }
}

/// `timestamp.to_i`: a time in Unix seconds, fractions truncated toward negative infinity
/// for whole-second precision (Ruby's `Time#to_i` floors).
pub fn timestamp(unix_seconds: f64) -> Option<i64> {
    if !unix_seconds.is_finite() {
        return None;
    }
    let floored = unix_seconds.floor();
    // i64 covers every time jiff and Redis accept; refuse the rest rather than saturate.
    if floored < -(2f64.powi(62)) || floored > 2f64.powi(62) {
        return None;
    }
    Some(floored as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_queue_and_other_orders() -> Result<()> {
        let item = DelayedItem {
            class: "Archive".into(),
            args: vec![],
            queue: None,
        };
        assert_eq!(
            item.encode()?,
            r#"{"class":"Archive","args":[],"queue":null}"#
        );
        let other = DelayedItem::decode(br#"{"queue":"q","args":[1.5],"class":"A"}"#)?;
        assert_eq!(
            other,
            DelayedItem::new("q", "A", vec![json::from_slice(b"1.5")?])
        );
        assert_eq!(other.payload().encode()?, r#"{"class":"A","args":[1.5]}"#);
        assert!(DelayedItem::decode(b"[1]").is_err());
        assert!(DelayedItem::decode(br#"{"args":[]}"#).is_err());
        assert!(DelayedItem::decode(b"{not json").is_err());
        Ok(())
    }

    #[test]
    fn timestamps_truncate_like_to_i() {
        assert_eq!(timestamp(1796112481.7500002), Some(1796112481));
        assert_eq!(timestamp(-0.5), Some(-1));
        assert_eq!(timestamp(f64::NAN), None);
        assert_eq!(timestamp(1e300), None);
    }
}
