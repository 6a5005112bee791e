//! The `resque-scheduler` binary, run for real against a redis-server of its own: moving
//! due items (a corrupt one set aside), the lock's handover and failover, cron and every
//! fires on time, dynamic changes, signals, and a bad schedule file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result, bail};
use resque_protocol::DelayedItem;
use resque_store::blocking::Client;
use resque_test_support::{RedisServer, Resp, eventually};

const LOCK: &str = "resque:resque:resque_scheduler_master_lock";

/// A running scheduler whose log lines are collected.
struct Sched {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// How many of the two output readers have reached the end of their pipe.
    readers_done: Arc<std::sync::atomic::AtomicUsize>,
}

impl Sched {
    fn start(server: &RedisServer, args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        Self::spawn(Some(server.socket()), args, env)
    }

    fn spawn(redis: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_resque-scheduler"));
        if let Some(socket) = redis {
            cmd.arg("--redis").arg(socket);
        }
        cmd.args(args);
        for var in [
            "DYNAMIC_SCHEDULE",
            "VERBOSE",
            "QUIET",
            "BACKGROUND",
            "RAILS_ENV",
            "LOCK_TIMEOUT",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let readers_done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (log, done) = (Arc::clone(&log), Arc::clone(&readers_done));
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                    if let Ok(mut v) = log.lock() {
                        v.push(line);
                    }
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        Ok(Self {
            child,
            log,
            readers_done,
        })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn logged(&self, needle: &str) -> bool {
        self.log
            .lock()
            .map(|v| v.iter().any(|l| l.contains(needle)))
            .unwrap_or(false)
    }

    fn log_text(&self) -> String {
        self.log.lock().map(|v| v.join("\n")).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        // std offers only SIGKILL; kill(1) sends the others.
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }

    fn wait(&mut self, timeout: Duration) -> Result<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Its last lines may still be in the pipes: read them before the caller
                // looks (a bounded wait: a daemonised child may keep the pipes open).
                eventually(Duration::from_secs(2), || {
                    self.readers_done.load(std::sync::atomic::Ordering::SeqCst) == 2
                });
                return Ok(status.code().unwrap_or(-1));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("the scheduler did not exit:\n{}", self.log_text());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lock_holder(server: &RedisServer) -> Option<String> {
    server.get_str(&["GET", LOCK])
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn llen(server: &RedisServer, key: &str) -> i64 {
    match server.cmd(&["LLEN", key]) {
        Ok(Resp::Integer(n)) => n,
        _ => -1,
    }
}

fn delay(client: &Client, ts: i64, queue: &str, n: i64) -> Result<()> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(ts.max(0) as u64);
    // enqueue_at_to enqueues at once for a past time; write the delayed item directly then.
    if ts <= now() {
        let item = DelayedItem::new(queue, "Archive", vec![n.into()]).encode()?;
        client.block_on(client.async_client().store()?.delayed_push(ts, &[item]))?;
        return Ok(());
    }
    client.enqueue_at_to(queue, at, "Archive", vec![n.into()])?;
    Ok(())
}

#[test]
fn moves_due_items_sets_a_corrupt_one_aside_and_releases_the_lock_on_term() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url())?;
    let past = now() - 30;
    for n in 0..5 {
        delay(&client, past, "q", n)?;
    }
    server.cmd(&["RPUSH", &format!("resque:delayed:{past}"), "{not json"])?;
    delay(&client, past + 1, "q", 5)?;
    delay(&client, now() + 3_600, "q", 99)?; // not due
    let mut s = Sched::start(&server, &["-i", "0.2"], &[])?;
    assert!(
        eventually(Duration::from_secs(10), || llen(&server, "resque:queue:q")
            == 6),
        "{}",
        s.log_text()
    );
    assert_eq!(
        server.get_list(&["LRANGE", "resque:queue:q", "0", "1"]),
        vec![
            r#"{"class":"Archive","args":[0]}"#,
            r#"{"class":"Archive","args":[1]}"#
        ]
    );
    assert!(eventually(Duration::from_secs(5), || llen(
        &server,
        "resque:failed"
    ) == 1));
    let record = server
        .get_str(&["LINDEX", "resque:failed", "0"])
        .context("record")?;
    assert!(
        record.contains("Resque::Scheduler::MalformedItem") && record.contains("{not json"),
        "{record}"
    );
    assert_eq!(
        client.delayed_queue_schedule_size()?,
        1,
        "only the future timestamp is left"
    );
    let holder = lock_holder(&server).context("lock")?;
    assert!(holder.ends_with(&format!(":{}", s.pid())), "{holder}");
    assert!(matches!(server.cmd(&["TTL", LOCK])?, Resp::Integer(t) if t > 170));
    s.signal(15);
    assert_eq!(s.wait(Duration::from_secs(5))?, 0);
    assert_eq!(lock_holder(&server), None, "TERM released the lock");
    Ok(())
}

#[test]
fn one_master_hands_over_on_term_and_fails_over_after_kill() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url())?;
    let env = [("LOCK_TIMEOUT", "2")];
    let mut a = Sched::start(&server, &["-i", "0.2"], &env)?;
    assert!(eventually(Duration::from_secs(5), || lock_holder(&server)
        .is_some_and(|h| h.ends_with(&format!(":{}", a.pid())))));
    let b = Sched::start(&server, &["-i", "0.2"], &env)?;
    assert!(
        eventually(Duration::from_secs(5), || b.logged("Child scheduler")),
        "{}",
        b.log_text()
    );
    // Delayed jobs keep coming due throughout; each must arrive exactly once.
    let mut expected = 0;
    let push_due = |n: i64| -> Result<()> {
        delay(&client, now() - 1, "q", n)?;
        Ok(())
    };
    for n in 0..20 {
        push_due(n)?;
        expected += 1;
    }
    a.signal(15);
    assert_eq!(a.wait(Duration::from_secs(5))?, 0);
    let handed = Instant::now();
    assert!(eventually(Duration::from_secs(5), || lock_holder(&server)
        .is_some_and(|h| h.ends_with(&format!(":{}", b.pid())))));
    let handover = handed.elapsed();
    for n in 20..40 {
        push_due(n)?;
        expected += 1;
    }
    assert!(eventually(Duration::from_secs(5), || llen(
        &server,
        "resque:queue:q"
    ) == expected));

    // A third scheduler waits; the master is killed; the lock expires (LOCK_TIMEOUT 2 s)
    // and the third takes over, moving what came due meanwhile.
    let c = Sched::start(&server, &["-i", "0.2"], &env)?;
    assert!(eventually(Duration::from_secs(5), || c.logged("Child scheduler")));
    let killed = Instant::now();
    b.signal(9);
    for n in 40..60 {
        push_due(n)?;
        expected += 1;
    }
    assert!(eventually(Duration::from_secs(10), || lock_holder(&server)
        .is_some_and(|h| h.ends_with(&format!(":{}", c.pid())))));
    let failover = killed.elapsed();
    assert!(eventually(Duration::from_secs(5), || llen(
        &server,
        "resque:queue:q"
    ) == expected));
    let mut seen: Vec<String> = server.get_list(&["LRANGE", "resque:queue:q", "0", "-1"]);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len() as i64, expected, "every job exactly once");
    eprintln!(
        "handover after TERM: {handover:?}; failover after SIGKILL with LOCK_TIMEOUT=2: {failover:?}"
    );
    assert!(failover < Duration::from_secs(4), "{failover:?}");
    Ok(())
}

