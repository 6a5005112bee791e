//! The key viewer's and `Resque.info`'s server-side reads: SCAN, types and sizes,
//! one key's page, `TIME`, `INFO`.

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value as RedisValue};

use super::{Store, to_i64, value_to_string};
use crate::Result;

impl Store {
    /// Every key under the namespace, without the namespace (`Resque.keys`). Uses `SCAN`,
    /// not Ruby's `KEYS *`, so a large keyspace does not block Redis.
    pub async fn all_keys(&self) -> Result<Vec<String>> {
        let pattern = self.keys.scan_pattern();
        let mut cursor = "0".to_owned();
        let mut out = Vec::new();
        loop {
            let (next, batch): (String, Vec<String>) = self
                .client()
                .custom(
                    CustomCommand::new_static("SCAN", ClusterHash::Random, false),
                    vec![cursor.as_str(), "MATCH", pattern.as_str(), "COUNT", "1000"],
                )
                .await?;
            out.extend(
                batch
                    .iter()
                    .filter_map(|k| self.keys.strip(k).map(str::to_owned)),
            );
            if next == "0" {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Type and size of keys under the namespace (names without it): one script call (`TYPE`
    /// each, then `STRLEN` / `LLEN` / `SCARD` / `ZCARD` / `HLEN` / `XLEN` by type) however
    /// many keys, or, where the server refuses scripts, two pipelines. A hundred keys cost
    /// one write and one reply instead of two hundred commands' writes, which is what made
    /// resque-web's key list its slowest page.
    pub async fn key_summaries(&self, keys: &[String]) -> Result<Vec<(KeyType, u64)>> {
        const SCRIPT: &str = "local out = {} \
            for _, k in ipairs(KEYS) do \
              local t = redis.call('TYPE', k)['ok'] local n = 0 \
              if t == 'string' then n = redis.call('STRLEN', k) \
              elseif t == 'list' then n = redis.call('LLEN', k) \
              elseif t == 'set' then n = redis.call('SCARD', k) \
              elseif t == 'zset' then n = redis.call('ZCARD', k) \
              elseif t == 'hash' then n = redis.call('HLEN', k) \
              elseif t == 'stream' then n = redis.call('XLEN', k) end \
              out[#out + 1] = t out[#out + 1] = n \
            end return out";
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<RedisValue> = keys.iter().map(|k| self.keys.key(k).into()).collect();
        let argv = || {
            let mut v: Vec<RedisValue> = Vec::with_capacity(2 + full.len());
            v.push(RedisValue::Null);
            v.push(i64::try_from(full.len()).unwrap_or(0).into());
            v.extend(full.iter().cloned());
            v
        };
        match self.run_script(SCRIPT, argv).await {
            Ok(RedisValue::Array(items)) if items.len() == 2 * keys.len() => {
                let mut it = items.into_iter();
                let mut out = Vec::with_capacity(keys.len());
                while let (Some(t), Some(n)) = (it.next(), it.next()) {
                    let kind = KeyType::parse(value_to_string(t).as_deref().unwrap_or("none"));
                    out.push((kind, n.as_u64().unwrap_or(0)));
                }
                Ok(out)
            }
            Ok(_) | Err(crate::Error::ScriptUnavailable(_)) => self.key_summaries_piped(keys).await,
            Err(e) => Err(e),
        }
    }

    /// [`Store::key_summaries`] without a script: two pipelined round trips.
    async fn key_summaries_piped(&self, keys: &[String]) -> Result<Vec<(KeyType, u64)>> {
        let p = self.client().pipeline();
        for key in keys {
            let () = p.r#type(self.keys.key(key)).await?;
        }
        let types: Vec<KeyType> = p
            .all::<Vec<RedisValue>>()
            .await?
            .into_iter()
            .map(|v| KeyType::parse(value_to_string(v).as_deref().unwrap_or("none")))
            .collect();
        let p = self.client().pipeline();
        for (key, kind) in keys.iter().zip(&types) {
            let full = self.keys.key(key);
            match kind.size_command() {
                Some(cmd) => {
                    let () = p
                        .custom(
                            CustomCommand::new_static(cmd, ClusterHash::FirstKey, false),
                            vec![full],
                        )
                        .await?;
                }
                // Keep positions aligned: an unknown type's size is reported as 0.
                None => {
                    let () = p.exists(full).await?;
                }
            }
        }
        let sizes = p.all::<Vec<RedisValue>>().await?;
        Ok(types
            .into_iter()
            .zip(sizes)
            .map(|(t, n)| {
                let n = if t.size_command().is_some() {
                    n.as_u64().unwrap_or(0)
                } else {
                    0
                };
                (t, n)
            })
            .collect())
    }

    /// One page of a key's value for the key viewer: a string whole (up to `max_string`
    /// bytes), or items `start..start+count` of a list, set, sorted set (with scores) or
    /// hash (`field`, `value`). Sets and hashes are walked with `SSCAN` / `HSCAN`, so
    /// memory stays bounded by the page however large the key.
    pub async fn key_page(
        &self,
        key: &str,
        start: u64,
        count: u64,
        max_string: u64,
    ) -> Result<KeyPage> {
        let full = self.keys.key(key);
        let kind = KeyType::parse(&{
            let t: String = self.client().r#type(&full).await?;
            t
        });
        let size = match kind.size_command() {
            Some(cmd) => {
                let n: RedisValue = self
                    .client()
                    .custom(
                        CustomCommand::new_static(cmd, ClusterHash::FirstKey, false),
                        vec![full.clone()],
                    )
                    .await?;
                n.as_u64().unwrap_or(0)
            }
            None => 0,
        };
        let (s, e) = (to_i64(start), to_i64(start.saturating_add(count)) - 1);
        let items: Vec<(String, Option<String>)> = match kind {
            KeyType::String => {
                let v: RedisValue = self
                    .client()
                    .custom(
                        CustomCommand::new_static("GETRANGE", ClusterHash::FirstKey, false),
                        vec![
                            full.clone(),
                            "0".to_owned(),
                            (to_i64(max_string) - 1).to_string(),
                        ],
                    )
                    .await?;
                vec![(value_to_string(v).unwrap_or_default(), None)]
            }
            KeyType::List => {
                let vs: Vec<RedisValue> = self.client().lrange(&full, s, e).await?;
                vs.into_iter()
                    .map(|v| (value_to_string(v).unwrap_or_default(), None))
                    .collect()
            }
            KeyType::ZSet => {
                let vs: Vec<RedisValue> = self
                    .client()
                    .custom(
                        CustomCommand::new_static("ZRANGE", ClusterHash::FirstKey, false),
                        vec![
                            full.clone(),
                            s.to_string(),
                            e.to_string(),
                            "WITHSCORES".to_owned(),
                        ],
                    )
                    .await?;
                pairs(vs)
            }
            KeyType::Set | KeyType::Hash => {
                let cmd = if kind == KeyType::Set {
                    "SSCAN"
                } else {
                    "HSCAN"
                };
                self.scan_key(cmd, &full, kind == KeyType::Hash, start, count)
                    .await?
            }
            KeyType::Stream | KeyType::None | KeyType::Other(_) => Vec::new(),
        };
        Ok(KeyPage { kind, size, items })
    }

    /// Items `start..start+count` of a set (`SSCAN`) or hash (`HSCAN`), in scan order.
    async fn scan_key(
        &self,
        cmd: &'static str,
        full: &str,
        hash: bool,
        start: u64,
        count: u64,
    ) -> Result<Vec<(String, Option<String>)>> {
        let mut cursor = "0".to_owned();
        let mut seen = 0u64;
        let mut out = Vec::new();
        loop {
            let (next, batch): (String, Vec<RedisValue>) = self
                .client()
                .custom(
                    CustomCommand::new_static(cmd, ClusterHash::FirstKey, false),
                    vec![full, cursor.as_str(), "COUNT", "500"],
                )
                .await?;
            let items = if hash {
                pairs(batch)
            } else {
                batch
                    .into_iter()
                    .map(|v| (value_to_string(v).unwrap_or_default(), None))
                    .collect()
            };
            for item in items {
                if seen >= start && (out.len() as u64) < count {
                    out.push(item);
                }
                seen += 1;
            }
            if next == "0" || out.len() as u64 >= count {
                break;
            }
            cursor = next;
        }
        Ok(out)
    }

    /// Redis `TIME` as `(seconds, microseconds)`.
    pub async fn server_time(&self) -> Result<(i64, i64)> {
        let (s, us): (String, String) = self
            .client()
            .custom(
                CustomCommand::new_static("TIME", ClusterHash::Random, false),
                Vec::<String>::new(),
            )
            .await?;
        Ok((s.parse().unwrap_or(0), us.parse().unwrap_or(0)))
    }

    /// `INFO` as key/value pairs, in the server's order (for the web UI's Redis page).
    pub async fn server_info(&self) -> Result<Vec<(String, String)>> {
        let text: String = self.client().info(None).await?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim_end().to_owned()))
            .collect())
    }
}

/// A Redis key's type, as `TYPE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    /// `none`: the key does not exist.
    None,
    /// `string`.
    String,
    /// `list`.
    List,
    /// `set`.
    Set,
    /// `zset`.
    ZSet,
    /// `hash`.
    Hash,
    /// `stream`.
    Stream,
    /// Anything else a module may define.
    Other(String),
}

