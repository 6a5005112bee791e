//! A worker for the end-to-end tests: the peer harness's jobs, and jobs that panic, abort,
//! leak memory or enqueue other jobs.

use resque::Value;
use resque::prelude::*;
use resque::protocol::json::ruby_inspect;

macro_rules! job {
    ($name:ident, $queue:literal, |$args:ident, $ctx:ident| $body:expr) => {
        struct $name;
        impl Job for $name {
            const CLASS: &'static str = stringify!($name);
            const QUEUE: &'static str = $queue;
            type Args = Vec<Value>;
            fn perform($args: &Self::Args, $ctx: &mut Context) -> Result<(), JobError> {
                $body
            }
        }
    };
}

job!(NoopJob, "noop", |_a, _c| Ok(()));
// Logs a line of its own: with LOGFORMAT=json it carries the job's span.
job!(LogJob, "log", |a, _c| {
    let repo = ruby_inspect(&Value::Array(a.clone()));
    tracing::info!(repo = repo.as_str(), "archiving");
    Ok(())
});
job!(FailJob, "fail", |a, _c| Err(JobError::msg(format!(
    "FailJob failed: {}",
    ruby_inspect(&Value::Array(a.clone()))
))));
/// Sleeps `args[0]` seconds; its `on_failure` hook logs, so tests see it run for a child
/// that was killed.
struct SleepJob;
impl Job for SleepJob {
    const CLASS: &'static str = "SleepJob";
    const QUEUE: &'static str = "sleep";
    type Args = Vec<Value>;
    fn perform(a: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        let secs = a.first().and_then(Value::as_f64).unwrap_or(5.0);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
        Ok(())
    }
    fn on_failure(e: &JobError, _: &Self::Args) {
        hook_log(format!(
            "on_failure SleepJob {} {}",
            e.exception(),
            std::process::id()
        ));
    }
}
job!(PanicJob, "bad", |_a, _c| panic!("this job panics"));
job!(AbortJob, "bad", |_a, _c| std::process::abort());
job!(LeakJob, "bad", |_a, _c| {
    // 200 MB, touched so it is really resident; the child takes it to its grave.
    let v = vec![7u8; 200 * 1024 * 1024];
    std::mem::forget(v);
    Ok(())
});
job!(DaemonJob, "bad", |_a, _c| {
    // Leaves a forked grandchild (no exec) holding every inherited descriptor for 5 s.
    #[allow(unsafe_code)]
    // SAFETY: test-only; the grandchild only sleeps and exits.
    unsafe {
        if libc_fork() == 0 {
            std::thread::sleep(std::time::Duration::from_secs(5));
            libc_exit(0);
        }
    }
    Err(JobError::msg("left a daemon behind"))
});
job!(ScribbleJob, "bad", |_a, _c| {
    // Plays a child killed halfway through its report: writes the start of one to every
    // pipe it may write to (the report pipe among them), then aborts.
    for entry in std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
    {
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let write_only = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .is_some_and(|f| f & 3 == 1);
        if target.to_string_lossy().starts_with("pipe:")
            && write_only
            && let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>()
        {
            let half = br#"{"exception":"Half"#;
            #[allow(unsafe_code)]
            // SAFETY: test-only; writes a few bytes to a descriptor this process has.
            unsafe {
                libc_write(fd, half.as_ptr(), half.len());
            }
        }
    }
    std::process::abort()
});
job!(RecordJob, "record", |a, _c| {
    hook_log(format!("ran {}", Value::Array(a.clone())));
    Ok(())
});
job!(SlowOnceJob, "slow", |a, _c| {
    // Logs each run; the first run (no marker file beside HOOK_LOG yet) then takes 30 s, so
    // a test can kill its worker mid-job and see the job run again, quickly.
    hook_log(format!(
        "ran {} {}",
        Value::Array(a.clone()),
        std::process::id()
    ));
    let marker = format!("{}.slow", std::env::var("HOOK_LOG").unwrap_or_default());
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .is_ok()
    {
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    Ok(())
});
job!(ChaosJob, "chaos", |a, _c| {
    // The chaos run's job: logs its start and its end, and takes args[1] milliseconds.
    let n = a.first().cloned().unwrap_or_default();
    hook_log(format!("start {n} {}", std::process::id()));
    let ms = a.get(1).and_then(Value::as_u64).unwrap_or(0);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    hook_log(format!("done {n} {}", std::process::id()));
    Ok(())
});
job!(LatencyJob, "latency", |a, _c| {
    // The pickup benchmark's job: logs how long after args[0] (the enqueuer's clock, in
    // nanoseconds since the epoch) it started.
    let enqueued = a.first().and_then(Value::as_u64).unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    hook_log(format!("pickup {}", now.saturating_sub(enqueued)));
    Ok(())
});
job!(KillerJob, "killer", |a, _c| {
    // Kills its own worker with SIGKILL (the parent, or the process itself without fork):
    // a job that takes its worker down every time, a poison job.
    hook_log(format!(
        "ran {} {}",
        Value::Array(a.clone()),
        std::process::id()
    ));
    let in_process = std::env::var("FORK_PER_JOB").is_ok_and(|v| v == "false");
    #[allow(unsafe_code)]
    // SAFETY: test-only; kill(2) and getppid(2) take and return plain integers.
    unsafe {
        let target = if in_process {
            std::process::id() as i32
        } else {
            libc_getppid()
        };
        libc_kill(target, 9);
    }
    Ok(())
});
job!(SpawnJob, "spawn", |a, c| {
    let n = a.first().and_then(Value::as_u64).unwrap_or(1);
    for i in 0..n {
        c.enqueue::<NoopJob>(vec![i.into()])
            .map_err(|e| JobError::msg(e.to_string()))?;
    }
    Ok(())
});

/// Shared state that says where it was made (`Builder::state`), and how many were made in
/// this process.
struct Made {
    pid: u32,
    number: u64,
}
static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

job!(StateJob, "state", |_a, c| {
    let made = c.state::<Made>()?;
    hook_log(format!(
        "state made_in={} runs_in={} number={}",
        made.pid,
        std::process::id(),
        made.number
    ));
    Ok(())
});

/// The application's database, as shared state: a Redis connection of its own, opened by
/// the first job that needs it. A connection is not fork-safe (made in the parent, a child
/// would share its socket), so the worker must make this after the fork.
struct Db {
    url: String,
    pid: u32,
    conn: tokio::sync::OnceCell<resque::Client>,
}

/// A struct argument: `"args":[{"n":3}]`, as Ruby's `Resque.enqueue(AsyncStateJob, n: 3)`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Visit {
    n: u64,
}