#[test]
fn cron_and_every_fire_on_time_once_per_slot() -> Result<()> {
    let server = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("schedule.yml");
    std::fs::write(
        &file,
        "every_second:\n  every: [\"1s\", {first_in: \"1s\"}]\n  class: Tick\n  queue: ticks\n  args: {n: 1}\n\
         cron_seconds:\n  cron: \"* * * * * *\"\n  class: Cron\n  queue: crons\n\
         elsewhere:\n  every: 1s\n  class: Never\n  queue: never\n  rails_env: production\n\
         manual:\n  class: Manual\n  queue: manual\n",
    )?;
    let s = Sched::start(
        &server,
        &[
            "-i",
            "5",
            "-s",
            file.to_str().context("path")?,
            "-E",
            "development",
        ],
        &[],
    )?;
    let t0 = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), || llen(
            &server,
            "resque:queue:ticks"
        ) >= 3
            && llen(&server, "resque:queue:crons") >= 3),
        "{}",
        s.log_text()
    );
    // With a 5 s poll interval, three fires each within ~4 s: the loop wakes for fires.
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
    assert_eq!(
        server
            .get_str(&["LINDEX", "resque:queue:ticks", "0"])
            .as_deref(),
        Some(r#"{"class":"Tick","args":[{"n":1}]}"#)
    );
    assert_eq!(
        llen(&server, "resque:queue:never"),
        0,
        "another environment"
    );
    assert_eq!(llen(&server, "resque:queue:manual"), 0, "no interval");
    let at = server
        .get_str(&["HGET", "resque:delayed:last_enqueued_at", "cron_seconds"])
        .context("last_enqueued_at")?;
    assert!(
        jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", &at).is_ok(),
        "{at}"
    );
    // Each cron slot once: pushes never exceed the seconds elapsed.
    let crons = llen(&server, "resque:queue:crons");
    assert!(
        crons as u64 <= t0.elapsed().as_secs() + 2,
        "{crons} fires in {:?}",
        t0.elapsed()
    );
    assert!(
        s.logged("Scheduling every_second")
            && s.logged("no cron / every found for Manual (manual)")
    );
    Ok(())
}

