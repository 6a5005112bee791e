//! Hostile strings in every field of the Redis state: queue names, job classes and args,
//! worker ids (host, pid, queues), what workers run, failure records (class, args,
//! exception, error, backtrace, worker, queue, times), failure list names, key names and
//! values. Every page is fetched and must show them escaped, never as markup.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use resque_test_support::RedisServer;
use tower::ServiceExt;

type R<T = ()> = anyhow::Result<T>;

/// Each carries a tag whose raw form must never reach a page.
const HOSTILE: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "'><svg onload=alert(3)>",
    "</pre></code></td><iframe src=javascript:alert(4)>",
    "javascript:alert(5)//<b>bold</b>",
    "ünïcödé 🎉 \u{202e}gnp.exe <marquee>",
];

/// Raw markup that would mean an injection.
const FORBIDDEN: &[&str] = &[
    "<script>alert",
    "<img",
    // Our own charts are SVG: the payload's form is what must not appear.
    "<svg onload",
    "<iframe",
    "<b>bold",
    "<marquee",
    "href=\"javascript:",
    "action=\"javascript:",
];

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct State {
    queues: Vec<String>,
    workers: Vec<String>,
    keys: Vec<String>,
    classes: Vec<String>,
}

fn seed(s: &RedisServer, ns: &str) -> R<State> {
    let long = "<script>alert('long')</script>".repeat(400);
    let mut all: Vec<String> = HOSTILE.iter().map(|h| (*h).to_owned()).collect();
    all.push(long);
    let mut st = State {
        queues: Vec::new(),
        workers: Vec::new(),
        keys: Vec::new(),
        classes: Vec::new(),
    };
    for (i, h) in all.iter().enumerate() {
        let queue = format!("q{i}{h}");
        let class = format!("C{i}{h}");
        s.cmd(&["SADD", &format!("{ns}:queues"), &queue])?;
        let payload = format!(
            r#"{{"class":{},"args":[{},{{"k{}":{}}}],"{}":1}}"#,
            json_str(&class),
            json_str(h),
            i,
            json_str(h),
            h.replace('"', "'")
        );
        s.cmd(&["RPUSH", &format!("{ns}:queue:{queue}"), &payload])?;
        // A malformed item in the same queue.
        s.cmd(&[
            "RPUSH",
            &format!("{ns}:queue:{queue}"),
            &format!("{{not json {h}"),
        ])?;

        let host = format!("h{i}{}", h.replace(':', ";"));
        let worker = format!("{host}:{i}:{}", queue.replace(':', ";"));
        s.cmd(&["SADD", &format!("{ns}:workers"), &worker])?;
        s.cmd(&["SET", &format!("{ns}:worker:{worker}:started"), h])?;
        s.cmd(&["HSET", &format!("{ns}:workers:heartbeat"), &worker, h])?;
        let working = format!(
            r#"{{"queue":{},"run_at":{},"payload":{}}}"#,
            json_str(&queue),
            json_str(h),
            payload
        );
        s.cmd(&["SET", &format!("{ns}:worker:{worker}"), &working])?;

        let record = format!(
            r#"{{"failed_at":{h2},"payload":{payload},"exception":{h2},"error":{h2},"backtrace":[{h2},{h2}],"worker":{w},"queue":{q},"retried_at":{h2}}}"#,
            h2 = json_str(h),
            w = json_str(&worker),
            q = json_str(&queue),
        );
        s.cmd(&["RPUSH", &format!("{ns}:failed"), &record])?;
        s.cmd(&[
            "RPUSH",
            &format!("{ns}:failed"),
            &record.replace(r#","retried_at""#, r#","x""#),
        ])?;
        s.cmd(&["RPUSH", &format!("{ns}:failed"), &format!("{{corrupt {h}")])?;

        let key = format!("k{i}{h}");
        s.cmd(&["SET", &format!("{ns}:{key}"), h])?;
        s.cmd(&["HSET", &format!("{ns}:hash{key}"), h, h])?;
        s.cmd(&["ZADD", &format!("{ns}:zset{key}"), "1", h])?;
        s.cmd(&["SADD", &format!("{ns}:set{key}"), h])?;
        s.cmd(&["SET", &format!("{ns}:stat:{h}"), "1"])?;
        s.cmd(&[
            "SADD",
            &format!("{ns}:failed_queues"),
            &format!("{queue}_failed"),
        ])?;
        s.cmd(&["RPUSH", &format!("{ns}:{queue}_failed"), &record])?;
        st.keys.extend([
            key.clone(),
            format!("hash{key}"),
            format!("zset{key}"),
            format!("set{key}"),
        ]);
        // Our job metrics and history for the class (the Metrics tab and the graphs).
        let f = resque_protocol::metrics::field_suffix(&queue, &class);
        let now = jiff::Timestamp::now();
        for key in [
            format!(
                "{ns}:resque-rs:metrics:{}",
                resque_protocol::metrics::minute(now)
            ),
            format!("{ns}:resque-rs:metrics:total"),
        ] {
            for (kind, n) in [("n", "3"), ("f", "1"), ("ms", "42"), ("b50", "3")] {
                s.cmd(&["HINCRBY", &key, &format!("{kind}|{f}"), n])?;
            }
        }
        s.cmd(&[
            "HINCRBY",
            &format!(
                "{ns}:resque-rs:history:{}",
                resque_protocol::metrics::day(now)
            ),
            "processed",
            "3",
        ])?;
        st.queues.push(queue);
        st.workers.push(worker);
        st.classes.push(class);
    }
    Ok(st)
}

async fn fetch(app: &Router, path: &str) -> R<(StatusCode, String, String)> {
    let res = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty())?)
        .await?;
    let status = res.status();
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, ctype, String::from_utf8_lossy(&body).into_owned()))
}

