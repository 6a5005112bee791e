//! Golden tests: every byte format against the captures recorded from Ruby Resque 3.0
//! (copied from `shared/spec/fixtures` into `tests/fixtures`).

mod common;

use anyhow::{Context, Result, bail};
use common::{commands, fixture, step};
use resque_protocol::{Failure, Keys, Payload, Value, WorkerId, WorkingOn, json};

#[test]
fn enqueue_payload_bytes_01() -> Result<()> {
    let fx = fixture("01_enqueue")?;
    let s = step(&fx, 0)?;
    let keys = Keys::default();
    let p = Payload::new("Archive", vec![44.into(), "masterbrew".into()]);
    let bytes = p.encode()?;
    assert_eq!(bytes, s["payload_bytes"].as_str().context("payload_bytes")?);
    let hex: String = bytes.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, s["payload_hex"].as_str().context("payload_hex")?);
    assert_eq!(
        commands(s),
        vec![
            vec!["sadd".to_owned(), keys.queues(), "file_serve".to_owned()],
            vec!["rpush".to_owned(), keys.queue("file_serve"), bytes],
        ]
    );
    // Resque.push with an extra key: it survives, after class and args.
    let s1 = step(&fx, 1)?;
    let stored = &s1["keys"]["resque:queue:low"]["value"];
    let raw = stored[1].as_str().context("second item")?;
    let p = Payload::decode(raw.as_bytes())?;
    assert_eq!(p.encode()?, raw);
    assert_eq!(raw, r#"{"class":"Archive","args":[],"extra":"kept"}"#);
    assert_eq!(
        stored[0].as_str(),
        Some(Payload::new("Archive", vec![45.into()]).encode()?.as_str())
    );
    Ok(())
}

/// Builds the Rust value for each Ruby value of fixture 02 (what a Rust caller would pass).
fn rust_value(name: &str) -> Result<Value> {
    use serde_json::json;
    Ok(match name {
        "int" => json!(44),
        "negative" => json!(-7),
        "bigint_2_64" => serde_json::from_str("18446744073709551616")?,
        "float_1_5" => json!(1.5),
        "float_10_0" => json!(10.0),
        "float_1e20" => json!(1e20),
        "float_1e-7" => json!(1e-7),
        "float_third" => json!(1.0_f64 / 3.0),
        "float_neg_zero" => json!(-0.0),
        "nil" => Value::Null,
        "true" => json!(true),
        "false" => json!(false),
        "utf8" => json!("café ☃ 😀"),
        "html_slash" => json!("</script> & 'q' \"dq\" \\ back"),
        "control" => json!("nul\u{0} tab\t nl\n del\u{7f}"),
        "line_sep" => json!("\u{2028}\u{2029}"),
        "symbol" => json!("sym"),
        "hash_mixed_keys" => json!({"b": 1, "a": 2, "3": [null]}),
        "nested" => json!([[1, [2, {"x": []}]], {}]),
        "time_obj" => json!("2024-01-02 03:04:05 UTC"),
        other => bail!("fixture 02 has a value this test does not know: {other}"),
    })
}

#[test]
fn arg_encoding_02_every_case() -> Result<()> {
    let fx = fixture("02_enqueue_arg_encoding")?;
    // json_gem is the adapter Rails apps (and the capture's default step) use; Oj differs
    // only on -0.0 (see adapter_differences), where we follow json_gem.
    let cases = fx["payload_bytes_by_adapter"]["json_gem"]
        .as_object()
        .context("json_gem cases")?;
    assert_eq!(cases.len(), 20);
    let mut all = Vec::new();
    for (name, want) in cases {
        let want = want.as_str().context("bytes")?;
        let value = rust_value(name)?;
        all.push(value.clone());
        let got = Payload::new("Archive", vec![value]).encode()?;
        assert_eq!(got, want, "case {name}");
        // What Ruby wrote, we read and write back unchanged.
        assert_eq!(
            Payload::decode(want.as_bytes())?.encode()?,
            want,
            "round trip {name}"
        );
    }
    // The single job with every value, as RPUSHed by the capture's first step.
    let s = step(&fx, 0)?;
    let rpush = commands(s)
        .into_iter()
        .find(|c| c[0] == "rpush")
        .context("rpush")?;
    // Fixture key order is the Ruby argument order, which matches `ruby_values`.
    let order: Vec<&str> = fx["ruby_values"]
        .as_object()
        .context("ruby_values")?
        .keys()
        .map(String::as_str)
        .collect();
    let args: Vec<Value> = order.iter().map(|n| rust_value(n)).collect::<Result<_>>()?;
    assert_eq!(Payload::new("Archive", args).encode()?, rpush[2]);
    assert_eq!(Payload::decode(rpush[2].as_bytes())?.encode()?, rpush[2]);
    Ok(())
}

#[test]
fn dequeue_lrem_bytes_09_and_10() -> Result<()> {
    for name in ["09_dequeue", "10_job_destroy"] {
        let fx = fixture(name)?;
        let first = commands(step(&fx, 0)?);
        let want = Payload::new("Archive", vec![44.into(), "masterbrew".into()]).encode()?;
        assert_eq!(
            first,
            vec![vec![
                "lrem".to_owned(),
                Keys::default().queue("file_serve"),
                "0".to_owned(),
                want
            ]]
        );
    }
    Ok(())
}

