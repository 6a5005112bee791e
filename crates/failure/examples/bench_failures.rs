//! Failure API timings on a large list: a page, a count, a filtered page.
//!
//! Run through `scripts/bench-failures.sh`, which starts a private server and prints these
//! beside `redis-benchmark`. `bench_failures REDIS RECORDS` seeds `RECORDS` records (every
//! 10th of class `Archive`, the 20 oldest of class `Rare`), then prints one JSON line of
//! median milliseconds.

use std::time::Instant;

use resque_failure::{Backend, Filter, Order};
use resque_protocol::{Failure, time};
use resque_store::{Connection, Store};
use serde_json::json;

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let redis = argv.next().unwrap_or_else(|| "127.0.0.1:6379".to_owned());
    let n: usize = argv
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = Store::connect(&Connection::parse(&redis)?, Some("resque-bench")).await?;
        let key = store.keys().failed();
        store.delete(&key).await?;
        let now = time::now();
        let records: Vec<String> = (0..n)
            .map(|i| {
                let class = if i < 20 { "Rare" } else if i % 10 == 0 { "Archive" } else { "Mailer" };
                Failure {
                    failed_at: time::failed_at(&now),
                    payload: json!({"class": class, "args": [i, "masterbrew", {"user": i * 7}]}),
                    exception: "RuntimeError".into(),
                    error: format!("{class} failed: could not reach upstream for record {i}"),
                    backtrace: vec!["app/jobs/archive.rb:14:in `perform'".into(); 6],
                    worker: "vm:7180:file_serve".into(),
                    queue: "file_serve".into(),
                    retried_at: None,
                }
                .encode()
            })
            .collect::<Result<_, _>>()?;
        store.list_push_many(&key, &records).await?;
        let f = Backend::redis().failures(store.clone());
        assert_eq!(f.count(None, None).await?, n as u64);

        let reps = 30;
        let timed = |label: &'static str| (label, Vec::with_capacity(reps));
        let (mut count, mut first, mut last, mut filtered, mut rare) =
            (timed("count"), timed("first"), timed("last"), timed("filtered"), timed("rare"));
        for _ in 0..reps {
            let t = Instant::now();
            f.count(None, None).await?;
            count.1.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            assert_eq!(f.page(None, &Filter::default(), Order::Desc, 0, 20).await?.entries.len(), 20);
            first.1.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let last_offset = (n as u64 / 20) * 20;
            f.page(None, &Filter::default(), Order::Desc, last_offset.saturating_sub(20), 20).await?;
            last.1.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            assert_eq!(f.page(None, &Filter::class("Archive"), Order::Desc, 0, 20).await?.entries.len(), 20);
            filtered.1.push(t.elapsed().as_secs_f64() * 1e3);
        }
        // The worst case: the only matches sit at the far end of a newest-first scan.
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(f.page(None, &Filter::class("Rare"), Order::Desc, 0, 20).await?.entries.len(), 20);
            rare.1.push(t.elapsed().as_secs_f64() * 1e3);
        }
        // A new process (a new Failures) starts from the index another one shared.
        let mut cold = Vec::new();
        for _ in 0..3 {
            let fresh = Backend::redis().failures(store.clone());
            let t = Instant::now();
            assert_eq!(fresh.page(None, &Filter::class("Rare"), Order::Desc, 0, 20).await?.entries.len(), 20);
            cold.push(t.elapsed().as_secs_f64() * 1e3);
        }
        // The very first build, with no shared index anywhere.
        store.delete(&store.keys().failure_index("failed")).await?;
        let fresh = Backend::redis().failures(store.clone());
        let t = Instant::now();
        assert_eq!(fresh.page(None, &Filter::class("Rare"), Order::Desc, 0, 20).await?.entries.len(), 20);
        let first_build_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let archive = f.search_count(None, &Filter::class("Archive")).await?;
        let filtered_count_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let text_matches = f.search_count(None, &Filter { text: Some("record 4242".into()), ..Filter::default() }).await?;
        let text_count_ms = t.elapsed().as_secs_f64() * 1e3;
        store.delete(&key).await?;
        store.delete(&store.keys().failure_index("failed")).await?;
        println!(
            "{}",
            json!({
                "records": n, "archive_records": archive,
                "count_ms": median_ms(count.1), "first_page_ms": median_ms(first.1),
                "last_page_ms": median_ms(last.1), "filtered_page_ms": median_ms(filtered.1),
                "filtered_page_worst_ms": median_ms(rare.1), "filtered_count_ms": filtered_count_ms,
                "filtered_page_cold_ms": median_ms(cold), "index_first_build_ms": first_build_ms, "text_search_ms": text_count_ms, "text_matches": text_matches,
            })
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
