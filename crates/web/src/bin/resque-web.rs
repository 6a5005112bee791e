//! `resque-web`: serves the dashboard, with Ruby's `resque-web` command line (see
//! `resque_web::cli`).

// Pages are many small allocations made and freed across the runtime's threads: under
// load, glibc's malloc spent a third of the process's CPU in its locks and consolidations
// (docs/benchmarks.md). A library user embedding the router picks their own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    resque_web::cli::main()
}
