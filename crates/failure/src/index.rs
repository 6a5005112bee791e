//! A small in-memory index of a failure list, so filtered pages by class, queue or
//! exception do not rescan 100,000 records.
//!
//! Failure lists are append-mostly: workers `RPUSH` at the tail; removals and requeues are
//! rare operator actions. The index holds, per record, interned ids of its class, display
//! class, queue and exception (about 20 bytes a record). Before each use it is checked:
//! the list must not have shrunk and the last indexed record must still hash the same;
//! then only the new tail is read. Any other change rebuilds it. Records fetched for a
//! page are decoded and checked against the filter again, so a stale index can cost a
//! rebuild but never show a wrong record.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::filter::Filter;

/// Interned strings; id 0 means "absent", id n is `names[n - 1]`.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return 0 };
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        self.names.push(s.to_owned());
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(s.to_owned(), id);
        id
    }

    fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
}

#[derive(Debug, Clone, Copy)]
struct Row {
    class: u32,
    display_class: u32,
    queue: u32,
    exception: u32,
}

/// What the index needs of a record, decoded without building the whole JSON tree.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    exception: Option<String>,
    queue: Option<String>,
}

#[derive(Deserialize)]
struct PeekPayload {
    class: Option<String>,
    args: Option<Vec<serde_json::Value>>,
}

/// The index of one list.
#[derive(Debug, Default)]
pub(crate) struct Index {
    rows: Vec<Row>,
    last_hash: u64,
    strings: Interner,
}

