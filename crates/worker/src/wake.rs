//! A second self-pipe for the signals the worker handles, waited on with a bare `poll(2)`
//! while a child runs.
//!
//! Waiting for the child through the runtime (`block_on` over a `select!`) touches the
//! scheduler, the timer wheel and the signal stream: dozens of heap pages. Right after a
//! fork each page the parent writes is copied (the child still shares it), so that wait
//! costs more than the no-op job it waits for. `poll(2)` on this pipe writes nothing but the
//! stack. The runtime's own signal stream still receives every signal but SIGCHLD (which
//! only this pipe needs); the worker reads it when this pipe says something other than the
//! child's exit happened (see `wait_child`).

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use signal_hook::SigId;

/// Longest single wait: a safety net, as the runtime's wait had.
const MAX_WAIT: Duration = Duration::from_millis(200);

/// The read end of a self-pipe that `signals` write a byte to.
#[derive(Debug)]
pub(crate) struct Wake {
    rx: UnixStream,
    /// Set by the same signals, after their byte is written: [`Wake::pending`] asks it
    /// first, so a job that no signal came during costs no `read(2)`.
    came: Arc<AtomicBool>,
    ids: Vec<SigId>,
}

impl Wake {
    /// Registers the pipe for `signals` (in addition to any other handlers).
    pub(crate) fn new(signals: &[i32]) -> std::io::Result<Self> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        let came = Arc::new(AtomicBool::new(false));
        let mut ids = Vec::with_capacity(2 * signals.len());
        for &sig in signals {
            ids.push(signal_hook::low_level::pipe::register(
                sig,
                tx.try_clone()?,
            )?);
            // Registered after the pipe: signal-hook runs a signal's actions in that order.
            ids.push(signal_hook::flag::register(sig, Arc::clone(&came))?);
        }
        Ok(Self { rx, came, ids })
    }

    /// Forgets signals that came before now (call before forking, so that only what
    /// happens while the child runs wakes [`Wake::wait`]).
    pub(crate) fn clear(&self) {
        // The flag first: a signal from here on sets it again (and writes its byte).
        self.came.store(false, Ordering::Relaxed);
        let mut buf = [0u8; 64];
        // A short read took all there was: no second read to be told so.
        while matches!((&self.rx).read(&mut buf), Ok(n) if n == buf.len()) {}
    }

    /// Whether a signal came since the pipe was last read (and reads it): an atomic load
    /// when none did, cheaper than turning the runtime to look at its signal stream.
    pub(crate) fn pending(&self) -> bool {
        if !self.came.load(Ordering::Relaxed) || !self.came.swap(false, Ordering::Acquire) {
            return false;
        }
        // A signal came: its byte goes too (it may land just after, and then only makes a
        // later wait look once more).
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n == buf.len()) {}
        true
    }

    /// Blocks until a signal arrives or `until` (at most [`MAX_WAIT`]); returns whether a
    /// signal arrived.
    pub(crate) fn wait(&self, until: Instant) -> bool {
        let left = until
            .saturating_duration_since(Instant::now())
            .min(MAX_WAIT);
        // Round up: a zero timeout for a sub-millisecond remainder would spin.
        let ms = u16::try_from(left.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.rx.as_fd(), PollFlags::POLLIN)];
        let woke = match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(n) => n > 0,
            // A handler ran: a signal came.
            Err(Errno::EINTR) => true,
            Err(_) => false,
        };
        if woke {
            self.clear();
        }
        woke
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
