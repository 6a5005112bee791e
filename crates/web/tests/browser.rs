//! The dashboard in a real headless Chromium (Debian `chromium`): every tab opened, the
//! scripts run under the content security policy (relative times), a failure retried and
//! one removed through the buttons, the live poll followed while Redis changes, and
//! screenshots (desktop and phone width) saved under `target/browser-screenshots/`.
//!
//! Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
//! NUL-terminated JSON on fds 3 and 4), so no WebDriver and no extra crate are needed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use resque_test_support::RedisServer;
use serde_json::{Value, json};

type R<T = ()> = anyhow::Result<T>;

const BIN: &str = env!("CARGO_BIN_EXE_resque-web");

/// A DevTools session with one page.
struct Browser {
    child: Child,
    to_chrome: ChildStdin,
    from_chrome: Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> R<Self> {
        let exe = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|c| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {c}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .ok_or_else(|| {
                anyhow::anyhow!("chromium is not installed (apt-get install -y chromium)")
            })?;
        let profile = tempfile::tempdir()?;
        // fd 3 = what Chromium reads (our stdin pipe), fd 4 = what it writes (our stdout
        // pipe); its own stdin/stdout go nowhere.
        let script = format!(
            "exec {exe} --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
             --no-first-run --no-default-browser-check --disable-extensions \
             --remote-debugging-pipe --user-data-dir='{}' about:blank \
             3<&0 4>&1 </dev/null >/dev/null",
            profile.path().display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let to_chrome = child.stdin.take().ok_or_else(|| anyhow::anyhow!("stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("stdout"))?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut b = Self {
            child,
            to_chrome,
            from_chrome: rx,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        b.page("Page.enable", json!({}))?;
        b.page("Runtime.enable", json!({}))?;
        Ok(b)
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> R<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if session {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg)?;
        bytes.push(0);
        self.to_chrome.write_all(&bytes)?;
        self.to_chrome.flush()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from_chrome
                .recv_timeout(left)
                .map_err(|_| anyhow::anyhow!("no answer to {method}"))?;
            if v["method"] == "Runtime.exceptionThrown" {
                anyhow::bail!("a script threw: {}", v["params"]["exceptionDetails"]);
            }
            if v["method"] == "Runtime.consoleAPICalled" && v["params"]["type"] == "error" {
                anyhow::bail!("console error: {}", v["params"]["args"]);
            }
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    anyhow::bail!("{method}: {e}");
                }
                return Ok(v["result"].clone());
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> R<Value> {
        self.send(method, params, false)
    }

    fn page(&mut self, method: &str, params: Value) -> R<Value> {
        self.send(method, params, true)
    }

    /// Evaluates JavaScript in the page and returns its value.
    fn eval(&mut self, js: &str) -> R<Value> {
        let r = self.page(
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            anyhow::bail!("{js}: {e}");
        }
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `js` is truthy.
    fn wait_for(&mut self, js: &str, within: Duration) -> R {
        let t = Instant::now();
        while t.elapsed() < within {
            match self.eval(js) {
                Ok(v) if v.as_bool() == Some(true) => return Ok(()),
                Ok(_) => {}
                // A click that navigates can tear down the page the probe runs in; the
                // next probe runs in the new document.
                Err(e) if is_navigation_race(&e) => {}
                Err(e) => return Err(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("timed out waiting for {js}")
    }

    fn goto(&mut self, url: &str) -> R {
        self.page("Page.navigate", json!({ "url": url }))?;
        self.wait_loaded()
    }

    fn wait_loaded(&mut self) -> R {
        std::thread::sleep(Duration::from_millis(100));
        self.wait_for(
            "document.readyState === 'complete' && !!document.querySelector('#footer')",
            Duration::from_secs(15),
        )
    }

    fn screenshot(&mut self, name: &str) -> R<PathBuf> {
        let r = self.page("Page.captureScreenshot", json!({ "format": "png" }))?;
        let png = base64_decode(r["data"].as_str().unwrap_or_default())?;
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

/// True for Chromium's answers to a probe that raced a navigation: the page the probe was
/// sent to went away while it ran, which says nothing about the page that replaces it.
fn is_navigation_race(e: &anyhow::Error) -> bool {
    let text = e.to_string();
    [
        "Inspected target navigated or closed",
        "Execution context was destroyed",
        "Cannot find context with specified id",
    ]
    .iter()
    .any(|m| text.contains(m))
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(s: &str) -> R<Vec<u8>> {
    let val = |c: u8| -> R<u32> {
        Ok(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => anyhow::bail!("bad base64 byte {c}"),
        })
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

struct Web {
    child: Child,
    port: u16,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_web(redis: &RedisServer, dir: &std::path::Path) -> R<Web> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(BIN)
        .args([
            "-p",
            &port.to_string(),
            "-o",
            "127.0.0.1",
            "-r",
            &redis.url(),
        ])
        .arg("--app-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let line = resque_test_support::first_stdout_line(&mut child)?;
    anyhow::ensure!(line.contains("listening"), "{line}");
    Ok(Web { child, port })
}

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

/// Whether every table's header cells sit over their columns: each table's header cells and
/// its first body row's cells start at the same x (they did not while thead and tbody were
/// laid out as two tables of their own).
const COLUMNS: &str = "JSON.stringify([...document.querySelectorAll('#main table')]
    .filter(t => t.tHead && t.tBodies[0] && t.tBodies[0].rows[0]
        && t.tBodies[0].rows[0].cells.length === t.tHead.rows[0].cells.length)
    .map(t => {
        const x = r => [...r.cells].map(c => Math.round(c.getBoundingClientRect().left));
        const h = x(t.tHead.rows[0]), b = x(t.tBodies[0].rows[0]);
        return JSON.stringify(h) === JSON.stringify(b) ? 'ok' : `${t.className}: ${h} / ${b}`;
    }))";

#[test]
fn the_dashboard_works_in_headless_chromium() -> R {
    let redis = RedisServer::start();
    seed(&redis)?;
    let dir = tempfile::tempdir()?;
    let web = start_web(&redis, dir.path())?;
    let base = format!("http://127.0.0.1:{}", web.port);
    let mut b = Browser::launch()?;
    b.page(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
    )?;

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
        b.eval(&format!(
            "[...document.querySelectorAll('.nav a')].find(a => a.textContent === '{tab}').click()"
        ))?;
        b.wait_for(
            &format!("document.querySelector('.nav li.current a')?.textContent === '{tab}'"),
            Duration::from_secs(20),
        )?;
        b.wait_loaded()?;
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
    b.page(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
    )?;
    b.goto(&format!("{base}/failed"))?;
    let overflow = b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")?;
    assert_eq!(overflow, json!(true), "no horizontal scroll on a phone");
    shots.push(b.screenshot("phone-failed")?);

    for s in &shots {
        assert!(std::fs::metadata(s)?.len() > 1000, "{}", s.display());
    }
    drop(web);
    Ok(())
}

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
    let dir = tempfile::tempdir()?;
    let web = start_web(&redis, dir.path())?;
    let base = format!("http://127.0.0.1:{}", web.port);
    let mut b = Browser::launch()?;
    b.page(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
    )?;
    let mut shots = Vec::new();
    b.goto(&format!("{base}/overview"))?;
    for (tab, text) in [
        ("Retry", "Delayed Jobs with Retry Information"),
        ("Schedule", "every: 1h"),
        ("Delayed", "Delayed Jobs"),
    ] {
        b.eval(&format!(
            "[...document.querySelectorAll('.nav a')].find(a => a.textContent === '{tab}').click()"
        ))?;
        b.wait_for(
            &format!("document.querySelector('.nav li.current a')?.textContent === '{tab}'"),
            Duration::from_secs(20),
        )?;
        b.wait_loaded()?;
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
    b.page(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
    )?;
    b.goto(&format!("{base}/delayed"))?;
    let overflow = b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")?;
    assert_eq!(overflow, json!(true), "no horizontal scroll on a phone");
    shots.push(b.screenshot("phone-delayed")?);
    for s in &shots {
        assert!(std::fs::metadata(s)?.len() > 1000, "{}", s.display());
    }
    drop(web);
    Ok(())
}
