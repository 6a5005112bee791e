//! Router tests: every route of the dashboard against a real redis-server (one per test,
//! on a unix socket), requests served in-process through the axum router.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use resque_test_support::RedisServer;

fn failure(class: &str, queue: &str, error: &str) -> String {
    format!(
        r#"{{"failed_at":"2026/11/22 17:41:42 UTC","payload":{{"class":"{class}","args":[1,"two"]}},"exception":"RuntimeError","error":"{error}","backtrace":["app/jobs/x.rb:3:in `perform'"],"worker":"web1:4242:high,low","queue":"{queue}"}}"#
    )
}

/// Two queues, two workers on two hosts (one busy), three failures (one retried, one
/// corrupt), a processed count.
fn seed(s: &RedisServer) -> R {
    cmd(s, &["SADD", "resque:queues", "high", "low"])?;
    for i in 0..45 {
        cmd(
            s,
            &[
                "RPUSH",
                "resque:queue:high",
                &format!(r#"{{"class":"Archive","args":[{i},"masterbrew"]}}"#),
            ],
        )?;
    }
    cmd(
        s,
        &[
            "RPUSH",
            "resque:queue:low",
            r#"{"class":"NoopJob","args":[]}"#,
        ],
    )?;
    cmd(
        s,
        &[
            "SADD",
            "resque:workers",
            "web1:4242:high,low",
            "web2:77:low",
        ],
    )?;
    cmd(
        s,
        &[
            "SET",
            "resque:worker:web1:4242:high,low:started",
            "2026-11-22 17:40:00 +0000",
        ],
    )?;
    cmd(
        s,
        &[
            "HSET",
            "resque:workers:heartbeat",
            "web1:4242:high,low",
            "2026-11-22T17:42:00+00:00",
        ],
    )?;
    cmd(
        s,
        &[
            "SET",
            "resque:worker:web1:4242:high,low",
            r#"{"queue":"high","run_at":"2026-11-22T17:42:37Z","payload":{"class":"SleepJob","args":[30]}}"#,
        ],
    )?;
    cmd(s, &["SET", "resque:stat:processed", "1234"])?;
    cmd(
        s,
        &["SET", "resque:stat:processed:web1:4242:high,low", "99"],
    )?;
    cmd(s, &["SET", "resque:stat:failed", "3"])?;
    cmd(
        s,
        &[
            "RPUSH",
            "resque:failed",
            &failure("FailJob", "high", "boom"),
        ],
    )?;
    let retried = failure("OtherJob", "low", "later").replace(
        r#""queue":"low""#,
        r#""queue":"low","retried_at":"2026/11/22 18:00:00 UTC""#,
    );
    cmd(s, &["RPUSH", "resque:failed", &retried])?;
    cmd(s, &["RPUSH", "resque:failed", "{not json"])?;
    Ok(())
}

#[tokio::test]
async fn every_page_renders_with_its_content() -> R {
    let s = RedisServer::start();
    seed(&s)?;
    let app = app(&s);

    let r = get(&app, "/").await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/overview");

    let checks: &[(&str, &[&str])] = &[
        (
            "/overview",
            &[
                ">high<",
                ">45<",
                ">low<",
                "1 of 2 Workers Working",
                "SleepJob",
                "rel=\"poll\"",
                "/overview.poll",
                "Connected to Redis namespace resque",
                // The counts: stat:processed, stat:failed, working, pending (45 + 1).
                "<b class=\"processed\">1234</b> processed",
                "<b class=\"failed\">3</b> failed",
                "<b class=\"working\">1</b> of 2 workers working",
                "<b class=\"pending\">46</b> pending",
            ],
        ),
        (
            "/overview.poll",
            &["Last Updated:", "1 of 2 Workers Working"],
        ),
        (
            "/overview/whatever",
            &["1 of 2 Workers Working", "/overview/whatever.poll"],
        ),
        ("/overview/whatever.poll", &["Last Updated:"]),
        (
            "/working",
            &["1 of 2 Workers Working", "web1:4242", "SleepJob"],
        ),
        (
            "/working/web1:4242:high,low",
            &["web1:4242:high,low's job", "SleepJob", "30"],
        ),
        ("/queues", &["/queues/high", "/failed", ">3<"]),
        (
            "/queues/high",
            &[
                "Pending jobs on <span class=\"hl\">high</span>",
                "Showing 1 to 20 of <b>45</b> jobs",
                "Archive",
                "<code>0\n&#34;masterbrew&#34;</code>",
                "Remove Queue",
                "/queues/high?start=20",
            ],
        ),
        (
            "/queues/high?start=40",
            &[
                "<code>44\n&#34;masterbrew&#34;</code>",
                "/queues/high?start=20",
            ],
        ),
        (
            "/queues/empty",
            &["No jobs", "There are no pending jobs in this queue"],
        ),
        (
            "/workers",
            &["Hostname", "/workers/web1", "/workers/web2", "all workers"],
        ),
        (
            "/workers/all",
            &["2 Workers", "web1:4242", "web2:77", "Waiting for a job..."],
        ),
        ("/workers/web2", &["1 Workers", "web2:77"]),
        ("/workers.poll", &["Hostname"]),
        ("/workers/all.poll", &["Last Updated:", "2 Workers"]),
        (
            "/workers/web1:4242:high,low",
            &[
                "Worker web1:4242:high,low",
                ">99<",
                "2026-11-22 17:40:00 +0000",
                "2026-11-22T17:42:00+00:00",
                "SleepJob",
            ],
        ),
        (
            "/failed",
            &[
                "Failed Jobs",
                "Showing 1 to 3 of <b>3</b> jobs",
                "FailJob",
                "boom",
                "Retried",
                "could not be parsed",
                "Clear Failed Jobs",
                "Clear Retried Jobs",
                "Retry Failed Jobs",
                "/failed/requeue/0",
                "/failed/remove/2",
                "app/jobs/x.rb:3",
            ],
        ),
        (
            "/failed?class=FailJob",
            &[
                "with class &#39;FailJob&#39;",
                "boom",
                "Retry matching jobs",
            ],
        ),
        (
            "/failed?exception=RuntimeError&q=LATER",
            &["OtherJob", "Showing matches"],
        ),
        ("/failed?order=asc", &["Oldest first"]),
        ("/stats/resque", &["processed", "1234", "pending", "46"]),
        ("/stats/redis", &["redis_version", "connected_clients"]),
        (
            "/stats/keys",
            &[
                "queue:high",
                "list",
                "/stats/keys/queue:high",
                "stat:processed",
            ],
        ),
        (
            "/stats/keys/queue:high",
            &[
                "Key \"queue:high\" is a list",
                "Archive",
                "Showing 1 to 20 of <b>45</b> items",
            ],
        ),
        ("/stats/keys/stat:processed", &["is a string", "1234"]),
        (
            "/stats/keys/workers:heartbeat",
            &["is a hash", "web1:4242:high,low"],
        ),
        ("/stats/keys/workers", &["is a set", "web2:77:low"]),
        ("/api", &["/api/info"]),
        (
            "/api/info",
            &["\"processed\":1234", "\"namespace\":\"resque\""],
        ),
        ("/api/queues", &["{\"name\":\"high\",\"size\":45}"]),
        (
            "/api/queues/high?start=44",
            &["\"size\":45", "[44,\"masterbrew\"]"],
        ),
        ("/api/workers", &["web2:77:low", "\"state\":\"idle\""]),
        (
            "/api/workers/web1:4242:high,low",
            &["\"processed\":99", "SleepJob"],
        ),
        ("/api/working", &["web1:4242:high,low"]),
        (
            "/api/failed?count=2",
            &["\"list_len\":3", "\"more\":true", "{not json"],
        ),
        ("/api/failed?class=FailJob", &["boom"]),
        ("/style.css", &[".nav"]),
        ("/main.js", &["relatize"]),
        ("/favicon.svg", &["<svg"]),
    ];
    for (path, wanted) in checks {
        let r = get(&app, path).await?;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        for w in *wanted {
            assert!(r.body.contains(w), "{path} lacks {w:?}:\n{}", r.body);
        }
        assert_eq!(
            r.headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some(
                if path.ends_with(".css") || path.ends_with(".js") || path.ends_with(".svg") {
                    "public, max-age=86400"
                } else {
                    "max-age=0, private, must-revalidate"
                }
            ),
            "{path}"
        );
        assert!(r.headers.contains_key("content-security-policy"), "{path}");
    }

    // Poll fragments carry no page frame.
    let r = get(&app, "/overview.poll").await?;
    assert!(
        !r.body.contains("<html") && !r.body.contains("<footer"),
        "{}",
        r.body
    );

    // Redirects and not-founds.
    assert_eq!(get(&app, "/stats").await?.location(), "/stats/resque");
    let r = get(&app, "/overview/").await?;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::PERMANENT_REDIRECT, "/overview")
    );
    assert_eq!(get(&app, "/nope").await?.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/stats/nope").await?.status,
        StatusCode::NOT_FOUND
    );
    let r = get(&app, "/workers/ghost:1:q").await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Worker doesn&#39;t exist"));
    assert_eq!(
        get(&app, "/api/workers/ghost:1:q").await?.status,
        StatusCode::NOT_FOUND
    );
    Ok(())
}

