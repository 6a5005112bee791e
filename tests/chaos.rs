//! The chaos run: jobs drained by forking and in-process workers while their parents and
//! forked children are SIGKILLed at random, workers are stopped (SIGSTOP) past a heartbeat
//! interval and continued, and redis-server (append-only, `appendfsync always`) is killed
//! and started again; then a fresh worker drains what is left and reaps the dead, and the
//! accounting is checked from Redis and the jobs' own log:
//!
//! - no worker ends by itself (a Redis restart never ends one);
//! - no job is lost: each one ran to its end, has a failure record, or is still queued;
//! - nothing is counted twice: `stat:processed` + the reapers' records + the queued jobs is
//!   exactly the number of jobs;
//! - without reliable mode no job starts twice (nothing is ever requeued); in reliable mode
//!   the jobs that ran twice are counted and reported (a worker killed or stopped while its
//!   job ran: at least once), and a dead worker's job is never left as a DirtyExit record.
//!
//! `scripts/chaos.sh` runs it at full size; `tests/tests/chaos.rs` runs a small one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use resque_test_support::RedisServer;
use serde_json::Value;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The worker binary (the e2e crate's `resque-test-worker`, which has `ChaosJob`).
    pub worker_bin: PathBuf,
    /// Jobs enqueued at the start.
    pub jobs: u64,
    /// How long the chaos lasts.
    pub duration: Duration,
    /// Forking workers (`FORK_PER_JOB=true`).
    pub forking: usize,
    /// In-process workers (`FORK_PER_JOB=false`).
    pub in_process: usize,
    /// Reliable mode (`RESQUE_RELIABLE=1`).
    pub reliable: bool,
    /// Kill redis-server and start it again once, half-way.
    pub restart_redis: bool,
    /// The workers' heartbeat interval in seconds.
    pub heartbeat_secs: u64,
    /// The random actions' seed.
    pub seed: u64,
    /// Run Ruby Resque 3.0's worker instead of ours (the drain is still ours): its
    /// source tree, the peer harness's `work.rb`, and a file with a Ruby `ChaosJob`.
    pub ruby: Option<RubyWorker>,
}

/// How to start Ruby Resque's worker for [`Config::ruby`].
#[derive(Debug, Clone)]
pub struct RubyWorker {
    /// An extracted Resque 3.0 source tree (with `lib/resque.rb`).
    pub resque_src: PathBuf,
    /// The peer harness's `work.rb` (runs one `Resque::Worker`).
    pub work_rb: PathBuf,
    /// A Ruby file defining `ChaosJob` (`scripts/ruby/chaos_job.rb`).
    pub job_rb: PathBuf,
}

/// What a run did and found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Jobs enqueued.
    pub jobs: u64,
    /// Worker parents SIGKILLed (and replaced).
    pub parents_killed: usize,
    /// Forked children SIGKILLed.
    pub children_killed: usize,
    /// Workers stopped past a heartbeat interval and continued.
    pub stops: usize,
    /// redis-server restarts.
    pub restarts: usize,
    /// `stat:processed` at the end.
    pub processed: i64,
    /// Jobs still queued at the end.
    pub queued: u64,
    /// Failure records, by exception.
    pub records: BTreeMap<String, usize>,
    /// Records a reaper wrote for a dead worker's job (never counted in `stat:processed`).
    pub reaper_records: u64,
    /// Jobs that never finished, have no record and are not queued.
    pub lost: Vec<u64>,
    /// Jobs that started more than once.
    pub ran_twice: Vec<u64>,
    /// Workers that ended without being killed, with how.
    pub unexpected_exits: Vec<String>,
    /// Whether the final worker drained the queue and was left alone in the registry.
    pub drained: bool,
    /// Whether reliable mode was on.
    pub reliable: bool,
    /// Whether Ruby Resque's worker ran the chaos.
    pub ruby: bool,
    /// For each lost job, what the jobs' log says of it (to find out why).
    pub evidence: Vec<String>,
}

impl Report {
    /// The run's figures on one line.
    pub fn summary(&self) -> String {
        format!(
            "{}{} jobs, {} mode: {} parents and {} children killed, {} stops, {} Redis restarts; \
             processed {}, queued {}, records {:?} (by reapers {}); lost {}, ran twice {}, \
             workers ended by themselves {}",
            if self.ruby {
                "Ruby Resque 3.0 workers: "
            } else {
                ""
            },
            self.jobs,
            if self.reliable { "reliable" } else { "default" },
            self.parents_killed,
            self.children_killed,
            self.stops,
            self.restarts,
            self.processed,
            self.queued,
            self.records,
            self.reaper_records,
            self.lost.len(),
            self.ran_twice.len(),
            self.unexpected_exits.len(),
        )
    }

