//! Schedule files in resque-scheduler's YAML format: a hash of schedule name to config,
//! read with yaml-rust2 into JSON values (key order kept, as Ruby's hashes keep it). The
//! scheduler reads its `--schedule` file with this, and resque-web shows the same file.
//!
//! YAML 1.2 differs from Ruby's Psych (YAML 1.1) in one way that matters here: `yes`,
//! `no`, `on`, `off` are strings, not booleans. Only `persist` takes a boolean, and any
//! string there is truthy in Ruby too, so schedules read the same.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::ScheduleConfig;
use crate::{Error, Result};

fn err(message: String) -> Error {
    Error::Schedule(message)
}

/// Reads a schedule file's text: every entry, in file order, each checked (its config a
/// hash, its `cron`/`every` parseable), so a bad file is refused as a whole.
pub fn parse_file(text: &str) -> Result<Vec<(String, ScheduleConfig)>> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| err(format!("not YAML: {e}")))?;
    let Some(doc) = docs.into_iter().next() else {
        return Ok(Vec::new());
    };
    let root = match to_json(doc)? {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(err(format!(
                "the top level must be a hash of schedule names, found {other}"
            )));
        }
    };
    let mut out = Vec::with_capacity(root.len());
    for (name, config) in root {
        let config = ScheduleConfig::from_value(config)
            .map_err(|e| err(format!("schedule {name:?}: {e}")))?;
        config
            .interval()
            .map_err(|e| err(format!("schedule {name:?}: {e}")))?;
        out.push((name, config));
    }
    Ok(out)
}

fn to_json(y: Yaml) -> Result<Value> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(n) => Value::from(n),
        Yaml::Real(s) => crate::json::from_slice(s.as_bytes()).or_else(|_| {
            s.parse::<f64>()
                .map(Value::from)
                .map_err(|e| err(format!("{s}: {e}")))
        })?,
        Yaml::String(s) => Value::String(s),
        Yaml::Array(a) => Value::Array(a.into_iter().map(to_json).collect::<Result<_>>()?),
        Yaml::Hash(h) => {
            let mut m = Map::with_capacity(h.len());
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Integer(n) => n.to_string(),
                    Yaml::Real(s) => s,
                    Yaml::Boolean(b) => b.to_string(),
                    other => {
                        return Err(err(format!("a hash key must be a string, found {other:?}")));
                    }
                };
                // Ruby symbol keys (`:first_in:`) become strings, as decode(encode) does.
                let key = key.strip_prefix(':').map(str::to_owned).unwrap_or(key);
                m.insert(key, to_json(v)?);
            }
            Value::Object(m)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(err("YAML aliases are not supported".to_owned()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example() -> Result<()> {
        let entries = parse_file(
            r#"
queue_documents_for_indexing:
  cron: "0 0 * * *"
  class: "QueueDocuments"
  queue: high
  args:
  description: "This job queues all content for indexing in solr"

clear_leaderboards_contributors:
  cron: "30 6 * * 1 Europe/Stockholm"
  class: "ClearLeaderboards"
  queue: low
  args: contributors
  description: "This job resets the weekly leaderboard for contributions"

every_job:
  every: ["30s", {first_in: "120s"}]
  class: Archive
  queue: file_serve
  args: [44, masterbrew, 1.5]
  rails_env: production, staging
"#,
        )?;
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].0, "queue_documents_for_indexing");
        assert!(entries[0].1.args().is_empty());
        assert_eq!(entries[1].1.args(), vec![Value::from("contributors")]);
        assert_eq!(
            crate::json::to_string(&entries[2].1.args())?,
            r#"[44,"masterbrew",1.5]"#
        );
        assert_eq!(
            entries[2].1.interval()?.map(|i| i.describe()).as_deref(),
            Some("every: 30s (first in 120s)")
        );
        assert!(entries[2].1.runs_in(Some("staging")));
        Ok(())
    }

    #[test]
    fn bad_files_are_refused_with_the_entry_named() {
        for (text, needle) in [
            (
                "a:\n  cron: '61 * * * *'\n",
                "schedule \"a\": bad cron line",
            ),
            ("a:\n  every: soon\n", "bad duration"),
            ("- 1\n- 2\n", "top level"),
            ("a: [1\n", "not YAML"),
            ("a: 5\n", "must be a hash"),
        ] {
            let e = parse_file(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        assert!(parse_file("").map(|v| v.is_empty()).unwrap_or(false));
    }
}
