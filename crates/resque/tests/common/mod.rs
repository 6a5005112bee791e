//! Helpers shared by the tests that run the `resque` binary.

use std::process::{Command, Output};

/// Runs `resque -r URL ARGS...` with no Resque variables inherited from the environment.
pub(crate) fn resque(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_resque"))
        .arg("-r")
        .arg(url)
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("RESQUE_NAMESPACE")
        .env_remove("FAILURE_BACKEND")
        .output()
        .expect("run resque")
}

/// Standard output as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `resque`, asserts success, and returns its standard output.
#[allow(dead_code)] // not every test file that includes this module uses it
pub(crate) fn ok(url: &str, args: &[&str]) -> String {
    let o = resque(url, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}
