//! Search filters for failure records (resque#1889): by job class, queue, exception class
//! and message text.

use resque_protocol::json;

use crate::entry::Entry;

/// Which records to match. Empty fields match everything; set fields must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Job class, exact (`payload.class`, or the ActiveJob class it wraps).
    pub class: Option<String>,
    /// Queue, exact.
    pub queue: Option<String>,
    /// Exception class, exact (`RuntimeError`, `Resque::DirtyExit`).
    pub exception: Option<String>,
    /// Text anywhere in the error message or the job's arguments, case-insensitive.
    pub text: Option<String>,
}

impl Filter {
    /// Records of one job class.
    pub fn class(class: &str) -> Self {
        Self {
            class: Some(class.to_owned()),
            ..Self::default()
        }
    }

    /// Records of jobs from one queue.
    pub fn queue(queue: &str) -> Self {
        Self {
            queue: Some(queue.to_owned()),
            ..Self::default()
        }
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.class.is_none()
            && self.queue.is_none()
            && self.exception.is_none()
            && self.text.is_none()
    }

    /// Whether a decoded record matches. Corrupt records match only an empty filter.
    pub fn matches(&self, e: &Entry) -> bool {
        if self.is_empty() {
            return true;
        }
        if e.is_corrupt() {
            return false;
        }
        if let Some(c) = &self.class {
            let display = e
                .payload()
                .and_then(|p| {
                    resque_protocol::Payload::from_value(resque_protocol::Value::Object(p.clone()))
                        .ok()
                })
                .and_then(|p| p.display_class().map(str::to_owned));
            if e.class() != Some(c.as_str()) && display.as_deref() != Some(c.as_str()) {
                return false;
            }
        }
        if self.queue.as_deref().is_some_and(|q| e.queue() != Some(q)) {
            return false;
        }
        if self
            .exception
            .as_deref()
            .is_some_and(|x| e.exception() != Some(x))
        {
            return false;
        }
        if let Some(t) = &self.text {
            let t = t.to_lowercase();
            let in_error = e.error().is_some_and(|m| m.to_lowercase().contains(&t));
            let in_args = e
                .args()
                .and_then(|a| json::to_string(a).ok())
                .is_some_and(|a| a.to_lowercase().contains(&t));
            if !in_error && !in_args {
                return false;
            }
        }
        true
    }

    /// Byte strings a matching record must contain, exactly and (lower-cased) ignoring
    /// ASCII case. Exact fields appear JSON-encoded in the record; a class filter may also
    /// match an ActiveJob `job_class`, so it looks for the bare JSON string. A record
    /// without them cannot match, so it need not be decoded (or even sent by Redis).
    pub fn raw_needles(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let enc = |v: &str| json::to_string(v).unwrap_or_default();
        let mut exact = Vec::new();
        if let Some(c) = &self.class {
            exact.push(enc(c).into_bytes());
        }
        if let Some(q) = &self.queue {
            exact.push(format!("\"queue\":{}", enc(q)).into_bytes());
        }
        if let Some(x) = &self.exception {
            exact.push(format!("\"exception\":{}", enc(x)).into_bytes());
        }
        let mut ci = Vec::new();
        // Only plain ASCII text can be searched in the raw JSON without decoding: escapes
        // change other characters, and Lua lower-cases ASCII only.
        if let Some(t) = &self.text
            && t.is_ascii()
            && !t.contains(['"', '\\'])
            && !t.chars().any(char::is_control)
        {
            ci.push(t.to_ascii_lowercase().into_bytes());
        }
        (exact, ci)
    }

    /// [`Filter::raw_needles`] applied to one stored record.
    pub fn may_match_raw(&self, raw: &[u8]) -> bool {
        let (exact, ci) = self.raw_needles();
        if !exact.iter().all(|n| contains(raw, n)) {
            return false;
        }
        ci.is_empty() || {
            let lower = raw.to_ascii_lowercase();
            ci.iter().all(|n| contains(&lower, n))
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}
