//! Helpers the golden tests share: a fixture as JSON, a step, and a step's commands.

#![allow(dead_code)] // not every test file uses every helper

use anyhow::{Context, Result};
use resque_protocol::Value;

/// A capture copied from `shared/spec/fixtures`, parsed.
pub(crate) fn fixture(name: &str) -> Result<Value> {
    Ok(serde_json::from_str(&resque_test_support::fixture(name))?)
}

/// Step `i` of a capture.
pub(crate) fn step(fx: &Value, i: usize) -> Result<&Value> {
    fx["steps"]
        .get(i)
        .with_context(|| format!("step {i} missing"))
}

/// Every command of a step, as its argument strings.
pub(crate) fn commands(step: &Value) -> Vec<Vec<String>> {
    step["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get(2)?.as_array())
        .map(|argv| {
            argv.iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .collect()
}
