//! Golden tests for resque-retry 1.8's formats against fixture 18 (captured with the real
//! plugin): every identifier example (joined text, SHA1, key), the counter key of a run,
//! and the suppressed failure record's bytes.

mod common;

use anyhow::{Context, Result};
use common::fixture;
use resque_protocol::retry::{HashStyle, identifier, joined, key_name};
use resque_protocol::{Failure, Keys, Value, json};

/// The fixture's examples are written as Ruby literals; these are the same args as JSON.
fn args_of(ruby: &str) -> Result<Vec<Value>> {
    let text = ruby
        .replace("nil", "null")
        .replace('\'', "\"")
        .replace("=>", ":");
    match json::from_slice(text.as_bytes())? {
        Value::Array(a) => Ok(a),
        other => anyhow::bail!("{ruby}: {other:?}"),
    }
}

#[test]
fn identifiers_and_keys_18() -> Result<()> {
    let fx = fixture("18_retry_scheduled_after_failure")?;
    let examples = fx["retry_identifier_examples"]
        .as_object()
        .context("examples")?;
    assert!(examples.len() >= 7);
    for (ruby, want) in examples {
        let args = args_of(ruby)?;
        assert_eq!(
            joined(&args, HashStyle::Ruby33),
            want["joined"].as_str().context("joined")?,
            "{ruby}"
        );
        let id = identifier(&args, HashStyle::Ruby33);
        assert_eq!(id.as_deref(), want["retry_identifier"].as_str(), "{ruby}");
        assert_eq!(
            key_name("RetryOkJob", id.as_deref()),
            want["redis_retry_key"].as_str().context("key")?
        );
    }
    // Ruby 3.4's Hash#inspect, computed (RETRY.md's table).
    let hash = args_of("[{'k' => 1}]")?;
    assert_eq!(
        identifier(&hash, HashStyle::Ruby34).as_deref(),
        Some("f717bca7c653bb6f2c1bcfebb4f2eac1975df2fe")
    );

    // A run's counter key and its suppressed record (step 1: RetryDelayJob 44, masterbrew).
    let step = &fx["steps"][1];
    let id = identifier(&[44.into(), "masterbrew".into()], HashStyle::Ruby33);
    let keys = Keys::default();
    assert_eq!(
        keys.retry_counter("RetryDelayJob", id.as_deref()),
        step["retry_key"].as_str().context("retry_key")?
    );
    assert_eq!(
        keys.retry_failure("RetryDelayJob", id.as_deref()),
        "resque:failure-resque-retry:RetryDelayJob:1315dd4143fb7d7abe77328729da673b8bfa3313"
    );
    let bytes = step["failure_key_bytes"]
        .as_str()
        .context("failure_key_bytes")?;
    let record: Failure = serde_json::from_str(bytes)?;
    assert!(
        !record.failed_at.contains("UTC"),
        "no zone: {}",
        record.failed_at
    );
    let at = jiff::fmt::strtime::parse("%Y/%m/%d %H:%M:%S", &record.failed_at)?.to_datetime()?;
    let zoned = at.to_zoned(jiff::tz::TimeZone::UTC)?;
    assert_eq!(
        resque_protocol::time::retried_at_without_zone(&zoned),
        record.failed_at
    );
    assert_eq!(
        record.encode()?,
        bytes,
        "the record's bytes, field order and all"
    );
    Ok(())
}
