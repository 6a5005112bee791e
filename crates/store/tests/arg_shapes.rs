//! Every shape of job arguments, enqueued through the client into a real redis-server,
//! against the bytes Ruby Resque 3.0 wrote for the same call (fixture 22, captured with
//! scripts/ruby/capture_arg_shapes.rb), and read back from Ruby's bytes.

use std::fmt::Debug;

use anyhow::{Context as _, Result};
use resque_store::{Client, Context, Job, JobError, job};
use resque_test_support::{RedisServer, Resp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A job per `Args` type, all under Ruby's class name `Shaped`.
struct Shaped<T>(std::marker::PhantomData<T>);
impl<T: Serialize + DeserializeOwned + Send + 'static> Job for Shaped<T> {
    const CLASS: &'static str = "Shaped";
    const QUEUE: &'static str = "shapes";
    type Args = T;
    fn perform(_: &T, _: &mut Context) -> Result<(), JobError> {
        Ok(())
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Signup {
    user_id: u64,
    plan: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    score: f64,
    tags: Vec<String>,
    parent: Option<u64>,
    at: f64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Speed {
    Fast,
    Slow { by: u32 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Options {
    dry_run: bool,
}

struct Golden {
    cases: Vec<Value>,
    server: RedisServer,
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Golden {
    fn new() -> Result<Self> {
        let fx: Value = serde_json::from_str(&resque_test_support::fixture("22_arg_shapes"))?;
        let server = RedisServer::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = rt.block_on(Client::connect(&server.url()))?;
        Ok(Self {
            cases: fx["cases"].as_array().context("cases")?.clone(),
            server,
            rt,
            client,
        })
    }

    fn ruby(&self, name: &str) -> Result<String> {
        let case = self
            .cases
            .iter()
            .find(|c| c["name"] == name)
            .with_context(|| format!("no case {name}"))?;
        Ok(case["payload"].as_str().context("payload")?.to_owned())
    }

    /// Enqueues `value` as Ruby's call `name` did, checks the stored bytes, and reads
    /// Ruby's bytes back into the type.
    fn check<T>(&self, name: &str, value: T) -> Result<()>
    where
        T: Serialize + DeserializeOwned + Send + PartialEq + Debug + 'static,
    {
        let want = self.ruby(name)?;
        self.rt.block_on(self.client.remove_queue("shapes"))?;
        assert!(
            self.rt
                .block_on(self.client.enqueue::<Shaped<T>>(value_clone(&value)?))?
        );
        let stored = match self.server.cmd(&["LINDEX", "resque:queue:shapes", "0"])? {
            Resp::Bulk(b) => String::from_utf8(b)?,
            other => anyhow::bail!("{name}: LINDEX gave {other:?}"),
        };
        assert_eq!(stored, want, "{name}: our bytes are Ruby's");
        let payload: Value = serde_json::from_str(&want)?;
        let args = payload["args"].as_array().context("args")?;
        let back =
            job::args_from_json::<Shaped<T>>(args).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        assert_eq!(back, value, "{name}: Ruby's bytes read back");
        Ok(())
    }
}

/// A copy through JSON (the test's types need not be `Clone`).
fn value_clone<T: Serialize + DeserializeOwned>(v: &T) -> Result<T> {
    Ok(serde_json::from_value(serde_json::to_value(v)?)?)
}

#[test]
fn every_argument_shape_writes_what_ruby_writes_22() -> Result<()> {
    let g = Golden::new()?;
    g.check("none", ())?;
    g.check("list", (44u64, "masterbrew".to_owned()))?;
    g.check("one_list", (vec![1u8, 2, 3],))?;
    g.check("many", vec![1u8, 2, 3])?;
    g.check(
        "hash",
        Signup {
            user_id: 5,
            plan: "pro".into(),
        },
    )?;
    let mut ordered = serde_json::Map::new();
    ordered.insert("b".into(), 1.into());
    ordered.insert("a".into(), 2.into());
    g.check("hash_order", ordered)?;
    g.check(
        "nested",
        Profile {
            name: "café ☃".into(),
            score: 1.5,
            tags: vec!["a".into(), "b".into()],
            parent: None,
            at: 1733011200.123456,
        },
    )?;
    g.check("number", 5u64)?;
    g.check("string", "x".to_owned())?;
    g.check("variant_name", Speed::Fast)?;
    g.check("variant_hash", Speed::Slow { by: 3 })?;
    g.check("list_with_hash", (7u64, Options { dry_run: true }))?;
    Ok(())
}