    /// Every broken invariant, in words (none for a good run).
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.drained {
            v.push("the final worker did not drain the queue and reap the dead".to_owned());
        }
        if !self.unexpected_exits.is_empty() {
            v.push(format!(
                "workers ended by themselves: {:?}",
                self.unexpected_exits
            ));
        }
        if !self.lost.is_empty() {
            v.push(format!("jobs lost: {:?}", self.lost));
        }
        let counted =
            u64::try_from(self.processed).unwrap_or(0) + self.reaper_records + self.queued;
        if counted != self.jobs {
            v.push(format!(
                "processed {} + reapers' records {} + queued {} = {counted}, not {} jobs",
                self.processed, self.reaper_records, self.queued, self.jobs
            ));
        }
        if !self.reliable && !self.ran_twice.is_empty() {
            v.push(format!(
                "jobs started twice without reliable mode: {:?}",
                self.ran_twice
            ));
        }
        // At least once: only a job whose worker was killed or stopped under it runs again.
        if self.ran_twice.len() > self.parents_killed + self.stops {
            v.push(format!(
                "{} jobs ran twice, more than the {} workers killed or stopped",
                self.ran_twice.len(),
                self.parents_killed + self.stops
            ));
        }
        if self.reliable && self.reaper_records > 0 {
            v.push(format!(
                "{} dead workers' jobs were recorded as failures instead of requeued",
                self.reaper_records
            ));
        }
        v
    }
}

/// A small deterministic generator (xorshift64*): the run's actions follow its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Worker {
    child: Child,
    forking: bool,
}

struct Run<'a> {
    cfg: &'a Config,
    server: RedisServer,
    log: PathBuf,
    workers: Vec<Worker>,
    report: Report,
}

