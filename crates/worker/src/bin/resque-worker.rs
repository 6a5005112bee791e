//! `resque-worker`: the worker with Ruby Resque's command line. Jobs written in Rust need
//! their own binary (`resque_worker::Builder::cli().job::<J>().main()`); this one runs no
//! Rust job types, so a job's class needs an `--exec` handler (coming with the worker issue)
//! or it is recorded as a failure, as Ruby records a class it cannot load.

fn main() -> std::process::ExitCode {
    resque_worker::Builder::cli().main()
}
