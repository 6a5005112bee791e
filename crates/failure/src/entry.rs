//! [`Entry`]: one stored failure record, as the Failure API reads it back.

use resque_protocol::{Map, Value, json};

use crate::{Error, Result};

/// One record of a failure list.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its list (`failed`, `<q>_failed`).
    pub list: String,
    /// Its index in the list (what requeue/remove take).
    pub index: u64,
    /// The stored text.
    pub raw: String,
    /// The decoded record, or why it is not one.
    pub record: std::result::Result<Map<String, Value>, String>,
}

impl Entry {
    pub(crate) fn new(list: &str, index: u64, raw: Vec<u8>) -> Self {
        let raw = String::from_utf8(raw)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let record = match json::from_slice(raw.as_bytes()) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("not a JSON object".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        Self {
            list: list.to_owned(),
            index,
            raw,
            record,
        }
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.record.as_ref().ok()?.get(name)?.as_str()
    }

    /// Whether the record decoded.
    pub fn is_corrupt(&self) -> bool {
        self.record.is_err()
    }
    /// `payload.class`.
    pub fn class(&self) -> Option<&str> {
        self.payload()?.get("class")?.as_str()
    }
    /// `payload.args`.
    pub fn args(&self) -> Option<&Vec<Value>> {
        self.payload()?.get("args")?.as_array()
    }
    /// `payload`.
    pub fn payload(&self) -> Option<&Map<String, Value>> {
        self.record.as_ref().ok()?.get("payload")?.as_object()
    }
    /// `queue`.
    pub fn queue(&self) -> Option<&str> {
        self.field("queue")
    }
    /// `exception`.
    pub fn exception(&self) -> Option<&str> {
        self.field("exception")
    }
    /// `error`.
    pub fn error(&self) -> Option<&str> {
        self.field("error")
    }
    /// `worker`.
    pub fn worker(&self) -> Option<&str> {
        self.field("worker")
    }
    /// `failed_at`.
    pub fn failed_at(&self) -> Option<&str> {
        self.field("failed_at")
    }
    /// `retried_at`, once requeued.
    pub fn retried_at(&self) -> Option<&str> {
        self.field("retried_at")
    }
    /// `backtrace` frames.
    pub fn backtrace(&self) -> Vec<&str> {
        self.record
            .as_ref()
            .ok()
            .and_then(|m| m.get("backtrace")?.as_array())
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// What requeue pushes: `(queue, class, args)`, as Ruby's
    /// `Job.create(item['queue'], item['payload']['class'], *item['payload']['args'])`.
    pub(crate) fn job(&self) -> Result<(String, String, Vec<Value>)> {
        let corrupt = |reason: &str| Error::Corrupt {
            list: self.list.clone(),
            index: self.index,
            reason: reason.to_owned(),
        };
        if let Err(e) = &self.record {
            return Err(corrupt(e));
        }
        let queue = self
            .queue()
            .filter(|q| !q.is_empty())
            .ok_or_else(|| corrupt("no queue"))?;
        let class = self
            .class()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| corrupt("no payload class"))?;
        let args = match self.payload().and_then(|p| p.get("args")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(corrupt("payload args is not an array")),
        };
        Ok((queue.to_owned(), class.to_owned(), args))
    }
}
