//! A small chaos run in the test suite (the full one is `scripts/chaos.sh`): workers and
//! their children killed at random, a worker stopped past its lease, Redis restarted; no
//! worker ends by itself, no job is lost, nothing is counted twice; in reliable mode no dead
//! worker's job is left as a failure record.

use std::time::Duration;

use resque_e2e::chaos::{Config, run};

fn config(reliable: bool, seed: u64) -> Config {
    Config {
        worker_bin: env!("CARGO_BIN_EXE_resque-test-worker").into(),
        jobs: 400,
        duration: Duration::from_secs(10),
        forking: 3,
        in_process: 1,
        reliable,
        restart_redis: true,
        heartbeat_secs: 1,
        seed,
        ruby: None,
    }
}

#[test]
fn chaos_in_default_mode_loses_no_job_and_counts_none_twice() -> anyhow::Result<()> {
    let report = run(&config(false, 7))?;
    eprintln!("{}", report.summary());
    assert!(
        report.parents_killed + report.children_killed + report.stops > 0,
        "no chaos"
    );
    assert_eq!(report.restarts, 1);
    assert_eq!(
        report.violations(),
        Vec::<String>::new(),
        "{}",
        report.summary()
    );
    Ok(())
}

#[test]
fn chaos_in_reliable_mode_loses_no_job_and_requeues_every_dead_workers_job() -> anyhow::Result<()> {
    let report = run(&config(true, 11))?;
    eprintln!("{} (ran twice: {:?})", report.summary(), report.ran_twice);
    assert!(
        report.parents_killed + report.children_killed + report.stops > 0,
        "no chaos"
    );
    assert_eq!(
        report.violations(),
        Vec::<String>::new(),
        "{}",
        report.summary()
    );
    Ok(())
}