/// An async job: counts a visit through the shared database and enqueues a NoopJob through
/// the worker's connection, with a real await in between.
struct AsyncStateJob;
impl AsyncJob for AsyncStateJob {
    const CLASS: &'static str = "AsyncStateJob";
    const QUEUE: &'static str = "async";
    type Args = Visit;
    async fn perform(visit: &Visit, ctx: &mut Context) -> Result<(), JobError> {
        let db = ctx.state::<Db>()?;
        let conn = db
            .conn
            .get_or_try_init(|| resque::Client::connect(&db.url))
            .await?;
        conn.incr_stat("visits", visit.n as i64).await?;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        ctx.client()
            .await?
            .enqueue::<NoopJob>(vec![visit.n.into()])
            .await?;
        if visit.n == 0 {
            panic!("an async job panics");
        }
        hook_log(format!(
            "async made_in={} runs_in={}",
            db.pid,
            std::process::id()
        ));
        Ok(())
    }
}

// Test-only: a raw fork without exec, which is exactly the misbehaviour under test.
#[allow(unsafe_code)]
unsafe extern "C" {
    #[link_name = "fork"]
    fn libc_fork() -> i32;
    #[link_name = "_exit"]
    fn libc_exit(code: i32) -> !;
    #[link_name = "getppid"]
    fn libc_getppid() -> i32;
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
    #[link_name = "write"]
    fn libc_write(fd: i32, buf: *const u8, len: usize) -> isize;
}

