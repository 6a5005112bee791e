//! The client builder's settings, against a real redis-server.

use std::time::Duration;

use anyhow::Result;
use resque_store::Client;
use resque_test_support::{RedisServer, Resp};

/// How many clients the server has, besides the one asking.
fn connections(server: &RedisServer) -> Result<usize> {
    let Resp::Bulk(list) = server.cmd(&["CLIENT", "LIST"])? else {
        anyhow::bail!("CLIENT LIST")
    };
    Ok(String::from_utf8(list)?
        .lines()
        .filter(|l| !l.contains("cmd=client|list"))
        .count())
}

#[tokio::test(flavor = "current_thread")]
async fn a_pool_keeps_its_connections_and_a_namespace_applies() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::builder(&server.url())
        .namespace("pooled")
        .pool_size(4)
        .command_timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(2))
        .reconnect(false)
        .connect()
        .await?;
    assert_eq!(connections(&server)?, 4);
    // Commands spread over the four, each seeing the others' writes.
    for i in 0..20 {
        client.enqueue_to("q", "A", vec![i.into()]).await?;
        assert_eq!(client.size("q").await?, i + 1);
    }
    assert_eq!(server.cmd(&["LLEN", "pooled:queue:q"])?, Resp::Integer(20));
    client.store()?.close().await?;
    let single = Client::connect(&server.url()).await?;
    assert_eq!(
        single.size("q").await?,
        0,
        "default namespace: another queue"
    );
    Ok(())
}

#[test]
fn the_blocking_builder_takes_the_same_settings() -> Result<()> {
    let server = RedisServer::start();
    let client = resque_store::blocking::Client::builder(&server.url())
        .namespace("blk")
        .pool_size(2)
        .connect()?;
    client.enqueue_to("q", "A", vec![])?;
    assert_eq!(server.cmd(&["LLEN", "blk:queue:q"])?, Resp::Integer(1));
    Ok(())
}

#[cfg(not(feature = "tls"))]
#[tokio::test(flavor = "current_thread")]
async fn tls_without_the_feature_is_a_clear_error() -> Result<()> {
    let server = RedisServer::start();
    let e = Client::builder(&server.url())
        .tls(true)
        .connect()
        .await
        .expect_err("no tls feature");
    assert!(e.to_string().contains("`tls` cargo feature"), "{e}");
    Ok(())
}
