//! One job: performed in a forked child (or in-process without fork), its [`Outcome`],
//! and the pipe a child reports a failure on.

use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jiff::Timestamp;
use nix::sys::wait::WaitStatus;
use resque_protocol::payload::field;
use resque_protocol::{Payload, Value, failure};
use resque_store::{Context, JobRuntime, Performed, Registry};

use super::exec::run_program;
use super::outcome::Outcome;
use super::{Error, JobInfo, Run};
use crate::config::Config;
use crate::fork::fork_child_patiently;
use crate::proctitle;

/// How long a fork refused for a passing reason is retried before the worker gives up.
const FORK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest error and backtrace a child reports, in bytes before encoding (the encoded report
/// is then cut to what the pipe holds: see [`report_json`]).
pub(super) const MAX_REPORT: usize = 48 * 1024;

/// The pipe forked children report their failures on: one for the worker's life, not one
/// a job (a pipe and three closes a job were 4% of the fork-per-job loop).
///
/// Only one child runs at a time, and the parent empties the pipe after every child that
/// did not exit 0 (a child writes only when its job failed, then exits 1). So each report
/// starts in an empty pipe, and whatever a killed child left half-written is read and
/// thrown away before the next fork. Both ends are non-blocking: a child whose report does
/// not fit gives up instead of blocking while its parent waits for it to exit.
#[derive(Debug)]
pub(super) struct ReportPipe {
    pub(super) read: OwnedFd,
    pub(super) write: OwnedFd,
}

impl ReportPipe {
    pub(super) fn new() -> Result<Self, Error> {
        use nix::fcntl::OFlag;
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(|e| Error::Sys {
                what: "creating the report pipe",
                source: e.into(),
            })?;
        Ok(Self { read, write })
    }

    /// Reads everything in the pipe (what the last child wrote).
    pub(super) fn drain(&self) -> String {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR) => {}
                // EAGAIN: all of it has been read.
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// In a child: writes `outcome`'s report to the (empty) report pipe, cut to fit it.
pub(super) fn send_report(pipe: std::os::fd::BorrowedFd<'_>, outcome: &Outcome) {
    use nix::fcntl::{FcntlArg, fcntl};
    // The pipe's capacity (64 KiB unless the user's pipe quota is spent: then 4 KiB).
    let room = fcntl(pipe, FcntlArg::F_GETPIPE_SZ)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(4096);
    let report = report_json(outcome, room);
    let mut rest = report.as_bytes();
    while !rest.is_empty() {
        match nix::unistd::write(pipe, rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            // Full (it cannot be, but a child must never wait for its parent to read): the
            // parent finds no whole report and records the exit status instead.
            Err(_) => break,
        }
    }
}

impl Run<'_> {
    /// Forks a child for the job and waits for it, handling signals meanwhile.
    pub(super) fn perform_with_fork(
        &mut self,
        queue: &str,
        payload: &Payload,
    ) -> Result<Outcome, Error> {
        if self.report.is_none() {
            self.report = Some(ReportPipe::new()?);
        }
        let Some(report) = self.report.as_ref() else {
            unreachable!("made just above")
        };
        let report_fd = report.write.as_fd();
        for h in &self.hooks.before_fork {
            h(JobInfo { queue, payload });
        }
        // The child only borrows: the closure is dropped in the parent right after the
        // fork, and freeing owned copies there would write (so copy) shared heap pages.
        let (registry, jobs, hooks, cfg, id) =
            (self.registry, self.jobs, self.hooks, self.cfg, self.id);
        self.wake.clear();
        // A reconnect's resolver thread or a moment at the process limit must not end the
        // worker (the job is already under worker:<id>): wait for them, up to 10 s.
        let child = || {
            move || {
                // The child: run the job, report a failure, leave.
                for h in &hooks.after_fork {
                    h(JobInfo { queue, payload });
                }
                let outcome = Runner::new(registry, jobs, cfg, id.as_str()).perform(
                    queue,
                    payload,
                    &mut Names::default(),
                );
                // A job that enqueued opened a connection: say goodbye to Redis.
                jobs.close();
                // Only a failure is reported (the parent reads the pipe only after an exit
                // status other than 0).
                let code = match &outcome {
                    Outcome::Done => 0,
                    Outcome::Failed { .. } => {
                        send_report(report_fd, &outcome);
                        1
                    }
                };
                let _ = std::io::Write::flush(&mut std::io::stdout());
                code
            }
        };
        // resque-heroku-signals, built in: with another child signal, only the parent
        // decides, and the child ignores a TERM sent to it directly.
        let ignore_term = self.cfg.child_signal != nix::sys::signal::Signal::SIGTERM;
        let pid = fork_child_patiently(child, ignore_term, FORK_PATIENCE)?;
        proctitle::set_forked(
            &self.cfg.procline_prefix,
            pid.as_raw(),
            Timestamp::now().as_second(),
        );
        let class = payload.class().unwrap_or_default();
        let timeout = self.cfg.timeout_for(class, self.registry.timeout_of(class));
        let (status, timed_out) = self.wait_child(pid, timeout)?;
        // A child reports only failures: nothing to read after a success. After anything
        // else the pipe is emptied, so no part of this child's report meets the next one's.
        let report = match status {
            WaitStatus::Exited(_, 0) => String::new(),
            _ => self
                .report
                .as_ref()
                .map(ReportPipe::drain)
                .unwrap_or_default(),
        };
        if timed_out {
            let secs = timeout.map(|t| t.as_secs_f64()).unwrap_or_default();
            return Ok(Outcome::Failed {
                exception: resque_store::job::JOB_TIMEOUT.to_owned(),
                error: format!(
                    "the job ran past its timeout of {secs} s and was stopped ({:?}, then KILL after {} s if still running; it ended: {status:?})",
                    self.cfg.child_signal,
                    self.cfg.timeout_grace.as_secs_f64()
                ),
                backtrace: Vec::new(),
                count_failed: true,
            });
        }
        Ok(match status {
            WaitStatus::Exited(_, 0) => Outcome::Done,
            WaitStatus::Exited(_, code) => parse_report(&report).unwrap_or_else(|| {
                // Ruby records nothing for a child that exits non-zero by itself; ours only
                // do that after writing a report, so this is a crash we keep a record of.
                Outcome::failed(
                    failure::DIRTY_EXIT,
                    format!("Child process exited with status {code}"),
                )
            }),
            WaitStatus::Signaled(p, sig, _) => Outcome::Failed {
                exception: failure::DIRTY_EXIT.to_owned(),
                error: format!(
                    "Child process received unhandled signal pid {p} {sig:?} (signal {})",
                    sig as i32
                ),
                backtrace: Vec::new(),
                count_failed: false,
            },
            other => Outcome::failed(
                failure::DIRTY_EXIT,
                format!("Child process ended oddly: {other:?}"),
            ),
        })
    }
}

/// Runs a job class's `on_failure` hook for a failure found outside its `perform`.
pub(super) fn run_failure_hook(registry: &Registry, payload: &Value, exception: &str, error: &str) {
    let class = field(payload, "class")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let args = field(payload, "args")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let err = resque_store::JobError::new(exception, error);
    let _ = catch_unwind(AssertUnwindSafe(|| registry.on_failure(class, &err, &args)));
}

/// The queue's and worker's names a job's [`Context`] shares, kept from one job to the next:
/// they repeat (one worker; held jobs mostly share a queue), so a context then costs no copy.
#[derive(Default)]
pub(super) struct Names {
    queue: Option<Arc<str>>,
    worker: Option<Arc<str>>,
}

impl Names {
    fn get(&mut self, queue: &str, worker: &str) -> (Arc<str>, Arc<str>) {
        fn keep(slot: &mut Option<Arc<str>>, name: &str) -> Arc<str> {
            match slot {
                Some(kept) if **kept == *name => Arc::clone(kept),
                _ => Arc::clone(slot.insert(Arc::from(name))),
            }
        }
        (keep(&mut self.queue, queue), keep(&mut self.worker, worker))
    }
}

/// What running a job needs, borrowed from the worker: the job types and their state, the
/// jobs' runtime and connection, the `--exec` programs and this worker's id.
pub(super) struct Runner<'a> {
    pub(super) registry: &'a Arc<Registry>,
    pub(super) jobs: &'a Arc<JobRuntime>,
    pub(super) exec: &'a [(String, String)],
    pub(super) worker: &'a str,
    pub(super) cfg: &'a Config,
}

