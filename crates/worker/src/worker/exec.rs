//! `--exec CLASS=PROGRAM`: a job run by any program, its args as JSON on stdin.

use std::os::fd::AsFd;

use resque_protocol::{Value, failure};

use super::outcome::Outcome;

/// Lines of a failed program's stderr kept in its failure record.
pub(super) const STDERR_LINES: usize = 20;
/// Bytes of a program's stderr kept while it runs (the last ones): room for the last
/// [`STDERR_LINES`] lines without holding all of a chatty program's output.
pub(super) const STDERR_KEEP: usize = 64 * 1024;

/// Writes `input` to a program's stdin while reading its stderr, and returns the end of
/// what it wrote there. Both at once: writing all the input first would wait forever on a
/// full stdin pipe while the program waits on its full stderr pipe. A program that exits
/// without reading its input is not an error (the write fails with EPIPE and stops).
pub(super) fn exchange(
    stdin: Option<std::process::ChildStdin>,
    stderr: Option<std::process::ChildStderr>,
    input: &[u8],
) -> Vec<u8> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::io::{ErrorKind, Read, Write};

    let mut stdin = stdin.filter(|_| !input.is_empty());
    // Non-blocking, a write takes what fits. Should that fail, a write of one page at most
    // still cannot block once poll has said the pipe is writable (it has a free page).
    let nonblocking = stdin
        .as_ref()
        .is_some_and(|s| fcntl(s, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).is_ok());
    let mut stderr = stderr;
    let mut written = 0;
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    while stdin.is_some() || stderr.is_some() {
        let mut fds = Vec::with_capacity(2);
        if let Some(e) = &stderr {
            fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
        }
        if let Some(i) = &stdin {
            fds.push(PollFd::new(i.as_fd(), PollFlags::POLLOUT));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let (err_ready, in_ready) = match (&stderr, &stdin) {
            (Some(_), Some(_)) => (ready[0], ready[1]),
            (Some(_), None) => (ready[0], false),
            (None, _) => (false, ready[0]),
        };
        if in_ready && let Some(i) = &mut stdin {
            let rest = &input[written..];
            let chunk = if nonblocking {
                rest
            } else {
                &rest[..rest.len().min(4096)]
            };
            match i.write(chunk) {
                Ok(n) => written += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                // EPIPE: the program is not reading (any more).
                Err(_) => written = input.len(),
            }
            if written == input.len() {
                stdin = None; // closes it: the program sees the end of its input
            }
        }
        if err_ready && let Some(e) = &mut stderr {
            match e.read(&mut buf) {
                Ok(0) => stderr = None,
                Ok(n) => {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > STDERR_KEEP {
                        tail.drain(..tail.len() - STDERR_KEEP);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => stderr = None,
            }
        }
    }
    tail
}

/// Runs a job through `--exec`: `sh -c PROGRAM` with the args as JSON on stdin and
/// RESQUE_QUEUE / RESQUE_CLASS / RESQUE_WORKER set. Exit 0 is success; anything else is a
/// failure carrying the exit status (or signal) and the last lines of stderr.
pub(super) fn run_program(
    program: &str,
    queue: &str,
    class: &str,
    args: &[Value],
    worker: &str,
) -> Outcome {
    use std::process::{Command, Stdio};

    let input = resque_protocol::json::to_string(args).unwrap_or_else(|_| "[]".to_owned());
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(program)
        .env("RESQUE_QUEUE", queue)
        .env("RESQUE_CLASS", class)
        .env("RESQUE_WORKER", worker)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(failure::EXEC_ERROR, format!("cannot run {program:?}: {e}"));
        }
    };
    let stderr = exchange(child.stdin.take(), child.stderr.take(), input.as_bytes());
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => {
            return Outcome::failed(failure::EXEC_ERROR, format!("waiting for {program:?}: {e}"));
        }
    };
    if status.success() {
        return Outcome::Done;
    }
    let text = String::from_utf8_lossy(&stderr);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].to_vec();
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".to_owned(),
    };
    let last = tail.last().map(|l| format!(": {l}")).unwrap_or_default();
    Outcome::Failed {
        exception: failure::EXEC_ERROR.to_owned(),
        error: format!("{program} {how}{last}"),
        backtrace: tail,
        count_failed: true,
    }
}
