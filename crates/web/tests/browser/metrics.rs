//! The graphs and the Metrics tab: the Overview's history chart and failure rate, its live
//! graph drawn by our script from each poll's counters, the Metrics tab opened through its
//! link, one class's page through the class link, a period chosen, a hostile class name
//! shown as text, and the phone width.

use std::time::Duration;

use resque_test_support::RedisServer;
use serde_json::json;

use crate::R;
use crate::chrome::*;

#[path = "../common/mod.rs"]
#[allow(unused_imports)] // the router helpers are for the router tests
mod common;

const HOSTILE: &str = "<img src=x onerror=window.__xss=1>";

#[test]
fn the_graphs_and_the_metrics_tab_work_in_headless_chromium() -> R {
    let redis = RedisServer::start();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let client = common::record_runs(&redis).await?;
        client
            .store()?
            .job_done(
                "box:1:file_serve",
                None,
                false,
                Some(resque_store::JobMetrics {
                    queue: "file_serve",
                    class: HOSTILE,
                    millis: 3,
                    per_class: true,
                }),
                None,
            )
            .await?;
        R::Ok(())
    })?;
    let web = start_web(&redis)?;
    let base = web.base.clone();
    let mut b = Browser::launch()?;
    let mut shots = Vec::new();

    // History: seven days, today's bar drawn (6 jobs, 1 failed), the failure rate shown.
    b.goto(&format!("{base}/overview"))?;
    b.wait_loaded()?;
    assert_eq!(
        b.eval("document.querySelectorAll('.history figure.chart svg > g > g').length")?,
        json!(7)
    );
    let today_height = b.eval(
        "document.querySelector('.history figure.chart svg > g > g:last-child path.ok').getBoundingClientRect().height",
    )?;
    // On screen: its good part is 5 of the tallest bar's 6 jobs, of a drawing 120 px tall.
    assert!(
        (85.0..=110.0).contains(&today_height.as_f64().unwrap_or(0.0)),
        "{today_height}"
    );
    assert_eq!(
        b.eval("document.querySelector('.failure-rate').textContent")?,
        json!("16.7%")
    );
    // 30 days through its link.
    b.eval("[...document.querySelectorAll('.choices a')].find(a => a.textContent === '30 days').click()")?;
    b.wait_for(
        "location.search === '?days=30' && document.readyState === 'complete'",
        Duration::from_secs(20),
    )?;
    assert_eq!(
        b.eval("document.querySelectorAll('.history figure.chart svg > g > g').length")?,
        json!(30)
    );
    shots.push(b.screenshot("overview-graphs")?);

    // Live graph: turn the poll on, move the counters, and the script draws the polls.
    b.goto(&format!("{base}/overview"))?;
    b.eval("document.querySelector('a[rel=poll]').click()")?;
    b.wait_for(
        "document.querySelector('p.poll')?.textContent.startsWith('Last Updated')",
        Duration::from_secs(20),
    )?;
    redis.cmd(&["INCRBY", "resque:stat:processed", "40"])?;
    redis.cmd(&["INCRBY", "resque:stat:failed", "4"])?;
    b.wait_for(
        "document.querySelector('#live-note')?.textContent === 'Last poll: 40 processed, 4 failed.'",
        Duration::from_secs(20),
    )?;
    let lines = b.eval(
        "[...document.querySelectorAll('#live-graph polyline')].map(l => l.getAttribute('class') + ' ' + l.getAttribute('points').split(' ').length)",
    )?;
    let lines: Vec<String> = serde_json::from_value(lines)?;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("ok ") && lines[1].starts_with("fail "),
        "{lines:?}"
    );
    // The polyline of processed jobs peaks at the top (40 is the highest poll).
    let peak = b.eval(
        "Math.min(...document.querySelector('#live-graph polyline.ok').getAttribute('points').split(' ').map(p => Number(p.split(',')[1])))",
    )?;
    assert_eq!(peak, json!(2), "the 40-job poll is drawn at the top");
    shots.push(b.screenshot("overview-live-graph")?);

    // The Metrics tab through its link.
    b.goto(&format!("{base}/overview"))?;
    b.click_tab("Metrics")?;
    let classes =
        b.eval("[...document.querySelectorAll('table.metrics a.class')].map(a => a.textContent)")?;
    assert_eq!(classes, json!(["Mailer", "Archive", HOSTILE]));
    assert_eq!(
        b.eval("document.querySelectorAll('#main img').length")?,
        json!(0)
    );
    assert_eq!(b.eval("window.__xss === undefined")?, json!(true));
    let columns: Vec<String> = serde_json::from_str(b.eval(COLUMNS)?.as_str().unwrap_or("[]"))?;
    assert!(
        !columns.is_empty() && columns.iter().all(|r| r == "ok"),
        "{columns:?}"
    );
    shots.push(b.screenshot("tab-metrics")?);

    // A period, then one class through its link: the period is kept.
    b.eval("[...document.querySelectorAll('.choices a')].find(a => a.textContent === '72 hours').click()")?;
    b.wait_for(
        "location.search === '?minutes=4320' && document.readyState === 'complete'",
        Duration::from_secs(20),
    )?;
    b.eval("[...document.querySelectorAll('table.metrics a.class')].find(a => a.textContent === 'Archive').click()")?;
    b.wait_for(
        "location.pathname === '/job-metrics/class' && document.readyState === 'complete'",
        Duration::from_secs(20),
    )?;
    b.wait_loaded()?;
    let h1 = b.eval("document.querySelector('#main h1').textContent")?;
    assert_eq!(h1, json!("Job metrics: Archive on file_serve"));
    assert_eq!(
        b.eval("document.querySelector('.choices a.current').textContent")?,
        json!("72 hours")
    );
    let histogram = b.eval(
        "[...document.querySelectorAll('table.histogram tbody tr')].map(r => r.cells[1].textContent).join(',')",
    )?;
    assert_eq!(histogram, json!("0,1,0,1,0,0,1,0,0,0"));
    shots.push(b.screenshot("metrics-class")?);

    // The hostile class's own page: its name is text there too.
    b.goto(&format!("{base}/job-metrics"))?;
    b.eval(&format!(
        "[...document.querySelectorAll('table.metrics a.class')].find(a => a.textContent === {}).click()",
        json!(HOSTILE)
    ))?;
    b.wait_for(
        "location.pathname === '/job-metrics/class' && document.readyState === 'complete'",
        Duration::from_secs(20),
    )?;
    b.wait_loaded()?;
    assert!(
        b.eval("document.querySelector('#main h1').textContent")?
            .as_str()
            .unwrap_or_default()
            .contains(HOSTILE)
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#main img').length")?,
        json!(0)
    );
    assert_eq!(b.eval("window.__xss === undefined")?, json!(true));

    // Phone width: the charts shrink, nothing overflows sideways.
    b.phone()?;
    for page in ["/job-metrics", "/overview"] {
        b.assert_fits(&format!("{base}{page}"))?;
    }
    shots.push(b.screenshot("phone-overview-graphs")?);
    assert_shots(&shots)?;
    drop(web);
    Ok(())
}