#[tokio::test]
async fn text_endpoints_are_plain_text() -> R {
    let s = RedisServer::start();
    seed(&s)?;
    let app = app(&s);
    let r = get(&app, "/stats.txt").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        r.body,
        "resque.pending=46\nresque.processed+=1234\nresque.failed+=3\nresque.workers=2\nresque.working=1\nqueues.high=45\nqueues.low=1"
    );
    let r = get(&app, "/metrics").await?;
    assert!(
        r.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4"))
    );
    for line in [
        "resque_pending_jobs 46",
        "resque_processed_jobs_total 1234",
        "resque_failed_jobs_total 3",
        "resque_failed_records 3",
        "resque_workers 2",
        "resque_working_workers 1",
        "resque_queue_size{queue=\"high\"} 45",
        "# TYPE resque_processed_jobs_total counter",
    ] {
        assert!(
            r.body.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            r.body
        );
    }
    Ok(())
}

#[tokio::test]
async fn links_follow_the_mount_point_and_the_url_prefix() -> R {
    let s = RedisServer::start();
    seed(&s)?;
    let nested = Router::new().nest("/resque", app(&s));
    let r = get(&nested, "/resque/overview").await?;
    assert_eq!(r.status, StatusCode::OK);
    for w in [
        "href=\"/resque/style.css",
        "href=\"/resque/queues/high\"",
        "href=\"/resque/workers/web1:4242:high,low\"",
        "href=\"/resque/overview.poll\"",
        "href=\"/resque/failed\"",
    ] {
        assert!(r.body.contains(w), "lacks {w}");
    }
    assert!(!r.body.contains("href=\"/queues/"), "an unprefixed link");
    assert_eq!(
        get(&nested, "/resque").await?.location(),
        "/resque/overview"
    );
    assert_eq!(
        get(&nested, "/resque/stats").await?.location(),
        "/resque/stats/resque"
    );
    let r = get(&nested, "/resque/failed").await?;
    assert!(r.body.contains("action=\"/resque/failed/requeue/0\""));

    let proxied = resque_web::router(resque_web::Config::new(s.url()).url_prefix("/ops/resque/"));
    let r = get(&proxied, "/queues").await?;
    assert!(
        r.body.contains("href=\"/ops/resque/queues/high\""),
        "{}",
        r.body
    );
    assert_eq!(get(&proxied, "/").await?.location(), "/ops/resque/overview");
    Ok(())
}

