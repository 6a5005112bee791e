//! The `resque-web` binary, run for real: listening, Ruby's default port search, `-r` with a
//! database, `-N`, pid file with `-S` and `-K`, graceful TERM and INT, clear errors.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use resque_test_support::RedisServer;

type R<T = ()> = anyhow::Result<T>;

const BIN: &str = env!("CARGO_BIN_EXE_resque-web");

fn free_port() -> R<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts resque-web and waits for its "listening on" line; returns the child and port.
fn start(args: &[&str], dir: &std::path::Path) -> R<(Child, u16)> {
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--app-dir", &dir.display().to_string()])
        .env_remove("REDIS_URL")
        .env_remove("RESQUE_NAMESPACE")
        .env_remove("RESQUE_WEB_AUTH")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let line = resque_test_support::first_stdout_line(&mut child)?;
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no listening line: {line:?}"))?;
    Ok((child, port))
}

/// A plain HTTP/1.0 GET: status line and body.
fn http_get(port: u16, path: &str) -> R<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, out))
}

fn wait_exit(child: &mut Child, within: Duration) -> R<std::process::ExitStatus> {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st);
        }
        if t.elapsed() > within {
            let _ = child.kill();
            anyhow::bail!("resque-web did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// TERMs resque-web, waits for it, and returns what it logged on stderr.
fn stop_and_read_log(child: &mut Child) -> R<String> {
    signal(child, nix::sys::signal::Signal::SIGTERM)?;
    wait_exit(child, Duration::from_secs(10))?;
    let mut log = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut log)?;
    }
    Ok(log)
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) -> R {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
    nix::sys::signal::kill(pid, sig)?;
    Ok(())
}

#[test]
fn serves_stops_gracefully_on_term_and_int_and_manages_its_pid_file() -> R {
    let redis = RedisServer::start();
    redis.cmd(&["SADD", "resque:queues", "mail"])?;
    let dir = tempfile::tempdir()?;
    let pid_file = dir.path().join("web.pid");
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let port = free_port()?;
        let (mut child, got) = start(
            &[
                "-p",
                &port.to_string(),
                "-o",
                "127.0.0.1",
                "-r",
                &redis.url(),
                "-P",
                &pid_file.display().to_string(),
            ],
            dir.path(),
        )?;
        assert_eq!(got, port);
        let (status, body) = http_get(port, "/overview")?;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("/queues/mail"));
        assert_eq!(
            std::fs::read_to_string(&pid_file)?.trim(),
            child.id().to_string()
        );
        // -S finds it.
        let out = Command::new(BIN)
            .args(["-S", "-P", &pid_file.display().to_string(), "--app-dir"])
            .arg(dir.path())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains(&child.id().to_string()) && text.contains(&format!(":{port}/")),
            "{text}"
        );

        signal(&child, sig)?;
        let st = wait_exit(&mut child, Duration::from_secs(10))?;
        assert!(st.success(), "{sig:?}: {st:?}");
        assert!(!pid_file.exists(), "pid file removed on {sig:?}");
    }
    // -S with nothing running.
    let out = Command::new(BIN)
        .args(["-S", "-P", &pid_file.display().to_string()])
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not running"));
    Ok(())
}

#[test]
fn dash_k_stops_the_running_instance() -> R {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let (mut child, _) = start(
        &[
            "-p",
            &port.to_string(),
            "-o",
            "127.0.0.1",
            "-r",
            &redis.url(),
        ],
        dir.path(),
    )?;
    // Default pid file: APP_DIR/resque_web-<port>.pid.
    let pid_file = dir.path().join(format!("resque_web-{port}.pid"));
    assert!(pid_file.exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(format!("resque_web-{port}.url")))?.trim(),
        format!("http://127.0.0.1:{port}/")
    );
    let out = Command::new(BIN)
        .arg("-K")
        .arg("--app-dir")
        .arg(dir.path())
        .output()?;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Killed resque-web"));
    let st = wait_exit(&mut child, Duration::from_secs(10))?;
    assert!(st.success());
    assert!(!pid_file.exists());
    Ok(())
}

