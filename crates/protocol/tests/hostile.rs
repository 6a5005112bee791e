//! Property tests: every decoder of what Redis holds (job payloads, worker ids, `worker:<id>`
//! values, failure records, JSON, times, namespaces) takes any input without panicking and
//! answers an error or a value that encodes back to what it read.

use proptest::prelude::*;
use resque_protocol::{Failure, Keys, Payload, Value, WorkerId, WorkingOn, json, time, worker};

/// JSON values of every shape, nested a few levels (deeper paths than random bytes reach).
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".*", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Text that looks like a job payload, a `worker:<id>` value or a failure record, with
/// fields of any type in any order.
fn job_like() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("class"),
        Just("args"),
        Just("queue"),
        Just("payload"),
        Just("run_at"),
        Just("failed_at"),
        Just("exception"),
        Just("error"),
        Just("backtrace"),
        Just("worker"),
        Just("retried_at"),
    ];
    prop::collection::vec((field, any_json()), 0..8).prop_map(|fields| {
        let map: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        serde_json::to_string(&Value::Object(map)).unwrap_or_default()
    })
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        job_like().prop_map(String::into_bytes),
        any_json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
    ]
}

proptest! {
    // Failures are reported with their input; nothing is written beside the sources.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn payloads_decode_or_refuse_and_round_trip(input in any_input()) {
        // Round trip by the bytes: numbers keep their text (Ruby's `1.0e-08`), so equal
        // values may differ in form until encoded once; after that, encoding is stable.
        if let Ok(p) = Payload::decode(&input) {
            let text = p.encode().expect("encodes");
            let again = Payload::decode(text.as_bytes()).expect("decodes");
            prop_assert_eq!(again.encode().expect("encodes"), text);
        }
    }

    #[test]
    fn working_on_values_decode_or_refuse(input in any_input()) {
        if let Ok(w) = WorkingOn::decode(&input) {
            let text = w.encode().expect("encodes");
            prop_assert!(WorkingOn::decode(text.as_bytes()).is_ok());
        }
        // The lenient reader used to record a dead worker's job never fails.
        let (_queue, _payload) = worker::split_working_on(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn failure_records_decode_or_refuse_and_round_trip(input in any_input()) {
        if let Ok(f) = Failure::decode(&input) {
            let text = f.encode().expect("encodes");
            let again = Failure::decode(text.as_bytes()).expect("decodes");
            prop_assert_eq!(again.encode().expect("encodes"), text);
        }
    }

    #[test]
    fn json_reads_and_rubys_inspect_never_panic(input in any_input()) {
        if let Ok(v) = json::from_slice(&input) {
            let _ = json::ruby_inspect(&v);
            prop_assert!(json::to_string(&v).is_ok());
        }
    }

    #[test]
    fn ruby_floats_read_back_as_the_same_number(f in any::<f64>()) {
        let text = json::ruby_float(f);
        if f.is_finite() {
            // Ruby's `1.0e+20` is Rust's `1.0e20`.
            let back: f64 = text.replace("e+", "e").parse().expect("a number");
            prop_assert_eq!(back.to_bits(), f.to_bits(), "{}", text);
        }
    }

    #[test]
    fn worker_ids_parse_or_refuse_and_keep_their_text(raw in ".*") {
        if let Ok(id) = WorkerId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.as_str());
            let _ = (id.hostname(), id.pid(), id.queues().count());
        }
    }

    #[test]
    fn times_parse_or_refuse(raw in ".*") {
        let _ = time::parse_iso8601(&raw);
        let _ = time::parse_started(&raw);
        let _ = time::parse_failed_at(&raw, &jiff::tz::TimeZone::UTC);
    }

    #[test]
    fn namespaces_are_taken_or_refused_and_strip_what_they_add(ns in ".*", key in ".*") {
        if let Ok(k) = Keys::new(ns) {
            let full = k.key(&key);
            prop_assert_eq!(k.strip(&full), Some(key.as_str()));
        }
    }
}

/// The case the property test found: `worker:<id>` read from Redis with a control character
/// in `run_at` (here from an array, which serde also reads as the struct) was written back
/// raw, as JSON no reader could decode.
#[test]
fn a_run_at_with_a_control_character_is_written_escaped() {
    let w = WorkingOn::decode(br#"["","\u000b",{}]"#).expect("decodes");
    let text = w.encode().expect("encodes");
    assert_eq!(text, r#"{"queue":"","run_at":"\u000b","payload":{}}"#);
    assert_eq!(
        WorkingOn::decode(text.as_bytes()).expect("decodes again"),
        w
    );
}
