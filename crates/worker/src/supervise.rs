//! `COUNT=n`: a supervisor that runs `n` single workers and forwards signals to them.
//!
//! The one `unsafe` here registers a signal handler that only stores to an atomic.
#![allow(unsafe_code)]

use std::process::ExitCode;

/// `COUNT=n`: runs `n` copies of this worker (each with `COUNT=1`), forwards QUIT, TERM and
/// INT to all of them, and exits when all have: status 0 if every one stopped cleanly.
/// (Ruby's `rake resque:workers` does the same with threads around `rake resque:work`.)
pub(crate) fn supervise(count: u32, argv: &[std::ffi::OsString]) -> ExitCode {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("resque-worker: error: cannot find this program to run COUNT copies: {e}");
            return ExitCode::from(1);
        }
    };
    // Children get the same arguments minus --count (COUNT=1 in their environment).
    let mut args = Vec::new();
    let mut skip = false;
    for a in argv.iter().skip(1) {
        if std::mem::take(&mut skip) {
            continue;
        }
        match a.to_str() {
            Some("--count") => skip = true,
            Some(s) if s.starts_with("--count=") => {}
            _ => args.push(a.clone()),
        }
    }
    let last = Arc::new(AtomicUsize::new(0));
    for sig in [
        signal_hook::consts::SIGQUIT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ] {
        let slot = Arc::clone(&last);
        // A flag-style handler: no thread, no allocation in the handler.
        // SAFETY: the handler only stores to an atomic.
        let registered = unsafe {
            signal_hook::low_level::register(sig, move || {
                slot.store(sig as usize, Ordering::SeqCst)
            })
        };
        if let Err(e) = registered {
            eprintln!("resque-worker: error: cannot handle signals: {e}");
            return ExitCode::from(1);
        }
    }
    let mut children = Vec::new();
    for _ in 0..count {
        match std::process::Command::new(&exe)
            .args(&args)
            .env("COUNT", "1")
            .spawn()
        {
            Ok(c) => children.push(c),
            Err(e) => {
                eprintln!("resque-worker: error: cannot start a worker: {e}");
                for c in &children {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(c.id() as i32),
                        nix::sys::signal::Signal::SIGQUIT,
                    );
                }
                return ExitCode::from(1);
            }
        }
    }
    let mut ok = true;
    let mut running: Vec<std::process::Child> = children;
    while !running.is_empty() {
        let sig = last.swap(0, Ordering::SeqCst);
        if sig != 0
            && let Ok(sig) = nix::sys::signal::Signal::try_from(sig as i32)
        {
            for c in &running {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), sig);
            }
        }
        running.retain_mut(|c| match c.try_wait() {
            Ok(Some(status)) => {
                ok &= status.success();
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
