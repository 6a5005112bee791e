//! resque-scheduler's and resque-retry's tabs: Retry, Schedule and Delayed listed, hostile
//! class names shown as text, Queue now and Cancel through their buttons, the phone width.

use std::time::Duration;

use resque_test_support::RedisServer;
use serde_json::json;

use crate::R;
use crate::chrome::*;

/// Presses the button of the first form posting to `action`, and waits for the redirect to
/// `landing` to load.
fn submit_and_land(b: &mut Browser, action: &str, landing: &str) -> R {
    b.eval(&format!(
        "document.querySelector('form[action$=\"{action}\"] button').click()"
    ))?;
    b.wait_for(
        &format!("location.pathname === '{landing}' && document.readyState === 'complete'"),
        Duration::from_secs(20),
    )?;
    b.wait_loaded()
}

#[test]
fn the_scheduler_tabs_work_in_headless_chromium() -> R {
    let redis = RedisServer::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (a, b_ts) = (now + 3_600, now + 7_200);
    for (ts, item) in [
        (
            a,
            r#"{"class":"Archive","args":[44,"masterbrew"],"queue":"file_serve"}"#,
        ),
        (a, r#"{"class":"Archive","args":[45],"queue":"file_serve"}"#),
        (b_ts, r#"{"class":"<i>Evil</i>","args":[1],"queue":"low"}"#),
    ] {
        redis.cmd(&["RPUSH", &format!("resque:delayed:{ts}"), item])?;
        redis.cmd(&[
            "SADD",
            &format!("resque:timestamps:{item}"),
            &format!("delayed:{ts}"),
        ])?;
        redis.cmd(&[
            "ZADD",
            "resque:delayed_queue_schedule",
            &ts.to_string(),
            &ts.to_string(),
        ])?;
    }
    redis.cmd(&[
        "HSET",
        "resque:persistent_schedules",
        "hourly",
        r#"{"class":"Archive","every":"1h","queue":"file_serve","args":[1],"description":"every hour"}"#,
    ])?;
    let web = start_web(&redis)?;
    let base = web.base.clone();
    let mut b = Browser::launch()?;
    let mut shots = Vec::new();
    b.goto(&format!("{base}/overview"))?;
    for (tab, text) in [
        ("Retry", "Delayed Jobs with Retry Information"),
        ("Schedule", "every: 1h"),
        ("Delayed", "Delayed Jobs"),
    ] {
        b.click_tab(tab)?;
        let main = b.eval("document.querySelector('#main').textContent")?;
        assert!(
            main.as_str().unwrap_or_default().contains(text),
            "{tab}: {main}"
        );
        shots.push(b.screenshot(&format!("tab-{}", tab.to_lowercase()))?);
    }
    // The hostile class is text, not markup.
    assert_eq!(
        b.eval("document.querySelectorAll('#main i').length")?,
        json!(0)
    );
    // Queue now on the first timestamp: one job moves to its queue.
    submit_and_land(&mut b, "/delayed/queue_now", "/delayed")?;
    assert_eq!(
        redis
            .get_str(&["LLEN", "resque:queue:file_serve"])
            .as_deref(),
        Some("1")
    );
    // One timestamp's page, and Cancel through its button (confirm accepted).
    b.goto(&format!("{base}/delayed/{a}"))?;
    b.eval("window.confirm = () => true")?;
    submit_and_land(&mut b, "/delayed/cancel_now", "/delayed")?;
    assert_eq!(
        redis
            .get_str(&["ZCARD", "resque:delayed_queue_schedule"])
            .as_deref(),
        Some("1")
    );
    // Header cells over their columns, as on the other tabs.
    for page in ["/schedule", "/delayed", "/retry"] {
        b.goto(&format!("{base}{page}"))?;
        let got: Vec<String> = serde_json::from_str(b.eval(COLUMNS)?.as_str().unwrap_or("[]"))?;
        assert!(
            !got.is_empty() && got.iter().all(|r| r == "ok"),
            "{page}: {got:?}"
        );
    }
    // Schedule: Queue now pushes the job and lands on the overview.
    b.goto(&format!("{base}/schedule"))?;
    b.eval("document.querySelector('form[action$=\"/schedule/requeue\"] button').click()")?;
    b.wait_for("location.pathname === '/overview'", Duration::from_secs(20))?;
    assert_eq!(
        redis
            .get_str(&["LLEN", "resque:queue:file_serve"])
            .as_deref(),
        Some("2")
    );
    // Delete (confirm accepted).
    b.goto(&format!("{base}/schedule"))?;
    b.eval("window.confirm = () => true")?;
    b.eval("document.querySelector('input[name=_method][value=delete]').form.querySelector('button').click()")?;
    b.wait_for(
        "location.pathname === '/schedule' && document.readyState === 'complete' && !document.querySelector('input[name=_method]')",
        Duration::from_secs(20),
    )?;
    assert_eq!(
        redis
            .get_str(&["HLEN", "resque:persistent_schedules"])
            .as_deref(),
        Some("0")
    );
    // Phone width: nothing overflows sideways.
    b.phone()?;
    b.assert_fits(&format!("{base}/delayed"))?;
    shots.push(b.screenshot("phone-delayed")?);
    assert_shots(&shots)?;
    drop(web);
    Ok(())
}
