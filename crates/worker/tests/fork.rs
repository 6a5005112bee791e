//! The fork boundary under load: thousands of forks, no hang, no zombie, no leaked
//! descriptor, and the single-thread rule enforced.
//!
//! Runs with `harness = false`: libtest would run each test on a spawned thread, and the
//! fork boundary (rightly) refuses to fork a process with two threads. `main` below speaks
//! enough of libtest's command line for `cargo test` and `cargo nextest` (`--list`,
//! `--exact NAME`) and runs every test on the main thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use resque_worker::fork::{
    ForkError, PANIC_EXIT, fork_child, fork_child_ignoring_term, thread_count,
};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Children of `parent` in state Z.
fn zombies_of(parent: u32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.first() == Some(&"Z") && f.get(1) == Some(&parent.to_string().as_str()) {
            out.push(stat);
        }
    }
    out
}

/// Waits for a child, with a deadline so a hang fails the test instead of stalling it.
fn wait(pid: nix::unistd::Pid) -> Result<WaitStatus> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::StillAlive => {}
            s => return Ok(s),
        }
        if Instant::now() > deadline {
            let _ = kill(pid, Signal::SIGKILL);
            bail!("child {pid} hung");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn ten_thousand_forks_no_hang_no_zombie_no_leak() -> Result<()> {
    // This test owns its process under nextest, so there is one thread.
    assert_eq!(
        thread_count()?,
        1,
        "run with cargo nextest (one process per test)"
    );
    let fds = open_fds();
    for i in 0..10_000_i32 {
        let code = i % 7;
        let pid = fork_child(|| code)?;
        match wait(pid)? {
            WaitStatus::Exited(_, got) => assert_eq!(got, code),
            other => bail!("fork {i}: {other:?}"),
        }
    }
    assert!(zombies_of(std::process::id()).is_empty(), "no zombie");
    assert_eq!(open_fds(), fds, "no descriptor leaked");
    Ok(())
}

/// A child that ignores TERM ignores one sent the instant it exists: it is ignored from
/// before the child's signals are unblocked (a platform's TERM to every process, arriving
/// as a job forks, must not kill the job).
fn a_term_sent_as_the_child_starts_is_ignored() -> Result<()> {
    for i in 0..300 {
        let pid = fork_child_ignoring_term(|| {
            std::thread::sleep(Duration::from_millis(2));
            3
        })?;
        kill(pid, Signal::SIGTERM)?;
        match wait(pid)? {
            WaitStatus::Exited(_, 3) => {}
            other => bail!("fork {i}: {other:?}"),
        }
    }
    // Without it, the same TERM ends the child.
    let pid = fork_child(|| {
        std::thread::sleep(Duration::from_secs(5));
        0
    })?;
    kill(pid, Signal::SIGTERM)?;
    assert!(matches!(
        wait(pid)?,
        WaitStatus::Signaled(_, Signal::SIGTERM, _)
    ));
    Ok(())
}

static PARENT_HANDLER_RAN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    PARENT_HANDLER_RAN.store(true, Ordering::SeqCst);
}

fn child_panics_become_a_status_and_signals_are_reset() -> Result<()> {
    let pid = fork_child(|| panic!("job panicked"))?;
    assert!(matches!(wait(pid)?, WaitStatus::Exited(_, PANIC_EXIT)));

    // The parent handles TERM (as the worker will); the child must die of TERM anyway.
    let action = SigAction::new(
        SigHandler::Handler(on_term),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    #[allow(unsafe_code)]
    unsafe {
        sigaction(Signal::SIGTERM, &action)?;
    }
    let pid = fork_child(|| {
        std::thread::sleep(Duration::from_secs(30));
        0
    })?;
    std::thread::sleep(Duration::from_millis(50));
    kill(pid, Signal::SIGTERM)?;
    assert!(
        matches!(wait(pid)?, WaitStatus::Signaled(_, Signal::SIGTERM, _)),
        "TERM killed the child"
    );
    assert!(
        !PARENT_HANDLER_RAN.load(Ordering::SeqCst),
        "the parent's handler did not run"
    );
    Ok(())
}

fn refuses_to_fork_with_a_second_thread() -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || rx.recv());
    let e = fork_child(|| 0).expect_err("two threads");
    assert!(matches!(e, ForkError::Threads(2)), "{e}");
    assert_eq!(
        e.to_string(),
        "refusing to fork: the process has 2 threads, and fork is only safe with one"
    );
    drop(tx);
    let _ = t.join();
    Ok(())
}