#[test]
fn dynamic_schedules_are_picked_up_and_removed() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url())?;
    let s = Sched::start(&server, &["-i", "0.2", "-D", "false"], &[])?;
    assert!(eventually(Duration::from_secs(5), || s.logged("Master scheduler")));
    let config = resque_protocol::ScheduleConfig::decode(
        br#"{"class":"Dyn","every":"1s","queue":"dyn","args":[7]}"#,
    )?;
    client.set_schedule("dyn", &config)?;
    assert!(
        eventually(Duration::from_secs(5), || llen(&server, "resque:queue:dyn")
            >= 1),
        "{}",
        s.log_text()
    );
    assert!(s.logged("Updating schedule"));
    client.remove_schedule("dyn")?;
    thread::sleep(Duration::from_millis(600));
    let after = llen(&server, "resque:queue:dyn");
    thread::sleep(Duration::from_millis(2_200));
    assert_eq!(
        llen(&server, "resque:queue:dyn"),
        after,
        "removed: no more fires"
    );
    Ok(())
}

#[test]
fn signals_print_and_reload_and_a_bad_file_takes_no_lock() -> Result<()> {
    let server = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("schedule.yml");
    std::fs::write(&file, "hourly:\n  every: 1h\n  class: A\n  queue: a\n")?;
    let mut s = Sched::start(
        &server,
        &["-i", "0.2", "-s", file.to_str().context("path")?],
        &[],
    )?;
    assert!(eventually(Duration::from_secs(5), || s.logged("Schedules Loaded")));
    s.signal(10); // USR1
    assert!(
        eventually(Duration::from_secs(5), || s.logged("hourly\tevery: 1h")),
        "{}",
        s.log_text()
    );
    std::fs::write(&file, "hourly:\n  every: 1h\n  class: A\n  queue: a\n")?;
    s.signal(12); // USR2
    assert!(eventually(Duration::from_secs(5), || s.logged("Reloading Schedule")));
    s.signal(3); // QUIT
    assert_eq!(s.wait(Duration::from_secs(5))?, 0);
    assert_eq!(lock_holder(&server), None);

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "broken:\n  cron: \"61 * * * *\"\n  class: A\n")?;
    let mut b = Sched::start(&server, &["-s", bad.to_str().context("path")?], &[])?;
    assert_eq!(b.wait(Duration::from_secs(5))?, 1);
    assert!(b.logged("bad cron line"), "{}", b.log_text());
    assert_eq!(
        lock_holder(&server),
        None,
        "a bad file never takes the lock"
    );
    let mut u = Sched::spawn(None, &["--redis", "redis://nowhere:99999"], &[])?;
    assert_eq!(u.wait(Duration::from_secs(10))?, 1);
    let out = u.log_text();
    assert_eq!(
        out.lines().filter(|l| l.contains("error")).count(),
        1,
        "one line: {out}"
    );
    Ok(())
}

/// The race that loses jobs in Ruby (LRANGE before WATCH, then LTRIM of a whole batch):
/// items pushed to a due timestamp while the scheduler is moving it. Every one arrives,
/// exactly once.
#[test]
fn items_pushed_while_a_timestamp_is_moved_all_arrive_once() -> Result<()> {
    let server = RedisServer::start();
    let s = Sched::start(&server, &["-i", "0", "--batch-size", "7"], &[])?;
    assert!(eventually(Duration::from_secs(5), || s.logged("Master scheduler")));
    let url = server.url();
    let total: i64 = 3_000;
    let pusher = thread::spawn(move || -> Result<()> {
        let client = Client::connect(&url)?;
        let due = now() - 1;
        for n in 0..total {
            // Half to one due timestamp, half to the next second (due soon).
            let ts = if n % 2 == 0 { due } else { now() };
            let item = DelayedItem::new("race", "Archive", vec![n.into()]).encode()?;
            client.block_on(client.async_client().store()?.delayed_push(ts, &[item]))?;
        }
        Ok(())
    });
    pusher
        .join()
        .map_err(|_| anyhow::anyhow!("pusher panicked"))??;
    assert!(
        eventually(Duration::from_secs(15), || llen(
            &server,
            "resque:queue:race"
        ) >= total),
        "{} of {total}",
        llen(&server, "resque:queue:race")
    );
    thread::sleep(Duration::from_millis(300));
    let mut seen = server.get_list(&["LRANGE", "resque:queue:race", "0", "-1"]);
    assert_eq!(seen.len() as i64, total, "none twice");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len() as i64, total, "none lost, none twice");
    assert_eq!(
        server.cmd(&["ZCARD", "resque:delayed_queue_schedule"])?,
        Resp::Integer(0)
    );
    let left = server.get_list(&["KEYS", "resque:timestamps:*"]);
    assert!(left.is_empty(), "no stale timestamps: sets: {left:?}");
    Ok(())
}