#[tokio::test]
async fn state_changes_need_post_and_the_csrf_token() -> R {
    let s = RedisServer::start();
    seed(&s)?;
    let app = app(&s);
    let tag0 = {
        let r = get(&app, "/failed?order=asc").await?;
        let i = r
            .body
            .find("name=\"tag\" value=\"")
            .ok_or_else(|| anyhow::anyhow!("no tag"))?;
        r.body[i + 18..i + 34].to_owned()
    };
    let mutating = [
        "/queues/low/remove",
        "/failed/clear",
        "/failed/clear_retried",
        "/failed/failed/clear",
        "/failed/requeue/all",
        "/failed/failed/requeue/all",
        "/failed/requeue/0",
        "/failed/failed/requeue/0",
        "/failed/remove/0",
        "/failed/failed/remove/0",
        "/failed/requeue/matching",
        "/failed/remove/matching",
    ];
    for path in mutating {
        // Ruby's GET forms of retry/remove change nothing here.
        let r = get(&app, path).await?;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "GET {path}");
        let r = post(&app, path, &[]).await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {path} without token");
        let r = post(&app, path, &[("_csrf", "wrong")]).await?;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "POST {path} with a bad token"
        );
    }
    assert_eq!(
        s.get_str(&["LLEN", "resque:queue:low"]).as_deref(),
        Some("1")
    );
    assert_eq!(s.get_str(&["LLEN", "resque:failed"]).as_deref(), Some("3"));

    // A stale tag (the list moved) changes nothing.
    let r = post(
        &app,
        "/failed/requeue/0",
        &[("_csrf", CSRF), ("tag", "0000000000000000")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        s.get_str(&["LLEN", "resque:queue:high"]).as_deref(),
        Some("45")
    );

    // Retry with the right tag: the job goes back to its queue, the record is marked.
    let r = post(
        &app,
        "/failed/requeue/0",
        &[("_csrf", CSRF), ("tag", &tag0), ("start", "0")],
    )
    .await?;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/failed"));
    assert_eq!(
        s.get_str(&["LLEN", "resque:queue:high"]).as_deref(),
        Some("46")
    );
    assert_eq!(
        s.get_str(&["RPOP", "resque:queue:high"]).as_deref(),
        Some(r#"{"class":"FailJob","args":[1,"two"]}"#)
    );
    let rec = s
        .get_str(&["LINDEX", "resque:failed", "0"])
        .unwrap_or_default();
    assert!(rec.contains("\"retried_at\""), "{rec}");

    // The token also works as a header (scripts, XHR).
    let r = send(
        &app,
        Request::post("/failed/clear_retried")
            .header("x-csrf-token", CSRF)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::empty())?,
    )
    .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Two had retried_at: the one just retried and OtherJob.
    assert_eq!(s.get_str(&["LLEN", "resque:failed"]).as_deref(), Some("1"));

    // Remove the corrupt record (now index 0) by its tag.
    let page = get(&app, "/failed").await?;
    let i = page
        .body
        .find("name=\"tag\" value=\"")
        .ok_or_else(|| anyhow::anyhow!("no tag"))?;
    let tag = page.body[i + 18..i + 34].to_owned();
    let r = post(&app, "/failed/remove/0", &[("_csrf", CSRF), ("tag", &tag)]).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(s.get_str(&["LLEN", "resque:failed"]).as_deref(), Some("0"));

    // Search-scoped retry and remove.
    for c in ["A", "A", "B"] {
        cmd(&s, &["RPUSH", "resque:failed", &failure(c, "low", "x")])?;
    }
    let r = post(
        &app,
        "/failed/remove/matching",
        &[("_csrf", CSRF), ("class", "A")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get_str(&["LLEN", "resque:failed"]).as_deref(), Some("1"));
    let r = post(&app, "/failed/remove/matching", &[("_csrf", CSRF)]).await?;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an empty search never matches all"
    );
    let r = post(
        &app,
        "/failed/requeue/matching",
        &[("_csrf", CSRF), ("class", "B"), ("remove", "1")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get_str(&["LLEN", "resque:failed"]).as_deref(), Some("0"));
    assert_eq!(
        s.get_str(&["LLEN", "resque:queue:low"]).as_deref(),
        Some("2")
    );

    // Requeue all, clear, remove queue.
    cmd(&s, &["RPUSH", "resque:failed", &failure("C", "low", "x")])?;
    assert_eq!(
        post(&app, "/failed/requeue/all", &[("_csrf", CSRF)])
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        s.get_str(&["LLEN", "resque:queue:low"]).as_deref(),
        Some("3")
    );
    assert_eq!(
        post(&app, "/failed/clear", &[("_csrf", CSRF)])
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        s.get_str(&["EXISTS", "resque:failed"]).as_deref(),
        Some("0")
    );
    let r = post(&app, "/queues/low/remove", &[("_csrf", CSRF)]).await?;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/queues"));
    assert_eq!(
        s.get_str(&["EXISTS", "resque:queue:low"]).as_deref(),
        Some("0")
    );
    assert_eq!(
        s.get_str(&["SISMEMBER", "resque:queues", "low"]).as_deref(),
        Some("0")
    );
    Ok(())
}

#[tokio::test]
async fn multi_queue_failures_have_per_list_pages_and_actions() -> R {
    let s = RedisServer::start();
    cmd(
        &s,
        &["SADD", "resque:failed_queues", "high_failed", "low_failed"],
    )?;
    for (list, class) in [
        ("high_failed", "A"),
        ("high_failed", "A"),
        ("high_failed", "B"),
        ("low_failed", "C"),
    ] {
        let queue = list.trim_end_matches("_failed");
        cmd(
            &s,
            &[
                "RPUSH",
                &format!("resque:{list}"),
                &failure(class, queue, "e"),
            ],
        )?;
    }
    let app = resque_web::router(
        resque_web::Config::new(s.url())
            .csrf_secret(CSRF)
            .failure_backend(resque_failure::Backend::redis_multi_queue()),
    );
    let r = get(&app, "/failed").await?;
    assert_eq!(r.status, StatusCode::OK);
    for w in [
        "All Failed Queues: 2 total",
        "Total Failed",
        ">4<",
        "/failed/high_failed?class=A",
        ">2<",
        "/failed/low_failed",
    ] {
        assert!(r.body.contains(w), "lacks {w}: {}", r.body);
    }
    let r = get(&app, "/queues").await?;
    assert!(r.body.contains("/failed/high_failed") && r.body.contains("first_failure"));
    let r = get(&app, "/failed/high_failed").await?;
    assert!(
        r.body.contains("Failed Jobs on &#39;high_failed&#39;"),
        "{}",
        r.body
    );
    assert!(r.body.contains("/failed/high_failed/requeue/all"));
    let r = post(&app, "/failed/high_failed/requeue/all", &[("_csrf", CSRF)]).await?;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/failed/high_failed")
    );
    assert_eq!(
        s.get_str(&["LLEN", "resque:queue:high"]).as_deref(),
        Some("3")
    );
    let r = post(&app, "/failed/low_failed/clear", &[("_csrf", CSRF)]).await?;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/failed"));
    assert_eq!(
        s.get_str(&["EXISTS", "resque:low_failed"]).as_deref(),
        Some("0")
    );
    Ok(())
}