/// FNV-1a: stable across processes and Rust versions, as a persisted index needs.
pub(crate) fn hash(raw: &[u8]) -> u64 {
    raw.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reads the persisted index's fields in order.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// Format tag of the persisted index.
const MAGIC: &[u8; 8] = b"RRFIX001";

impl Index {
    /// The index as bytes, to share through Redis: tag, last hash, string table, rows.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.rows.len() * 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.last_hash.to_le_bytes());
        let put = |out: &mut Vec<u8>, n: usize| {
            out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes())
        };
        put(&mut out, self.strings.names.len());
        for name in &self.strings.names {
            put(&mut out, name.len());
            out.extend_from_slice(name.as_bytes());
        }
        put(&mut out, self.rows.len());
        for r in &self.rows {
            for v in [r.class, r.display_class, r.queue, r.exception] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads [`Index::encode`]'s bytes; `None` for anything else (another version, garbage).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut c = Cursor { bytes, at: 0 };
        if c.take(8)? != MAGIC {
            return None;
        }
        let last_hash = u64::from_le_bytes(c.take(8)?.try_into().ok()?);
        let nstrings = c.u32()? as usize;
        let mut strings = Interner::default();
        for _ in 0..nstrings {
            let len = c.u32()? as usize;
            strings.id(Some(std::str::from_utf8(c.take(len)?).ok()?));
        }
        let nrows = c.u32()? as usize;
        let max = u32::try_from(strings.names.len()).ok()?;
        let mut rows = Vec::with_capacity(nrows.min(bytes.len() / 16));
        for _ in 0..nrows {
            let v = [c.u32()?, c.u32()?, c.u32()?, c.u32()?];
            if v.iter().any(|id| *id > max) {
                return None;
            }
            rows.push(Row {
                class: v[0],
                display_class: v[1],
                queue: v[2],
                exception: v[3],
            });
        }
        (c.at == bytes.len()).then_some(Self {
            rows,
            last_hash,
            strings,
        })
    }

    /// Records indexed.
    pub(crate) fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    /// Whether the list still starts with what was indexed: it has at least as many
    /// records, and the last indexed one is unchanged.
    pub(crate) fn still_prefix(&self, list_len: u64, last_indexed: Option<&[u8]>) -> bool {
        if self.rows.is_empty() {
            return true;
        }
        list_len >= self.len() && last_indexed.is_some_and(|raw| hash(raw) == self.last_hash)
    }

    /// Adds the next record.
    pub(crate) fn push(&mut self, raw: &[u8]) {
        let row = match serde_json::from_slice::<Peek<'_>>(raw) {
            Ok(p) => {
                let payload = p
                    .payload
                    .and_then(|r| serde_json::from_str::<PeekPayload>(r.get()).ok());
                let class = payload.as_ref().and_then(|p| p.class.as_deref());
                // ActiveJob's wrapper: the display class is args[0].job_class.
                let display = match (class, payload.as_ref().and_then(|p| p.args.as_ref())) {
                    (Some(resque_protocol::payload::ACTIVE_JOB_WRAPPER), Some(args)) => args
                        .first()
                        .and_then(|a| a.get("job_class"))
                        .and_then(|c| c.as_str())
                        .or(class),
                    _ => class,
                };
                Row {
                    class: self.strings.id(class),
                    display_class: self.strings.id(display),
                    queue: self.strings.id(p.queue.as_deref()),
                    exception: self.strings.id(p.exception.as_deref()),
                }
            }
            // Corrupt records match only an empty filter, which never uses the index.
            Err(_) => Row {
                class: 0,
                display_class: 0,
                queue: 0,
                exception: 0,
            },
        };
        self.rows.push(row);
        self.last_hash = hash(raw);
    }

    /// Records per payload class, sorted by class; records without a class count as
    /// `nil` (Ruby's `failed_class_counts`).
    pub(crate) fn class_counts(&self) -> Vec<(String, u64)> {
        let mut counts: HashMap<u32, u64> = HashMap::new();
        for row in &self.rows {
            *counts.entry(row.class).or_default() += 1;
        }
        let mut out: Vec<(String, u64)> = counts
            .into_iter()
            .map(|(id, n)| {
                let name = match id {
                    0 => "nil".to_owned(),
                    id => self.strings.names[id as usize - 1].clone(),
                };
                (name, n)
            })
            .collect();
        out.sort();
        out
    }

    /// Whether the index can answer this filter (no text search).
    pub(crate) fn can_answer(filter: &Filter) -> bool {
        filter.text.is_none() && !filter.is_empty()
    }

    /// How many records match.
    pub(crate) fn count(&self, filter: &Filter) -> u64 {
        self.matches(filter, false, 0, u64::MAX - 1).len() as u64
    }

    /// Indices of matching records in the chosen order, skipping `offset` matches and
    /// taking up to `limit + 1` (the extra one tells whether more follow).
    pub(crate) fn matches(
        &self,
        filter: &Filter,
        newest_first: bool,
        offset: u64,
        limit: u64,
    ) -> Vec<u64> {
        let want = |s: &Option<String>| -> Option<Option<u32>> {
            s.as_deref().map(|v| self.strings.lookup(v))
        };
        let (class, queue, exception) = (
            want(&filter.class),
            want(&filter.queue),
            want(&filter.exception),
        );
        // A value never seen matches nothing.
        if [class, queue, exception]
            .iter()
            .any(|w| matches!(w, Some(None)))
        {
            return Vec::new();
        }
        let ok = |r: &Row| {
            class.is_none_or(|c| c == Some(r.class) || c == Some(r.display_class))
                && queue.is_none_or(|q| q == Some(r.queue))
                && exception.is_none_or(|x| x == Some(r.exception))
        };
        let take = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let indexed = self.rows.iter().enumerate();
        if newest_first {
            indexed
                .rev()
                .filter(|(_, r)| ok(r))
                .skip(skip)
                .take(take)
                .map(|(i, _)| i as u64)
                .collect()
        } else {
            indexed
                .filter(|(_, r)| ok(r))
                .skip(skip)
                .take(take)
                .map(|(i, _)| i as u64)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_form_round_trips_and_refuses_garbage() {
        let mut ix = Index::default();
        for raw in [
            br#"{"payload":{"class":"A","args":[]},"queue":"q","exception":"E"}"#.as_slice(),
            br#"not json"#,
            br#"{"payload":{"class":"B"},"queue":"q"}"#,
        ] {
            ix.push(raw);
        }
        let bytes = ix.encode();
        let back = Index::decode(&bytes).expect("decodes");
        assert_eq!(back.len(), 3);
        assert_eq!(back.last_hash, ix.last_hash);
        assert_eq!(back.matches(&Filter::class("B"), true, 0, 10), [2]);
        assert_eq!(back.matches(&Filter::queue("q"), false, 0, 10), [0, 2]);
        assert!(Index::decode(b"garbage").is_none());
        assert!(
            Index::decode(&bytes[..bytes.len() - 1]).is_none(),
            "truncated"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Index::decode(&longer).is_none(), "trailing bytes");
        assert_eq!(hash(b"abc"), 0xe71f_a219_0541_574b, "FNV-1a is stable");
    }
}
