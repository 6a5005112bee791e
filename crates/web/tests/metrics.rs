//! The job metrics on the dashboard against a real redis-server, written through the
//! store's own bookkeeping path (`Store::job_done` with metrics, as a worker writes them):
//! the Metrics tab (classes by total time, one class's histogram), the Overview's history
//! and failure rate, the note about workers that record none, and the same figures in
//! Prometheus' `/metrics` and `/api/metrics`.

mod common;

use axum::http::StatusCode;
use common::*;
use resque_test_support::RedisServer;
use serde_json::Value;

#[tokio::test]
async fn the_metrics_tab_lists_classes_by_total_time_and_shows_one_class() -> R {
    let s = RedisServer::start();
    let _client = record_runs(&s).await?;
    let web = app(&s);

    let r = get(&web, "/job-metrics").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Job metrics, the last 1 hour"),
        "{}",
        r.body
    );
    assert!(r.body.contains("5 jobs, 20.0% failed"), "{}", r.body);
    // Mailer (25 s in all) before Archive (0.742 s).
    let (mailer, archive) = (
        r.body.find(">Mailer</a>").expect("Mailer row"),
        r.body.find(">Archive</a>").expect("Archive row"),
    );
    assert!(mailer < archive, "most total time first");
    assert!(
        r.body
            .contains("<td>file_serve</td>\n    <td>3</td>\n    <td>1</td>\n    <td>0.742</td>\n    <td>247.3</td>"),
        "{}",
        r.body
    );
    // The per-minute chart: this minute's bar says 5 jobs, 1 failed.
    assert!(r.body.contains("<svg viewBox="), "{}", r.body);
    assert!(r.body.contains(" UTC: 5 (1 failed)</title>"), "{}", r.body);
    // No other workers registered: no note.
    assert!(!r.body.contains("not resque-rs"), "{}", r.body);
    for m in ["480", "1440", "4320", "bogus"] {
        let r = get(&web, &format!("/job-metrics?minutes={m}")).await?;
        assert_eq!(r.status, StatusCode::OK, "{m}");
        assert!(r.body.contains("5 jobs"), "{m}: {}", r.body);
    }

    let r = get(
        &web,
        "/job-metrics/class?minutes=1440&queue=file_serve&class=Archive",
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains(
            "The last 24 hours: 3 jobs, 1 failed, 0.742 s in all, 247.3 ms each on average."
        ),
        "{}",
        r.body
    );
    // 2 ms ≤ 5, 40 ms ≤ 50, 700 ms ≤ 1000: one each, nothing else.
    for (bucket, n) in [
        ("≤ 1 ms", 0),
        ("≤ 5 ms", 1),
        ("≤ 50 ms", 1),
        ("≤ 1000 ms", 1),
        ("more than 10 s", 0),
    ] {
        assert!(
            r.body.contains(&format!("<td>{bucket}</td><td>{n}</td>")),
            "{bucket}: {}",
            r.body
        );
    }
    let r = get(&web, "/job-metrics/class?queue=mail&class=Mailer").await?;
    assert!(
        r.body.contains("<td>more than 10 s</td><td>1</td>")
            && r.body.contains("<td>≤ 5000 ms</td><td>1</td>"),
        "{}",
        r.body
    );
    // A class with no runs is an empty chart, not an error; a missing class is a 400.
    let r = get(&web, "/job-metrics/class?queue=none&class=Nothing").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("0 jobs, 0 failed"), "{}", r.body);
    let r = get(&web, "/job-metrics/class?queue=mail").await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn overview_shows_history_failure_rate_and_other_workers() -> R {
    let s = RedisServer::start();
    let _client = record_runs(&s).await?;
    let web = app(&s);
    let r = get(&web, "/overview").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("the last 7 days, UTC"), "{}", r.body);
    assert!(
        r.body.contains(
            "5 processed, 1 failed: a failure rate of <b class=\"failure-rate\">20.0%</b>"
        ),
        "{}",
        r.body
    );
    // Seven bars, today's last.
    assert_eq!(
        r.body.matches("<path class=\"ok\"").count(),
        7,
        "{}",
        r.body
    );
    let today = resque_protocol::metrics::day(jiff::Timestamp::now());
    assert!(
        r.body
            .contains(&format!("<title>{today}: 5 (1 failed)</title>")),
        "{}",
        r.body
    );
    for days in [30, 90] {
        let r = get(&web, &format!("/overview?days={days}")).await?;
        assert!(
            r.body.contains(&format!("the last {days} days")),
            "{}",
            r.body
        );
        assert_eq!(r.body.matches("<path class=\"ok\"").count(), days);
    }
    // A Ruby worker (no resque-rs lease) registered: the page says its jobs are missing.
    cmd(&s, &["SADD", "resque:workers", "rubybox:77:file_serve"])?;
    let r = get(&web, "/overview").await?;
    assert!(
        r.body.contains("1 registered worker is not resque-rs"),
        "{}",
        r.body
    );
    let r = get(&web, "/job-metrics").await?;
    assert!(r.body.contains("1 registered worker is not resque-rs"));
    Ok(())
}

