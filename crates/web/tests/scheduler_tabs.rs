//! The Schedule and Delayed tabs against a real redis-server: what they list (written by
//! our client, and in Ruby's bytes), their actions (POST + CSRF), escaping of hostile
//! names, and the delayed count on Overview, `/metrics` and `/api/info`.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use common::*;
use resque_store::Client;
use resque_test_support::RedisServer;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn at(ts: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(ts as u64)
}

fn local(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S %z")
                .to_string()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn delayed_pages_list_and_act_in_one_step() -> R {
    let s = RedisServer::start();
    let client = Client::connect(&s.url()).await?;
    let (a, b) = (now() + 3_600, now() + 7_200);
    client
        .enqueue_at_to(
            "file_serve",
            at(a),
            "Archive",
            vec![44.into(), "masterbrew".into()],
        )
        .await?;
    client
        .enqueue_at_to("file_serve", at(a), "Archive", vec![45.into()])
        .await?;
    client
        .enqueue_at_to("low", at(b), "Archive", vec![46.into()])
        .await?;
    let web = app(&s);

    let r = get(&web, "/delayed").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Delayed Jobs") && r.body.contains("Showing 1 to 2 of <b>2</b> timestamps"),
        "{}",
        r.body
    );
    assert!(r.body.contains(&local(a)) && r.body.contains(&local(b)));
    assert!(
        r.body.contains("see details"),
        "two jobs at a: details link"
    );
    assert!(
        r.body
            .contains(r#"/delayed/jobs/Archive?args=%5B46%5D&#38;queue=low"#),
        "{}",
        r.body
    );
    for tab in ["Schedule", "Delayed"] {
        assert!(r.body.contains(&format!(">{tab}</a>")), "tab {tab}");
    }

    let r = get(&web, &format!("/delayed/{a}")).await?;
    assert!(
        r.body.contains("Showing 1 to 2 of <b>2</b> jobs") && r.body.contains("masterbrew"),
        "{}",
        r.body
    );
    let r = get(&web, "/delayed/jobs/Archive?args=%5B46%5D&queue=low").await?;
    assert!(r.body.contains(&local(b)), "{}", r.body);
    // Ruby's link has no queue: found by SCAN of timestamps: keys.
    let r = get(
        &web,
        "/delayed/jobs/Archive?args=%5B44%2C%22masterbrew%22%5D",
    )
    .await?;
    assert!(
        r.body.contains(&local(a)) && r.body.contains("file_serve"),
        "{}",
        r.body
    );

    // Search: delayed, queued and working jobs by class.
    client
        .enqueue_to("file_serve", "ArchiveNow", vec![1.into()])
        .await?;
    let r = post(
        &web,
        "/delayed/search",
        &[("_csrf", CSRF), ("search", "ARCHIVE")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("[46]") || r.body.contains("46"),
        "{}",
        r.body
    );
    assert!(r.body.contains("ArchiveNow"), "queued match: {}", r.body);

    // Queue now: the first job at a, in one step.
    let r = post(
        &web,
        "/delayed/queue_now",
        &[("_csrf", CSRF), ("timestamp", &a.to_string())],
    )
    .await?;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/delayed")
    );
    assert_eq!(
        s.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"])
            .last()
            .map(String::as_str),
        Some(r#"{"class":"Archive","args":[44,"masterbrew"]}"#)
    );
    // Cancel by exact bytes (our form), and by Ruby's fields (klass, args).
    let item = r#"{"class":"Archive","args":[45],"queue":"file_serve"}"#;
    let r = post(
        &web,
        "/delayed/cancel_now",
        &[
            ("_csrf", CSRF),
            ("timestamp", &a.to_string()),
            ("item", item),
        ],
    )
    .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        client.delayed_queue_peek(0, 10).await?,
        vec![b],
        "emptied timestamp gone"
    );
    let r = post(
        &web,
        "/delayed/cancel_now",
        &[
            ("_csrf", CSRF),
            ("timestamp", &b.to_string()),
            ("klass", "Archive"),
            ("args", "[46]"),
        ],
    )
    .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(client.delayed_queue_schedule_size().await?, 0);
    let r = post(
        &web,
        "/delayed/cancel_now",
        &[
            ("_csrf", CSRF),
            ("timestamp", &b.to_string()),
            ("klass", "Archive"),
            ("args", "[46]"),
        ],
    )
    .await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Clear, and every action refuses a missing token.
    client.enqueue_at_to("q", at(b), "X", vec![]).await?;
    let r = post(&web, "/delayed/clear", &[]).await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(&web, "/delayed/clear", &[("_csrf", CSRF)]).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(client.delayed_queue_schedule_size().await?, 0);
    let r = get(&web, "/delayed").await?;
    assert!(r.body.contains("There are no delayed jobs"));
    let r = get(&web, "/delayed/notanumber").await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn corrupt_and_hostile_delayed_items_are_shown_escaped_and_left_alone() -> R {
    let s = RedisServer::start();
    let ts = now() + 600;
    let evil = r#"{"class":"<script>alert(1)</script>","args":["\"><img src=x onerror=alert(2)>"],"queue":"q&<b>"}"#;
    for item in [evil, "{not json"] {
        s.cmd(&["RPUSH", &format!("resque:delayed:{ts}"), item])?;
    }
    s.cmd(&[
        "ZADD",
        "resque:delayed_queue_schedule",
        &ts.to_string(),
        &ts.to_string(),
    ])?;
    let web = app(&s);
    let r = get(&web, &format!("/delayed/{ts}")).await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.contains("<script>alert(1)") && !r.body.contains("<img src=x"),
        "{}",
        r.body
    );
    assert!(r.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(
        r.body.contains("malformed"),
        "the corrupt item is shown as such"
    );
    let r = post(
        &web,
        "/delayed/search",
        &[("_csrf", CSRF), ("search", "<script>")],
    )
    .await?;
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
    // Queue now on a corrupt head: refused, nothing lost.
    s.cmd(&["LPOP", &format!("resque:delayed:{ts}")])?;
    let r = post(
        &web,
        "/delayed/queue_now",
        &[("_csrf", CSRF), ("timestamp", &ts.to_string())],
    )
    .await?;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        s.get_list(&["LRANGE", &format!("resque:delayed:{ts}"), "0", "-1"]),
        ["{not json"]
    );
    Ok(())
}

#[tokio::test]
async fn schedule_tab_lists_file_and_stored_schedules_and_acts() -> R {
    let s = RedisServer::start();
    let client = Client::connect(&s.url()).await?;
    let stored = resque_protocol::ScheduleConfig::decode(
        br#"{"class":"Archive","every":["1h",{"first_in":"120s"}],"queue":"file_serve","args":[1],"description":"<b>hourly</b>"}"#,
    )?;
    client.set_schedule("stored_one", &stored).await?;
    let with_params = resque_protocol::ScheduleConfig::decode(
        br#"{"class":"Report","cron":"0 3 * * *","queue":"reports","args":{"kind":"daily"},"parameters":{"who":{"description":"recipient","default":"ops"}}}"#,
    )?;
    client.set_schedule("with_params", &with_params).await?;
    s.cmd(&[
        "HSET",
        "resque:delayed:last_enqueued_at",
        "stored_one",
        "2026-12-01 07:06:16 +0000",
    ])?;
    s.cmd(&[
        "SET",
        "resque:resque:resque_scheduler_master_lock",
        "localhost:4242",
    ])?;
    let file = resque_protocol::schedule::parse_file(
        "from_file:\n  cron: \"*/5 * * * *\"\n  class: FileJob\n",
    )?;
    let web = resque_web::router(
        resque_web::Config::new(s.url())
            .csrf_secret(CSRF)
            .schedule(file),
    );

    let r = get(&web, "/schedule").await?;
    assert_eq!(r.status, StatusCode::OK);
    for text in [
        "stored_one",
        "every: 1h (first in 120s)",
        "&#60;b&#62;hourly&#60;/b&#62;",
        "2026-12-01 07:06:16 +0000",
        "from_file",
        "cron: */5 * * * *",
        "FileJob",
        "Never",
        "localhost:4242",
        "with_params",
    ] {
        assert!(r.body.contains(text), "{text} missing: {}", r.body);
    }
    assert_eq!(
        r.body.matches(">Delete</button>").count(),
        2,
        "only stored schedules can be deleted"
    );

    // Queue now: pushed to the schedule's queue, then to the overview.
    let r = post(
        &web,
        "/schedule/requeue",
        &[("_csrf", CSRF), ("job_name", "stored_one")],
    )
    .await?;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/overview")
    );
    assert_eq!(
        s.get_list(&["LRANGE", "resque:queue:file_serve", "0", "-1"]),
        [r#"{"class":"Archive","args":[1]}"#]
    );
    // A schedule without a queue cannot be pushed by the dashboard: a clear error.
    let r = post(
        &web,
        "/schedule/requeue",
        &[("_csrf", CSRF), ("job_name", "from_file")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("names no queue"));
    // Parameters: asked for, then merged into the hash args.
    let r = post(
        &web,
        "/schedule/requeue",
        &[("_csrf", CSRF), ("job_name", "with_params")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains(r#"name="who""#)
            && r.body.contains("recipient")
            && r.body.contains(r#"value="ops""#)
    );
    let r = post(
        &web,
        "/schedule/requeue_with_params",
        &[
            ("_csrf", CSRF),
            ("job_name", "with_params"),
            ("who", "dev"),
            ("evil", "x"),
        ],
    )
    .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        s.get_list(&["LRANGE", "resque:queue:reports", "0", "-1"]),
        [r#"{"class":"Report","args":[{"kind":"daily","who":"dev"}]}"#]
    );

    // Delete (Ruby's form: POST with _method=delete), stored only.
    let r = post(
        &web,
        "/schedule",
        &[
            ("_csrf", CSRF),
            ("_method", "delete"),
            ("job_name", "stored_one"),
        ],
    )
    .await?;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/schedule")
    );
    assert!(client.fetch_schedule("stored_one").await?.is_none());
    let r = post(
        &web,
        "/schedule",
        &[
            ("_csrf", CSRF),
            ("_method", "delete"),
            ("job_name", "from_file"),
        ],
    )
    .await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(
        &web,
        "/schedule",
        &[("_method", "delete"), ("job_name", "with_params")],
    )
    .await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    Ok(())
}

#[tokio::test]
async fn the_delayed_count_is_on_overview_metrics_and_api() -> R {
    let s = RedisServer::start();
    let client = Client::connect(&s.url()).await?;
    for n in 0..3 {
        client
            .enqueue_at_to("q", at(now() + 600 + n), "A", vec![])
            .await?;
    }
    let web = app(&s);
    let r = get(&web, "/overview").await?;
    assert!(
        r.body.contains(r#"<b class="delayed">3</b> delayed"#),
        "{}",
        r.body
    );
    let r = get(&web, "/metrics").await?;
    assert!(
        r.body.contains("resque_delayed_jobs 3") && r.body.contains("resque_delayed_timestamps 3"),
        "{}",
        r.body
    );
    let r = get(&web, "/api/info").await?;
    let v: serde_json::Value = serde_json::from_str(&r.body)?;
    assert_eq!(
        (v["delayed"].as_u64(), v["delayed_timestamps"].as_u64()),
        (Some(3), Some(3))
    );
    Ok(())
}

/// resque-retry's Retry tab: delayed jobs with their attempts, one timestamp's jobs with the
/// suppressed failure, and Remove (the job, its counter, its record).
#[tokio::test]
async fn retry_tab_shows_attempts_and_suppressed_failures_and_removes() -> R {
    let s = RedisServer::start();
    let client = Client::connect(&s.url()).await?;
    let ts = now() + 60;
    let item = r#"{"class":"RetryDelayJob","args":[44,"masterbrew"],"queue":"retry"}"#;
    client.store()?.delayed_push(ts, &[item.to_owned()]).await?;
    client
        .enqueue_at_to("q", at(ts + 10), "Plain", vec![])
        .await?;
    let counter = "resque:resque-retry:RetryDelayJob:1315dd4143fb7d7abe77328729da673b8bfa3313";
    let fkey = "resque:failure-resque-retry:RetryDelayJob:1315dd4143fb7d7abe77328729da673b8bfa3313";
    s.cmd(&["SET", counter, "0"])?;
    s.cmd(&[
        "SETEX",
        fkey,
        "120",
        r#"{"failed_at":"2026/12/01 07:08:36","payload":{"class":"RetryDelayJob","args":[44,"masterbrew"]},"exception":"RuntimeError","error":"RetryDelayJob <b>failed</b>","backtrace":["peers/ruby/plugin_jobs.rb:66:in `perform'"],"worker":"vm:23830:retry","queue":"retry"}"#,
    ])?;
    let web = app(&s);
    let r = get(&web, "/retry").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Delayed Jobs with Retry Information") && r.body.contains(">Retry</a>")
    );
    assert!(
        r.body.contains("RetryDelayJob") && r.body.contains(r#"<td class="attempts">0</td>"#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(r#"<td class="attempts">n/a</td>"#),
        "the plain delayed job"
    );
    let r = get(&web, &format!("/retry/{ts}")).await?;
    assert!(
        r.body.contains("RuntimeError")
            && r.body
                .contains("RetryDelayJob &#60;b&#62;failed&#60;/b&#62;"),
        "{}",
        r.body
    );
    assert!(r.body.contains("plugin_jobs.rb:66"));
    // Remove one: the job, its counter and its record.
    let path = format!("/retry/{ts}/jobs/{}/remove", enc(item));
    let r = post(&web, &path, &[]).await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "CSRF");
    let r = post(&web, &path, &[("_csrf", CSRF)]).await?;
    assert_eq!(
        (r.status, r.location().to_owned()),
        (StatusCode::SEE_OTHER, format!("/retry/{ts}"))
    );
    assert_eq!(
        s.cmd(&["EXISTS", counter, fkey])?,
        resque_test_support::Resp::Integer(0)
    );
    assert_eq!(client.delayed_queue_schedule_size().await?, 1);
    // Remove a whole timestamp.
    let r = post(
        &web,
        &format!("/retry/{}/remove", ts + 10),
        &[("_csrf", CSRF)],
    )
    .await?;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/retry"));
    assert_eq!(client.delayed_queue_schedule_size().await?, 0);
    Ok(())
}
