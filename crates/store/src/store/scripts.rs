//! Lua scripts: `EVALSHA` with a load on first use (and after the server forgets them).

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value as RedisValue};

use super::{Store, is_io, ran_in_script};
use crate::{Error, Result};

impl Store {
    /// Runs a script by its SHA1 (`EVALSHA`), loading it first when the server does not
    /// have it (first use, `SCRIPT FLUSH`, a restart). A server that refuses scripts gives
    /// [`Error::ScriptUnavailable`]; an error raised while the script ran (its commands up
    /// to there took effect) stays [`Error::Redis`].
    ///
    /// `argv` makes `EVALSHA`'s arguments with a placeholder for the SHA1 first (made again
    /// for a second attempt rather than cloned for every first one).
    pub(super) async fn run_script(
        &self,
        script: &'static str,
        argv: impl Fn() -> Vec<RedisValue>,
    ) -> Result<RedisValue> {
        for attempt in 0..2 {
            let sha = match self.script_sha(script, attempt > 0).await {
                Ok(sha) => sha,
                Err(Error::Redis(e)) if !is_io(&e) => {
                    return Err(Error::ScriptUnavailable(e.to_string()));
                }
                Err(e) => return Err(e),
            };
            let mut args = argv();
            args[0] = sha;
            match self
                .client()
                .custom::<RedisValue, _>(
                    CustomCommand::new_static("EVALSHA", ClusterHash::FirstKey, false),
                    args,
                )
                .await
            {
                Ok(v) => return Ok(v),
                Err(e) if e.details().starts_with("NOSCRIPT") => continue,
                Err(e) if is_io(&e) || ran_in_script(&e) => return Err(e.into()),
                Err(e) => return Err(Error::ScriptUnavailable(e.to_string())),
            }
        }
        Err(Error::ScriptUnavailable(
            "the server forgets the script as soon as it is loaded".to_owned(),
        ))
    }

    /// The SHA1 `SCRIPT LOAD` gave for `script` (cached; `reload` asks again).
    async fn script_sha(&self, script: &'static str, reload: bool) -> Result<RedisValue> {
        let cached = self
            .scripts
            .lock()
            .ok()
            .and_then(|m| m.get(&script_key(script)).cloned());
        if let (Some(sha), false) = (cached, reload) {
            return Ok(sha);
        }
        let sha: String = self
            .client()
            .custom(
                CustomCommand::new_static("SCRIPT", ClusterHash::FirstKey, false),
                vec!["LOAD", script],
            )
            .await?;
        let sha = RedisValue::from(sha);
        if let Ok(mut m) = self.scripts.lock() {
            m.insert(script_key(script), sha.clone());
        }
        Ok(sha)
    }

    pub(super) async fn eval(&self, script: &str, key: &str, args: Vec<Vec<u8>>) -> Result<i64> {
        let mut argv: Vec<RedisValue> = vec![script.into(), 1.into(), key.into()];
        argv.extend(args.into_iter().map(|a| RedisValue::Bytes(a.into())));
        Ok(self
            .client()
            .custom(
                CustomCommand::new_static("EVAL", ClusterHash::FirstKey, false),
                argv,
            )
            .await?)
    }
}

/// The script cache's key for `script`: its address and length.
fn script_key(script: &'static str) -> (usize, usize) {
    (script.as_ptr() as usize, script.len())
}