impl<'a> Runner<'a> {
    pub(super) fn new(
        registry: &'a Arc<Registry>,
        jobs: &'a Arc<JobRuntime>,
        cfg: &'a Config,
        worker: &'a str,
    ) -> Self {
        Self {
            registry,
            jobs,
            exec: &cfg.exec,
            worker,
            cfg,
        }
    }

    /// Runs one job with its hooks (in the child, or in-process), catching panics; its
    /// context takes the queue's and worker's names from `names`.
    pub(super) fn perform(&self, queue: &str, payload: &Payload, names: &mut Names) -> Outcome {
        let Some(class) = payload.class().filter(|c| !c.is_empty()) else {
            return Outcome::failed(failure::NAME_ERROR, "job payload has no class");
        };
        let Some(args) = payload.args() else {
            return Outcome::failed(failure::ARGUMENT_ERROR, "job payload args is not an array");
        };
        if !self.registry.contains(class) {
            let program = self
                .exec
                .iter()
                .find(|(c, _)| c == class)
                .or_else(|| self.exec.iter().find(|(c, _)| c == "*"));
            return match program {
                Some((_, program)) => run_program(program, queue, class, args, self.worker),
                // What Ruby records for a class it cannot load.
                None => Outcome::failed(
                    failure::NAME_ERROR,
                    format!("uninitialized constant {class}"),
                ),
            };
        }
        // In the worker's own process (no child to kill), an async job's timeout cancels
        // its future; a forked child is stopped by its parent instead.
        let timeout = if self.cfg.fork_per_job {
            None
        } else {
            self.cfg.timeout_for(class, self.registry.timeout_of(class))
        };
        let (queue_name, worker_name) = names.get(queue, self.worker);
        let mut ctx = Context::for_worker(
            queue_name,
            worker_name,
            Arc::clone(self.registry),
            Arc::clone(self.jobs),
        )
        .with_timeout(timeout);
        panic_site::clear();
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.registry.perform(class, args, &mut ctx)
        }));
        match result {
            Ok(Some(Ok(Performed::Yes | Performed::No))) => Outcome::Done,
            Ok(Some(Err(e))) => Outcome::Failed {
                exception: e.exception().to_owned(),
                error: e.message().to_owned(),
                backtrace: e.backtrace().to_vec(),
                count_failed: true,
            },
            Ok(None) => Outcome::failed(
                failure::NAME_ERROR,
                format!("uninitialized constant {class}"),
            ),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                Outcome::Failed {
                    exception: failure::PANIC.to_owned(),
                    error: msg,
                    backtrace: panic_site::take(),
                    count_failed: true,
                }
            }
        }
    }
}

