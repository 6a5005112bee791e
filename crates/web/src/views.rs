//! Template structs (askama, in `web-assets/templates`) and the view models they show.
//!
//! Everything a template prints is plain data prepared here; askama escapes every `{{ }}`
//! for HTML, so no string from Redis reaches a page unescaped. Values that go into a URL
//! path are percent-encoded first ([`seg`]).

use askama::Template;
use askama_web::WebTemplate;
use resque_protocol::{Value, json, time};

/// A page rendered into a buffer of the size `last` says this page needed last time (and
/// remembers this one's), served as askama_web serves a template: `text/html`, or 500.
pub(crate) fn render_sized<T: Template>(
    t: &T,
    last: &std::sync::atomic::AtomicUsize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let mut out = String::with_capacity(last.load(Ordering::Relaxed).max(T::SIZE_HINT));
    match t.render_into(&mut out) {
        Ok(()) => {
            last.store(out.len() + out.len() / 8, Ordering::Relaxed);
            axum::response::Html(out).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `s` cut to at most `max` bytes (at a character boundary), with an ellipsis if cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Percent-encodes one URL path segment or query value: everything but unreserved
/// characters, so `/`, `?`, `#`, `&` and quotes in a queue name stay inside it.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b',') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Unix second as resque-scheduler's and resque-retry's pages show it, in the server's
/// zone (`%Y-%m-%d %H:%M:%S %z`).
pub(crate) fn local_time(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S %z")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_string())
}

/// The page frame: tabs, namespace badge, footer, CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub(crate) root: String,
    pub(crate) tabs: Vec<Tab>,
    pub(crate) subtabs: Vec<Tab>,
    pub(crate) namespace: String,
    pub(crate) show_namespace: bool,
    pub(crate) redis_id: String,
    pub(crate) version: &'static str,
    pub(crate) csrf: String,
    /// A live-poll fragment: no frame, only `#main`'s content.
    pub(crate) fragment: bool,
    pub(crate) poll_ms: u128,
    /// `HH:MM:SS`, for "Last Updated".
    pub(crate) clock: String,
}

/// A tab or sub-tab link.
#[derive(Debug, Clone)]
pub(crate) struct Tab {
    pub(crate) label: String,
    pub(crate) href: String,
    pub(crate) current: bool,
}

/// A time as stored, and as an instant for the browser's relative display.
#[derive(Debug, Clone, Default)]
pub(crate) struct When {
    pub(crate) raw: String,
    /// RFC 3339 in UTC, or empty when the stored text does not parse.
    pub(crate) iso: String,
}

impl When {
    /// Any of Resque's time formats (started, heartbeat, run_at, failed_at, retried_at).
    pub(crate) fn parse(raw: &str) -> Self {
        let ts = time::parse_iso8601(raw)
            .or_else(|| time::parse_started(raw))
            .or_else(|| time::parse_failed_at(raw, &jiff::tz::TimeZone::system()));
        Self {
            raw: raw.to_owned(),
            iso: ts.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

/// What a job is: its class (ActiveJob's wrapped class shown as Ruby does) and args.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobClass {
    pub(crate) name: String,
    pub(crate) via_active_job: bool,
}

impl JobClass {
    pub(crate) fn of(payload: Option<&resque_protocol::Map<String, Value>>) -> Self {
        let Some(p) = payload else {
            return Self {
                name: "nil".to_owned(),
                via_active_job: false,
            };
        };
        let class = p.get("class").and_then(Value::as_str).unwrap_or("nil");
        if class == resque_protocol::payload::ACTIVE_JOB_WRAPPER
            && let Some(inner) = p
                .get("args")
                .and_then(|a| a.get(0))
                .and_then(|a| a.get("job_class"))
                .and_then(Value::as_str)
        {
            return Self {
                name: inner.to_owned(),
                via_active_job: true,
            };
        }
        Self {
            name: class.to_owned(),
            via_active_job: false,
        }
    }
}

/// Args one per line, each as the JSON that is stored (the same on the queue, working
/// and failed pages; Ruby's resque-web mixed `inspect` and YAML).
pub(crate) fn show_args(args: Option<&Value>) -> String {
    let one = |v: &Value| json::to_string(v).unwrap_or_default();
    match args {
        None | Some(Value::Null) => "nil".to_owned(),
        Some(Value::Array(a)) => a.iter().map(one).collect::<Vec<_>>().join("\n"),
        Some(other) => one(other),
    }
}

/// A job a worker is processing.
#[derive(Debug, Clone)]
pub(crate) struct Processing {
    pub(crate) queue: String,
    pub(crate) class: JobClass,
    pub(crate) args: String,
    pub(crate) run_at: When,
    /// The stored value when it is not a valid `worker:<id>` payload.
    pub(crate) unreadable: Option<String>,
}

impl Processing {
    pub(crate) fn parse(raw: &str) -> Self {
        match json::from_slice(raw.as_bytes()) {
            Ok(Value::Object(m)) => {
                let payload = m.get("payload").and_then(Value::as_object);
                Self {
                    queue: m
                        .get("queue")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    class: JobClass::of(payload),
                    args: show_args(payload.and_then(|p| p.get("args"))),
                    run_at: When::parse(m.get("run_at").and_then(Value::as_str).unwrap_or("")),
                    unreadable: None,
                }
            }
            _ => Self {
                queue: String::new(),
                class: JobClass::default(),
                args: String::new(),
                run_at: When::default(),
                unreadable: Some(raw.to_owned()),
            },
        }
    }
}

/// One worker row.
#[derive(Debug, Clone)]
pub(crate) struct WorkerRow {
    pub(crate) id: String,
    pub(crate) id_seg: String,
    pub(crate) host: String,
    pub(crate) pid: String,
    pub(crate) queues: Vec<String>,
    pub(crate) state: &'static str,
    pub(crate) job: Option<Processing>,
}

impl WorkerRow {
    pub(crate) fn new(id: &str, payload: Option<&str>) -> Self {
        // Ruby's `worker.to_s.split(':')`: host, pid, queues (queues may hold more colons).
        let mut parts = id.splitn(3, ':');
        let host = parts.next().unwrap_or_default().to_owned();
        let pid = parts.next().unwrap_or_default().to_owned();
        let queues = parts
            .next()
            .unwrap_or_default()
            .split(',')
            .filter(|q| !q.is_empty())
            .map(str::to_owned)
            .collect();
        let job = payload.filter(|p| !p.is_empty()).map(Processing::parse);
        Self {
            id: id.to_owned(),
            id_seg: seg(id),
            host,
            pid,
            queues,
            state: if job.is_some() { "working" } else { "idle" },
            job,
        }
    }
}

/// A queue's row.
#[derive(Debug, Clone)]
pub(crate) struct QueueRow {
    pub(crate) name: String,
    pub(crate) href: String,
    pub(crate) size: u64,
    pub(crate) empty: bool,
    pub(crate) first: bool,
}

/// "Showing 0-19 of 100 jobs", as Ruby's `page_entries_info`.
#[derive(Debug, Clone)]
pub(crate) struct PageInfo {
    pub(crate) start: u64,
    pub(crate) size: u64,
    pub(crate) per_page: u64,
    pub(crate) noun: &'static str,
}

impl PageInfo {
    /// The position (from 1) of the last item shown.
    pub(crate) fn last(&self) -> u64 {
        (self.start + self.per_page).min(self.size)
    }
}

/// Previous / numbered pages / Next. Ruby prints every page number (5,000 links for
/// 100,000 jobs); this shows the first, the last and those around the current one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pager {
    pub(crate) prev: Option<String>,
    pub(crate) pages: Vec<PageLink>,
    pub(crate) next: Option<String>,
}

/// One page number, or a gap (`label` "…", no href).
#[derive(Debug, Clone)]
pub(crate) struct PageLink {
    pub(crate) label: String,
    pub(crate) href: Option<String>,
    pub(crate) current: bool,
}

impl Pager {
    /// Pages of `per_page` over `size` items (`None`: unknown, only Previous/Next from
    /// `more`), starting at `start`; `href(start)` builds a page's link.
    pub(crate) fn new(
        start: u64,
        size: Option<u64>,
        more: bool,
        per_page: u64,
        href: impl Fn(u64) -> String,
    ) -> Self {
        let prev = (start > 0).then(|| href(start.saturating_sub(per_page)));
        let has_next = size.map_or(more, |n| start + per_page < n);
        let next = has_next.then(|| href(start + per_page));
        let mut pages = Vec::new();
        if let Some(n) = size.filter(|n| *n > per_page) {
            let count = n.div_ceil(per_page);
            let current = start / per_page;
            let mut last_shown: Option<u64> = None;
            for p in 0..count {
                let near = p.abs_diff(current) <= 3;
                if p == 0 || p + 1 == count || near {
                    if let Some(l) = last_shown
                        && p > l + 1
                    {
                        pages.push(PageLink {
                            label: "…".to_owned(),
                            href: None,
                            current: false,
                        });
                    }
                    let here = start == p * per_page;
                    pages.push(PageLink {
                        label: (p + 1).to_string(),
                        href: (!here).then(|| href(p * per_page)),
                        current: here,
                    });
                    last_shown = Some(p);
                }
            }
        }
        Self { prev, pages, next }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.prev.is_none() && self.next.is_none() && self.pages.is_empty()
    }
}

/// FNV-1a of a record, hex: sent with Retry/Remove so a record that moved is never hit.
pub(crate) fn record_tag(raw: &str) -> String {
    let h = raw.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

// ---- pages ------------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub(crate) message: String,
    pub(crate) refresh: bool,
}

/// The queues table and the working table (Overview shows both).
#[derive(Debug, Clone)]
pub(crate) struct QueuesTable {
    pub(crate) queues: Vec<QueueRow>,
    pub(crate) failed: Vec<QueueRow>,
}

#[derive(Debug, Clone)]
pub(crate) struct WorkingTable {
    pub(crate) working: Vec<WorkerRow>,
    pub(crate) total_workers: usize,
    /// Every registered worker's id (the Overview counts those without a resque-rs lease).
    pub(crate) ids: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub(crate) l: Chrome,
    pub(crate) title: String,
    pub(crate) text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_hostile_names_inside_one_segment() {
        assert_eq!(seg("a/b?c#d&e"), "a%2Fb%3Fc%23d%26e");
        assert_eq!(seg("host:12:q1,q2"), "host:12:q1,q2");
        assert_eq!(seg("\"><img>"), "%22%3E%3Cimg%3E");
        assert_eq!(seg("é"), "%C3%A9");
    }

    #[test]
    fn pager_windows_large_lists() {
        let p = Pager::new(0, Some(100_000), false, 20, |s| format!("?start={s}"));
        assert!(p.prev.is_none());
        assert_eq!(p.next.as_deref(), Some("?start=20"));
        let labels: Vec<_> = p.pages.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["1", "2", "3", "4", "…", "5000"]);
        assert!(p.pages[0].current && p.pages[0].href.is_none());

        let p = Pager::new(99_980, Some(100_000), false, 20, |s| format!("?start={s}"));
        assert!(p.next.is_none());
        assert_eq!(p.prev.as_deref(), Some("?start=99960"));
        assert_eq!(p.pages.last().map(|l| l.current), Some(true));

        let p = Pager::new(0, Some(20), false, 20, |s| format!("{s}"));
        assert!(p.is_empty());
        let p = Pager::new(20, None, true, 20, |s| format!("{s}"));
        assert_eq!(
            (p.prev.as_deref(), p.next.as_deref()),
            (Some("0"), Some("40"))
        );
    }

    #[test]
    fn times_in_every_resque_format_get_an_instant() {
        assert_eq!(
            When::parse("2026-11-22T17:42:37Z").iso,
            "2026-11-22T17:42:37Z"
        );
        assert_eq!(
            When::parse("2026-11-22T17:42:33+01:00").iso,
            "2026-11-22T16:42:33Z"
        );
        assert_eq!(
            When::parse("2026-11-22 17:42:33 +0000").iso,
            "2026-11-22T17:42:33Z"
        );
        assert_eq!(
            When::parse("2026/11/22 17:41:42 UTC").iso,
            "2026-11-22T17:41:42Z"
        );
        assert_eq!(When::parse("yesterday").iso, "");
    }

    #[test]
    fn active_job_payloads_show_the_wrapped_class() {
        let v = json::from_slice(
            br#"{"class":"ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper","args":[{"job_class":"SendMail"}]}"#,
        )
        .expect("valid json");
        let c = JobClass::of(v.as_object());
        assert_eq!(c.name, "SendMail");
        assert!(c.via_active_job);
    }
}