#[tokio::test]
async fn prometheus_and_the_api_carry_the_same_figures() -> R {
    let s = RedisServer::start();
    let _client = record_runs(&s).await?;
    let web = app(&s);
    let r = get(&web, "/metrics").await?;
    assert_eq!(r.status, StatusCode::OK);
    for line in [
        "# TYPE resque_job_runs_total counter",
        "resque_job_runs_total{queue=\"file_serve\",class=\"Archive\"} 3",
        "resque_job_runs_total{queue=\"mail\",class=\"Mailer\"} 2",
        "resque_job_failures_total{queue=\"file_serve\",class=\"Archive\"} 1",
        "resque_job_failures_total{queue=\"mail\",class=\"Mailer\"} 0",
        "# TYPE resque_job_duration_seconds histogram",
        // Cumulative buckets: 2 ms, then 40 ms, then 700 ms.
        "resque_job_duration_seconds_bucket{queue=\"file_serve\",class=\"Archive\",le=\"0.001\"} 0",
        "resque_job_duration_seconds_bucket{queue=\"file_serve\",class=\"Archive\",le=\"0.005\"} 1",
        "resque_job_duration_seconds_bucket{queue=\"file_serve\",class=\"Archive\",le=\"0.05\"} 2",
        "resque_job_duration_seconds_bucket{queue=\"file_serve\",class=\"Archive\",le=\"1\"} 3",
        "resque_job_duration_seconds_bucket{queue=\"file_serve\",class=\"Archive\",le=\"+Inf\"} 3",
        "resque_job_duration_seconds_sum{queue=\"file_serve\",class=\"Archive\"} 0.742",
        "resque_job_duration_seconds_count{queue=\"file_serve\",class=\"Archive\"} 3",
        "resque_job_duration_seconds_bucket{queue=\"mail\",class=\"Mailer\",le=\"10\"} 1",
        "resque_job_duration_seconds_bucket{queue=\"mail\",class=\"Mailer\",le=\"+Inf\"} 2",
        "resque_job_duration_seconds_sum{queue=\"mail\",class=\"Mailer\"} 25",
    ] {
        assert!(r.body.lines().any(|l| l == line), "{line}\n{}", r.body);
    }
    // The Resque counters the worker bumped in the same call.
    assert!(
        r.body.contains("resque_processed_jobs_total 5"),
        "{}",
        r.body
    );

    let r = get(&web, "/api/metrics?minutes=4320").await?;
    assert_eq!(r.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&r.body)?;
    assert_eq!(v["minutes"], 4320);
    assert_eq!(v["workers_without_metrics"], 0);
    assert_eq!(v["classes"][0]["class"], "Mailer");
    assert_eq!(v["classes"][0]["total_ms"], 25_000);
    assert_eq!(v["classes"][1]["class"], "Archive");
    assert_eq!(v["classes"][1]["runs"], 3);
    assert_eq!(v["classes"][1]["failed"], 1);
    assert_eq!(v["classes"][1]["histogram"][1], serde_json::json!(["5", 1]));
    let history = v["history"].as_array().expect("history");
    assert_eq!(history.len(), 90);
    assert_eq!(history[89]["processed"], 5);
    assert_eq!(history[89]["failed"], 1);
    // The metrics keys carry their TTLs.
    let day = resque_protocol::metrics::day(jiff::Timestamp::now());
    let ttl: i64 = s
        .get_str(&["TTL", &format!("resque:resque-rs:history:{day}")])
        .unwrap_or_default()
        .parse()?;
    assert!(ttl > 90 * 24 * 3600 && ttl <= 91 * 24 * 3600, "{ttl}");
    Ok(())
}

#[tokio::test]
async fn ended_minutes_and_hours_are_read_once_and_added_to_the_open_ones() -> R {
    let s = RedisServer::start();
    let web = app(&s);
    let now = jiff::Timestamp::now();
    let f = resque_protocol::metrics::field_suffix("q", "Old");
    let ago = |mins: i64| now - jiff::SignedDuration::from_mins(mins);
    let minute = |mins| {
        format!(
            "resque:resque-rs:metrics:{}",
            resque_protocol::metrics::minute(ago(mins))
        )
    };
    let hour = |mins| {
        format!(
            "resque:resque-rs:metrics-hour:{}",
            resque_protocol::metrics::hour(ago(mins))
        )
    };
    // Ended minutes (10 and 20 minutes ago) and an ended hour (3 hours ago).
    for key in [minute(10), minute(20), hour(180)] {
        cmd(
            &s,
            &[
                "HSET",
                &key,
                &format!("n|{f}"),
                "2",
                &format!("ms|{f}"),
                "10",
            ],
        )?;
    }
    let r = get(&web, "/job-metrics").await?;
    assert!(r.body.contains("4 jobs"), "{}", r.body);
    let r = get(&web, "/job-metrics?minutes=480").await?;
    assert!(r.body.contains("2 jobs"), "{}", r.body);
    // A job now (an open minute and hour) adds to the kept sums.
    let client = resque_store::Client::connect(&s.url()).await?;
    client
        .store()?
        .job_done(
            "box:1:q",
            None,
            false,
            Some(resque_store::JobMetrics {
                queue: "q",
                class: "Old",
                millis: 5,
                per_class: true,
            }),
            None,
        )
        .await?;
    // An ended minute changed behind the dashboard's back: it is kept as first read (for a
    // minute), so only the new job shows.
    cmd(&s, &["HSET", &minute(10), &format!("n|{f}"), "100"])?;
    let r = get(&web, "/job-metrics").await?;
    assert!(r.body.contains("5 jobs"), "{}", r.body);
    let r = get(&web, "/job-metrics?minutes=480").await?;
    assert!(r.body.contains("3 jobs"), "{}", r.body);
    let r = get(&web, "/api/metrics").await?;
    let v: serde_json::Value = serde_json::from_str(&r.body)?;
    assert_eq!(v["classes"][0]["runs"], 5);
    assert_eq!(v["classes"][0]["total_ms"], 25);
    Ok(())
}