/// Appends a line to the file named by HOOK_LOG (if set): what the hook tests read.
fn hook_log(line: String) {
    if let Ok(path) = std::env::var("HOOK_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // One write(2) a line: with O_APPEND, lines from many processes never mix
            // (`writeln!` may write the line and its newline separately).
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// How many times the file at `args[0]` has been appended to, after appending once more:
/// the run number of a retried job (1 the first).
fn run_number(a: &[Value]) -> usize {
    let path = a.first().and_then(Value::as_str).unwrap_or("/dev/null");
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(b"run\n");
    }
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// resque-retry jobs: each `Args` is `[path of a run counter file, ...]`.
macro_rules! retry_job {
    ($name:ident, $policy:expr, |$args:ident, $run:ident| $body:expr) => {
        struct $name;
        impl Job for $name {
            const CLASS: &'static str = stringify!($name);
            const QUEUE: &'static str = "retry";
            type Args = Vec<Value>;
            fn perform($args: &Self::Args, _: &mut Context) -> Result<(), JobError> {
                let $run = run_number($args);
                $body
            }
            fn retry_policy() -> Option<resque::RetryPolicy> {
                Some($policy)
            }
        }
    };
}
// Fails twice, then passes: three runs with a limit of 3.
retry_job!(
    FlakyJob,
    resque::RetryPolicy::limit(3),
    |_a, run| if run <= 2 {
        Err(JobError::msg(format!("flaky run {run}")))
    } else {
        Ok(())
    }
);
// Always fails: runs limit + 1 = 3 times, then one failure record.
retry_job!(ExhaustJob, resque::RetryPolicy::limit(2), |_a, run| Err(
    JobError::msg(format!("run {run}"))
));
// A fatal exception is never retried.
retry_job!(
    FatalJob,
    resque::RetryPolicy::limit(5).fatal_exceptions(["Fatal"]),
    |_a, _run| Err(JobError::new("Fatal", "no point retrying"))
);
// An ignored exception does not count: three `Blip`s with a limit of 1, then a pass.
retry_job!(
    IgnoredJob,
    resque::RetryPolicy::limit(1).ignore_exceptions(["Blip"]),
    |_a, run| if run <= 3 {
        Err(JobError::new("Blip", format!("blip {run}")))
    } else {
        Ok(())
    }
);
// The peer harness's RetryOnceDelayedJob: one retry a minute later, always failing.
retry_job!(
    RetryOnceDelayedJob,
    resque::RetryPolicy::limit(1).delay(60.0),
    |a, _run| Err(JobError::msg(format!(
        "RetryOnceDelayedJob failed: {}",
        ruby_inspect(&Value::Array(a.clone()))
    )))
);
/// resque-retry's hooks: only RuntimeErrors saying "transient" retry (a criteria check, as
/// the exception list names another class), under a custom identifier, with new args, and
/// the callbacks log.
struct CriteriaJob;
impl Job for CriteriaJob {
    const CLASS: &'static str = "CriteriaJob";
    const QUEUE: &'static str = "retry";
    type Args = Vec<Value>;
    fn perform(a: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        Err(JobError::msg(format!(
            "{} failure",
            a.get(1).and_then(Value::as_str).unwrap_or("?")
        )))
    }
    fn retry_policy() -> Option<resque::RetryPolicy> {
        Some(
            resque::RetryPolicy::limit(1)
                .delay(60.0)
                .retry_exceptions(["Nope"]),
        )
    }
    fn retry_criteria(_e: &str, message: &str, _a: &Self::Args) -> bool {
        message.contains("transient")
    }
    fn retry_identifier(_a: &Self::Args) -> Option<String> {
        Some("account 7".to_owned())
    }
    fn retry_args(a: &Self::Args) -> Option<Self::Args> {
        Some(vec![
            a.first().cloned().unwrap_or_default(),
            "retried".into(),
        ])
    }
    fn try_again_callback(e: &str, a: &Self::Args) {
        hook_log(format!(
            "try_again CriteriaJob {e} {}",
            ruby_inspect(&Value::Array(a.clone()))
        ));
    }
    fn give_up_callback(e: &str, a: &Self::Args) {
        hook_log(format!(
            "give_up CriteriaJob {e} {}",
            ruby_inspect(&Value::Array(a.clone()))
        ));
    }
}

/// An async job that sleeps `args[0]` seconds (awaiting), then logs that it finished.
struct AsyncSleepJob;
impl AsyncJob for AsyncSleepJob {
    const CLASS: &'static str = "AsyncSleepJob";
    const QUEUE: &'static str = "sleep";
    type Args = Vec<Value>;
    async fn perform(a: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        let secs = a.first().and_then(Value::as_f64).unwrap_or(5.0);
        tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
        hook_log(format!("AsyncSleepJob finished {secs}"));
        Ok(())
    }
}

/// Hangs; its own timeout (0.3 s) stops it.
struct HangJob;
impl Job for HangJob {
    const CLASS: &'static str = "HangJob";
    const QUEUE: &'static str = "sleep";
    type Args = Vec<Value>;
    const TIMEOUT: Option<std::time::Duration> = Some(std::time::Duration::from_millis(300));
    fn perform(_: &Self::Args, _: &mut Context) -> Result<(), JobError> {
        std::thread::sleep(std::time::Duration::from_secs(30));
        Ok(())
    }
}
// Retries as another class (resque-retry's @retry_job_delegate).
retry_job!(
    DelegateJob,
    resque::RetryPolicy::limit(1)
        .delegate("DelegateTarget")
        .queue("delegated"),
    |_a, _run| Err(JobError::msg("delegate me"))
);
// fixture 18's RetryExpireJob: the counter expires retry_delay + expire_retry_key_after.
retry_job!(
    ExpireJob,
    resque::RetryPolicy::limit(3)
        .delay(30.0)
        .expire_retry_key_after(std::time::Duration::from_secs(3_600)),
    |_a, _run| Err(JobError::msg("expire"))
);
// fixture 18's RetryExceptionsJob: delays per exception class (a Hash @retry_exceptions).
retry_job!(
    HashDelaysJob,
    resque::RetryPolicy::default()
        .retry_exception_with_delays("NetworkError", [5.0, 50.0])
        .retry_exception_with_delays("IOError", [7.0]),
    |_a, _run| Err(JobError::new("NetworkError", "down"))
);
// Always passes: the cost of a retrying class that succeeds.
retry_job!(RetryOkJob, resque::RetryPolicy::limit(1), |_a, _run| Ok(()));
// Retried through the delayed queue, a minute later.
retry_job!(
    LaterJob,
    resque::RetryPolicy::limit(2)
        .delay(60.0)
        .queue("retry_later"),
    |_a, run| Err(JobError::msg(format!("later {run}")))
);

fn main() -> std::process::ExitCode {
    let pid = || std::process::id();
    resque::worker::Builder::cli()
        .before_first_fork(move || hook_log(format!("before_first_fork {}", pid())))
        .before_fork(move |j| {
            hook_log(format!(
                "before_fork {} {}",
                j.payload.class().unwrap_or("?"),
                pid()
            ))
        })
        .after_fork(move |j| {
            hook_log(format!(
                "after_fork {} {}",
                j.payload.class().unwrap_or("?"),
                pid()
            ))
        })
        .before_pause(|w| hook_log(format!("before_pause {w}")))
        .after_pause(|w| hook_log(format!("after_pause {w}")))
        .queue_empty(|| hook_log("queue_empty".into()))
        .worker_exit(|| hook_log("worker_exit".into()))
        .shutdown(|| hook_log("shutdown".into()))
        .job::<NoopJob>()
        .job::<LogJob>()
        .job::<FailJob>()
        .job::<SleepJob>()
        .job::<PanicJob>()
        .job::<AbortJob>()
        .job::<LeakJob>()
        .job::<SpawnJob>()
        .job::<RecordJob>()
        .job::<SlowOnceJob>()
        .job::<KillerJob>()
        .job::<ChaosJob>()
        .job::<LatencyJob>()
        .job::<DaemonJob>()
        .job::<ScribbleJob>()
        .job::<StateJob>()
        .job::<AsyncStateJob>()
        .job::<FlakyJob>()
        .job::<ExhaustJob>()
        .job::<FatalJob>()
        .job::<IgnoredJob>()
        .job::<LaterJob>()
        .job::<RetryOkJob>()
        .job::<HangJob>()
        .job::<CriteriaJob>()
        .job::<DelegateJob>()
        .job::<ExpireJob>()
        .job::<HashDelaysJob>()
        .job::<AsyncSleepJob>()
        .job::<RetryOnceDelayedJob>()
        .state(|| Made {
            pid: std::process::id(),
            number: MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
        })
        .state(|| Db {
            url: std::env::var("REDIS_URL").unwrap_or_default(),
            pid: std::process::id(),
            conn: tokio::sync::OnceCell::new(),
        })
        .main()
}
