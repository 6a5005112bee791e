//! Failure records, as the Redis and RedisMultiQueue backends store them.
//!
//! `{"failed_at":"2026/11/22 17:54:00 UTC","payload":{..},"exception":"RuntimeError",
//! "error":"..","backtrace":[..],"worker":"vm:7180:file_serve","queue":"file_serve"}`,
//! with `"retried_at"` appended last once the job has been requeued.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result, json};

/// The failure list of the default (Redis) backend: key `<ns>:failed`.
pub const FAILED_LIST: &str = "failed";
/// `exception` for a job whose class no worker knows (Ruby's constant lookup error).
pub const NAME_ERROR: &str = "NameError";
/// `exception` for a payload whose `args` is not an array.
pub const ARGUMENT_ERROR: &str = "ArgumentError";
/// `exception` for a queue item that is not JSON (kept whole as the record's payload).
pub const DECODE_EXCEPTION: &str = "Resque::Helpers::DecodeException";
/// `exception` for a Rust job that panicked (ours; Ruby has no panics).
pub const PANIC: &str = "Panic";
/// `exception` for an `--exec` program that failed (ours).
pub const EXEC_ERROR: &str = "Resque::ExecError";
/// `exception` of the record written when a worker exits, or is removed, mid-job.
pub const DIRTY_EXIT: &str = "Resque::DirtyExit";
/// `exception` of the record written when a pruner finds a worker's heartbeat expired.
pub const PRUNE_DEAD_WORKER_DIRTY_EXIT: &str = "Resque::PruneDeadWorkerDirtyExit";
/// `exception` of the record of a job taken back from dead workers too many times in
/// reliable mode (a poison job: it is not put back in its queue again).
pub const POISON_JOB: &str = "Resque::PoisonJob";
/// `error` of a [`DIRTY_EXIT`] record written at unregister time.
pub const JOB_STILL_BEING_PROCESSED: &str = "Job still being processed";

/// One failure record. Field order is the byte order Ruby writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// When the job failed ([`crate::time::failed_at`]).
    pub failed_at: String,
    /// The job payload, as it was (any JSON: a record must survive a corrupt payload).
    pub payload: Value,
    /// The exception class name (`RuntimeError`, `Resque::DirtyExit`).
    pub exception: String,
    /// The exception message.
    pub error: String,
    /// Backtrace frames, innermost first.
    pub backtrace: Vec<String>,
    /// The id of the worker that ran the job.
    pub worker: String,
    /// The queue the job came from.
    pub queue: String,
    /// When the job was requeued, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_at: Option<String>,
}

impl Failure {
    /// Encodes the record as Ruby writes it.
    pub fn encode(&self) -> Result<String> {
        json::to_string(self)
    }

    /// Decodes a record written by any backend that follows this shape.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let value = json::from_slice(bytes)?;
        serde_json::from_value(value).map_err(|e| Error::Decode {
            message: e.to_string(),
        })
    }
}

/// Sets `retried_at` on a decoded record, as `Failure::Redis.requeue` does
/// (`item['retried_at'] = ..`): appended last, or updated in place if already there, with
/// every other key kept as it was.
pub fn mark_retried(record: &mut Map<String, Value>, retried_at: String) {
    record.insert("retried_at".to_owned(), Value::String(retried_at));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_bytes_match_fixture_05() -> Result<()> {
        let want = "{\"failed_at\":\"2026/11/22 17:54:00 UTC\",\"payload\":{\"class\":\"UnicodeFailJob\",\"args\":[\"x\"]},\"exception\":\"CustomError\",\"error\":\"boom é☃ [\\\"x\\\"]\",\"backtrace\":[\"peers/ruby/jobs.rb:37:in `perform'\"],\"worker\":\"vm:7180:file_serve\",\"queue\":\"file_serve\"}";
        let f = Failure::decode(want.as_bytes())?;
        assert_eq!(f.exception, "CustomError");
        assert_eq!(f.encode()?, want);
        Ok(())
    }

    #[test]
    fn retried_at_goes_last() -> Result<()> {
        let raw = br#"{"failed_at":"a","payload":{},"exception":"E","error":"m","backtrace":[],"worker":"w","queue":"q"}"#;
        let mut map = match json::from_slice(raw)? {
            Value::Object(m) => m,
            _ => unreachable!("fixture is an object"),
        };
        mark_retried(&mut map, "2026/11/22 17:54:01 UTC".into());
        assert!(
            json::to_string(&map)?
                .ends_with(r#""queue":"q","retried_at":"2026/11/22 17:54:01 UTC"}"#)
        );
        mark_retried(&mut map, "later".into());
        assert!(json::to_string(&map)?.ends_with(r#""queue":"q","retried_at":"later"}"#));
        Ok(())
    }
}