#[test]
fn two_instances_keep_their_own_pid_files_and_logs_have_no_colour_codes() -> R {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let (p1, p2) = (free_port()?, free_port()?);
    let mut started = Vec::new();
    for port in [p1, p2] {
        started.push(start(
            &[
                "-p",
                &port.to_string(),
                "-o",
                "127.0.0.1",
                "-r",
                &redis.url(),
            ],
            dir.path(),
        )?);
    }
    for port in [p1, p2] {
        assert!(dir.path().join(format!("resque_web-{port}.pid")).exists());
    }
    // -S without a port lists both; -K -p stops only that one.
    let out = Command::new(BIN)
        .arg("-S")
        .arg("--app-dir")
        .arg(dir.path())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    let out = Command::new(BIN)
        .args(["-K", "-p", &p1.to_string(), "--app-dir"])
        .arg(dir.path())
        .output()?;
    assert!(out.status.success(), "{out:?}");
    let (mut first, _) = started.remove(0);
    assert!(wait_exit(&mut first, Duration::from_secs(10))?.success());
    let (mut second, _) = started.remove(0);
    assert_eq!(
        http_get(p2, "/overview")?.0,
        200,
        "the other one still serves"
    );
    let log = stop_and_read_log(&mut second)?;
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI codes in a redirected log: {log:?}"
    );
    Ok(())
}

#[test]
fn all_interfaces_without_auth_is_warned_about_and_the_real_address_is_printed() -> R {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let (mut child, got) = start(
        &["-p", &port.to_string(), "-o", "0.0.0.0", "-r", &redis.url()],
        dir.path(),
    )?;
    assert_eq!(got, port);
    let log = stop_and_read_log(&mut child)?;
    assert!(
        log.contains(&format!("listening on http://0.0.0.0:{port}/")),
        "{log}"
    );
    assert!(log.contains("without --auth"), "{log}");

    // With --auth, no warning.
    let (mut child, _) = start(
        &[
            "-p",
            &port.to_string(),
            "-o",
            "0.0.0.0",
            "-r",
            &redis.url(),
            "--auth",
            "u:p",
        ],
        dir.path(),
    )?;
    let log = stop_and_read_log(&mut child)?;
    assert!(!log.contains("without --auth"), "{log}");
    Ok(())
}

#[test]
fn takes_the_next_free_port_when_5678_is_busy_and_none_was_given() -> R {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;
    // Hold 5678 (if something else already holds it, the point stands).
    let _hold = TcpListener::bind("0.0.0.0:5678");
    let (mut child, port) = start(&["-r", &redis.url()], dir.path())?;
    assert!((5679..5778).contains(&port), "port {port}");
    let (status, _) = http_get(port, "/overview")?;
    assert_eq!(status, 200);
    signal(&child, nix::sys::signal::Signal::SIGTERM)?;
    wait_exit(&mut child, Duration::from_secs(10))?;

    // An explicit port that is taken is an error, as Ruby's.
    let held = TcpListener::bind("127.0.0.1:0")?;
    let port = held.local_addr()?.port();
    let out = Command::new(BIN)
        .args([
            "-p",
            &port.to_string(),
            "-o",
            "127.0.0.1",
            "-r",
            &redis.url(),
            "--app-dir",
        ])
        .arg(dir.path())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot listen"),
        "{out:?}"
    );
    Ok(())
}

#[test]
fn redis_host_port_db_and_namespace_as_rubys_readme_says() -> R {
    let redis = RedisServer::start_tcp();
    let rport = redis.port().ok_or_else(|| anyhow::anyhow!("tcp port"))?;
    // The helper opens a connection per command, so db 2 is written on one connection.
    let mut s = TcpStream::connect(("127.0.0.1", rport))?;
    s.write_all(b"SELECT 2\r\nSADD myapp:queues only-in-db2\r\nQUIT\r\n")?;
    let mut sink = String::new();
    s.read_to_string(&mut sink)?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let (mut child, _) = start(
        &[
            "-p",
            &port.to_string(),
            "-o",
            "127.0.0.1",
            "-N",
            "myapp",
            "-r",
            &format!("127.0.0.1:{rport}:2"),
        ],
        dir.path(),
    )?;
    let (status, body) = http_get(port, "/queues")?;
    assert_eq!(status, 200);
    assert!(body.contains("only-in-db2"), "{body}");
    assert!(body.contains("class=\"namespace\""));
    signal(&child, nix::sys::signal::Signal::SIGTERM)?;
    wait_exit(&mut child, Duration::from_secs(10))?;
    Ok(())
}

