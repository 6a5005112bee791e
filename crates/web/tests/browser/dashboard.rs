//! Resque's own tabs: each opened through its link, relative times, a failure retried and
//! one removed through the buttons, the class filter, the live poll followed while Redis
//! changes, and the phone width.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use resque_test_support::RedisServer;
use serde_json::json;

use crate::R;
use crate::chrome::*;

fn seed(s: &RedisServer) -> R {
    s.cmd(&["SADD", "resque:queues", "high", "low"])?;
    for i in 0..30 {
        s.cmd(&[
            "RPUSH",
            "resque:queue:high",
            &format!(r#"{{"class":"Archive","args":[{i}]}}"#),
        ])?;
    }
    s.cmd(&[
        "SADD",
        "resque:workers",
        "box1:100:high,low",
        "box2:200:low",
    ])?;
    let now = jiff_now();
    s.cmd(&[
        "SET",
        "resque:worker:box1:100:high,low",
        &format!(
            r#"{{"queue":"high","run_at":"{now}","payload":{{"class":"SleepJob","args":[30]}}}}"#
        ),
    ])?;
    s.cmd(&[
        "SET",
        "resque:worker:box1:100:high,low:started",
        "2026-11-22 17:40:00 +0000",
    ])?;
    for (class, err) in [
        ("FailJob", "first <b>failure</b>"),
        ("FailJob", "second"),
        ("Other", "third"),
    ] {
        s.cmd(&[
            "RPUSH",
            "resque:failed",
            &format!(
                r#"{{"failed_at":"2026/11/22 17:41:42 UTC","payload":{{"class":"{class}","args":[1]}},"exception":"RuntimeError","error":"{err}","backtrace":["job.rb:1"],"worker":"box1:100:high,low","queue":"low"}}"#
            ),
        ])?;
    }
    Ok(())
}

fn jiff_now() -> String {
    // run_at as Ruby writes it; the browser shows it relative ("N seconds ago").
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn the_dashboard_works_in_headless_chromium() -> R {
    let redis = RedisServer::start();
    seed(&redis)?;
    let web = start_web(&redis)?;
    let base = web.base.clone();
    let mut b = Browser::launch()?;

    // Every tab, through the tab links themselves.
    b.goto(&format!("{base}/"))?;
    let mut shots = Vec::new();
    let tabs: HashMap<&str, &str> = [
        ("Overview", "1 of 2 Workers Working"),
        ("Working", "1 of 2 Workers Working"),
        ("Failed", "Failed Jobs"),
        ("Queues", "Queues"),
        ("Workers", "Workers"),
        ("Stats", "Resque Client connected to"),
    ]
    .into_iter()
    .collect();
    for tab in [
        "Overview", "Working", "Failed", "Queues", "Workers", "Stats",
    ] {
        b.click_tab(tab)?;
        let main = b.eval("document.querySelector('#main').textContent")?;
        assert!(
            main.as_str().unwrap_or_default().contains(tabs[tab]),
            "{tab}: {main}"
        );
        shots.push(b.screenshot(&format!("tab-{}", tab.to_lowercase()))?);
    }

    // Our script ran under the CSP: times are relative, and clicking shows the stored text.
    b.goto(&format!("{base}/working"))?;
    b.wait_for(
        "!!document.querySelector('time.relatized')",
        Duration::from_secs(5),
    )?;
    let rel = b.eval("document.querySelector('time.relatized').textContent")?;
    assert!(rel.as_str().unwrap_or_default().contains("ago"), "{rel}");
    b.eval("document.querySelector('time.relatized').click()")?;
    let raw = b.eval("document.querySelector('time.relatized').textContent")?;
    assert!(raw.as_str().unwrap_or_default().ends_with('Z'), "{raw}");

    // A queue page, a worker page, the keys page.
    b.goto(&format!("{base}/queues/high"))?;
    assert_eq!(
        b.eval("document.querySelectorAll('table.jobs tbody tr').length")?,
        json!(20)
    );
    b.eval("document.querySelector('.pagination a.more').click()")?;
    b.wait_for("location.search === '?start=20'", Duration::from_secs(20))?;
    b.wait_loaded()?;
    assert_eq!(
        b.eval("document.querySelectorAll('table.jobs tbody tr').length")?,
        json!(10)
    );
    b.goto(&format!("{base}/workers/box1:100:high,low"))?;
    shots.push(b.screenshot("worker")?);

    // Header cells sit over their columns.
    for page in [
        "/workers/box1:100:high,low",
        "/queues/high",
        "/stats/keys",
        "/overview",
        "/workers",
    ] {
        b.goto(&format!("{base}{page}"))?;
        let got: Vec<String> = serde_json::from_str(b.eval(COLUMNS)?.as_str().unwrap_or("[]"))?;
        assert!(!got.is_empty(), "{page}: no table with a header and a body");
        assert!(got.iter().all(|r| r == "ok"), "{page}: {got:?}");
    }
    b.goto(&format!("{base}/stats/keys"))?;
    shots.push(b.screenshot("stats-keys")?);

    // Retry the newest failure through its button (confirm dialogs accepted).
    b.goto(&format!("{base}/failed"))?;
    b.eval("window.confirm = () => true")?;
    let html = b.eval("document.querySelector('ul.failed').innerHTML")?;
    assert!(
        html.as_str()
            .unwrap_or_default()
            .contains("&lt;b&gt;failure&lt;/b&gt;"),
        "escaped"
    );
    // The backtrace toggle opens.
    b.eval("document.querySelector('summary.backtrace').click()")?;
    assert_eq!(
        b.eval("document.querySelector('details').open")?,
        json!(true)
    );
    b.eval("document.querySelector('button[rel=retry]').click()")?;
    b.wait_for(
        "!!document.querySelector('.retried')",
        Duration::from_secs(20),
    )?;
    b.wait_loaded()?;
    assert_eq!(
        redis.get_str(&["LLEN", "resque:queue:low"]).as_deref(),
        Some("1")
    );
    assert_eq!(
        redis.get_str(&["LPOP", "resque:queue:low"]).as_deref(),
        Some(r#"{"class":"Other","args":[1]}"#)
    );
    shots.push(b.screenshot("failed-after-retry")?);
    // Remove one.
    b.eval("window.confirm = () => true")?;
    b.eval("document.querySelector('.controls button[rel=remove]').click()")?;
    b.wait_for(
        "document.querySelectorAll('ul.failed > li').length === 2",
        Duration::from_secs(20),
    )?;
    assert_eq!(
        redis.get_str(&["LLEN", "resque:failed"]).as_deref(),
        Some("2")
    );
    // Filter by class through the class link.
    b.wait_loaded()?;
    b.eval("document.querySelector('dd a[href*=\"class=\"]').click()")?;
    b.wait_for(
        "location.search.includes('class=')",
        Duration::from_secs(20),
    )?;
    b.wait_loaded()?;
    let h1 = b.eval("document.querySelector('#main h1').textContent")?;
    assert!(
        h1.as_str().unwrap_or_default().contains("with class"),
        "{h1}"
    );

    // Live poll: the overview follows Redis without a reload.
    b.goto(&format!("{base}/overview"))?;
    b.eval("window.__marker = 1; document.querySelector('a[rel=poll]').click()")?;
    b.wait_for(
        "document.querySelector('p.poll')?.textContent.startsWith('Last Updated')",
        Duration::from_secs(20),
    )?;
    redis.cmd(&["RPUSH", "resque:queue:low", r#"{"class":"New","args":[]}"#])?;
    redis.cmd(&["RPUSH", "resque:queue:low", r#"{"class":"New","args":[]}"#])?;
    b.wait_for(
        "[...document.querySelectorAll('td.queue a')].some(a => a.textContent === 'low' && a.closest('tr').querySelector('.size').textContent.trim() === '2')",
        Duration::from_secs(20),
    )?;
    assert_eq!(
        b.eval("window.__marker")?,
        json!(1),
        "no page reload while polling"
    );
    shots.push(b.screenshot("overview-polling")?);

    // Phone width: the tabs wrap, nothing overflows sideways.
    b.phone()?;
    b.assert_fits(&format!("{base}/failed"))?;
    shots.push(b.screenshot("phone-failed")?);

    assert_shots(&shots)?;
    drop(web);
    Ok(())
}
