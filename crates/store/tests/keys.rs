//! The key viewer's summaries (type and size of each key), against a real `redis-server`:
//! one script call, and the same answer from the pipelines where scripts are refused.

use anyhow::Result;
use resque_store::{Client, KeyType};
use resque_test_support::RedisServer;

#[tokio::test(flavor = "current_thread")]
async fn key_summaries_give_each_keys_type_and_size_with_and_without_scripts() -> Result<()> {
    let server = RedisServer::start();
    server.cmd(&["SET", "resque:s", "hello"])?;
    server.cmd(&["RPUSH", "resque:l", "a", "b", "c"])?;
    server.cmd(&["SADD", "resque:set", "a", "b"])?;
    server.cmd(&["ZADD", "resque:z", "1", "a"])?;
    server.cmd(&["HSET", "resque:h", "f", "v", "g", "w"])?;
    server.cmd(&["XADD", "resque:x", "*", "f", "v"])?;
    let names: Vec<String> = ["s", "l", "set", "z", "h", "x", "missing"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let want = vec![
        (KeyType::String, 5),
        (KeyType::List, 3),
        (KeyType::Set, 2),
        (KeyType::ZSet, 1),
        (KeyType::Hash, 2),
        (KeyType::Stream, 1),
        (KeyType::None, 0),
    ];
    let c = Client::connect(&server.url()).await?;
    assert_eq!(c.store()?.key_summaries(&names).await?, want);
    assert!(c.store()?.key_summaries(&[]).await?.is_empty());
    // A server that refuses scripts (an ACL): the same answer, by pipelines.
    server.cmd(&["ACL", "SETUSER", "default", "-evalsha", "-script", "-eval"])?;
    let c = Client::connect(&server.url()).await?;
    assert_eq!(c.store()?.key_summaries(&names).await?, want);
    Ok(())
}
