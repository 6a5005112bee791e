//! Helpers shared by the router tests: requests served in-process through the axum
//! router, with the test CSRF token.

#![allow(dead_code)] // not every test file uses every helper

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use resque_test_support::RedisServer;
use tower::ServiceExt;

pub(crate) type R<T = ()> = anyhow::Result<T>;

pub(crate) const CSRF: &str = "test-token";

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub(crate) async fn send(app: &Router, req: Request<Body>) -> R<Reply> {
    let res = app.clone().oneshot(req).await?;
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

pub(crate) async fn get(app: &Router, path: &str) -> R<Reply> {
    send(app, Request::get(path).body(Body::empty())?).await
}

pub(crate) async fn post(app: &Router, path: &str, form: &[(&str, &str)]) -> R<Reply> {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    send(
        app,
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))?,
    )
    .await
}

pub(crate) fn enc(s: &str) -> String {
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

pub(crate) fn app(server: &RedisServer) -> Router {
    resque_web::router(resque_web::Config::new(server.url()).csrf_secret(CSRF))
}

pub(crate) fn cmd(server: &RedisServer, argv: &[&str]) -> R {
    server.cmd(argv)?;
    Ok(())
}

/// Runs as a worker's bookkeeping records them: `(queue, class, millis, failed)`.
pub(crate) const RUNS: [(&str, &str, u64, bool); 5] = [
    ("file_serve", "Archive", 2, false),
    ("file_serve", "Archive", 40, false),
    ("file_serve", "Archive", 700, true),
    ("mail", "Mailer", 5_000, false),
    ("mail", "Mailer", 20_000, false),
];

pub(crate) async fn record_runs(s: &RedisServer) -> R<resque_store::Client> {
    let client = resque_store::Client::connect(&s.url()).await?;
    let store = client.store()?;
    let failure: resque_protocol::Failure = serde_json::from_str(
        r#"{"failed_at":"2026/12/01 10:00:00 UTC","payload":{"class":"Archive","args":[]},"exception":"RuntimeError","error":"boom","backtrace":[],"worker":"box:1:file_serve","queue":"file_serve"}"#,
    )?;
    for (queue, class, millis, failed) in RUNS {
        let record = failed.then_some(("failed", &failure));
        store
            .job_done(
                "box:1:file_serve",
                record,
                failed,
                Some(resque_store::JobMetrics {
                    queue,
                    class,
                    millis,
                    per_class: true,
                }),
                None,
            )
            .await?;
    }
    Ok(client)
}
