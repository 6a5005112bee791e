//! `resque-scheduler`: moves delayed jobs and fires recurring schedules (see `--help`).

fn main() -> std::process::ExitCode {
    resque_scheduler::Builder::cli().main()
}