/// A thread that is about to end (a resolver thread after a reconnect) is waited for, not a
/// reason to give up; one that stays is still refused once the patience is spent.
fn waits_for_a_passing_thread_before_forking() -> Result<()> {
    use resque_worker::fork::fork_child_patiently;
    let t = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(80)));
    let began = Instant::now();
    let pid = fork_child_patiently(|| || 7, false, Duration::from_secs(10))?;
    assert!(began.elapsed() >= Duration::from_millis(50), "it waited");
    assert_eq!(wait(pid)?, WaitStatus::Exited(pid, 7));
    let _ = t.join();

    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || rx.recv());
    let e = fork_child_patiently(|| || 0, false, Duration::from_millis(30)).expect_err("stays");
    assert!(matches!(e, ForkError::Threads(2)), "{e}");
    drop(tx);
    let _ = t.join();
    Ok(())
}

/// The count comes from `/proc/self/stat`, after the process name, which may hold `)` and
/// spaces; it agrees with `/proc/self/task` with one thread and with three.
fn thread_count_reads_past_any_process_name() -> Result<()> {
    let tasks = || std::fs::read_dir("/proc/self/task").map(Iterator::count);
    let name = c") 1 2 (x) ";
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
    assert_eq!(thread_count()?, 1);
    assert_eq!(tasks()?, 1);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let rx = std::sync::Arc::clone(&rx);
            std::thread::spawn(move || rx.lock().map(|r| r.recv().ok()).ok())
        })
        .collect();
    assert_eq!(thread_count()?, 3);
    assert_eq!(tasks()?, 3);
    drop(tx);
    for t in threads {
        let _ = t.join();
    }
    while thread_count()? != 1 {
        std::thread::sleep(Duration::from_millis(1));
    }

    // A forked child counts its own threads, not the parent's (the parent keeps its
    // `/proc/self/stat` open, and the child inherits that descriptor).
    let pid = fork_child(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv().ok());
        let counted = thread_count().ok();
        drop(tx);
        let _ = t.join();
        if counted == Some(2) { 0 } else { 1 }
    })?;
    assert!(
        matches!(wait(pid)?, WaitStatus::Exited(_, 0)),
        "the child counted 2 threads"
    );
    Ok(())
}

fn process_titles_show_whole_in_ps() -> Result<()> {
    let title = resque_worker::proctitle::titles::waiting(
        "",
        &[
            "file_serve".into(),
            "low,with,a,much,longer,queue,list,than,argv".into(),
        ],
    );
    let expected = title.clone();
    let pid = fork_child(move || {
        let room = resque_worker::proctitle::init().unwrap_or(0);
        resque_worker::proctitle::set(&title);
        // The environment still works after its memory was taken over.
        let path_ok = std::env::var("PATH").is_ok();
        if room < title.len() || !path_ok {
            return 9;
        }
        std::thread::sleep(Duration::from_secs(10));
        0
    })?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let shown = loop {
        let out = std::process::Command::new("ps")
            .args(["-o", "command=", "-p", &pid.to_string()])
            .output()?;
        let shown = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if shown == expected || Instant::now() > deadline {
            break shown;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    kill(pid, Signal::SIGKILL)?;
    let status = wait(pid)?;
    assert!(
        !matches!(status, WaitStatus::Exited(_, 9)),
        "title did not fit or PATH was lost"
    );
    assert_eq!(shown, expected, "ps shows the whole title");
    assert_eq!(
        comm.trim_end(),
        "resque-3.0.0: W",
        "comm holds the first 15 characters"
    );
    Ok(())
}

type Test = (&'static str, fn() -> Result<()>);

const TESTS: [Test; 7] = [
    (
        "a_term_sent_as_the_child_starts_is_ignored",
        a_term_sent_as_the_child_starts_is_ignored,
    ),
    (
        "waits_for_a_passing_thread_before_forking",
        waits_for_a_passing_thread_before_forking,
    ),
    (
        "process_titles_show_whole_in_ps",
        process_titles_show_whole_in_ps,
    ),
    (
        "ten_thousand_forks_no_hang_no_zombie_no_leak",
        ten_thousand_forks_no_hang_no_zombie_no_leak,
    ),
    (
        "child_panics_become_a_status_and_signals_are_reset",
        child_panics_become_a_status_and_signals_are_reset,
    ),
    (
        "refuses_to_fork_with_a_second_thread",
        refuses_to_fork_with_a_second_thread,
    ),
    (
        "thread_count_reads_past_any_process_name",
        thread_count_reads_past_any_process_name,
    ),
];

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") {
        if !has("--ignored") {
            for (name, _) in TESTS {
                println!("{name}: test");
            }
        }
        return std::process::ExitCode::SUCCESS;
    }
    // A filter is any argument that is not a flag (libtest: substring, or exact with --exact).
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let selected = TESTS.iter().filter(|(name, _)| {
        filters.is_empty()
            || filters.iter().any(|f| {
                if has("--exact") {
                    *name == f.as_str()
                } else {
                    name.contains(f.as_str())
                }
            })
    });
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in selected {
        match test() {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n{e:?}");
                failed += 1;
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out"
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