#[tokio::test]
async fn basic_auth_guards_every_route() -> R {
    let s = RedisServer::start();
    let app = resque_web::router(resque_web::Config::new(s.url()).basic_auth("admin", "s3cret"));
    for path in [
        "/overview",
        "/style.css",
        "/stats.txt",
        "/api/info",
        "/nope",
    ] {
        let r = get(&app, path).await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let with = |auth: &str| {
        Request::get("/overview")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
    };
    // admin:s3cret and admin:wrong.
    assert_eq!(
        send(&app, with("Basic YWRtaW46czNjcmV0")?).await?.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, with("Basic YWRtaW46d3Jvbmc=")?).await?.status,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn redis_going_away_shows_the_cannot_connect_page_and_recovers() -> R {
    let mut s = RedisServer::start();
    seed(&s)?;
    let app = app(&s);
    assert_eq!(get(&app, "/overview").await?.status, StatusCode::OK);
    s.stop();
    let r = get(&app, "/overview").await?;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("Can&#39;t connect to Redis!"), "{}", r.body);
    assert!(r.body.contains("http-equiv=\"refresh\""));
    s.restart();
    seed(&s)?;
    let ok = async {
        for _ in 0..100 {
            if get(&app, "/overview").await?.status == StatusCode::OK {
                return Ok::<bool, anyhow::Error>(true);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Ok(false)
    };
    assert!(
        ok.await?,
        "the dashboard did not recover after Redis came back"
    );

    // Never connected at all: the dashboard starts and says so.
    let dir = tempfile_path();
    let down = resque_web::router(resque_web::Config::new(format!("unix://{dir}/none.sock")));
    let r = get(&down, "/queues").await?;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // The same plain words as the worker's and the `resque` command's.
    assert!(
        r.body.contains(&format!(
            "Can&#39;t connect to Redis! (cannot connect to Redis at unix://{dir}/none.sock?db=0: no such file or directory)"
        )),
        "{}",
        r.body
    );
    Ok(())
}

fn tempfile_path() -> String {
    std::env::temp_dir()
        .join(format!("resque-web-nowhere-{}", std::process::id()))
        .display()
        .to_string()
}

#[tokio::test]
async fn big_queues_and_failure_lists_are_paged_not_loaded() -> R {
    let s = RedisServer::start();
    cmd(&s, &["SADD", "resque:queues", "big"])?;
    // 100,000 jobs and 100,000 failures, pushed in batches.
    for chunk in 0..100 {
        let mut argv = vec!["RPUSH".to_owned(), "resque:queue:big".to_owned()];
        let mut fargv = vec!["RPUSH".to_owned(), "resque:failed".to_owned()];
        for i in 0..1000 {
            let n = chunk * 1000 + i;
            argv.push(format!(r#"{{"class":"Archive","args":[{n}]}}"#));
            fargv.push(failure(
                if n % 2 == 0 { "Even" } else { "Odd" },
                "big",
                &format!("e{n}"),
            ));
        }
        s.cmd(&argv)?;
        s.cmd(&fargv)?;
    }
    let app = app(&s);
    let r = get(&app, "/queues/big?start=99980").await?;
    assert!(r.body.contains("<code>99999</code>") && r.body.contains("of <b>100000</b>"));
    let links = r.body.matches("/queues/big?start=").count();
    assert!(links < 20, "{links} page links (Ruby prints 5,000)");
    let r = get(&app, "/failed").await?;
    assert!(r.body.contains("e99999"), "newest first");
    assert!(r.body.contains("Showing 1 to 20 of <b>100000</b> jobs"));
    let r = get(&app, "/failed?start=99980").await?;
    assert!(
        r.body.contains(">e0<") || r.body.contains("e0\n"),
        "the oldest on the last page"
    );
    let r = get(&app, "/failed?class=Odd&start=20").await?;
    assert!(
        r.body.contains("Showing 21 to 40 of <b>50000</b> jobs"),
        "{}",
        &r.body[..2000.min(r.body.len())]
    );
    assert!(r.body.contains("e99959"));
    Ok(())
}

#[tokio::test]
async fn namespaces_show_a_badge_and_read_their_own_keys() -> R {
    let s = RedisServer::start();
    cmd(&s, &["SADD", "myapp:queues", "mail"])?;
    cmd(
        &s,
        &[
            "RPUSH",
            "myapp:queue:mail",
            r#"{"class":"Mailer","args":[]}"#,
        ],
    )?;
    let app = resque_web::router(resque_web::Config::new(s.url()).namespace("myapp"));
    let r = get(&app, "/overview").await?;
    assert!(r.body.contains("class=\"namespace\""), "badge");
    assert!(r.body.contains("Connected to Redis namespace myapp"));
    assert!(r.body.contains("/queues/mail"));
    let plain = get(&self::app(&s), "/overview").await?;
    assert!(!plain.body.contains("class=\"namespace\""));
    assert!(!plain.body.contains("/queues/mail"));
    Ok(())
}

/// `cmdstat_scan`'s calls so far.
fn scans(s: &RedisServer) -> u64 {
    s.get_str(&["INFO", "commandstats"])
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_scan:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The key list is read once for all the requests of two seconds (a keyspace of thousands
/// of keys was scanned and sorted for each page), pages through that one list, and shows a
/// new key once the two seconds are over; each key's type and size are read live.
#[tokio::test(flavor = "current_thread")]
async fn the_key_list_is_read_once_for_a_few_seconds_of_requests() -> R {
    let s = RedisServer::start();
    seed(&s)?;
    for i in 0..150 {
        cmd(&s, &["SET", &format!("resque:many:{i:03}"), "x"])?;
    }
    let app = app(&s);
    let before = scans(&s);
    let first = get(&app, "/stats/keys").await?;
    assert!(first.body.contains("many:000"), "{}", first.body);
    let read = scans(&s) - before;
    assert!(read >= 1);
    for start in ["0", "100", "0", "100"] {
        let r = get(&app, &format!("/stats/keys?start={start}")).await?;
        assert_eq!(r.status, StatusCode::OK);
    }
    let page2 = get(&app, "/stats/keys?start=100").await?;
    assert!(page2.body.contains("many:149"), "{}", page2.body);
    assert_eq!(scans(&s) - before, read, "the kept list served every page");
    // Live sizes: a key's type changes and the page says so at once.
    cmd(&s, &["DEL", "resque:many:000"])?;
    cmd(&s, &["RPUSH", "resque:many:000", "a", "b", "c"])?;
    let r = get(&app, "/stats/keys").await?;
    assert!(
        r.body
            .contains(r#">many:000</a></th><td>list</td><td class="num">3</td>"#),
        "{}",
        r.body
    );
    // A new key, once the list is two seconds old.
    cmd(&s, &["SET", "resque:aaa-new", "x"])?;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = get(&app, "/stats/keys").await?;
    assert!(r.body.contains("aaa-new"), "{}", r.body);
    assert!(scans(&s) - before > read, "read again");
    Ok(())
}