/// Where a job panicked, for its failure record's backtrace: a panic hook (installed once,
/// before the first fork, so children inherit it) notes the location, and the backtrace
/// when `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) asks for one, then calls the hook that
/// was there before (which prints the usual message on stderr).
pub(super) mod panic_site {
    use std::cell::RefCell;
    use std::sync::Once;

    thread_local! {
        static SITE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    /// Installs the hook (once per process).
    pub(crate) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let mut frames = Vec::new();
                if let Some(l) = info.location() {
                    frames.push(format!("{}:{}:{}", l.file(), l.line(), l.column()));
                }
                let bt = std::backtrace::Backtrace::capture();
                if bt.status() == std::backtrace::BacktraceStatus::Captured {
                    frames.extend(
                        bt.to_string()
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned),
                    );
                }
                SITE.with(|s| *s.borrow_mut() = frames);
                previous(info);
            }));
        });
    }

    /// Forgets an earlier job's panic.
    pub(crate) fn clear() {
        SITE.with(|s| s.borrow_mut().clear());
    }

    /// The last panic's location and backtrace lines (empty if none was noted).
    pub(crate) fn take() -> Vec<String> {
        SITE.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}

/// A failure report, cut to at most `room` bytes: backtrace lines go first (last to first),
/// then the end of the message, then of the exception's name. The raw text is bounded first
/// ([`MAX_REPORT`]), but escaping can make JSON several times longer than its text.
pub(super) fn report_json(outcome: &Outcome, room: usize) -> String {
    let Outcome::Failed {
        exception,
        error,
        backtrace,
        count_failed,
    } = outcome
    else {
        return String::new();
    };
    let mut exception = exception.clone();
    let mut error = error.clone();
    let mut backtrace = backtrace.clone();
    // An exception is a class name; a longer one is not worth the room.
    truncate_at_char(&mut exception, 1024);
    while error.len() + backtrace.iter().map(String::len).sum::<usize>() > MAX_REPORT {
        if backtrace.pop().is_none() {
            truncate_at_char(&mut error, MAX_REPORT);
        }
    }
    loop {
        let json = serde_json::json!({"exception": exception, "error": error, "backtrace": backtrace, "count_failed": count_failed})
            .to_string();
        if json.len() <= room {
            return json;
        }
        if backtrace.pop().is_some() {
            continue;
        }
        if !error.is_empty() {
            let half = error.len() / 2;
            truncate_at_char(&mut error, half);
        } else if !exception.is_empty() {
            let half = exception.len() / 2;
            truncate_at_char(&mut exception, half);
        } else {
            // Only the fixed fields are left (about 60 bytes); no pipe is that small.
            return json;
        }
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub(super) fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
    }
}

