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

    /// The bytes node-resque stores for the same job: `JSON.stringify({class, queue,
    /// args})`, so keys `class`, `queue`, `args`, and numbers as JavaScript writes them
    /// (`1` for `1.0`, `1e+21`). Removals try these too, so a job delayed by node-resque is
    /// removed by its class and arguments like one of ours.
    ///
    /// ```
    /// use resque_protocol::DelayedItem;
    /// let item = DelayedItem::new("mail", "Archive", vec![1.0.into(), "é".into()]);
    /// assert_eq!(
    ///     item.encode_node_resque(),
    ///     r#"{"class":"Archive","queue":"mail","args":[1,"é"]}"#
    /// );
    /// ```
    pub fn encode_node_resque(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str("{\"class\":");
        js_string(&mut out, &self.class);
        out.push_str(",\"queue\":");
        match &self.queue {
            Some(q) => js_string(&mut out, q),
            None => out.push_str("null"),
        }
        out.push_str(",\"args\":");
        js_value(&mut out, &Value::Array(self.args.clone()));
        out.push('}');
        out
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

/// `JSON.stringify`'s output for `value`: strings escaped as serde_json escapes them (the
/// same set: `"`, `\\`, control characters), numbers as JavaScript prints them, object keys
/// that are array indices first in ascending order (as JavaScript orders them), the others
/// in their order.
fn js_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (None, Some(u), _) => out.push_str(&u.to_string()),
            (None, None, Some(f)) => out.push_str(&js_number(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => js_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                js_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let index = |k: &str| {
                k.parse::<u32>()
                    .ok()
                    .filter(|n| *n < u32::MAX && n.to_string() == k)
            };
            let mut keys: Vec<&String> = map.keys().collect();
            // A stable sort: index keys first, ascending; the rest keep their order.
            keys.sort_by_key(|k| index(k).map_or((1, 0), |n| (0, n)));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                js_string(out, k);
                out.push(':');
                js_value(out, &map[k.as_str()]);
            }
            out.push('}');
        }
    }
}

fn js_string(out: &mut String, s: &str) {
    // serde_json escapes exactly what JSON.stringify does for well-formed strings.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// A float as JavaScript's `Number.prototype.toString` writes it: the shortest digits that
/// read back the same (Rust's `Display` finds the same ones), plain between 1e-6 and 1e21,
/// else with an exponent (`1e+21`, `1.5e-7`); `-0` is `0`.
fn js_number(f: f64) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        return f.to_string();
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => e,
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

    /// The expected bytes are node 20's `JSON.stringify({class, queue, args})` of the same
    /// values (captured with `node -e`).
    #[test]
    fn node_resque_bytes_are_json_stringify_s() {
        let mut map = Map::new();
        for (k, v) in [
            ("2", 1),
            ("b", 2),
            ("1", 3),
            ("01", 4),
            ("4294967295", 5),
            ("a", 6),
        ] {
            map.insert(k.to_owned(), v.into());
        }
        let args = vec![
            1.0.into(),
            1.5.into(),
            1e20.into(),
            1e21.into(),
            1.5e-7.into(),
            0.000001.into(),
            (-0.0).into(),
            123_456_789_012_i64.into(),
            "é\u{2028}/\\\"\n\u{1}".into(),
            Value::Object(map),
            Value::Null,
            true.into(),
            Value::Array(vec![Value::Array(vec![])]),
        ];
        let want = format!(
            r#"{{"class":"Archive","queue":"mail","args":[1,1.5,100000000000000000000,1e+21,1.5e-7,0.000001,0,123456789012,"é{}/\\\"\n\u0001",{{"1":3,"2":1,"b":2,"01":4,"4294967295":5,"a":6}},null,true,[[]]]}}"#,
            '\u{2028}'
        );
        assert_eq!(
            DelayedItem::new("mail", "Archive", args).encode_node_resque(),
            want
        );
        let none = DelayedItem {
            class: "A".into(),
            args: vec![],
            queue: None,
        };
        assert_eq!(
            none.encode_node_resque(),
            r#"{"class":"A","queue":null,"args":[]}"#
        );
    }

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