fn pages(st: &State) -> Vec<String> {
    let mut p: Vec<String> = [
        "/overview",
        "/overview.poll",
        "/overview?days=90",
        "/job-metrics",
        "/job-metrics?minutes=4320",
        "/api/metrics",
        "/working",
        "/queues",
        "/workers",
        "/workers/all",
        "/workers.poll",
        "/workers/all.poll",
        "/failed",
        "/failed?order=asc",
        "/failed?start=3",
        "/stats/resque",
        "/stats/redis",
        "/stats/keys",
        "/stats/keys?start=100",
        "/stats.txt",
        "/metrics",
        "/nope/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for q in &st.queues {
        p.push(format!("/queues/{}", enc(q)));
        p.push(format!("/failed/{}_failed", enc(q)));
        p.push(format!("/failed?queue={}", enc(q)));
        p.push(format!("/overview/{}", enc(q)));
    }
    for w in &st.workers {
        p.push(format!("/workers/{}", enc(w)));
        p.push(format!("/working/{}", enc(w)));
        let host = w.split(':').next().unwrap_or_default();
        p.push(format!("/workers/{}", enc(host)));
    }
    for (q, c) in st.queues.iter().zip(&st.classes) {
        p.push(format!(
            "/job-metrics/class?minutes=4320&queue={}&class={}",
            enc(q),
            enc(c)
        ));
    }
    for c in &st.classes {
        p.push(format!("/failed?class={}", enc(c)));
        p.push(format!("/failed?q={}&exception={}", enc(c), enc(c)));
    }
    for k in &st.keys {
        p.push(format!("/stats/keys/{}", enc(k)));
    }
    p
}

fn check(path: &str, ctype: &str, body: &str) {
    if ctype.starts_with("text/html") {
        for f in FORBIDDEN {
            assert!(
                !body.contains(f),
                "{path} renders {f:?} unescaped:\n{}",
                body.lines()
                    .filter(|l| l.contains(f))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    } else {
        // Everything else is data, never HTML a browser would render.
        assert!(
            ctype.starts_with("text/plain") || ctype.starts_with("application/json"),
            "{path}: {ctype}"
        );
    }
}

#[tokio::test]
async fn hostile_strings_render_escaped_on_every_page() -> R {
    let s = RedisServer::start();
    let st = seed(&s, "resque")?;
    let app = resque_web::router(resque_web::Config::new(s.url()));
    let mut rendered = 0;
    for path in pages(&st) {
        let (status, ctype, body) = fetch(&app, &path).await?;
        assert!(
            status == StatusCode::OK || status == StatusCode::NOT_FOUND,
            "{path}: {status}\n{body}"
        );
        check(&path, &ctype, &body);
        if status == StatusCode::OK {
            rendered += 1;
        }
    }
    // 404s: the deliberately unknown path, and the per-queue failure lists, which the Redis
    // backend does not have (Ruby raises "invalid queue"). Every hostile queue, worker,
    // host, class and key page rendered.
    let total = pages(&st).len();
    let expected = total - 1 - st.queues.len();
    assert_eq!(rendered, expected, "{rendered} of {total} pages rendered");

    // The hostile text is shown (escaped), not dropped.
    let (_, _, body) = fetch(&app, "/failed").await?;
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "escaped text shown"
    );
    let (_, _, body) = fetch(&app, "/queues").await?;
    assert!(body.contains("ünïcödé 🎉"));
    Ok(())
}

#[tokio::test]
async fn hostile_multi_queue_lists_and_namespace_render_escaped() -> R {
    let s = RedisServer::start();
    let ns = "ns<script>alert(9)</script>";
    let st = seed(&s, ns)?;
    let app = resque_web::router(
        resque_web::Config::new(s.url())
            .namespace(ns)
            .url_prefix("/p\"><img src=x>")
            .failure_backend(resque_failure::Backend::redis_multi_queue()),
    );
    for path in pages(&st) {
        let (status, ctype, body) = fetch(&app, &path).await?;
        assert!(
            status.is_success() || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
        check(&path, &ctype, &body);
    }
    let (_, _, body) = fetch(&app, "/failed").await?;
    assert!(body.contains("All Failed Queues"), "{body}");
    let (_, _, body) = fetch(&app, "/overview").await?;
    assert!(body.contains("class=\"namespace\""));
    Ok(())
}