pub(super) fn parse_report(report: &str) -> Option<Outcome> {
    let v: Value = serde_json::from_str(report).ok()?;
    Some(Outcome::Failed {
        exception: v["exception"].as_str()?.to_owned(),
        error: v["error"].as_str().unwrap_or_default().to_owned(),
        backtrace: v["backtrace"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        count_failed: v["count_failed"].as_bool().unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shared_while_they_repeat_and_new_when_they_change() {
        let mut names = Names::default();
        let (q1, w1) = names.get("mail", "host:1:mail");
        let (q2, w2) = names.get("mail", "host:1:mail");
        assert!(Arc::ptr_eq(&q1, &q2) && Arc::ptr_eq(&w1, &w2));
        let (q3, w3) = names.get("archive", "host:1:mail");
        assert_eq!(&*q3, "archive");
        assert!(!Arc::ptr_eq(&q1, &q3) && Arc::ptr_eq(&w1, &w3));
        let (q4, _) = names.get("mail", "host:1:mail");
        assert_eq!(&*q4, "mail");
    }

    #[test]
    fn reports_round_trip_and_stay_small() {
        let o = Outcome::Failed {
            exception: "RuntimeError".into(),
            error: "é".repeat(40_000),
            backtrace: vec!["x".repeat(30_000)],
            count_failed: true,
        };
        let r = report_json(&o, 64 * 1024);
        assert!(r.len() <= 64 * 1024);
        let back = parse_report(&r).expect("parses");
        assert!(
            matches!(back, Outcome::Failed { ref exception, .. } if exception == "RuntimeError")
        );
        assert!(parse_report("").is_none());
    }

    #[test]
    fn reports_are_cut_to_the_room_after_encoding() {
        // Control characters take six bytes each in JSON; the exception is unbounded too.
        let o = Outcome::Failed {
            exception: "\u{1}".repeat(20_000),
            error: "\\\"".repeat(20_000),
            backtrace: vec!["\u{7}".repeat(5_000); 4],
            count_failed: false,
        };
        for room in [4096, 64 * 1024] {
            let r = report_json(&o, room);
            assert!(r.len() <= room, "{} > {room}", r.len());
            let Some(Outcome::Failed {
                exception,
                error,
                backtrace,
                count_failed,
            }) = parse_report(&r)
            else {
                panic!("does not parse: {r}")
            };
            assert!(backtrace.is_empty() && !count_failed);
            assert!(error.chars().all(|c| c == '\\' || c == '"'));
            assert!(exception.chars().all(|c| c == '\u{1}') && exception.len() <= 1024);
            if room > 4096 {
                assert!(error.len() > 10_000, "{}", error.len());
            }
        }
        // A report that fits is left whole.
        let small = Outcome::failed("RuntimeError", "boom");
        assert!(matches!(
            parse_report(&report_json(&small, 4096)),
            Some(Outcome::Failed { ref error, .. }) if error == "boom"
        ));
    }
}
