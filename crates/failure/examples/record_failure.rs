//! Records one failure through a backend, as a worker would (used by
//! `scripts/interop-ruby.sh` to hand Ruby records that resque-rs wrote).
//!
//! `record_failure REDIS BACKEND QUEUE CLASS MESSAGE [ARG...]` (ARGs as JSON)

use resque_failure::{Backend, NewFailure};
use resque_store::{Connection, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let [redis, backend, queue, class, message, rest @ ..] = argv.as_slice() else {
        return Err("usage: record_failure REDIS BACKEND QUEUE CLASS MESSAGE [ARG...]".into());
    };
    let args: Vec<serde_json::Value> = rest
        .iter()
        .map(|a| serde_json::from_str(a).unwrap_or_else(|_| a.clone().into()))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = Store::connect(&Connection::parse(redis)?, None).await?;
        let failure = NewFailure {
            payload: serde_json::json!({"class": class, "args": args}),
            exception: "RuntimeError".into(),
            error: message.clone(),
            backtrace: vec!["src/jobs.rs:14:in `perform'".into()],
            worker: format!("rust-host:{}:{queue}", std::process::id()),
            queue: queue.clone(),
        };
        Backend::from_names(backend, None)?
            .save(&store, &failure)
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
