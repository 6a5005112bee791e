//! The fork boundary: the only place resque-rs calls `fork()` (DECISIONS.md §2).
//!
//! The worker parent keeps one current-thread tokio runtime and one Redis connection across
//! forks. That is sound only because of what this module enforces and documents:
//!
//! 1. **One thread at every fork.** [`fork_child`] reads the thread count (`num_threads` in
//!    `/proc/self/stat`, the number of `/proc/self/task` entries) and refuses to
//!    fork otherwise. A lock held by another thread (the allocator's, stdout's, a logger's)
//!    would be copied into the child locked forever; a runtime's worker threads would not
//!    exist in the child at all.
//! 2. **Signals are blocked across the fork**, so no handler runs in the child before its
//!    dispositions are reset, then unblocked in both processes.
//! 3. **The child resets every signal it may have inherited a handler for to `SIG_DFL`**
//!    with raw `sigaction` (never signal-hook, whose registry takes a global lock); without
//!    this a TERM sent to the child would be swallowed by the parent's self-pipe handler.
//! 4. **The child never returns and never unwinds into the parent's frames**: its body runs
//!    inside `catch_unwind`, and it leaves with `_exit`, which runs no destructors and no
//!    `atexit` handlers (Ruby's `exit!`). So nothing inherited from the parent (its runtime,
//!    its fred client, its sockets) is ever dropped in the child: dropping the inherited
//!    runtime would deregister the parent's Redis socket from the epoll instance both
//!    processes share, and hang the parent.
//! 5. Output the child wants to keep must be flushed before it returns: `_exit` does not
//!    flush Rust's buffered stdout.
//! 6. **The child leads a process group of its own** (`setpgid` in both processes, so
//!    neither order of their first steps matters): the parent signals the group, so a
//!    timeout or a kill also reaches what the job started (an `--exec` program and its
//!    children), and a terminal's Ctrl-C reaches only the parent, which decides.
#![allow(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, Pid};

/// Makes every thread allocate from glibc's main arena (`M_ARENA_MAX` = 1).
///
/// fred resolves the Redis host on a blocking-pool thread at start-up, and glibc gives that
/// thread an arena of its own that outlives it. `fork` takes and releases every arena's
/// lock in the parent and in the child, so each extra arena is one more page written, a
/// copy-on-write fault, on both sides of every fork (2 fewer faults a job in the parent,
/// measured with `perf stat --no-inherit -e page-faults`). Other C libraries: nothing to do.
pub fn use_one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: `mallopt` changes a tunable of glibc's allocator and has no preconditions;
    // arenas that exist already stay valid (the limit applies to new ones).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Signals the worker parent handles, reset to their defaults in every child. (SIGPIPE
/// stays ignored, as Rust programs expect; `std::process::Command` restores it for
/// programs a child executes.)
pub const HANDLED_SIGNALS: [Signal; 7] = [
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCONT,
    Signal::SIGCHLD,
];

/// Exit status of a child whose body panicked.
pub const PANIC_EXIT: i32 = 3;

/// Why a fork was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForkError {
    /// The process has more than one thread; forking now could deadlock the child.
    #[error("refusing to fork: the process has {0} threads, and fork is only safe with one")]
    Threads(usize),
    /// `/proc/self/stat` could not be read.
    #[error("cannot count this process's threads: {0}")]
    Proc(std::io::Error),
    /// `fork()` or the signal mask failed.
    #[error("fork failed: {0}")]
    Sys(#[from] nix::Error),
}

/// `/proc/self/stat`, opened once by the process that reads it (the pid says which): opening
/// and closing it for every fork took 4% of the fork-per-job loop (procfs path lookups).
/// Reading it again from offset 0 makes the kernel write it afresh.
static STAT: std::sync::Mutex<Option<(u32, std::fs::File)>> = std::sync::Mutex::new(None);

