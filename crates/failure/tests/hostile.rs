//! Property tests: a failure list holding anything (records of any shape, bytes that are not
//! JSON or not UTF-8) is listed, searched, counted, requeued and removed without a panic,
//! and reading it deletes nothing. Against a real `redis-server` started by the test.

use proptest::prelude::*;
use resque_failure::{Backend, Filter, Order};
use resque_store::Client;
use resque_test_support::RedisServer;

fn record() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just("failed_at"),
        Just("payload"),
        Just("exception"),
        Just("error"),
        Just("backtrace"),
        Just("worker"),
        Just("queue"),
        Just("retried_at"),
        Just("class"),
        Just("args"),
    ];
    let value = prop_oneof![
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just(r#"{"class":"X","args":[1]}"#.to_owned()),
        "[0-9]{1,5}",
        "\"[^\"\\\\]{0,12}\"",
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec((field, value), 0..6).prop_map(|fs| {
            let body: Vec<String> = fs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(",")).into_bytes()
        }),
    ]
}

#[test]
fn any_failure_list_is_read_and_changed_without_a_panic_or_a_loss() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let c = rt
        .block_on(Client::connect(&server.url()))
        .expect("connects");
    let failures = Backend::redis().failures(c.store().expect("connected").clone());
    let config = ProptestConfig {
        cases: 150,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(records in prop::collection::vec(record(), 1..12), pick in 0u64..12)| {
        server.cmd(&["DEL", "resque:failed", "resque:queue:X"]).expect("del");
        for r in &records {
            server.cmd(&[b"RPUSH".as_slice(), b"resque:failed", r]).expect("rpush");
        }
        let n = records.len() as u64;
        let n_text = n.to_string();
        rt.block_on(async {
            let _ = failures.count(None, None).await;
            let _ = failures.page(None, &Filter::default(), Order::Desc, 0, 20).await;
            let _ = failures.page(None, &Filter::class("X"), Order::Asc, 0, 5).await;
            let _ = failures.class_counts(None).await;
            let _ = failures.all(0, 20, None).await;
        });
        // Reading changed nothing.
        let len = server.get_str(&["LLEN", "resque:failed"]);
        prop_assert_eq!(len.as_deref(), Some(n_text.as_str()));
        // Requeue and remove take an index; out of range or corrupt, they refuse or act on
        // that one record only.
        let index = pick % (n + 1);
        let requeued = rt.block_on(failures.requeue(index, None));
        let len = server.get_str(&["LLEN", "resque:failed"]);
        prop_assert_eq!(len.as_deref(), Some(n_text.as_str()), "requeue: {:?}", requeued);
        let removed = rt.block_on(failures.remove(index, None));
        let left: u64 = server.get_str(&["LLEN", "resque:failed"]).and_then(|l| l.parse().ok()).unwrap_or(0);
        prop_assert!(left == n || (left + 1 == n && removed.is_ok()), "remove: {:?}, {} left of {}", removed, left, n);
    });
}
