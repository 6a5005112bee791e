//! Process titles that `ps -o command` shows whole, as Ruby's `$0 =` does.
//!
//! Ruby workers decide whether a same-host worker is alive by grepping `ps` for
//! `resque-[0-9]`; operators' god/monit rules match the same text. So the title must replace
//! the whole command line, not just the 15-character `comm` that `prctl(PR_SET_NAME)` sets.
//! Like Ruby, nginx and PostgreSQL, [`init`] takes over the memory that holds argv and the
//! environment strings (after copying the environment to the heap), and [`set`] writes the
//! title there, padding the rest with NULs.
//!
//! Parse the command line (clap) **before** calling [`init`]: afterwards the argv memory
//! holds the title, and `std::env::args()` returns it.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::sync::{Mutex, OnceLock};

/// The writable region: start address and length (argv start to environment end). Set once;
/// [`set`] only reads it (no lock to write: the title is set right after every fork, when
/// each page the parent writes is copied).
static AREA: OnceLock<(usize, usize)> = OnceLock::new();
/// Serialises [`init`].
static INIT: Mutex<()> = Mutex::new(());

unsafe extern "C" {
    static mut environ: *mut *mut libc::c_char;
}

/// Reads `arg_start` and `env_end` from `/proc/self/stat` (fields 48 and 51).
fn arg_env_bounds() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let get = |n: usize| fields.get(n - 3)?.parse::<usize>().ok();
    let (arg_start, env_end) = (get(48)?, get(51)?);
    (env_end > arg_start).then_some((arg_start, env_end))
}

/// Takes over the argv and environment memory for titles. Call once, early, while the
/// process has one thread, after parsing arguments. Returns the longest title that fits.
pub fn init() -> Option<usize> {
    let _once = INIT.lock().ok()?;
    if let Some((_, len)) = AREA.get() {
        return Some(len - 1);
    }
    let (start, end) = arg_env_bounds()?;
    // Move the environment to the heap first, so getenv keeps working once the original
    // strings are overwritten. The copies live for the rest of the process.
    // SAFETY: single-threaded start-up; `environ` is a NULL-terminated array of C strings.
    unsafe {
        let mut copies: Vec<*mut libc::c_char> = Vec::new();
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let owned = CString::from(CStr::from_ptr(*p));
            copies.push(owned.into_raw());
            p = p.add(1);
        }
        copies.push(std::ptr::null_mut());
        let leaked: &'static mut [*mut libc::c_char] = Box::leak(copies.into_boxed_slice());
        environ = leaked.as_mut_ptr();
    }
    let _ = AREA.set((start, end - start));
    Some(end - start - 1)
}

/// Sets the title (truncated to what fits). Does nothing before [`init`] succeeded, except
/// setting the short `comm` name. Allocates nothing.
pub fn set(title: &str) {
    set_comm(title);
    let Some(&(start, len)) = AREA.get() else {
        return;
    };
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    // SAFETY: [start, start+len) is this process's argv+environ block (from /proc/self/stat),
    // which no Rust code reads after `init` moved the environment to the heap.
    unsafe {
        let dst = start as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, n);
        std::ptr::write_bytes(dst.add(n), 0, len - n);
    }
}

/// `prctl(PR_SET_NAME)`: the 15-character name `top` and `ps -o comm` show.
fn set_comm(title: &str) {
    let mut short = [0u8; 16];
    for (dst, b) in short
        .iter_mut()
        .take(15)
        .zip(title.bytes().filter(|b| *b != 0))
    {
        *dst = b;
    }
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes; `short` has a
    // NUL at index 15 at the latest.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, short.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
}

/// Sets `<prefix>resque-3.0.0: Forked <pid> at <epoch>`, formatted on the stack: the parent
/// sets it right after a fork, while every heap page it writes would be copied.
pub fn set_forked(prefix: &str, pid: i32, at: i64) {
    let mut t = StackTitle {
        buf: [0; 256],
        len: 0,
    };
    if titles::write_forked(&mut t, prefix, pid, at).is_ok() {
        // Only whole `&str`s were copied in, so the bytes are UTF-8.
        if let Ok(title) = std::str::from_utf8(&t.buf[..t.len]) {
            set(title);
            return;
        }
    }
    set(&titles::forked(prefix, pid, at));
}

/// A short string built in a fixed buffer.
struct StackTitle {
    buf: [u8; 256],
    len: usize,
}

impl std::fmt::Write for StackTitle {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Titles Ruby Resque 3.0 sets (`Worker#procline`), so `ps`-based tools and Ruby's pruning
/// see a live worker.
pub mod titles {
    use resque_protocol::RESQUE_VERSION;

    /// `resque: Starting` (no prefix or version, as Ruby's startup title).
    pub fn starting() -> String {
        "resque: Starting".to_owned()
    }
    /// `<prefix>resque-3.0.0: Waiting for q1,q2`.
    pub fn waiting(prefix: &str, queues: &[String]) -> String {
        format!(
            "{prefix}resque-{RESQUE_VERSION}: Waiting for {}",
            queues.join(",")
        )
    }
    /// `<prefix>resque-3.0.0: Paused`.
    pub fn paused(prefix: &str) -> String {
        format!("{prefix}resque-{RESQUE_VERSION}: Paused")
    }
    /// `<prefix>resque-3.0.0: Processing <queue> since <epoch> [<Class>]`.
    pub fn processing(prefix: &str, queue: &str, since: i64, class: &str) -> String {
        format!("{prefix}resque-{RESQUE_VERSION}: Processing {queue} since {since} [{class}]")
    }
    /// `<prefix>resque-3.0.0: Forked <pid> at <epoch>`.
    pub fn forked(prefix: &str, pid: i32, at: i64) -> String {
        let mut title = String::new();
        let _ = write_forked(&mut title, prefix, pid, at);
        title
    }

    /// [`forked`] into any writer (the worker writes it into a stack buffer).
    pub(crate) fn write_forked(
        w: &mut impl std::fmt::Write,
        prefix: &str,
        pid: i32,
        at: i64,
    ) -> std::fmt::Result {
        write!(w, "{prefix}resque-{RESQUE_VERSION}: Forked {pid} at {at}")
    }
}

#[cfg(test)]
mod tests {
    use super::titles;

    #[test]
    fn titles_match_fixture_04() {
        assert_eq!(
            titles::waiting("", &["file_serve".into(), "low".into()]),
            "resque-3.0.0: Waiting for file_serve,low"
        );
        assert_eq!(
            titles::processing("", "sig", 1795369043, "SleepJob"),
            "resque-3.0.0: Processing sig since 1795369043 [SleepJob]"
        );
        assert_eq!(
            titles::forked("app1 ", 19089, 5),
            "app1 resque-3.0.0: Forked 19089 at 5"
        );
        assert_eq!(titles::paused(""), "resque-3.0.0: Paused");
        assert_eq!(titles::starting(), "resque: Starting");
    }
}
