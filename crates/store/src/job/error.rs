//! [`JobError`]: why a job failed, as a Ruby exception would carry it into a failure record.

use std::error::Error as StdError;
use std::fmt;

/// Why a job failed: what a Ruby exception carries into a failure record (its class name,
/// message and backtrace).
///
/// Anything that converts into `Box<dyn std::error::Error + Send + Sync>` converts into a
/// `JobError`, so `?` works in `perform` on `std` errors, library errors, `anyhow::Error`,
/// `String` and `&str`:
///
/// | error | `"exception"` in the failure record |
/// |---|---|
/// | a concrete error type (`ParseIntError`, `my_app::Error`) | its type's name, without the path |
/// | `String`, `&str`, `anyhow::Error`, `Box<dyn Error>` | `RuntimeError`, as Ruby's `raise "message"` |
///
/// The message is the error's `Display` followed by each of its sources, `: `-separated.
#[derive(Clone, PartialEq, Eq)]
pub struct JobError {
    exception: String,
    message: String,
    backtrace: Vec<String>,
}

impl JobError {
    /// Ruby's `Resque::Job::DontPerform`.
    pub const DONT_PERFORM: &'static str = "Resque::Job::DontPerform";

    /// An error with an exception class name, as it will show in `"exception"`.
    pub fn new(exception: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            exception: exception.into(),
            message: message.into(),
            backtrace: Vec::new(),
        }
    }

    /// A plain error, recorded as `RuntimeError` (Ruby's `raise "message"`).
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new("RuntimeError", message)
    }

    /// Skip the job without a failure (from [`Job::before_perform`](crate::Job::before_perform)).
    pub fn dont_perform() -> Self {
        Self::new(Self::DONT_PERFORM, "")
    }

    /// Adds backtrace frames (innermost first).
    pub fn with_backtrace(mut self, frames: Vec<String>) -> Self {
        self.backtrace = frames;
        self
    }

    /// The exception class name.
    pub fn exception(&self) -> &str {
        &self.exception
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The backtrace frames.
    pub fn backtrace(&self) -> &[String] {
        &self.backtrace
    }

    /// Whether this is [`JobError::dont_perform`].
    pub fn is_dont_perform(&self) -> bool {
        self.exception == Self::DONT_PERFORM
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception, self.message)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception, self.message)
    }
}

/// See the type's docs. `JobError` itself is deliberately not a `std::error::Error`: if it
/// were, this impl would overlap `From<JobError> for JobError`.
impl<E: Into<Box<dyn StdError + Send + Sync>>> From<E> for JobError {
    fn from(e: E) -> Self {
        let exception = exception_name(std::any::type_name::<E>());
        let boxed: Box<dyn StdError + Send + Sync> = e.into();
        let mut message = boxed.to_string();
        let mut source = boxed.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self::new(exception, message)
    }
}

/// The exception name for an error type: its name without the module path or generic
/// arguments (`core::num::error::ParseIntError` → `ParseIntError`), or `RuntimeError` for
/// the types that carry only a message (their own names say nothing about the failure).
fn exception_name(type_name: &str) -> String {
    let plain = type_name.split('<').next().unwrap_or(type_name);
    const MESSAGE_ONLY: [&str; 5] = [
        "&str",
        "alloc::string::String",
        "alloc::borrow::Cow",
        "alloc::boxed::Box",
        "anyhow::Error",
    ];
    if MESSAGE_ONLY.contains(&plain) {
        return "RuntimeError".to_owned();
    }
    plain.rsplit("::").next().unwrap_or(plain).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading the file")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn errors_convert_with_their_names_and_sources() {
        let e: JobError = "x".parse::<u32>().expect_err("not a number").into();
        assert_eq!(e.exception(), "ParseIntError");
        assert_eq!(e.message(), "invalid digit found in string");

        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = JobError::from(Outer(io));
        assert_eq!(e.exception(), "Outer");
        assert_eq!(e.message(), "reading the file: no such file");

        for e in [
            JobError::from("plain words"),
            JobError::from(String::from("plain words")),
            JobError::from(Box::<dyn StdError + Send + Sync>::from("plain words")),
        ] {
            assert_eq!(
                (e.exception(), e.message()),
                ("RuntimeError", "plain words")
            );
        }
    }

    #[test]
    fn generic_type_names_lose_their_arguments() {
        assert_eq!(
            exception_name("my_app::Error<alloc::string::String>"),
            "Error"
        );
        assert_eq!(exception_name("alloc::borrow::Cow<str>"), "RuntimeError");
    }

    fn question_mark(f: impl FnOnce() -> anyhow::Result<()>) -> Result<(), JobError> {
        f()?;
        Ok(())
    }

    #[test]
    fn anyhow_errors_convert_with_their_context() {
        let e = question_mark(|| {
            let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
            Err(anyhow::Error::new(io).context("loading the invoice"))
        })
        .expect_err("fails");
        assert_eq!(e.exception(), "RuntimeError");
        assert_eq!(e.message(), "loading the invoice: no such file");
    }
}