/// With a 5 s poll, a job delayed to a later second is moved at that second: the loop
/// wakes for the first timestamp not yet due (by Redis's clock) that it saw at its last
/// look, not at the next poll.
#[test]
fn a_delayed_job_is_moved_at_its_second_not_at_the_next_poll() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url())?;
    let due = now() + 3;
    delay(&client, due, "soon", 1)?;
    let s = Sched::start(&server, &["-i", "5"], &[])?;
    assert!(
        eventually(Duration::from_secs(10), || llen(
            &server,
            "resque:queue:soon"
        ) == 1),
        "{}",
        s.log_text()
    );
    let landed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs_f64();
    let late = landed - due as f64;
    // Polling every 5 s from start-up would move it 2 s late; waking at its second, within
    // the test's 10 ms polling and a loaded machine's slack.
    assert!(late < 0.5, "{late:.3} s late");
    Ok(())
}

/// `-B -P FILE -l FILE -F json`: it detaches, writes its pid, logs JSON lines to the file;
/// TERM (by that pid) stops it, removes the pid file and gives the lock up.
#[test]
fn background_with_a_pidfile_and_json_logs() -> Result<()> {
    let server = RedisServer::start();
    let dir = tempfile::tempdir()?;
    let (pidfile, logfile) = (dir.path().join("sched.pid"), dir.path().join("sched.log"));
    let mut s = Sched::start(
        &server,
        &[
            "-B",
            "-v",
            "-i",
            "0.2",
            "-P",
            pidfile.to_str().context("path")?,
            "-l",
            logfile.to_str().context("path")?,
            "-F",
            "json",
        ],
        &[],
    )?;
    assert_eq!(
        s.wait(Duration::from_secs(10))?,
        0,
        "the foreground process returns at once"
    );
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|p| !p.trim().is_empty())
    }));
    let pid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    assert!(eventually(Duration::from_secs(5), || lock_holder(&server)
        .is_some_and(|h| h.ends_with(&format!(":{pid}")))));
    let log = std::fs::read_to_string(&logfile)?;
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not JSON: {line:?}"))?;
        assert_eq!(v["progname"], "resque-scheduler");
    }
    let first: serde_json::Value = serde_json::from_str(log.lines().next().context("a log line")?)?;
    assert_eq!(first["progname"], "resque-scheduler");
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["msg"], "Starting");
    let _ = Command::new("kill")
        .arg("-15")
        .arg(pid.to_string())
        .status();
    assert!(
        eventually(Duration::from_secs(5), || !pidfile.exists()),
        "the pid file is removed at exit"
    );
    assert!(eventually(Duration::from_secs(5), || lock_holder(&server).is_none()));
    Ok(())
}

#[test]
fn json_lines_carry_the_schedule_and_the_delayed_spans() -> Result<()> {
    let server = RedisServer::start();
    let client = Client::connect(&server.url())?;
    let past = now() - 30;
    server.cmd(&["RPUSH", &format!("resque:delayed:{past}"), "{not json"])?;
    server.cmd(&[
        "ZADD",
        "resque:delayed_queue_schedule",
        &past.to_string(),
        &past.to_string(),
    ])?;
    let s = Sched::start(&server, &["-i", "0.2", "-D", "false", "-F", "json"], &[])?;
    let config = resque_protocol::ScheduleConfig::decode(
        br#"{"class":"Dyn","every":"1s","queue":"dyn","args":[7]}"#,
    )?;
    client.set_schedule("dyn", &config)?;
    let json = |msg: &str| -> Option<serde_json::Value> {
        s.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["msg"].as_str().is_some_and(|m| m.starts_with(msg)))
    };
    assert!(
        eventually(Duration::from_secs(10), || json("queueing Dyn").is_some()),
        "{}",
        s.log_text()
    );
    let fired = json("queueing Dyn").context("fired")?;
    assert_eq!(fired["span"], "schedule", "{fired}");
    assert_eq!(fired["schedule"], "dyn");
    assert!(fired["slot"].is_i64(), "{fired}");
    assert!(
        eventually(Duration::from_secs(10), || json("a delayed item cannot")
            .is_some()),
        "{}",
        s.log_text()
    );
    let aside = json("a delayed item cannot").context("set aside")?;
    assert_eq!(aside["span"], "delayed", "{aside}");
    assert_eq!(aside["at"], past);
    assert_eq!(aside["level"], "ERROR");
    for line in s.log_text().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not JSON: {line:?}"))?;
        assert_eq!(v["progname"], "resque-scheduler");
    }
    Ok(())
}