#[test]
fn bad_input_gets_a_clear_error() -> R {
    let dir = tempfile::tempdir()?;
    for (args, wanted) in [
        (
            vec!["-r", "redis://:6379:x:y/zz"],
            "bad Redis connection string",
        ),
        (
            vec!["--failure-backend", "bogus"],
            "invalid failure backend",
        ),
        (vec!["--auth", "nocolon"], "user:password"),
        (
            vec!["-r", "redis://localhost:port"],
            "bad Redis connection string \"redis://localhost:port\": the port is not a number from 1 to 65535",
        ),
        (vec!["-r", "redis//host"], "did you mean redis://host?"),
        (vec!["/nonexistent/config.rb"], "cannot read config file"),
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--app-dir")
            .arg(dir.path())
            .env_remove("REDIS_URL")
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(wanted), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    Ok(())
}

#[test]
fn a_config_file_sets_redis_and_namespace() -> R {
    let redis = RedisServer::start();
    redis.cmd(&["SADD", "cfgns:queues", "from-config"])?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("resque.rb");
    std::fs::write(
        &cfg,
        format!(
            "require 'resque'\nResque.redis = '{}'\nResque.redis.namespace = 'cfgns'\n",
            redis.url()
        ),
    )?;
    let port = free_port()?;
    let (mut child, _) = start(
        &[
            "-p",
            &port.to_string(),
            "-o",
            "127.0.0.1",
            &cfg.display().to_string(),
        ],
        dir.path(),
    )?;
    let (_, body) = http_get(port, "/queues")?;
    assert!(body.contains("from-config"), "{body}");
    signal(&child, nix::sys::signal::Signal::SIGTERM)?;
    wait_exit(&mut child, Duration::from_secs(10))?;
    Ok(())
}

#[test]
fn follows_a_sentinel_failover_without_a_restart() -> R {
    let mut group = resque_test_support::SentinelGroup::start();
    group.master.cmd(&["SADD", "resque:queues", "before"])?;
    group.sync();
    let dir = tempfile::tempdir()?;
    let url = group.url();
    let (mut web, port) = start(&["-p", &free_port()?.to_string(), "-r", &url], dir.path())?;
    let (status, body) = http_get(port, "/overview")?;
    assert_eq!(status, 200);
    assert!(body.contains("before"), "{body}");
    group.kill_master();
    // The new master has the replicated data, and a queue made after the failover.
    group.replica.cmd(&["SADD", "resque:queues", "after"])?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, body)) = http_get(port, "/overview")
            && body.contains("after")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "resque-web did not follow the failover"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(web.try_wait()?.is_none(), "resque-web is still running");
    // Its connection watcher looks once a second: let it tell the news before stopping.
    std::thread::sleep(Duration::from_millis(1500));
    let log = stop_and_read_log(&mut web)?;
    assert!(!log.contains("panicked"), "{log}");
    // Told once: lost, and back at the new master.
    assert_eq!(
        log.matches("lost the connection to Redis").count(),
        1,
        "{log}"
    );
    let back = format!(
        "connected to Redis again, at 127.0.0.1:{}",
        group.replica.port().unwrap_or(0)
    );
    assert_eq!(log.matches(&back).count(), 1, "{log}");
    Ok(())
}

#[test]
fn logformat_json_makes_every_log_line_json() -> R {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let (mut child, port) = start(
        &[
            "-p",
            &port.to_string(),
            "-o",
            "127.0.0.1",
            "-r",
            &redis.url(),
            "--log-format",
            "json",
            "-d",
        ],
        dir.path(),
    )?;
    let (status, _) = http_get(port, "/overview")?;
    assert_eq!(status, 200);
    let log = stop_and_read_log(&mut child)?;
    assert!(!log.trim().is_empty(), "something was logged");
    let mut served = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("not JSON: {line:?}: {e}"))?;
        assert_eq!(v["progname"], "resque-web", "{line}");
        if v["msg"] == "served" {
            served.push(v);
        }
    }
    // The request's line, in its span: method, path, status and time.
    let overview = served
        .iter()
        .find(|v| v["path"] == "/overview")
        .ok_or_else(|| anyhow::anyhow!("no served line for /overview: {log}"))?;
    assert_eq!(overview["span"], "request");
    assert_eq!(overview["method"], "GET");
    assert_eq!(overview["status"], 200);
    assert!(overview["ms"].is_f64(), "{overview}");
    Ok(())
}