#[test]
fn worker_registry_formats_03() -> Result<()> {
    let fx = fixture("03_worker_idle")?;
    let keys = &step(&fx, 0)?["keys"];
    let id_str = keys["resque:workers"]["value"][0]
        .as_str()
        .context("worker id")?;
    let id = WorkerId::parse(id_str)?;
    assert_eq!(id.hostname(), "vm");
    assert_eq!(id.queues().collect::<Vec<_>>(), ["file_serve", "low"]);
    let k = Keys::default();
    let started = keys[k.worker_started(id.as_str())]["value"]
        .as_str()
        .context("started")?;
    let parsed = resque_protocol::time::parse_started(started).context("started parses")?;
    let utc = parsed.to_zoned(jiff::tz::TimeZone::UTC);
    assert_eq!(resque_protocol::time::started(&utc), started);
    let hb = keys[k.heartbeats()]["value"][id.as_str()]
        .as_str()
        .context("heartbeat")?;
    let t = resque_protocol::time::parse_iso8601(hb).context("heartbeat parses")?;
    assert_eq!(
        resque_protocol::time::heartbeat(t.as_second(), &jiff::tz::TimeZone::UTC).as_deref(),
        Some(hb)
    );
    assert_eq!(keys[k.pruning_lock()]["value"].as_str(), Some(id.as_str()));
    Ok(())
}

#[test]
fn working_on_and_failures_04_05_06() -> Result<()> {
    let fx = fixture("04_worker_mid_job_and_success")?;
    let mut found = 0;
    for s in fx["steps"].as_array().context("steps")? {
        for (key, v) in s["keys"].as_object().into_iter().flatten() {
            let rest = Keys::default()
                .strip(key)
                .map(str::to_owned)
                .unwrap_or_default();
            if rest.starts_with("worker:") && !rest.ends_with(":started") && v["type"] == "string" {
                let raw = v["value"].as_str().context("worker payload")?;
                let w = WorkingOn::decode(raw.as_bytes())?;
                assert_eq!(w.encode()?, raw);
                assert!(resque_protocol::time::parse_iso8601(&w.run_at).is_some());
                found += 1;
            }
        }
    }
    assert!(found > 0, "fixture 04 shows worker:<id> mid-job");
    for name in ["05_failure_redis", "06_failure_redis_multi_queue"] {
        let fx = fixture(name)?;
        let mut records = 0;
        for s in fx["steps"].as_array().context("steps")? {
            for (key, v) in s["keys"].as_object().into_iter().flatten() {
                if key.ends_with("failed") && v["type"] == "list" {
                    for raw in v["value"].as_array().into_iter().flatten() {
                        let raw = raw.as_str().context("record")?;
                        let f = Failure::decode(raw.as_bytes())?;
                        assert_eq!(f.encode()?, raw, "{name} {key}");
                        records += 1;
                    }
                }
            }
        }
        assert!(records >= 3, "{name} holds failure records");
    }
    // The Redis backend appends retried_at with a zone; the multi-queue one without.
    let fx = fixture("05_failure_redis")?;
    let after = fx["steps"]
        .as_array()
        .context("steps")?
        .iter()
        .find_map(|s| s["failed_0_after_bytes"].as_str())
        .context("requeue step")?;
    assert!(
        Failure::decode(after.as_bytes())?
            .retried_at
            .context("retried_at")?
            .ends_with(" UTC")
    );
    Ok(())
}

#[test]
fn json_writer_is_the_only_encoder_needed() -> Result<()> {
    // A Ruby-written queue item with every fixture value decodes and re-encodes unchanged.
    let fx = fixture("02_enqueue_arg_encoding")?;
    for (_, bytes) in fx["payload_bytes_by_adapter"]["oj"]
        .as_object()
        .context("oj")?
    {
        let raw = bytes.as_str().context("bytes")?;
        assert_eq!(json::to_string(&json::from_slice(raw.as_bytes())?)?, raw);
    }
    Ok(())
}

#[test]
fn floats_are_written_as_ruby_3_1_writes_them_21() -> Result<()> {
    // Captured from Ruby 3.1's JSON: plain notation up to 15 digits before the point,
    // exponent form from 1e15 up (`1.0e+15`, but `999999999999999.9`).
    let fx = fixture("21_ruby_floats")?;
    let cases = fx["floats"].as_array().context("floats")?;
    assert!(cases.len() > 20);
    for case in cases {
        let (literal, ruby) = (
            case[0].as_str().context("literal")?,
            case[1].as_str().context("ruby's bytes")?,
        );
        let v: f64 = literal.parse()?;
        assert_eq!(resque_protocol::json::ruby_float(v), ruby, "{literal}");
        assert_eq!(resque_protocol::json::to_string(&v)?, ruby, "{literal}");
    }
    // A payload with microsecond timestamps as floats: the same bytes as Resque.encode,
    // so an exact `dequeue` from either language matches.
    let want = fx["payload"].as_str().context("payload")?;
    let args: Vec<Value> = [
        1.733011200123456e15,
        1e15,
        999999999999999.9,
        1733011200.123456,
    ]
    .into_iter()
    .map(Value::from)
    .collect();
    let p = resque_protocol::Payload::new("Stamp", args);
    assert_eq!(p.encode()?, want);
    // And Ruby's bytes read back and written again are unchanged.
    assert_eq!(
        resque_protocol::Payload::decode(want.as_bytes())?.encode()?,
        want
    );
    Ok(())
}
