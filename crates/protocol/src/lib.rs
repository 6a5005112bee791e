//! Ruby Resque 3.0's Redis protocol: key names and byte-exact payload formats.
//!
//! This crate is the compatibility boundary between resque-rs and Ruby Resque. Every key
//! name ([`Keys`]) and every stored value ([`Payload`], [`WorkingOn`], [`Failure`],
//! [`WorkerId`], the formats in [`time`]) is defined here and nowhere else, and each is
//! checked against golden captures recorded from the real Ruby Resque 3.0.
//!
//! It does no I/O: no Redis, no clock reads except [`time::now`], no threads.
//!
//! # Example
//! ```
//! use resque_protocol::{Keys, Payload};
//! let keys = Keys::default();
//! let job = Payload::new("Archive", vec![44.into(), "masterbrew".into()]);
//! assert_eq!(keys.queue("file_serve"), "resque:queue:file_serve");
//! assert_eq!(job.encode()?, r#"{"class":"Archive","args":[44,"masterbrew"]}"#);
//! # Ok::<(), resque_protocol::Error>(())
//! ```

pub mod delayed;
pub mod failure;
pub mod json;
pub mod keys;
pub mod metrics;
pub mod payload;
pub mod retry;
pub mod schedule;
pub mod time;
pub mod worker;

pub use delayed::DelayedItem;
pub use failure::Failure;
pub use keys::{DEFAULT_NAMESPACE, Keys};
pub use payload::Payload;
pub use schedule::{Interval, ScheduleConfig};
pub use serde_json::{Map, Value};
pub use worker::{WorkerId, WorkingOn};

/// The Resque version this crate speaks, as shown in process titles (`resque-3.0.0: ...`).
pub const RESQUE_VERSION: &str = "3.0.0";

/// Errors from encoding or decoding Resque data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Stored bytes are not JSON.
    #[error("malformed JSON: {message}")]
    Decode {
        /// What the parser said.
        message: String,
    },
    /// A job payload that is JSON but not an object.
    #[error("job payload must be a JSON object, found {found}")]
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// A value could not be encoded as JSON.
    #[error("cannot encode as JSON: {0}")]
    Encode(String),
    /// A worker id without `host:pid:` in front.
    #[error("malformed worker id {0:?}: expected host:pid:queues")]
    BadWorkerId(String),
    /// A schedule entry that cannot be used (a bad cron line, duration or option).
    #[error("{0}")]
    Schedule(String),
    /// An empty namespace.
    #[error("the Redis namespace must not be empty")]
    EmptyNamespace,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a counter the way Ruby's `String#to_i` does: leading digits after an optional
/// sign, `0` for a missing or non-numeric value.
pub fn parse_stat(value: Option<&str>) -> i64 {
    let Some(s) = value else { return 0 };
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().unwrap_or(0);
    if neg { -n } else { n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_parse_like_to_i() {
        assert_eq!(parse_stat(None), 0);
        assert_eq!(parse_stat(Some("")), 0);
        assert_eq!(parse_stat(Some("42")), 42);
        assert_eq!(parse_stat(Some("-3")), -3);
        assert_eq!(parse_stat(Some("12abc")), 12);
        assert_eq!(parse_stat(Some("abc")), 0);
    }
}
