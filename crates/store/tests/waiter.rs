//! The blocking wait for a job: it says a queue holds something, and takes nothing.

use std::time::{Duration, Instant};

use anyhow::Result;
use resque_store::Client;
use resque_test_support::RedisServer;

#[tokio::test(flavor = "current_thread")]
async fn a_wait_sees_jobs_and_leaves_the_queue_as_it_was() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url()).await?;
    let store = client.store()?;
    let waiter = store.queue_waiter("q").await?;
    assert_eq!(waiter.queue(), "q");

    // Empty: the wait lasts its time, then says so.
    let t = Instant::now();
    assert!(!waiter.wait(Duration::from_millis(300)).await?);
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );

    // Items there: at once, and in the same order afterwards.
    for i in 0..3 {
        client.enqueue_to("q", "A", vec![i.into()]).await?;
    }
    let before = server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]);
    let t = Instant::now();
    assert!(waiter.wait(Duration::from_secs(5)).await?);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]),
        before
    );

    // A job that arrives during the wait ends it.
    client.remove_queue("q").await?;
    let pusher = client.clone();
    let push = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        pusher.enqueue_to("q", "A", vec![9.into()]).await
    });
    let t = Instant::now();
    assert!(waiter.wait(Duration::from_secs(5)).await?);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    push.await??;
    assert_eq!(client.size("q").await?, 1, "the job is still in its queue");
    Ok(())
}