/// The number of threads in this process: field 20 of `/proc/self/stat`, read into a
/// stack buffer (this runs before every fork; listing `/proc/self/task` took twice as long
/// and allocated).
pub fn thread_count() -> Result<usize, ForkError> {
    use std::os::unix::fs::FileExt;
    let pid = std::process::id();
    // Nothing can panic while this is held; a poisoned lock still holds a sound value.
    let mut stat_file = STAT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let file = match &*stat_file {
        Some((opened_by, file)) if *opened_by == pid => file,
        _ => {
            // First use, or a forked child reading its own: (re)open. The descriptor is
            // close-on-exec, as std opens every file.
            let file = std::fs::File::open("/proc/self/stat").map_err(ForkError::Proc)?;
            &stat_file.insert((pid, file)).1
        }
    };
    let mut buf = [0u8; 1024];
    let mut len = 0;
    loop {
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ForkError::Proc(e)),
        }
        // The line is whole once it ends with its newline (one read, as a rule): no need
        // for another to see the end of the file.
        if len == buf.len() || buf[..len].ends_with(b"\n") {
            break;
        }
    }
    let bad = || ForkError::Proc(std::io::Error::other("unexpected /proc/self/stat format"));
    let stat = &buf[..len];
    // The command name (field 2) is in parentheses and may hold anything, ')' included.
    let after_comm = stat.iter().rposition(|&b| b == b')').ok_or_else(bad)? + 1;
    let field = stat[after_comm..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        // The fields after the name start at field 3; num_threads is field 20.
        .nth(20 - 3)
        .ok_or_else(bad)?;
    std::str::from_utf8(field)
        .ok()
        .and_then(|f| f.parse().ok())
        .ok_or_else(bad)
}

/// Forks; the child runs `child` and exits with the status it returns (or
/// [`PANIC_EXIT`] if it panics). Returns the child's pid in the parent.
///
/// Refuses (with [`ForkError::Threads`]) unless this process has exactly one thread.
pub fn fork_child<F: FnOnce() -> i32>(child: F) -> Result<Pid, ForkError> {
    fork_with(false, child)
}

/// [`fork_child`] for a child that ignores SIGTERM (and any program it `exec`s does), so a
/// TERM a platform sends to every process (Heroku) reaches only the parent, which asks the
/// child with the configured child signal instead (`RESQUE_CHILD_SIGNAL` other than TERM).
/// It is ignored from before the child's signals are unblocked: one sent the moment the
/// child exists is discarded, not acted on.
pub fn fork_child_ignoring_term<F: FnOnce() -> i32>(child: F) -> Result<Pid, ForkError> {
    fork_with(true, child)
}

fn fork_with<F: FnOnce() -> i32>(ignore_term: bool, child: F) -> Result<Pid, ForkError> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(ForkError::Threads(threads));
    }
    let mut handled = SigSet::empty();
    for s in HANDLED_SIGNALS {
        handled.add(s);
    }
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), Some(&mut old))?;

    // SAFETY: the process has exactly one thread (checked just above, and nothing between
    // the check and the call starts one), so no lock can be held by a thread that will not
    // exist in the child. The child only resets signal dispositions, restores its mask, runs
    // `child` (which must not touch the parent's runtime or connections), and calls `_exit`
    // without returning, unwinding or running destructors.
    #[allow(clippy::disallowed_methods)]
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Ok(ForkResult::Child) => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            for s in HANDLED_SIGNALS {
                let to = if ignore_term && s == Signal::SIGTERM {
                    SigHandler::SigIgn
                } else {
                    SigHandler::SigDfl
                };
                // SAFETY: SIG_DFL and SIG_IGN install no Rust handler; raw sigaction takes
                // no lock.
                unsafe {
                    let _ = nix::sys::signal::signal(s, to);
                }
            }
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(PANIC_EXIT);
            // SAFETY: _exit ends the process at once; nothing after it runs.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            // The child does the same; whichever runs first, the group exists before the
            // parent signals it.
            let _ = nix::unistd::setpgid(child, child);
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
            Ok(child)
        }
        Err(e) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            Err(ForkError::Sys(e))
        }
    }
}

/// [`fork_child`], waiting out the reasons to refuse that pass by themselves: a second
/// thread (the runtime's blocking-pool thread that resolved a host name at a reconnect
/// lives a millisecond after its task) and `EAGAIN` (the process limit, briefly reached).
/// Tries again with growing pauses (1 ms, 2 ms, ... up to 100 ms) until `patience` is
/// spent, then returns the last refusal. `make` builds the child's closure for each try.
pub fn fork_child_patiently<F: FnOnce() -> i32>(
    mut make: impl FnMut() -> F,
    ignore_term: bool,
    patience: std::time::Duration,
) -> Result<Pid, ForkError> {
    let deadline = std::time::Instant::now() + patience;
    let mut pause = std::time::Duration::from_millis(1);
    let mut waited = false;
    loop {
        match fork_with(ignore_term, make()) {
            Err(e @ (ForkError::Threads(_) | ForkError::Sys(nix::errno::Errno::EAGAIN))) => {
                if std::time::Instant::now() + pause > deadline {
                    return Err(e);
                }
                if !waited {
                    tracing::debug!(error = %e, "fork refused for now; waiting");
                    waited = true;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}
