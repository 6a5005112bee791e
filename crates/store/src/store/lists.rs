//! Generic list, set and string operations on full key names (from `Keys`), with the
//! compare-and-swap scripts the Failure API's index-based changes use.

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value as RedisValue};

use super::{MAX_ITEMS_PER_RPUSH, Store, value_to_bytes};
use crate::Result;

impl Store {
    /// `LLEN key`.
    pub async fn list_len(&self, key: &str) -> Result<u64> {
        Ok(self.client().llen(key).await?)
    }

    /// `LRANGE key start stop`, items as exact bytes.
    pub async fn list_range_raw(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Vec<u8>>> {
        let vs: Vec<RedisValue> = self.client().lrange(key, start, stop).await?;
        Ok(vs.into_iter().filter_map(value_to_bytes).collect())
    }

    /// `LINDEX key index`, as exact bytes.
    pub async fn list_index(&self, key: &str, index: i64) -> Result<Option<Vec<u8>>> {
        let v: RedisValue = self.client().lindex(key, index).await?;
        Ok(value_to_bytes(v))
    }

    /// Replaces the item at `index` with `new`, but only if it still is `expected`, in one
    /// atomic step. Returns whether it was replaced.
    ///
    /// Ruby does `LINDEX` then `LSET`; if another client removed an earlier item in
    /// between, Ruby overwrites the wrong record. Checking the bytes inside one script
    /// closes that gap, and what any reader sees is exactly what Ruby's `LSET` leaves.
    pub async fn list_replace_if(
        &self,
        key: &str,
        index: i64,
        expected: &[u8],
        new: &[u8],
    ) -> Result<bool> {
        const SCRIPT: &str = "if redis.call('LINDEX', KEYS[1], ARGV[1]) == ARGV[2] then \
             redis.call('LSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0";
        let n: i64 = self
            .eval(
                SCRIPT,
                key,
                vec![
                    index.to_string().into_bytes(),
                    expected.to_vec(),
                    new.to_vec(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Removes the item at `index` if it still is `expected`, atomically. Returns whether
    /// it was removed.
    ///
    /// Ruby removes by index with `LSET i ""` then `LREM 1 ""`, two commands: a concurrent
    /// reader can see the `""` sentinel, and if the list shifted, the wrong record goes.
    /// Doing both inside one script (after checking the bytes) means no reader ever sees
    /// the sentinel and no neighbour is ever deleted; the end state is Ruby's.
    pub async fn list_remove_if(&self, key: &str, index: i64, expected: &[u8]) -> Result<bool> {
        const SCRIPT: &str = "if redis.call('LINDEX', KEYS[1], ARGV[1]) == ARGV[2] then \
             redis.call('LSET', KEYS[1], ARGV[1], '') redis.call('LREM', KEYS[1], 1, '') return 1 end return 0";
        let n: i64 = self
            .eval(
                SCRIPT,
                key,
                vec![index.to_string().into_bytes(), expected.to_vec()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Items of `key` in `start..=stop` that contain every `needles` entry (byte for byte)
    /// and every `ci_needles` entry (ASCII case-insensitive; pass them lower-cased), with
    /// their indices, oldest first.
    ///
    /// The scan runs inside Redis (a short Lua script per call), so only candidates cross
    /// the network: reading a 100,000-record list to the client costs far more than
    /// searching it in place. Keep `stop - start` to a few thousand items per call, since a
    /// script holds Redis for its duration.
    pub async fn list_scan_matching(
        &self,
        key: &str,
        start: i64,
        stop: i64,
        needles: &[Vec<u8>],
        ci_needles: &[Vec<u8>],
    ) -> Result<Vec<(i64, Vec<u8>)>> {
        const SCRIPT: &str = "local items = redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2]) \
             local n = tonumber(ARGV[3]) local out = {} \
             for i, v in ipairs(items) do local ok = true \
               for j = 4, 3 + n do if not string.find(v, ARGV[j], 1, true) then ok = false break end end \
               if ok and #ARGV > 3 + n then local lv = string.lower(v) \
                 for j = 4 + n, #ARGV do if not string.find(lv, ARGV[j], 1, true) then ok = false break end end end \
               if ok then out[#out + 1] = ARGV[1] + i - 1 out[#out + 1] = v end \
             end return out";
        let mut argv: Vec<RedisValue> = vec![
            SCRIPT.into(),
            1.into(),
            key.into(),
            start.into(),
            stop.into(),
            i64::try_from(needles.len()).unwrap_or(0).into(),
        ];
        argv.extend(
            needles
                .iter()
                .chain(ci_needles)
                .map(|n| RedisValue::Bytes(n.clone().into())),
        );
        let flat: Vec<RedisValue> = self
            .client()
            .custom(
                CustomCommand::new_static("EVAL", ClusterHash::FirstKey, false),
                argv,
            )
            .await?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(i), Some(v)) = (it.next(), it.next()) {
            if let (Some(i), Some(v)) = (i.as_i64(), value_to_bytes(v)) {
                out.push((i, v));
            }
        }
        Ok(out)
    }

    /// `LINDEX` of several indices in one round trip.
    pub async fn list_indices(&self, key: &str, indices: &[i64]) -> Result<Vec<Option<Vec<u8>>>> {
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.client().pipeline();
        for i in indices {
            let () = p.lindex(key, *i).await?;
        }
        let vs: Vec<RedisValue> = p.all().await?;
        Ok(vs.into_iter().map(value_to_bytes).collect())
    }

    /// `GET key` as exact bytes.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let v: RedisValue = self.client().get(key).await?;
        Ok(value_to_bytes(v))
    }

    /// `SET key bytes`.
    pub async fn set_bytes(&self, key: &str, value: &[u8]) -> Result<()> {
        let () = self
            .client()
            .set(
                key,
                RedisValue::Bytes(value.to_vec().into()),
                None,
                None,
                false,
            )
            .await?;
        Ok(())
    }

    /// `DEL key`.
    pub async fn delete(&self, key: &str) -> Result<u64> {
        Ok(self.client().del(key).await?)
    }

    /// `SMEMBERS key`, sorted.
    pub async fn set_members(&self, key: &str) -> Result<Vec<String>> {
        let mut m: Vec<String> = self.client().smembers(key).await?;
        m.sort();
        Ok(m)
    }

    /// `SADD key member`.
    pub async fn set_add(&self, key: &str, member: &str) -> Result<()> {
        let () = self.client().sadd(key, member).await?;
        Ok(())
    }

    /// `RPUSH key v1 v2...` in chunks, all in one round trip (seeding, bulk copies).
    pub async fn list_push_many<S: AsRef<str>>(&self, key: &str, values: &[S]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let p = self.client().pipeline();
        for chunk in values.chunks(MAX_ITEMS_PER_RPUSH) {
            let items: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
            let () = p.rpush(key, items).await?;
        }
        let _: Vec<RedisValue> = p.all().await?;
        Ok(())
    }

    /// `RPUSH key value`.
    pub async fn list_push(&self, key: &str, value: &str) -> Result<()> {
        let () = self.client().rpush(key, value).await?;
        Ok(())
    }
}
