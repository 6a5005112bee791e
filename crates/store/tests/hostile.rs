//! Property tests: connection strings of any text parse or give a one-line error; queue
//! items of any bytes are handed over whole by the worker's reserve script and by `pop`
//! (an item that is not a job goes back), so hostile input never deletes anything. Against
//! a real `redis-server` started by each test.

use proptest::prelude::*;
use resque_store::{Client, Connection, Reserved};
use resque_test_support::RedisServer;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings near the accepted forms (schemes, separators, numbers) as well as any text.
fn connection_string() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just(""),
        Just("redis://"),
        Just("rediss://"),
        Just("unix://"),
        Just("redis-sentinel://"),
        Just("redis+sentinel://"),
        Just("redis-cluster://"),
        Just("redis//"),
    ];
    prop_oneof![
        ".*",
        (scheme, "[a-z0-9.:@/_%?=&,\\[\\]-]{0,40}").prop_map(|(s, rest)| format!("{s}{rest}")),
    ]
}

fn item() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..128),
        "\\{\"class\":.{0,20},\"args\":.{0,20}\\}".prop_map(String::into_bytes),
        Just(br#"{"class":"NoopJob","args":[]}"#.to_vec()),
    ]
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn connection_strings_parse_or_give_one_line(input in connection_string()) {
        match Connection::parse(&input) {
            Ok(c) => { let _ = (c.redis_id(), c.namespace()); }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.contains('\n'), "{}", text);
            }
        }
    }
}

#[test]
fn the_reserve_script_hands_over_any_item_whole() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt
        .block_on(Client::connect(&server.url()))
        .expect("connects")
        .store()
        .expect("connected")
        .clone();
    let queues = vec!["q".to_owned()];
    // Each call is a new one: a new token.
    let n = std::cell::Cell::new(0u64);
    proptest!(config(300), |(bytes in item())| {
        n.set(n.get() + 1);
        server.cmd(&[b"RPUSH".as_slice(), b"resque:queue:q", &bytes]).expect("rpush");
        let got = rt
            .block_on(s.finish_and_reserve("vm:1:q", None, Some((&queues, "2026-12-01T00:00:00Z")), &n.get().to_string(), false))
            .expect("reserves");
        match got {
            Reserved::Job { raw, .. } => {
                let sent = String::from_utf8_lossy(&bytes).into_owned();
                prop_assert_eq!(raw, sent);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        let left = server.get_str(&["LLEN", "resque:queue:q"]);
        prop_assert_eq!(left.as_deref(), Some("0"));
    });
}

#[test]
fn pop_takes_jobs_and_puts_anything_else_back() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let c = rt
        .block_on(Client::connect(&server.url()))
        .expect("connects");
    proptest!(config(300), |(bytes in item())| {
        server.cmd(&["DEL", "resque:queue:q"]).expect("del");
        server.cmd(&[b"RPUSH".as_slice(), b"resque:queue:q", &bytes]).expect("rpush");
        match rt.block_on(c.pop("q")) {
            Ok(Some(_)) => {
                let left = server.get_str(&["LLEN", "resque:queue:q"]);
                prop_assert_eq!(left.as_deref(), Some("0"));
            }
            Ok(None) => prop_assert!(false, "an item was there"),
            Err(e) => {
                // Not a job: an error naming it, and the item is back at the head, whole.
                prop_assert!(!e.to_string().contains('\n') || e.to_string().contains("payload"));
                let back = server.cmd(&["LINDEX", "resque:queue:q", "0"]).expect("lindex");
                prop_assert_eq!(back, resque_test_support::Resp::Bulk(bytes.clone()));
            }
        }
    });
}
