//! The test driver: Chromium over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: NUL-terminated JSON on fds 3 and 4), so no WebDriver and no
//! extra crate are needed; and `resque-web` started on a free port.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use resque_test_support::RedisServer;
use serde_json::{Value, json};

use crate::R;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_resque-web");

/// A DevTools session with one page.
pub(crate) struct Browser {
    child: Child,
    to_chrome: ChildStdin,
    from_chrome: Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) fn launch() -> R<Self> {
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
        b.desktop()?;
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

    pub(crate) fn call(&mut self, method: &str, params: Value) -> R<Value> {
        self.send(method, params, false)
    }

    pub(crate) fn page(&mut self, method: &str, params: Value) -> R<Value> {
        self.send(method, params, true)
    }

    /// Evaluates JavaScript in the page and returns its value.
    pub(crate) fn eval(&mut self, js: &str) -> R<Value> {
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
    pub(crate) fn wait_for(&mut self, js: &str, within: Duration) -> R {
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

    pub(crate) fn goto(&mut self, url: &str) -> R {
        self.page("Page.navigate", json!({ "url": url }))?;
        self.wait_loaded()
    }

    pub(crate) fn wait_loaded(&mut self) -> R {
        std::thread::sleep(Duration::from_millis(100));
        self.wait_for(
            "document.readyState === 'complete' && !!document.querySelector('#footer')",
            Duration::from_secs(15),
        )
    }

    /// A desktop window, 1280 × 900 (what [`Browser::launch`] opens).
    pub(crate) fn desktop(&mut self) -> R {
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        )?;
        Ok(())
    }

    /// A phone's screen, 390 × 844 at twice the density.
    pub(crate) fn phone(&mut self) -> R {
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
        )?;
        Ok(())
    }

    /// Opens `url` and checks that nothing overflows sideways (no horizontal scroll).
    pub(crate) fn assert_fits(&mut self, url: &str) -> R {
        self.goto(url)?;
        let fits = self.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")?;
        anyhow::ensure!(fits == json!(true), "horizontal scroll on {url}");
        Ok(())
    }

    /// Clicks the tab named `tab` in the navigation and waits for its page.
    pub(crate) fn click_tab(&mut self, tab: &str) -> R {
        self.eval(&format!(
            "[...document.querySelectorAll('.nav a')].find(a => a.textContent === '{tab}').click()"
        ))?;
        self.wait_for(
            &format!("document.querySelector('.nav li.current a')?.textContent === '{tab}'"),
            Duration::from_secs(20),
        )?;
        self.wait_loaded()
    }

    pub(crate) fn screenshot(&mut self, name: &str) -> R<PathBuf> {
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

pub(crate) struct Web {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// Its pid and URL files.
    _app_dir: tempfile::TempDir,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// resque-web on a free port over `redis`, with an app dir of its own.
pub(crate) fn start_web(redis: &RedisServer) -> R<Web> {
    let dir = tempfile::tempdir()?;
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
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let line = resque_test_support::first_stdout_line(&mut child)?;
    anyhow::ensure!(line.contains("listening"), "{line}");
    Ok(Web {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _app_dir: dir,
    })
}

/// Whether every table's header cells sit over their columns: each table's header cells and
/// its first body row's cells start at the same x (they did not while thead and tbody were
/// laid out as two tables of their own).
pub(crate) const COLUMNS: &str = "JSON.stringify([...document.querySelectorAll('#main table')]
    .filter(t => t.tHead && t.tBodies[0] && t.tBodies[0].rows[0]
        && t.tBodies[0].rows[0].cells.length === t.tHead.rows[0].cells.length)
    .map(t => {
        const x = r => [...r.cells].map(c => Math.round(c.getBoundingClientRect().left));
        const h = x(t.tHead.rows[0]), b = x(t.tBodies[0].rows[0]);
        return JSON.stringify(h) === JSON.stringify(b) ? 'ok' : `${t.className}: ${h} / ${b}`;
    }))";

/// Every screenshot was written and is more than an empty page.
pub(crate) fn assert_shots(shots: &[PathBuf]) -> R {
    for s in shots {
        anyhow::ensure!(std::fs::metadata(s)?.len() > 1000, "{}", s.display());
    }
    Ok(())
}