impl KeyType {
    fn parse(s: &str) -> Self {
        match s {
            "none" => Self::None,
            "string" => Self::String,
            "list" => Self::List,
            "set" => Self::Set,
            "zset" => Self::ZSet,
            "hash" => Self::Hash,
            "stream" => Self::Stream,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The name `TYPE` gives.
    pub fn as_str(&self) -> &str {
        match self {
            Self::None => "none",
            Self::String => "string",
            Self::List => "list",
            Self::Set => "set",
            Self::ZSet => "zset",
            Self::Hash => "hash",
            Self::Stream => "stream",
            Self::Other(s) => s,
        }
    }

    /// The command giving its size (Ruby's `redis_get_size`; a string's size is its length).
    fn size_command(&self) -> Option<&'static str> {
        match self {
            Self::String => Some("STRLEN"),
            Self::List => Some("LLEN"),
            Self::Set => Some("SCARD"),
            Self::ZSet => Some("ZCARD"),
            Self::Hash => Some("HLEN"),
            Self::Stream => Some("XLEN"),
            Self::None | Self::Other(_) => None,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A page of a key's value (see [`Store::key_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// Its type.
    pub kind: KeyType,
    /// Its size (items; bytes for a string).
    pub size: u64,
    /// The items: `(value, None)`, or `(field, Some(value))` for hashes and
    /// `(member, Some(score))` for sorted sets.
    pub items: Vec<(String, Option<String>)>,
}

/// `[a, b, c, d]` as `[(a, Some(b)), (c, Some(d))]` (hash fields, sorted-set scores).
fn pairs(vs: Vec<RedisValue>) -> Vec<(String, Option<String>)> {
    // Scores may come back as numbers (RESP3); they are shown as text.
    let mut it = vs.into_iter().map(|v| match v {
        RedisValue::Integer(_) | RedisValue::Double(_) => v.as_string().unwrap_or_default(),
        other => value_to_string(other).unwrap_or_default(),
    });
    let mut out = Vec::new();
    while let (Some(a), b) = (it.next(), it.next()) {
        out.push((a, b));
    }
    out
}