impl Run<'_> {
    fn spawn(&self, forking: bool, interval: &str) -> Result<Worker> {
        self.spawn_as(forking, interval, self.cfg.ruby.as_ref())
    }

    fn spawn_as(&self, forking: bool, interval: &str, ruby: Option<&RubyWorker>) -> Result<Worker> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.server.dir().join("workers.log"))?;
        let mut c = match ruby {
            Some(r) => {
                let mut c = Command::new("ruby");
                c.arg(format!("-I{}/lib", r.resque_src.display()))
                    .arg(&r.work_rb)
                    .arg("chaos")
                    .env("RESQUE_RB_SRC", &r.resque_src)
                    .env("JOBS_REQUIRE", &r.job_rb);
                // Ruby keeps its own heartbeat (60 s): the harness would set a Float, and
                // Resque 3.0 then fails to start (`SET ... EX 1.0`: not an integer).
                c
            }
            None => Command::new(&self.cfg.worker_bin),
        };
        for v in [
            "QUEUE",
            "COUNT",
            "PIDFILE",
            "BACKGROUND",
            "VVERBOSE",
            "RESQUE_NAMESPACE",
        ] {
            c.env_remove(v);
        }
        // Over TCP, as production: fred resolves the address again at every reconnect.
        let port = self.server.port().unwrap_or(0);
        c.env("REDIS_URL", format!("redis://127.0.0.1:{port}/0"))
            .env("QUEUES", "chaos")
            .env("INTERVAL", interval)
            .env("VERBOSE", "1")
            .env("FORK_PER_JOB", if forking { "true" } else { "false" })
            .env(
                "RESQUE_HEARTBEAT_INTERVAL",
                self.cfg.heartbeat_secs.to_string(),
            )
            .env("RESQUE_RELIABLE", if self.cfg.reliable { "1" } else { "0" })
            .env("HOOK_LOG", &self.log)
            .stdout(out.try_clone()?)
            .stderr(out);
        Ok(Worker {
            child: c.spawn().context("starting a worker")?,
            forking,
        })
    }

    fn pid(w: &Worker) -> Pid {
        Pid::from_raw(i32::try_from(w.child.id()).unwrap_or(0))
    }

    /// Workers that ended by themselves are reported and replaced.
    fn check_exits(&mut self) -> Result<()> {
        for i in 0..self.workers.len() {
            if let Some(status) = self.workers[i].child.try_wait()? {
                let forking = self.workers[i].forking;
                let pid = self.workers[i].child.id();
                // Its last words, to tell why (the workers share one log; lines carry pids).
                let log = std::fs::read_to_string(self.server.dir().join("workers.log"))
                    .unwrap_or_default();
                let mine: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains(&pid.to_string()))
                    .collect();
                let last = mine[mine.len().saturating_sub(5)..].join(" | ");
                // Error lines need not name the pid: the log's last few, whoever wrote them.
                let errors: Vec<&str> = log.lines().filter(|l| l.contains("rror")).collect();
                let errors = errors[errors.len().saturating_sub(3)..].join(" | ");
                self.report.unexpected_exits.push(format!(
                    "{} worker {pid} ended: {status}; its last lines: {last}; the log's last \
                     errors: {errors}",
                    if forking { "forking" } else { "in-process" },
                ));
                self.workers[i] = self.spawn(forking, "0.1")?;
            }
        }
        Ok(())
    }

    fn act(&mut self, rng: &mut Rng) -> Result<()> {
        let i = usize::try_from(rng.below(self.workers.len() as u64)).unwrap_or(0);
        match rng.below(10) {
            0..=3 => {
                // A worker parent killed: its forked child, if any, is orphaned and runs on.
                let forking = self.workers[i].forking;
                let _ = kill(Self::pid(&self.workers[i]), Signal::SIGKILL);
                let _ = self.workers[i].child.wait();
                self.report.parents_killed += 1;
                self.workers[i] = self.spawn(forking, "0.1")?;
            }
            4..=7 => {
                let forking: Vec<usize> = (0..self.workers.len())
                    .filter(|&j| self.workers[j].forking)
                    .collect();
                if let Some(&j) = forking.get(usize::try_from(rng.below(forking.len() as u64))?) {
                    let parent = self.workers[j].child.id();
                    if let Some(child) = children_of(parent).first() {
                        let _ = kill(Pid::from_raw(i32::try_from(*child)?), Signal::SIGKILL);
                        self.report.children_killed += 1;
                    }
                }
            }
            _ => {
                // Stopped past a heartbeat interval (its lease may run out), then continued.
                let pid = Self::pid(&self.workers[i]);
                let _ = kill(pid, Signal::SIGSTOP);
                std::thread::sleep(Duration::from_millis(1200 * self.cfg.heartbeat_secs));
                let _ = kill(pid, Signal::SIGCONT);
                self.report.stops += 1;
            }
        }
        Ok(())
    }

    /// Stops every worker (QUIT), then waits for the orphaned children (reparented to this
    /// process, a child subreaper) to finish their jobs.
    fn stop_all(&mut self) -> Result<()> {
        for w in &self.workers {
            let _ = kill(Self::pid(w), Signal::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for w in &mut self.workers {
            while w.child.try_wait()?.is_none() {
                if Instant::now() > deadline {
                    let _ = w.child.kill();
                    let _ = w.child.wait();
                    self.report
                        .unexpected_exits
                        .push(format!("worker {} did not stop on QUIT", w.child.id()));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let redis = self.server_pid();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(-1),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            let left: Vec<u32> = children_by_ppid(std::process::id())
                .into_iter()
                .filter(|p| Some(*p) != redis)
                .collect();
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn server_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.server.dir().join("redis.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .or_else(|| {
                children_by_ppid(std::process::id()).into_iter().find(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim() == "redis-server")
                })
            })
    }

    /// A fresh worker drains what is left and reaps the dead; done when the queue is empty
    /// and it is alone in the registry with no other worker's job in flight.
    fn drain(&mut self) -> Result<()> {
        // Ours, whichever worker ran the chaos: it reaps the dead by Ruby's rules too.
        let mut w = self.spawn_as(true, "0.1", None)?;
        let id_part = format!(":{}:", w.child.id());
        let deadline = Instant::now() + Duration::from_secs(60 + 10 * self.cfg.heartbeat_secs);
        while Instant::now() < deadline {
            let queued = self.server.get_str(&["LLEN", "resque:queue:chaos"]);
            let workers = self.server.get_list(&["SMEMBERS", "resque:workers"]);
            let busy = self.server.get_list(&["KEYS", "resque:worker:*"]);
            let inflight = self
                .server
                .get_list(&["KEYS", "resque:resque-rs:inflight:*"]);
            let alone = workers.len() == 1 && workers[0].contains(&id_part);
            let idle = busy.iter().all(|k| k.ends_with(":started")) && inflight.is_empty();
            if queued.as_deref() == Some("0") && alone && idle {
                self.report.drained = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = kill(Self::pid(&w), Signal::SIGQUIT);
        let deadline = Instant::now() + Duration::from_secs(30);
        while w.child.try_wait()?.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if w.child.try_wait()?.is_none() {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        Ok(())
    }

    fn account(&mut self) -> Result<()> {
        let s = &self.server;
        self.report.processed = s
            .get_str(&["GET", "resque:stat:processed"])
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut accounted = vec![false; usize::try_from(self.cfg.jobs)?];
        let mut mark = |n: Option<u64>| {
            if let Some(slot) = n
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| accounted.get_mut(n))
            {
                *slot = true;
            }
        };
        for item in s.get_list(&["LRANGE", "resque:queue:chaos", "0", "-1"]) {
            self.report.queued += 1;
            let v: Value = serde_json::from_str(&item).unwrap_or_default();
            mark(v["args"][0].as_u64());
        }
        for rec in s.get_list(&["LRANGE", "resque:failed", "0", "-1"]) {
            let v: Value = serde_json::from_str(&rec).unwrap_or_default();
            let exception = v["exception"].as_str().unwrap_or("?").to_owned();
            let by_reaper = exception == "Resque::PruneDeadWorkerDirtyExit"
                || exception == "Resque::PoisonJob"
                || (exception == "Resque::DirtyExit" && v["error"] == "Job still being processed");
            if by_reaper {
                self.report.reaper_records += 1;
            }
            *self.report.records.entry(exception).or_default() += 1;
            mark(v["payload"]["args"][0].as_u64());
        }
        let mut starts: BTreeMap<u64, usize> = BTreeMap::new();
        for line in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            let mut parts = line.split_whitespace();
            let (what, n) = (
                parts.next(),
                parts.next().and_then(|n| n.parse::<u64>().ok()),
            );
            match what {
                Some("start") => *starts.entry(n.unwrap_or(u64::MAX)).or_default() += 1,
                Some("done") => mark(n),
                _ => {}
            }
        }
        self.report.ran_twice = starts
            .into_iter()
            .filter(|(_, c)| *c > 1)
            .map(|(n, _)| n)
            .collect();
        self.report.lost = accounted
            .iter()
            .enumerate()
            .filter(|(_, a)| !**a)
            .filter_map(|(n, _)| u64::try_from(n).ok())
            .collect();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        for n in &self.report.lost {
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| l.split_whitespace().nth(1) == Some(n.to_string().as_str()))
                .collect();
            self.report.evidence.push(format!("job {n}: {lines:?}"));
        }
        Ok(())
    }
}

/// Runs the chaos of `cfg` and returns what it found (see [`Report::violations`]).
///
/// # Errors
/// When the run itself cannot be set up (no redis-server, no worker binary).
pub fn run(cfg: &Config) -> Result<Report> {
    // Orphaned job processes (their worker killed) become ours, to be waited for.
    nix::sys::prctl::set_child_subreaper(true)?;
    let server = RedisServer::start_tcp_persistent();
    let log = server.dir().join("jobs.log");
    let mut run = Run {
        cfg,
        server,
        log,
        workers: Vec::new(),
        report: Report {
            jobs: cfg.jobs,
            reliable: cfg.reliable,
            ruby: cfg.ruby.is_some(),
            ..Report::default()
        },
    };
    // Each job takes long enough that the jobs last about as long as the chaos.
    let slots = u64::try_from(cfg.forking + cfg.in_process)
        .unwrap_or(1)
        .max(1);
    let mean_ms = u64::try_from(cfg.duration.as_millis()).unwrap_or(0) * slots / cfg.jobs.max(1);
    let mut rng = Rng(cfg.seed | 1);
    let mut batch = vec!["RPUSH".to_owned(), "resque:queue:chaos".to_owned()];
    for n in 0..cfg.jobs {
        let ms = rng.below(2 * mean_ms + 1);
        batch.push(format!(r#"{{"class":"ChaosJob","args":[{n},{ms}]}}"#));
        if batch.len() == 502 || n + 1 == cfg.jobs {
            run.server.cmd(&batch)?;
            batch.truncate(2);
        }
    }
    run.server.cmd(&["SADD", "resque:queues", "chaos"])?;
    for i in 0..cfg.forking + cfg.in_process {
        let w = run.spawn(i < cfg.forking, "0.1")?;
        run.workers.push(w);
    }

    let start = Instant::now();
    let mut next = start + Duration::from_millis(500 + rng.below(1500));
    let mut restarted = !cfg.restart_redis;
    while start.elapsed() < cfg.duration {
        run.check_exits()?;
        if !restarted && start.elapsed() >= cfg.duration / 2 {
            run.server.stop();
            std::thread::sleep(Duration::from_millis(300));
            run.server.restart();
            run.report.restarts += 1;
            restarted = true;
        }
        if Instant::now() >= next {
            run.act(&mut rng)?;
            next = Instant::now() + Duration::from_millis(500 + rng.below(1500));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run.check_exits()?;
    run.stop_all()?;
    run.drain()?;
    run.account()?;
    Ok(run.report)
}

/// The children of `pid` (Linux's per-task list of the main thread).
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Every process whose parent is `ppid` (reparented orphans included), from `/proc`.
fn children_by_ppid(ppid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                // `pid (comm) state ppid ...`: comm may hold spaces, so read after the ')'.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(ppid)
            })
        })
        .collect()
}
