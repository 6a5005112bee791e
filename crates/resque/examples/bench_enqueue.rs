//! Enqueue throughput: single jobs (one round trip each, SADD + RPUSH pipelined as Ruby
//! does) and batches (`enqueue_batch`, one round trip per batch).
//!
//! Run through `scripts/bench-enqueue.sh`, which starts a private server and prints these
//! figures beside `redis-benchmark`'s.
//!
//! `bench_enqueue REDIS SINGLE_JOBS BATCH_JOBS BATCH_SIZE` prints one JSON line.

use std::time::Instant;

use resque::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let redis = argv.next().unwrap_or_else(|| "127.0.0.1:6379".to_owned());
    let single: usize = argv
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50_000);
    let batch_jobs: usize = argv
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(500_000);
    let batch_size: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000);
    // One thread, like the worker: fred's connection task and the caller share it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = Client::builder(&redis)
            .namespace("resque-bench")
            .reconnect(false)
            .connect()
            .await?;
        client.remove_queue("bench").await?;
        // Warm up the connection and the allocator.
        for _ in 0..1_000 {
            client.enqueue_to("bench", "NoopJob", vec![]).await?;
        }
        client.remove_queue("bench").await?;

        let t = Instant::now();
        for i in 0..single {
            client.enqueue_to("bench", "NoopJob", vec![i.into()]).await?;
        }
        let single_rate = single as f64 / t.elapsed().as_secs_f64();
        assert_eq!(client.size("bench").await?, single as u64);
        client.remove_queue("bench").await?;

        let t = Instant::now();
        let mut done = 0;
        while done < batch_jobs {
            let n = batch_size.min(batch_jobs - done);
            let jobs = (done..done + n).map(|i| ("bench", "NoopJob", vec![i.into()]));
            done += client.enqueue_batch(jobs).await?;
        }
        let batch_rate = batch_jobs as f64 / t.elapsed().as_secs_f64();
        assert_eq!(client.size("bench").await?, batch_jobs as u64);
        client.remove_queue("bench").await?;
        println!(
            "{{\"single_jobs\":{single},\"single_jobs_per_s\":{single_rate:.0},\"batch_jobs\":{batch_jobs},\"batch_size\":{batch_size},\"batch_jobs_per_s\":{batch_rate:.0}}}"
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
