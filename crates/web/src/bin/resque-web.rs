//! `resque-web`: serves the dashboard, with Ruby's `resque-web` command line (see
//! `resque_web::cli`).

fn main() -> std::process::ExitCode {
    resque_web::cli::main()
}
